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
from adjit.runtime.opmath import in_float32
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
    momentum: Any,
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


def _in_dtype(y: Tensor, like: Tensor) -> Tensor:
    """A float16/bfloat16 input with float32 parameters gives the input's dtype."""
    return y if y.dtype == like.dtype else y.to(like.dtype)


def _check_batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
) -> None:
    """PyTorch's batch_norm checks in its order: sizes (an empty input skips them), the
    input's dtype, then the parameters' dtypes (Note [batch_norm mixed dtypes])."""
    if input.numel() == 0:
        return
    features = input.shape[1] if input.ndim > 1 else 0
    named = (("running_mean", running_mean), ("running_var", running_var))
    for name, t in (*named, ("weight", weight), ("bias", bias)):
        if t is None:
            if not training and name.startswith("running"):
                raise RuntimeError(f"{name} must be defined in evaluation mode")
        elif t.numel() != features:
            raise RuntimeError(f"{name} should contain {features} elements not {t.numel()}")
    require_float(input, "batch_norm")
    params = [t for t in (weight, bias, running_mean, running_var) if t is not None]
    if params and params[0].dtype != input.dtype:
        if any(t.dtype.name != "float32" for t in params):
            raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
        if input.dtype.name not in ("float16", "bfloat16"):
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
        return
    for t in params:
        if t.dtype != input.dtype:
            raise RuntimeError(
                f"expected scalar type {input.dtype.type_name} but found {t.dtype.type_name}"
            )


# Note [batch_norm mixed dtypes]
# PyTorch's CPU batch norm calls the call mixed when the first given parameter (weight, bias,
# running_mean, running_var) has a dtype other than the input's: then every parameter must be
# float32 and the input float16 or bfloat16. Otherwise each parameter must have the input's dtype.


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
        size = tuple(input.shape)
        n = size[0]  # PyTorch's _verify_batch_size (a 0-d input: its IndexError)
        for s in size[2:]:
            n *= s
        if n == 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input size "
                f"{input.shape}"
            )
    _check_batch_norm(input, running_mean, running_var, weight, bias, training)
    if training:
        stats: list[tuple[Tensor, Tensor]] = []
        y = composite(
            "NativeBatchNormBackward0",
            lambda a, w, b: _in_dtype(in_float32(_bn_train)(a, w, b, eps, stats), a),
            input,
            weight,
            bias,
        )
        _update_running(stats[0], n, running_mean, running_var, momentum)
        return y
    assert running_mean is not None and running_var is not None  # (checked)
    return composite(
        "NativeBatchNormBackward0",
        lambda a, w, b: _in_dtype(in_float32(_bn_eval)(a, running_mean, running_var, w, b, eps), a),
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
    from adjit.runtime.ops_random import dropout_mask

    scale_check(input, p)
    # PyTorch's feature noise: (N, C, 1, ...) (a 3-D input is taken as (N, C, L))
    shape = (*input.shape[:2], *[1] * (input.ndim - 2))
    out = input * dropout_mask(input, p, shape)
    return input.copy_(out) if inplace else out
