"""Contractions: matmul and its PyTorch spellings, and undoing broadcasting."""

from __future__ import annotations

from ..ir import dtypes as D
from ..ir.ops import Op
from ..ir.sizes import same_shape
from .autocast import autocast_op
from .dispatch import apply
from .kernel_dtypes import not_implemented
from .ops_movement import unsqueeze
from .tensor import Tensor

# ---- contraction ---------------------------------------------------------------------------
_MATMUL_NAMES = {
    (1, 1): "DotBackward0",
    (2, 1): "MvBackward0",
    (2, 2): "MmBackward0",
    (1, 2): "SqueezeBackward4",
}


# PyTorch's CPU kernel behind each product, named when a bool operand is refused
_KERNELS = {(1, 1): "dot", (2, 1): "addmv_impl_cpu", (1, 2): "addmm_impl_cpu_"}


def _no_bool(x: Tensor, y: Tensor, kernel: str) -> None:
    if x.dtype is y.dtype and x.dtype.name == "bool":
        raise not_implemented(kernel, x.dtype)


@autocast_op("matmul")
def matmul(x: Tensor, y: Tensor) -> Tensor:
    if x._sparse or y._sparse:  # (Note [sparse tensors] in runtime/sparse.py)
        from .sparse_ops import matmul as sparse_matmul

        return sparse_matmul(x, y)
    if x.ndim and y.ndim:
        kernel = _KERNELS.get((x.ndim, y.ndim), "addmm_impl_cpu_")
        _no_bool(x, y, "bmm" if max(x.ndim, y.ndim) > 2 else kernel)
    name = _MATMUL_NAMES.get((x.ndim, y.ndim), "UnsafeViewBackward0")
    return apply(Op.MATMUL, x, y, name=name)


@autocast_op("mm")
def mm(x: Tensor, y: Tensor) -> Tensor:
    if x.ndim != 2 or y.ndim != 2:
        raise RuntimeError("self must be a matrix" if x.ndim != 2 else "mat2 must be a matrix")
    return matmul(x, y)


@autocast_op("bmm")
def bmm(x: Tensor, y: Tensor) -> Tensor:
    if x.ndim != 3 or y.ndim != 3:
        raise RuntimeError(
            "batch1 must be a 3D tensor" if x.ndim != 3 else "batch2 must be a 3D tensor"
        )
    if "bool" in (x.dtype.name, y.dtype.name):
        raise not_implemented("bmm", D.bool_)
    return apply(Op.MATMUL, x, y, name="BmmBackward0")


@autocast_op("mv")
def mv(x: Tensor, y: Tensor) -> Tensor:
    if x.ndim != 2 or y.ndim != 1:
        if x.ndim == 0 or y.ndim == 0:
            raise IndexError("Dimension specified as 0 but tensor has no dimensions")
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {x.ndim}, {y.ndim}")
    if x.shape[1] != y.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({x.shape[0]}), mat ({x.shape[0]}x{x.shape[1]}), "
            f"vec ({y.shape[0]})"
        )
    return matmul(x, y)


@autocast_op("dot")
def dot(x: Tensor, y: Tensor) -> Tensor:
    if x.ndim != 1 or y.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {x.ndim}D and {y.ndim}D tensors")
    if x.dtype != y.dtype:
        raise RuntimeError(
            "dot : expected both vectors to have same dtype, but found "
            f"{x.dtype.type_name} and {y.dtype.type_name}"
        )
    if x.shape[0] != y.shape[0]:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{x.shape[0]}] and src [{y.shape[0]}] to "
            f"have the same number of elements, but got {x.shape[0]} and {y.shape[0]} elements "
            "respectively"
        )
    return matmul(x, y)


def outer(x: Tensor, y: Tensor) -> Tensor:
    for name, t in (("self", x), ("vec2", y)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return unsqueeze(x, 1) * unsqueeze(y, 0)


def _sum_to(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum a broadcast cotangent back down to ``shape``."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1
    )
    out = apply(Op.SUM, g, axes=axes, keepdim=True) if axes else g
    return out if same_shape(out.shape, shape) else apply(Op.RESHAPE, out, shape=tuple(shape))
