"""Max, average and adaptive average 2-D pooling as composites of primitives."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adjit.ir import windows
from adjit.ir.windows import Padding, Pair, blocks
from adjit.nn.functional_conv import NO_PADDING, _batch, _batched, _const, _pair, _unbatch
from adjit.nn.functional_fold import im2col
from adjit.runtime import functional as R
from adjit.runtime.dispatch import composite
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.tensor import Tensor

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "max_pool2d"]

# Pooling reads its windows with one UNFOLD (see Note [convolution as UNFOLD + MATMUL] in
# functional_conv.py) and reduces over the window axis.


def _out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool = False) -> int:
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside the input
        out -= 1
    return out


def _columns(a: Tensor, k: Pair, s: Pair, pads: Padding, d: Pair) -> Tensor:
    """(N, C, H, W) -> the windows as (N, C, kh * kw, OH * OW)."""
    n, c = a.shape[:2]
    cols = im2col(a, k, d, pads, s)
    return R.reshape(cols, (n, c, k[0] * k[1], cols.shape[2]))


def _pool_geometry(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> tuple[Pair, Pair, Padding, Pair, Pair]:
    """Kernel, stride, per-side padding (ceil mode's last window may reach past the right and
    bottom padding), dilation and output size."""
    k = _pair(kernel_size)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _pair(stride)
    p, d = _pair(padding), _pair(dilation)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise RuntimeError("pad should be at most half of effective kernel size")
    c, h, w = x.shape[-3:]
    out = (
        _out_size(h, k[0], s[0], p[0], d[0], ceil_mode),
        _out_size(w, k[1], s[1], p[1], d[1], ceil_mode),
    )
    if out[0] < 1 or out[1] < 1:
        raise RuntimeError(
            f"Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{out[0]}x{out[1]}). "
            "Output size is too small"
        )
    extra = [
        max((o - 1) * ss + dd * (kk - 1) + 1 - (n + 2 * pp), 0)
        for o, ss, dd, kk, n, pp in zip(out, s, d, k, (h, w), p, strict=True)
    ]
    return k, s, ((p[0], p[0] + extra[0]), (p[1], p[1] + extra[1])), d, out


def _pad_mask(hw: Pair, k: Pair, s: Pair, pads: Padding, d: Pair) -> np.ndarray | None:
    """(1, 1, K, L): which window elements lie inside the input (None when all do)."""
    if pads == NO_PADDING:
        return None
    ones = np.ones((1, 1, *hw), np.float64)
    inside = windows.unfold(ones, kernel_size=k, dilation=d, padding=pads, stride=s)
    return inside.reshape(1, 1, k[0] * k[1], -1) > 0


def _lowest(x: Tensor) -> float | int:
    return -math.inf if x.dtype.is_floating_point else int(np.iinfo(x.dtype.np).min)


def _max_pool(a: Tensor, k: Pair, s: Pair, pads: Padding, d: Pair) -> tuple[Tensor, Tensor]:
    """Window maxima (N, C, L) and the window index of each one's first maximum (N, C, 1, L)."""
    cols = _columns(a, k, s, pads, d)
    mask = _pad_mask((a.shape[2], a.shape[3]), k, s, pads, d)
    if mask is not None:  # padding never wins: it is the lowest value
        cols = R.where(Tensor._make(mask), cols, _lowest(a))
    first = R.argmax(cols, 2, keepdim=True)
    if not a.dtype.is_floating_point:
        return R.amax(cols, 2), first
    # PyTorch routes the gradient to the first maximum (AMAX would share it among ties)
    pick = first == Tensor._make(np.arange(k[0] * k[1]).reshape(1, 1, -1, 1))
    return R.sum(R.where(pick, cols, 0.0), 2), first


