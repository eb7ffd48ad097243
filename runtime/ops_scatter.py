"""Writes at indices as decompositions: scatter (src or value), scatter_reduce, index_copy."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.ops import Op
from ..ir.shapes import index_shape, infer_size, norm_axis
from .autocast import autocast_op
from .checks import check, in_range
from .dispatch import apply, as_tensor_operand, composite
from .indexing import normalize_index
from .masked_index import masked_write, traced_mask
from .ops_elementwise import add, clamp, div, gt, le, sub, where
from .ops_index import _along, _name
from .ops_integer import floor_divide
from .ops_movement import expand, getitem, reshape
from .ops_reduce import cumsum
from .ops_scatter_reduce import COMBINE, scatter_reduce_segments
from .tensor import Tensor

# Note [scatter with repeated indices]
# scatter and index_copy write where the index points; two writes to one place leave PyTorch's
# result unspecified (whichever its kernel does last). adjit's decomposition adds the writes
# (SCATTER_ADD / INDEX_ADD) and keeps the written places as a mask, which is exact only when
# each place is written once; so with a source tensor a repeated index is refused (eagerly now,
# compiled when the program runs) rather than giving a sum. Filling a value (scatter(..., value),
# one-hot codes) writes the same number everywhere and has no such problem.
REPEATED = (
    "{op}: an index repeats{where}, so which write wins is unspecified in PyTorch; "
    "adjit refuses it (use scatter_add, index_add or scatter_reduce to combine them)"
)


def check_fits(input: Tensor, d: int, index: Tensor, src: Tensor) -> None:
    """PyTorch's scatter shape check: the index no larger than ``src`` anywhere, nor than
    ``input`` away from ``d``."""
    if index.ndim != src.ndim or index.ndim != input.ndim:
        return  # (the callers' dimension-count errors come first)
    bigger = any(
        k > s or (i != d and k > n)
        for i, (k, n, s) in enumerate(zip(index.shape, input.shape, src.shape, strict=True))
    )
    if bigger:
        raise RuntimeError(
            f"Expected index {list(index.shape)} to be no larger than self {list(input.shape)} "
            f"apart from dimension {d} and to be no larger size than src {list(src.shape)}"
        )


def scatter(
    input: Tensor,  # noqa: A002 - PyTorch's name
    dim: int,
    index: Tensor,
    src: Any = None,
    *,
    value: Any = None,
    reduce: str | None = None,
) -> Tensor:
    if reduce is not None:
        raise NotImplementedError(
            "adjit: scatter(reduce=...) is not supported; use scatter_add or scatter_reduce"
        )
    if src is None:
        src = value
    d = norm_axis(dim, input.ndim)
    if index.dtype.name not in ("int64", "int32"):
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    if index.ndim != input.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    tensor_src = isinstance(src, Tensor) and src.ndim > 0
    if tensor_src:
        if index.ndim != src.ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
        if src.dtype is not input.dtype:
            raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    elif isinstance(src, Tensor):
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    check_fits(input, d, index, src if tensor_src else index)
    n = input.shape[d]
    message = f"index {{}} is out of bounds for dimension {d} with size {n}"
    index = check(index, in_range(index, 0, n), RuntimeError, message, detail=index)
    shape = tuple(input.shape)
    ones = Tensor._make(np.ones(index.shape, np.int64))
    counts = apply(Op.SCATTER_ADD, ones, index, axis=d, shape=shape)
    if not tensor_src:
        if isinstance(src, complex) and input.dtype.category != 3:
            from .ops_elementwise import scalar_as

            src = scalar_as(src, input.dtype)  # PyTorch's check: a zero imaginary part only
        fill = Tensor._make(np.asarray(as_tensor_operand(src)._data, input.dtype.np))
        return composite("ScatterBackward1", lambda a: where(gt(counts, 0), fill, a), input)
    counts = check(
        counts, le(counts, 1), RuntimeError, REPEATED.format(op="scatter", where=f" along dim {d}")
    )
    part = tuple(slice(0, k) for k in index.shape)

    def decomposition(a: Tensor, s: Tensor) -> Tensor:
        s = s if tuple(s.shape) == tuple(index.shape) else getitem(s, part)
        written = apply(Op.SCATTER_ADD, s, index, axis=d, shape=shape)
        return where(gt(counts, 0), written, a)

    return composite("ScatterBackward0", decomposition, input, src)


@autocast_op("index_copy")
def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    d = norm_axis(dim, input.ndim)
    if index.dtype.name != "int64":
        raise RuntimeError(
            f"index_copy_(): Expected a long tensor for index, but got {_name(index)}"
        )
    if index.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {index.ndim})")
    if source.dtype is not input.dtype:
        raise RuntimeError(
            "index_copy_(): self and source expected to have the same dtype, but got (self) "
            f"{_name(input)} and (source) {_name(source)}"
        )
    if source.ndim and input.ndim and source.ndim != input.ndim:
        raise IndexError(
            "index_copy_(): When source and destination are not scalars, their dimensionality "
            f"must match. Source dimensionality ({source.ndim}), destination dimensionality "
            f"({input.ndim})"
        )
    dest = [n for i, n in enumerate(input.shape) if i != d]
    part = [n for i, n in enumerate(source.shape) if i != d]
    if source.ndim and dest != part:
        raise RuntimeError(  # (PyTorch names dimension 0 for the source whatever dim is)
            "index_copy_(): Source/destination tensor must have same slice shapes. Destination "
            f"slice shape: {' '.join(map(str, dest))} at dimension {d} and source slice shape: "
            f"{' '.join(map(str, part))} at dimension 0."
        )
    index = reshape(index, (1,)) if index.ndim == 0 else index
    k = source.shape[d] if source.ndim else 1
    if index.shape[0] != k:
        raise IndexError(
            f"index_copy_(): Number of indices ({index.shape[0]}) should be equal to "
            f"source.size(dim) ({k})"
        )
    n = input.shape[d] if input.ndim else 1
    message = f"index_copy_(): index {{}} is out of bounds for dimension {d} with size {n}"
    index = check(index, in_range(index, 0, n), IndexError, message, detail=index)
    ones = Tensor._make(np.ones(index.shape[0], np.int64))
    counts = apply(Op.INDEX_ADD, ones, index, spec=(("tensor", 0),), shape=(n,))
    repeated = REPEATED.format(op="index_copy", where=f" along dim {d}")
    counts = check(counts, le(counts, 1), RuntimeError, repeated)
    mask = reshape(gt(counts, 0), tuple(n if i == d else 1 for i in range(input.ndim)))
    shape = tuple(input.shape)
    spec = _along(input.ndim, d, shape)

    def decomposition(a: Tensor, s: Tensor) -> Tensor:
        return where(mask, apply(Op.INDEX_ADD, s, index, spec=spec, shape=shape), a)

    return composite("IndexCopyBackward0", decomposition, input, source)


def scatter_reduce(
    input: Tensor,  # noqa: A002
    dim: int,
    index: Tensor,
    src: Tensor,
    reduce: str,
    *,
    include_self: bool = True,
) -> Tensor:
    """sum and mean over SCATTER_ADD; prod, amax and amin as a segmented scan (Note
    [segmented scatter_reduce] in ops_scatter_reduce.py)."""
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)  # (PyTorch's old names)
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(
            f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}"
        )
    d = norm_axis(dim, input.ndim)
    if index.dtype.name not in ("int64", "int32"):
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    if src.dtype is not input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if index.ndim != input.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if index.ndim != src.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    check_fits(input, d, index, src)
    n = input.shape[d]
    message = f"index {{}} is out of bounds for dimension {d} with size {n}"
    index = check(index, in_range(index, 0, n), RuntimeError, message, detail=index)
    shape = tuple(input.shape)
    part = tuple(slice(0, k) for k in index.shape)
    if reduce in COMBINE:
        s = src if tuple(src.shape) == tuple(index.shape) else getitem(src, part)
        return scatter_reduce_segments(input, d, index, s, reduce, include_self)
    ones = Tensor._make(np.ones(index.shape, input.dtype.np))
    counts = apply(Op.SCATTER_ADD, ones, index, axis=d, shape=shape)
    hit = gt(counts, 0)

    def decomposition(a: Tensor, s: Tensor) -> Tensor:
        s = s if tuple(s.shape) == tuple(index.shape) else getitem(s, part)
        added = apply(Op.SCATTER_ADD, s, index, axis=d, shape=shape)
        total = add(a, added) if include_self else where(hit, added, a)
        if reduce == "sum":
            return total
        count = add(counts, 1) if include_self else where(hit, counts, 1)
        divide = div if input.dtype.is_floating_point else floor_divide
        return divide(total, count)

    return composite("ScatterReduceBackward0", decomposition, input, src)


def index_put(
    input: Tensor,  # noqa: A002
    indices: Any,
    values: Tensor,
    accumulate: bool = False,
) -> Tensor:
    """``input`` with ``input[indices] = values`` (or ``+=`` if ``accumulate``), out of place."""
    mask = traced_mask(tuple(indices))
    if mask is not None:  # (Note [writes through a traced mask])
        if values.dtype is not input.dtype:
            raise RuntimeError(
                "Index put requires the source and destination dtypes match, got "
                f"{_name(input)} for the destination and {_name(values)} for the source."
            )
        return masked_write(input, mask, values, accumulate)
    shape = tuple(input.shape)
    spec, tensors = normalize_index(shape, tuple(indices))
    idx = [a if isinstance(a, Tensor) else Tensor._make(a) for a in tensors]
    target = index_shape(shape, spec, [tuple(a.shape) for a in tensors])
    try:
        fits = np.broadcast_shapes(tuple(values.shape), target) == target
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(values.shape)} cannot be broadcast "
            f"to indexing result of shape {list(target)}"
        )
    if values.dtype is not input.dtype:
        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{_name(input)} for the destination and {_name(values)} for the source."
        )
    counts = None
    if not accumulate:
        ones = Tensor._make(np.ones(target, np.int64))
        counts = apply(Op.INDEX_ADD, ones, *idx, spec=spec, shape=shape)
        repeated = REPEATED.format(op="index_put", where="")
        counts = check(counts, le(counts, 1), RuntimeError, repeated)

    def decomposition(a: Tensor, v: Tensor) -> Tensor:
        v = v if tuple(v.shape) == target else expand(v, target)
        written = apply(Op.INDEX_ADD, v, *idx, spec=spec, shape=shape)
        return add(a, written) if counts is None else where(gt(counts, 0), written, a)

    return composite("IndexPutBackward0", decomposition, input, values)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """Where ``mask`` holds, the next element of ``source`` (in C order): entry k of the result
    takes source element cumsum(mask)[k] - 1, so shapes stay static and it compiles."""
    if mask.dtype.name != "bool":
        raise RuntimeError(
            f"masked_scatter_ only supports boolean masks, but got mask with dtype {_name(mask)}"
        )
    if source.dtype is not input.dtype:
        raise RuntimeError(
            "masked_scatter: expected self and source to have same dtypes but got"
            f"{_name(input)} and {_name(source)}"
        )
    shape = infer_size(tuple(mask.shape), tuple(input.shape), RuntimeError)  # (torch's a, b)
    m = mask if tuple(mask.shape) == shape else expand(mask, shape)
    size = int(np.prod(shape))
    taken = cumsum(reshape(m, (size,)), 0)  # bool sums as int64
    room = source.numel()
    if size:
        total = getitem(taken, -1)
        message = "Number of elements of source < number of ones in mask"
        taken = check(taken, le(total, room), RuntimeError, message)
    position = reshape(clamp(sub(taken, 1), 0, max(room - 1, 0)), shape)

    def decomposition(a: Tensor, s: Tensor) -> Tensor:
        a = a if tuple(a.shape) == shape else expand(a, shape)
        if room == 0:
            return where(m, a, a)
        return where(m, getitem(reshape(s, (room,)), position), a)

    return composite("MaskedScatterBackward0", decomposition, input, source)
