"""``torch.dropout``, ``torch.layer_norm`` & co.: nn functions PyTorch also binds in ``torch``,
with ATen's signatures (positional flags, integer reductions, ``embedding(weight, ids)``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from adjit.nn import functional as F
from adjit.nn import functional_activation as FA
from adjit.nn import functional_norm as FN
from adjit.nn._losses import _reduce
from adjit.runtime.ops_shape import broadcast_tensors
from adjit.runtime.tensor import Tensor

__all__ = [
    "batch_norm",
    "bilinear",
    "binary_cross_entropy_with_logits",
    "celu",
    "celu_",
    "channel_shuffle",
    "constant_pad_nd",
    "cosine_embedding_loss",
    "cosine_similarity",
    "ctc_loss",
    "embedding",
    "group_norm",
    "hinge_embedding_loss",
    "instance_norm",
    "kl_div",
    "layer_norm",
    "margin_ranking_loss",
    "pairwise_distance",
    "pdist",
    "pixel_shuffle",
    "pixel_unshuffle",
    "poisson_nll_loss",
    "prelu",
    "rms_norm",
    "rrelu",
    "rrelu_",
    "selu",
    "selu_",
    "threshold",
    "threshold_",
    "triplet_margin_loss",
]

# Note [ATen spellings in torch]
# PyTorch binds these ATen operators in ``torch`` with their schema's signatures, which differ
# from torch.nn.functional's: the flags have no defaults (``torch.dropout(x, p, train)``), a loss
# takes ``reduction`` as ATen's integer (0 none, 1 mean, 2 sum; any other value returns the
# unreduced loss, as ATen's apply_loss_reduction does; an omitted one is 0, unreduced: PyTorch's
# Python binding cannot parse the schema's default, at::Reduction::Mean, and falls back to 0, as
# measured side by side), ``embedding`` takes the weight first, and
# dropout's bad probability is a RuntimeError, not nn.functional's ValueError. Each wrapper maps
# its arguments onto the nn.functional implementation (same values, same random draws) and
# nothing else; kl_div's "mean" is ATen's plain mean, without nn.functional's batchmean warning.

_REDUCTIONS = {1: "mean", 2: "sum"}


def _reduction(code: int) -> str:
    return _REDUCTIONS.get(code, "none")


def _probability(p: float) -> None:
    if p < 0 or p > 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(name: str, fn: Callable[[Tensor, float, bool, bool], Tensor], inplace: bool) -> Any:
    """``torch.<name>(input, p, train)``: ATen's probability check, then nn.functional's."""

    def call(input: Tensor, p: float, train: bool) -> Tensor:
        _probability(p)
        return fn(input, p, train, inplace)

    call.__name__ = call.__qualname__ = name
    return call


_DROPOUTS: dict[str, Callable[[Tensor, float, bool, bool], Tensor]] = {
    "dropout": F.dropout,
    "alpha_dropout": FA.alpha_dropout,
    "feature_alpha_dropout": FA.feature_alpha_dropout,
    "feature_dropout": FA._feature_dropout,  # (channel dropout of any rank >= 2)
}
globals().update(
    {n + s: _dropout(n + s, fn, s == "_") for n, fn in _DROPOUTS.items() for s in ("", "_")}
)
__all__ += [n + s for n in _DROPOUTS for s in ("", "_")]


def layer_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-05,
    cudnn_enable: bool = True,
) -> Tensor:
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def batch_norm(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-05,
    cudnn_enabled: bool = True,
) -> Tensor:
    """ATen's group norm: its checks first (the batch and channel sizes read, then the groups),
    and no nn.functional "more than 1 value per channel" refusal."""
    input.size(0), input.size(1)  # (a 0-d or 1-d input: ATen's IndexError)
    return FN.checked_group_norm(input, num_groups, weight, bias, eps)


def instance_norm(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    use_input_stats: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    if input.ndim < 2:  # (ATen reads the channel count first)
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    return F.instance_norm(
        input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )


def rms_norm(
    input: Tensor, normalized_shape: Any, weight: Tensor | None = None, eps: float | None = None
) -> Tensor:
    return F.rms_norm(input, normalized_shape, weight, eps)


def embedding(
    weight: Tensor,
    indices: Tensor,
    padding_idx: int = -1,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """ATen's embedding: the weight first, and a negative padding_idx means none (ATen's
    convention; nn.functional would take -1 as the last row)."""
    return F.embedding(
        indices,
        weight,
        None if padding_idx < 0 else padding_idx,
        scale_grad_by_freq=scale_grad_by_freq,
        sparse=sparse,
    )


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-08) -> Tensor:
    return F.cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-06, keepdim: bool = False
) -> Tensor:
    return F.pairwise_distance(x1, x2, p, eps, keepdim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    return F.pdist(input, p)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    return F.pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    return F.pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    return F.channel_shuffle(input, groups)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    return F.prelu(input, weight)


def selu(input: Tensor) -> Tensor:
    return F.selu(input)


def selu_(input: Tensor) -> Tensor:
    return F.selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    return F.celu(input, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return F.celu(input, alpha, inplace=True)


def rrelu(
    input: Tensor,
    lower: float = 0.125,
    upper: float = 1.0 / 3.0,
    training: bool = False,
    generator: Any = None,
) -> Tensor:
    _default_generator("rrelu", generator)
    return F.rrelu(input, lower, upper, training)


def rrelu_(
    input: Tensor,
    lower: float = 0.125,
    upper: float = 1.0 / 3.0,
    training: bool = False,
    generator: Any = None,
) -> Tensor:
    _default_generator("rrelu_", generator)
    return F.rrelu_(input, lower, upper, training)


def _default_generator(name: str, generator: Any) -> None:
    if generator is not None:
        raise NotImplementedError(f"adjit's {name} draws from the default generator only")


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    return F.threshold(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return F.threshold_(input, threshold, value)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    return F.bilinear(input1, input2, weight, bias)


def constant_pad_nd(input: Tensor, pad: Any, value: float = 0) -> Tensor:
    return F.pad(input, pad, "constant", value)


def kl_div(
    input: Tensor, target: Tensor, reduction: int = 0, *, log_target: bool = False
) -> Tensor:
    with warnings.catch_warnings():  # (ATen's mean: no batchmean advice)
        warnings.simplefilter("ignore", UserWarning)
        return F.kl_div(input, target, reduction=_reduction(reduction), log_target=log_target)


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: int = 0
) -> Tensor:
    """ATen's formula, broadcasting its operands (nn.functional also requires equal ranks)."""
    loss = (-target * (input1 - input2) + margin).clamp_min(0)
    return _reduce(loss, _reduction(reduction))


