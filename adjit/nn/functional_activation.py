"""More activations of ``adjit.nn.functional`` (shrinks, hard forms, glu, prelu, rrelu, gumbel
softmax, the alpha and feature dropouts, the in-place forms) as decompositions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from adjit.ir.shapes import norm_axis
from adjit.runtime import functional as R
from adjit.runtime import inplace as I
from adjit.runtime.creation import full_like, zeros_like
from adjit.runtime.dispatch import composite, with_rule
from adjit.runtime.kernel_dtypes import require_float
from adjit.runtime.opmath import in_float32
from adjit.runtime.ops_misc_math import hardshrink
from adjit.runtime.ops_prelu import prelu  # (Tensor.prelu too)
from adjit.runtime.tensor import Tensor

__all__ = [
    "alpha_dropout",
    "celu_",
    "dropout1d",
    "dropout3d",
    "elu_",
    "feature_alpha_dropout",
    "glu",
    "gumbel_softmax",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh_",
    "leaky_relu_",
    "prelu",
    "relu_",
    "rrelu",
    "rrelu_",
    "selu_",
    "softshrink",
    "softsign",
    "tanhshrink",
    "threshold",
    "threshold_",
]

# PyTorch's CPU kernel behind each float-only activation (its NotImplementedError names it)
_FLOAT_KERNELS = {
    "hardswish": "hardswish_cpu",
    "hardsigmoid": "hardsigmoid_cpu",
    "softshrink": "softshrink_check",
    "glu": "glu_cpu",
    "rrelu": "leaky_relu_cpu",
}


def _float_only(input: Tensor, name: str) -> None:
    require_float(input, _FLOAT_KERNELS[name])


# ---- elementwise -----------------------------------------------------------------------------
def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``: PyTorch's own decomposition (a DivBackward0 node)."""
    return input / (R.abs(input) + 1)


def tanhshrink(input: Tensor) -> Tensor:
    return input - R.tanh(input)


class _SlopeRule:
    """PyTorch's backward of an elementwise activation, ``g * slope(x)`` (``slope`` written
    without history), carried by a value computed without history (``with_rule``): its kinks
    and constants are PyTorch's own, which a decomposition differentiated op by op would not
    give (hardswish's gradient 0 at -3 and 1 at 3; hardsigmoid's float32 constant 1/6)."""

    def __init__(self, name: str, slope: Callable[[Tensor], Tensor]) -> None:
        self.name, self.slope = name, slope

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return repr(self.name)

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        return (None, g * self.slope(inputs[1]) if needs[1] else None)


def _hardswish_slope(x: Tensor) -> Tensor:
    # PyTorch's kernel: 0 up to -3, x / 3 + 1/2 strictly inside, 1 from 3 on (NaN: 1)
    return R.where(x <= -3.0, 0.0, R.where(x < 3.0, x / 3.0 + 0.5, 1.0))


_HARDSWISH = _SlopeRule("hardswish", _hardswish_slope)


def _hardswish(a: Tensor) -> Tensor:
    return with_rule(_HARDSWISH, lambda x: x * R.clamp(x + 3.0, 0.0, 6.0) / 6.0, a)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    _float_only(input, "hardswish")
    if inplace:
        return I.inplace(
            input, lambda a: composite("HardswishBackward0", in_float32(_hardswish), a)
        )
    return composite("HardswishBackward0", in_float32(_hardswish), input)


_SIXTH_F32 = float(np.float32(1.0 / 6.0))  # PyTorch's backward constant, a float in any dtype
_HARDSIGMOID = _SlopeRule(
    "hardsigmoid",
    lambda x: R.where(R.logical_and(x > -3.0, x < 3.0), _SIXTH_F32, 0.0).to(x.dtype),
)


def _hardsigmoid(a: Tensor) -> Tensor:
    # min(max(x + 3, 0), 6) / 6; the gradient float32(1/6) strictly inside (-3, 3), else 0
    return with_rule(_HARDSIGMOID, lambda x: R.clamp(x + 3.0, 0.0, 6.0) / 6.0, a)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    _float_only(input, "hardsigmoid")
    if inplace:
        fn = in_float32(_hardsigmoid)
        return I.inplace(input, lambda a: composite("HardsigmoidBackward0", fn, a))
    return composite("HardsigmoidBackward0", in_float32(_hardsigmoid), input)


_FLOAT_MAX = {"float64": "1.79769e+308", "float32": "3.40282e+38"}
_FLOAT_MAX.update({"float16": "65504", "bfloat16": "3.38953e+38"})


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    _float_only(input, "softshrink")
    if not lambd >= 0:
        raise RuntimeError(
            f"lambda must be in range [0, {_FLOAT_MAX[input.dtype.name]}] for input dtype "
            f"{input.dtype.type_name}, but found {lambd:g}"
        )

    def decomposition(a: Tensor) -> Tensor:
        # x * 0 (no gradient) inside [-lambd, lambd]; x - lambd above, x + lambd below; NaN
        # is in neither, and keeps its value and its gradient, as PyTorch's kernels
        inside = R.logical_and(a >= -lambd, a <= lambd)
        outside = R.where(a > lambd, a - lambd, R.where(a < -lambd, a + lambd, a))
        return R.where(inside, a.detach() * 0.0, outside)

    return composite("SoftshrinkBackward0", in_float32(decomposition), input)


