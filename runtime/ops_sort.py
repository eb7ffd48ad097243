"""Sorting as decompositions over ARGSORT: sort, argsort, msort, topk (they compile)."""

from __future__ import annotations

from typing import Any

from ..ir.ops import Op
from ..ir.shapes import norm_axis
from .dispatch import apply, composite
from .ops_movement import getitem, reshape
from .ops_reduce import RETURN_TYPES
from .ops_stats import return_type
from .tensor import Tensor

topk_result = return_type("topk", ("values", "indices"))

# Note [sorting over ARGSORT]
# ARGSORT is the one primitive (a stable sort along an axis, ir/sorting.py; compiled code runs
# it as an extern on its NumPy rule). Everything else gathers at its indices, so a value's
# gradient is GATHER's (a scatter-add of the cotangent to where each element came from), as
# PyTorch's SortBackward0 / TopkBackward0 / value_selecting_reduction_backward. Ties: PyTorch
# orders equal elements in input order with stable=True; without it, and in topk, its order
# at ties is unspecified (its kernel's); adjit always sorts stably, so indices there may name
# another of the equal elements than PyTorch's (the values are the same).


def argsort_along(x: Tensor, axis: int, descending: bool = False, stable: bool = True) -> Tensor:
    """The ARGSORT primitive along a normalized ``axis``."""
    return apply(Op.ARGSORT, x, axis=axis, descending=bool(descending), stable=bool(stable))


def take_sorted(x: Tensor, index: Tensor, axis: int) -> Tensor:
    """``x`` gathered at ``index`` along ``axis`` (0-dim: the element itself)."""
    if x.ndim == 0:
        return reshape(apply(Op.GATHER, reshape(x, (1,)), reshape(index, (1,)), axis=0), ())
    return apply(Op.GATHER, x, index, axis=axis)


def argsort(x: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    return argsort_along(x, norm_axis(dim, x.ndim), descending, stable)


def sort(x: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:
    """Sorted values (SortBackward0) and the indices; see Note [sorting over ARGSORT]."""
    axis = norm_axis(dim, x.ndim)
    index = argsort_along(x, axis, descending, stable)
    values = composite("SortBackward0", lambda a: take_sorted(a, index, axis), x)
    return RETURN_TYPES["sort"](values, index)


def msort(x: Tensor) -> Tensor:
    """``sort(x, dim=0).values``."""
    return sort(x, 0).values


def topk(
    x: Tensor,
    k: int,
    dim: int = -1,
    largest: bool = True,
    sorted: bool = True,  # noqa: A002
) -> Any:
    """The ``k`` largest (smallest) along ``dim``, in order (also with ``sorted=False``, which
    leaves PyTorch's order unspecified)."""
    axis = norm_axis(dim, x.ndim)
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    order = argsort_along(x, axis, descending=largest, stable=True)
    index = order if x.ndim == 0 else getitem(order, (slice(None),) * axis + (slice(0, k),))
    values = composite("TopkBackward0", lambda a: take_sorted(a, index, axis), x)
    return topk_result(values, index)
