"""A tensor's storage offset in elements, kept for the empty views NumPy forgets it for."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.ops import Op

# Note [empty views keep their offset]
# NumPy gives an empty result of basic indexing (``a[5:5]``) the start of its parent's memory as
# its data pointer, so the offset PyTorch reports (``storage_offset()`` is 5) cannot be read off
# the array. A view op (INDEX without index tensors, RESHAPE, PERMUTE, EXPAND) with an empty
# result records it when the view is made: its parent's offset plus the starts of its slices
# and integer indices times the parent's strides; reshapes keep the parent's.


def storage_offset_of(t: Any) -> int:
    """Elements between the start of the memory ``t`` views and its first element."""
    a = t._data
    if not a.size:
        return int(getattr(t, "_empty_offset", 0))
    base = a
    while isinstance(base.base, np.ndarray):
        base = base.base
    lowest = a.ctypes.data + sum(
        (n - 1) * s for n, s in zip(a.shape, a.strides, strict=True) if s < 0
    )
    return max(0, (lowest - base.ctypes.data) // a.itemsize)


def is_empty_view(op: Op, attrs: dict[str, Any], data: np.ndarray) -> bool:
    """An empty result of a view op: a view of its operand's memory, as in PyTorch."""
    if data.size or data.base is None:
        return False
    return op is not Op.INDEX or all(item[0] != "tensor" for item in attrs["spec"])


def record_empty_offset(out: Any, first: Any, op: Op, attrs: dict[str, Any]) -> None:
    """The offset PyTorch gives the empty view ``out`` of ``first`` (Note [empty views keep
    their offset])."""
    offset = storage_offset_of(first)
    if op is Op.INDEX:
        strides = [s // first._data.itemsize for s in first._data.strides]
        dim = 0
        for item in attrs["spec"]:
            if item[0] in ("int", "slice"):
                offset += item[1] * strides[dim]
                dim += 1
    out._empty_offset = offset
