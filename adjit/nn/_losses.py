"""Loss functions of ``adjit.nn.functional``: decompositions with PyTorch's node names."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from adjit.ir.ops import Op
from adjit.ir.shapes import infer_size
from adjit.nn._eager_cross_entropy import cross_entropy as _eager_cross_entropy
from adjit.nn._onehot_nll import onehot_cross_entropy, traced_rows
from adjit.runtime import autocast
from adjit.runtime import functional as R
from adjit.runtime.autocast import autocast_op
from adjit.runtime.checks import check, in_range
from adjit.runtime.dispatch import apply, composite, with_rule
from adjit.runtime.dtype_info import can_cast, result_type
from adjit.runtime.kernel_dtypes import not_implemented, require_float
from adjit.runtime.tensor import Tensor

REDUCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "none": lambda t: t,
    "mean": lambda t: R.mean(t),
    "sum": lambda t: R.sum(t),
}


def _reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """The legacy ``size_average``/``reduce`` flags, folded into a reduction name."""
    if size_average is None and reduce is None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"{reduction} is not a valid value for reduction")
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def _reduce(t: Tensor, reduction: str) -> Tensor:
    return REDUCTIONS[reduction](t)


def _check_sizes(input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=autocast.stacklevel(3),
        )


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """PyTorch's infer_size of tensor a with tensor b (its error a RuntimeError)."""
    return infer_size(a, b, RuntimeError)


def _check_broadcast(input: Tensor, target: Tensor) -> None:
    """PyTorch's elementwise losses broadcast ``input`` with ``target`` first."""
    broadcast_shape(tuple(input.shape), tuple(target.shape))


def _float_kernel(
    input: Tensor, target: Tensor, kernel: str, *, out_is_input: bool = False
) -> tuple[Tensor, Tensor]:
    """Both operands in their common dtype, which PyTorch's ``kernel`` needs floating point
    (a bool input with a float target runs); ``out_is_input``: the result keeps the input's
    dtype, so a common dtype it cannot be cast to is refused first."""
    common = result_type(input, target)
    if out_is_input and not can_cast(common, input.dtype):
        raise RuntimeError(
            f"result type {common.type_name} can't be cast to the desired output type "
            f"{input.dtype.type_name}"
        )
    if not common.is_floating_point:
        raise not_implemented(kernel, common)
    return input.to(common), target.to(common)


def _weighted(loss: Tensor, input: Tensor, weight: Tensor, r: str, by_weight: bool) -> Tensor:
    """PyTorch's weighted losses are plain ops: ``reduce(loss * weight)``, where 'mean' divides
    by ``weight.sum()`` for mse and l1 (``by_weight``) but by the element count for huber."""
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    if r == "mean" and by_weight:
        return R.sum(loss * weight) / R.sum(weight)
    return _reduce(loss * weight, r)


@autocast_op("mse_loss")
def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    r = _reduction(size_average, reduce, reduction)
    _check_sizes(input, target)
    _check_broadcast(input, target)
    if weight is not None:
        return _weighted(R.pow(input - target, 2), input, weight, r, True)
    input, target = _float_kernel(input, target, "mse_cpu")
    return composite("MseLossBackward0", lambda a, b: _reduce((a - b) * (a - b), r), input, target)


@autocast_op("l1_loss")
def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    r = _reduction(size_average, reduce, reduction)
    _check_sizes(input, target)
    _check_broadcast(input, target)
    if weight is not None:
        return _weighted(R.abs(input - target), input, weight, r, True)
    return _reduce(R.abs(input - target), r)


class _SlopeRule:
    """The derivative rule of a per-element loss of d = input - target: ``g * slope(d)`` for the
    input and its negation for the target (Note [huber's gradient])."""

    def __init__(self, name: str, slope: Callable[[Tensor], Tensor]) -> None:
        self.name, self.slope = name, slope

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return repr(self.name)

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        grad = g * self.slope(inputs[1] - inputs[2])
        return (None, grad if needs[1] else None, -grad if needs[2] else None)


# Note [huber's gradient]
# PyTorch's huber_loss_backward is g * clamp(d, -delta, delta) (smooth_l1: g * clamp(d / beta,
# -1, 1), NaN kept). Differentiated op by op, the two-branch value sends the untaken branch
# 0 * inf = NaN at d = +-inf, and any product form gives inf - inf = NaN under an infinite
# upstream gradient; so the value is computed without history and carries PyTorch's formula
# as its derivative rule (CUSTOM_VJP, Note [custom functions traced] in ir/custom.py).


