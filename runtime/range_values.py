"""arange's, linspace's and logspace's values as PyTorch's CPU kernels round them, bit for bit."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from typing import Any

import numpy as np

from ..ir.fp_exact import fma32, fma64
from .workers import num_threads

# Note [range values]
# PyTorch computes arange and linspace element by element in C++ that the compiler contracts
# into fused multiply-adds, so NumPy's `start + step * arange(n)` (two roundings, and linspace's
# own formula) differs from it in the last bit: torch.arange(1, 1000, 0.37) in 635 of 2700
# float32 elements, linspace(0, 1, 100) float64 in 37 of 100, and printed `.tolist()`s differ.
# The kernels (aten/src/ATen/native/cpu/RangeFactoriesKernel.cpp), as measured against torch
# 2.13 on this AVX-512 machine (its dispatch runs them as 256-bit vectors):
# - arange, float32/float64: in double (the accumulate type), split into one range a thread
#   when longer than the grain (32768), each range's first elements in pairs of 32-byte vectors
#   (8 floats, 4 doubles): a vector's base is fma(step, i, start) rounded to the dtype and its
#   elements fma(j, step, base); the rest of the range one at a time, fma(step, i, start).
# - linspace, float32/float64: in the dtype itself, step = (end - start) / (steps - 1); the
#   first half fma(step, i, start), the second half fma(-step, steps - 1 - i, end).
# - float16/bfloat16: arange the same in float32 (their accumulate type), 16-element vectors;
#   linspace in the half type's own operators, each rounding to it: step = (end - start) /
#   half(steps - 1), then start + step * half(i) and end - step * half(steps - 1 - i).
# - integer linspace: start and end truncated to integers, the rest in double as for float64,
#   truncated back.
# - integer arange from float arguments: start, end and step truncated to integers (int64: the
#   length from them too, (end - start + step - sign) / step; other types: the length from the
#   float arguments), the values start + step * i wrapped to the type: arange(0, 10, 1.5,
#   dtype=int32) is 0..6, and int64's a step of 0.5 is "step must be nonzero".
# - logspace (aten/src/ATen/native/RangeFactories.cpp, not vectorized, no fma): start and end
#   converted to the dtype (checked, integers truncated), step = double(end - start) / (steps - 1)
#   with end - start in the dtype, then in double std::pow(base, start + step * i) for the
#   first steps // 2 points and std::pow(base, end - step * (steps - 1 - i)) for the rest,
#   stored to the dtype: half types through float32, int8 to int32 by x86's truncating
#   conversion (NaN and out-of-range values become INT_MIN, int64 likewise with INT64_MIN),
#   then wrapped. NumPy's power differs from the C library's pow in ~5% of float64 results
#   here, so pow is libm's, through ctypes. One point is pow(base, double(start)) filled in,
#   checked against the dtype's range except for the half types (no check: inf).
_GRAIN = 32768  # at::internal::GRAIN_SIZE
_VECTOR_BYTES = 32
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _half(dtype: np.dtype) -> bool:
    return np.dtype(dtype).name in ("float16", "bfloat16")  # (by name: ml_dtypes is optional)


def _fma(acc: type) -> Any:
    return fma32 if acc is np.float32 else fma64


def arange_values(start: float, step: float, n: int, dtype: np.dtype) -> np.ndarray | None:
    """PyTorch's floating arange of ``n`` elements; None for other dtypes."""
    if np.dtype(dtype) not in _FLOATS and not _half(dtype):
        return None
    acc = np.float32 if _half(dtype) else np.float64
    width = _VECTOR_BYTES // np.dtype(dtype).itemsize
    first, by = acc(start), acc(step)
    with np.errstate(over="ignore"):  # (float16 beyond 65504 is inf, as in PyTorch)
        return _arange(first, by, n, acc, np.dtype(dtype), width)


