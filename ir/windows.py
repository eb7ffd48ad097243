"""Sliding windows over (N, C, H, W): geometry, shape and NumPy rules of UNFOLD and FOLD."""

from __future__ import annotations

import functools

import numpy as np

from .aval import Aval
from .errors import ShapeError

# Note [UNFOLD and FOLD]: UNFOLD is im2col, exactly ``torch.nn.functional.unfold`` on a 4-D
# input: (N, C, H, W) -> (N, C * kh * kw, L), rows ordered (channel, kernel row, kernel column),
# L = OH * OW window positions in row-major order, zero padding outside the input. FOLD is
# col2im, its adjoint: it sums every column back onto the window it came from (overlaps add up),
# exactly ``torch.nn.functional.fold``. Each one's derivative is the other. Unlike PyTorch's,
# the IR ops take padding per side, ((top, bottom), (left, right)), so asymmetric 'same' padding
# and ceil-mode pooling need no separate padding op.

Pair = tuple[int, int]
Padding = tuple[Pair, Pair]


def _c_div(a: int, b: int) -> int:
    """Integer division rounding toward zero, as PyTorch's C++ computes the block count."""
    return a // b if a >= 0 else -(-a // b)


def blocks(size: Pair, kernel_size: Pair, dilation: Pair, padding: Padding, stride: Pair) -> Pair:
    """The number of window positions (OH, OW) along each spatial dim."""
    oh, ow = (
        _c_div(n + lo + hi - d * (k - 1) - 1, s) + 1
        for n, k, d, (lo, hi), s in zip(size, kernel_size, dilation, padding, stride, strict=True)
    )
    return oh, ow


def torch_padding(padding: Padding) -> object:
    """How PyTorch's messages print padding: (ph, pw) when symmetric."""
    (t, b), (left, r) = padding
    return (t, left) if (t, left) == (b, r) else padding


def _geometry_text(kernel_size: Pair, dilation: Pair, padding: Padding) -> str:
    return (
        f"kernel_size={tuple(kernel_size)}, dilation={tuple(dilation)}, "
        f"padding={torch_padding(padding)}"
    )


def unfold_blocks(
    size: Pair, kernel_size: Pair, dilation: Pair, padding: Padding, stride: Pair
) -> Pair:
    """``blocks``, with PyTorch's error when a window does not fit."""
    oh, ow = blocks(size, kernel_size, dilation, padding, stride)
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"Given input with spatial size {tuple(size)}, "
            f"{_geometry_text(kernel_size, dilation, padding)}, calculated shape of the array of "
            f"sliding blocks as ({oh}, {ow}), but its components must be at least one."
        )
    return oh, ow


def unfold_shape(
    x: Aval, *, kernel_size: Pair, dilation: Pair, padding: Padding, stride: Pair
) -> Aval:
    if x.ndim != 4:
        raise ShapeError(f"unfold expects a 4-D (N, C, H, W) input, but got {list(x.shape)}")
    n, c, h, w = x.shape
    oh, ow = unfold_blocks((h, w), kernel_size, dilation, padding, stride)
    return Aval((n, c * kernel_size[0] * kernel_size[1], oh * ow), x.dtype)


def fold_shape(
    x: Aval,
    *,
    output_size: Pair,
    kernel_size: Pair,
    dilation: Pair,
    padding: Padding,
    stride: Pair,
) -> Aval:
    if x.ndim != 3:
        raise ShapeError(
            "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
            f"non-zero dimensions for input, but got: {list(x.shape)}"
        )
    k = kernel_size[0] * kernel_size[1]
    if x.shape[1] % k:
        raise ShapeError(
            "Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
            f"but got input.size(1)={x.shape[1]} and kernel_size={tuple(kernel_size)}."
        )
    oh, ow = blocks(output_size, kernel_size, dilation, padding, stride)
    geometry = (
        f"Given output_size={tuple(output_size)}, "
        f"{_geometry_text(kernel_size, dilation, padding)}, stride={tuple(stride)}, "
    )
    if oh < 1 or ow < 1:
        raise ShapeError(
            geometry + f"calculated shape of the array of sliding blocks as ({oh}, {ow}), "
            "which is too small (non-positive)."
        )
    if x.shape[2] != oh * ow:
        raise ShapeError(
            geometry + "expected size of input's dimension 2 to match the calculated number of "
            f"sliding blocks {oh} * {ow} = {oh * ow}, but got input.size(2)={x.shape[2]}."
        )
    return Aval((x.shape[0], x.shape[1] // k, *output_size), x.dtype)


def _zero_padded(x: np.ndarray, padding: Padding) -> np.ndarray:
    (t, b), (left, r) = padding
    if not (t or b or left or r):
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + t + b, w + left + r), x.dtype)
    out[:, :, t : t + h, left : left + w] = x
    return out


