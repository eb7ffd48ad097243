"""Convolution, pooling, batch norm and non-constant padding as composites of primitives."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adjit.runtime import functional as R
from adjit.runtime.dispatch import composite
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.tensor import Tensor

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "dropout2d",
    "max_pool2d",
]

# Note [im2col by strided slices]: a 2-D window op reads, for every kernel offset (i, j), the
# strided view a[:, :, i*dh :: sh, j*dw :: sw] cropped to the output size. Each view is a basic
# INDEX (its gradient is an INDEX_ADD of a slice, a plain strided add); the views are stacked on
# a new axis (CAT) and conv contracts that axis with the weight (MATMUL). Measured on
# 8x64x32x32, 3x3: one integer-array INDEX was 3x slower in backward (np.add.at scatter).

Pair = tuple[int, int]


def _pair(v: Any) -> Pair:
    if isinstance(v, int):
        return (v, v)
    a, b = tuple(v)
    return (int(a), int(b))


def _const(arr: np.ndarray, like: Tensor) -> Tensor:
    return Tensor._make(np.asarray(arr, like.dtype.np))


def _out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool = False) -> int:
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside the input
        out -= 1
    return out


def _windows(a: Tensor, k: Pair, s: Pair, d: Pair, out: Pair) -> list[Tensor]:
    """The strided view of ``a`` (N, C, H, W) seen by each kernel offset, row-major."""
    full = slice(None)
    return [
        R.getitem(
            a,
            (
                full,
                full,
                slice(i * d[0], i * d[0] + s[0] * (out[0] - 1) + 1, s[0]),
                slice(j * d[1], j * d[1] + s[1] * (out[1] - 1) + 1, s[1]),
            ),
        )
        for i in range(k[0])
        for j in range(k[1])
    ]


def _stacked(views: list[Tensor]) -> Tensor:
    """(N, C, OH, OW) views -> (N, C, K, OH, OW)."""
    if len(views) == 1:
        return R.unsqueeze(views[0], 2)
    return R.cat([R.unsqueeze(v, 2) for v in views], 2)


def _batched(input: Tensor, what: str) -> tuple[Tensor, bool]:
    if input.ndim == 3:
        return R.unsqueeze(input, 0), True
    if input.ndim != 4:
        raise RuntimeError(
            f"Expected 3D (unbatched) or 4D (batched) input to {what}, but got input of size: "
            f"{list(input.shape)}"
        )
    return input, False


def _batch(a: Tensor, unbatched: bool) -> Tensor:
    return R.unsqueeze(a, 0) if unbatched else a


def _unbatch(a: Tensor, unbatched: bool) -> Tensor:
    return R.squeeze(a, 0) if unbatched else a


# ---- padding -----------------------------------------------------------------------------------
def _fill_pad(a: Tensor, widths: Any, value: float = 0.0) -> Tensor:
    """Constant padding by CAT with filled blocks; ``widths`` as in ``F.pad`` (last dim first).

    (``F.pad`` reads ``input._data`` for the fill dtype, which a tracer does not have.)
    """
    for k in range(len(widths) // 2):
        axis, before, after = a.ndim - 1 - k, int(widths[2 * k]), int(widths[2 * k + 1])
        pieces = []
        for n in (before, 0, after):
            shape = tuple(n if i == axis else m for i, m in enumerate(a.shape))
            pieces.append(a if n == 0 else _const(np.full(shape, value), a))
        pieces = [t for t, n in zip(pieces, (before, 1, after), strict=True) if n > 0]
        a = R.cat(pieces, axis) if len(pieces) > 1 else a
    return a


# ---- convolution -------------------------------------------------------------------------------
def _same_padding(k: Pair, d: Pair) -> tuple[int, int, int, int]:
    """(left, right, top, bottom): the extra element of an odd total goes right/bottom."""
    th, tw = d[0] * (k[0] - 1), d[1] * (k[1] - 1)
    return (tw // 2, tw - tw // 2, th // 2, th - th // 2)


def _conv(x: Tensor, w: Tensor, *b: Tensor, s: Pair, p: Pair, d: Pair, groups: int) -> Tensor:
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    if p != (0, 0):
        x = _fill_pad(x, (p[1], p[1], p[0], p[0]))
    oh = _out_size(h, kh, s[0], p[0], d[0])
    ow = _out_size(wd, kw, s[1], p[1], d[1])
    if (kh, kw, s[0], s[1]) == (1, 1, 1, 1):
        cols = x  # a 1x1 stride-1 kernel reads the input as it is
    else:
        cols = _stacked(_windows(x, (kh, kw), s, d, (oh, ow)))  # (N, C, K, OH, OW)
    cols = R.reshape(cols, (n, groups, cg * kh * kw, oh * ow))
    out = R.matmul(R.reshape(w, (groups, o // groups, cg * kh * kw)), cols)
    out = R.reshape(out, (n, o, oh, ow))
    return out + R.reshape(b[0], (o, 1, 1)) if b else out


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation, as im2col (see Note [im2col by strided slices]) and a matmul."""
    x, unbatched = _batched(input, "conv2d")
    s, d = _pair(stride), _pair(dilation)
    k = (weight.shape[2], weight.shape[3])
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
            f"{list(x.shape)} to have {weight.shape[1] * groups} channels, but got "
            f"{x.shape[1]} channels instead"
        )
    if weight.shape[0] % groups:
        raise RuntimeError("Given groups, expected weight to be divisible by groups")
    if isinstance(padding, str):
        if padding == "valid":
            p: Pair = (0, 0)
        elif padding == "same":
            if s != (1, 1):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            left, right, top, bottom = _same_padding(k, d)
            if (left, top) != (right, bottom):
                x = _fill_pad(x, (left, right, top, bottom))
                p = (0, 0)
            else:
                p = (top, left)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = _pair(padding)
    extra = () if bias is None else (bias,)
    out = composite(
        "ConvolutionBackward0",
        lambda a, w, *b: _conv(a, w, *b, s=s, p=p, d=d, groups=groups),
        x,
        weight,
        *extra,
    )
    return R.squeeze(out, 0) if unbatched else out


