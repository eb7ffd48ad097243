"""Math functions (issue 13) against PyTorch: values within a stated ulp bound of the float64
result over the whole range and at the special values, dtypes, grad_fn names, gradients
(PyTorch's formulas at the edges, float64 finite differences), compiled on both backends, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from math_op_cases import CASES, TORCH_GRAD_RTOL
from test_ops_gradients import _numeric_grad
from test_ops_table import Case, cotangents, make_args, outputs

import adjit

torch = pytest.importorskip("torch")

INF, NAN = float("inf"), float("nan")


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


def _name(t: Any) -> str | None:
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def _ulps(got: np.ndarray, want: np.ndarray, scale: Any = 0.0) -> np.ndarray:
    """Distance in units in the last place of ``got``'s dtype (of ``scale`` if larger: the
    size of the terms a result cancels from); NaN and infinities must agree
    exactly (0 where they do, a huge number where they do not), and so must signed zeros."""
    got = np.asarray(got)
    with np.errstate(over="ignore"):
        want = np.asarray(want).astype(got.dtype)
    same_special = (np.isnan(got) & np.isnan(want)) | ((got == want) & ~np.isfinite(want))
    special = ~np.isfinite(got) | ~np.isfinite(want)
    zero_sign = (got == 0) & (want == 0) & (np.signbit(got) != np.signbit(want))
    with np.errstate(all="ignore"):
        tiny = np.finfo(got.dtype).smallest_normal
        size = np.maximum(np.maximum(np.abs(want), np.abs(scale)), tiny)
        ulp = np.spacing(size.astype(got.dtype))
        d = np.abs(got.astype(np.float64) - want.astype(np.float64)) / ulp.astype(np.float64)
    d = np.where(special, np.where(same_special, 0.0, 1e30), d)
    return np.where(zero_sign, 1e30, d)


# ---- values over the range, and the special values -----------------------------------------
SPECIALS = [0.0, -0.0, INF, -INF, NAN, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 2.0, 1e-30, -1e-30]


def _samples(dtype: np.dtype, lo: float, hi: float) -> np.ndarray:
    """Specials, tiny values, a log-uniform sweep of both signs and a uniform sweep of [lo, hi]."""
    rng = np.random.default_rng(0)
    tiny = [np.finfo(dtype).smallest_subnormal, np.finfo(dtype).smallest_normal, 1e-8, 3e-5]
    mags = 10.0 ** rng.uniform(-12, np.log10(max(abs(lo), abs(hi))), 3000)
    xs = np.concatenate([SPECIALS, tiny, np.negative(tiny), mags, -mags, rng.uniform(lo, hi, 3000)])
    with np.errstate(over="ignore"):  # float32 sweeps of float64 ranges overflow: inf
        return xs.astype(dtype)


# name -> (the float64 range swept, the ulp bound against PyTorch's float64 result rounded)
UNARY = {
    "tan": (-10.0, 10.0, 4),
    "atan": (-50.0, 50.0, 2),
    "asin": (-1.0, 1.0, 3),
    "acos": (-1.0, 1.0, 3),
    "sinh": (-720.0, 720.0, 4),
    "cosh": (-720.0, 720.0, 4),
    "asinh": (-1e30, 1e30, 3),
    "acosh": (1.0, 1e30, 3),
    "atanh": (-1.0, 1.0, 3),
    "expm1": (-60.0, 720.0, 4),
    "exp2": (-1100.0, 1100.0, 2),
    "log2": (0.0, 1e300, 3),
    "log10": (0.0, 1e300, 3),
}


NUMPY = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
         "acosh": "arccosh", "atanh": "arctanh"}  # fmt: skip


def _reference(name: str, xs: np.ndarray) -> np.ndarray:
    """PyTorch's float64 result; where it overflows and libm's (NumPy's) does not, libm's:
    PyTorch's vectorized float64 sinh/cosh give inf from 709.8, not 710.5."""
    want = getattr(torch, name)(torch.from_numpy(xs.astype(np.float64))).numpy()
    with np.errstate(all="ignore"):
        libm = getattr(np, NUMPY.get(name, name))(xs.astype(np.float64))
    return np.where(np.isinf(want) & np.isfinite(libm), libm, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_values(name: str, dtype: Any) -> None:
    lo, hi, bound = UNARY[name]
    xs = _samples(np.dtype(dtype), lo, hi)
    got = getattr(adjit, name)(adjit.from_numpy(xs))
    assert got.dtype is getattr(adjit, np.dtype(dtype).name)
    want = _reference(name, xs)
    d = _ulps(_np(got), want)
    worst = int(np.argmax(d))
    assert d[worst] <= bound, f"{name}({xs[worst]!r}) = {_np(got)[worst]!r}, want {want[worst]!r}"
    # (PyTorch's own vectorized float32 sinh/cosh overflow from 88.7, not 89.4: the float64
    # result rounded is the reference, here and for the special values)


def test_exact_values() -> None:
    """Integer results PyTorch prints exactly: log2/log10 of powers, exp2 of integers."""
    for dtype in (adjit.float32, adjit.float64):
        k = adjit.arange(-20, 21, dtype=dtype)
        assert (adjit.log2(2.0**k) == k).all()
        assert (adjit.exp2(k) == 2.0**k).all()
        k10 = adjit.arange(-7, 8, dtype=dtype)
        assert adjit.equal(adjit.log10(adjit.tensor(10.0, dtype=dtype) ** k10), k10)


BINARY = {
    # name -> ulp bound (over a grid of specials and random values of all magnitudes)
    "atan2": 2,
    "hypot": 2,
    "logaddexp": 3,  # of max(|x|, |y|): PyTorch's formula max + log1p(...) cancels
    "logaddexp2": 3,
    "xlogy": 3,
}
CANCELS = ("logaddexp", "logaddexp2")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_values(name: str, dtype: Any) -> None:
    rng = np.random.default_rng(1)
    specials = np.array(SPECIALS + [3.0, -7.0, 1e300 if dtype is np.float64 else 1e38])
    a, b = (g.ravel() for g in np.meshgrid(specials, specials))
    mags = 10.0 ** rng.uniform(-30, 30, 4000) * rng.choice([-1, 1], 4000)
    x = np.concatenate([a, mags[:2000], rng.uniform(-5, 5, 1000)]).astype(dtype)
    y = np.concatenate([b, mags[2000:], rng.uniform(-5, 5, 1000)]).astype(dtype)
    got = _np(getattr(adjit, name)(adjit.from_numpy(x), adjit.from_numpy(y)))
    want = getattr(torch, name)(
        torch.from_numpy(x.astype(np.float64)), torch.from_numpy(y.astype(np.float64))
    ).numpy()
    own = getattr(torch, name)(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    # where the float64 result overflows the dtype, PyTorch's own kernel decides (inf)
    want = np.where(np.isinf(own) & np.isfinite(want), own, want)
    scale = np.maximum(np.abs(x), np.abs(y)) if name in CANCELS else 0.0
    d = _ulps(got, want, np.where(np.isfinite(scale), scale, 0.0))
    worst = int(np.argmax(d))
    assert d[worst] <= BINARY[name], f"{name}({x[worst]!r}, {y[worst]!r}) = {got[worst]!r}"


ROUNDING_SPECIALS = [0.5, -0.5, 1.5, 2.5, -2.5, 0.49999997, -0.3, 0.0, -0.0, 2.0**52 + 1, INF]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "name, kwargs",
    [("ceil", {}), ("round", {}), ("round", {"decimals": 2}), ("round", {"decimals": -1}),
     ("round", {"decimals": 39}), ("round", {"decimals": -400}), ("round", {"decimals": 7}),
     ("frac", {}), ("sgn", {}), ("isposinf", {}), ("isneginf", {})],
)  # fmt: skip
def test_rounding_and_predicates_exact(name: str, kwargs: dict, dtype: Any) -> None:
    rng = np.random.default_rng(2)
    specials = ROUNDING_SPECIALS + [-INF, NAN, 1e30, 0.125, 0.375, 12.345, -0.05]
    x = np.concatenate([specials, rng.uniform(-20, 20, 2000), np.arange(-10, 10, 0.5)])
    x = np.concatenate([x, -x]).astype(dtype)
    got = getattr(adjit, name)(adjit.from_numpy(x), **kwargs)
    want = getattr(torch, name)(torch.from_numpy(x), **kwargs)
    assert str(got.dtype) == str(want.dtype)
    g, w = _np(got), want.numpy()
    np.testing.assert_array_equal(g, w)
    if g.dtype.kind == "f":
        assert np.array_equal(np.signbit(g), np.signbit(w)), "signed zeros"


@pytest.mark.parametrize("name", ["tan", "atan", "asin", "acos", "sinh", "cosh", "asinh",
                                  "acosh", "atanh", "expm1", "exp2", "log2", "log10"])  # fmt: skip
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_integer_inputs_promote(name: str, dtype: str) -> None:
    data = np.array([0, 1, 2, 3]).astype(dtype)
    got = getattr(adjit, name)(adjit.from_numpy(data))
    want = getattr(torch, name)(torch.from_numpy(data))
    assert str(got.dtype) == str(want.dtype)
    np.testing.assert_allclose(_np(got), want.numpy(), rtol=3e-7)


@pytest.mark.parametrize("name", ["ceil", "round", "sgn", "isposinf", "isneginf", "float_power"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_integer_inputs_keep(name: str, dtype: str) -> None:
    data = np.array([0, 1, 2, 3]).astype(dtype)
    args = (2,) if name == "float_power" else ()
    got = getattr(adjit, name)(adjit.from_numpy(data), *args)
    want = getattr(torch, name)(torch.from_numpy(data), *args)
    assert str(got.dtype) == str(want.dtype)
    np.testing.assert_array_equal(_np(got), want.numpy())


OPERANDS = {
    "float32": np.array([0.5, -1.5], np.float32),
    "float64": np.array([0.25, 2.0]),
    "int64": np.array([1, -2]),
    "int32": np.array([3, 0], np.int32),
    "uint8": np.array([1, 3], np.uint8),
    "bool": np.array([True, False]),
    "float32-0d": np.array(2.0, np.float32),
}


@pytest.mark.parametrize(
    "name", ["atan2", "hypot", "xlogy", "logaddexp", "logaddexp2", "copysign", "float_power"]
)
def test_binary_dtype_promotion(name: str) -> None:
    """Every pair of operand dtypes (and Python numbers): PyTorch's result dtype and values, or
    its error type and text."""

    def run(T: Any, a: np.ndarray, b: Any) -> tuple:
        other = T.from_numpy(b.copy()) if isinstance(b, np.ndarray) else b
        try:
            out = getattr(T, name)(T.from_numpy(a.copy()), other)
        except Exception as e:  # noqa: BLE001 - the error is what is compared
            return type(e).__name__, str(e)
        return str(out.dtype), out.numpy().astype(np.float64)

    for a in OPERANDS.values():
        for b in [*OPERANDS.values(), 2.5, 3]:
            got, want = run(adjit, a, b), run(torch, a, b)
            assert got[0] == want[0], (a.dtype, b, got, want)
            if isinstance(want[1], str):
                assert got[1] == want[1]
            else:
                np.testing.assert_allclose(got[1], want[1], rtol=4e-7)


# ---- gradients at the edges: PyTorch's formulas --------------------------------------------
EDGE = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 3.0, INF, -INF, NAN, 1e-300, 800.0, -800.0])
UNARY_GRAD = [*UNARY, "ceil", "round", "frac"]  # (sgn's is PyTorch's ZeroTensor: test_sgn)


@pytest.mark.parametrize("name", UNARY_GRAD)
def test_unary_gradient_edges(name: str) -> None:
    a = adjit.from_numpy(EDGE.copy()).requires_grad_()
    t = torch.from_numpy(EDGE.copy()).requires_grad_()
    out_a, out_t = getattr(adjit, name)(a), getattr(torch, name)(t)
    assert _name(out_a) == _name(out_t)
    g = np.linspace(0.5, 1.5, EDGE.size)
    out_a.backward(adjit.from_numpy(g))
    out_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-13, atol=0)


PAIRS = np.array(
    [(0.0, 0.0), (-0.0, 0.0), (0.0, -1.0), (1.0, 2.0), (INF, 1.0), (INF, INF), (-INF, -INF),
     (INF, -INF), (NAN, 1.0), (0.0, NAN), (0.0, 0.5), (3.0, 0.0), (-2.0, INF), (1e300, 1e300)]
)  # fmt: skip


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_gradient_edges(name: str) -> None:
    x, y = PAIRS[:, 0].copy(), PAIRS[:, 1].copy()
    ax, ay = (adjit.from_numpy(v.copy()).requires_grad_() for v in (x, y))
    tx, ty = (torch.from_numpy(v.copy()).requires_grad_() for v in (x, y))
    out_a, out_t = getattr(adjit, name)(ax, ay), getattr(torch, name)(tx, ty)
    assert _name(out_a) == _name(out_t)
    np.testing.assert_allclose(_np(out_a), out_t.detach().numpy(), rtol=1e-15)
    out_a.sum().backward()
    out_t.sum().backward()
    np.testing.assert_allclose(ax.grad.numpy(), tx.grad.numpy(), rtol=1e-15, err_msg="x")
    np.testing.assert_allclose(ay.grad.numpy(), ty.grad.numpy(), rtol=1e-15, err_msg="y")


# ---- the rows: vs torch, finite differences, compiled --------------------------------------
def _grads(case: Case, outs: list, args: list, T: Any, create_graph: bool = False) -> list:
    diff = [o for o in outs if o.dtype.is_floating_point and o.requires_grad]
    inputs = [a for a in args if a.requires_grad]
    if not diff or not inputs:
        return []
    cts = [T.from_numpy(c).to(o.dtype) for o, c in zip(diff, cotangents(case, diff), strict=True)]
    return list(T.autograd.grad(diff, inputs, cts, allow_unused=True, create_graph=create_graph))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_eager_vs_torch(case: Case) -> None:
    arrays = case.arrays()
    a_args, t_args = make_args(case, adjit, arrays), make_args(case, torch, arrays)
    got, want = outputs(case.fn(adjit, *a_args)), outputs(case.fn(torch, *t_args))
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert str(g.dtype) == str(w.dtype) and tuple(g.shape) == tuple(w.shape), f"output {k}"
        assert _name(g) == _name(w), f"output {k} grad_fn {_name(g)} != {_name(w)}"
        np.testing.assert_allclose(_np(g), _np(w), rtol=1e-15, atol=1e-300)
    a_grads, t_grads = _grads(case, got, a_args, adjit), _grads(case, want, t_args, torch)
    for i, (g, w) in enumerate(zip(a_grads, t_grads, strict=True)):
        assert (g is None) == (w is None), f"input {i}"
        if w is not None:
            rtol = TORCH_GRAD_RTOL.get(case.name, 1e-14)
            np.testing.assert_allclose(_np(g), _np(w), rtol=rtol, atol=1e-300, err_msg=f"{i}")


FD_CASES = [
    c
    for c in CASES
    if any(a.differentiable for a in c.args) and c.op not in ("isposinf", "isneginf", "signbit")
]


@pytest.mark.parametrize("case", FD_CASES, ids=lambda c: c.name)
def test_gradient_finite_differences(case: Case) -> None:
    arrays = case.arrays()
    args = make_args(case, adjit, arrays)
    outs = outputs(case.fn(adjit, *args))
    ws = cotangents(case, outs)
    positions = [i for i, s in enumerate(case.args) if s.differentiable]
    grads = _grads(case, outs, args, adjit)

    def loss(a: list[np.ndarray]) -> float:
        with adjit.no_grad():
            res = outputs(case.fn(adjit, *make_args(case, adjit, a)))
        return float(sum((_np(r) * w).sum() for r, w in zip(res, ws, strict=True)))

    for i, g in zip(positions, grads, strict=True):
        want = _numeric_grad(loss, arrays, i)
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-6, atol=1e-7, err_msg=f"input {i}")