def _threshold_check(input: Tensor) -> None:
    if input.dtype.name == "bool":
        require_float(input, "threshold_cpu")


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``value`` where ``x <= threshold``, else ``x`` (whose gradient passes)."""
    _threshold_check(input)
    if inplace:
        return threshold_(input, threshold, value)
    return composite("ThresholdBackward0", _threshold, input, threshold, value)


def _threshold(a: Tensor, threshold: float, value: float) -> Tensor:
    # PyTorch's kernel: x <= threshold ? value : x (NaN keeps its value and its gradient)
    return R.where(a <= threshold, full_like(a.detach(), value), a)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    _threshold_check(input)
    return I.inplace(
        input, lambda a: composite("ThresholdBackward1", _threshold, a, threshold, value)
    )


# ---- in-place forms of the activations in functional.py --------------------------------------
def _inplace_of(name: str, grad_fn: str) -> Callable[..., Tensor]:
    """``F.name_``: the out-of-place activation written back, with PyTorch's in-place node."""

    def fn(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        from adjit.nn import functional as F

        out_of_place = getattr(F, name)

        def step(a: Tensor) -> Tensor:
            return composite(grad_fn, lambda b: out_of_place(b, *args, **kwargs), a)

        return I.inplace(input, step)

    fn.__name__ = fn.__qualname__ = f"{name}_"
    fn.__doc__ = f"In-place ``{name}``, recorded as PyTorch's ``{grad_fn}``."
    return fn


relu_ = _inplace_of("relu", "ReluBackward0")
elu_ = _inplace_of("elu", "EluBackward1")
selu_ = _inplace_of("selu", "EluBackward1")


class _CeluRule:
    """PyTorch's celu backward: ``g * (1 / float(alpha)) * alpha * exp(x / float(alpha))`` for
    ``x <= 0`` (CeluBackward0 takes ``1 / alpha.toFloat()``, so for an alpha a float cannot hold
    the slope is off by its rounding, ~1e-8), ``g`` above 0, NaN at NaN as PyTorch's vectorized
    kernel gives (its scalar tail gives ``g``; elu and selu agree); the in-place node
    (CeluBackward1) differentiates the result, ``(1 / float(alpha)) * (result + alpha)``."""

    def __init__(self, alpha: float, in_place: bool) -> None:
        self.alpha, self.in_place = alpha, in_place

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return repr(f"celu(alpha={self.alpha}, in_place={self.in_place})")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        if not needs[1]:
            return (None, None)
        x = inputs[1]
        inv = 1.0 / float(np.float32(self.alpha))
        below = R.clamp_max(x, 0.0)  # (no overflow in the untaken branch)
        e = R.exp(below / self.alpha) if self.in_place else R.exp(below * inv)
        return (None, g * R.where(x > 0, 1.0, e * (inv * self.alpha)))


def celu_with_rule(a: Tensor, alpha: float, in_place: bool) -> Tensor:
    """celu's value (functional.py's decomposition) with PyTorch's gradient (``_CeluRule``)."""
    from adjit.nn.functional import _elu

    def value(b: Tensor) -> Tensor:
        return _elu(b / alpha, 1.0, 1.0) * alpha if alpha != 1.0 else _elu(b, 1.0, 1.0)

    return with_rule(_CeluRule(alpha, in_place), value, a)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    require_float(input, "elu_cpu")
    fn = in_float32(lambda b: celu_with_rule(b, alpha, True))
    return I.inplace(input, lambda a: composite("CeluBackward1", fn, a))


leaky_relu_ = _inplace_of("leaky_relu", "LeakyReluBackward1")
hardtanh_ = _inplace_of("hardtanh", "HardtanhBackward0")


# ---- glu, prelu ------------------------------------------------------------------------------
def glu(input: Tensor, dim: int = -1) -> Tensor:
    """``a * sigmoid(b)`` for the two halves ``a, b`` of ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    _float_only(input, "glu")
    d = norm_axis(dim, input.ndim)
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")

    def decomposition(x: Tensor) -> Tensor:
        return R.narrow(x, d, 0, n // 2) * R.sigmoid(R.narrow(x, d, n // 2, n // 2))

    return composite("GluBackward0", in_float32(decomposition), input)


# ---- rrelu -----------------------------------------------------------------------------------
def _rrelu_check(input: Tensor, lower: float, upper: float) -> None:
    _float_only(input, "rrelu")
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")


def _rrelu(input: Tensor, lower: float, upper: float, training: bool, grad_fn: str) -> Tensor:
    if not training:
        slope = (lower + upper) / 2.0
        return composite(grad_fn, in_float32(lambda a: R.where(a > 0, a, a * slope)), input)
    from adjit.runtime.ops_random import rrelu_noise

    if input.dtype.name == "float16":  # PyTorch's training kernel has no float16 form
        raise NotImplementedError("\"rrelu_with_noise_out_cpu\" not implemented for 'Half'")
    r = rrelu_noise(input, lower, upper)  # drawn now, or when the compiled program runs

    def decomposition(a: Tensor) -> Tensor:
        return R.where(a > 0, a, a * r) if r.dtype is a.dtype else (a.to(r.dtype) * r).to(a.dtype)

    return composite(grad_fn, decomposition, input)


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Leaky relu with slope ``(lower + upper) / 2`` (eval), or a slope drawn per element from
    ``U(lower, upper)`` with PyTorch's numbers for the default generator (training)."""
    if inplace:
        return rrelu_(input, lower, upper, training)
    _rrelu_check(input, lower, upper)
    return _rrelu(input, lower, upper, training, "RreluWithNoiseBackward0")


def rrelu_(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False
) -> Tensor:
    _rrelu_check(input, lower, upper)
    return I.inplace(input, lambda a: _rrelu(a, lower, upper, training, "RreluWithNoiseBackward1"))


# ---- gumbel softmax --------------------------------------------------------------------------
def gumbel_softmax(
    logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1
) -> Tensor:
    """``softmax((logits + g) / tau)`` with Gumbel noise ``g = -log(Exp(1))`` drawn as PyTorch
    draws it; ``hard``: the one-hot of the argmax with the soft sample's gradient."""
    from adjit.runtime.ops_random import exponential_like

    e = exponential_like(logits)  # empty_like(logits).exponential_(), traced or drawn now
    gumbels = (logits - R.log(e)) / tau
    y_soft = R.softmax(gumbels, dim)
    if not hard:
        return y_soft
    index = R.argmax(y_soft, dim, keepdim=True)
    y_hard = R.scatter(zeros_like(logits.detach()), dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


# ---- alpha and feature dropouts --------------------------------------------------------------


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _feature_shape(input: Tensor) -> tuple[int, ...]:
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return (*input.shape[:2], *[1] * (input.ndim - 2))


def _alpha(input: Tensor, p: float, training: bool, inplace: bool, feature: bool) -> Tensor:
    """PyTorch's ``_dropout_impl`` with alpha: ``x * a * keep + b``, ``b = alpha' a (keep - 1 +
    p)``, with ``keep = bernoulli(1 - p)`` drawn per element (or per channel)."""
    _check_p(p)
    if p == 0 or not training or input.numel() == 0:
        return input
    shape = _feature_shape(input) if feature else tuple(input.shape)
    if p == 1:
        out = input * Tensor._make(np.zeros((), input.dtype.np))
        return input.copy_(out) if inplace else out
    if not input.dtype.is_floating_point:
        raise NotImplementedError(
            f"\"bernoulli_scalar_cpu_\" not implemented for '{input.dtype.type_name}'"
        )
    from adjit.runtime.ops_random import alpha_dropout_noise

    noise, b = alpha_dropout_noise(input, p, shape)  # drawn now, or when the program runs
    out = input * noise + b
    return input.copy_(out) if inplace else out


def alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    return _alpha(input, p, training, inplace, feature=False)


def feature_alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    return _alpha(input, p, training, inplace, feature=True)


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Channel dropout of ``(N, C, L)`` or ``(C, L)`` inputs."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
            "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs)."
        )
    if input.ndim == 3:
        return _feature_dropout(input, p, training, inplace)
    out = _feature_dropout(R.unsqueeze(input, 0), p, training, False)
    out = R.squeeze(out, 0)
    return input.copy_(out) if inplace else out


def dropout3d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Channel dropout of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` inputs."""
    _check_p(p)
    if input.ndim not in (4, 5):
        import warnings

        warnings.warn(
            f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated and "
            "will result in an error in a future release. To retain the behavior and silence "
            "this warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    if input.ndim != 5:  # PyTorch takes any other rank as one unbatched sample
        out = R.squeeze(_feature_dropout(R.unsqueeze(input, 0), p, training, False), 0)
        return input.copy_(out) if inplace else out
    return _feature_dropout(input, p, training, inplace)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool) -> Tensor:
    from adjit.nn.functional import scale_check
    from adjit.runtime.ops_random import dropout_mask

    if not training or p == 0.0 or input.numel() == 0:
        return input
    shape = _feature_shape(input)
    scale_check(input, p)
    out = input * dropout_mask(input, p, shape)
    return input.copy_(out) if inplace else out
