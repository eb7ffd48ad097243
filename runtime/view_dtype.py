"""``Tensor.view(dtype)``: the same memory read as another dtype, with PyTorch's checks."""

from __future__ import annotations

import numpy as np

from ..ir.dtypes import DType
from .tensor import Tensor


def _storage_offset(a: np.ndarray) -> int:
    """Elements from the start of the NumPy buffer ``a`` views to its first element."""
    root = a
    while isinstance(root.base, np.ndarray):
        root = root.base
    start = root.__array_interface__["data"][0]
    return (a.__array_interface__["data"][0] - start) // a.itemsize


def _check(x: Tensor, src: DType, dst: DType) -> None:
    """PyTorch's view_dtype checks when the element sizes differ, in its order."""
    words = f"to view {src.type_name} as {dst.type_name} (different element sizes)"
    if x.ndim == 0:
        raise RuntimeError(f"self.dim() cannot be 0 {words}")
    strides = x.stride()
    if strides[-1] != 1 and x.shape[-1] != 1:
        raise RuntimeError(f"self.stride(-1) must be 1 {words}, but got {strides[-1]}")
    if dst.itemsize < src.itemsize:
        return
    ratio = dst.itemsize // src.itemsize
    if x.shape[-1] % ratio:
        raise RuntimeError(
            f"self.size(-1) must be divisible by {ratio} {words}, but got {x.shape[-1]}"
        )
    offset = _storage_offset(x._data)
    if offset % ratio:
        raise RuntimeError(
            f"self.storage_offset() must be divisible by {ratio} {words}, but got {offset}"
        )
    for i, s in enumerate(strides[:-1]):
        if s % ratio:
            raise RuntimeError(
                f"self.stride({i}) must be divisible by {ratio} {words}, but got {s}"
            )


def view_dtype(x: Tensor, dtype: DType) -> Tensor:
    """``x``'s memory as ``dtype``: equal element sizes keep the shape; otherwise the last
    dimension grows or shrinks by the size ratio. The result shares ``x``'s memory and version
    counter and has no gradient history (PyTorch's view(dtype) is not differentiable)."""
    if x._is_tracer:
        raise NotImplementedError(
            "Tensor.view(dtype) reinterprets memory, which adjit.compile cannot trace: "
            "call it outside the compiled function"
        )
    src = x.dtype
    storage = dtype.np  # (a dtype adjit cannot store refuses here, by name)
    if src.itemsize != dtype.itemsize:
        _check(x, src, dtype)
    data = x._data.view(storage)
    out = Tensor._make(data, version_box=x._version_box)
    out._view_base = x if x._view_base is None else x._view_base
    return out
