"""pow(x, y) as branch-free IR with numpy's (C99) special cases.

float64: exp of y * log|x| carried in double-double; float32: the same in plain double, rounded
once at the end.
"""

from __future__ import annotations

from llvmlite import ir

from .vecmath_core import (
    F32,
    INF,
    NAN,
    Value,
    cmp,
    fabs,
    fma,
    fmt_of,
    mul,
    pick,
    trunc,
)
from .vecmath_exp import exp, exp_dd
from .vecmath_log import log, log_dd


def _magnitude_f64(b: ir.IRBuilder, ax: Value, y: Value) -> Value:
    """|x|**y for double |x| >= 0: exp(y * log|x|) with the product in double-double."""
    hi, lo = log_dd(b, ax)
    t_hi = b.fmul(y, hi)
    t_lo = fma(b, y, hi, b.fneg(t_hi))
    return exp_dd(b, t_hi, fma(b, y, lo, t_lo))


def _magnitude_f32_in_f64(b: ir.IRBuilder, ax: Value, y: Value) -> Value:
    """|x|**y for float32 operands widened to double: plain double is 2**29 times too precise."""
    return exp(b, b.fmul(y, log(b, ax)))


def _apply_signs(b: ir.IRBuilder, x: Value, y: Value, mag: Value) -> Value:
    """Sign, NaN and exact-one rules of C99 pow on top of |x|**y (x, y, mag of one type)."""
    ty = x.type
    ity = fmt_of(x).ity
    y_int = b.fcmp_ordered("==", trunc(b, y), y)  # true for +-inf too
    half = mul(b, y, 0.5)
    odd = b.and_(y_int, b.fcmp_unordered("!=", trunc(b, half), half))
    sign_bit = b.icmp_signed("<", b.bitcast(x, ity), ir.Constant(ity, 0))
    res = b.select(b.and_(sign_bit, odd), b.fneg(mag), mag)
    finite_neg = b.and_(cmp(b, "<", x, 0.0), cmp(b, ">", x, -INF))
    res = pick(b, b.and_(finite_neg, b.not_(y_int)), NAN, res, ty)
    ones = b.or_(cmp(b, "==", y, 0.0), cmp(b, "==", x, 1.0))
    ones = b.or_(ones, b.and_(cmp(b, "==", x, -1.0), cmp(b, "==", fabs(b, y), INF)))
    return pick(b, ones, 1.0, res, ty)


def pow(b: ir.IRBuilder, x: Value, y: Value) -> Value:
    """x ** y for two values of one float type, matching np.power."""
    if fmt_of(x) is F32:
        f64 = ir.DoubleType()
        xd, yd = b.fpext(x, f64), b.fpext(y, f64)
        res = _apply_signs(b, xd, yd, _magnitude_f32_in_f64(b, fabs(b, xd), yd))
        return b.fptrunc(res, x.type)
    return _apply_signs(b, x, y, _magnitude_f64(b, fabs(b, x), y))
