"""Movement ops: reshape, permute, expand, indexing, cat/stack/split, gather."""

from __future__ import annotations

from itertools import accumulate
from math import prod
from typing import Any

import numpy as np

from ..ir.dtypes import DType, bool_
from ..ir.ops import Op
from ..ir.shapes import norm_axis
from ..ir.sizes import SymbolicSize, is_size
from . import trace_state
from .autocast import autocast_op
from .checks import check, in_range, shape_from_values, traced
from .dispatch import apply, composite, not_a_view
from .indexing import basic_name, normalize_index, scalar_bools, warn_sequence_index
from .ops_elementwise import clone
from .reshape_copies import view_strides
from .tensor import Tensor, _axes, _dims
from .view_dtype import view_dtype


# ---- movement ------------------------------------------------------------------------------
def _infer_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    for i, n in enumerate(shape):
        if type(n) is int and n < -1:  # (a symbolic size is not compared: no guard)
            raise RuntimeError(f"invalid shape dimension {n} at index {i} of shape {list(shape)}")
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape:
        known = prod(n for n in shape if n != -1)
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if n == -1 else n for n in shape)
    return shape


def reshape(x: Tensor, *shape: Any) -> Tensor:
    return apply(Op.RESHAPE, x, shape=_infer_shape(_dims(shape), x.numel()), name="ViewBackward0")


def view(x: Tensor, *shape: Any, dtype: DType | None = None) -> Tensor:
    """``view(*shape)`` reshapes; ``view(dtype)`` reads the same memory as ``dtype``."""
    if dtype is None and len(shape) == 1 and isinstance(shape[0], DType):
        dtype = shape[0]
    if dtype is not None:
        return view_dtype(x, dtype)
    data = None if trace_state.current() is not None else x._data  # (a tracer's _data reads)
    if data is not None and not data.flags.c_contiguous:  # eager, and not always viewable
        new = _infer_shape(_dims(shape), data.size)
        strides = tuple(s // data.itemsize for s in data.strides)
        if prod(new) == data.size and view_strides(data.shape, strides, new) is None:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
            )
    return reshape(x, *shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = norm_axis(start_dim, x.ndim), norm_axis(end_dim, x.ndim)
    return reshape(x, (*x.shape[:s], prod(x.shape[s : e + 1]), *x.shape[e + 1 :]))


def unflatten(x: Tensor, dim: int, sizes: Any) -> Tensor:
    d = norm_axis(dim, x.ndim)
    sizes = _infer_shape(tuple(sizes), x.shape[d])
    return reshape(x, (*x.shape[:d], *sizes, *x.shape[d + 1 :]))


def permute(x: Tensor, *dims: Any) -> Tensor:
    order = _dims(dims)
    if len(order) != x.ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            "length of the desired ordering of dimensions i.e. input.dim() = "
            f"{x.ndim} is not equal to len(dims) = {len(order)}"
        )
    axes = tuple(norm_axis(d, x.ndim) for d in order)
    if len(set(axes)) != len(axes):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return apply(Op.PERMUTE, x, axes=axes)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    axes = list(range(x.ndim))
    a, b = norm_axis(dim0, x.ndim), norm_axis(dim1, x.ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return apply(Op.PERMUTE, x, axes=tuple(axes), name="TransposeBackward0")


swapaxes = swapdims = transpose


def t(x: Tensor) -> Tensor:
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return apply(Op.PERMUTE, x, axes=tuple(reversed(range(x.ndim))), name="TBackward0")


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    axes = _axes(dim, x.ndim)
    keep = tuple(n for i, n in enumerate(x.shape) if n != 1 or (axes is not None and i not in axes))
    kind = 0 if dim is None else 2 if isinstance(dim, tuple | list) else 1
    return apply(Op.RESHAPE, x, shape=keep, name=f"SqueezeBackward{kind}")


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    d = norm_axis(dim, x.ndim + 1)
    return apply(Op.RESHAPE, x, shape=(*x.shape[:d], 1, *x.shape[d:]), name="UnsqueezeBackward0")


def expand(x: Tensor, *sizes: Any) -> Tensor:
    shape = _dims(sizes)
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
    if shape == tuple(x.shape):
        return apply(Op.RESHAPE, x, shape=shape, name="ExpandBackward0")
    return apply(Op.EXPAND, x, shape=shape)


def broadcast_to(x: Tensor, shape: Any) -> Tensor:
    return expand(x, tuple(shape))


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, tuple(other.shape))


def getitem(x: Tensor, index: Any) -> Tensor:
    warn_sequence_index(index)
    x, index = scalar_bools(x, index)  # (Note [scalar bool indices])
    spec, tensors = normalize_index(tuple(x.shape), index)
    idx = [a if isinstance(a, Tensor) else Tensor._make(a) for a in tensors]
    return apply(Op.INDEX, x, *idx, spec=spec, name=basic_name(spec, tuple(x.shape), index))


def _at_least_1d(x: Tensor, message: str) -> None:
    if x.ndim == 0:
        raise RuntimeError(message)