def _per_element(a: Tensor, b: Tensor, value: Callable[[Tensor], Tensor], rule: Any) -> Tensor:
    return with_rule(rule, lambda a, b: value(a - b), a, b)


def _huber_value(d: Tensor, delta: float) -> Tensor:
    z = R.abs(d)
    return R.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))


def _smooth_l1_value(d: Tensor, beta: float) -> Tensor:
    z = R.abs(d)
    return R.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)


def _clip_slope(d: Tensor, lo: float, hi: float, inside: Tensor) -> Tensor:
    return R.where(d < lo, lo, R.where(d > hi, hi, inside))  # NaN: the inside form


def _smooth_l1(a: Tensor, b: Tensor, beta: float, r: str) -> Tensor:
    if beta == 0.0:
        return _reduce(R.abs(a - b), r)
    rule = _SlopeRule(
        f"smooth_l1(beta={beta})", lambda d: _clip_slope(d / beta, -1.0, 1.0, d / beta)
    )
    return _reduce(_per_element(a, b, lambda d: _smooth_l1_value(d, beta), rule), r)


@autocast_op("smooth_l1_loss")
def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _check_sizes(input, target)
    _check_broadcast(input, target)
    r = _reduction(size_average, reduce, reduction)
    if beta != 0.0:  # beta 0 is PyTorch's l1_loss
        input, target = _float_kernel(input, target, "smooth_l1_cpu")
    return composite("SmoothL1LossBackward0", _smooth_l1, input, target, beta, r)


def _huber(a: Tensor, b: Tensor, delta: float, r: str) -> Tensor:
    rule = _SlopeRule(f"huber(delta={delta})", lambda d: _clip_slope(d, -delta, delta, d))
    return _reduce(_per_element(a, b, lambda d: _huber_value(d, delta), rule), r)


@autocast_op("huber_loss")
def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    r = _reduction(None, None, reduction)
    _check_sizes(input, target)
    _check_broadcast(input, target)
    out = input.dtype  # PyTorch's huber writes the input's dtype
    input, target = _float_kernel(input, target, "huber_cpu", out_is_input=True)
    if weight is not None:
        unweighted = composite("HuberLossBackward0", _huber, input, target, delta, "none")
        unweighted = unweighted if unweighted.dtype == out else unweighted.to(out)
        return _weighted(unweighted, input, weight, r, False)
    loss = composite("HuberLossBackward0", _huber, input, target, delta, r)
    return loss if loss.dtype == out else loss.to(out)


# ---- negative log likelihood and cross entropy -----------------------------------------------
def _class_weights(
    weight: Tensor | None, target: Tensor, ignore_index: int, like: Tensor
) -> Tensor:
    """Per-sample weight ``weight[target]``, zero where target == ignore_index (no history).
    Tensor ops only, so it traces when the target is a compiled function's argument."""
    keep = target != ignore_index
    if weight is None:
        return keep.to(like.dtype)
    safe = R.where(keep, target, 0)
    return R.where(keep, weight.detach()[safe], 0.0).to(like.dtype)


