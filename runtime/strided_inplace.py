"""``Tensor.as_strided_``: new sizes, strides and offset over the same memory, in place."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .device import storage_offset as _storage_offset
from .grad_mode import is_grad_enabled
from .inplace import _check_leaf
from .inplace_shape import _refuse_outside
from .ops_view_scatter import storage_needed, strided_geometry
from .tensor import Tensor

# Note [as_strided_ in place]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~
# PyTorch's ``x.as_strided_(size, stride, storage_offset)`` gives ``x`` itself new sizes,
# strides and offset over the storage it has (bounds checked against the storage), and bumps
# its version; writes through it reach that storage. adjit does the same with a NumPy view of
# the C-contiguous array owning x's memory (its storage), where that is the whole story: x
# owns its memory and no other tensor views it. A view of another tensor, or a tensor others
# view, keeps adjit's view bookkeeping (each view's recipe from its base, used when a base's
# history is rewritten, Note [stale views]) in terms of the old geometry, which would then
# give silently wrong gradients, so those refuse with NotImplementedError, as do traced
# tensors and, under grad mode, tensors that require grad (a leaf: PyTorch's in-place
# error; PyTorch records AsStridedBackward1 for others, adjit does not). Memory where two
# elements overlap is read-only: writes refuse with PyTorch's "more than one element" error.

_SHARED = (
    "as_strided_: adjit changes a tensor's sizes and strides in place only for a tensor that "
    "owns its memory and that no other tensor views (Note [as_strided_ in place]); use "
    "as_strided() (a copy) or call it on a clone()"
)


def as_strided_(self: Tensor, size: Any, stride: Any, storage_offset: int | None = None) -> Tensor:
    shape, strides = strided_geometry(size, stride)
    _check_leaf(self)
    if self._is_tracer:
        from .trace_state import TracingError

        raise TracingError("as_strided_() inside a compiled function is not supported")
    _refuse_outside(self, "as_strided_()")
    if is_grad_enabled() and self.requires_grad:
        raise NotImplementedError(
            "as_strided_ of a tensor with a history is not differentiable in adjit (PyTorch "
            "records AsStridedBackward1); use as_strided() or call it under torch.no_grad()"
        )
    root = _owned_memory(self)
    item = self._data.itemsize
    offset = _storage_offset(self) if storage_offset is None else int(storage_offset)
    storage_needed(shape, strides, offset, item, root.nbytes // item)
    data = np.ndarray(
        shape,
        self._data.dtype,
        buffer=root,
        offset=offset * item,
        strides=[s * item for s in strides],
    )  # (a view whose base is the memory's owner, as storage_offset() expects)
    if not _distinct(shape, strides):
        data.flags.writeable = False
    self._data = data
    self._version_box[0] += 1
    return self


def _owned_memory(t: Tensor) -> np.ndarray:
    """The C-contiguous array owning ``t``'s memory, when ``t`` is a base no other tensor
    views (else NotImplementedError)."""
    data = t._data
    root = data if data.base is None else data.base
    if t._view_base is not None or not isinstance(root, np.ndarray):
        raise NotImplementedError(_SHARED)
    if not root.flags.c_contiguous or isinstance(root.base, np.ndarray):
        raise NotImplementedError(_SHARED)
    # the references that are ours: t._data (or data.base), the locals ``data`` and ``root``,
    # getrefcount's argument; any more is another array (a view, detach()) on this memory
    ours = 4 if root is data else 3
    if sys.getrefcount(root) > ours or (root is not data and sys.getrefcount(data) > 3):
        raise NotImplementedError(_SHARED)
    return root


def _distinct(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """No two elements share memory (strides sorted, each past the extent of the smaller)."""
    order = sorted((s, n) for s, n in zip(strides, shape, strict=True) if n > 1)
    return all(s2 >= s1 * n1 for (s1, n1), (s2, _) in zip(order, order[1:], strict=False)) and all(
        s > 0 for s, _ in order
    )


METHODS = {"as_strided_": as_strided_}