def narrow(x: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """PyTorch's checks in its order; a traced tensor ``start`` is checked when the compiled
    program runs and selects with index_select (the length is static)."""
    _at_least_1d(x, "narrow() cannot be applied to a 0-dim tensor.")
    d = norm_axis(dim, x.ndim)
    n = x.shape[d]
    if isinstance(start, Tensor):
        if start.ndim or start.dtype.category != 1:
            raise RuntimeError("start must be an 0-dim integral Tensor.")
        if traced(start):
            return _narrow_traced(x, d, start, length)
        start = int(start._data)
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if not -n <= start <= n:
        raise IndexError(
            f"start out of range (expected to be in range of [{-n}, {n}], but got {start})"
        )
    start = start + n if start < 0 else start
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    index = (slice(None),) * d + (slice(start, start + length),)
    return getitem(x, index)


def _narrow_traced(x: Tensor, d: int, start: Tensor, length: int) -> Tensor:
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    n = x.shape[d]
    bounds = f"start out of range (expected to be in range of [{-n}, {n}], but got {{}})"
    start = check(start, in_range(start, -n, n, inclusive=True), IndexError, bounds, start)
    first = apply(Op.WHERE, start < 0, start + n, start)
    message = f"start ({{}}) + length ({length}) exceeds dimension size ({n})."
    first = check(first, first + length <= n, RuntimeError, message, first)
    offsets = Tensor._make(np.arange(length, dtype=np.int64))
    return index_select(x, d, first.to(offsets.dtype) + offsets)


@autocast_op("cat")
def cat(tensors: Any, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    if any(t.ndim != 1 for t in tensors):  # legacy: 1-D empty tensors join anything, unused
        tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    axis = norm_axis(dim, tensors[0].ndim)
    return apply(Op.CAT, *tensors, axis=axis)


concat = concatenate = cat


@autocast_op("stack")
def stack(tensors: Any, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise RuntimeError(
            f"stack expects each tensor to be equal size, but got "
            f"{list(tensors[0].shape)} at entry 0 and "
            f"{next(list(t.shape) for t in tensors if t.shape != tensors[0].shape)}"
            " at entry 1"
        )
    d = norm_axis(dim, tensors[0].ndim + 1)
    return composite("StackBackward0", lambda *ts: cat([unsqueeze(t, d) for t in ts], d), *tensors)


def split(
    x: Tensor, split_size_or_sections: Any, dim: int = 0, *, _backward: str = ""
) -> tuple[Tensor, ...]:
    _at_least_1d(x, "split expects at least a 1-dimensional tensor")
    d = norm_axis(dim, x.ndim)
    n = x.shape[d]
    if is_size(split_size_or_sections):
        sizes = _split_sizes(split_size_or_sections, n)
    else:
        sizes = list(split_size_or_sections)
        if any(s < 0 for s in sizes):
            raise RuntimeError(
                "split_with_sizes expects split_sizes have only non-negative entries, but got "
                f"split_sizes={sizes}"
            )
        if sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                f"at dimension {dim}), but got split_sizes={sizes}"
            )
    name = _backward or (
        "SplitBackward0" if is_size(split_size_or_sections) else "SplitWithSizesBackward0"
    )
    starts = [0, *accumulate(sizes)][:-1]
    pieces = tuple(
        composite(name, lambda a, b=b, s=s: narrow(a, d, b, s), x)
        for b, s in zip(starts, sizes, strict=True)
    )
    return _multi_views(pieces) if name in MULTI_VIEW_NAMES else pieces


MULTI_VIEW_NAMES = ("SplitBackward0", "SplitWithSizesBackward0", "UnbindBackward0")


def _multi_views(pieces: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """Mark the views a function returns several of (split, unbind): PyTorch refuses recorded
    in-place ops on them (runtime/inplace.py)."""
    for i, p in enumerate(pieces):
        if p._view_base is not None:
            p._multi_view = i  # type: ignore[attr-defined]
    return pieces


def _split_sizes(size: int, n: int) -> list[int]:
    """The pieces of a dim of ``n`` split every ``size`` (PyTorch's checks)."""
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0:
        if n:
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
            )
        return [0]
    return [size] * (n // size) + ([n % size] if n % size else [])


def chunk(x: Tensor, chunks: int, dim: int = 0, *, _backward: str = "") -> tuple[Tensor, ...]:
    _at_least_1d(x, "chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = x.shape[norm_axis(dim, x.ndim)]
    if n == 0:  # PyTorch gives `chunks` empty pieces
        return split(x, [0] * chunks, dim, _backward=_backward)
    return split(x, -(-n // chunks), dim, _backward=_backward)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    d = norm_axis(dim, x.ndim)
    return _multi_views(
        tuple(
            composite("UnbindBackward0", lambda a, i=i: getitem(a, (slice(None),) * d + (i,)), x)
            for i in range(x.shape[d])
        )
    )


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    axis = norm_axis(dim, x.ndim)
    larger = [d for d in range(index.ndim) if d != axis and index.ndim == x.ndim]
    larger = [d for d in larger if index.shape[d] > x.shape[d]]
    if larger:
        raise RuntimeError(
            f"Size does not match at dimension {larger[0]} expected index "
            f"{list(index.shape)} to be no larger than self {list(x.shape)} apart from "
            f"dimension {axis}"
        )
    index = _checked_range(index, x.shape[axis] if x.ndim else 1, axis)
    return apply(Op.GATHER, x, index, axis=axis)


def _checked_range(index: Tensor, size: int, axis: int) -> Tensor:
    """``index`` once every element is in [0, size) (gather and scatter never wrap)."""
    if index.dtype.is_floating_point or index.dtype is bool_:
        return index  # the op's shape rule refuses it
    message = f"index {{}} is out of bounds for dimension {axis} with size {size}"
    return check(index, in_range(index, 0, size), RuntimeError, message, detail=index)


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    axis = norm_axis(dim, x.ndim)
    if isinstance(src, Tensor) and src.dtype is not x.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if index.ndim != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if src.ndim != index.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    larger = [d for d in range(index.ndim) if index.shape[d] > src.shape[d]]
    larger += [d for d in range(index.ndim) if d != axis and index.shape[d] > x.shape[d]]
    if larger:
        raise RuntimeError(
            f"Expected index {list(index.shape)} to be no larger than self {list(x.shape)} "
            f"apart from dimension {axis} and to be no larger size than src {list(src.shape)}"
        )
    index = _checked_range(index, x.shape[axis] if x.ndim else 1, axis)
    return composite(
        "ScatterAddBackward0",
        lambda a, s: a + apply(Op.SCATTER_ADD, s, index, axis=axis, shape=tuple(x.shape)),
        x,
        src,
    )


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    reps = _dims(sizes)
    if len(reps) < x.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            "of tensor"
        )
    out = [r * n for r, n in zip(reps, (1,) * (len(reps) - x.ndim) + tuple(x.shape), strict=True)]
    if any(n < 0 for n in out):
        bad = next(n for n in out if n < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {out}")
    lead = (1,) * (len(reps) - x.ndim) + tuple(x.shape)

    def decomposition(a: Tensor) -> Tensor:
        a = reshape(a, tuple(v for n in lead for v in (1, n)))
        a = expand(a, tuple(v for r, n in zip(reps, lead, strict=True) for v in (r, n)))
        return reshape(a, tuple(r * n for r, n in zip(reps, lead, strict=True)))

    return not_a_view(composite("RepeatBackward0", decomposition, x), x)


def flip(x: Tensor, dims: Any) -> Tensor:
    axes = _axes(dims, x.ndim) or ()

    def decomposition(a: Tensor) -> Tensor:
        for axis in axes:
            n = a.shape[axis]
            if isinstance(n, SymbolicSize):  # (n - 1) - iota(n): Note [symbolic shapes]
                from .creation import arange

                rev = (n - 1) - arange(n)
            else:
                rev = Tensor._make(np.arange(n - 1, -1, -1))
            a = getitem(a, (slice(None),) * axis + (rev,))
        return a if axes else clone(a)  # always a new tensor, as in PyTorch

    return composite("FlipBackward0", decomposition, x)


def nonzero(x: Tensor, *, as_tuple: bool = False) -> Any:
    shape_from_values("nonzero()", "one row per nonzero element", x)
    if x.ndim == 0:  # one element and no dims to index: as_tuple indexes it as 1-D
        found = np.flatnonzero(x._data)
        return (
            (Tensor._make(found),)
            if as_tuple
            else Tensor._make(np.zeros((found.size, 0), np.int64))
        )
    nz = np.nonzero(x._data)
    if as_tuple:
        return tuple(Tensor._make(a.astype(np.int64)) for a in nz)
    return Tensor._make(np.stack(nz, axis=1).astype(np.int64) if nz else np.zeros((0, 0), np.int64))


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    d = norm_axis(dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if index.dtype.is_floating_point or index.dtype is bool_:
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    # PyTorch's CPU kernel words the error by path: dim 1 of a 2+-D tensor is its own loop
    error, message = (
        (RuntimeError, f"INDICES element is out of DATA bounds, id={{}} axis_dim={n}")
        if x.ndim > 1 and d == 1
        else (IndexError, "index out of range in self")
    )
    index = check(index, in_range(index, 0, n), error, message, detail=index)
    if index.ndim == 0:  # selects one entry, keeping the dim
        index = reshape(index, (1,))
    if x.ndim == 0:
        if index.numel() != 1:
            raise RuntimeError(
                "index_select(): Index to scalar can have only 1 value, got "
                f"{index.numel()} value(s)"
            )
        return composite("IndexSelectBackward0", lambda a: reshape(reshape(a, (1,))[index], ()), x)
    return composite("IndexSelectBackward0", lambda a: getitem(a, (slice(None),) * d + (index,)), x)
