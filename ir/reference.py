"""NumPy reference implementations: the eager executor and the interpreter's ground truth."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import windows
from .checks import check_reference
from .collectives import collective_reference
from .control import cond_reference, get_reference, scan_reference, while_reference
from .custom import custom_vjp_reference
from .dtypes import to_storage
from .fp_exact import fma
from .linalg import linalg_reference
from .ops import Op
from .random import random_reference
from .shapes import split_index
from .sorting import argsort_reference, searchsorted_reference
from .special import special_reference

RefRule = Callable[..., np.ndarray]

_erf = np.frompyfunc(math.erf, 1, 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # PyTorch's formula: below about -88.7 (float32; -709.8 float64) e**-x overflows and the
    # result is 0, as PyTorch's, not the subnormal e**x (an inf here is never inf/inf)
    return (1 / (1 + np.exp(-x))).astype(x.dtype, copy=False)


def _index(x: np.ndarray, *idx: np.ndarray, spec: tuple) -> np.ndarray:
    basic, positions = split_index(spec)
    out = x[(*basic, Ellipsis)]  # Ellipsis keeps a 0-d result a view, not a scalar
    if not positions:
        return out
    full: list[Any] = [slice(None)] * out.ndim
    for p, i in zip(positions, idx, strict=True):
        full[p] = i
    return out[tuple(full)]


def _index_add(g: np.ndarray, *idx: np.ndarray, spec: tuple, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, g.dtype)
    basic, positions = split_index(spec)
    view = out[(*basic, Ellipsis)]
    if not positions:  # basic indexing never repeats an element: no add.at (~10x slower)
        view += g
        return out
    full: list[Any] = [slice(None)] * view.ndim
    for p, i in zip(positions, idx, strict=True):
        full[p] = i
    np.add.at(view, tuple(full), g)
    return out


def _gather(x: np.ndarray, index: np.ndarray, *, axis: int) -> np.ndarray:
    if x.ndim == 0:
        return x.copy()
    axis %= x.ndim  # the crop below compares dimension numbers
    crop = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(index.shape))
    return np.take_along_axis(x[crop], index, axis)


def _scatter_add(src: np.ndarray, index: np.ndarray, *, axis: int, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, src.dtype)
    if src.ndim == 0:
        return out + src
    grids: list[Any] = list(np.indices(index.shape, sparse=True))
    grids[axis] = index
    crop = tuple(slice(0, n) for n in index.shape)
    np.add.at(out, tuple(grids), src[crop])
    return out


def _clamp(x: np.ndarray, *, lo: float | None, hi: float | None) -> np.ndarray:
    if lo is not None:
        x = np.where(x < lo, np.asarray(lo, x.dtype), x)
    if hi is not None:
        x = np.where(x > hi, np.asarray(hi, x.dtype), x)
    return x


def _pow(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu" and np.any(y < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    if x.dtype == np.float32:  # NumPy's float32 power is off by an ulp; round from float64
        return np.power(x.astype(np.float64), y).astype(np.float32)
    return np.power(x, y)


def _bits(x: np.ndarray) -> int:
    return 8 * x.dtype.itemsize


def _shl(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    # Note [bitwise ops]: a count < 0 or >= the bit width shifts every bit out
    ok = (n >= 0) & (n < _bits(x))
    return np.where(ok, np.left_shift(x, np.where(ok, n, 0)), 0)


def _shr(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    # such counts leave the sign bit everywhere (-1 or 0); unsigned values become 0
    top = _bits(x) - 1
    if x.dtype.kind == "u":
        ok = n <= top
        return np.where(ok, np.right_shift(x, np.where(ok, n, 0)), 0)
    return np.right_shift(x, np.where((n < 0) | (n > top), top, n))


def _check_divisor(y: np.ndarray) -> None:
    """PyTorch's error for an integer division or remainder by zero (checked at run time)."""
    if y.dtype.kind in "iu" and not np.all(y):
        raise RuntimeError("ZeroDivisionError")


