"""PyTorch's alternative names (absolute, multiply, greater, fix, ravel, ...), torch.range and
torch.asarray: thin wrappers over the functions they name."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..ir import dtypes as D
from . import creation
from .checks import shape_from_values
from .ops_elementwise import abs, ge, gt, le, lt, mul, ne, neg, sub, trunc
from .ops_movement import chunk, reshape, split
from .tensor import Tensor


def absolute(x: Tensor) -> Tensor:
    return abs(x)


def negative(x: Tensor) -> Tensor:
    return neg(x)


def positive(x: Tensor) -> Tensor:
    """``x`` itself (PyTorch returns the same tensor), refused for bool as unary ``+``."""
    if x.dtype is D.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return x


def multiply(x: Any, other: Any) -> Tensor:
    return mul(x, other)


def subtract(x: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    return sub(x, other, alpha=alpha)


def greater(x: Any, other: Any) -> Tensor:
    return gt(x, other)


def greater_equal(x: Any, other: Any) -> Tensor:
    return ge(x, other)


def less(x: Any, other: Any) -> Tensor:
    return lt(x, other)


def less_equal(x: Any, other: Any) -> Tensor:
    return le(x, other)


def not_equal(x: Any, other: Any) -> Tensor:
    return ne(x, other)


def fix(x: Tensor) -> Tensor:
    return trunc(x)


def ravel(x: Tensor) -> Tensor:
    return reshape(x, -1)


_RANGE_WARNING = (
    "torch.range is deprecated and will be removed in a future release because its behavior "
    "is inconsistent with Python's range builtin. Instead, use torch.arange, which produces "
    "values in [start, end)."
)


def range(  # noqa: A001 - PyTorch's name
    start: Any = 0,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: D.DType | None = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Deprecated: ``start, start + step, ...`` up to ``end`` inclusive, the default float dtype."""
    if end is None:
        raise TypeError('range() missing 1 required positional arguments: "end"')
    shape_from_values("range()", "(end - start) / step + 1 elements", start, end, step)
    s, e, st = (float(v.item() if isinstance(v, Tensor) else v) for v in (start, end, step))
    warnings.warn(_RANGE_WARNING, UserWarning, stacklevel=2)
    if st == 0:
        raise RuntimeError("step must be nonzero")
    if (st > 0 and e < s) or (st < 0 and s < e):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = int(math.floor((e - s) / st)) + 1
    dt = dtype or D.get_default_dtype()
    values = s + st * np.arange(n, dtype=np.float64)
    return creation._finish(values, dt, requires_grad, device)


def asarray(
    obj: Any,
    *,
    dtype: D.DType | None = None,
    device: Any = None,
    copy: bool | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """``obj`` as a tensor: the same tensor (or NumPy memory) when no copy is needed."""
    if isinstance(obj, Tensor):
        out = obj if dtype is None or obj.dtype is dtype else obj.to(dtype)
        if copy and out is obj:
            out = obj.clone()
    elif isinstance(obj, np.ndarray) and not copy and (dtype is None or dtype.np == obj.dtype):
        out = creation.from_numpy(obj)
    else:
        out = creation.tensor(obj, dtype=dtype, device=device)
    return out.requires_grad_() if requires_grad else out


def unsafe_split(x: Tensor, split_size: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``split`` without the aliasing checks PyTorch skips (adjit has none to skip)."""
    return split(x, split_size, dim, _backward="UnsafeSplitBackward0")


def unsafe_chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    return chunk(x, chunks, dim, _backward="UnsafeSplitBackward0")


def adjoint(x: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims (``x.mH``)."""
    return x.adjoint()


def is_conj(x: Tensor) -> bool:
    return x.is_conj()


def resolve_neg(x: Tensor) -> Tensor:
    return x.resolve_neg()


def isreal(x: Tensor) -> Tensor:
    """True where the imaginary part is 0 (everywhere for a real tensor)."""
    if x.dtype.is_complex:
        return x.imag == 0
    return creation.ones_like(x, dtype=D.bool_)
