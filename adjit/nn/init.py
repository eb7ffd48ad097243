"""``adjit.nn.init``: in-place initializers drawn from adjit's global generator, as in PyTorch."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from adjit.runtime.grad_mode import no_grad
from adjit.runtime.tensor import Tensor

_LINEAR_FAMILY = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def _leaky_gain(param: Any) -> float:
    if param is None:
        slope = 0.01
    elif isinstance(param, bool) or not isinstance(param, int | float):
        raise ValueError(f"negative_slope {param} not a valid number")
    else:
        slope = param
    return math.sqrt(2.0 / (1 + slope**2))


GAINS: dict[str, Callable[[Any], float]] = {
    **{name: (lambda p: 1.0) for name in _LINEAR_FAMILY},
    "tanh": lambda p: 5.0 / 3,
    "relu": lambda p: math.sqrt(2.0),
    "leaky_relu": _leaky_gain,
    "selu": lambda p: 3.0 / 4,
}


def calculate_gain(nonlinearity: str, param: Any = None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table)."""
    if nonlinearity not in GAINS:
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}")
    return GAINS[nonlinearity](param)


def _fill(tensor: Tensor, make: Callable[[tuple[int, ...]], Any]) -> Tensor:
    """Write ``make(shape)`` into ``tensor`` in place, without recording history."""
    values = np.asarray(make(tuple(tensor.shape)), dtype=tensor._data.dtype)
    with no_grad():
        tensor.copy_(Tensor._make(values))
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Any = None,
) -> Tensor:
    """Normal(mean, std) restricted to [a, b], by PyTorch's rejection schemes and draws:
    whole-tensor normal redraws when [a, b] holds over 30% of the mass, else uniform
    candidates on [a, b] accepted against the normal's log density."""
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )

    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    from adjit.runtime import creation as C
    from adjit.runtime import functional as F

    with no_grad():
        if cdf((b - mean) / std) - cdf((a - mean) / std) > 0.3:
            lo, hi = (float(np.asarray(v, tensor._data.dtype)) for v in (a, b))
            result = tensor.normal_(mean, std, generator=generator)
            while True:
                mask = (result < lo) | (result > hi)
                if not bool(mask.any()):
                    break
                fresh = C.zeros_like(result).normal_(mean, std, generator=generator)
                result = F.where(mask, fresh, result)
            if result is not tensor:
                tensor.copy_(result)
            return tensor
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2

        def log_density(c: Tensor) -> Tensor:
            return c.sub(mean).div(std).pow(2).mul(-0.5).sub(log_peak)

        def rejected(c: Tensor) -> Tensor:
            return C.zeros_like(tensor).uniform_(generator=generator).log().gt(log_density(c))

        tensor.uniform_(a, b, generator=generator)
        pending = rejected(tensor.clone())
        result = tensor
        while bool(pending.any()):
            candidates = C.zeros_like(tensor).uniform_(a, b, generator=generator)
            result = F.where(pending, candidates, result)
            pending = F.where(pending, rejected(candidates), pending)
        if result is not tensor:
            tensor.copy_(result)
        return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, lambda s: np.full(s, val))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, lambda s: np.eye(*s))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """The identity of a 3-, 4- or 5-d convolution weight: 1 at each (out, in) kernel centre."""
    ndim = tensor.ndim
    if ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tuple(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = sizes[0] // groups

    def make(shape: tuple[int, ...]) -> np.ndarray:
        out = np.zeros(shape)
        centre = tuple(s // 2 for s in shape[2:])
        for g in range(groups):
            for d in range(min(per_group, shape[1])):
                out[(g * per_group + d, d, *centre)] = 1
        return out

    return _fill(tensor, make)


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    return tensor if std is None else normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    from adjit.runtime import creation as C

    with no_grad():
        flat = C.zeros((rows, cols), dtype=tensor.dtype).normal_(0, 1, generator=generator)
        q, r = np.linalg.qr(flat._data.T if rows < cols else flat._data)
        q = q * np.sign(np.diag(r))
        values = (q.T if rows < cols else q).reshape(tuple(tensor.shape))
        tensor.copy_(Tensor._make(values.astype(tensor._data.dtype)))
        tensor.mul_(gain)
    return tensor


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Any = None) -> Tensor:
    """N(0, std) with ``ceil(sparsity * rows)`` zeros per column, at rows of a ``randperm`` drawn
    from the default generator (PyTorch passes ``generator`` to the normal draw only)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    from adjit.runtime.ops_random import randperm

    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    with no_grad():
        tensor.normal_(0, std, generator=generator)
        for col in range(cols):
            tensor[randperm(rows)[:num_zeros], col] = 0
    return tensor


def _deprecated(method: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """PyTorch's old spelling without the trailing underscore: the same, with its warning."""
    old, new = method.__name__[:-1], method.__name__

    @functools.wraps(method)
    def deprecated_init(*args: Any, **kwargs: Any) -> Tensor:
        warnings.warn(
            f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new}`.",
            FutureWarning,
            stacklevel=2,
        )
        return method(*args, **kwargs)

    deprecated_init.__name__ = old
    return deprecated_init


uniform, normal, constant = _deprecated(uniform_), _deprecated(normal_), _deprecated(constant_)
xavier_uniform, xavier_normal = _deprecated(xavier_uniform_), _deprecated(xavier_normal_)
kaiming_uniform, kaiming_normal = _deprecated(kaiming_uniform_), _deprecated(kaiming_normal_)
eye, dirac, orthogonal, sparse = (_deprecated(f) for f in (eye_, dirac_, orthogonal_, sparse_))
