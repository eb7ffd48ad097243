"""``adjit.nn.functional``: activations, linear, dropout, normalization and losses as composites."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from adjit.nn._eager_layer_norm import layer_norm as _eager_layer_norm
from adjit.nn._losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from adjit.runtime import functional as R
from adjit.runtime.autocast import autocast_op as _autocast_op
from adjit.runtime.checks import check, shape_from_values
from adjit.runtime.creation import full as _full
from adjit.runtime.dispatch import composite, not_a_view
from adjit.runtime.eager_linear import linear as _eager_linear
from adjit.runtime.functional import log_softmax as _log_softmax
from adjit.runtime.functional import sigmoid, tanh
from adjit.runtime.functional import softmax as _softmax
from adjit.runtime.kernel_dtypes import require_float
from adjit.runtime.opmath import in_float32
from adjit.runtime.ops_random import dropout_mask
from adjit.runtime.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "gelu",
    "hardtanh",
    "huber_loss",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "mish",
    "mse_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
    "bilinear",
    "softmin",
    "celu",
    "identity",
]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _const(arr: np.ndarray, like: Tensor) -> Tensor:
    """A tensor with no history holding ``arr`` in ``like``'s dtype."""
    return Tensor._make(np.asarray(arr, like.dtype.np))


# PyTorch's CPU kernel behind each float-only activation: an integer (or bool) input is refused
# in its words, `"elu_cpu" not implemented for 'Long'`
_FLOAT_KERNELS = {
    "elu": "elu_cpu",
    "selu": "elu_cpu",
    "celu": "elu_cpu",
    "gelu": "GeluKernelImpl",
    "silu": "silu_cpu",
    "mish": "mish_cpu",
    "softplus": "softplus_cpu",
    "logsigmoid": "log_sigmoid_cpu",
    "leaky_relu": "leaky_relu_cpu",
    "softmax": "softmax_lastdim_kernel_impl",
    "log_softmax": "log_softmax_lastdim_kernel_impl",
    "softmin": "softmax_lastdim_kernel_impl",
    "layer_norm": "LayerNormKernelImpl",
}


def _float_only(input: Tensor, name: str) -> None:
    require_float(input, _FLOAT_KERNELS[name])


# Note [in-place activations]
# ``inplace=True`` of elu, selu, celu, leaky_relu and hardtanh runs their ``F.name_`` form
# (functional_activation.py), recorded under PyTorch's in-place node (EluBackward1, ...).


def _inplace_result(input: Tensor, out: Tensor, inplace: bool) -> Tensor:
    if not inplace:
        return out
    return input.copy_(out)


# ---- linear ----------------------------------------------------------------------------------
# Note [linear names]: PyTorch's node for linear depends on input rank and on the bias:
# addmm for 2-D with bias, a view over addmm for other ranks; without bias, the matmul names.
_LINEAR_NO_BIAS = {1: "SqueezeBackward4", 2: "MmBackward0"}


