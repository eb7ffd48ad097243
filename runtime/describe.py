"""How a Tensor prints: PyTorch's text, with its requires_grad / grad_fn / dtype suffixes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import dtypes as D

if TYPE_CHECKING:
    from .tensor import Tensor

_DEFAULT = {"int64", "bool"}


def tensor_repr(t: Tensor, prefix: str = "tensor(") -> str:
    from .printing import format_tensor

    suffixes = []
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    if "_fw" in t.__dict__:  # a dual tensor (autograd.forward_ad) prints its tangent
        from .forward_grad import tangent

        tan = tangent(t)
        if tan is not None:
            suffixes.append("tangent=" + tensor_repr(tan))
    name = t.dtype.name
    is_default = name in _DEFAULT or t.dtype in (
        D.get_default_dtype(),
        D.get_default_complex_dtype(),
    )
    return format_tensor(
        t._data, dtype_name=name, is_default_dtype=is_default, suffixes=suffixes, prefix=prefix
    )