def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0, reduction: int = 0
) -> Tensor:
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: int = 0
) -> Tensor:
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-06,
    swap: bool = False,
    reduction: int = 0,
) -> Tensor:
    return F.triplet_margin_loss(
        anchor, positive, negative, margin, p, eps, swap, reduction=_reduction(reduction)
    )


def poisson_nll_loss(
    input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float, reduction: int
) -> Tensor:
    return F.poisson_nll_loss(
        input, target, log_input, full, eps=eps, reduction=_reduction(reduction)
    )


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    pos_weight: Tensor | None = None,
    reduction: int = 0,
) -> Tensor:
    """ATen's loss broadcasts input and target (nn.functional requires equal sizes)."""
    shape = target.shape
    target, input = broadcast_tensors(target, input)  # (the order of ATen's error text)
    if target.shape != shape:  # (ATen's forward writes into a target-shaped result)
        raise RuntimeError(
            f"output with shape {list(shape)} doesn't match the broadcast shape "
            f"{list(target.shape)}"
        )
    return F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction(reduction), pos_weight=pos_weight
    )


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: int = 0,
    zero_infinity: bool = False,
) -> Tensor:
    return F.ctc_loss(
        log_probs,
        targets,
        input_lengths,
        target_lengths,
        blank,
        reduction=_reduction(reduction),
        zero_infinity=zero_infinity,
    )