def _check_target_shape(input: Tensor, target: Tensor) -> None:
    """PyTorch's nll_loss shape checks, in its order (Note [nll_loss check order])."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim != 1 and input.shape[0] != (target.shape[0] if target.ndim else 0):
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target "
            f"batch_size ({target.shape[0] if target.ndim else 0})."
        )
    if input.ndim in (3,) or input.ndim > 4:
        want = [input.shape[0], *input.shape[2:]]
        if list(target.shape) != want:
            raise RuntimeError(f"Expected target size {want}, got {list(target.shape)}")
    if input.ndim <= 2 and target.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input.ndim == 4 and target.ndim != 3:
        raise RuntimeError(
            "only batches of spatial targets supported (3D tensors) but got targets of "
            f"dimension: {target.ndim}"
        )
    if target.dtype.name not in ("int64", "uint8"):
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {_type_name(target)}"
        )
    if input.ndim == 1 and target.ndim == 1 and target.shape[0] != 1:
        raise ValueError(
            f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}"
        )
    if input.ndim == 4 and tuple(target.shape) != (input.shape[0], *input.shape[2:]):
        raise RuntimeError(
            f"size mismatch (got input: {list(input.shape)} , target: {list(target.shape)}"
        )


# Note [nll_loss check order]
# PyTorch's nll_loss_nd checks the input's rank and the batch size, then (3-D and 5-D+ inputs,
# which it reshapes) the whole target size; nll_loss (1-D, 2-D) and nll_loss2d (4-D) check the
# target's rank, then its dtype (Long or Byte only), then the remaining sizes.


def _check_target(input: Tensor, target: Tensor, ignore_index: int) -> Tensor:
    _check_target_shape(input, target)
    t = target.to(adjit_int64())
    if input.ndim == 1 and t.ndim == 1:
        t = R.reshape(t, ())
    n_classes = input.shape[0 if input.ndim == 1 else 1]
    ok = in_range(t, 0, n_classes, exempt=ignore_index)  # checked when it runs, if traced
    return check(t, ok, IndexError, "Target {} is out of bounds.", detail=t)


def adjit_int64() -> Any:
    from adjit.ir.dtypes import int64

    return int64


def _type_name(t: Tensor) -> str:
    return t.dtype.type_name


def _nll(logp: Tensor, t: Tensor, w: Tensor, r: str, ignore_index: int) -> Tensor:
    axis = 0 if logp.ndim == 1 else 1
    keep = t != ignore_index
    index = R.unsqueeze(R.where(keep, t, 0), axis)  # ignored targets gather any valid class
    # the GATHER op itself: ``t`` is checked already (a second bound check would cost a kernel)
    picked = R.squeeze(apply(Op.GATHER, logp, index, axis=axis), axis)
    # Note [all targets ignored]: where, not a product, keeps an ignored sample's gradient 0
    loss = R.where(keep, -picked, 0.0) * w
    if r == "mean":
        return R.sum(loss) / R.sum(w)
    return _reduce(loss, r)


# Note [all targets ignored]
# With reduction='mean' and every target ignored, the loss is 0/0 = NaN and the cotangent of the
# per-sample losses is g/0 = inf. PyTorch's backward skips ignored samples (its gradient is 0
# there); a product ``-picked * w`` would send inf * 0 = NaN to every logit. A where sends 0 to
# the samples it does not select, whatever the cotangent (and a zero class weight on a sample
# that is not ignored gets 0 * inf = NaN, as in PyTorch).


@autocast_op("nll_loss")
def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """``-input[n, target[n]] * weight[target[n]]``, reduced; ignored targets count for nothing."""
    r = _reduction(size_average, reduce, reduction)
    t = _check_target(input, target, ignore_index)
    w = _class_weights(weight, t, ignore_index, input)
    name = "NllLoss2DBackward0" if input.ndim >= 3 else "NllLossBackward0"
    return composite(name, _nll, input, t, w, r, ignore_index)


def _class_view(weight: Tensor, ndim: int) -> Tensor:
    return R.reshape(weight, (weight.shape[0],) + (1,) * (ndim - 2)) if ndim > 1 else weight


def _soft_cross_entropy(
    logp: Tensor, target: Tensor, weight: Tensor | None, r: str, smoothing: float
) -> Tensor:
    axis = 0 if logp.ndim == 1 else 1
    n_classes = logp.shape[axis]
    if smoothing > 0:
        target = target * (1 - smoothing) + smoothing / n_classes
    prod = logp * target
    if weight is not None:
        prod = prod * _class_view(weight, logp.ndim)
    if r == "mean":
        count = logp.numel() / n_classes
        return composite("DivBackward1", lambda p: -R.sum(p) / count, prod)
    return -R.sum(prod, axis) if r == "none" else -R.sum(prod)


def _smoothed(
    logp: Tensor, t: Tensor, weight: Tensor | None, ignore_index: int, r: str, smoothing: float
) -> Tensor:
    axis = 0 if logp.ndim == 1 else 1
    n_classes = logp.shape[axis]
    keep = _class_weights(None, t, ignore_index, logp)
    nll = _nll(logp, t, _class_weights(weight, t, ignore_index, logp), r, ignore_index)
    weighted = logp * _class_view(weight, logp.ndim) if weight is not None else logp
    smooth = R.where(t != ignore_index, -R.sum(weighted, axis), 0.0)  # (masked_fill, as PyTorch)
    if r == "mean":
        denom = (
            R.sum(_class_weights(weight, t, ignore_index, logp))
            if weight is not None
            else R.sum(keep)
        )
        smooth = R.sum(smooth) / denom
    else:
        smooth = _reduce(smooth, r)
    return nll * (1 - smoothing) + smooth * (smoothing / n_classes)


@autocast_op("cross_entropy_loss")
def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """``nll_loss(log_softmax(input, 1), target)``; also class-probability targets."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    r = _reduction(size_average, reduce, reduction)
    fast = _eager_cross_entropy(input, target, weight, r, ignore_index, label_smoothing)
    if fast is not None:  # (Note [eager cross entropy])
        return fast
    if traced_rows(input) and target.shape != input.shape:  # (Note [cross entropy rows])
        _check_target_shape(input, target)
        t = target.to(adjit_int64())
        return onehot_cross_entropy(input, t, weight, r, ignore_index, label_smoothing)
    logp = R.log_softmax(input, 0 if input.ndim == 1 else 1)
    if tuple(target.shape) == tuple(input.shape):  # class probabilities, as PyTorch reads it
        if not target.dtype.is_floating_point:
            raise RuntimeError(
                "Expected floating point type for target with class probabilities, "
                f"got {_type_name(target)}"
            )
        return _soft_cross_entropy(logp, target, weight, r, label_smoothing)
    if label_smoothing > 0:
        t = _check_target(input, target, ignore_index)
        return _smoothed(logp, t, weight, ignore_index, r, label_smoothing)
    return nll_loss(logp, target, weight, None, ignore_index, None, r)


