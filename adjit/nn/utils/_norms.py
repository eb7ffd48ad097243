"""``norm_except_dim`` and ``_weight_norm`` as PyTorch's CPU composites."""

from __future__ import annotations

from adjit.runtime.dispatch import composite
from adjit.runtime.tensor import Tensor


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm over every dim but ``dim`` (kept as size 1); ``dim=-1``: the whole norm."""
    if dim == -1:
        return v.norm(pow)
    if v.ndim == 0:  # PyTorch reads v.size(dim) first
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    dim = dim % v.ndim
    if v.shape[dim] == 0:  # PyTorch views v (its dim moved first, unless last) as a matrix
        shape = [-1, 0] if dim == v.ndim - 1 and dim != 0 else [0, -1]
        raise RuntimeError(
            f"cannot reshape tensor of 0 elements into shape {shape} because the unspecified "
            "dimension size -1 can be any value and is ambiguous"
        )
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