SECOND = [c for c in FD_CASES if c.name in ("tan", "atan", "asin", "sinh", "cosh", "asinh",
          "acosh", "atanh", "expm1", "atan2", "logaddexp", "xlogy", "hypot")]  # fmt: skip


@pytest.mark.parametrize("case", SECOND, ids=lambda c: c.name)
def test_second_derivative_vs_torch(case: Case) -> None:
    arrays = case.arrays()
    results = []
    for T in (adjit, torch):
        args = make_args(case, T, arrays)
        first = _grads(case, outputs(case.fn(T, *args)), args, T, create_graph=True)
        total = sum((g * g).sum() for g in first)
        results.append([_np(h) for h in T.autograd.grad(total, args)])
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def _close(got: Any, want: Any, what: str) -> None:
    """Compiled kernels use codegen.vecmath: a few ulp from NumPy's eager results."""
    assert got.dtype is want.dtype and got.shape == want.shape, what
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-14, atol=1e-300, err_msg=what)


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_compiled_equals_eager(case: Case, backend: str) -> None:
    eager_args, comp_args = make_args(case, adjit), make_args(case, adjit)
    expected = outputs(case.fn(adjit, *eager_args))
    got = outputs(adjit.compile(lambda *a: case.fn(adjit, *a), backend=backend)(*comp_args))
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        _close(g, e, f"output {k}")
    pairs = zip(
        _grads(case, got, comp_args, adjit), _grads(case, expected, eager_args, adjit), strict=True
    )
    for i, (g, e) in enumerate(pairs):
        _close(g, e, f"input {i}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(UNARY))
def test_compiled_values_and_grad(name: str, dtype: Any) -> None:
    """Over the range and the specials: compiled (llvm) values within the bound of PyTorch's
    float64 result, and adjit.grad equal to eager autograd."""
    lo, hi, bound = UNARY[name]
    xs = _samples(np.dtype(dtype), lo, hi)
    f = getattr(adjit, name)
    got = _np(adjit.compile(f)(adjit.from_numpy(xs)))
    want = _reference(name, xs)
    d = _ulps(got, want)
    worst = int(np.argmax(d))
    assert d[worst] <= bound, f"{name}({xs[worst]!r}) = {got[worst]!r}, want {want[worst]!r}"
    x = adjit.from_numpy(EDGE.astype(dtype))
    g = adjit.grad(lambda v: f(v).sum())(x)
    leaf = x.clone().requires_grad_()
    f(leaf).sum().backward()
    np.testing.assert_allclose(g.numpy(), leaf.grad.numpy(), rtol=4 * np.finfo(dtype).eps)


# ---- errors: PyTorch's type and text -------------------------------------------------------
ERRORS: list[tuple[str, Callable[[Any], Any]]] = [
    ("atan2-scalar", lambda T: T.atan2(T.ones(2), 2.0)),
    ("logaddexp-scalar", lambda T: T.logaddexp(T.ones(2), 1)),
    ("hypot-scalar", lambda T: T.hypot(T.ones(2), 1.0)),
    ("logaddexp-int", lambda T: T.logaddexp(T.ones(2, dtype=T.int64), T.ones(2, dtype=T.int32))),
    ("logaddexp2-int", lambda T: T.logaddexp2(T.ones(2, dtype=T.uint8), T.tensor([True]))),
    ("hypot-int", lambda T: T.hypot(T.ones(2, dtype=T.int64), T.ones(2, dtype=T.int64))),
    ("frac-int", lambda T: T.frac(T.ones(2, dtype=T.int64))),
    ("frac-bool", lambda T: T.ones(2, dtype=T.bool).frac()),
    ("ceil-bool", lambda T: T.ceil(T.ones(2, dtype=T.bool))),
    ("round-bool", lambda T: T.round(T.ones(2, dtype=T.bool))),
    ("round-int-decimals", lambda T: T.round(T.ones(2, dtype=T.int64), decimals=1)),
    ("atan2-shape", lambda T: T.atan2(T.ones(2), T.ones(3))),
    ("tan_-int", lambda T: T.ones(2, dtype=T.int64).tan_()),
    ("float_power_-float32", lambda T: T.ones(2).float_power_(2)),
]


@pytest.mark.parametrize("name, fn", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(name: str, fn: Callable[[Any], Any]) -> None:
    with pytest.raises(Exception) as want:
        fn(torch)
    with pytest.raises(type(want.value)) as got:
        fn(adjit)
    if name != "atan2-shape":  # (adjit names the op and operands after PyTorch's text)
        assert str(got.value) == str(want.value)


def test_inplace_and_methods() -> None:
    for name in ("tan", "asin", "sinh", "expm1", "log2", "ceil", "round", "frac", "atanh"):
        x = adjit.tensor([0.25, -0.5, 0.75], dtype=adjit.float64)
        t = torch.tensor([0.25, -0.5, 0.75], dtype=torch.float64)
        assert getattr(x, name + "_")() is x
        getattr(t, name + "_")()
        np.testing.assert_allclose(x.numpy(), t.numpy(), rtol=5e-16, err_msg=name)
        np.testing.assert_allclose(getattr(x, name)().numpy(), getattr(t, name)().numpy(), 5e-16)
    x, y = adjit.tensor([1.0, -2.0]), adjit.tensor([0.5, 3.0])
    t, u = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])
    a = adjit.tensor([1.5, 2.0], dtype=adjit.float64, requires_grad=True).clone()
    w = torch.tensor([1.5, 2.0], dtype=torch.float64, requires_grad=True).clone()
    assert a.float_power_(y) is a
    w.float_power_(u)
    np.testing.assert_array_equal(a.detach().numpy(), w.detach().numpy())
    assert _name(a) == _name(w)
    for name in ("atan2", "arctan2", "hypot", "xlogy", "logaddexp", "logaddexp2", "float_power"):
        np.testing.assert_allclose(getattr(x, name)(y).numpy(), getattr(t, name)(u).numpy(), 3e-7)


