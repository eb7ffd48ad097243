"""Sorting and selection (sort, argsort, msort, topk, unique, searchsorted, bucketize, and
scatter_reduce's prod/amax/amin) against PyTorch: values, indices at ties, NaN order, dtypes,
return types, grad_fn names and gradients, eager and compiled, and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sort_op_cases import CASES, FD_CASES, TIES, Case

import adjit
from adjit.testing import assert_grads_match

torch = pytest.importorskip("torch")


def _as_tuple(out: Any) -> tuple:
    return tuple(out) if isinstance(out, tuple) else (out,)


def _inputs(T: Any, case: Case, grad: bool) -> list:
    return [T.tensor(x, requires_grad=grad and x.dtype.kind == "f") for x in case.xs]


def _floats(outs: tuple) -> list:
    return [o for o in outs if o.dtype.is_floating_point and o.requires_grad]


def _cotangents(outs: list) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(tuple(o.shape)) for o in outs]


def _picked_values_agree(case: Case, mine: Any) -> None:
    """At ties PyTorch's indices are unspecified: adjit's must name elements of equal value
    (these rows select along the last dim)."""
    x = np.asarray(case.xs[0])
    values, indices = mine.values.detach().numpy(), mine.indices.numpy()
    if values.ndim < x.ndim:
        values, indices = values[..., None], indices[..., None]
    np.testing.assert_array_equal(np.take_along_axis(x, indices, axis=-1), values)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_eager_matches_torch(case: Case) -> None:
    a_in, t_in = _inputs(adjit, case, case.grad), _inputs(torch, case, case.grad)
    result = case.fn(torch, *t_in)
    mine = case.fn(adjit, *a_in)
    if type(result).__module__ == "torch.return_types":  # a named tuple, printed by its name
        assert repr(mine).startswith(f"torch.return_types.{type(result).__name__}(")
    else:
        assert isinstance(mine, tuple) == isinstance(result, tuple)
    got, want = _as_tuple(mine), _as_tuple(result)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert tuple(g.shape) == tuple(w.shape) and str(g.dtype) == str(w.dtype)
        if not g.dtype.is_floating_point and not case.exact_indices:
            continue
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=case.rtol, atol=0)
        assert (g.grad_fn is None) == (w.grad_fn is None)
        if w.grad_fn is not None and "quantile" not in case.op:  # (PyTorch's: its last view)
            assert type(g.grad_fn).__name__ == w.grad_fn.name()
    if not case.exact_indices:
        _picked_values_agree(case, mine)
    if not case.grad or not _floats(want) or not case.exact_indices:
        return  # (at ties the gradient goes where the index points)
    cts = _cotangents(_floats(want))
    leaves_t = [t for t in t_in if t.requires_grad]
    leaves_a = [t for t in a_in if t.requires_grad]
    tg = torch.autograd.grad(_floats(want), leaves_t, [torch.tensor(c) for c in cts])
    ag = adjit.autograd.grad(_floats(got), leaves_a, [adjit.tensor(c) for c in cts])
    for g, w in zip(ag, tg, strict=True):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12, atol=1e-12)


COMPILED = [c for c in CASES if c.compiles]


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("case", COMPILED, ids=lambda c: c.name)
def test_compiled_matches_eager(case: Case, backend: str) -> None:
    xs = [adjit.tensor(x) for x in case.xs]
    want = _as_tuple(case.fn(adjit, *xs))
    got = _as_tuple(adjit.compile(lambda *v: case.fn(adjit, *v), backend=backend)(*xs))
    for g, w in zip(got, want, strict=True):
        assert tuple(g.shape) == tuple(w.shape) and g.dtype is w.dtype
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    floats = [o for o in want if o.dtype.is_floating_point]
    if not case.grad or not floats:
        return
    cts = [adjit.tensor(c) for c in _cotangents(floats)]
    argnums = tuple(i for i, x in enumerate(case.xs) if x.dtype.kind == "f")

    def loss(*v: Any) -> Any:
        outs = [o for o in _as_tuple(case.fn(adjit, *v)) if o.dtype.is_floating_point]
        return sum(((o * c).sum() for o, c in zip(outs, cts, strict=True)), adjit.tensor(0.0))

    leaves = [adjit.tensor(x, requires_grad=i in argnums) for i, x in enumerate(case.xs)]
    expected = adjit.autograd.grad(loss(*leaves), [leaves[i] for i in argnums])
    compiled = adjit.grad(loss, argnums=argnums, backend=backend)(*xs)
    for c, e in zip(_as_tuple(compiled), expected, strict=True):
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", FD_CASES)
def test_gradients_against_finite_differences(name: str) -> None:
    case = next(c for c in CASES if c.name == name)
    xs = [adjit.tensor(x) for x in case.xs]
    assert_grads_match(lambda *v: _as_tuple(case.fn(adjit, *v))[0], *xs)


@pytest.mark.parametrize("case", [c for c in CASES if not c.compiles], ids=lambda c: c.name)
def test_data_dependent_sizes_refused_under_compile(case: Case) -> None:
    args = [adjit.tensor(x) for x in case.xs]
    with pytest.raises(adjit.TracingError, match=f"{case.op}\\(\\) returns as many elements"):
        adjit.compile(lambda *v: case.fn(adjit, *v), fullgraph=True)(*args)
    got = adjit.compile(lambda *v: case.fn(adjit, *v))(*args)  # by default a graph break
    want = case.fn(adjit, *args)
    for g, w in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want)), strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g.numpy(), w.numpy())  # (NaN equal to NaN)


def test_unique_has_no_derivative_as_pytorch() -> None:
    for T in (torch, adjit):
        u = T.unique(T.tensor([2.0, 1.0, 2.0], requires_grad=True))
        with pytest.raises(NotImplementedError, match="the derivative for '_unique2'"):
            u.sum().backward()


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
def test_stable_sort_of_many_ties_matches_torch(dtype: str, descending: bool) -> None:
    """Long rows of few distinct values (NaN among them for floats): stable indices are
    PyTorch's exactly, in both directions."""
    rng = np.random.default_rng(7)
    data = rng.integers(0, 4, (3, 3000)).astype(dtype)
    if data.dtype.kind == "f":
        data[rng.random(data.shape) < 0.1] = np.nan
    for dim in (0, 1):
        want = torch.sort(torch.tensor(data), dim=dim, descending=descending, stable=True)
        got = adjit.sort(adjit.tensor(data), dim=dim, descending=descending, stable=True)
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())


