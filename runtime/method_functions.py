"""``torch.abs_(x)``, ``torch.detach(x)``, ``torch.fill(x, v)`` & co.: PyTorch's function
spellings of tensor methods, and the default-device pair."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..ir import dtypes as D
from . import device as device_api
from .tensor import Tensor

# PyTorch binds these in ``torch`` as functions of a tensor first argument; each calls the
# method of the same name (the same checks, errors and autograd history).
_METHOD_NAMES = [
    "abs_",
    "acos_",
    "acosh_",
    "addmv_",
    "arccos_",
    "arccosh_",
    "arcsin_",
    "arcsinh_",
    "arctan_",
    "arctanh_",
    "as_strided_",
    "asin_",
    "asinh_",
    "atan_",
    "atanh_",
    "ceil_",
    "clamp_",
    "clamp_max_",
    "clamp_min_",
    "clip_",
    "conj_physical_",
    "cos_",
    "cosh_",
    "deg2rad_",
    "detach_",
    "erf_",
    "erfc_",
    "exp2_",
    "exp_",
    "expm1_",
    "fill_",
    "fix_",
    "floor_",
    "frac_",
    "gcd_",
    "i0_",
    "index_put_",
    "lcm_",
    "ldexp_",
    "log10_",
    "log1p_",
    "log2_",
    "log_",
    "logit_",
    "nan_to_num_",
    "neg_",
    "negative_",
    "rad2deg_",
    "reciprocal_",
    "relu_",
    "resize_as_",
    "round_",
    "rsqrt_",
    "sigmoid_",
    "sin_",
    "sinc_",
    "sinh_",
    "sqrt_",
    "square_",
    "tan_",
    "tanh_",
    "trunc_",
    "xlogy_",
    "zero_",
    "detach",
    "is_neg",
    "is_signed",
    "put",
]


def _method(name: str) -> Callable[..., Any]:
    def call(input: Tensor, *args: Any, **kwargs: Any) -> Any:
        return getattr(input, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``torch.{name}(input, ...)``: ``input.{name}(...)``."
    return call


globals().update({name: _method(name) for name in _METHOD_NAMES})


def fill(input: Tensor, value: Any) -> Tensor:
    """A copy of ``input`` filled with ``value`` (fill_'s checks and dtype rules)."""
    return input.clone().fill_(value)


def is_same_size(input: Tensor, other: Tensor) -> bool:
    return tuple(input.shape) == tuple(other.shape)


def scalar_tensor(
    s: Any, *, dtype: D.DType | None = None, layout: Any = None, device: Any = None,
    pin_memory: bool | None = None,
) -> Tensor:  # fmt: skip
    """A 0-d tensor of ``s``, in the default float dtype unless ``dtype`` says otherwise (also
    for integer and bool ``s``, as PyTorch)."""
    from .creation import full

    return full((), s, dtype=dtype or D.get_default_dtype(), device=device)


def get_default_device() -> device_api.device:
    return device_api.device("cpu")


def set_default_device(device: Any) -> None:
    """Only the CPU (or None) can be the default: other devices get PyTorch's CPU-build error."""
    device_api.check(device)


__all__ = [
    *_METHOD_NAMES,
    "fill",
    "get_default_device",
    "is_same_size",
    "scalar_tensor",
    "set_default_device",
]
