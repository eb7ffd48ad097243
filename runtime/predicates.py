"""Whole-tensor questions answered with Python values: allclose, equal, isclose, numel, ..."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.shapes import broadcast_shapes
from . import ops_elementwise as E
from .ops_integer import logical_and, logical_or
from .tensor import Tensor


def _check_tensor(fn: str, v: Any, name: str, position: int) -> None:
    if not isinstance(v, Tensor):
        raise TypeError(
            f"{fn}(): argument '{name}' (position {position}) must be Tensor, "
            f"not {type(v).__name__}"
        )


def _close_operands(fn: str, a: Any, b: Any, rtol: float, atol: float) -> None:
    """PyTorch's checks for isclose/allclose: one dtype, broadcastable, rtol and atol >= 0."""
    _check_tensor(fn, a, "input", 1)
    _check_tensor(fn, b, "other", 2)
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{a.dtype.type_name} did not match {b.dtype.type_name}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol:g}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol:g}")
    broadcast_shapes(tuple(a.shape), tuple(b.shape))


def isclose(
    input: Tensor,  # noqa: A002 - PyTorch's parameter names
    other: Tensor,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
) -> Tensor:
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (a bool tensor), as PyTorch."""
    return _isclose("isclose", input, other, rtol, atol, equal_nan)


def _isclose(
    fn: str,
    input: Tensor,
    other: Tensor,
    rtol: float,
    atol: float,
    equal_nan: bool,  # noqa: A002
) -> Tensor:
    """PyTorch's isclose as ops (so it traces and compiles): equal, or NaN and NaN under
    ``equal_nan``, or a finite |a - b| within ``atol + |rtol * b|`` (a bool operand counted in
    the default float), each step in the operands' dtype as ATen computes it."""
    _close_operands(fn, input, other, rtol, atol)
    close = E.eq(input, other)
    if equal_nan and input.dtype.category >= 2:  # (complex: a NaN in either part)
        close = logical_or(close, logical_and(E.isnan(input), E.isnan(other)))
    if rtol == 0 and atol == 0:
        return close
    a, b = (t.to(D.get_default_dtype()) if t.dtype is D.bool_ else t for t in (input, other))
    allowed = E.abs(E.mul(b, rtol)) + atol
    actual = E.abs(E.sub(a, b))
    return logical_or(close, logical_and(E.isfinite(actual), E.le(actual, allowed)))


def allclose(
    input: Tensor,  # noqa: A002
    other: Tensor,
    rtol: float = 1e-05,
    atol: float = 1e-08,
    equal_nan: bool = False,
) -> bool:
    """Whether every element of ``input`` is close to ``other``'s (see ``isclose``)."""
    return bool(_isclose("allclose", input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """Same size and the same values (NaN is not equal to NaN; dtypes may differ)."""
    _check_tensor("equal", input, "input", 1)
    _check_tensor("equal", other, "other", 2)
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool(np.array_equal(input._data, other._data))


def is_tensor(obj: object) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:  # noqa: A002
    return input.numel()


def is_floating_point(input: Tensor) -> bool:  # noqa: A002
    return input.dtype.is_floating_point