# ---- binary cross entropy --------------------------------------------------------------------
def _clamped_log(x: Tensor) -> Tensor:
    """``max(log(x), -100)`` as PyTorch's BCE takes it, with a zero (not nan) gradient at x = 0:
    the log only ever sees positive values, so no untaken branch can inject 0 * inf."""
    positive = x > 0
    safe = R.where(positive, x, 1.0)
    return R.where(positive, R.clamp(R.log(safe), min=-100.0), -100.0)


def _bce(x: Tensor, y: Tensor, weight: Tensor | None, r: str) -> Tensor:
    # Note: at exactly x in {0, 1} PyTorch's hand-written gradient (x - y) / max(x (1 - x), 1e-12)
    # and this one differ; both are finite, and they agree everywhere else.
    loss = -(y * _clamped_log(x) + (1 - y) * _clamped_log(1 - x))
    if weight is not None:  # PyTorch's in-place loss.mul_(weight) keeps the loss's dtype
        loss = (loss * weight).to(loss.dtype)
    return _reduce(loss, r)


@autocast_op("binary_cross_entropy")
def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    r = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input "
            f"size ({input.shape}) is deprecated. Please ensure they have the same "
            "size."
        )
    if target.dtype != input.dtype:
        raise RuntimeError(
            f"Found dtype {target.dtype.type_name} but expected {input.dtype.type_name}"
        )
    require_float(input, "binary_cross_entropy")
    # NaN fails too, as in PyTorch; checked when it runs, if traced
    ok = in_range(input, 0, 1, inclusive=True)
    input = check(input, ok, RuntimeError, "all elements of input should be between 0 and 1")
    ok = in_range(target, 0, 1, inclusive=True)
    target = check(target, ok, RuntimeError, "all elements of target should be between 0 and 1")
    return composite("BinaryCrossEntropyBackward0", _bce, input, target, weight, r)


def _bce_logits(
    x: Tensor, y: Tensor, weight: Tensor | None, pos_weight: Tensor | None, r: str
) -> Tensor:
    from adjit.nn.functional import _logsigmoid

    # PyTorch's in-place steps round to the dtype they write: the target's, and for the
    # pos_weight product the input's (a no-op when all dtypes agree)
    neg_logsig = -_logsigmoid(x)  # log(1 + exp(-x)), stable on both sides
    if pos_weight is not None:
        neg_logsig = _as(((pos_weight - 1) * y + 1) * neg_logsig, x.dtype)
    loss = _as(_as((1 - y) * x, y.dtype) + neg_logsig, y.dtype)
    return _reduce(_as(loss * weight, loss.dtype) if weight is not None else loss, r)


def _as(t: Tensor, dtype: Any) -> Tensor:
    return t if t.dtype == dtype else t.to(dtype)


@autocast_op("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    r = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    _check_logits_dtypes(input, target)
    return composite(
        "BinaryCrossEntropyWithLogitsBackward0", _bce_logits, input, target, weight, pos_weight, r
    )


def _check_logits_dtypes(input: Tensor, target: Tensor) -> None:
    """PyTorch's ``log_sigmoid(input)``, then ``(1 - target).mul_(input)``: the loss has the
    target's dtype, which must hold the input's."""
    require_float(input, "log_sigmoid_cpu")
    if target.dtype.name == "bool":
        raise RuntimeError(  # PyTorch's ``1 - target`` wraps the 1 as a bool scalar
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    common = result_type(target, input)
    if not can_cast(common, target.dtype):
        raise RuntimeError(
            f"result type {common.type_name} can't be cast to the desired output type "
            f"{target.dtype.type_name}"
        )
