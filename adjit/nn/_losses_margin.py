"""More losses of ``adjit.nn.functional`` (divergence, Poisson and Gaussian likelihoods, the
margin and embedding losses) as PyTorch's decompositions."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from adjit.nn._losses import _reduce, _reduction, broadcast_shape
from adjit.nn.functional_distance import pairwise_distance
from adjit.runtime import autocast
from adjit.runtime import functional as R
from adjit.runtime.autocast import autocast_op
from adjit.runtime.checks import check, in_range
from adjit.runtime.creation import full_like, zeros_like
from adjit.runtime.dispatch import composite, with_rule
from adjit.runtime.dtype_info import can_cast, result_type
from adjit.runtime.grad_mode import is_grad_enabled
from adjit.runtime.kernel_dtypes import require_float
from adjit.runtime.tensor import Tensor

__all__ = [
    "cosine_embedding_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "kl_div",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "poisson_nll_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]


def _valid(reduction: str) -> str:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


@autocast_op("kl_div")
def kl_div(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """``target * (log target - input)`` (or with a log target), reduced; 'batchmean' divides
    the sum by the batch size."""
    if size_average is not None or reduce is not None:
        r = _reduction(size_average, reduce, "mean")
    elif reduction == "batchmean":
        r = reduction
    else:
        r = _valid(reduction)
    if not (input.dtype.is_floating_point or input.dtype.is_complex) or not (
        target.dtype.is_floating_point or target.dtype.is_complex
    ):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if r == "mean":  # (warned before the broadcast check, as PyTorch's)
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=autocast.stacklevel(2),
        )
    broadcast_shape(tuple(target.shape), tuple(input.shape))
    if log_target:
        loss = R.exp(target) * (target - input)
    else:
        loss = R.xlogy(target, target) - target * input
    if r == "batchmean":
        total = R.sum(loss)
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, r)


@autocast_op("poisson_nll_loss")
def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average: Any = None,
    eps: float = 1e-8,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    r = _reduction(size_average, reduce, reduction)
    loss = R.exp(input) - target * input if log_input else input - target * R.log(input + eps)
    if full:
        t = target
        stirling = t * R.log(t) - t + 0.5 * R.log(2 * math.pi * t)
        loss = loss + R.where(t <= 1, 0.0, stirling)
    return _reduce(loss, r)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """``0.5 * (log var + (input - target)^2 / var)``, var clamped below at ``eps`` (without
    touching its gradient, as PyTorch's in-place clamp under no_grad)."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * R.broadcast_to(Tensor._make(_ones_like(input)), tuple(input.shape))
    else:
        var = check(var, var >= 0, ValueError, "var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = R.unsqueeze(var, -1)
        elif not (
            input.ndim == var.ndim
            and sum(y for x, y in zip(input.shape, var.shape, strict=True) if x != y) == 1
        ):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not valid")
    var = var + (R.clamp_min(var.detach(), eps) - var.detach())
    loss = 0.5 * (R.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def _ones_like(t: Tensor) -> Any:
    return np.ones(tuple(t.shape), t.dtype.np)


@autocast_op("hinge_embedding_loss")
def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    r = _reduction(size_average, reduce, reduction)
    zeros = zeros_like(input.detach())
    if input.dtype.is_floating_point:
        margin_clamp = R.clamp_min(margin - input, 0)
    else:  # PyTorch's ``margin - self`` fills a tensor of the input's dtype with the margin
        if input.dtype.name == "bool":
            raise RuntimeError(_BOOL_SUB)
        margin_clamp = R.clamp_min(full_like(input, margin) - input, 0)
    broadcast_shape(tuple(target.shape), tuple(input.shape))  # (PyTorch's where on the target)
    loss = R.where(target != 1, margin_clamp, zeros) + R.where(target != -1, input, zeros)
    return _reduce(loss, r)


@autocast_op("margin_ranking_loss")
def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    r = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} "
        )
    return _reduce(R.clamp_min(-target * (input1 - input2) + margin, 0), r)


def _not_differentiable(fn: str, arg: str, t: Tensor) -> None:
    """PyTorch's refusal of an argument its kernel has no derivative for."""
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"The function '{fn}' is not differentiable with respect to argument '{arg}'. "
            "This input cannot have requires_grad True."
        )