# Note [small maps as one GEMM]: NumPy's strided copies and adds loop in C over the innermost
# axis, which in deep layers is a map of a few pixels, so per-loop overhead dominates: folding
# (8, 4608, 4) columns onto 2x2 maps took 2.9 ms with k*k strided adds, 0.2 ms as a product with
# a 0/1 selection matrix (H W, kh kw L), which BLAS runs at full speed. Small maps take that path
# (limits on H W L, measured on resnet18's layers at batch 8), for finite floating data only:
# 0 * inf is NaN, and a NaN would spread along its row.
_DENSE_UNFOLD_LIMIT = 1024
_DENSE_FOLD_LIMIT = 4096


@functools.lru_cache(maxsize=64)
def _selection(
    size: Pair, kernel_size: Pair, dilation: Pair, padding: Padding, stride: Pair, dtype: str
) -> np.ndarray:
    """(H W, kh kw L): 1 where window element (k, l) reads input pixel p (never for padding)."""
    (h, w), (kh, kw) = size, kernel_size
    oh, ow = blocks(size, kernel_size, dilation, padding, stride)
    ki, kj, r, q = np.ix_(range(kh), range(kw), range(oh), range(ow))
    y, x = np.broadcast_arrays(
        r * stride[0] - padding[0][0] + ki * dilation[0],
        q * stride[1] - padding[1][0] + kj * dilation[1],
    )
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    m = np.zeros((h * w, y.size), dtype)
    m[(y * w + x)[inside], np.flatnonzero(inside)] = 1
    m.flags.writeable = False
    return m


def _dense(a: np.ndarray, work: int, limit: int) -> bool:
    return a.dtype.kind == "f" and work <= limit and bool(np.isfinite(a).all())


# Note [windows without padding copies]: each kernel offset (i, j) reads (UNFOLD) or adds to
# (FOLD) the input pixels its windows reach, one strided copy or ``+=`` per offset, clipped to
# the inside of the input: no padded copy of the input, no padded accumulator and its crop.
# With ``out`` (the compiled program's reused buffer, Note [buffer reuse] in
# runtime/executor.py) nothing is allocated, and the writes land in warm memory.


