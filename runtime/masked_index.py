"""Writes through a traced boolean mask (``x[mask] = v``, ``index_put((mask,), v)``) as where."""

# Note [writes through a traced mask]
# ``x[mask]`` has one row per true element, a shape unknown while tracing, so reading through
# a traced mask is refused (runtime/indexing.py). Writing through it keeps ``x``'s shape:
# when the value broadcasts to one row (``x[mask] = 0``, ``x[mask] = row``), the write is
# ``where(mask, value, x)`` (``x + where(mask, value, 0)`` when accumulating), which compiles.
# A value with one row per true element would need the count, and is refused by name.

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.ops import Op
from .checks import traced
from .dispatch import apply, composite
from .tensor import Tensor
from .trace_state import TracingError


def traced_mask(index: Any) -> Tensor | None:
    """The mask when ``index`` is one traced boolean tensor (alone or in a 1-tuple)."""
    items = index if isinstance(index, tuple | list) else (index,)
    if len(items) != 1 or not isinstance(items[0], Tensor) or items[0].dtype.name != "bool":
        return None
    return items[0] if traced(items[0]) else None


def masked_write(old: Tensor, mask: Tensor, value: Tensor, accumulate: bool = False) -> Tensor:
    """``old`` with ``value`` written (or added) where ``mask`` holds, out of place."""
    shape = tuple(old.shape)
    if mask.ndim > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    for j, n in enumerate(mask.shape):
        if n != shape[j]:
            raise IndexError(
                f"The shape of the mask {list(mask.shape)} at index {j} does not match the "
                f"shape of the indexed tensor {list(shape)} at index {j}"
            )
    rest = shape[mask.ndim :]
    rows = tuple(value.shape)
    if len(rows) == len(rest) + 1 and rows[0] == 1:
        rows = rows[1:]  # one row for every true element
    if len(rows) > len(rest) or _broadcast(rows, rest) != rest:
        raise TracingError(
            f"indexing with a boolean mask: a value of shape {list(value.shape)} has one row "
            "per true element, a count unknown while tracing; write a value that broadcasts "
            f"to {list(rest)}, or use adjit.where(mask, value, x)"
        )
    m = apply(Op.RESHAPE, mask, shape=tuple(mask.shape) + (1,) * len(rest))

    def write(a: Tensor, v: Tensor) -> Tensor:
        v = v if tuple(v.shape) == rows else apply(Op.RESHAPE, v, shape=rows)
        v = v if v.dtype is a.dtype else apply(Op.CAST, v, dtype=a.dtype)
        if accumulate:
            return apply(Op.ADD, a, apply(Op.WHERE, m, v, 0))
        return apply(Op.WHERE, m, v, a)

    return composite("IndexPutBackward0", write, old, value)


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return None
