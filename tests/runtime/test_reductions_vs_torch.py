"""Reductions and scans (prod, cumprod, cummax, median, quantile, ...) against PyTorch: values,
dtypes, shapes, return types, grad_fn names and gradients, eager and compiled, and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from reduction_op_cases import CASES, SMALL_INTS, Case

import adjit
from adjit.testing import assert_grads_match

torch = pytest.importorskip("torch")


def _as_tuple(out: Any) -> tuple:
    return tuple(out) if isinstance(out, tuple) else (out,)


def _run(T: Any, case: Case) -> tuple[Any, tuple]:
    x = T.tensor(case.x, requires_grad=case.grad)
    return x, _as_tuple(case.fn(T, x))


def _floats(outs: tuple) -> list:
    return [o for o in outs if o.dtype.is_floating_point and o.requires_grad]


def _cotangents(outs: tuple) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(tuple(o.shape)) for o in outs]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_eager_matches_torch(case: Case) -> None:
    a, got = _run(adjit, case)
    t, want = _run(torch, case)
    result = case.fn(torch, t)
    if type(result).__module__ == "torch.return_types":  # a named tuple, printed by its name
        assert repr(case.fn(adjit, a)).startswith(f"torch.return_types.{type(result).__name__}(")
    else:
        assert isinstance(case.fn(adjit, a), tuple) == isinstance(result, tuple)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert tuple(g.shape) == tuple(w.shape) and str(g.dtype) == str(w.dtype)
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-12, atol=1e-12)
        assert (g.grad_fn is None) == (w.grad_fn is None)
        if w.grad_fn is not None and "quantile" not in case.name:  # (PyTorch's: its last view)
            assert type(g.grad_fn).__name__ == w.grad_fn.name()
    if not case.grad:
        return
    cts = _cotangents(_floats(want))
    (tg,) = torch.autograd.grad(_floats(want), t, [torch.tensor(c) for c in cts], allow_unused=True)
    (ag,) = adjit.autograd.grad(_floats(got), a, [adjit.tensor(c) for c in cts])
    tg = torch.zeros_like(t) if tg is None else tg  # (norm p=0: PyTorch leaves it undefined)
    np.testing.assert_allclose(ag.numpy(), tg.numpy(), rtol=1e-10, atol=1e-12)


COMPILED = [c for c in CASES if c.compiles]


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("case", COMPILED, ids=lambda c: c.name)
def test_compiled_matches_eager(case: Case, backend: str) -> None:
    x = adjit.tensor(case.x)
    want = _as_tuple(case.fn(adjit, x))
    got = _as_tuple(adjit.compile(lambda v: case.fn(adjit, v), backend=backend)(x))
    for g, w in zip(got, want, strict=True):
        assert tuple(g.shape) == tuple(w.shape) and g.dtype is w.dtype
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12, atol=1e-12)
    if not case.grad:
        return
    cts = [
        adjit.tensor(c) for c in _cotangents(tuple(o for o in want if o.dtype.is_floating_point))
    ]

    def loss(v: Any) -> Any:
        outs = [o for o in _as_tuple(case.fn(adjit, v)) if o.dtype.is_floating_point]
        return sum(((o * c).sum() for o, c in zip(outs, cts, strict=True)), adjit.tensor(0.0))

    expected = adjit.autograd.grad(loss(x.requires_grad_()), x)[0]
    np.testing.assert_allclose(
        adjit.grad(loss, backend=backend)(adjit.tensor(case.x)).numpy(),
        expected.numpy(),
        rtol=1e-10,
        atol=1e-12,
    )


FD_CASES = ["prod-zeros", "prod-dim-zeros", "cumprod-zeros", "logcumsumexp", "dist-p1", "trace"]


@pytest.mark.parametrize("name", FD_CASES)
def test_gradients_against_finite_differences(name: str) -> None:
    case = next(c for c in CASES if c.name == name)
    assert_grads_match(lambda v: _as_tuple(case.fn(adjit, v))[0], adjit.tensor(case.x))


def test_return_types_print_and_unpack() -> None:
    values, indices = adjit.cummax(adjit.tensor([1.0, 3.0, 2.0]), 0)
    assert values.tolist() == [1.0, 3.0, 3.0] and indices.tolist() == [0, 1, 1]
    lo, hi = adjit.aminmax(adjit.tensor([2, 7, -1]))
    assert (lo.item(), hi.item()) == (-1, 7)
    for fn in (
        lambda T: T.aminmax(T.tensor([[1, 2], [3, 4]]), dim=0),
        lambda T: T.tensor([3, 1, 2]).cummin(0),
    ):
        assert repr(fn(adjit)) == repr(fn(torch))


def test_selection_at_ties_names_an_equal_element() -> None:
    """Note [median's gradient]: the index at ties is unspecified in PyTorch; adjit's holds the
    value (and median/kthvalue values match PyTorch, tested above)."""
    x = adjit.tensor(SMALL_INTS.astype(float))
    for out in (x.median(1), x.kthvalue(4, 1), x.nanmedian(0, keepdim=True)):
        dim = 1 if out.values.ndim == 1 else 0
        picked = x.gather(dim, out.indices if out.indices.ndim == 2 else out.indices[:, None])
        np.testing.assert_array_equal(picked.reshape(out.values.shape).numpy(), out.values.numpy())


def _i(T: Any, *shape: int) -> Any:
    return T.ones(shape, dtype=T.int64)


def _f(T: Any, *shape: int) -> Any:
    return T.ones(shape, dtype=T.float64)


# name -> the failing program; adjit raises PyTorch's exception type with PyTorch's text
BAD: dict[str, Callable[[Any], Any]] = {
    "prod dim tuple": lambda T: T.prod(_f(T, 3), dim=(0,)),
    "trace 1-d": lambda T: T.trace(_f(T, 3)),
    "aminmax empty": lambda T: T.aminmax(_f(T, 0)),
    "aminmax empty dim": lambda T: T.aminmax(_f(T, 2, 0), dim=1),
    "aminmax empty dim -1": lambda T: T.aminmax(_f(T, 3, 0), dim=-1, keepdim=True),
    "nanmean int": lambda T: T.nanmean(_i(T, 3)),
    "logcumsumexp int": lambda T: T.logcumsumexp(_i(T, 3), 0),
    "median empty dim": lambda T: T.median(_f(T, 2, 0), 1),
    "nanmedian empty dim": lambda T: T.nanmedian(_f(T, 2, 0), 1),
    "mode empty dim": lambda T: T.mode(_f(T, 0)),
    "kthvalue k too big": lambda T: T.kthvalue(_f(T, 2, 3), 4, 1),
    "kthvalue k zero": lambda T: T.kthvalue(_f(T, 3), 0),
    "quantile int": lambda T: T.quantile(_i(T, 3), 0.5),
    "quantile q range": lambda T: T.quantile(_f(T, 3), 1.5),
    "quantile q tensor range": lambda T: T.quantile(
        _f(T, 3), T.tensor([0.5, -0.1], dtype=T.float64)
    ),
    "quantile q dtype": lambda T: T.quantile(_f(T, 3), T.tensor([0.5], dtype=T.float32)),
    "quantile empty": lambda T: T.quantile(_f(T, 0), 0.5),
    "sum dim and axis": lambda T: T.sum(_f(T, 2), dim=0, axis=0),
    "prod keepdim and keepdims": lambda T: T.prod(_f(T, 2), 0, keepdim=True, keepdims=True),
    "quantile interpolation": lambda T: T.quantile(_f(T, 2), 0.5, interpolation="foo"),
}


@pytest.mark.parametrize("name", BAD)
def test_errors_match_torch(name: str) -> None:
    with pytest.raises(Exception) as want:
        BAD[name](torch)
    with pytest.raises(type(want.value)) as got:
        BAD[name](adjit)
    if name != "prod dim tuple":  # (PyTorch's lists its overloads)
        assert str(want.value) in str(got.value)


def test_empty_reductions_match_torch() -> None:
    for fn in (
        lambda T: T.prod(_f(T, 0)),
        lambda T: T.prod(_f(T, 2, 0), 1),
        lambda T: T.median(_f(T, 0)),
        lambda T: T.cumprod(_f(T, 0), 0),
        lambda T: T.logcumsumexp(_f(T, 2, 0), 1),
        lambda T: T.count_nonzero(_f(T, 0, 3), 0),
        lambda T: T.trace(_f(T, 0, 3)),
    ):
        got, want = fn(adjit), fn(torch)
        assert tuple(got.shape) == tuple(want.shape) and str(got.dtype) == str(want.dtype)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