def _arange(first: Any, by: Any, n: int, acc: type, dtype: np.dtype, width: int) -> np.ndarray:
    fma = _fma(acc)
    out = fma(np.full(n, by), np.arange(n, dtype=acc), np.full(n, first))  # one at a time
    threads = min(num_threads(), -(-n // _GRAIN)) if n > _GRAIN else 1
    chunk = -(-n // threads) if n else 1
    for begin in range(0, n, chunk):
        vectored = (min(n, begin + chunk) - begin) // (2 * width) * (2 * width)
        j = np.arange(vectored)
        k = (begin + j // width * width).astype(acc)  # each vector's first index
        base = fma(np.full(vectored, by), k, np.full(vectored, first)).astype(dtype).astype(acc)
        out[begin : begin + vectored] = fma((j % width).astype(acc), np.full(vectored, by), base)
    return out.astype(dtype)


def linspace_values(
    start: float | int, end: float | int, steps: int, dtype: np.dtype
) -> np.ndarray | None:
    """PyTorch's linspace of ``steps`` >= 2 points; None for other dtypes and counts."""
    if steps < 2 or np.dtype(dtype).kind == "c" or np.dtype(dtype) == np.bool_:
        return None
    i = np.arange(steps)
    low = i < steps // 2
    if _half(dtype):

        def h(x: Any) -> np.ndarray:  # rounded to the half type, held in float32
            return np.asarray(x, np.float32).astype(dtype).astype(np.float32)

        s, e = h(start), h(end)
        step = h(h(e - s) / h(steps - 1))
        return np.where(low, h(s + h(step * h(i))), h(e - h(step * h(steps - 1 - i)))).astype(dtype)
    if np.dtype(dtype).kind in "iu":
        s, e = (float(_to_integer(v, np.dtype(dtype))) for v in (start, end))
        step64 = (e - s) / (steps - 1)
        values = _ends(np.float64(s), np.float64(e), np.float64(step64), i, low, fma64)
        return np.trunc(values).astype(dtype)
    t = np.dtype(dtype).type
    s, e = t(start), t(end)
    return _ends(s, e, t(e - s) / t(steps - 1), i, low, _fma(t)).astype(dtype)


def _to_integer(v: float, dtype: np.dtype) -> int:
    """A Python number as c10's checked conversion makes it ``dtype``: in range (a negative
    integer down to -max for an unsigned type, wrapping), else an overflow error."""
    info = np.iinfo(dtype)
    low = -int(info.max) if info.min == 0 and isinstance(v, int) else info.min
    if not low <= v <= info.max:
        raise RuntimeError(f"value cannot be converted to type {_c_name(dtype)} without overflow")
    return int(np.array(int(v)).astype(dtype))


_C_NAMES = {"int32": "int", "float32": "float", "float16": "c10::Half", "bfloat16": "c10::BFloat16"}


def _c_name(dtype: np.dtype) -> str:
    """The C++ type's name in c10's overflow message."""
    name = np.dtype(dtype).name
    return _C_NAMES.get(name, name + "_t")


def _to_float(v: float, dtype: np.dtype) -> float:
    """c10's checked conversion of a number to a float32 or half dtype (a finite value beyond
    its range is an overflow error; inf and NaN pass)."""
    largest = 65504.0 if np.dtype(dtype).name == "float16" else float(np.finfo(np.float32).max)
    if math.isfinite(v) and abs(v) > largest:
        raise RuntimeError(f"value cannot be converted to type {_c_name(dtype)} without overflow")
    return float(_rounded(np.array([v]), np.dtype(dtype))[0])


def _ends(s: Any, e: Any, step: Any, i: np.ndarray, low: np.ndarray, fma: Any) -> np.ndarray:
    """The first half counted from ``s``, the second back from ``e``."""
    n, t = len(i), type(s)
    up = fma(np.full(n, step, t), i.astype(t), np.full(n, s, t))
    down = fma(np.full(n, -step, t), (n - 1 - i).astype(t), np.full(n, e, t))
    return np.where(low, up, down)


def integer_arange(start: float, end: float, step: float, dtype: np.dtype) -> np.ndarray:
    """PyTorch's integer arange from (possibly fractional) float arguments."""
    first, last, by = int(start), int(end), int(step)
    if np.dtype(dtype) == np.int64:
        if by == 0:
            raise ValueError("step must be nonzero")  # (PyTorch: a ValueError here)
        num = last - first + by - ((by > 0) - (by < 0))
        n = abs(num) // abs(by) * (1 if (num < 0) == (by < 0) else -1)  # C's division
    else:
        n = int(np.ceil((end - start) / step))
    return (first + by * np.arange(max(n, 0), dtype=np.int64)).astype(dtype)


def _libm_pow() -> Any:
    """The C library's pow as a NumPy ufunc (what PyTorch's std::pow calls); NumPy's own power
    where there is no C library to load."""
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6").pow
    except (OSError, AttributeError):
        return np.power
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_double, ctypes.c_double]
    return np.frompyfunc(fn, 2, 1)


_POW = _libm_pow()


def _pow(base: float, x: np.ndarray) -> np.ndarray:
    return np.asarray(_POW(base, x), np.float64)


def _rounded(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float64 values stored to a float dtype as C++ assigns them (half types via float32;
    c10's bfloat16 makes every NaN its one positive quiet NaN, 0x7FC0)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.dtype(dtype).name == "bfloat16":
            values = np.where(np.isnan(values), np.float32("nan"), values)
        if _half(dtype):
            return values.astype(np.float32).astype(dtype)
        return values.astype(dtype)


def _truncated(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float64 values converted to an integer dtype as x86 truncates them: int64 directly,
    smaller types through int32, NaN and out-of-range values as the minimum, then wrapped."""
    bits = 64 if np.dtype(dtype).itemsize == 8 else 32
    inside = (values >= -(2.0 ** (bits - 1))) & (values < 2.0 ** (bits - 1))
    wide = np.where(inside, np.trunc(np.where(inside, values, 0.0)), 0).astype(np.int64)
    wide[~inside] = -(2 ** (bits - 1))
    return wide.astype(dtype)


def logspace_values(
    start: float | int, end: float | int, steps: int, base: float, dtype: np.dtype
) -> np.ndarray | None:
    """PyTorch's logspace of a real dtype (Note [range values]); None for complex ones."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return None
    integer = dtype.kind in "iu"
    if steps == 0:
        return np.empty(0, dtype)
    if steps == 1:
        one = _pow(base, np.array([float(start)]))
        if integer:
            return np.array([_to_integer(float(one[0]), dtype)], dtype)
        return _rounded(one, dtype) if _half(dtype) else np.array([_to_float(one[0], dtype)], dtype)
    s, e, diff = _typed_ends(start, end, dtype)
    step = diff / (steps - 1)
    i = np.arange(steps, dtype=np.int64)
    low = i < steps // 2
    up = s + step * i.astype(np.float64)
    down = e - step * (steps - 1 - i).astype(np.float64)
    values = _pow(base, np.where(low, up, down))
    return _truncated(values, dtype) if integer else _rounded(values, dtype)


def _typed_ends(start: float | int, end: float | int, dtype: np.dtype) -> tuple[float, ...]:
    """start and end converted to ``dtype`` (checked), and ``end - start`` computed in it, all
    as doubles."""
    if dtype.kind in "iu":
        s, e = (_to_integer(v, dtype) for v in (start, end))
        return float(s), float(e), float(e - s)
    if dtype == np.float64:
        s, e = float(start), float(end)
        return s, e, e - s
    s, e = (_to_float(float(v), dtype) for v in (start, end))
    with np.errstate(over="ignore"):
        wide = np.float32(e) - np.float32(s)  # (a half type's operator- rounds float32's result)
    return s, e, float(_rounded(np.array([wide], np.float64), dtype)[0])