@autocast_op("soft_margin_loss")
def soft_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    r = _reduction(size_average, reduce, reduction)
    _not_differentiable("soft_margin_loss", "target", target)
    target = _soft_margin_target(input, target)
    rule = _SoftMarginRule(1.0 / input.numel() if r == "mean" and input.numel() else 1.0)
    return composite(
        "SoftMarginLossBackward0",
        lambda x, y: with_rule(rule, lambda a, b: _reduce(R.log1p(R.exp(-a * b)), r), x, y),
        input,
        target,
    )


_BOOL_SUB = (
    "Subtraction, the `-` operator, with two bool tensors is not supported. "
    "Use the `^` or `logical_xor()` operator instead."
)


def _soft_margin_target(input: Tensor, target: Tensor) -> Tensor:
    """PyTorch's ``neg_out(out, input).mul_(target).exp_().log1p_()`` writes the input's shape
    and dtype: the target must broadcast to it and the result type cast to it; a float target
    of another dtype is read in the input's."""
    if input.dtype.name == "bool":
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    shape = broadcast_shape(tuple(input.shape), tuple(target.shape))
    if shape != tuple(input.shape):
        raise RuntimeError(
            f"output with shape {list(input.shape)} doesn't match the broadcast shape {list(shape)}"
        )
    common = result_type(input, target)
    if not can_cast(common, input.dtype):
        raise RuntimeError(
            f"result type {common.type_name} can't be cast to the desired output type "
            f"{input.dtype.type_name}"
        )
    if not input.dtype.is_floating_point:  # (exp_ in place)
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type {input.dtype.type_name}"
        )
    return target if target.dtype == input.dtype else target.to(input.dtype)


class _SoftMarginRule:
    """PyTorch's soft_margin_loss_backward: ``(y * exp(-y x)) * -norm / (exp(-y x) + 1) * g``,
    each step rounded in the input's dtype (float16 gradients match bit for bit)."""

    def __init__(self, norm: float) -> None:
        self.norm = norm

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return repr(f"soft_margin(norm={self.norm})")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        x, y = inputs[1], inputs[2].detach()
        z = R.exp(-y * x)
        if not needs[1]:
            return (None, None, None)
        yz = y * z
        norm = Tensor._make(np.asarray(-self.norm, yz.dtype.np))  # (rounded to the dtype first)
        return (None, yz * norm / (z + 1) * g, None)


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    from adjit.nn.functional import logsigmoid

    r = _reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = R.sum(loss, class_dim) / input.shape[class_dim]
    return _reduce(loss, r)


def _class_inputs(input: Tensor, target: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """``(N, C)`` views of a 0-, 1- or 2-D input and its target."""
    if input.ndim > 2 or (input.ndim == 2 and input.shape[1] == 0):
        shape = list(input.shape)
        raise RuntimeError(
            f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: {shape}"
        )
    x = R.reshape(input, (1, -1)) if input.ndim < 2 else input
    return x, target


def _class_dtypes(input: Tensor, target: Tensor, kernel: str, weight: Tensor | None) -> None:
    """After the shape checks, as PyTorch's kernel: the input floating point, the target
    int64, the weight of the input's dtype."""
    require_float(input, kernel)
    for t, want in ((target, "int64"), (weight, input.dtype.name)):
        if t is not None and t.dtype.name != want:
            expected = "Long" if t is target else input.dtype.type_name
            raise RuntimeError(f"expected scalar type {expected} but found {t.dtype.type_name}")


@autocast_op("multilabel_margin_loss")
def multilabel_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """``sum_j sum_{i not a target} max(0, 1 - (x[y_j] - x[i])) / C`` over the targets ``y_j``
    listed before the first -1."""
    r = _reduction(size_average, reduce, reduction)
    x, _ = _class_inputs(input, target, "multilabel_margin_loss")
    c = x.shape[1]
    if tuple(target.shape) != tuple(input.shape) and not (input.ndim == 0 and target.numel() == 1):
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}"
        )
    _class_dtypes(input, target, "multilabel_margin_loss_forward_out_frame", None)
    t = R.reshape(target, (x.shape[0], c))
    listed = R.cumprod((t != -1).to(t.dtype), 1) > 0  # the targets before the first -1
    # every target is checked, also those after the first -1 (as PyTorch's kernel)
    t = check(t, in_range(t, -1, c), RuntimeError, "argument #2 'target' is out of range")
    safe = R.where(listed, t, 0)
    classes = Tensor._make(np.arange(c, dtype=np.int64))
    hit = R.logical_and(R.unsqueeze(safe, 2) == classes, R.unsqueeze(listed, 2))  # (N, J, C)
    is_target = R.any(hit, 1)  # (N, C)
    keep = R.logical_and(R.unsqueeze(listed, 2), R.unsqueeze(R.logical_not(is_target), 1))
    name = "MultilabelMarginLossBackward0"

    def decomposition(a: Tensor) -> Tensor:
        picked = R.gather(a, 1, safe)  # (N, J)
        z = 1 - R.unsqueeze(picked, 2) + R.unsqueeze(a, 1)  # (N, J, C)
        hinge = R.where(R.logical_and(keep, z > 0), z, 0.0)
        loss = R.sum(hinge, (1, 2)) / c
        loss = R.reshape(loss, ()) if input.ndim < 2 and r == "none" else loss
        return _reduce(loss, r)

    return composite(name, decomposition, x)