def inside_span(off: int, pad: int, size: int, stride: int, count: int) -> tuple[int, int]:
    """The window positions [first, stop) whose element at offset ``off`` lies in the input."""
    first = max(0, -(-(pad - off) // stride))
    stop = min(count, (size - 1 + pad - off) // stride + 1)
    return first, max(first, stop)


def _offsets(
    size: Pair, kernel_size: Pair, dilation: Pair, padding: Padding, stride: Pair
) -> list[tuple[int, int, slice, slice, slice, slice]]:
    """Per kernel offset (i, j): the window rows and columns inside the input, and the input
    rows and columns they read."""
    oh, ow = blocks(size, kernel_size, dilation, padding, stride)
    found = []
    for i in range(kernel_size[0]):
        r0, r1 = inside_span(i * dilation[0], padding[0][0], size[0], stride[0], oh)
        for j in range(kernel_size[1]):
            c0, c1 = inside_span(j * dilation[1], padding[1][0], size[1], stride[1], ow)
            if r0 == r1 or c0 == c1:
                continue
            y = r0 * stride[0] + i * dilation[0] - padding[0][0]
            x = c0 * stride[1] + j * dilation[1] - padding[1][0]
            rows = slice(y, y + (r1 - r0 - 1) * stride[0] + 1, stride[0])
            cols = slice(x, x + (c1 - c0 - 1) * stride[1] + 1, stride[1])
            found.append((i, j, slice(r0, r1), slice(c0, c1), rows, cols))
    return found


def _padded(padding: Padding) -> bool:
    return any(padding[0]) or any(padding[1])


def dense_unfold(
    x: np.ndarray, kernel_size: Pair, dilation: Pair, padding: Padding, stride: Pair
) -> bool:
    """Whether ``unfold`` runs as one GEMM (Note [small maps as one GEMM])."""
    h, w = x.shape[2:]
    oh, ow = blocks((h, w), kernel_size, dilation, padding, stride)
    return _dense(x, h * w * oh * ow, _DENSE_UNFOLD_LIMIT)


def unfold(
    x: np.ndarray, *, kernel_size: Pair, dilation: Pair, padding: Padding, stride: Pair
) -> np.ndarray:
    """im2col (Note [UNFOLD and FOLD]): ``unfold_into`` a fresh array."""
    return unfold_into(
        x, None, kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride
    )


def unfold_into(
    x: np.ndarray,
    out: np.ndarray | None,
    *,
    kernel_size: Pair,
    dilation: Pair,
    padding: Padding,
    stride: Pair,
) -> np.ndarray:
    """A copy per kernel offset (Note [windows without padding copies]; small maps: Note
    [small maps as one GEMM]), into ``out`` (C-contiguous) when given."""
    n, c, h, w = x.shape
    (kh, kw) = kernel_size
    oh, ow = blocks((h, w), kernel_size, dilation, padding, stride)
    if out is None:
        out = np.empty((n, c * kh * kw, oh * ow), x.dtype)
    if dense_unfold(x, kernel_size, dilation, padding, stride):
        m = _selection((h, w), kernel_size, dilation, padding, stride, x.dtype.str)
        np.matmul(x.reshape(n * c, h * w), m, out=out.reshape(n * c, kh * kw * oh * ow))
        return out
    dst = out.reshape(n, c, kh, kw, oh, ow)
    if _padded(padding):
        out.fill(0)
    for i, j, r, q, rows, cols in _offsets((h, w), kernel_size, dilation, padding, stride):
        dst[:, :, i, j, r, q] = x[:, :, rows, cols]
    return out


def fold(
    cols: np.ndarray,
    *,
    output_size: Pair,
    kernel_size: Pair,
    dilation: Pair,
    padding: Padding,
    stride: Pair,
) -> np.ndarray:
    """col2im (Note [UNFOLD and FOLD]): ``fold_into`` a fresh array."""
    geometry = {"kernel_size": kernel_size, "dilation": dilation, "stride": stride}
    return fold_into(cols, None, output_size=output_size, padding=padding, **geometry)


def fold_into(
    cols: np.ndarray,
    out: np.ndarray | None,
    *,
    output_size: Pair,
    kernel_size: Pair,
    dilation: Pair,
    padding: Padding,
    stride: Pair,
) -> np.ndarray:
    """A strided ``+=`` per kernel offset (Note [windows without padding copies]; small maps:
    Note [small maps as one GEMM]), into ``out`` (C-contiguous) when given."""
    (kh, kw) = kernel_size
    h, w = output_size
    oh, ow = blocks(output_size, kernel_size, dilation, padding, stride)
    n, c = cols.shape[0], cols.shape[1] // (kh * kw)
    if out is None:
        out = np.empty((n, c, h, w), cols.dtype)
    if _dense(cols, h * w * oh * ow, _DENSE_FOLD_LIMIT):
        m = _selection((h, w), kernel_size, dilation, padding, stride, cols.dtype.str)
        np.matmul(cols.reshape(n * c, kh * kw * oh * ow), m.T, out=out.reshape(n * c, h * w))
        return out
    out.fill(0)
    src = cols.reshape(n, c, kh, kw, oh, ow)
    for i, j, r, q, rows, cols_ in _offsets(output_size, kernel_size, dilation, padding, stride):
        out[:, :, rows, cols_] += src[:, :, i, j, r, q]
    return out
