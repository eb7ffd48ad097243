"""hsplit/vsplit/dsplit, the *_scatter ops (a view's positions overwritten) and as_strided.

Note [scatter into a view by positions]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
``select_scatter``, ``slice_scatter``, ``diagonal_scatter`` and ``as_strided`` all name a set of
positions of the input by a view (a select, a slice, a diagonal, sizes and strides). The
positions depend on shapes only, so NumPy computes them once, on an array of flat indices,
as the same view: ``where(hit, take(src, map), x)`` then writes ``src`` there, and
``take(x, positions)`` reads them. Both are differentiable decompositions that compile.

``as_strided`` reads the memory PyTorch's would, but only within the input's own elements: a
contiguous input (or a contiguous view, its storage offset counted as PyTorch counts it) gives
PyTorch's values; sizes and strides reaching into the rest of the viewed memory, and inputs
whose element order is not their memory order (a transpose), raise NotImplementedError rather
than read other values. It returns a copy, not a view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.shapes import norm_axis
from .creation import tensor
from .dispatch import composite
from .layout import check_layout
from .ops_elementwise import where
from .ops_movement import reshape
from .ops_shape import tensor_split
from .ops_take import take
from .tensor import Tensor


# ---- hsplit / vsplit / dsplit -----------------------------------------------------------------
def _split(name: str, x: Tensor, sections: Any, dim: int, need: int) -> tuple[Tensor, ...]:
    if x.ndim < need:
        raise RuntimeError(
            f"torch.{name} requires a tensor with at least {need} dimension, but got a tensor "
            f"with {x.ndim} dimensions!"
        )
    if isinstance(sections, int) and (sections == 0 or x.shape[dim] % sections):
        raise RuntimeError(
            f"torch.{name} attempted to split along dimension {dim}, but the size of the "
            f"dimension {x.shape[dim]} is not divisible by the split_size {sections}!"
        )
    return tensor_split(x, sections if isinstance(sections, int) else list(sections), dim)


def hsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:  # noqa: A002
    return _split("hsplit", input, indices_or_sections, 0 if input.ndim == 1 else 1, 1)


def vsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:  # noqa: A002
    return _split("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:  # noqa: A002
    return _split("dsplit", input, indices_or_sections, 2, 3)


# ---- *_scatter: Note [scatter into a view by positions] ---------------------------------------
def _scatter_view(
    name: str, x: Tensor, src: Tensor, view: Callable[[np.ndarray], np.ndarray]
) -> Tensor:
    ids = view(np.arange(x.numel(), dtype=np.int64).reshape(x.shape))
    if tuple(src.shape) != ids.shape:
        raise RuntimeError(
            "expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(ids.shape)}"
        )
    where_from = np.full(x.numel(), -1, np.int64)
    where_from[ids.ravel()] = np.arange(ids.size)
    hit = where_from.reshape(x.shape) >= 0
    index = tensor(np.maximum(where_from, 0).reshape(x.shape))

    def fn(a: Tensor, s: Tensor) -> Tensor:
        if ids.size == 0:
            return where(tensor(hit), a, a)
        return where(tensor(hit), take(s.to(a.dtype), index), a)

    return composite(name, fn, x, src)


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    axis = norm_axis(dim, input.ndim)
    size = input.shape[axis]
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
            f"dimension {dim}"
        )
    view = lambda ids: np.take(ids, index, axis)  # noqa: E731
    return _scatter_view("SelectScatterBackward0", input, src, view)


def slice_scatter(
    input: Tensor,  # noqa: A002
    src: Tensor,
    dim: int = 0,
    start: int | None = None,
    end: int | None = None,
    step: int = 1,
) -> Tensor:
    axis = norm_axis(dim, input.ndim)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    index = (slice(None),) * axis + (slice(start, end, step),)
    return _scatter_view("SliceScatterBackward0", input, src, lambda ids: ids[index])


def diagonal_scatter(
    input: Tensor,  # noqa: A002
    src: Tensor,
    offset: int = 0,
    dim1: int = 0,
    dim2: int = 1,
) -> Tensor:
    a, b = norm_axis(dim1, input.ndim), norm_axis(dim2, input.ndim)
    if a == b:
        input.diagonal(offset, dim1, dim2)  # PyTorch's error for equal dims
    view = lambda ids: np.diagonal(ids, offset, a, b)  # noqa: E731
    return _scatter_view("DiagonalScatterBackward0", input, src, view)


# ---- as_strided / empty_strided ---------------------------------------------------------------
def _extent(size: tuple[int, ...], stride: tuple[int, ...]) -> int:
    return sum((k - 1) * s for k, s in zip(size, stride, strict=True))


def _positions(size: tuple[int, ...], stride: tuple[int, ...], offset: int) -> np.ndarray:
    pos = np.full(size, offset, np.int64)
    for k, (n, s) in enumerate(zip(size, stride, strict=True)):
        shape = [1] * len(size)
        shape[k] = n
        pos = pos + (np.arange(n, dtype=np.int64) * s).reshape(shape)
    return pos


def _own_place(x: Tensor) -> tuple[int, int]:
    """(where x's elements start in the memory it views, that memory's size), in elements;
    refuses a tensor whose element order is not its memory order (a transpose, a step)."""
    if x._is_tracer:  # a traced value is a fresh contiguous tensor
        return 0, x.numel()
    if not x._data.flags.c_contiguous:
        raise NotImplementedError(
            "as_strided: adjit reads a tensor's own elements in C order, which for this "
            "non-contiguous tensor is not its memory order (PyTorch's): call .contiguous() first"
        )
    root = x._data
    while isinstance(root.base, np.ndarray):
        root = root.base
    if root.dtype != x._data.dtype or not root.flags.c_contiguous:
        return 0, x.numel()
    own = (x._data.ctypes.data - root.ctypes.data) // x._data.itemsize if x._data.size else 0
    return own, root.size


def strided_geometry(size: Any, stride: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``as_strided``'s sizes and strides as ints, after PyTorch's checks on them."""
    shape, strides = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(shape) != len(strides):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in strides):
        raise RuntimeError(
            "as_strided: Negative strides are not supported at the moment, got strides: "
            f"{list(strides)}"
        )
    return shape, strides