def test_unstable_sort_is_a_valid_sort() -> None:
    """stable=False: PyTorch's order of equal elements is unspecified; adjit's is stable."""
    x = adjit.tensor(TIES)
    out = adjit.sort(x, 1)
    np.testing.assert_array_equal(out.values.numpy(), np.sort(TIES, 1))
    np.testing.assert_array_equal(np.take_along_axis(TIES, out.indices.numpy(), 1), out.values)


def test_searchsorted_on_any_row_matches_torch() -> None:
    """Note [searchsorted's binary search]: unsorted rows and NaN in rows or values give
    PyTorch's answers too (its halvings, step for step)."""
    rng = np.random.default_rng(3)
    for _ in range(100):
        n, m = int(rng.integers(0, 9)), int(rng.integers(0, 6))
        seq = rng.integers(0, 5, (2, n)).astype(float)
        if rng.random() < 0.5:
            seq = np.sort(seq, 1)
        seq[rng.random(seq.shape) < 0.2] = np.nan
        vals = rng.integers(-1, 6, (2, m)).astype(float)
        vals[rng.random(vals.shape) < 0.2] = np.nan
        for right in (False, True):
            for s in (seq, seq[0]):
                want = torch.searchsorted(torch.tensor(s), torch.tensor(vals), right=right)
                got = adjit.searchsorted(adjit.tensor(s), adjit.tensor(vals), right=right)
                np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_return_types_print_and_unpack() -> None:
    for fn in (
        lambda T: T.sort(T.tensor([3, 1, 2])),
        lambda T: T.tensor([[3.0, 1.0], [0.0, 2.0]]).topk(1),
    ):
        assert repr(fn(adjit)) == repr(fn(torch))
    values, indices = adjit.topk(adjit.tensor([1.0, 3.0, 2.0]), 2)
    assert values.tolist() == [3.0, 2.0] and indices.tolist() == [1, 2]


def test_sort_traced_has_argsort_and_no_data_read() -> None:
    text = str(adjit.explain(lambda v: adjit.sort(v, descending=True).values * 2, adjit.tensor(X2)))
    assert "argsort[axis=1 descending=True stable=False]" in text


X2 = np.array([[3.0, 1.0, 2.0], [0.0, -1.0, 5.0]])


