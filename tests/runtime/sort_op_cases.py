"""Sorting and selection of issue 13 as table rows (run by test_sort_ops_vs_torch.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

RNG = np.random.default_rng(1313)
X = RNG.standard_normal((3, 5))  # distinct values: every order is unique
TIES = RNG.integers(0, 3, (4, 7)).astype(float)  # many ties: stability shows
TIES_NANS = TIES.copy()
TIES_NANS[RNG.random(TIES.shape) < 0.2] = np.nan
ONE_NAN = TIES.copy()
ONE_NAN[2, 3] = np.nan  # (PyTorch's unique orders several NaNs' inverse indices its own way)
INTS = RNG.integers(-3, 4, (3, 6))
BOOLS = RNG.random((2, 6)) < 0.5
NEG_ZERO = np.array([0.0, -0.0, 1.0, -0.0, 0.0, -1.0])
EDGES = np.array([np.inf, -np.inf, 1.0, np.nan, -2.0, np.inf, 0.5])
SEQ = np.sort(RNG.integers(0, 6, 9).astype(float))  # sorted, with repeats
VALS = np.array([[-1.0, 0.0, 2.0, 2.5], [5.0, 6.0, np.nan, 3.0]])
ROWS = np.sort(RNG.standard_normal((2, 6)), axis=1)
ROW_VALS = RNG.standard_normal((2, 3))
UNSORTED = np.array([3.0, 1.0, 2.0, 0.0])
SELF = RNG.integers(-2, 3, (3, 4)).astype(float)  # zeros and ties for prod/amax/amin
SRC = RNG.integers(-2, 3, (3, 4)).astype(float)
SRC_SMOOTH = RNG.standard_normal((3, 4)) + 3.0  # distinct, nonzero: finite differences
IDX = np.array([[0, 1, 2, 0], [1, 1, 0, 0], [2, 2, 2, 1]])
IDX1 = np.array([[3, 3, 0, 1], [0, 0, 0, 2], [1, 2, 3, 3]])
X3 = RNG.standard_normal((5, 3, 2))  # a dim other than the last two (found by the fuzzer)


# quantile interpolates with lerp, which PyTorch's vectorized CPU kernel rounds once (a fused
# multiply-add) and adjit's twice: an ulp apart at most
LERP = 2 * float(np.finfo(np.float64).eps)


class Case(NamedTuple):
    name: str
    fn: Callable[..., Any]  # (module, *tensors) -> tensor or tuple of tensors
    xs: tuple[np.ndarray, ...] = (X,)
    compiles: bool = True  # False: data-dependent output shape, eager only
    grad: bool = True  # compare gradients of the float inputs
    exact_indices: bool = True  # False: ties whose order PyTorch leaves unspecified
    rtol: float = 0.0  # values move, so they are exact; but see LERP

    @property
    def op(self) -> str:
        """The public function the row tests (its name up to the first '-')."""
        return self.name.split("-")[0]


def _ix(T: Any, a: np.ndarray) -> Any:
    return T.tensor(a)


CASES = [
    # sort: dims, directions, stability at ties, NaN largest, dtypes, 0-d and empty
    Case("sort", lambda T, x: T.sort(x)),
    Case("sort-dim0-descending", lambda T, x: T.sort(x, 0, True)),
    Case("sort-method-keywords", lambda T, x: x.sort(dim=0, descending=False)),
    Case("sort-axis-input", lambda T, x: T.sort(input=x, axis=0)),
    Case("topk-axis", lambda T, x: T.topk(x, 2, axis=0)),
    Case("argsort-axis", lambda T, x: x.argsort(axis=0), grad=False),
    Case("sort-stable-ties", lambda T, x: T.sort(x, stable=True), (TIES,)),
    Case(
        "sort-stable-ties-desc",
        lambda T, x: T.sort(x, dim=0, descending=True, stable=True),
        (TIES,),
    ),
    Case("sort-stable-nans", lambda T, x: T.sort(x, stable=True), (TIES_NANS,)),
    Case("sort-stable-nans-desc", lambda T, x: x.sort(descending=True, stable=True), (TIES_NANS,)),
    Case("sort-edges", lambda T, x: T.sort(x, stable=True), (EDGES,)),
    Case("sort-edges-desc", lambda T, x: T.sort(x, descending=True, stable=True), (EDGES,)),
    Case("sort-negzero", lambda T, x: T.sort(x, stable=True), (NEG_ZERO,)),
    Case("sort-int", lambda T, x: T.sort(x, dim=1, stable=True), (INTS,), grad=False),
    Case(
        "sort-int-desc",
        lambda T, x: T.sort(x, dim=0, descending=True, stable=True),
        (INTS,),
        grad=False,
    ),
    Case("sort-bool", lambda T, x: T.sort(x, stable=True), (BOOLS,), grad=False),
    Case(
        "sort-bool-desc", lambda T, x: T.sort(x, descending=True, stable=True), (BOOLS,), grad=False
    ),
    Case("sort-float32", lambda T, x: T.sort(x.float(), 0)),
    Case("sort-0d", lambda T, x: T.sort(x[0, 0])),
    Case("sort-empty", lambda T, x: T.sort(x[:, :0], 1)),
    Case("sort-empty-rows", lambda T, x: T.sort(x[:0], 1)),
    # argsort and msort
    Case("argsort", lambda T, x: T.argsort(x), grad=False),
    Case("argsort-desc", lambda T, x: x.argsort(0, True), grad=False),
    Case("argsort-stable", lambda T, x: T.argsort(x, stable=True), (TIES_NANS,), grad=False),
    Case(
        "argsort-stable-desc",
        lambda T, x: T.argsort(x, dim=0, descending=True, stable=True),
        (TIES_NANS,),
        grad=False,
    ),
    Case("argsort-int", lambda T, x: T.argsort(x, stable=True), (INTS,), grad=False),
    Case("argsort-0d", lambda T, x: T.argsort(x[1, 1]), grad=False),
    Case("msort", lambda T, x: T.msort(x)),
    Case("msort-method", lambda T, x: x.msort()),
    Case("msort-int", lambda T, x: T.msort(x), (INTS,), grad=False),
    # topk: largest/smallest, dims, k = 0 and n, NaN largest; ties: values only
    Case("topk", lambda T, x: T.topk(x, 2)),
    Case("topk-smallest-dim0", lambda T, x: T.topk(x, 2, dim=0, largest=False)),
    Case("topk-method", lambda T, x: x.topk(k=3, dim=1, largest=True, sorted=True)),
    Case("topk-k0", lambda T, x: T.topk(x, 0)),
    Case("topk-all", lambda T, x: T.topk(x, 5, 1)),
    Case("topk-nans", lambda T, x: T.topk(x, 3), (EDGES,)),
    Case("topk-smallest-nans", lambda T, x: T.topk(x, 5, largest=False), (EDGES,)),
    Case("topk-ties", lambda T, x: T.topk(x, 3), (TIES,), exact_indices=False),
    Case("topk-int", lambda T, x: T.topk(x, 2), (INTS,), grad=False, exact_indices=False),
    Case("topk-0d", lambda T, x: T.topk(x[0, 0], 1)),
    # selections that now sort with ARGSORT (median etc.: also in test_reductions_vs_torch.py)
    Case("median-0d", lambda T, x: T.median(x[0, 0])),
    Case("median-edges", lambda T, x: T.median(x), (EDGES,)),
    Case("nanmedian-edges", lambda T, x: T.nanmedian(x), (EDGES,)),
    Case("kthvalue-ties", lambda T, x: T.kthvalue(x, 3, 1), (TIES,), exact_indices=False),
    # (with NaN in a row PyTorch's mode index is its comparator's accident: values only)
    Case("mode-nans", lambda T, x: T.mode(x, 1), (TIES_NANS,), exact_indices=False),
    Case("quantile-float32", lambda T, x: T.quantile(x.float(), 0.25, dim=0)),
    Case(
        "quantile-3d-dim0",
        lambda T, x: T.quantile(x, 0.3, dim=0, keepdim=True),
        (X3,),
        rtol=LERP,
    ),
    Case(
        "nanquantile-3d-q-dim1",
        lambda T, x: T.nanquantile(x, T.tensor([0.2, 0.9], dtype=T.float64), dim=1),
        (X3,),
        rtol=LERP,
    ),
    Case("median-empty", lambda T, x: T.median(x[:0])),
    Case("quantile-q-tensor", lambda T, x: T.quantile(x, T.tensor([0.1, 0.75], dtype=T.float64))),
    # unique and unique_consecutive (eager: data-dependent size)
    Case("unique", lambda T, x: T.unique(x), (TIES_NANS,), compiles=False, grad=False),
    Case(
        "unique-all",
        lambda T, x: T.unique(x, sorted=True, return_inverse=True, return_counts=True),
        (ONE_NAN,),
        compiles=False,
        grad=False,
    ),
    Case(
        "unique-method-unsorted",
        lambda T, x: x.unique(sorted=False, return_inverse=True),
        (INTS,),
        compiles=False,
        grad=False,
    ),
    Case(
        "unique-dim0",
        lambda T, x: T.unique(x, return_inverse=True, return_counts=True, dim=0),
        (np.array([[1, 2], [0, 5], [1, 2], [0, 1]]),),
        compiles=False,
        grad=False,
    ),
    Case(
        "unique-dim1",
        lambda T, x: T.unique(x > 0, dim=1, return_counts=True),
        (INTS,),
        compiles=False,
        grad=False,
    ),
    Case("unique-bool", lambda T, x: T.unique(x), (BOOLS,), compiles=False, grad=False),
    Case("unique-negzero", lambda T, x: T.unique(x), (NEG_ZERO,), compiles=False, grad=False),
    Case(
        "unique-0d",
        lambda T, x: T.unique(x[0, 0], return_inverse=True, return_counts=True),
        compiles=False,
        grad=False,
    ),
    Case(
        "unique-empty",
        lambda T, x: T.unique(x[:0], return_inverse=True, return_counts=True),
        compiles=False,
        grad=False,
    ),
    Case(
        "unique_consecutive",
        lambda T, x: T.unique_consecutive(x, return_inverse=True, return_counts=True),
        (np.array([1.0, 1.0, 2.0, 2.0, 3.0, 1.0, 1.0, np.nan, np.nan]),),
        compiles=False,
        grad=False,
    ),
    Case(
        "unique_consecutive-dim0",
        lambda T, x: x.unique_consecutive(return_counts=True, dim=0),
        (np.array([[1, 2], [1, 2], [0, 1], [1, 2]]),),
        compiles=False,
        grad=False,
    ),
    # searchsorted and bucketize (integer results; compiled)
    Case("searchsorted", lambda T, s, v: T.searchsorted(s, v), (SEQ, VALS), grad=False),
    Case(
        "searchsorted-right",
        lambda T, s, v: T.searchsorted(s, v, right=True),
        (SEQ, VALS),
        grad=False,
    ),
    Case(
        "searchsorted-side-int32",
        lambda T, s, v: T.searchsorted(s, v, side="right", out_int32=True),
        (SEQ, VALS),
        grad=False,
    ),
    Case("searchsorted-rows", lambda T, s, v: T.searchsorted(s, v), (ROWS, ROW_VALS), grad=False),
    Case("searchsorted-scalar", lambda T, s: T.searchsorted(s, 2.0), (SEQ,), grad=False),
    Case(
        "searchsorted-0d",
        lambda T, s: T.searchsorted(s, T.tensor(3.0, dtype=T.float64)),
        (SEQ,),
        grad=False,
    ),
    Case(
        "searchsorted-sorter",
        lambda T, s, v: T.searchsorted(s, v, sorter=T.argsort(s)),
        (UNSORTED, VALS),
        grad=False,
    ),
    Case(
        "searchsorted-int-seq",
        lambda T, s, v: T.searchsorted(s.long(), v),
        (SEQ, VALS),
        grad=False,
    ),
    Case("searchsorted-empty", lambda T, s, v: T.searchsorted(s[:0], v), (SEQ, VALS), grad=False),
    Case("searchsorted-nan-seq", lambda T, s, v: T.searchsorted(s, v), (EDGES, VALS), grad=False),
    Case("bucketize", lambda T, v, s: T.bucketize(v, s), (VALS, SEQ), grad=False),
    Case(
        "bucketize-right-int32",
        lambda T, v, s: T.bucketize(v, s, out_int32=True, right=True),
        (VALS, SEQ),
        grad=False,
    ),
    Case("bucketize-scalar", lambda T, s: T.bucketize(2.5, s), (SEQ,), grad=False),
    # scatter_reduce prod/amax/amin, include_self both ways (ties and zeros: PyTorch's formulas)
    *(
        Case(
            f"scatter_reduce-{reduce}-{'self' if include else 'noself'}",
            lambda T, a, s, reduce=reduce, include=include: T.scatter_reduce(
                a, 0, _ix(T, IDX), s, reduce, include_self=include
            ),
            (SELF, SRC),
        )
        for reduce in ("prod", "amax", "amin")
        for include in (True, False)
    ),
    *(
        Case(
            f"scatter_reduce-{reduce}-dim1",
            lambda T, a, s, reduce=reduce: a.scatter_reduce(1, _ix(T, IDX1), s, reduce),
            (SELF, SRC_SMOOTH),
        )
        for reduce in ("prod", "amax", "amin")
    ),
    Case(
        "scatter_reduce-max-alias",
        lambda T, a, s: T.scatter_reduce(a, 0, _ix(T, IDX), s, "max"),
        (SELF, SRC_SMOOTH),
        grad=False,  # (PyTorch's backward refuses the old name; adjit's is amax's)
    ),
    Case(
        "scatter_reduce-prod-int",
        lambda T, a, s: T.scatter_reduce(a.long(), 0, _ix(T, IDX), s.long(), "prod"),
        (SELF, SRC),
        grad=False,
    ),
    Case(
        "scatter_reduce-amax-nan",
        lambda T, a, s: T.scatter_reduce(a, 1, _ix(T, IDX1), s, "amax", include_self=False),
        (SELF, np.where(IDX1 == 2, np.nan, SRC)),
    ),
    Case(
        "scatter_reduce-amin-bool",
        lambda T, a, s: T.scatter_reduce(a > 0, 0, _ix(T, IDX), s > 0, "amin"),
        (SELF, SRC),
        grad=False,
    ),
]

# rows whose float output is smooth at the sample: gradients against finite differences
FD_CASES = [
    "sort",
    "sort-dim0-descending",
    "msort",
    "topk",
    "topk-smallest-dim0",
    "quantile-q-tensor",
    "scatter_reduce-prod-dim1",
    "scatter_reduce-amax-dim1",
    "scatter_reduce-amin-dim1",
]
