"""Index-driven selection as decompositions: take, take_along_dim, repeat_interleave."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.shapes import infer_size, norm_axis
from .checks import check, in_range, traced, value_dependent
from .dispatch import composite, not_a_view
from .ops_elementwise import add, eq, ge, le, lt, where
from .ops_movement import expand, flatten, gather, getitem, reshape, unsqueeze
from .ops_reduce import cumsum
from .ops_reduce import sum as _sum
from .tensor import Tensor


def _type_name(t: Tensor) -> str:
    return t.dtype.type_name


def take(input: Tensor, index: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    if index.dtype.name != "int64":
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {_type_name(index)}")
    n = input.numel()
    if n == 0 and index.numel():
        raise IndexError("take(): tried to take from an empty tensor")
    message = f"out of range: tried to access index {{}} on a tensor of {n} elements."
    index = check(index, in_range(index, -n, n), IndexError, message, detail=index)
    return composite("TakeBackward0", lambda a: getitem(flatten(a), index), input)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    if indices.dtype.name != "int64":
        raise RuntimeError(
            "torch.take_along_dim(): dtype of indices should be Long but got " + _type_name(indices)
        )
    if dim is None:
        return gather(flatten(input), 0, flatten(indices))
    if input.ndim != indices.ndim:
        raise RuntimeError(
            "torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {input.ndim} dimensions for input, and {indices.ndim} "
            "dimensions for indices"
        )
    d = norm_axis(dim, input.ndim)
    sizes = list(input.shape)
    sizes[d] = indices.shape[d]
    idx_shape = infer_size(tuple(sizes), tuple(indices.shape), RuntimeError)
    sizes = list(indices.shape)
    sizes[d] = input.shape[d]
    in_shape = infer_size(tuple(sizes), tuple(input.shape), RuntimeError)
    if tuple(indices.shape) != idx_shape:
        indices = expand(indices, idx_shape)
    if tuple(input.shape) != in_shape:
        input = expand(input, in_shape)
    return gather(input, d, _wrapped(indices, input.shape[d], d))


def _wrapped(indices: Tensor, n: int, d: int) -> Tensor:
    """Indices in [-n, n) made non-negative, as PyTorch's take_along_dim reads them along a
    dim (beyond that range its CPU kernel reads index % n; adjit refuses with gather's error)."""
    message = f"index {{}} is out of bounds for dimension {d} with size {n}"
    indices = check(indices, in_range(indices, -n, n), RuntimeError, message, detail=indices)
    return where(lt(indices, 0), add(indices, n), indices)


def repeat_interleave(
    input: Any,  # noqa: A002
    repeats: Any = None,
    dim: int | None = None,
    *,
    output_size: int | None = None,
) -> Tensor:
    if repeats is None:  # torch.repeat_interleave(repeats): each index i repeats[i] times
        if input.ndim != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        from .creation import arange

        return repeat_interleave(arange(input.shape[0]), input, 0, output_size=output_size)
    x = flatten(input) if dim is None else input
    d = 0 if dim is None else norm_axis(dim, x.ndim)
    if x.ndim == 0 and not isinstance(repeats, Tensor):  # PyTorch unsqueezes at dim + 1
        raise IndexError(
            f"Dimension out of range (expected to be in range of [-1, 0], but got {d + 1})"
        )
    if x.ndim == 0:
        x = reshape(x, (1,))
    n = x.shape[d]
    if isinstance(repeats, Tensor) and repeats.ndim == 0:
        repeats = repeats if traced(repeats) else int(repeats._data)
    if isinstance(repeats, Tensor) and repeats.ndim == 1 and repeats.shape[0] == 1 and n != 1:
        repeats = expand(repeats, (n,))  # one count for every entry, still a tensor of counts
    if isinstance(repeats, Tensor):
        return _by_tensor(x, repeats, d, output_size)
    r = int(repeats)
    if r < 0:
        raise RuntimeError("Repeats must be non-negative")
    if output_size is not None and output_size != n * r:
        raise RuntimeError(
            f"repeat_interleave: Invalid output_size, expected {n * r} but got {output_size}"
        )
    shape = tuple(x.shape)
    spread = expand(unsqueeze(x, d + 1), (*shape[: d + 1], r, *shape[d + 1 :]))
    return not_a_view(reshape(spread, (*shape[:d], n * r, *shape[d + 1 :])), x)


def _by_tensor(x: Tensor, repeats: Tensor, d: int, output_size: int | None) -> Tensor:
    """Repeats from a tensor: eagerly the index is NumPy's repeat of an arange; traced, the
    result's length is data-dependent and must be given as ``output_size`` (Note
    [repeat_interleave traced])."""
    n = x.shape[d]
    if repeats.ndim != 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    if repeats.dtype.name not in ("int64", "int32"):
        raise NotImplementedError(
            f"\"repeat_interleave_cpu\" not implemented for '{_type_name(repeats)}'"
        )
    if repeats.shape[0] != n:
        raise RuntimeError(
            "repeats must have the same size as input along dim, but got repeats.size(0) = "
            f"{repeats.shape[0]} and input.size({d}) = {n}"
        )
    if output_size is None:  # the length is the repeats' sum: a graph break, or refused
        message = (
            "repeat_interleave with a traced tensor of repeats gives a result whose length "
            "depends on its values; pass output_size= (the sum of repeats) to compile it"
        )
        value_dependent(message, "repeat_interleave: a length from the repeats' sum", repeats)
    if not traced(repeats):
        counts = repeats._data
        if (counts < 0).any():
            raise RuntimeError("repeats can not be negative")
        if output_size is not None and output_size != int(counts.sum()):
            raise RuntimeError("allocated size does not match required size")
        index = Tensor._make(np.repeat(np.arange(n), counts))
    else:
        index = _traced_index(repeats, output_size)
    return composite("IndexSelectBackward0", lambda a: getitem(a, (slice(None),) * d + (index,)), x)


# Note [repeat_interleave traced]
# With output_size given, entry j of the result comes from input row i where i is the number
# of cumulative repeats <= j: an (output_size, n) comparison summed over n, all static shapes.
# Two run-time checks (Note [run-time checks]) keep it from being a silent wrong answer:
# repeats >= 0, and their sum == output_size, with PyTorch's messages.
def _traced_index(repeats: Tensor, output_size: int) -> Tensor:
    repeats = check(repeats, ge(repeats, 0), RuntimeError, "repeats can not be negative")
    ends = cumsum(repeats, 0)
    total = getitem(ends, -1)
    size = Tensor._make(np.asarray(output_size))
    ends = check(ends, eq(total, size), RuntimeError, "allocated size does not match required size")
    positions = Tensor._make(np.arange(output_size).reshape(output_size, 1))
    return _sum(le(unsqueeze(ends, 0), positions), 1)
