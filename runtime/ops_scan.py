"""Scans as log-depth decompositions: cumprod, cummax/cummin (values and indices), logcumsumexp."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.ops import Op
from ..ir.shapes import norm_axis
from .checks import traced
from .dispatch import apply, composite
from .opmath import in_float32
from .ops_elementwise import (
    add,
    clone,
    eq,
    exp,
    ge,
    isnan,
    le,
    log1p,
    maximum,
    minimum,
    mul,
    sub,
    where,
)
from .ops_integer import logical_and, logical_not, logical_or
from .ops_reduce import cat_along
from .ops_stats import _slice, _wide, return_type
from .tensor import Tensor

cummax_result = return_type("cummax", ("values", "indices"))
cummin_result = return_type("cummin", ("values", "indices"))

Parts = tuple[Tensor, ...]


def scan(parts: Parts, axis: int, combine: Callable[[Parts, Parts], Parts], fills: tuple) -> Parts:
    """Note [log-depth scans]: inclusive prefix ``combine`` of ``parts`` along ``axis``."""
    n, shift = parts[0].shape[axis], 1
    while shift < n:
        shape = tuple(shift if i == axis else s for i, s in enumerate(parts[0].shape))
        earlier = tuple(
            cat_along(
                Tensor._make(np.full(shape, fill, p.dtype.np)), _slice(p, axis, 0, n - shift), axis
            )
            for p, fill in zip(parts, fills, strict=True)
        )
        parts = combine(earlier, parts)
        shift *= 2
    return parts


# Note [log-depth scans]
# Hillis and Steele's scan: round k combines each element with the one 2**k before it (the
# padding before the start is ``combine``'s identity), so after log2(n) rounds every element
# holds the combination of its whole prefix. Every round is elementwise over shifted slices:
# it traces, compiles and differentiates like any other program. ``combine`` must be
# associative; it takes (earlier, later).


def _dim_axis(x: Tensor, dim: int) -> int:
    return norm_axis(dim, x.ndim)  # a 0-d tensor takes dim 0 or -1, as PyTorch


def cumprod(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running products: a scan of multiplies (gradients at zeros: Note [prod as a tree])."""
    x = _wide(x, dtype)
    axis = _dim_axis(x, dim)

    def decomposition(a: Tensor) -> Tensor:
        if a.ndim == 0:
            return clone(a)
        return scan((a,), axis, lambda e, l: (mul(e[0], l[0]),), (1,))[0]

    return composite("CumprodBackward0", in_float32(decomposition), x)


def _logaddexp(e: Parts, l: Parts) -> Parts:
    """log(exp(a) + exp(b)), exact at equal infinities and with gradient 1/2 each at a tie."""
    hi, lo = maximum(e[0], l[0]), minimum(e[0], l[0])
    gap = where(eq(hi, lo), 0.0, sub(lo, hi))
    return (add(hi, log1p(exp(gap))),)


def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    if not x.dtype.is_floating_point:
        raise NotImplementedError(
            f"\"logcumsumexp_out_cpu\" not implemented for '{_word(x.dtype)}'"
        )
    axis = _dim_axis(x, dim)

    def decomposition(a: Tensor) -> Tensor:
        if a.ndim == 0:
            return clone(a)
        return scan((a,), axis, _logaddexp, (float("-inf"),))[0]

    return composite("LogcumsumexpBackward0", in_float32(decomposition), x)


def _word(dtype: D.DType) -> str:
    return dtype.type_name.removesuffix("Tensor")


def _extreme_scan(x: Tensor, dim: int, kind: str) -> Any:
    """cummax/cummin: indices from a scan of (value, index) pairs, values gathered at them."""
    if x.ndim == 0 and dim not in (0, -1):
        raise IndexError(f"cum{kind}(): Expected reduction dim -1 or 0 for scalar but got {dim}")
    axis = _dim_axis(x, dim)
    result = cummax_result if kind == "max" else cummin_result
    if x.ndim == 0:
        return result(clone(x), Tensor._make(np.zeros((), np.int64)))
    better = ge if kind == "max" else le

    def combine(e: Parts, l: Parts) -> Parts:
        # Note [cummax's order]: NaN first, then the extreme value, then the later index
        take = (
            logical_or(isnan(l[0]), logical_and(logical_not(isnan(e[0])), better(l[0], e[0])))
            if x.dtype.is_floating_point
            else better(l[0], e[0])
        )
        return where(take, l[0], e[0]), where(take, l[1], e[1])

    n = x.shape[axis]
    iota = np.arange(n, dtype=np.int64).reshape([n if i == axis else 1 for i in range(x.ndim)])
    positions = Tensor._make(np.ascontiguousarray(np.broadcast_to(iota, x.shape)))
    if traced(x):
        _, idx = scan((x.detach(), positions), axis, combine, (_identity(x.dtype, kind), 0))
    else:  # the same indices from NumPy's running extremes, without log2(n) rounds
        idx = Tensor._make(_running_indices(x._data, positions._data, axis, kind))
    name = "CummaxBackward0" if kind == "max" else "CumminBackward0"
    values = composite(name, lambda a: apply(Op.GATHER, a, idx, axis=axis), x)
    return result(values, idx)


def _running_indices(data: np.ndarray, iota: np.ndarray, axis: int, kind: str) -> np.ndarray:
    """The last index (up to each position) of an element equal to the running extreme (or of
    a NaN): where the running extreme rose to its value, or a tie at it, or the NaN."""
    data = D.widen(data)  # (bfloat16 is no NumPy float kind)
    running = (np.maximum if kind == "max" else np.minimum).accumulate(data, axis=axis)
    hit = data == running
    if data.dtype.kind == "f":
        hit |= np.isnan(data)
    return np.maximum.accumulate(np.where(hit, iota, 0), axis=axis)


# Note [cummax's order]
# PyTorch's cummax keeps a running (value, index) and takes the next element when it is NaN or
# when neither is NaN and it is >= the running value (<= for cummin): a NaN sticks, a tie moves
# the index forward. That is the maximum of the pairs under the order (is NaN, value, index),
# which is associative, so the pairs scan in log depth.


def _identity(dtype: D.DType, kind: str) -> Any:
    if dtype.is_floating_point:
        return float("-inf") if kind == "max" else float("inf")
    if dtype is D.bool_:
        return kind != "max"
    info = np.iinfo(dtype.np)
    return info.min if kind == "max" else info.max


def cummax(x: Tensor, dim: int) -> Any:
    return _extreme_scan(x, dim, "max")


def cummin(x: Tensor, dim: int) -> Any:
    return _extreme_scan(x, dim, "min")
