"""Normalizations of ``adjit.nn.functional``: group_norm, instance_norm, local_response_norm,
rms_norm, as PyTorch's decompositions."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from adjit.ir import dtypes as D
from adjit.ir.shapes import C_NAMES
from adjit.runtime import functional as R
from adjit.runtime.dispatch import composite
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.kernel_dtypes import not_implemented, require_float
from adjit.runtime.opmath import in_float32
from adjit.runtime.tensor import Tensor

__all__ = ["group_norm", "instance_norm", "local_response_norm", "rms_norm"]


# Note [mixed-dtype norms]
# PyTorch's CPU layer_norm and group_norm take a bfloat16 or float16 input with float32 weight and
# bias (what a layer under autocast feeds a float32 LayerNorm): computed in float32, the result in
# the input's type. Any other input and parameter types that differ refuse, in its words.
# rms_norm with a weight of another type takes PyTorch's composite path (warning once): computed
# in the input's opmath type times the weight, the result in the input's type.


def check_mixed(input: Tensor, *params: Tensor | None) -> None:
    kinds = {p.dtype for p in params if p is not None}
    if not kinds or kinds == {input.dtype}:
        return
    if kinds != {D.float32}:
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    if not input.dtype.is_reduced_float:
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def in_input_type(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``fn`` computed in float32 when an operand is narrow, its result in the first operand's
    type (Note [mixed-dtype norms])."""
    wide = in_float32(fn)

    def run(*args: Any) -> Tensor:
        out = wide(*args)
        return out if out.dtype is args[0].dtype else out.to(args[0].dtype)

    return run


def _per_channel(t: Tensor, ndim: int) -> Tensor:
    return R.reshape(t, (t.shape[0],) + (1,) * (ndim - 2))


def _group_norm(a: Tensor, groups: int, w: Tensor | None, b: Tensor | None, eps: float) -> Tensor:
    n, per_group = a.shape[0], a.shape[1] // groups * _prod(list(a.shape[2:]))
    flat = R.reshape(a, (n, groups, per_group))  # (not -1: an empty batch has any size)
    mu = R.mean(flat, 2, keepdim=True)
    d = flat - mu
    var = R.mean(d * d, 2, keepdim=True)
    y = R.reshape(d * R.rsqrt(var + eps), tuple(a.shape))
    y = y * _per_channel(w, a.ndim) if w is not None else y
    return y + _per_channel(b, a.ndim) if b is not None else y


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each sample over the channels of each of ``num_groups`` groups (and space)."""
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
        )
    n, c = input.shape[0], input.shape[1]
    sizes = [n * c // num_groups, num_groups, *input.shape[2:]]  # (0 groups: PyTorch's
    if _prod([sizes[0], *sizes[2:]]) == 1:  # ZeroDivisionError) (PyTorch's _verify_batch_size)
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {sizes}"
        )
    return checked_group_norm(input, num_groups, weight, bias, eps)


def checked_group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """Group norm after ATen's own checks (``torch.group_norm`` skips nn.functional's)."""
    c = input.shape[1]
    if num_groups <= 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    if c % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != c):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {list(t.shape)} and input of shape "
                f"{list(input.shape)}"
            )
    require_float(input, "GroupNormKernelImpl")
    check_mixed(input, weight, bias)
    return composite(
        "NativeGroupNormBackward0",
        in_input_type(_group_norm),
        input,
        num_groups,
        weight,
        bias,
        eps,
    )


def _prod(sizes: list[int]) -> int:
    out = 1
    for s in sizes:
        out *= s
    return out


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Each sample's channels normalized over space (PyTorch's batch norm of the ``(1, N * C,
    ...)`` view); the running statistics, if given, move towards the batch means of the
    per-sample mean and unbiased variance, as PyTorch's."""
    if use_input_stats:
        spatial = _prod(list(input.shape[2:]))
        if spatial == 1:
            raise ValueError(
                f"Expected more than 1 spatial element when training, got input size {input.shape}"
            )
    elif running_mean is None or running_var is None:
        raise RuntimeError(
            "Expected running_mean and running_var to be defined when use_input_stats is false"
        )
    batch = input.shape[0]
    named = (("running_mean", running_mean), ("running_var", running_var))
    for name, t in (*named, ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != input.shape[1]:  # ATen's check, after its repeat
            raise RuntimeError(
                f"{name} should contain {batch * input.shape[1]} elements not {batch * t.numel()}"
            )
    require_float(input, "batch_norm")
    stats: list[tuple[Tensor, Tensor]] = []

    def decomposition(a: Tensor, w: Tensor | None, b: Tensor | None) -> Tensor:
        if use_input_stats:
            axes = tuple(range(2, a.ndim))
            mu = R.mean(a, axes, keepdim=True)
            d = a - mu
            var = R.mean(d * d, axes, keepdim=True)
            stats.append((mu, var))
            y = d * R.rsqrt(var + eps)
        else:
            assert running_mean is not None and running_var is not None
            rm = _per_channel(running_mean.detach(), a.ndim)
            rv = _per_channel(running_var.detach(), a.ndim)
            y = (a - rm) * R.rsqrt(rv + eps)
        y = y * _per_channel(w, a.ndim) if w is not None else y
        return y + _per_channel(b, a.ndim) if b is not None else y

    # (PyTorch's node is the view back from (1, N * C, ...))
    out = composite("ViewBackward0", in_float32(decomposition), input, weight, bias)
    if use_input_stats and stats:
        _update_instance_stats(
            stats[0], _prod(list(input.shape[2:])), running_mean, running_var, momentum
        )
    return out


def _update_instance_stats(
    stats: tuple[Tensor, Tensor],
    spatial: int,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    momentum: float,
) -> None:
    """``r = (1 - m) r + m * mean over the batch`` of each sample's mean and unbiased variance
    (no_grad; traced like any in-place op inside a compiled function)."""
    mu, var = stats
    with no_grad():
        pairs = ((running_mean, mu), (running_var, var * (spatial / (spatial - 1))))
        for buf, stat in pairs:
            if buf is not None:
                per_sample = R.reshape(stat.detach(), tuple(stat.shape[:2])).to(buf.dtype)
                buf.copy_(R.mean(per_sample * momentum + buf * (1.0 - momentum), 0))


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """``x / (k + alpha * mean of x^2 over a window of size channels) ** beta``."""
    if input.ndim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality{' ' * 26}input (got {input.ndim} dimensions)"
        )
    if input.numel() == 0:
        return input
    if input.dtype.name == "bool":  # (PyTorch's average pool of the bool squares)
        raise not_implemented(
            "avg_pool2d" if input.ndim == 3 else "avg_pool3d_out_frame", input.dtype
        )
    c = input.shape[1]
    sq = input * input
    before, after = size // 2, (size - 1) // 2
    zeros_shape = lambda m: (input.shape[0], m, *input.shape[2:])  # noqa: E731
    from adjit.runtime.creation import zeros

    parts = [zeros(zeros_shape(before), dtype=input.dtype)] if before else []
    parts += [sq] + ([zeros(zeros_shape(after), dtype=input.dtype)] if after else [])
    padded = R.cat(parts, 1) if len(parts) > 1 else sq
    window = R.narrow(padded, 1, 0, c)
    for i in range(1, size):
        window = window + R.narrow(padded, 1, i, c)
    div = R.pow(window / size * alpha + k, beta)
    return input / div