SIGNED = np.array([0.0, -0.0, 1.5, -2.0, INF, -INF, NAN, -NAN, 1e-310, -1e-310])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_copysign_and_signbit_read_the_sign_bit(dtype: Any) -> None:
    """-0.0 and a negative NaN included (no comparison can see those signs)."""
    x, y = (g.ravel().astype(dtype) for g in np.meshgrid(SIGNED, SIGNED))
    got = _np(adjit.copysign(adjit.from_numpy(x), adjit.from_numpy(y)))
    want = torch.copysign(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    compiled = _np(adjit.compile(adjit.copysign)(adjit.from_numpy(x), adjit.from_numpy(y)))
    assert np.array_equal(np.signbit(compiled), np.signbit(want))
    np.testing.assert_array_equal(compiled, want)
    ys = adjit.from_numpy(y)
    np.testing.assert_array_equal(_np(adjit.signbit(ys)), torch.signbit(torch.from_numpy(y)))
    np.testing.assert_array_equal(_np(adjit.compile(adjit.signbit)(ys)), np.signbit(y))
    scalar = adjit.copysign(adjit.from_numpy(x), -0.0)
    np.testing.assert_array_equal(_np(scalar), torch.copysign(torch.from_numpy(x), -0.0))


def test_copysign_gradients() -> None:
    x, y = (g.ravel() for g in np.meshgrid(SIGNED, SIGNED))
    ax, ay = (adjit.from_numpy(v.copy()).requires_grad_() for v in (x, y))
    tx, ty = (torch.from_numpy(v.copy()).requires_grad_() for v in (x, y))
    out_a, out_t = adjit.copysign(ax, ay), torch.copysign(tx, ty)
    assert _name(out_a) == _name(out_t) == "CopysignBackward0"
    g = np.linspace(0.5, 1.5, x.size)
    out_a.backward(adjit.from_numpy(g))
    out_t.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(ax.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(ay.grad.numpy(), np.zeros_like(y))  # PyTorch: a ZeroTensor
    gx = adjit.grad(lambda a, b: (adjit.copysign(a, b) * adjit.from_numpy(g)).sum())(
        adjit.from_numpy(x), adjit.from_numpy(y)
    )
    np.testing.assert_array_equal(gx.numpy(), tx.grad.numpy())
    assert _name(adjit.copysign(ax, 2.0)) == _name(torch.copysign(tx, 2.0))


def test_sgn_gradient_is_zero() -> None:
    x = adjit.tensor([-2.0, 0.0, 3.0, float("inf")], requires_grad=True)
    out = adjit.sgn(x)
    assert _name(out) == "SgnBackward0"
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 0.0]
