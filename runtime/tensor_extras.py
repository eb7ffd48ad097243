"""``torch.from_file``, ``is_distributed`` and Tensor methods beside them (``storage_type``,
``module_load``, ``unsafe_split_with_sizes``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..ir import dtypes as D
from . import storage as S
from .ops_view_copy import split_with_sizes
from .tensor import Tensor

__all__ = ["from_file", "is_distributed"]


def is_distributed(input: Tensor) -> bool:  # noqa: A002
    """Whether the tensor is a distributed (THD) tensor: never, as in PyTorch's dense tensors."""
    return False


def from_file(
    filename: str,
    shared: bool | None = None,
    size: int = 0,
    *,
    dtype: D.DType | None = None,
    layout: Any = None,
    device: Any = None,
    pin_memory: bool = False,
    requires_grad: bool = False,
) -> Tensor:
    """A 1-D tensor of ``size`` elements read from the start of a file: with ``shared=True``
    the file's memory itself (writes reach the file), else a private copy."""
    dt = dtype or D.get_default_dtype()
    need = size * np.dtype(dt.np).itemsize
    have = os.path.getsize(filename)
    if need > have:
        raise RuntimeError(
            f"file <{filename}> size <{have}> is smaller than the required mapping size <{need}>"
        )
    if size == 0:
        data = np.zeros(0, dt.np)
    elif shared:
        mapped = np.memmap(filename, dtype=np.uint8, mode="r+", shape=(need,))
        data = np.ndarray((size,), dt.np, buffer=mapped)
    else:
        data = np.fromfile(filename, dtype=dt.np, count=size)
    t = Tensor._make(data)
    return t.requires_grad_() if requires_grad else t


def storage_type(x: Tensor) -> Any:
    """The legacy storage class of the tensor's dtype (``torch.FloatStorage``), None for a dtype
    that has none; PyTorch's TypedStorage deprecation warning first."""
    S._warn_typed(stacklevel=3)
    return S.LEGACY_CLASSES.get(x.dtype.name)


def module_load(self: Tensor, other: Tensor, assign: bool = False) -> Tensor:
    """How ``other`` from a state dict is loaded into this parameter or buffer (when swapping
    tensors): ``self.copy_(other).detach()``, or ``other.detach()`` with ``assign``."""
    if assign:
        return other.detach()
    return self.copy_(other).detach()


METHODS = {
    "is_distributed": is_distributed,
    "storage_type": storage_type,
    "module_load": module_load,
    "unsafe_split_with_sizes": split_with_sizes,
}


def install(cls: type) -> None:
    for name, fn in METHODS.items():
        setattr(cls, name, fn)