def _argmax_indices(first: Tensor, hw: Pair, k: Pair, s: Pair, pads: Padding, d: Pair) -> Tensor:
    """PyTorch's flat (h * W + w) input positions of each window's first maximum."""
    oh, ow = blocks(hw, k, d, pads, s)
    kh, kw = np.divmod(np.arange(k[0] * k[1]), k[1])
    rows = np.arange(oh)[None, :, None] * s[0] - pads[0][0] + kh[:, None, None] * d[0]
    cols = np.arange(ow)[None, None, :] * s[1] - pads[1][0] + kw[:, None, None] * d[1]
    table = (rows * hw[1] + cols).reshape(1, 1, k[0] * k[1], oh * ow).astype(np.int64)
    table = R.expand(Tensor._make(table), (first.shape[0], first.shape[1], *table.shape[2:]))
    return R.reshape(R.gather(table, 2, first), (first.shape[0], first.shape[1], oh, ow))


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Window maximum; the gradient goes to the first maximal element, as in PyTorch."""
    x, unbatched = _batched(input, "max_pool2d")
    k, s, pads, d, out = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    firsts: list[Tensor] = []

    def decomposition(a: Tensor) -> Tensor:
        b = _batch(a, unbatched)
        y, first = _max_pool(b, k, s, pads, d)
        firsts.append(first)
        return _unbatch(R.reshape(y, (b.shape[0], b.shape[1], *out)), unbatched)

    y = composite("MaxPool2DWithIndicesBackward0", decomposition, input)
    if not return_indices:
        return y
    with no_grad():
        idx = _argmax_indices(firsts[0].detach(), (x.shape[2], x.shape[3]), k, s, pads, d)
    return y, _unbatch(idx, unbatched)


def _avg_divisor(
    hw: Pair, k: Pair, s: Pair, p: Pair, out: Pair, count_include_pad: bool
) -> np.ndarray:
    """PyTorch's per-window divisor (windows clipped to the padded, then the real input)."""
    sizes = []
    for n, kk, ss, pp, oo in zip(hw, k, s, p, out, strict=True):
        start = np.arange(oo) * ss - pp
        end = np.minimum(start + kk, n + pp)
        size = end - start
        if not count_include_pad:
            size = np.minimum(end, n) - np.maximum(start, 0)
        sizes.append(size)
    return (sizes[0][:, None] * sizes[1][None, :]).astype(np.float64)


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Window mean over zero padding, with PyTorch's divisor rules."""
    x, unbatched = _batched(input, "avg_pool2d")
    k, s, pads, d, out = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        div = np.full(out, float(divisor_override))
    else:
        p = (pads[0][0], pads[1][0])
        div = _avg_divisor((x.shape[2], x.shape[3]), k, s, p, out, count_include_pad)

    def decomposition(a: Tensor) -> Tensor:
        b = _batch(a, unbatched)
        total = R.reshape(R.sum(_columns(b, k, s, pads, d), 2), (*b.shape[:2], *out))
        if np.all(div == div.flat[0]):
            return _unbatch(total / float(div.flat[0]), unbatched)
        return _unbatch(total / _const(div, a), unbatched)

    return composite("AvgPool2DBackward0", decomposition, input)


def _adaptive_matrix(n: int, out: int) -> np.ndarray:
    """(out, n): row i averages input[floor(i n / out) : ceil((i + 1) n / out)]."""
    m = np.zeros((out, n))
    for i in range(out):
        lo, hi = (i * n) // out, -(-((i + 1) * n) // out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Adaptive mean pooling for any sizes: ``P_h @ x @ P_w^T`` (a mean for (1, 1))."""
    x, unbatched = _batched(input, "adaptive_avg_pool2d")
    size = (output_size, output_size) if isinstance(output_size, int | None) else output_size
    oh, ow = (
        x.shape[2] if size[0] is None else size[0],
        x.shape[3] if size[1] is None else size[1],
    )
    if (oh, ow) == (1, 1):
        return R.mean(input, (-1, -2), keepdim=True)
    ph = _const(_adaptive_matrix(x.shape[2], oh), x)
    pw = _const(_adaptive_matrix(x.shape[3], ow).T, x)
    return composite("AdaptiveAvgPool2DBackward0", lambda a: R.matmul(R.matmul(ph, a), pw), input)
