"""``norm_except_dim`` and ``_weight_norm`` as PyTorch's CPU composites."""

from __future__ import annotations

from adjit.runtime.dispatch import composite
from adjit.runtime.tensor import Tensor


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm over every dim but ``dim`` (kept as size 1); ``dim=-1``: the whole norm."""
    if dim == -1:
        return v.norm(pow)
    dim = dim % v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    if not others:
        return v.abs() if pow != 0 else (v != 0).to(v.dtype)
    return v.norm(pow, dim=others, keepdim=True)


def _weight_norm(v: Tensor, g: Tensor, dim: int = 0) -> Tensor:
    """``v * (g / norm_except_dim(v, 2, dim))``; over the first or last dim PyTorch's CPU kernel
    is the fused ``_weight_norm_interface``, whose grad_fn name the result carries."""

    def decomposition(v: Tensor, g: Tensor) -> Tensor:
        return v * (g / norm_except_dim(v, 2, dim))

    if dim in (0, v.ndim - 1):
        return composite("WeightNormInterfaceBackward0", decomposition, v, g)
    return decomposition(v, g)
