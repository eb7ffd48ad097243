"""``torch.testing.make_tensor``: random test tensors drawn with PyTorch's random calls.

Follows ``torch/testing/_creation.py`` call for call (``randint`` for bool and integers,
``empty(...).uniform_`` for floating and complex dtypes, through ``view_as_real`` for complex), so
with the same ``manual_seed`` the values are PyTorch's wherever adjit's ``randint`` and
``uniform_`` reproduce its streams (they do for every dtype adjit stores).
"""

from __future__ import annotations

import collections.abc
import math
import warnings
from typing import Any, cast

from adjit.ir import dtypes as D
from adjit.runtime.creation import empty
from adjit.runtime.dtype_info import finfo, iinfo
from adjit.runtime.ops_complex import view_as_real
from adjit.runtime.ops_random import randint
from adjit.runtime.tensor import Tensor

_INTEGRAL = [D.uint8, D.int8, D.int16, D.int32, D.int64] + [
    D.by_name(n) for n in ("uint16", "uint32", "uint64")
]
_FLOATING = [D.float16, D.bfloat16, D.float32, D.float64]
_COMPLEX = [D.by_name("complex32"), D.complex64, D.complex128]
_BOOLEAN_OR_INTEGRAL = [D.bool_, *_INTEGRAL]
_FLOATING_OR_COMPLEX = [*_FLOATING, *_COMPLEX]


def _low_high(
    dtype: D.DType,
    low: float | None,
    high: float | None,
    *,
    lowest_inclusive: float,
    highest_exclusive: float,
    default_low: float,
    default_high: float,
) -> tuple[Any, Any]:
    """The user's ``low``/``high`` (or the dtype's defaults), checked and clamped to what the
    dtype holds; integer bounds ceiled (``randint``'s high is exclusive)."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got {low=} and {high=}")
    if low == high and dtype in _FLOATING_OR_COMPLEX:
        warnings.warn(
            "Passing `low==high` to `torch.testing.make_tensor` for floating or complex types "
            "is deprecated since 2.1 and will be removed in 2.3. "
            "Use `torch.full(...)` instead.",
            FutureWarning,
            stacklevel=4,
        )
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest_inclusive or low >= highest_exclusive:
        raise ValueError(
            f"The value interval specified by `low` and `high` is [{low}, {high}), "
            f"but {dtype} only supports [{lowest_inclusive}, {highest_exclusive})"
        )
    low = min(max(low, lowest_inclusive), highest_exclusive)
    high = min(max(high, lowest_inclusive), highest_exclusive)
    if dtype in _BOOLEAN_OR_INTEGRAL:
        return math.ceil(low), math.ceil(high)
    return low, high


def _uniform_random_(t: Tensor, low: float, high: float) -> Tensor:
    # uniform_ needs high - low within the dtype's range: halve the bounds, double the values
    if high - low >= finfo(t.dtype).max:
        return t.uniform_(low / 2, high / 2).mul_(2)
    return t.uniform_(low, high)


def _draw(shape: tuple[int, ...], dtype: Any, device: Any, low: Any, high: Any) -> Tensor:
    """Values uniformly drawn from [low, high) with PyTorch's calls for the dtype."""
    if isinstance(dtype, D.UnsupportedDType):
        _ = dtype.np  # a dtype adjit names but cannot store (uint16, complex32): its TypeError
    if dtype is D.bool_:
        lo, hi = _low_high(
            dtype, low, high, lowest_inclusive=0, highest_exclusive=2, default_low=0, default_high=2
        )
        return randint(lo, hi, shape, device=device, dtype=dtype)
    if dtype in _INTEGRAL:
        info = iinfo(dtype)
        lo, hi = _low_high(
            dtype,
            low,
            high,
            lowest_inclusive=info.min,
            # randint's bounds are int64: it cannot draw int64's max (PyTorch's same limit)
            highest_exclusive=info.max + (1 if dtype is not D.int64 else 0),
            default_low=-9,  # (clamped to 0 for unsigned dtypes)
            default_high=10,
        )
        return randint(lo, hi, shape, device=device, dtype=dtype)
    if dtype in _FLOATING_OR_COMPLEX:
        fi = finfo(dtype)
        lo, hi = _low_high(
            dtype,
            low,
            high,
            lowest_inclusive=fi.min,
            highest_exclusive=fi.max,
            default_low=-9,
            default_high=9,
        )
        result = empty(shape, device=device, dtype=dtype)
        _uniform_random_(view_as_real(result) if dtype in _COMPLEX else result, lo, hi)
        return result
    raise TypeError(
        f"The requested dtype '{dtype}' is not supported by torch.testing.make_tensor()."
        " To request support, file an issue at: https://github.com/pytorch/pytorch/issues"
    )


def make_tensor(
    *shape: int | tuple[int, ...] | list[int],
    dtype: D.DType,
    device: Any,
    low: float | None = None,
    high: float | None = None,
    requires_grad: bool = False,
    noncontiguous: bool = False,
    exclude_zero: bool = False,
    memory_format: Any = None,
) -> Tensor:
    """A tensor of ``shape`` filled with values uniformly drawn from ``[low, high)`` (defaults
    by dtype: bool [0, 2), unsigned [0, 10), signed [-9, 10), floating and complex [-9, 9)),
    as ``torch.testing.make_tensor``."""
    nested = len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence)
    dims = cast(tuple[int, ...], tuple(shape[0] if nested else shape))  # type: ignore[arg-type]
    if noncontiguous and memory_format is not None:
        raise ValueError(
            f"The parameters `noncontiguous` and `memory_format` are mutually exclusive, "
            f"but got {noncontiguous=} and {memory_format=}"
        )
    if requires_grad and dtype in _BOOLEAN_OR_INTEGRAL:
        raise ValueError(
            "`requires_grad=True` is not supported for boolean and integral dtypes, "
            f"but got {dtype=}"
        )
    noncontiguous = noncontiguous and math.prod(dims) > 1
    if noncontiguous:  # twice the last dim, every other element: distinct values, offset 1
        dims = (*dims[:-1], 2 * dims[-1])
    result = _draw(dims, dtype, device, low, high)
    if noncontiguous:
        result = result[..., 1::2]
    elif memory_format is not None:
        result = result.clone(memory_format=memory_format)
    if exclude_zero:
        result[result == 0] = 1 if dtype in _BOOLEAN_OR_INTEGRAL else finfo(dtype).tiny
    if dtype in _FLOATING_OR_COMPLEX:
        result.requires_grad = requires_grad
    return result