def rms_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """``x * rsqrt(mean(x^2 over normalized_shape) + eps) * weight``; ``eps`` defaults to the
    machine epsilon of the computing type."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if not k:
        raise RuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
            "one element, but got normalized_shape = []"
        )
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(
            f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
            f"{list(weight.shape)} and normalized_shape = {list(shape)}"
        )
    if input.ndim < k:
        raise ValueError(f"Input tensor must have at least {k} dimensions, but got {input.ndim}")
    if tuple(input.shape[input.ndim - k :]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*{', '.join(str(s) for s in shape)}], but got input of size{list(input.shape)}"
        )
    require_float(input, "rms_norm")
    e = _EPS[input.dtype.name] if eps is None else eps

    def decomposition(x: Tensor, *w: Tensor) -> Tensor:
        axes = tuple(range(x.ndim - k, x.ndim))
        y = x * R.rsqrt(R.mean(x * x, axes, keepdim=True) + e)
        return y * w[0] if w else y

    extra = () if weight is None else (weight,)
    if weight is not None and weight.dtype is not input.dtype:  # PyTorch's composite path:
        _warn_mixed_once(input, weight)  # the result in the input's type
        return in_input_type(decomposition)(input, *extra)
    return in_float32(decomposition)(input, *extra)


_WARNED: set[str] = set()  # PyTorch's TORCH_WARN_ONCE


def _warn_mixed_once(input: Tensor, weight: Tensor) -> None:
    if "rms_norm" not in _WARNED:
        _WARNED.add("rms_norm")
        warnings.warn(
            f"Mismatch dtype between input and weight: input dtype = {C_NAMES[input.dtype.name]}"
            f", weight dtype = {C_NAMES[weight.dtype.name]}, Cannot dispatch to fused "
            "implementation.",
            UserWarning,
            stacklevel=3,
        )


# the default eps: the machine epsilon of the type PyTorch computes in (float32 for half types)
_EPS = {
    D.float64.name: 2.220446049250313e-16,
    D.float32.name: 1.1920928955078125e-07,
    "float16": 1.1920928955078125e-07,
    "bfloat16": 1.1920928955078125e-07,
}