def _fmod(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    _check_divisor(y)
    with np.errstate(all="ignore"):  # INT_MIN % -1 is 0 (NumPy warns of an overflow)
        return np.fmod(x, y)


def _trunc_div(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    _check_divisor(y)
    with np.errstate(all="ignore"):  # INT_MIN // -1 wraps to INT_MIN, as in PyTorch's floor
        q = np.floor_divide(x, y)
        if x.dtype.kind == "u":
            return q
        return q + ((q * y != x) & ((x < 0) != (y < 0)))  # floor -> toward zero


# Note [short-axis argmax]: NumPy's argmax over an inner axis copies the array transposed and
# then calls its kernel once per output element: max pooling's (8, 64, 9, 256) windows took
# 11 ms that way. For a short inner axis, walking it slice by slice with whole-array compares
# takes ~1 ms. A strict comparison keeps the first extremum; arrays holding NaN (NumPy's
# argmax picks the first NaN) take NumPy's path.
_SHORT_AXIS = 32  # at most 127: int8 indices


def _arg_by_slices(x: np.ndarray, axis: int, keepdim: bool, better: np.ufunc) -> np.ndarray:
    moved = np.moveaxis(x, axis, 0)
    best = moved[0].copy()
    idx = np.zeros(best.shape, np.int8)  # the axis is short: narrow integers, fast arithmetic
    take = np.empty(best.shape, np.bool_)
    step = np.empty(best.shape, np.int8)
    keep = np.maximum if better is np.greater else np.minimum
    for k in range(1, moved.shape[0]):
        better(moved[k], best, out=take)
        keep(best, moved[k], out=best)
        np.subtract(k, idx, out=step)  # idx += take * (k - idx): masked copies are slow
        np.multiply(step, take, out=step)
        idx += step
    out = idx.astype(np.intp)
    return np.expand_dims(out, axis) if keepdim else out


def _argreduce(f: Callable[..., np.ndarray], better: np.ufunc) -> RefRule:
    def rule(x: np.ndarray, *, axes: tuple[int, ...] | None, keepdim: bool) -> np.ndarray:
        if axes is None or x.ndim == 0:
            r = f(x.reshape(-1))
            return np.asarray(r).reshape((1,) * x.ndim if keepdim else ())
        axis = axes[0] % x.ndim
        short = 1 < x.shape[axis] <= _SHORT_AXIS and axis != x.ndim - 1 and x.dtype.kind in "biuf"
        if short and x.size >= 4096 and not (x.dtype.kind == "f" and np.isnan(x).any()):
            return _arg_by_slices(x, axis, keepdim, better)  # Note [short-axis argmax]
        return f(x, axis=axes[0], keepdims=keepdim)

    return rule


def _reduce(f: Callable[..., np.ndarray]) -> RefRule:
    def rule(x: np.ndarray, *, axes: tuple[int, ...] | None, keepdim: bool) -> np.ndarray:
        # a 0-dim tensor reduces over "dim 0" (PyTorch wraps it) to itself
        return f(x, axis=axes if x.ndim else None, keepdims=keepdim)

    return rule


# Note [eager sums across rows]
# NumPy sums pairwise only along the innermost axis it iterates: over any other reduced axis it
# adds row after row into the result, an error growing like n u (x.sum(0) of a (2.5e6, 4)
# float32 array was off by 5e-5 relative, PyTorch's cascade sum by 2e-7). With more than _ROWS
# such rows, a float32 sum accumulates in float64 (the float64 sum rounded once: within a u or
# so, about twice the plain sum's time), and a float64 sum moves the reduced axes last and
# sums a contiguous copy, pairwise (O(log n) u, one more pass over the data). Contiguous full
# sums and sums along the last axis are pairwise already and keep NumPy's own path.
_ROWS = 256


def _sum(x: np.ndarray, *, axes: tuple[int, ...] | None, keepdim: bool) -> np.ndarray:
    if not x.ndim:  # a 0-dim tensor reduces over "dim 0" (PyTorch wraps it) to itself
        return np.sum(x, keepdims=keepdim)
    if x.dtype.kind != "f" or _rows(x, axes) <= _ROWS:
        return np.sum(x, axis=axes, keepdims=keepdim)
    if x.dtype == np.float32:
        return np.asarray(np.sum(x, axis=axes, keepdims=keepdim, dtype=np.float64), np.float32)
    reduced = tuple(range(x.ndim)) if axes is None else tuple(a % x.ndim for a in axes)
    kept = [a for a in range(x.ndim) if a not in reduced]
    rows = np.ascontiguousarray(x.transpose(*kept, *reduced))
    out = rows.reshape(*(x.shape[a] for a in kept), -1).sum(axis=-1)
    if keepdim:
        out = out.reshape([1 if a in reduced else n for a, n in enumerate(x.shape)])
    return np.asarray(out)


def _rows(x: np.ndarray, axes: tuple[int, ...] | None) -> int:
    """How many rows NumPy adds one after another (reduced extent off the innermost axis)."""
    if axes is None:
        if x.flags.c_contiguous:
            return 1
        axes = tuple(range(x.ndim))
    inner = int(np.argmin(np.abs(x.strides))) if x.size else x.ndim - 1
    return math.prod(x.shape[a] for a in axes if a != inner)


def _complex_add(x: np.ndarray, y: np.ndarray, alpha: int) -> np.ndarray:
    """PyTorch's complex add and sub: ``x + alpha * y`` with a complex multiply by alpha, so an
    infinite part of ``y`` makes the other part NaN (inf * 0), as ATen's fmadd kernel does."""
    return np.add(x, _complex_mul(y, np.asarray(alpha, x.dtype)))


def _complex_mul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(a + bi)(c + di) = (ac - bd) + (ad + bc)i with each product rounded, as ATen's kernels
    (NumPy's own complex multiply may fuse them: z * conj(z) then has an imaginary part)."""
    out = np.empty(np.broadcast_shapes(x.shape, y.shape), np.result_type(x, y))
    out.real = np.subtract(np.multiply(x.real, y.real), np.multiply(x.imag, y.imag))
    out.imag = np.add(np.multiply(x.real, y.imag), np.multiply(x.imag, y.real))
    return out


# Note [fused multiply-add]
# PyTorch's CPU kernels for add/sub with alpha (``vec::fmadd(other, alpha, self)``), lerp with
# a scalar or tensor weight (``fmadd(coeff, end - start, base)``) and addcmul (its
# ``self + value * t1 * t2`` contracted to ``fma(value * t1, t2, self)``) round x * y + z once,
# in their vectorized loops and in their scalar tails alike (measured: sizes 1 to 100003,
# strided and broadcast operands, float32 and float64: no element differs from a correctly
# rounded fma; the one exception is add/sub with a scalar ``other``, whose tail loop rounds
# alpha * other first in some elements: tests/runtime/test_add_alpha.py). FMA is that
# operation: float only, computed in the result dtype (float16 and
# bfloat16 in float32, rounded once at the end, as those kernels do). Eager mode emulates it
# exactly (ir/fp_exact.py); compiled kernels call llvm.fma, which is correctly rounded on every
# host (an instruction where the CPU has one, libm's fma elsewhere), and so does eager mode
# where it can (Note [native fma]). It is no sympy form (GroupOp.SYMBOLIC): x * y + z would
# round twice.


REFERENCE: dict[Op, RefRule] = {
    Op.NEG: np.negative,
    Op.ABS: np.abs,
    # PyTorch's sign(NaN) is 0 (NumPy's is NaN)
    Op.SIGN: lambda x: x.copy() if x.dtype == np.bool_ else np.sign(np.where(x != x, 0, x)),
    Op.EXP: np.exp,
    Op.LOG: np.log,
    Op.LOG1P: np.log1p,
    Op.SQRT: np.sqrt,
    Op.SIN: np.sin,
    Op.COS: np.cos,
    Op.TANH: np.tanh,
    Op.SIGMOID: _sigmoid,
    Op.RELU: lambda x: np.maximum(x, np.zeros((), x.dtype)),
    Op.ERF: lambda x: np.asarray(_erf(x), x.dtype),
    Op.FLOOR: np.floor,
    Op.TRUNC: np.trunc,
    Op.NOT: np.invert,
    Op.CAST: lambda x, *, dtype: to_storage(x, dtype) if x.dtype != dtype.np else x.copy(),
    Op.CLAMP: _clamp,
    Op.ADD: lambda x, y: np.add(x, y) if x.dtype.kind != "c" else _complex_add(x, y, 1),
    Op.SUB: lambda x, y: np.subtract(x, y) if x.dtype.kind != "c" else _complex_add(x, y, -1),
    Op.MUL: lambda x, y: np.multiply(x, y) if x.dtype.kind != "c" else _complex_mul(x, y),
    Op.DIV: np.true_divide,
    Op.POW: _pow,
    Op.MAXIMUM: np.maximum,
    Op.MINIMUM: np.minimum,
    Op.EQ: np.equal,
    Op.NE: np.not_equal,
    Op.LT: np.less,
    Op.LE: np.less_equal,
    Op.GT: np.greater,
    Op.GE: np.greater_equal,
    Op.AND: np.bitwise_and,
    Op.OR: np.bitwise_or,
    Op.XOR: np.bitwise_xor,
    Op.SHL: _shl,
    Op.SHR: _shr,
    Op.FMOD: _fmod,
    Op.TRUNC_DIV: _trunc_div,
    Op.ATAN2: np.arctan2,
    Op.COPYSIGN: np.copysign,
    Op.WHERE: np.where,
    Op.FMA: fma,
    Op.SUM: _sum,
    Op.AMAX: _reduce(np.max),
    Op.AMIN: _reduce(np.min),
    Op.ARGMAX: _argreduce(np.argmax, np.greater),
    Op.ARGMIN: _argreduce(np.argmin, np.less),
    Op.ARGSORT: argsort_reference,
    Op.SEARCHSORTED: searchsorted_reference,
    Op.RESHAPE: lambda x, *, shape: x.reshape(shape),
    Op.PERMUTE: lambda x, *, axes: x.transpose(axes),
    Op.EXPAND: lambda x, *, shape: np.broadcast_to(x, shape),
    Op.INDEX: _index,
    Op.INDEX_ADD: _index_add,
    Op.GATHER: _gather,
    Op.SCATTER_ADD: _scatter_add,
    Op.CAT: lambda *xs, axis: np.concatenate(xs, axis=axis),
    Op.UNFOLD: windows.unfold,
    Op.FOLD: windows.fold,
    Op.MATMUL: np.matmul,
    Op.LINALG: linalg_reference,
    Op.SPECIAL: special_reference,
    Op.DETACH: lambda x: x,
    Op.CHECK: check_reference,
    Op.CUSTOM_VJP: custom_vjp_reference,
    Op.RANDOM: random_reference,
    Op.COLLECTIVE: collective_reference,
    Op.IOTA: lambda *, length, dtype: np.arange(length, dtype=dtype.np),
    Op.SCAN: scan_reference,
    Op.WHILE: while_reference,
    Op.COND: cond_reference,
    Op.GET: get_reference,
}
