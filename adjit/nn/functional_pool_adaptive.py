"""Adaptive average and max pooling (1-, 2- and 3-D) as composites of primitives."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adjit.nn import pool_windows as W
from adjit.nn.pool_args import unbatched_shape
from adjit.runtime import functional as R
from adjit.runtime.autocast import autocast_op
from adjit.runtime.device import contiguous
from adjit.runtime.dispatch import composite
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.kernel_dtypes import not_implemented
from adjit.runtime.opmath import in_float32
from adjit.runtime.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_with_indices",
]

# Note [adaptive windows]: output i of a dim of size n pooled to o reads input
# [floor(i n / o), ceil((i + 1) n / o)), so windows differ in size and may overlap. Each window,
# padded to the largest one, is gathered through an index table into the flattened plane (Note
# [N-d pooling windows] in pool_windows.py); the padding is masked out (zeros for the mean, which
# divides the window's sum by its size as PyTorch does; never the maximum). The backward
# scatters to each element read, so overlapping windows add up. (A product with an averaging
# matrix per dim would be separable, but 0 * inf is NaN: one infinite element would spread.)


def _bounds(n: int, o: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(o)
    return (i * n) // o, -(-((i + 1) * n) // o)


def _sizes(op: str, x: Tensor, output_size: Any, nd: int) -> tuple[int, ...]:
    sequence = nd > 1 and output_size is not None and not isinstance(output_size, int)
    if sequence and x.ndim <= len(output_size):  # PyTorch's _list_with_default
        raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")
    if isinstance(output_size, int):
        size: tuple[Any, ...] = (output_size,) * nd
    elif output_size is None and nd > 1:
        raise TypeError("object of type 'NoneType' has no len()")
    elif output_size is None:
        raise TypeError(
            f"{op}(): argument 'output_size' (position 2) must be tuple of ints, not NoneType"
        )
    else:
        size = tuple(output_size)
    if len(size) != nd:
        if nd == 1:
            raise RuntimeError(
                f"{op}() argument 'output_size' should contain one int (got {len(size)})"
            )
        if op.startswith("adaptive_max"):
            raise RuntimeError(f"{op}(): internal error: output_size.size() must be {nd}")
        raise RuntimeError(f"{op}: output_size must be {nd}")
    return tuple(x.shape[x.ndim - nd + i] if v is None else int(v) for i, v in enumerate(size))


def _check_input(op: str, x: Tensor, nd: int, kernel: str) -> None:
    if x.ndim not in (nd + 1, nd + 2):
        colon = ":" if op.startswith("adaptive_max") else ""
        raise RuntimeError(
            f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got{colon} {list(x.shape)}"
        )
    for i in range(1, x.ndim):
        if x.shape[i] == 0:
            raise RuntimeError(
                f"{op}(): Expected input to have non-zero size for non-batch dimensions, but "
                f"input has sizes {list(x.shape)} with dimension {i} being empty"
            )
    if not x.dtype.is_floating_point:
        raise not_implemented(kernel, x.dtype)


def _check_out(op: str, x: Tensor, out: tuple[int, ...]) -> None:
    if min(out) < 0:
        if op.startswith("adaptive_avg"):  # (PyTorch's spacing)
            got = f"{out[0]}, {out[1]}" + (f",{out[2]}" if len(out) == 3 else "")
            raise RuntimeError(
                f"{op}: elements of output_size must be greater than or equal to 0 but "
                f"received {{{got}}}"
            )
        shape = [*x.shape[: x.ndim - len(out)], *out]
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(out)}: {shape}")


def _adaptive_tables(size: tuple[int, ...], out: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(K, L) flat input indices of the windows padded to the largest, and which are real."""
    coords, masks = [], []
    for n, o in zip(size, out, strict=True):
        lo, hi = _bounds(n, o)
        k = int((hi - lo).max()) if o else 1
        at = lo[None, :] + np.arange(k)[:, None]
        real = at < hi[None, :]
        coords.append(np.where(real, at, lo[None, :]))
        masks.append(real)
    return W.flat_index(size, coords), W.combine(masks, "and")


