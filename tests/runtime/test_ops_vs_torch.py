"""The op table run side by side with PyTorch: values, dtypes, gradients and grad_fn names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from test_ops_table import CASES, Case, cotangents, differentiable, make_args, outputs

import adjit

torch = pytest.importorskip("torch")


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _name(t: Any) -> str | None:
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def assert_same(got: Any, want: Any, what: str = "") -> None:
    """Same shape, dtype and values (float64 ops agree to rounding)."""
    assert tuple(got.shape) == tuple(want.shape), f"{what} shape {got.shape} != {want.shape}"
    assert str(got.dtype) == str(want.dtype), f"{what} dtype {got.dtype} != {want.dtype}"
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-10, atol=1e-12, err_msg=what)


def run_both(case: Case) -> tuple[list, list, list, list]:
    arrays = case.arrays()
    a_args, t_args = make_args(case, adjit, arrays), make_args(case, torch, arrays)
    return outputs(case.fn(adjit, *a_args)), outputs(case.fn(torch, *t_args)), a_args, t_args


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_values_dtypes_grad_fn(case: Case) -> None:
    got, want, _, _ = run_both(case)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert_same(g, w, f"output {k}")
        assert _name(g) == _name(w), f"output {k} grad_fn"
        assert g.requires_grad == w.requires_grad


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_gradients(case: Case) -> None:
    got, want, a_args, t_args = run_both(case)
    keep = [k for k, w in enumerate(want) if differentiable([w])]
    if not keep:
        assert not differentiable(got)
        return
    ws = cotangents(case, [want[k] for k in keep])
    a_in = [a for a in a_args if a.requires_grad]
    t_in = [t for t in t_args if t.requires_grad]
    a_grads = adjit.autograd.grad(
        [got[k] for k in keep], a_in, [adjit.from_numpy(w) for w in ws], allow_unused=True
    )
    t_grads = torch.autograd.grad(
        [want[k] for k in keep], t_in, [torch.from_numpy(w) for w in ws], allow_unused=True
    )
    for i, (g, w) in enumerate(zip(a_grads, t_grads, strict=True)):
        assert (g is None) == (w is None), f"input {i}: {g} vs {w}"
        if w is not None:
            assert_same(g, w, f"grad of input {i}")


# ---- dtypes: integer, bool, float32 operands, Python scalars and 0-dim tensors -------------
_ARRAYS = {
    "f32": np.array([1.5, -2.25, 3.0], np.float32),
    "f64": np.array([0.5, 2.0, -1.0]),
    "i64": np.array([3, -4, 5]),
    "i32": np.array([2, 7, -3], np.int32),
    "u8": np.array([1, 2, 250], np.uint8),
    "b": np.array([True, False, True]),
    "f32_0": np.array(2.5, np.float32),
    "f64_0": np.array(-1.25),
    "i64_0": np.array(2),
    "b_0": np.array(True),
    "i32_0": np.array(3, np.int32),
}


def _both(name: str) -> tuple[Any, Any]:
    return adjit.from_numpy(_ARRAYS[name].copy()), torch.from_numpy(_ARRAYS[name].copy())


DTYPE_CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "int/int true division": (lambda T, a, b: a / b, ("i64", "i32")),
    "int/scalar int": (lambda T, a: a / 2, ("i64",)),
    "int//int": (lambda T, a, b: a // b, ("i64", "i32")),
    "int//scalar": (lambda T, a: a // 2, ("i64",)),
    "float//scalar": (lambda T, a: a // 2, ("f32",)),
    "div floor int": (lambda T, a, b: T.div(a, b, rounding_mode="floor"), ("i64", "i32")),
    "div trunc int/float": (lambda T, a, b: T.div(a, b, rounding_mode="trunc"), ("i64", "f32")),
    "int + float scalar": (lambda T, a: a + 2.5, ("i64",)),
    "int + bool scalar": (lambda T, a: a + True, ("i32",)),
    "bool + bool": (lambda T, a: a + a, ("b",)),
    "bool * int scalar": (lambda T, a: a * 3, ("b",)),
    "bool + float scalar": (lambda T, a: a + 0.5, ("b",)),
    "u8 + int scalar": (lambda T, a: a + 1000, ("u8",)),
    "u8 + i32": (lambda T, a, b: a + b, ("u8", "i32")),
    "f32 + f64 0-dim": (lambda T, a, b: a + b, ("f32", "f64_0")),
    "i32 + i64 0-dim": (lambda T, a, b: a + b, ("i32", "i64_0")),
    "i32 + f32 0-dim": (lambda T, a, b: a * b, ("i32", "f32_0")),
    "bool + i64 0-dim": (lambda T, a, b: a + b, ("b", "i64_0")),
    "0-dim + 0-dim": (lambda T, a, b: a + b, ("i32_0", "f64_0")),
    "f32 * f64": (lambda T, a, b: a * b, ("f32", "f64")),
    "f32 precision scalar": (lambda T, a: a * 1.1, ("f32",)),
    "f64 precision scalar": (lambda T, a: a * 1.1 + 1e-9, ("f64",)),
    "rsub scalar int": (lambda T, a: 1 - a, ("i64",)),
    "pow int int": (lambda T, a: a**2, ("i64",)),
    "pow int float": (lambda T, a: a**0.5, ("u8",)),
    "rpow": (lambda T, a: 2**a, ("u8",)),
    "pow float tensor int tensor": (lambda T, a, b: a**b, ("f32", "i32")),
    "maximum int float": (lambda T, a, b: T.maximum(a, b), ("i64", "f32")),
    "eq int float": (lambda T, a, b: a == b, ("i64", "f32")),
    "lt int scalar float": (lambda T, a: a < 2.5, ("i64",)),
    "gt bool int": (lambda T, a, b: a > b, ("b", "i32")),
    "ne 0-dim": (lambda T, a, b: a != b, ("f32", "f64_0")),
    "logical_and int float": (lambda T, a, b: T.logical_and(a, b), ("i64", "f32")),
    "where int float": (lambda T, c, a, b: T.where(c, a, b), ("b", "i64", "f32")),
    "where scalar": (lambda T, c, a: T.where(c, a, 1.5), ("b", "i32")),
    "where scalars": (lambda T, c: T.where(c, 1.0, 0), ("b",)),
    "sum int": (lambda T, a: a.sum(), ("i32",)),
    "sum bool": (lambda T, a: a.sum(), ("b",)),
    "sum u8": (lambda T, a: a.sum(0), ("u8",)),
    "amax int": (lambda T, a: a.amax(), ("i32",)),
    "max dim int": (lambda T, a: a.max(0), ("i32",)),
    "neg int": (lambda T, a: -a, ("i32",)),
    "abs int": (lambda T, a: a.abs(), ("i64",)),
    "exp int": (lambda T, a: a.exp(), ("i64",)),
    "sqrt bool": (lambda T, a: a.sqrt(), ("b",)),
    "sigmoid int": (lambda T, a: a.sigmoid(), ("i32",)),
    "relu int": (lambda T, a: a.relu(), ("i64",)),
    "sign int": (lambda T, a: a.sign(), ("i64",)),
    "clamp int float bounds": (lambda T, a: a.clamp(-1.5, 2.5), ("i64",)),
    "clamp int": (lambda T, a: a.clamp(0, 4), ("i64",)),
    "cat int float": (lambda T, a, b: T.cat([a, b]), ("i64", "f32")),
    "matmul f32": (lambda T, a, b: a @ b, ("f32", "f32")),
    "to int": (lambda T, a: a.to(T.int32), ("f64",)),
    "softmax int dtype": (lambda T, a: a.softmax(0, dtype=T.float64), ("i64",)),
    "mean dtype": (lambda T, a: a.mean(dtype=T.float64), ("i64",)),
    "square int": (lambda T, a: a.square(), ("i32",)),
    "reciprocal int": (lambda T, a: a.reciprocal(), ("i64",)),
}


@pytest.mark.parametrize("name", list(DTYPE_CASES))
def test_dtype_promotion(name: str) -> None:
    fn, keys = DTYPE_CASES[name]
    pairs = [_both(k) for k in keys]
    want = fn(torch, *(t for _, t in pairs))
    got = fn(adjit, *(a for a, _ in pairs))
    for g, w in zip(outputs(got), outputs(want), strict=True):
        assert_same(g, w, name)


# ---- property: broadcasting binary ops on random shapes ------------------------------------
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

BROADCAST_OPS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "add": lambda T, x, y: x + y,
    "mul": lambda T, x, y: x * y,
    "div": lambda T, x, y: x / (y * y + 1),
    "maximum": lambda T, x, y: T.maximum(x, y),
    "where": lambda T, x, y: T.where(x > y, x * 2, y),
    "pow": lambda T, x, y: (x * x + 0.5) ** y,
}


@st.composite
def _broadcast_pair(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    full = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    drop = lambda: tuple(1 if draw(st.booleans()) else n for n in full)  # noqa: E731
    a, b = drop(), drop()
    return a[draw(st.integers(0, len(a))) :], b[draw(st.integers(0, len(b))) :]


@hypothesis.settings(max_examples=60, deadline=None, derandomize=True)
@hypothesis.given(pair=_broadcast_pair(), op=st.sampled_from(sorted(BROADCAST_OPS)))
def test_broadcasting_property(pair: tuple[tuple[int, ...], tuple[int, ...]], op: str) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(-1, 1, s) for s in pair]
    results = []
    for T in (adjit, torch):
        x, y = (T.from_numpy(a.copy()).requires_grad_() for a in arrays)
        out = BROADCAST_OPS[op](T, x, y)
        g = T.from_numpy(np.linspace(0.5, 1.5, out.numel()).reshape(tuple(out.shape)))
        results.append((out, T.autograd.grad(out, [x, y], g)))
    (got, got_grads), (want, want_grads) = results
    assert_same(got, want, op)
    for g, w in zip(got_grads, want_grads, strict=True):
        assert_same(g, w, f"{op} grad")
