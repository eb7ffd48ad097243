"""Selection by rank over ARGSORT (so they compile): median, nanmedian, kthvalue, mode, quantile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.ops import Op
from ..ir.shapes import norm_axis
from .autocast import autocast_op
from .checks import check, in_range
from .dispatch import apply, composite, with_rule
from .ops_elementwise import add, div, eq, floor, isnan, lerp, lt, maximum, mul, sub, where
from .ops_integer import floor_divide, logical_not
from .ops_math import ceil, round
from .ops_movement import permute, reshape, transpose
from .ops_reduce import any, argmax, sum
from .ops_scan import cummax
from .ops_sort import argsort_along, take_sorted
from .ops_stats import return_type
from .tensor import Tensor

RESULTS = {
    name: return_type(name, ("values", "indices"))
    for name in ("median", "nanmedian", "kthvalue", "mode")
}

Pick = Callable[[Tensor, int], Tensor]  # sorted rows, axis -> positions (axis kept, int64)


def _const(value: Any, dtype: Any = np.int64) -> Tensor:
    return Tensor._make(np.asarray(value, dtype))


def _valid(s: Tensor, axis: int) -> Tensor:
    """How many elements of each sorted row come before its NaNs (axis kept)."""
    if not s.dtype.is_floating_point:
        return _const(np.full(s.shape[:axis] + (1,) + s.shape[axis + 1 :], s.shape[axis]))
    return sum(logical_not(isnan(s)), axis, keepdim=True)


def _median_position(valid: Tensor, n: int) -> Tensor:
    # a NaN in the row: the first NaN (sorted after the numbers, first in input order)
    return where(lt(valid, n), valid, (n - 1) // 2)


def _nanmedian_position(valid: Tensor, n: int) -> Tensor:
    return maximum(floor_divide(sub(valid, 1), 2), 0)


# ---- median and nanmedian of every element ----------------------------------------------
class _EvenlyDistributed:
    """Note [median's gradient]: the cotangent shared among the elements equal to the result."""

    def __repr__(self) -> str:
        return "evenly_distribute_backward"

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        x = inputs[1]
        mask = where(isnan(out), isnan(x), eq(x, out))
        return (None, div(mul(g, mask), sum(mask)) if needs[1] else None)


_EVENLY = _EvenlyDistributed()


def _full(x: Tensor, name: str, skip_nan: bool) -> Tensor:
    """The lower median of every element; see Note [median's gradient]."""
    n = x.numel()
    if n == 0:  # NaN, with a (zero) gradient as PyTorch's
        nan = Tensor._make(np.asarray(np.nan, x.dtype.np))
        name = "NanmedianBackward0" if skip_nan else "MedianBackward0"
        return with_rule(_EVENLY, lambda a: nan, x, name=name)

    def value(a: Tensor) -> Tensor:
        flat = reshape(a, (n,))
        order = argsort_along(flat, 0)
        s = take_sorted(flat, order, 0)
        pick = _nanmedian_position if skip_nan else _median_position
        position = pick(_valid(s, 0), n)
        return reshape(take_sorted(s, position, 0), ())

    if not x.dtype.is_floating_point:
        return value(x)
    grad_name = "NanmedianBackward0" if skip_nan else "MedianBackward0"
    return with_rule(_EVENLY, value, x, name=grad_name)


# Note [median's gradient]
# median() and nanmedian() over every element share the gradient among the elements equal to
# the result (among the NaNs when it is NaN), as PyTorch's evenly_distribute_backward (a
# CUSTOM_VJP rule, so the value is the selected element exactly, infinities included). With
# dim, the gradient goes to the element at the returned index
# (value_selecting_reduction_backward). Which of several equal elements that index names is
# unspecified in PyTorch (an nth_element on the CPU); adjit returns the first in the input's
# order, so indices may differ at ties.


# ---- selections along a dim -----------------------------------------------------------------
def _select(x: Tensor, dim: Any, keepdim: bool, name: str, grad_name: str, pick: Pick) -> Any:
    """Values and indices at the sorted positions ``pick`` chooses along ``dim``."""
    rows = reshape(x, (1,)) if x.ndim == 0 else x
    axis = norm_axis(dim, rows.ndim)
    if rows.shape[axis] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {axis} to have non-zero size.")
    order = argsort_along(rows, axis)
    index = apply(Op.GATHER, order, pick(take_sorted(rows, order, axis), axis), axis=axis)
    shape = (
        ()
        if x.ndim == 0
        else tuple(index.shape)
        if keepdim
        else tuple(index.shape[:axis] + index.shape[axis + 1 :])
    )

    def decomposition(a: Tensor) -> Tensor:
        return reshape(apply(Op.GATHER, reshape(a, rows.shape), index, axis=axis), shape)

    return RESULTS[name.removesuffix("()")](
        composite(grad_name, decomposition, x), reshape(index, shape)
    )


def _median_pick(s: Tensor, axis: int) -> Tensor:
    return _median_position(_valid(s, axis), s.shape[axis])


def _nanmedian_pick(s: Tensor, axis: int) -> Tensor:
    return _nanmedian_position(_valid(s, axis), s.shape[axis])


def _no_bool(x: Tensor, kernel: str) -> None:
    if x.dtype is D.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def median(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    if dim is None:
        if x.numel():
            _no_bool(x, "median_cpu")
        return _full(x, "median", skip_nan=False)
    _no_bool(x, "median_out")
    return _select(x, dim, keepdim, "median", "MedianBackward1", _median_pick)


def nanmedian(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    if dim is None:
        if x.numel():
            _no_bool(x, "median_cpu")
        return _full(x, "nanmedian", skip_nan=True)
    _no_bool(x, "median_out")
    # (PyTorch names median in this op's empty-dim error too)
    try:
        return _select(x, dim, keepdim, "nanmedian", "NanmedianBackward1", _nanmedian_pick)
    except IndexError as e:
        raise IndexError(str(e).replace("nanmedian()", "median()")) from None


def kthvalue(x: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    axis = norm_axis(dim, x.ndim)  # (a 0-d tensor takes dim 0 or -1, as PyTorch)
    n = x.shape[axis] if x.ndim else 1
    if n and not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {axis}")
    _no_bool(x, "kthvalue_cpu")
    return _select(x, dim, keepdim, "kthvalue", "KthvalueBackward0", lambda s, a: _at(s, a, k - 1))


def _at(s: Tensor, axis: int, position: int) -> Tensor:
    return _const(np.full(s.shape[:axis] + (1,) + s.shape[axis + 1 :], position))


def mode(x: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    return _select(x, dim, keepdim, "mode", "ModeBackward0", _mode_pick)


def _mode_pick(s: Tensor, axis: int) -> Tensor:
    """Note [mode's choice]: the end of the longest run of equal sorted values, the first such."""
    n = s.shape[axis]
    s = transpose(s, axis, -1) if axis != s.ndim - 1 else s
    steps = _const(np.arange(n))
    if n > 1:
        differ = apply(Op.NE, s[..., 1:], s[..., :-1])
        first = _const(np.ones(s.shape[:-1] + (1,)), bool)
        starts = apply(Op.CAT, first, differ, axis=s.ndim - 1)
        ends = apply(Op.CAT, differ, first, axis=s.ndim - 1)
    else:
        starts = ends = _const(np.ones(s.shape), bool)
    run_start = cummax(where(starts, steps, 0), s.ndim - 1).values
    length = where(ends, add(sub(steps, run_start), 1), 0)
    best = argmax(length, -1, keepdim=True)
    return transpose(best, axis, -1) if axis != s.ndim - 1 else best


# Note [mode's choice]
# PyTorch's mode returns the most frequent value, the smallest of several equally frequent
# ones, and the index of its last occurrence in the input. Over a stable sort the runs of equal
# values keep the input order, so the end of the first longest run is that value and index.
# NaN equals nothing: each NaN is a run of one, as in PyTorch.


# ---- quantiles ------------------------------------------------------------------------------
INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")
ROUNDINGS: dict[str, Callable[[Tensor], Tensor]] = {
    "lower": floor,
    "higher": ceil,
    "nearest": round,  # half to even, as PyTorch's round
}


@autocast_op("quantile")
def quantile(
    x: Tensor, q: Any, dim: Any = None, keepdim: bool = False, *, interpolation: str = "linear"
) -> Tensor:
    return _quantile(x, q, dim, keepdim, interpolation, "quantile", skip_nan=False)


@autocast_op("nanquantile")
def nanquantile(
    x: Tensor, q: Any, dim: Any = None, keepdim: bool = False, *, interpolation: str = "linear"
) -> Tensor:
    return _quantile(x, q, dim, keepdim, interpolation, "nanquantile", skip_nan=True)


def _quantile(
    x: Tensor, q: Any, dim: Any, keepdim: bool, interpolation: str, name: str, skip_nan: bool
) -> Tensor:
    qs = _check_quantile(x, q, interpolation, name)
    if dim is None:
        rows, axis, out_shape = reshape(x, (1, -1)), 1, (1,) * x.ndim if keepdim else ()
    else:
        axis = norm_axis(dim, x.ndim) if x.ndim else 0
        rows = reshape(x, 1) if x.ndim == 0 else x
        kept = rows.shape[:axis] + (1,) + rows.shape[axis + 1 :]
        out_shape = kept if keepdim and x.ndim else kept[:axis] + kept[axis + 1 :]
    if axis != rows.ndim - 1:  # the dim last, the others in order (q's dim replaces it)
        rows = permute(rows, (*(i for i in range(rows.ndim) if i != axis), axis))
    last_axis = rows.ndim - 1
    order = argsort_along(rows, last_axis)
    n = rows.shape[-1]
    sorted_rows = take_sorted(rows, order, last_axis)
    if skip_nan:
        last = sub(_valid(sorted_rows, last_axis), 1)
    else:
        last = where(any(isnan(sorted_rows), -1, keepdim=True), -1, n - 1)
    ranks = mul(qs, maximum(last, 0).to(x.dtype))
    ranks = where(lt(last, 0), float(n - 1 if not skip_nan else 0), ranks)  # NaN rows: a NaN
    below, above, weights = _interpolation(ranks, interpolation)

    def decomposition(a: Tensor) -> Tensor:
        s = apply(Op.GATHER, a, order, axis=last_axis)
        lo = apply(Op.GATHER, s, below, axis=last_axis)
        if weights is None:
            return lo
        hi = apply(Op.GATHER, s, above, axis=last_axis)
        return lerp(lo, hi, weights)

    values = decomposition(rows)  # (..., len(q)): q's dim goes first
    if values.ndim > 1:
        values = permute(values, (values.ndim - 1, *range(values.ndim - 1)))
    if np.ndim(q) == 0 and not isinstance(q, Tensor) or isinstance(q, Tensor) and q.ndim == 0:
        return reshape(values, out_shape)
    return reshape(values, (qs.shape[0], *out_shape))


def _interpolation(ranks: Tensor, mode: str) -> tuple[Tensor, Any, Any]:
    """Indices below and above each rank and the weight between (None: no interpolation)."""
    if mode in ("lower", "higher", "nearest"):
        return ROUNDINGS[mode](ranks).to(D.int64), None, None
    below = floor(ranks)
    weights = mul(ranks, 0.0) + 0.5 if mode == "midpoint" else sub(ranks, below)
    return below.to(D.int64), ceil(ranks).to(D.int64), weights


def _check_quantile(x: Tensor, q: Any, interpolation: str, name: str) -> Tensor:
    """``q`` as a 1-D tensor of ``x``'s dtype (a tensor's range checked when the program runs)."""
    if x.dtype.name not in ("float32", "float64"):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.dtype is not x.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        message = f"{name}() q values must be in the range [0, 1]"
        qs = check(q, in_range(q, 0, 1, inclusive=True), RuntimeError, message)
        qs = reshape(qs, (-1,))
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        qs = _const([q], x.dtype.np)
    if x.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if interpolation not in INTERPOLATIONS:
        raise RuntimeError(
            f"{name}() interpolation must be one of linear, lower, higher, midpoint or "
            f"nearest, but got {interpolation}"
        )
    return qs
