"""Index ops as decompositions: index_add, index_fill, masked_select, argwhere, Tensor.unfold."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.ops import Op
from ..ir.shapes import infer_size, norm_axis
from .checks import check, in_range, shape_from_values
from .creation import check_fill
from .dispatch import apply, as_tensor_operand, composite
from .ops_diagonal import _viewed
from .ops_elementwise import add, gt, lt, mul, where
from .ops_movement import expand, getitem, nonzero, reshape
from .ops_shape import movedim
from .tensor import Tensor


def _name(t: Tensor) -> str:
    return t.dtype.type_name


def _vector(op: str, index: Tensor) -> Tensor:
    """PyTorch's checks on the index of index_add/index_fill; a 0-dim index is one entry."""
    if index.dtype.name not in ("int64", "int32"):
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index but got: {_name(index)}")
    if index.ndim > 1:
        raise IndexError(
            f"{op}(): Index is supposed to be a vector, but got dim: {index.ndim} with type: "
            f"{_name(index)} and size: {list(index.shape)}"
        )
    return reshape(index, (1,)) if index.ndim == 0 else index


def _along(ndim: int, d: int, shape: tuple[int, ...]) -> tuple:
    """The INDEX spec selecting index tensor 0 along dim ``d`` (every other dim whole)."""
    return tuple(("tensor", 0) if i == d else ("slice", 0, shape[i], 1) for i in range(ndim))


def index_add(
    input: Tensor,  # noqa: A002 - PyTorch's name
    dim: int,
    index: Tensor,
    source: Tensor,
    *,
    alpha: Any = 1,
) -> Tensor:
    d = norm_axis(dim, input.ndim)
    index = _vector("index_add_", index)
    if source.dtype is not input.dtype:
        raise RuntimeError(
            f"index_add_(): self ({_name(input)}) and source ({_name(source)}) must have the "
            "same scalar type"
        )
    if source.ndim == input.ndim and any(
        a != b for i, (a, b) in enumerate(zip(input.shape, source.shape, strict=True)) if i != d
    ):
        raise RuntimeError(
            "source tensor shape must match self tensor shape, excluding the specified "
            f"dimension. Got self.shape = {list(input.shape)} source.shape = {list(source.shape)}"
        )
    k = source.shape[d] if source.ndim else 1
    if index.shape[0] != k:
        raise RuntimeError(
            f"index_add_(): Number of indices ({index.shape[0]}) should be equal to "
            f"source.size(dim): ({k}), for dim: {d}"
        )
    n = input.shape[d] if input.ndim else 1
    message = f"index {{}} is out of bounds for dimension {d} with size {n}"
    index = check(index, in_range(index, 0, n), RuntimeError, message, detail=index)
    shape = tuple(input.shape)
    spec = _along(input.ndim, d, shape)

    def decomposition(a: Tensor, s: Tensor) -> Tensor:
        s = s if alpha == 1 else mul(s, alpha)
        s = reshape(s, (1,)) if s.ndim == 0 else s
        added = apply(Op.INDEX_ADD, s, index, spec=spec or (("tensor", 0),), shape=shape or (1,))
        return add(a, added if shape else reshape(added, ()))

    return composite("IndexAddBackward0", decomposition, input, source)


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:  # noqa: A002
    d = norm_axis(dim, input.ndim)
    index = _vector("index_fill_", index)
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(
            "index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value.ndim} dimension(s)."
        )
    n = input.shape[d] if input.ndim else 1
    message = f"index {{}} is out of bounds for dimension {d} with size {n}"
    index = check(index, in_range(index, -n, n), IndexError, message, detail=index)
    index = where(lt(index, 0), add(index, n), index)
    ones = Tensor._make(np.ones(index.shape[0], np.int64))
    hits = apply(Op.INDEX_ADD, ones, index, spec=(("tensor", 0),), shape=(n,))
    mask = reshape(gt(hits, 0), tuple(n if i == d else 1 for i in range(input.ndim)))
    if isinstance(value, Tensor):
        return composite(
            "IndexFillBackward1", lambda a, v: where(mask, v.to(a.dtype), a), input, value
        )
    check_fill(value, input.dtype)  # (PyTorch's overflow check; float16 rounds via float32)
    fill = Tensor._make(D.to_storage(np.asarray(as_tensor_operand(value)._data), input.dtype))
    return composite("IndexFillBackward0", lambda a: where(mask, fill, a), input)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    if mask.dtype.name != "bool":
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = infer_size(tuple(mask.shape), tuple(input.shape), RuntimeError)
    shape_from_values("masked_select()", "one element per true mask element", mask)

    def decomposition(a: Tensor) -> Tensor:
        a = a if tuple(a.shape) == shape else expand(a, shape)
        return getitem(a, mask if tuple(mask.shape) == shape else expand(mask, shape))

    return composite("MaskedSelectBackward0", decomposition, input)


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    shape_from_values("argwhere()", "one row per nonzero element", input)
    return nonzero(input)


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:  # noqa: A002
    """``Tensor.unfold``: every window of ``size`` along ``dimension``, ``step`` apart, as a new
    last dim (a gather of a constant index; PyTorch's is a strided view)."""
    d = norm_axis(dimension, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    count = (n - size) // step + 1
    windows = Tensor._make(np.arange(count)[:, None] * step + np.arange(size)[None, :])

    def decomposition(a: Tensor) -> Tensor:
        if a.ndim == 0:
            return reshape(a, (1,))
        picked = getitem(a, (slice(None),) * d + (windows,))
        return movedim(picked, d + 1, -1)

    return _viewed(composite("UnfoldBackward0", decomposition, input), input)
