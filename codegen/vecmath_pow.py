"""pow(x, y) as branch-free IR with numpy's (C99) special cases.

float64: exp of y * log|x| carried in double-double. float32: 2**(y * log2|x|) in double with
short polynomials (the float32 result needs ~2**-32 of it), rounded once at the end; the one
division is a float32 reciprocal refined in double (vdivpd is twice as slow per element).
"""

from __future__ import annotations

import math

from llvmlite import ir

from .vecmath_core import (
    F32,
    F64,
    INF,
    NAN,
    Value,
    cmp,
    estrin,
    fabs,
    fma,
    fmt_of,
    ldexp,
    mul,
    pick,
    round_int,
    split_sqrt2,
    trunc,
)
from .vecmath_exp import exp_dd
from .vecmath_log import log_dd


def _magnitude_f64(b: ir.IRBuilder, ax: Value, y: Value) -> Value:
    """|x|**y for double |x| >= 0: exp(y * log|x|) with the product in double-double."""
    hi, lo = log_dd(b, ax)
    t_hi = b.fmul(y, hi)
    t_lo = fma(b, y, hi, b.fneg(t_hi))
    return exp_dd(b, t_hi, fma(b, y, lo, t_lo))


# log(m) = 2s + s**3 Q(s**2), s = (m - 1) / (m + 1), |s| <= 0.1716: the atanh series to s**11
# (truncation 2**-34 relative); 2**r = 1 + r H(r) on |r| <= 1/2: Taylor to r**9 (2**-34).
LOG_Q = tuple(2.0 / k for k in (11, 9, 7, 5, 3))
EXP2_H = tuple(math.log(2) ** k / math.factorial(k) for k in range(9, 0, -1))
EXP2_RANGE = (-160.0, 130.0)  # float32 |x|**y is 0 below, inf above


def _log2_f32(b: ir.IRBuilder, ax: Value) -> Value:
    """log2(ax) in double for float32 ax >= 0 (relative error ~2**-34); 0 -> -inf, inf -> inf,
    NaN -> NaN."""
    f64 = ir.DoubleType()
    m, k = split_sqrt2(b, F32, ax)
    f32 = b.fsub(m, ir.Constant(m.type, 1.0))  # exact
    r0 = b.fpext(b.fdiv(ir.Constant(m.type, 1.0), b.fadd(f32, ir.Constant(m.type, 2.0))), f64)
    f = b.fpext(f32, f64)
    d = b.fadd(f, ir.Constant(f64, 2.0))  # exact
    s0 = b.fmul(f, r0)  # f / d to float32 accuracy; one correction makes it ~2**-48
    s = fma(b, fma(b, b.fneg(s0), d, f), r0, s0)
    z = b.fmul(s, s)
    log_m = fma(b, b.fmul(s, z), estrin(b, z, LOG_Q), b.fadd(s, s))
    res = fma(b, log_m, 1 / math.log(2), b.fpext(k, f64))
    res = pick(b, cmp(b, "==", ax, 0.0), -INF, res, f64)
    res = pick(b, cmp(b, "==", ax, INF), INF, res, f64)
    return b.select(b.fcmp_unordered("uno", ax, ax), b.fpext(ax, f64), res)


def _exp2_f64(b: ir.IRBuilder, t: Value) -> Value:
    """2**t in double to ~2**-34 relative (enough for a float32 result); inf/0 beyond range."""
    n, k = round_int(b, F64, t, 1.0)
    r = b.fsub(t, n)  # exact
    res = ldexp(b, F64, fma(b, r, estrin(b, r, EXP2_H), 1.0), k)
    res = pick(b, cmp(b, ">", t, EXP2_RANGE[1]), INF, res, t.type)
    return pick(b, cmp(b, "<", t, EXP2_RANGE[0]), 0.0, res, t.type)


def _magnitude_f32(b: ir.IRBuilder, ax: Value, y: Value) -> Value:
    """|x|**y for float32 |x| and y, as a double."""
    return _exp2_f64(b, b.fmul(b.fpext(y, ir.DoubleType()), _log2_f32(b, ax)))


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
        mag = b.fptrunc(_magnitude_f32(b, fabs(b, x), y), x.type)
        return _apply_signs(b, x, y, mag)
    return _apply_signs(b, x, y, _magnitude_f64(b, fabs(b, x), y))
