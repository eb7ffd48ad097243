"""Convolution, batch norm and channel dropout as composites of primitives."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.ir.windows import Padding, Pair, blocks
from adjit.nn.functional_fold import im2col
from adjit.runtime import functional as R
from adjit.runtime.dispatch import composite
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.kernel_dtypes import require_float
from adjit.runtime.tensor import Tensor

__all__ = ["batch_norm", "dropout2d"]

# Note [convolution as UNFOLD + MATMUL]: a 2-D window op (conv here, pooling in
# functional_pool.py) is one UNFOLD (im2col, see
# Note [UNFOLD and FOLD] in ir/windows.py) followed by a contraction over the window axis: conv
# multiplies the columns by the reshaped weight (one batched MATMUL, BLAS), max pooling takes the
# first maximum, average pooling sums. Gradients flow back through FOLD (col2im), so the whole
# backward is a MATMUL and a FOLD: a handful of eager ops whatever the kernel size, and a few
# extern steps (NumPy/BLAS) around the fused elementwise kernels in a compiled program.

# Note [one GEMM for the batch]: conv multiplies the weight (O, C k k) by the columns of the whole
# batch side by side, (C k k, N L), instead of once per image: in deep layers L is tiny (2x2
# maps in resnet18's last stage at 64x64), per-image GEMMs re-read the weight N times, and their
# weight gradient is an (N, O, C k k) stack summed over N. Moving the batch axis costs a copy of
# the columns and of the output, small beside the GEMM.

NO_PADDING: Padding = ((0, 0), (0, 0))


def _pair(v: Any) -> Pair:
    if isinstance(v, int):
        return (v, v)
    a, b = tuple(v)
    return (int(a), int(b))


def _const(arr: np.ndarray, like: Tensor) -> Tensor:
    return Tensor._make(np.asarray(arr, like.dtype.np))


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


# ---- convolution -------------------------------------------------------------------------------
def _conv(x: Tensor, w: Tensor, *b: Tensor, s: Pair, pads: Padding, d: Pair, groups: int) -> Tensor:
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    if (kh, kw, s, pads) == (1, 1, (1, 1), NO_PADDING):
        oh, ow = h, wd  # a 1x1 stride-1 kernel reads the input as it is
        cols = R.reshape(x, (n, c, h * wd))
    else:
        oh, ow = blocks((h, wd), (kh, kw), d, pads, s)
        cols = im2col(x, (kh, kw), d, pads, s)  # (N, C * kh * kw, OH * OW)
    ckk, cells = cg * kh * kw, oh * ow
    if groups == 1:  # see Note [one GEMM for the batch]
        cols = R.reshape(R.permute(cols, (1, 0, 2)), (ckk, n * cells))
        out = R.matmul(R.reshape(w, (o, ckk)), cols)
        out = R.permute(R.reshape(out, (o, n, oh, ow)), (1, 0, 2, 3))
    else:
        cols = R.reshape(cols, (n, groups, ckk, cells))
        out = R.reshape(R.matmul(R.reshape(w, (groups, o // groups, ckk)), cols), (n, o, oh, ow))
    return out + R.reshape(b[0], (o, 1, 1)) if b else out


# ---- batch norm --------------------------------------------------------------------------------
def _channel_shape(a: Tensor) -> tuple[int, ...]:
    return (a.shape[1],) + (1,) * (a.ndim - 2)


def _normalize(dev: Tensor, var: Tensor, w: Tensor | None, b: Tensor | None, eps: float) -> Tensor:
    """``dev / sqrt(var + eps) * w + b``, scaling by one per-channel factor."""
    scale = R.rsqrt(var + eps)
    if w is not None:
        scale = scale * R.reshape(w, _channel_shape(dev))
    y = dev * scale
    return y + R.reshape(b, _channel_shape(dev)) if b is not None else y


def _bn_train(
    a: Tensor, w: Tensor | None, b: Tensor | None, eps: float, stats: list[tuple[Tensor, Tensor]]
) -> Tensor:
    """Normalize by the batch statistics, which go to ``stats`` for the running update."""
    axes = (0, *range(2, a.ndim))
    mu = R.mean(a, axes, keepdim=True)
    dev = a - mu
    var = R.mean(dev * dev, axes, keepdim=True)  # biased, as the normalization uses
    stats.append((mu, var))
    return _normalize(dev, var, w, b, eps)


def _bn_eval(
    a: Tensor, mean: Tensor, var: Tensor, w: Tensor | None, b: Tensor | None, eps: float
) -> Tensor:
    shape = _channel_shape(a)
    return _normalize(a - R.reshape(mean, shape), R.reshape(var, shape), w, b, eps)


def _update_running(
    stats: tuple[Tensor, Tensor],
    n: int,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    momentum: float,
) -> None:
    """``r = (1 - m) r + m stat`` with the batch mean and the unbiased batch variance (no_grad;
    traced like any in-place op inside a compiled function)."""
    mu, var = stats
    with no_grad():
        pairs = ((running_mean, mu), (running_var, var * (n / (n - 1))))
        for buf, stat in pairs:
            if buf is not None:
                stat = R.reshape(stat.detach(), tuple(buf.shape)).to(buf.dtype)
                buf.copy_(stat * momentum + buf * (1.0 - momentum))


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
    require_float(input, "batch_norm", bool_ok=True)  # (bool fails later, as in PyTorch)
    if training:
        n = input.numel() // input.shape[1]
        if n <= 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input size "
                f"{input.shape}"
            )
        stats: list[tuple[Tensor, Tensor]] = []
        y = composite("NativeBatchNormBackward0", _bn_train, input, weight, bias, eps, stats)
        _update_running(stats[0], n, running_mean, running_var, momentum)
        return y
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
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    from adjit.nn.functional import scale_check
    from adjit.runtime.ops_random import dropout_noise

    scale_check(input, p)
    # PyTorch's feature noise: (N, C, 1, ...) (a 3-D input is taken as (N, C, L))
    shape = (*input.shape[:2], *[1] * (input.ndim - 2))
    out = input * _const(dropout_noise(input, p, shape), input)
    return input.copy_(out) if inplace else out