@_autocast_op("linear")
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` (see Note [linear names])."""
    if bias is None:
        name = _LINEAR_NO_BIAS.get(input.ndim, "UnsafeViewBackward0")
        fast = _eager_linear(input, weight, bias, name)  # (Note [eager linear])
        if fast is not None:
            return fast
        return composite(name, lambda x, w: R.matmul(x, R.t(w)), input, weight)
    _check_bias(input, weight, bias)
    name = "AddmmBackward0" if input.ndim == 2 else "ViewBackward0"
    fast = _eager_linear(input, weight, bias, name)
    if fast is not None:
        return fast
    # (addmm adds the bias to the float32 product of float16/bfloat16 before rounding)
    return composite(name, in_float32(lambda x, w, b: R.matmul(x, R.t(w)) + b), input, weight, bias)


def _check_bias(input: Tensor, weight: Tensor, bias: Tensor) -> None:
    """PyTorch's addmm checks of linear with a bias: its dtypes, then a bias that cannot
    broadcast to the (rows, outputs) product."""
    if bias.dtype is not weight.dtype:
        raise RuntimeError(
            "self and mat2 must have the same dtype, but got "
            f"{bias.dtype.type_name} and {weight.dtype.type_name}"
        )
    if input.dtype is not weight.dtype:
        raise RuntimeError(
            "mat1 and mat2 must have the same dtype, but got "
            f"{input.dtype.type_name} and {weight.dtype.type_name}"
        )
    if weight.ndim != 2 or bias.ndim != 1:
        return
    outs, size = weight.shape[0], bias.shape[0]
    if isinstance(outs, int) and isinstance(size, int) and size not in (1, outs):
        rows = math.prod(input.shape[:-1])
        raise RuntimeError(
            f"The expanded size of the tensor ({outs}) must match the existing size ({size}) "
            f"at non-singleton dimension 1.  Target sizes: [{rows}, {outs}].  "
            f"Tensor sizes: [{size}]"
        )


@_autocast_op("bilinear")
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_k = x1^T W_k x2 + b_k`` over the last dimension of both inputs."""
    _check_bilinear(input1, input2, weight, bias)

    def decomposition(x1: Tensor, x2: Tensor, w: Tensor, *b: Tensor) -> Tensor:
        left = R.matmul(R.unsqueeze(R.unsqueeze(x1, -2), -3), w)  # (..., out, 1, in2)
        y = (R.squeeze(left, -2) * R.unsqueeze(x2, -2)).sum(-1)
        return y + b[0] if b else y

    extra = () if bias is None else (bias,)
    return composite(
        "AddBackward0" if bias is not None else "ViewBackward0",
        decomposition,
        input1,
        input2,
        weight,
        *extra,
    )


def _check_bilinear(x1: Tensor, x2: Tensor, w: Tensor, bias: Tensor | None) -> None:
    """PyTorch's bilinear checks, in its order and words."""
    from adjit.ir.shapes import C_NAMES

    named = [("input1", x1), ("input2", x2), ("weight", w)] + (
        [("bias", bias)] if bias is not None else []
    )
    if any(t.dtype != x1.dtype for _, t in named):
        got = ", ".join(f"{n}: {C_NAMES[t.dtype.name]}" for n, t in named)
        raise RuntimeError(f"All tensors must have the same dtype, got {got}")
    if x1.ndim != x2.ndim:
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {x1.ndim} and {x2.ndim}"
        )
    for i in range(x1.ndim - 1):
        if x1.shape[i] != x2.shape[i]:
            raise RuntimeError(
                f"bilinear(): input batch dimensions do not match at dim {i}: got "
                f"{x1.shape[i]} and {x2.shape[i]}"
            )
    if x1.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    if w.ndim < 3:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-max(w.ndim, 1)}, "
            f"{max(w.ndim, 1) - 1}], but got {1 if w.ndim < 2 else 2})"
        )
    for n, x, k in (("input1", x1, 1), ("input2", x2, 2)):
        if x.shape[-1] != w.shape[k]:
            raise RuntimeError(
                f"bilinear(): {n} size does not match weight size: got {x.shape[-1]} but "
                f"expected {w.shape[k]}"
            )
    if bias is not None and (bias.shape[0] if bias.ndim else None) != w.shape[0]:
        got = bias.shape[0] if bias.ndim else "?"
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got {got} but expected {w.shape[0]}"
        )


def identity(input: Tensor) -> Tensor:
    return input


# ---- activations -----------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return input.relu_() if inplace else R.relu(input)


def _hardtanh(a: Tensor, lo: float, hi: float) -> Tensor:
    """``clamp(a, lo, hi)`` whose gradient is zero at the bounds too, as PyTorch's is (and
    passes at NaN: PyTorch's backward zeroes only ``x <= lo or x >= hi``)."""
    inside = R.logical_not(R.logical_or(a <= lo, a >= hi))
    return R.where(inside, a, R.clamp(a.detach(), lo, hi))


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if input.dtype.name == "bool":
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if not input.dtype.is_floating_point:  # PyTorch clamps in the integer type
        lo, hi = int(min_val), int(max_val)
        return _inplace_result(input, R.clamp(input, lo, hi), inplace)
    if inplace:  # (PyTorch's in-place node: Note [in-place activations])
        return _act.hardtanh_(input, min_val, max_val)
    return composite("HardtanhBackward0", _hardtanh, input, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    _float_only(input, "leaky_relu")
    if inplace:
        return _act.leaky_relu_(input, negative_slope)
    out = composite("LeakyReluBackward0", lambda a: R.where(a > 0, a, a * negative_slope), input)
    return _inplace_result(input, out, inplace)


def _nonpositive(a: Tensor) -> Tensor:
    """``a`` where it is not positive, else 0: an untaken exp cannot overflow into inf * 0, and
    (unlike clamp) a NaN keeps its gradient, NaN, as in PyTorch."""
    return R.where(a > 0, 0.0, a)


def _expm1(a: Tensor) -> Tensor:
    """``exp(a) - 1`` for a <= 0 to a few ulp also near 0 (PyTorch's elu uses expm1; exp(a) - 1
    keeps 8 of 16 digits at a = -1e-8): 2 t / (1 - t) with t = tanh(a / 2), -1 at -inf. Its
    gradient is exp(a)'s (the tanh form's loses digits as t nears -1): the value minus the
    zero ``exp(a).detach() - exp(a)`` (a minus, so that -0.0 stays -0.0)."""
    t = R.tanh(a * 0.5)
    e = R.exp(a)
    return (2.0 * t / (1.0 - t)).detach() - (e.detach() - e)


def _elu(a: Tensor, alpha: float, scale: float) -> Tensor:
    neg = alpha * _expm1(_nonpositive(a))
    return R.where(a > 0, a, neg) * scale if scale != 1.0 else R.where(a > 0, a, neg)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    _float_only(input, "elu")
    if inplace:
        return _act.elu_(input, alpha)
    return _inplace_result(
        input, composite("EluBackward0", in_float32(_elu), input, alpha, 1.0), inplace
    )


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    _float_only(input, "selu")
    if inplace:
        return _act.selu_(input)
    out = composite("EluBackward0", in_float32(_elu), input, SELU_ALPHA, SELU_SCALE)
    return _inplace_result(input, out, inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    _float_only(input, "celu")
    if inplace:
        return _act.celu_(input, alpha)
    # (PyTorch's gradient, with its float alpha: functional_activation._CeluRule)
    return composite(
        "CeluBackward0", in_float32(lambda a: _act.celu_with_rule(a, alpha, False)), input
    )


def _gelu(a: Tensor, approximate: str) -> Tensor:
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (a + 0.044715 * a * a * a)
        return 0.5 * a * (1.0 + R.tanh(inner))
    return 0.5 * a * (1.0 + R.erf(a * (1.0 / math.sqrt(2.0))))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    _float_only(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return composite("GeluBackward0", in_float32(_gelu), input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    _float_only(input, "silu")
    out = composite("SiluBackward0", in_float32(lambda a: a * R.sigmoid(a)), input)
    return _inplace_result(input, out, inplace)


def _softplus(a: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold`` as PyTorch does."""
    z = a * beta if beta != 1.0 else a
    small = R.log1p(R.exp(R.where(z > threshold, 0.0, z)))  # (a NaN keeps its gradient)
    small = small / beta if beta != 1.0 else small
    return R.where(z > threshold, a, small)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    _float_only(input, "softplus")
    return composite("SoftplusBackward0", in_float32(_softplus), input, beta, threshold)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    _float_only(input, "mish")
    out = composite("MishBackward0", in_float32(lambda a: a * R.tanh(_softplus(a))), input)
    return _inplace_result(input, out, inplace)


def _logsigmoid(a: Tensor) -> Tensor:
    """``-softplus(-x)`` written so neither branch can overflow: min(x, 0) - log1p(exp(-|x|))."""
    pos = R.log1p(R.exp(-R.clamp(a, min=0.0)))
    neg = a - R.log1p(R.exp(_nonpositive(a)))
    return R.where(a > 0, 0.0 - pos, neg)  # (0 - pos: +0.0 at inf, as PyTorch)


def logsigmoid(input: Tensor) -> Tensor:
    _float_only(input, "logsigmoid")
    return composite("LogSigmoidBackward0", in_float32(_logsigmoid), input)


def _implicit_dim(ndim: int, name: str) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to "
        "include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    return _softmax(input, _implicit_dim(input.ndim, "softmax") if dim is None else dim, dtype)


def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    d = _implicit_dim(input.ndim, "log_softmax") if dim is None else dim
    return _log_softmax(input, d, dtype)


def softmin(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    return _softmax(-input, _implicit_dim(input.ndim, "softmin") if dim is None else dim, dtype)


# ---- dropout ---------------------------------------------------------------------------------
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    scale_check(input, p)
    mask = dropout_mask(input, p)  # PyTorch's bernoulli_(1 - p) / (1 - p), same draws
    return _inplace_result(input, input * mask, inplace)


def scale_check(input: Tensor, p: float) -> None:
    """PyTorch scales the kept elements by a float ``1 / (1 - p)``: integers cannot hold it."""
    if p < 1.0 and not input.dtype.is_floating_point:
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type {input.dtype.type_name}"
        )


# ---- normalization ---------------------------------------------------------------------------
def _layer_norm(a: Tensor, n: int, w: Tensor | None, b: Tensor | None, eps: float) -> Tensor:
    axes = tuple(range(a.ndim - n, a.ndim))
    mu = R.mean(a, axes, keepdim=True)
    d = a - mu
    var = R.mean(d * d, axes, keepdim=True)
    y = d * R.rsqrt(var + eps)
    y = y * w if w is not None else y
    return y + b if b is not None else y


def layer_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    _float_only(input, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape) :]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in shape)}], but got input of size"
            f"{list(input.shape)}"
        )
    from adjit.nn.functional_norm import check_mixed, in_input_type

    check_mixed(input, weight, bias)  # (Note [mixed-dtype norms])
    fast = _eager_layer_norm(input, len(shape), weight, bias, eps)
    if fast is not None:  # (Note [eager layer norm])
        return fast
    return composite(
        "NativeLayerNormBackward0", in_input_type(_layer_norm), input, len(shape), weight, bias, eps
    )


def normalize(
    input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None
) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``: PyTorch's decomposition, whose norm has
    gradient 0 at a zero row (so a zero row's gradient is ``g / eps``, not NaN)."""
    denom = R.norm(input, p, dim, keepdim=True)
    return input / R.clamp_min(denom, eps).expand_as(input)


# ---- one_hot, pad -----------------------------------------------------------------
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    # checked when it runs, if traced (Note [run-time checks]); in PyTorch's order
    t = check(tensor, tensor >= 0, RuntimeError, "Class values must be non-negative.")
    if num_classes == -1:  # the result's shape depends on the values: not traceable
        if not t.numel():
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        shape_from_values("one_hot(num_classes=-1)", "max(input) + 1 classes", t)
        num_classes = int(t.max().item()) + 1
    t = check(t, t < num_classes, RuntimeError, "Class values must be smaller than num_classes.")
    classes = Tensor._make(np.arange(num_classes, dtype=np.int64))
    return (t.unsqueeze(-1) == classes).to(t.dtype)


def _pad_dim(a: Tensor, axis: int, before: int, after: int, value: float) -> Tensor:
    lo, hi = max(-before, 0), max(-after, 0)
    if a.shape[axis] - lo - hi < 0:  # (PyTorch crops with narrow)
        raise RuntimeError("narrow(): length must be non-negative.")
    if lo or hi:  # negative padding crops
        a = R.narrow(a, axis, lo, a.shape[axis] - lo - hi)

    def block(n: int) -> Tensor:
        shape = tuple(n if i == axis else s for i, s in enumerate(a.shape))
        return _full(shape, value, dtype=a.dtype)  # (np.full would fix a symbolic size)

    pieces = ([block(before)] if before > 0 else []) + [a] + ([block(after)] if after > 0 else [])
    return R.cat(pieces, axis) if len(pieces) > 1 else a


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """Padding: ``pad`` lists (before, after) pairs starting from the last dimension; modes
    'constant', 'reflect', 'replicate' and 'circular'."""
    if mode != "constant":
        from adjit.nn.functional_pad import pad_nd

        return pad_nd(input, pad, mode)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input "
            "dimension but got padding length "
            f"{len(pad)} and input of dimension {input.ndim}"
        )
    fill = 0.0 if value is None else value

    def decomposition(a: Tensor) -> Tensor:
        for k in range(len(pad) // 2):
            a = _pad_dim(a, a.ndim - 1 - k, int(pad[2 * k]), int(pad[2 * k + 1]), fill)
        return a

    return not_a_view(composite("ConstantPadNdBackward0", decomposition, input), input)


# convolution, pooling, batch norm, unfold/fold live in their own modules (re-exported here)
from adjit.nn.functional_conv import batch_norm, dropout2d  # noqa: E402
from adjit.nn.functional_convnd import (  # noqa: E402
    conv1d,
    conv2d,
    conv3d,
    conv_tbc,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from adjit.nn.functional_fold import fold, unfold  # noqa: E402
from adjit.nn.functional_pool import (  # noqa: E402
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool2d_with_indices,
    max_pool3d,
    max_pool3d_with_indices,
)
from adjit.nn.functional_pool_adaptive import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d,
    adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d,
    adaptive_max_pool3d_with_indices,
)
from adjit.nn.functional_pool_extra import (  # noqa: E402
    fractional_max_pool2d,
    fractional_max_pool2d_with_indices,
    fractional_max_pool3d,
    fractional_max_pool3d_with_indices,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)

__all__ += ["batch_norm", "conv2d", "dropout2d"]
__all__ += ["avg_pool1d", "avg_pool2d", "avg_pool3d", "max_pool1d", "max_pool1d_with_indices"]
__all__ += ["max_pool2d", "max_pool2d_with_indices", "max_pool3d", "max_pool3d_with_indices"]
__all__ += ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"]
__all__ += ["adaptive_max_pool1d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d"]
__all__ += ["adaptive_max_pool2d_with_indices", "adaptive_max_pool3d"]
__all__ += ["adaptive_max_pool3d_with_indices", "fractional_max_pool2d"]
__all__ += ["fractional_max_pool2d_with_indices", "fractional_max_pool3d"]
__all__ += ["fractional_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d"]
__all__ += ["max_unpool1d", "max_unpool2d", "max_unpool3d"]
__all__ += ["fold", "unfold"]
__all__ += ["conv1d", "conv3d", "conv_tbc", "conv_transpose1d", "conv_transpose2d"]
__all__ += ["conv_transpose3d"]

# activations, distances, normalizations, losses and attention added for issue 13
from adjit.nn import _losses_margin as _lm  # noqa: E402
from adjit.nn import functional_activation as _act  # noqa: E402
from adjit.nn import functional_attention as _attn  # noqa: E402
from adjit.nn import functional_distance as _dist  # noqa: E402
from adjit.nn import functional_norm as _norm  # noqa: E402
from adjit.nn._losses_margin import *  # noqa: E402, F403
from adjit.nn.functional_activation import *  # noqa: E402, F403
from adjit.nn.functional_attention import *  # noqa: E402, F403
from adjit.nn.functional_distance import *  # noqa: E402, F403
from adjit.nn.functional_norm import *  # noqa: E402, F403

__all__ += [*_act.__all__, *_dist.__all__, *_norm.__all__, *_lm.__all__, *_attn.__all__]

# connectionist temporal classification
from adjit.nn.functional_ctc import ctc_loss  # noqa: E402

__all__ += ["ctc_loss"]

# resampling (interpolate and its deprecated aliases)
from adjit.nn import functional_resample as _resample  # noqa: E402
from adjit.nn.functional_resample import *  # noqa: E402, F403

__all__ += _resample.__all__

# embedding and embedding_bag
from adjit.nn.functional_embedding import embedding, embedding_bag  # noqa: E402

__all__ += ["embedding_bag"]

# grid sampling
from adjit.nn.functional_grid import affine_grid, grid_sample  # noqa: E402

__all__ += ["affine_grid", "grid_sample"]


# multi-head attention (PyTorch's slow path)
from adjit.nn.functional_mha import (  # noqa: E402, F401
    _canonical_mask,
    _none_or_dtype,
    multi_head_attention_forward,
)

__all__ += ["multi_head_attention_forward"]

# the gradients of convolutions (``torch.nn.functional.grad`` is ``torch.nn.grad``)
from adjit.nn import grad as grad  # noqa: E402

GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}

native_channel_shuffle = _attn.channel_shuffle
from adjit.overrides import (  # noqa: E402, F401  (PyTorch's functional imports them)
    handle_torch_function,
    has_torch_function,
    has_torch_function_unary,
    has_torch_function_variadic,
)
