"""erf as branch-free IR, evaluated in double (float32 widens, computes, rounds once)."""

from __future__ import annotations

from llvmlite import ir

from .vecmath_core import (
    F32,
    Value,
    add,
    cmp,
    copysign,
    fabs,
    fma,
    fmt_of,
    keep_nan,
    pick,
    poly,
)
from .vecmath_exp import exp

# |x| < 1: erf(x) = x * P(x**2); Chebyshev fit on [0, 1] (mpmath, 60 digits).
ERF_SMALL = (
    5.957176147748911e-11,
    -1.1372848856791674e-09,
    1.4659775274047436e-08,
    -1.6350312701054695e-07,
    1.6461000484121368e-06,
    -1.4925595266831182e-05,
    0.0001205533111164271,
    -0.000854832698083379,
    0.0052239776248180145,
    -0.026866170645076792,
    0.11283791670954879,
    -0.3761263890318375,
    1.1283791670955126,
)
# 1 <= |x| < 6: erfc(x) = exp(-x**2) * G(v), G = erfc * exp(x**2), fitted in two pieces:
# v = x - 1.75 on [1, 2.5), v = 1/x - MID_C on [2.5, 6). Same degree: one Horner, coefficients
# chosen per element by select.
MID_SPLIT = 2.5
MID_C = 0.2833333333333333
G_NEAR = (
    -1.2122502617537188e-09,
    4.843675986860995e-09,
    -1.589789230506663e-08,
    6.045191233829322e-08,
    -2.278695540562056e-07,
    8.275753489404636e-07,
    -2.9279023630255475e-06,
    1.0086535231948864e-05,
    -3.375536224123748e-05,
    0.00010950531744961819,
    -0.00034353335270409817,
    0.0010392045192651948,
    -0.0030209746514672014,
    0.008404319207503399,
    -0.02225999524138744,
    0.055763630087083585,
    -0.13097634551448523,
    0.2849722347374364,
)
G_FAR = (0.0,) * 3 + (
    -5.2874823118610585,
    1.5634916635851506,
    0.9804587990723757,
    -1.3015001876896544,
    0.6974682613672563,
    -0.020364279914274894,
    -0.3243583849615233,
    0.30460352720500844,
    -0.08909314933002263,
    -0.12186467428348201,
    0.1940881122349798,
    -0.08575536991819736,
    -0.17130614668840938,
    0.5070310199784954,
    0.1540874111691922,
)
SATURATE = 6.0  # erf(x) rounds to 1 in double beyond this


def _erf_f64(b: ir.IRBuilder, x: Value) -> Value:
    ty = x.type
    a = fabs(b, x)
    s = b.fmul(a, a)
    small = b.fmul(a, poly(b, s, ERF_SMALL))
    near = cmp(b, "<", a, MID_SPLIT)
    v = b.select(near, add(b, a, -1.75), add(b, b.fdiv(ir.Constant(ty, 1.0), a), -MID_C))
    g = poly(b, v, [pick(b, near, cn, cf, ty) for cn, cf in zip(G_NEAR, G_FAR, strict=True)])
    s_lo = fma(b, a, a, b.fneg(s))  # a*a == s + s_lo exactly
    erfc = b.fmul(b.fmul(exp(b, b.fneg(s)), g), fma(b, s_lo, -1.0, 1.0))
    mid = b.fsub(ir.Constant(ty, 1.0), erfc)
    res = b.select(cmp(b, "<", a, 1.0), small, pick(b, cmp(b, "<", a, SATURATE), mid, 1.0, ty))
    return keep_nan(b, x, copysign(b, res, x))


def erf(b: ir.IRBuilder, x: Value) -> Value:
    """erf(x); keeps -0, erf(+-inf) = +-1."""
    if fmt_of(x) is F32:
        return b.fptrunc(_erf_f64(b, b.fpext(x, ir.DoubleType())), x.type)
    return _erf_f64(b, x)