@autocast_op("multi_margin_loss")
def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """``sum_{i != y} max(0, margin - x[y] + x[i])^p * weight[y] / C``."""
    r = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    if weight is not None:
        _not_differentiable("multi_margin_loss", "weight", weight)
    x, _ = _class_inputs(input, target, "multi_margin_loss")
    n, c = x.shape
    if not (target.ndim <= 1 and target.numel() == n):
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{n}], but got "
            f"{list(target.shape)}. Input has shape {list(input.shape)}."
        )
    if weight is not None and weight.numel() != c:
        raise RuntimeError(f"inconsistent weight size, expected {c} but got {list(weight.shape)}")
    _class_dtypes(input, target, "multi_margin_loss_cpu_kernel", weight)
    t = check(
        R.reshape(target, (n,)),
        in_range(R.reshape(target, (n,)), 0, c),
        RuntimeError,
        "target out of range",
    )
    classes = Tensor._make(np.arange(c, dtype=np.int64))
    other = R.unsqueeze(t, 1) != classes  # (N, C)

    def decomposition(a: Tensor, *w: Tensor) -> Tensor:
        picked = R.gather(a, 1, R.unsqueeze(t, 1))  # (N, 1)
        z = margin - picked + a
        h = R.where(R.logical_and(other, z > 0), z, 0.0)
        h = h * h if p == 2 else h
        if w:
            h = h * R.unsqueeze(w[0].detach()[t], 1)
        return _reduce(R.sum(h, 1) / c, r)

    extra = () if weight is None else (weight,)
    return composite("MultiMarginLossBackward0", decomposition, x, *extra)


@autocast_op("cosine_embedding_loss")
def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    r = _reduction(size_average, reduce, reduction)
    d = target.ndim
    if d not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = 2 if d == 1 else 1
    if input1.ndim != want or input2.ndim != want:
        raise RuntimeError(
            f"{d}D target tensor expects {want}D input tensors, but found inputs with sizes "
            f"{list(input1.shape)} and {list(input2.shape)}."
        )
    prod = R.sum(input1 * input2, d)
    mag1 = R.sum(input1 * input1, d) + 1e-12
    mag2 = R.sum(input2 * input2, d) + 1e-12
    cos = prod / R.sqrt(mag1 * mag2)
    zeros = zeros_like(cos.detach())
    pos = R.where(target == 1, 1 - cos, zeros)
    neg = R.where(target == -1, R.clamp_min(cos - margin, 0), zeros)
    return _reduce(pos + neg, r)


def _positive_margin(margin: float) -> None:
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")


def _same_ndim(a: Tensor, p: Tensor, n: Tensor) -> None:
    if not a.ndim == p.ndim == n.ndim:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got: anchor {a.ndim}D, positive {p.ndim}D, and negative "
            f"{n.ndim}D inputs"
        )


def _triplet(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    dist: Callable[[Tensor, Tensor], Tensor],
    margin: float,
    swap: bool,
    r: str,
) -> Tensor:
    d_pos, d_neg = dist(anchor, positive), dist(anchor, negative)
    if swap:
        d_neg = R.minimum(d_neg, dist(positive, negative))
    return _reduce(R.clamp_min(margin + d_pos - d_neg, 0), r)


@autocast_op("triplet_margin_loss")
def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    r = _reduction(size_average, reduce, reduction)
    _positive_margin(margin)
    _same_ndim(anchor, positive, negative)
    return _triplet(
        anchor, positive, negative, lambda u, v: pairwise_distance(u, v, p, eps), margin, swap, r
    )


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    r = _valid(reduction)
    _positive_margin(margin)
    _same_ndim(anchor, positive, negative)
    dist = distance_function if distance_function is not None else pairwise_distance
    return _triplet(anchor, positive, negative, dist, margin, swap, r)