def storage_needed(
    shape: tuple[int, ...], strides: tuple[int, ...], offset: int, item: int, storage: int
) -> int:
    """Elements of storage the geometry reaches from ``offset``; PyTorch's setStorage error when
    that is past ``storage`` elements of ``item`` bytes."""
    need = 0 if 0 in shape else offset + _extent(shape, strides) + 1
    if need > storage:
        raise RuntimeError(
            f"setStorage: sizes {list(shape)}, strides {list(strides)}, storage offset {offset}, "
            f"and itemsize {item} requiring a storage size of {need * item} are out of bounds "
            f"for storage of size {storage * item}"
        )
    return need


def _strided_positions(
    input: Tensor,  # noqa: A002
    size: Any,
    stride: Any,
    storage_offset: int | None,
) -> np.ndarray:
    """The flat (C-order) positions in ``input`` that ``as_strided(input, size, stride,
    storage_offset)`` reads, after PyTorch's checks: Note [scatter into a view by positions]."""
    size, stride = strided_geometry(size, stride)
    own, storage = _own_place(input)
    start = own if storage_offset is None else int(storage_offset)
    need = storage_needed(size, stride, start, input.dtype.itemsize, storage)
    offset = start - own
    if need and (offset < 0 or need - own > input.numel()):
        raise NotImplementedError(
            "as_strided: these sizes and strides reach memory outside the tensor's own elements "
            "(in the tensor it views); adjit reads only its own elements (call .clone() on the "
            "base and index it instead)"
        )
    return _positions(size, stride, offset)


def as_strided(
    input: Tensor,  # noqa: A002
    size: Any,
    stride: Any,
    storage_offset: int | None = None,
) -> Tensor:
    """Elements at ``offset + sum(i_k stride_k)`` of the input in C order (a copy):
    Note [scatter into a view by positions]."""
    positions = tensor(_strided_positions(input, size, stride, storage_offset))
    flat = lambda a: take(reshape(a, (-1,)), positions)  # noqa: E731
    return composite("AsStridedBackward0", flat, input)


def as_strided_scatter(
    input: Tensor,  # noqa: A002
    src: Tensor,
    size: Any,
    stride: Any,
    storage_offset: int | None = None,
) -> Tensor:
    """The input with the elements ``as_strided`` would read replaced by ``src``'s. Its
    gradient is the mask of the untouched positions (as slice_scatter's; PyTorch 2.13's own
    AsStridedScatterBackward0 passes the gradient to the overwritten ones instead)."""
    positions = _strided_positions(input, size, stride, storage_offset)
    view = lambda ids: ids.ravel()[positions]  # noqa: E731
    return _scatter_view("AsStridedScatterBackward0", input, src, view)


def empty_strided(
    size: Any,
    stride: Any,
    *,
    dtype: D.DType | None = None,
    layout: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """A zero-filled tensor whose memory has the given strides (``stride()`` reports them)."""
    check_layout(layout, "empty_strided")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    dt = dtype or D.get_default_dtype()
    need = 0 if 0 in size else _extent(size, stride) + 1
    item = np.dtype(dt.np).itemsize
    buffer = np.zeros(max(need, 1), dt.np)
    data = np.lib.stride_tricks.as_strided(buffer, size, tuple(s * item for s in stride))
    out = Tensor._make(data)
    return out.requires_grad_() if requires_grad else out


# Tensor methods (runtime/methods.py)
METHODS = [
    "hsplit",
    "vsplit",
    "dsplit",
    "diagonal_scatter",
    "select_scatter",
    "slice_scatter",
    "as_strided",
    "as_strided_scatter",
]
