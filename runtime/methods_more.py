"""More Tensor methods: layout and storage queries, the deprecated resize, view copies, DLPack."""

from __future__ import annotations

import warnings
from functools import reduce
from operator import mul
from typing import Any

from . import interop, layout, storage
from .dispatch import composite
from .ops_movement import reshape
from .ops_nonzero_static import nonzero_static
from .ops_prelu import prelu
from .ops_view_copy import narrow_copy, split_with_sizes
from .tensor import Tensor


def _resized(x: Tensor, sizes: tuple, what: str) -> Tensor:
    """PyTorch's ``autograd._functions.Resize``: the same elements in shape ``sizes``."""
    warnings.warn(f"non-inplace {what} is deprecated", UserWarning, stacklevel=3)
    count = reduce(mul, sizes, 1)
    if count != x.numel():  # (a tuple argument multiplies to a tuple: PyTorch's error too)
        raise RuntimeError(
            f"requested resize to {'x'.join(map(str, sizes))} ({count} elements in total), but "
            f"the given tensor has a size of {'x'.join(map(str, x.shape))} ({x.numel()} "
            "elements). autograd's resize can only change the shape of a given tensor, while "
            "preserving the number of elements. "
        )
    return composite("ResizeBackward", lambda a: reshape(a, sizes), x)


def resize(x: Tensor, *sizes: Any) -> Tensor:
    """Deprecated: ``x.view(*sizes)`` of a contiguous copy, with PyTorch's warning and checks."""
    return _resized(x, sizes, "resize")


def resize_as(x: Tensor, other: Tensor) -> Tensor:
    return _resized(x, tuple(other.shape), "resize_as")


def is_same_size(x: Tensor, other: Tensor) -> bool:
    return tuple(x.shape) == tuple(other.shape)


METHODS: dict[str, Any] = {
    "resize": resize,
    "resize_as": resize_as,
    "is_same_size": is_same_size,
    "dim_order": layout.dim_order,
    "prelu": prelu,
    "split_with_sizes": split_with_sizes,
    "narrow_copy": narrow_copy,
    "nonzero_static": nonzero_static,
    **storage.METHODS,
    **interop.METHODS,
}
PROPERTIES: dict[str, Any] = {
    "layout": lambda x: layout.strided,
    "name": lambda x: None,  # (PyTorch's named-tensor name: adjit's tensors have none)
    "output_nr": lambda x: x._output_nr,
}


def install(cls: type) -> None:
    for name, fn in METHODS.items():
        setattr(cls, name, fn)
    for name, fn in PROPERTIES.items():
        setattr(cls, name, property(fn))
