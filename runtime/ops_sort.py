"""Sorting over ARGSORT and SEARCHSORTED: sort, argsort, msort, topk, searchsorted, bucketize."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.ops import Op
from ..ir.shapes import norm_axis
from .checks import check, in_range
from .dispatch import apply, composite, result_dtype
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


def sort(x: Tensor, dim: int = -1, descending: bool = False, *, stable: bool | None = None) -> Any:
    """Sorted values and the indices; see Note [sorting over ARGSORT]. (Given ``stable``,
    PyTorch's call is its sort.stable overload, whose node is SortBackward1.)"""
    axis = norm_axis(dim, x.ndim)
    index = argsort_along(x, axis, descending, bool(stable))
    name = "SortBackward0" if stable is None else "SortBackward1"
    values = composite(name, lambda a: take_sorted(a, index, axis), x)
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
    if x.dtype is D.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    order = argsort_along(x, axis, descending=largest, stable=True)
    index = order if x.ndim == 0 else getitem(order, (slice(None),) * axis + (slice(0, k),))
    values = composite("TopkBackward0", lambda a: take_sorted(a, index, axis), x)
    return topk_result(values, index)


# ---- searchsorted and bucketize ---------------------------------------------------------------
def _search(seq: Tensor, values: Any, right: bool, out_int32: bool) -> Tensor:
    """The SEARCHSORTED primitive on ``seq`` and ``values`` in their common dtype."""
    dt = result_dtype(seq, values)
    if dt is D.bool_:
        raise NotImplementedError("\"searchsorted_out_cpu\" not implemented for 'Bool'")
    v = values if isinstance(values, Tensor) else Tensor._make(np.asarray(values, dt.np))
    found = apply(Op.SEARCHSORTED, seq.to(dt), v.to(dt), right=right)
    return found.to(D.int32) if out_int32 else found


def searchsorted(
    sorted_sequence: Tensor,
    input: Any,  # noqa: A002 - PyTorch's name
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Tensor | None = None,
) -> Tensor:
    """Note [searchsorted's binary search] (ir/sorting.py): PyTorch's answers, compiled too."""
    seq = sorted_sequence
    name = "torch.searchsorted()"
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"{name}: side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(
                f"{name}: side and right can't be set to opposites, got side of left while "
                "right was True"
            )
        right = side == "right"
    if seq.ndim == 0:
        raise RuntimeError(
            f"{name}: boundaries tensor should have positive dimension, but got 0 dimension"
        )
    scalar = not isinstance(input, Tensor) or input.ndim == 0
    if scalar and seq.ndim != 1:
        raise RuntimeError(
            f"{name}: input value can be a scalar only when boundaries tensor dimension is 1, "
            f"but we got boundaries tensor dim({seq.ndim}) and input value's dim(0) numel(1)"
        )
    if not scalar and seq.ndim != 1 and tuple(seq.shape[:-1]) != tuple(input.shape[:-1]):
        raise RuntimeError(
            f"{name}: boundaries tensor should be 1 dimension or the first N-1 dimensions of "
            "boundaries tensor and input value tensor must match, but we got boundaries tensor "
            f"{list(seq.shape)} and input value tensor {list(input.shape)}"
        )
    if sorter is not None:
        if sorter.dtype is not D.int64:
            raise RuntimeError(
                f"{name}: sorter must be a tensor of long dtype but got dtype "
                f"{sorter.dtype.type_name}"
            )
        if tuple(sorter.shape) != tuple(seq.shape):
            raise RuntimeError(
                f"{name}: boundary and sorter must have the same size, but got boundary tensor "
                f"{list(seq.shape)}and got sorter tensor {list(sorter.shape)}"
            )
        n = seq.shape[-1]
        message = f"{name}: sorter index out of range"
        sorter = check(sorter, in_range(sorter, 0, n), RuntimeError, message)
        seq = apply(Op.GATHER, seq, sorter, axis=seq.ndim - 1)
    return _search(seq, input, right, out_int32)


def bucketize(
    input: Any,  # noqa: A002 - PyTorch's name
    boundaries: Tensor,
    *,
    out_int32: bool = False,
    right: bool = False,
) -> Tensor:
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return _search(boundaries, input, right, out_int32)
