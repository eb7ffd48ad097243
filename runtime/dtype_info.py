"""``finfo``/``iinfo`` (a dtype's numeric limits) and the promotion queries ``promote_types``,
``result_type``, ``can_cast``, with PyTorch's values, reprs and errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType

__all__ = ["can_cast", "finfo", "iinfo", "promote_types", "result_type"]


def _np_finfo(d: DType) -> Any:
    return D.ml_dtypes.finfo(d.np) if d is D.bfloat16 else np.finfo(d.np)


class finfo:  # noqa: N801 - PyTorch's name
    """Limits of a floating-point dtype: bits, eps, max, min, tiny (= smallest_normal),
    resolution (10 ** -decimal digits) and dtype (its name); ``finfo()`` is the default dtype's."""

    def __init__(self, type: DType | None = None) -> None:  # noqa: A002 - PyTorch's keyword
        d = D.get_default_dtype() if type is None else type
        if isinstance(d, DType) and not isinstance(d, D.UnsupportedDType) and d.category == 3:
            d = D.to_value(d)  # complex64: float32's limits (and dtype), as PyTorch
        if not isinstance(d, DType) or isinstance(d, D.UnsupportedDType) or d.category != 2:
            raise TypeError(
                "torch.finfo() requires a floating point input type. Use torch.iinfo to "
                "handle 'torch.finfo'"
            )
        info = _np_finfo(d)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -math.floor(-math.log10(self.eps))
        self.dtype = d.name

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )

    __str__ = __repr__


class iinfo:  # noqa: N801 - PyTorch's name
    """Limits of an integer dtype: bits, max, min and dtype (its name)."""

    def __init__(self, type: DType) -> None:  # noqa: A002 - PyTorch's keyword
        if type is D.bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if (
            not isinstance(type, DType)
            or isinstance(type, D.UnsupportedDType)
            or type.category != 1
        ):
            raise TypeError(
                "torch.iinfo() requires an integer input type. Use torch.finfo to handle "
                "'torch.iinfo'"
            )
        info = np.iinfo(type.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = type.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"

    __str__ = __repr__


def promote_types(type1: DType, type2: DType) -> DType:
    """The smallest dtype both convert to (PyTorch's promotion table)."""
    return D.promote(type1, type2)


def result_type(tensor1: Any, tensor2: Any) -> DType:
    """The dtype an arithmetic op on ``tensor1`` and ``tensor2`` (tensors or numbers) gives."""
    from .dispatch import result_dtype

    return result_dtype(tensor1, tensor2)


def can_cast(from_: DType, to: DType) -> bool:
    """Whether PyTorch's casting rules allow ``from_`` -> ``to``: never to a lower category
    (float -> integer, integer -> bool)."""
    return from_.category <= to.category