def _f(T: Any, *shape: int) -> Any:
    return T.ones(shape, dtype=T.float64)


def _l(T: Any, *values: int) -> Any:
    return T.tensor(values)


# name -> the failing program; adjit raises PyTorch's exception type with PyTorch's text
BAD: dict[str, Callable[[Any], Any]] = {
    "sort dim": lambda T: T.sort(_f(T, 3), dim=1),
    "sort 0-d dim": lambda T: T.sort(T.tensor(1.0), 2),
    "argsort dim": lambda T: T.argsort(_f(T, 2, 3), -3),
    "topk k too big": lambda T: T.topk(_f(T, 3), 4),
    "topk k negative": lambda T: T.topk(_f(T, 3), -1),
    "topk 0-d k": lambda T: T.topk(T.tensor(1.0), 2),
    "topk dim": lambda T: T.topk(_f(T, 3), 1, dim=2),
    "topk bool": lambda T: T.topk(_l(T, 1, 0).bool(), 1),
    "topk bool k": lambda T: T.topk(_l(T, 1, 0).bool(), 3),
    "median bool": lambda T: T.median(_l(T, 1, 0).bool()),
    "median bool dim": lambda T: T.median(_l(T, 1, 0).bool(), 0),
    "nanmedian bool": lambda T: T.nanmedian(_l(T, 1, 0).bool()),
    "kthvalue bool": lambda T: T.kthvalue(_l(T, 1, 0).bool(), 1),
    "unique dim": lambda T: T.unique(_f(T, 2, 3), dim=2),
    "unique 0-d dim": lambda T: T.unique(T.tensor(2.0), dim=0),
    "unique zero-size": lambda T: T.unique(_f(T, 2, 0), dim=0),
    "searchsorted lead dims": lambda T: T.searchsorted(_f(T, 2, 3), _f(T, 3, 3)),
    "searchsorted scalar n-d": lambda T: T.searchsorted(_f(T, 2, 3), 1.0),
    "searchsorted 0-d seq": lambda T: T.searchsorted(T.tensor(1.0), _f(T, 2)),
    "searchsorted side": lambda T: T.searchsorted(_f(T, 3), _f(T, 2), side="foo"),
    "searchsorted side right": lambda T: T.searchsorted(
        _f(T, 3), _f(T, 2), side="left", right=True
    ),
    "searchsorted sorter size": lambda T: T.searchsorted(_f(T, 3), _f(T, 2), sorter=_l(T, 0, 1)),
    "searchsorted sorter dtype": lambda T: T.searchsorted(
        _f(T, 3), _f(T, 2), sorter=_l(T, 0, 1, 2).int()
    ),
    "searchsorted sorter range": lambda T: T.searchsorted(
        _f(T, 3), _f(T, 2), sorter=_l(T, 0, 1, 5)
    ),
    "searchsorted sorter negative": lambda T: T.searchsorted(
        _f(T, 3), _f(T, 2), sorter=_l(T, 0, -1, 2)
    ),
    "searchsorted bool": lambda T: T.searchsorted(_l(T, 0, 1).bool(), _l(T, 1).bool()),
    "bucketize 2-d": lambda T: T.bucketize(_f(T, 2), _f(T, 2, 3)),
    "scatter_reduce reduce": lambda T: T.scatter_reduce(_f(T, 3), 0, _l(T, 0), _f(T, 1), "add"),
    "scatter_reduce index range": lambda T: T.scatter_reduce(
        _f(T, 3), 0, _l(T, 3), _f(T, 1), "prod"
    ),
}


@pytest.mark.parametrize("name", BAD)
def test_errors_match_torch(name: str) -> None:
    with pytest.raises(Exception) as want:
        BAD[name](torch)
    with pytest.raises(type(want.value)) as got:
        BAD[name](adjit)
    assert str(want.value) in str(got.value)


def test_searchsorted_sorter_checked_when_compiled() -> None:
    f = adjit.compile(lambda s, v, o: adjit.searchsorted(s, v, sorter=o))
    s, v = adjit.tensor([3.0, 1.0, 2.0]), adjit.tensor([2.5])
    assert f(s, v, adjit.tensor([1, 2, 0])).tolist() == [2]
    with pytest.raises(RuntimeError, match="sorter index out of range"):
        f(s, v, adjit.tensor([1, 2, 3]))
