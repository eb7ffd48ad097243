"""``torch.native_layer_norm`` & co.: ATen's native ops with their extra outputs (statistics,
masks), the deprecated norms ATen keeps for TorchScript, and ``torch.embedding_bag``'s tuple."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from adjit.ir.dtypes import bool_
from adjit.nn import functional as F
from adjit.nn import functional_norm as FN
from adjit.nn.functional_embedding import embedding_bag as _embedding_bag
from adjit.runtime import functional as R
from adjit.runtime.creation import arange, full, ones_like, zeros
from adjit.runtime.grad_mode import is_grad_enabled, no_grad
from adjit.runtime.ops_norms import matrix_norm, vector_norm
from adjit.runtime.ops_random import dropout_mask
from adjit.runtime.settings import is_warn_always_enabled
from adjit.runtime.tensor import Tensor

__all__ = ["native_layer_norm", "native_batch_norm", "native_group_norm", "native_dropout"]
__all__ += ["native_channel_shuffle", "native_norm", "frobenius_norm", "nuclear_norm"]
__all__ += ["unsafe_split_with_sizes", "embedding_bag"]

# Note [native ops' statistics]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# ATen's native_layer_norm / native_batch_norm / native_group_norm return the normalized output
# (the same op as nn.functional's, so the same values and grad_fn) with the statistics their
# backward kernels save: the mean and the reciprocal standard deviation ``1 / sqrt(var + eps)``
# of each normalized group, biased variance, in the input's dtype (computed in float32 for
# float16/bfloat16, as ATen's accumulation type). The statistics are not differentiable
# (PyTorch's output_differentiability), so they are computed without history. Their shapes
# are ATen's: layer norm keeps the normalized dims as 1s, batch norm one per channel (empty in
# eval mode), group norm (N, groups).


def _stats(a: Tensor, axes: tuple[int, ...], eps: float, keepdim: bool) -> tuple[Tensor, Tensor]:
    with no_grad():
        x = a.detach()
        wide = x.float() if x.dtype.is_reduced_float else x
        mean = R.mean(wide, axes, keepdim=True)
        dev = wide - mean
        var = R.mean(dev * dev, axes, keepdim=keepdim)
        rstd = 1.0 / R.sqrt(var + eps)
        mean = mean if keepdim else R.squeeze(mean, axes)
        return mean.to(a.dtype), rstd.to(a.dtype)


def native_layer_norm(
    input: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(layer_norm(input), mean, rstd)``; mean and rstd have the normalized dims as 1s."""
    out = F.layer_norm(input, normalized_shape, weight, bias, eps)
    n = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    mean, rstd = _stats(input, tuple(range(input.ndim - n, input.ndim)), eps, True)
    return out, mean, rstd


