"""``random_(from, to)`` and ``randint`` bounds as PyTorch computes them: float bounds moved to
integers the dtype holds, PyTorch's range checks, errors and precision warnings."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType
from ..ir.shapes import C_NAMES

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MANTISSA = {"float64": 53, "float32": 24, "float16": 11, "bfloat16": 8}  # numeric_limits digits


def int64_arg(v: Any) -> int:
    """A bound as PyTorch unpacks it: an int64, else its ValueError."""
    from .tensor import Tensor

    value = int(v.item()) if isinstance(v, Tensor) else int(v)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("Overflow when unpacking long long")
    return value


def _through_dtype(v: int, dt: DType) -> int:
    """``static_cast<int64_t>(static_cast<scalar_t>(v))``: rounded to the dtype (via float for
    the narrow floats) and back; out of int64's range gives x86's INT64_MIN."""
    as_float = np.array(v, np.int64).astype(np.float64 if dt is D.float64 else np.float32)
    if dt.name in ("float16", "bfloat16"):
        with np.errstate(over="ignore"):  # beyond float16's range: inf, as C++'s cast
            as_float = as_float.astype(dt.np).astype(np.float32)
    f = float(as_float)
    if not np.isfinite(f) or not INT64_MIN <= f < 2.0**63:
        return INT64_MIN
    return int(f)


def _update_from(frm: int, dt: DType) -> int:
    plus1 = _through_dtype(frm + 1, dt)
    if plus1 < frm:
        n = max(abs(frm + 1).bit_length() - 1, 0)
        frm = plus1 + (1 << (n - MANTISSA[dt.name] + 1))
    return frm


def _update_to(to: int, dt: DType) -> int:
    minus1 = _through_dtype(to - 1, dt)
    if minus1 >= to:
        n = max(abs(to - 1).bit_length() - 1, 0)
        to = minus1 - (1 << (n - MANTISSA[dt.name] + 1))
    return to


def _check_in_range(frm: int, to_inc: int, dt: DType) -> None:
    name = C_NAMES.get(dt.name, dt.name)
    if dt.is_floating_point:
        info = np.finfo(dt.np)
        lo, hi = float(info.min), float(info.max)
    elif dt is D.bool_:
        lo, hi = 0, 1
    else:
        iinfo = np.iinfo(dt.np)
        lo, hi = int(iinfo.min), int(iinfo.max)
    for value, what in ((frm, "from"), (to_inc, "to - 1")):
        if value < lo or value > hi:
            raise RuntimeError(f"{what} is out of bounds for {name}")
    if dt.is_floating_point:
        digits = MANTISSA[dt.name]
        for value, what in ((frm, "from"), (to_inc, "to - 1")):
            if value < -(2**digits) or value > 2**digits:
                warnings.warn(
                    f"{what} is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision "
                    f"limitations {name} can support discrete uniform distribution only within "
                    "this range. This warning will become an error in version 1.7 release, "
                    "please fix the code in advance",
                    UserWarning,
                    stacklevel=4,
                )


def plan(dt: DType, frm: int, to: int | None) -> tuple[int, int] | None:
    """``(range, base)`` of ``random_(from, to)`` on ``dt`` (``to=None``: up to the dtype's top,
    inclusive), or None for ``from = -2**63, to = None``: whole 64-bit words."""
    if to is not None:
        if not frm < to:
            raise RuntimeError(
                f"random_ expects 'from' to be less than 'to', but got from={frm} >= to={to}"
            )
        if dt.is_floating_point:
            frm, to = _update_from(frm, dt), _update_to(to, dt)
            if not frm < to:
                raise RuntimeError(
                    "random_ expects 'from' casted to dtype to be less than 'to' casted to "
                    f"dtype, but got from={frm} >= to={to}"
                )
        _check_in_range(frm, to - 1, dt)
        return to - frm, frm
    if frm == INT64_MIN:
        return None
    if dt.is_floating_point:
        to_inc = min(2 ** MANTISSA[dt.name], INT64_MAX)
        frm = _update_from(frm, dt)
        if not frm < to_inc:
            raise RuntimeError(
                "random_ expects 'from' casted to dtype to be less than or equal to 'to_inc' "
                f"casted to dtype, but got from={frm} > to_inc={to_inc}"
            )
    else:
        to_inc = 1 if dt is D.bool_ else int(np.iinfo(dt.np).max)
    _check_in_range(frm, to_inc, dt)
    return to_inc - frm + 1, frm


def check_full_range(dt: DType) -> None:
    """The whole-64-bit kernel's dtypes: int64, double, float and bfloat16."""
    if dt.name in ("int64", "float64", "float32", "bfloat16"):
        return
    if dt.name in ("float16", "bool"):
        raise NotImplementedError(
            f"\"random_full_64_bits_range_kernel_cpu\" not implemented for '{dt.type_name}'"
        )
    raise RuntimeError(
        "random_full_64_bits_range_kernel_cpu handles only int64, double, float and bfloat16"
    )
