"""``scaled_dot_product_attention`` and the channel rearrangements (pixel_shuffle,
pixel_unshuffle, channel_shuffle) of ``adjit.nn.functional``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adjit.ir import dtypes as D
from adjit.ir.shapes import C_NAMES, infer_size
from adjit.runtime import functional as R
from adjit.runtime.autocast import autocast_op
from adjit.runtime.dispatch import composite, not_a_view
from adjit.runtime.tensor import Tensor

__all__ = ["channel_shuffle", "pixel_shuffle", "pixel_unshuffle", "scaled_dot_product_attention"]


def _safe_softmax(a: Tensor) -> Tensor:
    """Softmax over the last dim whose fully masked rows (all -inf) are 0, not NaN (PyTorch's
    math attention); such a row's scores are replaced before the softmax, so no NaN reaches
    the gradient either."""
    dead = R.all(a == float("-inf"), -1, keepdim=True)
    return R.where(dead, 0.0, R.softmax(R.where(dead, 0.0, a), -1))


@autocast_op("scaled_dot_product_attention")
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """``softmax(q k^T * scale + mask) v`` (PyTorch's math form: q and k each scaled by
    ``sqrt(scale)``); a bool mask keeps where True; ``is_causal`` keeps the lower triangle;
    ``dropout_p`` drops attention weights with PyTorch's draws (eager only, as all draws)."""
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True"
        )
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError(
            "Expected query, key, and value to all be  at least 2 dimensional, but got "
            f"query.dim: {query.ndim} key.dim: {key.ndim} and value.dim: {value.ndim} instead."
        )
    if not (query.dtype is key.dtype is value.dtype):
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{C_NAMES[query.dtype.name]} key.dtype: {C_NAMES[key.dtype.name]} and "
            f"value.dtype: {C_NAMES[value.dtype.name]} instead."
        )
    mask_kind = None if attn_mask is None else attn_mask.dtype
    if mask_kind is not None and not _mask_dtype_ok(mask_kind, query.dtype):
        raise RuntimeError(
            "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
            f"attn_mask.dtype: {C_NAMES[mask_kind.name]} and  query.dtype: "
            f"{C_NAMES[query.dtype.name]} instead."
        )
    _check_backends()
    if query.dtype.is_reduced_float:  # (Note [half attention])
        return _in_float32(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    e = query.shape[-1]
    s = math.sqrt(1.0 / math.sqrt(e) if scale is None else scale)
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk or hq % value.shape[-3]:  # (PyTorch's text stops there)
            raise RuntimeError(
                "Number of heads in key and value must divide the number of heads in "
            )
        key = R.repeat_interleave(key, hq // hk, -3)
        value = R.repeat_interleave(value, hq // value.shape[-3], -3)
    batch = _broadcast(tuple(query.shape[:-2]), tuple(key.shape[:-2]))
    if key.shape[-1] != e:
        rows = math.prod(batch)
        raise RuntimeError(
            "Expected size for first two dimensions of batch2 tensor to be: "
            f"[{rows}, {e}] but got: [{rows}, {key.shape[-1]}]."
        )
    scores = R.matmul(query * s, R.transpose(key * s, -2, -1))
    n_q, n_k = query.shape[-2], key.shape[-2]
    if is_causal:
        attn_mask = Tensor._make(np.tril(np.ones((n_q, n_k), bool)))
    if attn_mask is not None:
        _broadcast(tuple(scores.shape), tuple(attn_mask.shape))
        if attn_mask.dtype.name == "bool":
            scores = R.where(attn_mask, scores, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = _safe_softmax(scores)
    if dropout_p > 0.0:  # PyTorch's math path: dropout of the weights, the same draws
        from adjit.nn.functional import dropout

        weights = dropout(weights, dropout_p)
    return R.matmul(weights, value)


# Note [half attention]
# For float16/bfloat16 PyTorch's CPU attention computes in float32 and rounds the result once:
# without dropout its flash kernel (one ScaledDotProductFlashAttentionForCpuBackward0 node),
# with dropout its math path on float32 copies (a ToCopyBackward0 node at the end). Both are
# the float32 computation here, rounded once (values within an ulp of the dtype of PyTorch's).


def _in_float32(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None,
    dropout_p: float,
    is_causal: bool,
    scale: float | None,
    enable_gqa: bool,
) -> Tensor:
    dtype = query.dtype

    def wide(t: Tensor | None) -> Tensor | None:
        return t.to(D.float32) if t is not None and t.dtype.is_reduced_float else t

    def attention(q: Tensor, k: Tensor, v: Tensor, m: Tensor | None) -> Tensor:
        out = scaled_dot_product_attention(
            wide(q), wide(k), wide(v), wide(m), dropout_p, is_causal, scale, enable_gqa
        )
        return out.to(dtype)

    if dropout_p > 0.0:
        return attention(query, key, value, attn_mask)
    return composite(
        "ScaledDotProductFlashAttentionForCpuBackward0", attention, query, key, value, attn_mask
    )


def _mask_dtype_ok(mask: Any, query: Any) -> bool:
    return mask.name == "bool" or mask.is_floating_point or mask is query


def _check_backends() -> None:
    """PyTorch on a CPU runs the math kernel or its flash kernel: with both disabled by
    ``nn.attention.sdpa_kernel``, it finds no backend."""
    from adjit.nn.attention import SDPBackend, _cur_sdpa_kernel_backends

    usable = (SDPBackend.MATH, SDPBackend.FLASH_ATTENTION)
    if not any(b in usable for b in _cur_sdpa_kernel_backends()):
        raise RuntimeError(
            "No viable backend for scaled_dot_product_attention was found. This is likely due "
            "to turning off both the math kernel and the fused kernels."
        )


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of two shapes, or PyTorch's error naming the first clashing dimension."""
    return infer_size(a, b, RuntimeError)


def _at_least_3d(input: Tensor, name: str) -> None:
    if input.ndim < 3:
        raise RuntimeError(
            f"{name} expects input to have at least 3 dimensions, but got input with "
            f"{input.ndim} dimension(s)"
        )


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C r^2, H, W) -> (*, C, H r, W r)``."""
    _at_least_3d(input, "pixel_shuffle")
    r = upscale_factor
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *batch, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
            f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    nb = len(batch)

    def decomposition(a: Tensor) -> Tensor:
        split = R.reshape(a, (*batch, c // (r * r), r, r, h, w))
        order = (*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
        return R.reshape(R.permute(split, order), (*batch, c // (r * r), h * r, w * r))

    return not_a_view(composite("PixelShuffleBackward0", decomposition, input), input)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H r, W r) -> (*, C r^2, H, W)``."""
    _at_least_3d(input, "pixel_unshuffle")
    r = downscale_factor
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *batch, c, h, w = input.shape
    for name, size, i in (("height", h, -2), ("width", w, -1)):
        if size % r:
            raise RuntimeError(
                f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but "
                f"input.size({i})={size} is not divisible by {r}"
            )
    nb = len(batch)

    def decomposition(a: Tensor) -> Tensor:
        split = R.reshape(a, (*batch, c, h // r, r, w // r, r))
        order = (*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
        return R.reshape(R.permute(split, order), (*batch, c * r * r, h // r, w // r))

    return not_a_view(composite("PixelUnshuffleBackward0", decomposition, input), input)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """``(N, g * k, *) -> (N, k * g, *)``: the channels of the ``g`` groups interleaved."""
    if input.ndim < 3:
        raise RuntimeError(
            "channel_shuffle expects input with > 2 dims, but got input with sizes "
            f"{list(input.shape)}"
        )
    if groups <= 0:
        raise RuntimeError(
            f"Number of groups to divide channels in must be positive. Value of groups:{groups}"
        )
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(
            f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups."
        )

    def decomposition(a: Tensor) -> Tensor:
        split = R.reshape(a, (n, groups, c // groups, *rest))
        return R.reshape(R.transpose(split, 1, 2), tuple(a.shape))

    return not_a_view(composite("ChannelShuffleBackward0", decomposition, input), input)