def native_batch_norm(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(batch_norm(input), save_mean, save_invstd)``: the batch's per-channel statistics when
    training (and the running ones updated), empty tensors in eval mode."""
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        empty = zeros(0, dtype=input.dtype)
        return out, empty, zeros(0, dtype=input.dtype)
    mean, invstd = _stats(input, (0, *range(2, input.ndim)), eps, False)
    return out, mean, invstd


def native_group_norm(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    N: int,
    C: int,
    HxW: int,
    group: int,
    eps: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(group_norm(input), mean, rstd)`` with mean and rstd of shape ``(N, group)``."""
    if input.numel() != N * C * HxW:
        raise RuntimeError(
            "Expected X.numel() == N * C * HxW to be true, but got false.  (Could this error "
            "message be improved?  If so, please report an enhancement request to PyTorch.)"
        )
    out = FN.checked_group_norm(input, group, weight, bias, eps)
    grouped = R.reshape(input, (N, group, -1))
    mean, rstd = _stats(grouped, (2,), eps, False)
    return out, mean, rstd


def native_dropout(input: Tensor, p: float, train: bool | None) -> tuple[Tensor, Tensor]:
    """``(output, mask)``: the kept elements scaled by ``1 / (1 - p)`` and the bool mask of the
    kept ones; ``train=False`` keeps everything. The draws are F.dropout's (PyTorch's)."""
    if train is False:
        return input.clone(), ones_like(input, dtype=bool_)
    keep = 1.0 - p
    if not 0.0 <= keep <= 1.0:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={keep}")
    F.scale_check(input, p)
    scaled = dropout_mask(input, p)
    return input * scaled, scaled != 0


def native_channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """torch.channel_shuffle without the CPU kernel's checks of an empty input."""
    return F.channel_shuffle(input, groups)


def native_norm(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """ATen's norm of sparse tensors: PyTorch has no CPU kernel for a dense one."""
    raise NotImplementedError(
        "Could not run 'aten::native_norm' with arguments from the 'CPU' backend. This could be "
        "because the operator doesn't exist for this backend, or was omitted during the "
        "selective/custom build process (if using custom build)."
    )


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    """ATen's TORCH_WARN_ONCE: the first call in the process warns (every call under
    torch.set_warn_always(True))."""
    if message not in _WARNED or is_warn_always_enabled():
        _WARNED.add(message)
        warnings.warn(message, UserWarning, stacklevel=3)


def frobenius_norm(input: Tensor, dim: Sequence[int], keepdim: bool = False) -> Tensor:
    """Deprecated: ``linalg.vector_norm(input, 2, dim, keepdim)`` over at most two dims."""
    _warn_once(
        "at::frobenius_norm is deprecated and it is just left for JIT compatibility. It will be "
        "removed in a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, "
        "keepdim)` instead"
    )
    dims = [dim] if isinstance(dim, int) else list(dim)
    if len(dims) > 2:
        raise RuntimeError(
            f"Expected at most 2 dimensions, but got {len(dims)} dimensions instead."
        )
    return vector_norm(input, 2.0, dims, keepdim)


def nuclear_norm(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Deprecated: ``linalg.matrix_norm(input, 'nuc', dim, keepdim)``; ``nuclear_norm(A,
    keepdim)`` reads the last two dims."""
    _warn_once(
        "at::nuclear_norm is deprecated and it is just left for JIT compatibility. It will be "
        "removed in a future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, "
        "keepdim)` instead"
    )
    if isinstance(dim, bool):  # nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    dims = (-2, -1) if dim is None else tuple(dim)
    return matrix_norm(input, "nuc", dims, keepdim)


def unsafe_split_with_sizes(input: Tensor, split_sizes: Sequence[int], dim: int = 0) -> Any:
    """``split_with_sizes`` (PyTorch's unsafe variant differs only in its autograd checks)."""
    return R.split_with_sizes(input, split_sizes, dim)


_MODES = {0: "sum", 1: "mean", 2: "max"}


def embedding_bag(
    weight: Tensor,
    indices: Tensor,
    offsets: Tensor,
    scale_grad_by_freq: bool = False,
    mode: int = 0,
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """ATen's embedding bag: ``(output, offset2bag, bag_size, max_indices)`` as PyTorch's CPU
    kernel fills them (Note [embedding bag's extra outputs])."""
    if not isinstance(offsets, Tensor):
        raise TypeError(
            "embedding_bag(): argument 'offsets' (position 3) must be Tensor, not "
            f"{type(offsets).__name__}"
        )
    name = _MODES.get(mode)
    if name is None:
        raise RuntimeError(f"Unknown mode for embedding_bag: {mode}")
    output = _embedding_bag(
        indices,
        weight,
        offsets,
        scale_grad_by_freq=scale_grad_by_freq,
        mode=name,
        sparse=sparse,
        per_sample_weights=per_sample_weights,
        include_last_offset=include_last_offset,
        padding_idx=padding_idx,
    )
    backward = is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (weight, per_sample_weights)
    )
    with no_grad():
        extra = _bag_outputs(weight.detach(), indices, offsets, name, backward,
                             include_last_offset, padding_idx)  # fmt: skip
    return (output, *extra)


# Note [embedding bag's extra outputs]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# torch.embedding_bag also returns what its backward kernels read, as the CPU kernel
# (aten/src/ATen/native/EmbeddingBag.cpp) leaves them, in the indices' dtype: ``offset2bag``,
# each index's bag, is empty on the fast sum path (float32/float16/bfloat16 weights, no
# padding_idx); ``bag_size`` counts each bag's indices other than padding_idx for mean and
# max, and is zeros for sum: one per bag when the call records a backward (ATen's
# _embedding_bag), else one per offset (_embedding_bag_forward_only: include_last_offset
# counts one more); ``max_indices`` is bag_size again for mean, zeros like it for sum, and
# for max the weight row each output element was read from (the first of equal maxima; 0 for
# an empty bag).


def _bag_outputs(
    weight: Tensor,
    indices: Tensor,
    offsets: Tensor,
    mode: str,
    backward: bool,
    last: bool,
    padding_idx: int | None,
) -> tuple[Tensor, Tensor, Tensor]:
    n, d = weight.shape[0], weight.shape[1]
    dt = indices.dtype
    pad = None if padding_idx is None else padding_idx % n
    starts = R.narrow(offsets, 0, 0, offsets.shape[0] - 1) if last else offsets
    bags = starts.shape[0]
    length = indices.shape[0]
    bag = R.searchsorted(starts.long(), arange(length), right=True) - 1
    fast = mode == "sum" and weight.dtype.name in ("float32", "float16", "bfloat16")
    offset2bag = zeros(0, dtype=dt) if fast and pad is None else bag.to(dt)
    if mode == "sum":
        count = bags if backward else offsets.shape[0]
        return offset2bag, zeros(count, dtype=dt), zeros(count, dtype=dt)
    valid = indices != pad if pad is not None else ones_like(indices, dtype=bool_)
    target = R.where(valid, bag, bags)
    counts = R.index_add(zeros(bags + 1, dtype=dt), 0, target, valid.to(dt))
    bag_size = R.narrow(counts, 0, 0, bags)
    if mode == "mean":
        return offset2bag, bag_size, bag_size.clone()
    rows = R.index_select(weight, 0, indices.long())  # (L, d)
    index = R.expand(R.unsqueeze(target, 1), (length, d))
    top = R.scatter_reduce(zeros(bags + 1, d, dtype=weight.dtype), 0, index, rows, "amax",
                           include_self=False)  # fmt: skip
    pos = R.expand(R.unsqueeze(arange(length), 1), (length, d))
    candidate = R.where(rows == R.index_select(top, 0, target), pos, length)
    first = R.scatter_reduce(full((bags + 1, d), length), 0, index, candidate, "amin")
    first = R.narrow(first, 0, 0, bags)
    picked = R.index_select(indices.long(), 0, R.reshape(R.clamp(first, 0, max(length - 1, 0)),
                            (-1,))) if length else zeros(bags * d, dtype=dt)  # fmt: skip
    max_indices = R.where(first < length, R.reshape(picked, (bags, d)), 0).to(dt)
    return offset2bag, bag_size, max_indices
