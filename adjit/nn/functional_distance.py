"""Distances and similarities of ``adjit.nn.functional``: cosine_similarity, pairwise_distance,
pdist, as PyTorch's decompositions."""

from __future__ import annotations

import numpy as np

from adjit.ir.shapes import infer_size, norm_axis
from adjit.runtime import functional as R
from adjit.runtime.dispatch import composite, result_dtype
from adjit.runtime.tensor import Tensor

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


def clamped_below(t: Tensor, eps: float) -> Tensor:
    """``max(t, eps)`` whose gradient is ``t``'s own: PyTorch clamps in place under no_grad."""
    return t + (R.clamp_min(t.detach(), eps) - t.detach())


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps), dim)`` after broadcasting, as PyTorch
    computes it (each input divided by its own clamped norm first)."""
    dt = result_dtype(x1, x2)
    if not dt.is_floating_point:
        raise RuntimeError(
            f"expected common dtype to be floating point, yet common dtype is {dt.type_name}"
        )
    shape = infer_size(tuple(x1.shape), tuple(x2.shape), RuntimeError)  # (torch's text)
    a, b = R.broadcast_to(x1.to(dt), shape), R.broadcast_to(x2.to(dt), shape)
    d = norm_axis(dim, len(shape))
    na = clamped_below(R.norm(a, 2, d, keepdim=True), eps)
    nb = clamped_below(R.norm(b, 2, d, keepdim=True), eps)
    return R.sum((a / na) * (b / nb), d)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dimension."""
    last = max(x1.ndim, x2.ndim) - 1
    return composite("NormBackward1", lambda a: R.norm(a, p, last, keepdim), x1 - x2 + eps)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The ``p``-norm distances between the rows of a 2-D input, pairs ``i < j`` in row order."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError("pdist only supports floating-point dtypes")
    if input.dtype.is_reduced_float:  # PyTorch's CPU kernel has no half-precision form
        raise NotImplementedError(f"\"pdist\" not implemented for '{input.dtype.type_name}'")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)

    def decomposition(x: Tensor) -> Tensor:
        if n < 2:
            return R.sum(x, 1)[:0] * 0
        left = x[Tensor._make(i.astype(np.int64))]
        right = x[Tensor._make(j.astype(np.int64))]
        return R.norm(left - right, p, 1)

    return composite("PdistBackward0", decomposition, input)