def _read_windows(
    a: Tensor, size: tuple[int, ...], out: tuple[int, ...], table: np.ndarray
) -> Tensor:
    """(1, planes, K, L): the windows of ``a`` (..., *size) in ``table``'s layout. Sizes that
    divide evenly make fixed, disjoint windows: one UNFOLD (FOLD backward), far cheaper than
    the gather (and its scatter-add backward) the general case takes."""
    planes, nd = math.prod(a.shape[: a.ndim - len(size)]), len(size)
    if planes and min(out) > 0 and all(n % o == 0 for n, o in zip(size, out, strict=True)):
        k = tuple(n // o for n, o in zip(size, out, strict=True))
        return W.windows(R.reshape(a, (1, planes, *size)), k, k, ((0, 0),) * nd, (1,) * nd)
    flat = R.reshape(a, (1, planes, math.prod(size)))
    picks = Tensor._make(table.reshape(-1).astype(np.int64))
    return R.reshape(R.index_select(flat, 2, picks), (1, planes, *table.shape))


def _adaptive_avg(op: str, nd: int, input: Tensor, output_size: Any) -> Tensor:
    out = _sizes(op, input, output_size, nd)
    _check_out(op, input, out)
    if all(o == 1 for o in out):  # PyTorch's shortcut, before its input checks
        return R.mean(input, tuple(range(-nd, 0)), keepdim=True)
    _check_input(op, input, nd, "adaptive_avg_pool3d_cpu" if nd == 3 else "adaptive_avg_pool2d")
    size = tuple(input.shape[-nd:])
    lead = tuple(input.shape[:-nd])
    table, real = _adaptive_tables(size, out)
    keep = Tensor._make(real[None, None])
    # PyTorch divides the 3-d sum by each window side in turn, the 2-d one by its area
    sides = [(hi - lo)[None] for lo, hi in (_bounds(n, o) for n, o in zip(size, out, strict=True))]
    ones = [np.ones_like(d) for d in sides]
    if nd == 3:
        divisors = [
            W.combine([*ones[:j], d, *ones[j + 1 :]], "mul")[0] for j, d in enumerate(sides)
        ]
    else:
        divisors = [real.sum(0)]

    def decomposition(a: Tensor) -> Tensor:
        cols = _read_windows(a, size, out, table)
        if not real.all():
            cols = R.where(keep, cols, 0.0)
        if a.dtype.is_reduced_float:  # PyTorch's 3-d kernel adds in the input's dtype
            total = R.select(cols, 2, 0)
            for k in range(1, table.shape[0]):
                total = total + R.select(cols, 2, k)
        else:
            total = R.sum(cols, 2)
        for d in divisors:
            total = total / Tensor._make(d.astype(a.dtype.np))
        # PyTorch's result is contiguous (Note [PyTorch's layouts] in functional_convnd.py)
        return contiguous(R.reshape(total, (*lead, *out)))

    # (the 2-d kernel sums float16/bfloat16 in float32, the 3-d one in the input's dtype)
    name = f"AdaptiveAvgPool{nd}DBackward0"
    return composite(name, in_float32(decomposition) if nd == 2 else decomposition, input)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Adaptive mean over the last dim: 2-d adaptive pooling of (N, C, 1, L), as PyTorch."""
    unbatched_shape(input, 1, "adaptive_avg_pool1d")
    (o,) = _sizes("adaptive_avg_pool1d", input, output_size, 1)
    return R.squeeze(adaptive_avg_pool2d(R.unsqueeze(input, -2), (1, o)), -2)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Adaptive mean pooling for any sizes (Note [adaptive windows]; a mean for (1, 1))."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


@autocast_op("adaptive_avg_pool3d")
def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Adaptive mean pooling over (D, H, W) (Note [adaptive windows])."""
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max(op: str, nd: int, input: Tensor, output_size: Any) -> tuple[Tensor, Tensor]:
    out = _sizes(op, input, output_size, nd)
    _check_input(op, input, nd, "adaptive_max_pool3d_cpu" if nd == 3 else "adaptive_max_pool2d")
    _check_out(op, input, out)
    size = tuple(input.shape[-nd:])
    lead = tuple(input.shape[:-nd])
    table, real = _adaptive_tables(size, out)
    mask = None if real.all() else real
    firsts: list[Tensor] = []

    def decomposition(a: Tensor) -> Tensor:
        y, first = W.first_max(_read_windows(a, size, out, table), mask)
        firsts.append(first)
        return contiguous(R.reshape(y, (*lead, *out)))  # (as _adaptive_avg)

    y = composite(f"AdaptiveMaxPool{nd}DBackward0", decomposition, input)
    with no_grad():
        idx = contiguous(R.reshape(W.picked_index(table, firsts[0].detach()), (*lead, *out)))
    return y, idx


def adaptive_max_pool1d_with_indices(
    input: Tensor, output_size: Any, return_indices: bool = False
) -> tuple[Tensor, Tensor]:
    unbatched_shape(input, 1, "adaptive_max_pool1d")
    (o,) = _sizes("adaptive_max_pool1d", input, output_size, 1)
    y, idx = _adaptive_max("adaptive_max_pool2d", 2, R.unsqueeze(input, -2), (1, o))
    return R.squeeze(y, -2), R.squeeze(idx, -2)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive maximum over the last dim (2-d adaptive pooling of (N, C, 1, L))."""
    y, idx = adaptive_max_pool1d_with_indices(input, output_size)
    return (y, idx) if return_indices else y


def adaptive_max_pool2d_with_indices(
    input: Tensor, output_size: Any, return_indices: bool = False
) -> tuple[Tensor, Tensor]:
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Adaptive maximum (Note [adaptive windows]); indices are flat per plane."""
    y, idx = _adaptive_max("adaptive_max_pool2d", 2, input, output_size)
    return (y, idx) if return_indices else y


def adaptive_max_pool3d_with_indices(
    input: Tensor, output_size: Any, return_indices: bool = False
) -> tuple[Tensor, Tensor]:
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size)


@autocast_op("adaptive_max_pool3d")
def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """3-D adaptive maximum (Note [adaptive windows]); indices are flat per (D, H, W) volume."""
    y, idx = _adaptive_max("adaptive_max_pool3d", 3, input, output_size)
    return (y, idx) if return_indices else y