# ---- pooling -----------------------------------------------------------------------------------
def _pool_geometry(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> tuple[Pair, Pair, Pair, Pair, Pair]:
    k = _pair(kernel_size)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _pair(stride)
    p, d = _pair(padding), _pair(dilation)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise RuntimeError("pad should be at most half of effective kernel size")
    h, w = x.shape[-2], x.shape[-1]
    out = (
        _out_size(h, k[0], s[0], p[0], d[0], ceil_mode),
        _out_size(w, k[1], s[1], p[1], d[1], ceil_mode),
    )
    return k, s, p, d, out


def _padded(x: Tensor, k: Pair, s: Pair, p: Pair, d: Pair, out: Pair, value: float) -> Tensor:
    """Pad by ``p`` plus whatever a ceil-mode last window reaches past the right edge."""
    extra_h = max((out[0] - 1) * s[0] + d[0] * (k[0] - 1) + 1 - (x.shape[2] + 2 * p[0]), 0)
    extra_w = max((out[1] - 1) * s[1] + d[1] * (k[1] - 1) + 1 - (x.shape[3] + 2 * p[1]), 0)
    widths = (p[1], p[1] + extra_w, p[0], p[0] + extra_h)
    return _fill_pad(x, widths, value) if any(widths) else x


def _max_pool(a: Tensor, k: Pair, s: Pair, p: Pair, d: Pair, out: Pair) -> Tensor:
    stacked = _stacked(_windows(_padded(a, k, s, p, d, out, -math.inf), k, s, d, out))
    first = R.argmax(stacked, 2, keepdim=True)  # PyTorch routes the gradient to the first max
    pick = first == Tensor._make(np.arange(k[0] * k[1]).reshape(1, 1, -1, 1, 1))
    return R.sum(R.where(pick, stacked, 0.0), 2)


def _argmax_indices(x: Tensor, k: Pair, s: Pair, p: Pair, d: Pair, out: Pair) -> Tensor:
    """PyTorch's flat (h * W + w) input positions of each window's maximum."""
    w = x.shape[3]
    kh, kw = np.divmod(np.arange(k[0] * k[1]), k[1])
    rows = np.arange(out[0])[None, :, None] * s[0] - p[0] + kh[:, None, None] * d[0]
    cols = np.arange(out[1])[None, None, :] * s[1] - p[1] + kw[:, None, None] * d[1]
    table = Tensor._make((rows * w + cols)[None, None].astype(np.int64))
    with no_grad():
        stacked = _stacked(_windows(_padded(x, k, s, p, d, out, -math.inf), k, s, d, out))
        first = R.argmax(stacked, 2, keepdim=True)
        table = R.expand(table, (x.shape[0], x.shape[1], *table.shape[2:]))
        return R.squeeze(R.gather(table, 2, first), 2)


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
    k, s, p, d, out = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    y = composite(
        "MaxPool2DWithIndicesBackward0",
        lambda a: _unbatch(_max_pool(_batch(a, unbatched), k, s, p, d, out), unbatched),
        input,
    )
    if not return_indices:
        return y
    idx = _argmax_indices(x, k, s, p, d, out)
    return y, R.squeeze(idx, 0) if unbatched else idx


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
    k, s, p, d, out = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    hw = (x.shape[2], x.shape[3])
    if divisor_override is not None:
        div = np.full(out, float(divisor_override))
    else:
        div = _avg_divisor(hw, k, s, p, out, count_include_pad)

    def decomposition(a: Tensor) -> Tensor:
        views = _windows(_padded(a, k, s, p, d, out, 0.0), k, s, d, out)
        total = views[0]
        for v in views[1:]:
            total = total + v
        if np.all(div == div.flat[0]):
            return total / float(div.flat[0])
        return total / _const(div, a)

    return composite(
        "AvgPool2DBackward0",
        lambda a: _unbatch(decomposition(_batch(a, unbatched)), unbatched),
        input,
    )


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


# ---- batch norm --------------------------------------------------------------------------------
def _bn_train(a: Tensor, w: Tensor | None, b: Tensor | None, eps: float) -> Tensor:
    axes = (0, *range(2, a.ndim))
    mu = R.mean(a, axes, keepdim=True)
    dev = a - mu
    y = dev * R.rsqrt(R.mean(dev * dev, axes, keepdim=True) + eps)
    return _affine(y, w, b)


def _affine(y: Tensor, w: Tensor | None, b: Tensor | None) -> Tensor:
    shape = (y.shape[1],) + (1,) * (y.ndim - 2)
    y = y * R.reshape(w, shape) if w is not None else y
    return y + R.reshape(b, shape) if b is not None else y


def _bn_eval(
    a: Tensor, mean: Tensor, var: Tensor, w: Tensor | None, b: Tensor | None, eps: float
) -> Tensor:
    shape = (a.shape[1],) + (1,) * (a.ndim - 2)
    y = (a - R.reshape(mean, shape)) * R.rsqrt(R.reshape(var, shape) + eps)
    return _affine(y, w, b)


def _update_running(
    x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, momentum: float
) -> None:
    """``r = (1 - m) r + m stat`` with the unbiased batch variance, under no_grad (in double,
    as PyTorch accumulates); traced like any in-place op inside a compiled function."""
    axes = (0, *range(2, x.ndim))
    with no_grad():
        xd = x.detach().double()
        stats = ((running_mean, R.mean(xd, axes)), (running_var, R.var(xd, axes, correction=1)))
        for buf, stat in stats:
            if buf is not None:
                buf.copy_((stat * momentum + buf.double() * (1.0 - momentum)).to(buf.dtype))


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over every dim but 1 (batch stats when training, else the running ones)."""
    if training:
        n = input.numel() // input.shape[1]
        if n <= 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input size "
                f"{input.shape}"
            )
        _update_running(input, running_mean, running_var, momentum)
        return composite("NativeBatchNormBackward0", _bn_train, input, weight, bias, eps)
    if running_mean is None or running_var is None:
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    return composite(
        "NativeBatchNormBackward0",
        lambda a, w, b: _bn_eval(a, running_mean, running_var, w, b, eps),
        input,
        weight,
        bias,
    )


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels with probability ``p`` and scale the rest by ``1 / (1 - p)``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    from adjit.runtime.creation import default_generator

    shape = (*input.shape[: input.ndim - 2], 1, 1)
    keep = default_generator.rng.random(shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    out = input * _const(keep * scale, input)
    return input.copy_(out) if inplace else out
