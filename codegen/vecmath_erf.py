"""erf as branch-free IR: float64 by erfc = exp(-x**2) G(x), float32 in float32 arithmetic.

Note [erf on AVX2]
float32 erf used to widen to double, compute and round once. With the double arithmetic
dominating the loop, LLVM's cost model finds 4 lanes as cheap as 8 per element on AVX2 and
keeps 4 (<4 x float> loads), half the width of every other float32 kernel, and it ran at
8 ns/element. It is now computed in float32 (8 lanes on AVX2, 16 on AVX-512): erf(x) =
x P(x**2) below SPLIT_32 and 1 - exp(Q(|x|)) with Q ~ log erfc above, 1 from 4 on. Q's float32
rounding (a few 2**-24 |Q|) is a relative error of erfc, which is small against 1 - erfc.
"""

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
from .vecmath_exp import exp, exp_normal

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


# float32: |x| < SPLIT_32: erf(x) = x P(x**2 - SMALL_MID_32) (fit of erf(x)/x, relative error
# 4e-10); SPLIT_32 <= |x| < 4: erf(|x|) = 1 - exp(Q(|x| - TAIL_MID_32)), Q a fit of log erfc
# weighted by erfc / ulp(erf), the error each of its own errors makes in the result (at most
# 0.025 ulp of erf, float32 coefficients rounded and refitted in turn), and exp without its
# overflow and underflow selects (Q is in [-18, -1.6] there; elsewhere the select discards
# it); erf(x) rounds to +-1 in float32 from 4 on. Fits: Lawson iterations on Chebyshev nodes,
# mpmath references. Q's degree 10 -> 6 and the plain exp made a GELU loop (AVX-512, one core,
# 32K elements) 1.30 -> 1.04 ns an element (medians of 41 interleaved, load ~8), erf 1.07 ->
# 0.86; every float32 in [0.125, 4.5] within 2 ulp of float64 erf, as before (5,559 at 2
# against 17,115). The transformer block's step (benchmarks/models.py, 1 thread): its two GELU
# kernels 6.64 -> 5.30 ms (medians of 30 in-process interleaved steps, load ~9).
SPLIT_32 = 0.921875
SMALL_MID_32 = 0.4249267578125
ERF32_SMALL = (
    8.3926965749949e-05,
    -0.0006008737252063604,
    0.003697643931768727,
    -0.019360994492133122,
    0.08364798092667837,
    -0.2933104389291627,
    0.9870251404159727,
)
TAIL_MID_32 = 2.4609375
ERF32_TAIL = (
    0.0001947757846210152,
    -0.00015603814972564578,
    0.002569053787738085,
    -0.01104468572884798,
    -0.9425899386405945,
    -5.279004096984863,
    -7.59916877746582,
)
SATURATE_32 = 4.0


def _erf_f32(b: ir.IRBuilder, x: Value) -> Value:
    ty = x.type
    a = fabs(b, x)
    small = b.fmul(x, poly(b, add(b, b.fmul(x, x), -SMALL_MID_32), ERF32_SMALL))
    q = poly(b, add(b, a, -TAIL_MID_32), ERF32_TAIL)
    tail = b.fsub(ir.Constant(ty, 1.0), exp_normal(b, q))
    big = copysign(b, pick(b, cmp(b, "<", a, SATURATE_32), tail, 1.0, ty), x)
    return keep_nan(b, x, b.select(cmp(b, "<", a, SPLIT_32), small, big))


def erf(b: ir.IRBuilder, x: Value) -> Value:
    """erf(x); keeps -0, erf(+-inf) = +-1."""
    return _erf_f32(b, x) if fmt_of(x) is F32 else _erf_f64(b, x)
