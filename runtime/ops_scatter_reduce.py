"""scatter_reduce with prod, amax and amin: a segmented scan over ARGSORT, PyTorch's gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.ops import Op
from .dispatch import apply, with_rule
from .ops_elementwise import div, eq, maximum, minimum, mul, ne, where
from .ops_movement import getitem, reshape
from .ops_sort import argsort_along
from .tensor import Tensor

# Note [segmented scatter_reduce]
# scatter_reduce's prod / amax / amin have no SCATTER_ADD form (a product through logs loses
# zeros, signs and accuracy). Each source element goes to one target position, a key; a stable
# ARGSORT of the keys lines the elements of each target up in input order, a log-depth
# (Hillis-Steele) scan combines each element with its predecessors of the same key, and the
# last element of each run holds that target's reduction: O(m log m) with primitives only, so
# it compiles. The target reads it with GATHER at the run end's position (a SCATTER_ADD of
# positions, exact integers), so no value is added to anything and -0.0 survives. maximum and
# minimum propagate NaN, as PyTorch's kernel does from self or src. The gradients are
# PyTorch's (scatter_reduce_backward): prod divides out nonzero factors and recomputes the
# product without a single zero factor; amax/amin share the cotangent evenly among the
# elements equal to the result, and with include_self=False an excluded self that equals the
# result still counts among them (PyTorch's formula, kept for the same numbers).

COMBINE: dict[str, Callable[[Any, Any], Tensor]] = {
    "prod": mul,
    "amax": maximum,
    "amin": minimum,
}


def _keys(shape: tuple[int, ...], d: int, index: Tensor) -> Tensor:
    """Each index element's target as a flat position in ``shape`` (C order)."""
    strides = np.cumprod((1, *shape[::-1]))[:-1][::-1].astype(np.int64)
    grids = np.indices(tuple(index.shape), dtype=np.int64)
    base = sum((grids[i] * strides[i] for i in range(len(shape)) if i != d), np.int64(0))
    base = np.broadcast_to(np.asarray(base, np.int64), tuple(index.shape))
    return reshape(Tensor._make(np.ascontiguousarray(base)) + index * int(strides[d]), (-1,))


def _shifted(v: Tensor, shift: int) -> Tensor:
    """``v`` moved ``shift`` places later (the first ``shift`` entries: v's own, unused)."""
    return apply(Op.CAT, getitem(v, slice(0, shift)), getitem(v, slice(0, -shift)), axis=0)


def segment_reduce(
    a: Tensor, d: int, index: Tensor, s: Tensor, reduce: str, include_self: bool
) -> Tensor:
    """``scatter_reduce(a, d, index, s, reduce, include_self)``'s value for prod/amax/amin
    (``s`` already cut to the index's shape); Note [segmented scatter_reduce]."""
    shape = tuple(a.shape)
    m, size = int(np.prod(index.shape)), int(np.prod(shape))
    if m == 0:
        return where(Tensor._make(np.ones((), bool)), a, a)
    combine = COMBINE[reduce]
    keys = _keys(shape, d, index)
    order = argsort_along(keys, 0)
    k = apply(Op.GATHER, keys, order, axis=0)
    v = apply(Op.GATHER, reshape(s, (m,)), order, axis=0)
    shift = 1
    while shift < m:
        same = apply(Op.CAT, Tensor._make(np.zeros(shift, bool)), eq(k[shift:], k[:-shift]), axis=0)
        v = where(same, combine(v, _shifted(v, shift)), v)
        shift *= 2
    last = Tensor._make(np.ones(1, bool))
    ends = apply(Op.CAT, ne(k[:-1], k[1:]), last, axis=0) if m > 1 else last
    positions = where(ends, Tensor._make(np.arange(m, dtype=np.int64)), 0)
    end_of = apply(Op.SCATTER_ADD, positions, k, axis=0, shape=(size,))
    hits = apply(Op.SCATTER_ADD, Tensor._make(np.ones(m, np.int64)), k, axis=0, shape=(size,))
    reduced = reshape(apply(Op.GATHER, v, end_of, axis=0), shape)
    hit = reshape(hits > 0, shape)
    return where(hit, combine(a, reduced) if include_self else reduced, a)


class _ScatterReduceRule:
    """PyTorch's scatter_reduce_backward for prod, amax and amin."""

    def __init__(self, d: int, reduce: str, include_self: bool) -> None:
        self.d, self.reduce, self.include_self = d, reduce, include_self

    def __repr__(self) -> str:
        return f"scatter_reduce_backward[{self.reduce}, include_self={self.include_self}]"

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        _, a, s, index = inputs  # (the index is an operand: the backward reads it)
        d = self.d
        if self.reduce == "prod":
            grad_a, grad_s = self._prod(g, out, a, s, index)
        else:
            value = apply(Op.GATHER, out, index, axis=d)
            a_is = eq(a, out).to(a.dtype)
            s_is = eq(s, value).to(a.dtype)
            share = div(g, a_is + self._scatter_add(s_is, index, tuple(a.shape)))
            grad_a = mul(a_is, share)
            grad_s = mul(s_is, apply(Op.GATHER, share, index, axis=d))
        if not self.include_self:
            grad_a = where(self._hit(index, tuple(a.shape)), 0.0, grad_a)
        return (None, grad_a if needs[1] else None, grad_s if needs[2] else None, None)

    def _scatter_add(self, v: Tensor, index: Tensor, shape: tuple[int, ...]) -> Tensor:
        return apply(Op.SCATTER_ADD, v, index, axis=self.d, shape=shape)

    def _hit(self, index: Tensor, shape: tuple[int, ...]) -> Tensor:
        ones = Tensor._make(np.ones(tuple(index.shape), np.int64))
        return self._scatter_add(ones, index, shape) > 0

    def _prod(
        self, g: Tensor, out: Tensor, a: Tensor, s: Tensor, index: Tensor
    ) -> tuple[Tensor, Tensor]:
        d, inc = self.d, self.include_self
        masked_a = where(eq(a, 0), 1.0, a)
        grad_a = div(mul(g, segment_reduce(masked_a, d, index, s, "prod", inc)), masked_a)
        s_zero = eq(s, 0)
        zeros = self._scatter_add(s_zero.to(a.dtype), index, tuple(a.shape))
        single = s_zero & eq(apply(Op.GATHER, zeros, index, axis=d), 1)
        without = segment_reduce(a, d, index, where(single, 1.0, s), "prod", inc)
        grad_s = where(
            single,
            apply(Op.GATHER, mul(g, without), index, axis=d),
            div(apply(Op.GATHER, mul(g, out), index, axis=d), where(s_zero, 1.0, s)),
        )
        return grad_a, grad_s


def scatter_reduce_segments(
    a: Tensor, d: int, index: Tensor, s: Tensor, reduce: str, include_self: bool
) -> Tensor:
    """The value with PyTorch's gradient (ScatterReduceBackward0) for prod/amax/amin."""

    def value(x: Tensor, y: Tensor, i: Tensor) -> Tensor:
        return segment_reduce(x, d, i, y, reduce, include_self)

    if not a.dtype.is_floating_point:
        return value(a, s, index)
    rule = _ScatterReduceRule(d, reduce, include_self)
    return with_rule(rule, value, a, s, index, name="ScatterReduceBackward0")
