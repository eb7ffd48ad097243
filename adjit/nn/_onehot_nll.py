"""Compiled cross-entropy's pick of the target as a one-hot mask (Note [cross entropy rows])."""

from __future__ import annotations

from adjit.runtime import functional as R
from adjit.runtime import trace_state
from adjit.runtime.checks import check, in_range
from adjit.runtime.creation import arange
from adjit.runtime.dispatch import composite
from adjit.runtime.tensor import Tensor

# Note [cross entropy rows]
# nll_loss picks ``logp[n, t[n]]`` with a GATHER and sends the gradient back with a
# SCATTER_ADD: in a compiled step both are steps of their own, and with the reshapes around
# them and the kernels over the batch between, cross entropy of a (128, 10) batch ran as 8
# forward and 5 backward steps, ~130 µs against ~20 µs of hand-written NumPy (W2 at 1 thread).
# Traced, cross_entropy of a 2-D input picks the target with a mask ``iota(C) == t[:, None]``
# instead: every value is then elementwise over the (N, C) rows or reduced along or across
# them, so row fusion (passes/rows.py) makes the log-softmax, the pick and the loss's sums
# one row kernel, and the adjoint's ``where(mask, g, 0)`` joins the softmax backward's row
# kernel. The values are those of the gather: the mask selects one class per sample (none
# when the target is ignore_index), the others add exact zeros. The targets' bound check
# guards the loss instead of the targets (a CHECK before the pick would split the kernel):
# the mask reads no memory at a target's value, so an out-of-range target is harmless until
# the check refuses it, before the loss is returned. Label smoothing adds every class of a
# sample that is not ignored, in the same sweep. Eager keeps the gather, which touches N
# values instead of N * C.


def traced_rows(input: Tensor) -> bool:
    """Whether cross_entropy of ``input`` takes the one-hot pick: traced, 2-D, sizes known."""
    return (
        trace_state.current() is not None
        and input.ndim == 2
        and all(isinstance(n, int) for n in input.shape)
    )


def _onehot_nll(
    logp: Tensor,
    index: Tensor,
    weight: Tensor | None,
    r: str,
    ignore_index: int,
    smoothing: float,
) -> Tensor:
    n_classes = logp.shape[1]
    hit = arange(n_classes) == index
    if 0 <= ignore_index < n_classes:  # otherwise no class equals it
        hit = hit & (index != ignore_index)
    w = None if weight is None else weight.detach().to(logp.dtype)
    # Note [all targets ignored] (_losses.py): where, not a product, keeps the rest's gradient 0
    picked = -logp if w is None else -logp * w
    loss = R.where(hit, picked, 0.0)
    if smoothing > 0:  # every class of a sample not ignored, as _smoothed in _losses.py
        spread = R.where(index != ignore_index, picked, 0.0)
        loss = loss * (1 - smoothing) + spread * (smoothing / n_classes)
    if r == "none":
        return R.sum(loss, 1)
    total = R.sum(loss)
    if r == "sum":
        return total
    count = hit.to(logp.dtype) if w is None else R.where(hit, w, 0.0)
    return total / R.sum(count)


def _check_weight(weight: Tensor | None, n_classes: int) -> None:
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no "
            f"classes but got weight tensor of shape: {list(weight.shape)}"
        )


def onehot_cross_entropy(
    input: Tensor,
    t: Tensor,
    weight: Tensor | None,
    r: str,
    ignore_index: int,
    smoothing: float,
) -> Tensor:
    """cross_entropy of a 2-D ``input`` and int64 targets ``t`` of the right shape, the
    targets' bound check on the loss (Note [cross entropy rows])."""
    n_classes = input.shape[1]
    _check_weight(weight, n_classes)
    index = R.unsqueeze(t, 1)  # (before the row kernel, not between its parts)
    ok = in_range(t, 0, n_classes, exempt=ignore_index)
    logp = R.log_softmax(input, 1)
    loss = composite(
        "NllLossBackward0", _onehot_nll, logp, index, weight, r, ignore_index, smoothing
    )
    return check(loss, ok, IndexError, "Target {} is out of bounds.", detail=t)
