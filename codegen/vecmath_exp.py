"""exp and its relatives (tanh, sigmoid) as branch-free IR: Cody-Waite reduction + polynomial."""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from .vecmath_core import (
    F32,
    F64,
    Fmt,
    Value,
    add,
    clamp,
    cmp,
    copysign,
    fabs,
    fma,
    fmt_of,
    keep_nan,
    mul,
    pick,
    poly,
    pow2i,
    rint,
    scale2,
)


@dataclass(frozen=True)
class ExpConsts:
    """exp(r) = 1 + r + r**2 * P(r) on |r| <= ln2/2; x clamped to [lo, hi] before reducing."""

    lo: float
    hi: float
    ln2_hi: float  # n * ln2_hi is exact, or x - n * ln2_hi is exact under fma
    ln2_lo: float
    p: tuple[float, ...]


# Coefficients: Chebyshev fits of (exp(r) - 1 - r) / r**2 on [-0.35, 0.35] (mpmath, 60 digits);
# the float32 set agrees with Cephes expf.
EXP: dict[Fmt, ExpConsts] = {
    F32: ExpConsts(
        lo=-110.0,
        hi=89.0,
        ln2_hi=0.693359375,
        ln2_lo=-2.12194440e-4,
        p=(
            1.989198131397769e-4,
            1.3934541928270264e-3,
            8.333310024225292e-3,
            4.166645680967788e-2,
            0.16666666682534356,
            0.5000000014286223,
        ),
    ),
    F64: ExpConsts(
        lo=-760.0,
        hi=710.0,
        ln2_hi=float.fromhex("0x1.62e42fefa39efp-1"),
        ln2_lo=float.fromhex("0x1.abc9e3b39803fp-56"),
        p=(
            2.0915442297780116e-09,
            2.5106274733573296e-08,
            2.75572718102198e-07,
            2.755725283351691e-06,
            2.4801587327007187e-05,
            1.9841269876864356e-04,
            1.3888888888883327e-03,
            8.333333333325544e-03,
            4.166666666666667e-02,
            0.1666666666666667,
            0.5,
        ),
    ),
}
LOG2E = 1.4426950408889634


def _reduce(b: ir.IRBuilder, fmt: Fmt, x: Value, lo: Value | None = None) -> tuple[Value, Value]:
    """n = rint(x / ln2), r = x - n ln2 (+ lo, the low part of a double-double x)."""
    c = EXP[fmt]
    n = rint(b, mul(b, x, LOG2E))
    r = fma(b, b.fneg(n), c.ln2_hi, x)
    r = fma(b, b.fneg(n), c.ln2_lo, r)
    if lo is not None:
        r = b.fadd(r, lo)
    return n, r


def _expm1_reduced(b: ir.IRBuilder, fmt: Fmt, r: Value) -> Value:
    """exp(r) - 1 for |r| <= ln2/2 (plus rounding slack)."""
    return fma(b, b.fmul(r, r), poly(b, r, EXP[fmt].p), r)


def exp_dd(b: ir.IRBuilder, x: Value, lo: Value | None = None) -> Value:
    """exp(x + lo) for a double-double argument (lo may be None). Overflow gives inf,
    underflow gradual denormals then 0, NaN stays NaN."""
    fmt = fmt_of(x)
    c = EXP[fmt]
    xc = clamp(b, x, c.lo, c.hi)
    if lo is not None:  # a clamped (or infinite) head makes the tail meaningless
        lo = pick(b, cmp(b, "==", xc, x), lo, 0.0, fmt.ty)
    n, r = _reduce(b, fmt, xc, lo)
    e = add(b, _expm1_reduced(b, fmt, r), 1.0)
    return keep_nan(b, x, scale2(b, fmt, e, n))


def exp(b: ir.IRBuilder, x: Value) -> Value:
    """e**x."""
    return exp_dd(b, x)


def expm1_small(b: ir.IRBuilder, x: Value) -> Value:
    """exp(x) - 1 with relative accuracy, for finite 0 <= x <= 40."""
    fmt = fmt_of(x)
    n, r = _reduce(b, fmt, x)
    scale = pow2i(b, fmt, b.fptosi(n, fmt.ity))
    return fma(b, scale, _expm1_reduced(b, fmt, r), add(b, scale, -1.0))


@dataclass(frozen=True)
class TanhConsts:
    """tanh(x) = x + x**3 * P(x**2) below `small`; em / (em + 2), em = expm1(2|x|), above."""

    small: float
    saturate: float  # tanh rounds to 1 beyond this
    p: tuple[float, ...]


# Chebyshev fits of (tanh(x) - x) / x**3 in s = x**2 on [0, small**2] (mpmath, 60 digits).
TANH: dict[Fmt, TanhConsts] = {
    F32: TanhConsts(
        small=0.625,
        saturate=10.0,
        p=(
            0.002292744816178142,
            -0.008343945515839153,
            0.02176891865102821,
            -0.053959259577204544,
            0.1333330355691574,
            -0.3333333317214036,
        ),
    ),
    F64: TanhConsts(
        small=0.55,
        saturate=20.0,
        p=(
            -2.060276537636634e-05,
            8.511313685577671e-05,
            -0.0002346347410887237,
            0.0005889360520074057,
            -0.001455661830100716,
            0.003592110378689024,
            -0.008863234397814355,
            0.021869488493666944,
            -0.053968253967434016,
            0.13333333333332714,
            -0.3333333333333333,
        ),
    ),
}


def tanh(b: ir.IRBuilder, x: Value) -> Value:
    """tanh(x); keeps -0, saturates to +-1."""
    fmt = fmt_of(x)
    c = TANH[fmt]
    s = b.fmul(x, x)
    near0 = fma(b, b.fmul(x, s), poly(b, s, c.p), x)
    a = clamp(b, fabs(b, x), 0.0, c.saturate)
    em = expm1_small(b, mul(b, a, 2.0))
    far = copysign(b, b.fdiv(em, add(b, em, 2.0)), x)
    res = b.select(cmp(b, "<", fabs(b, x), c.small), near0, far)
    return keep_nan(b, x, copysign(b, res, x))  # copysign: tanh(-0) = -0


def sigmoid(b: ir.IRBuilder, x: Value) -> Value:
    """1 / (1 + e**-x), computed as e / (1 + e) with e = e**-|x| for x < 0 (no overflow)."""
    e = exp(b, b.fneg(fabs(b, x)))
    num = pick(b, cmp(b, "<", x, 0.0), e, 1.0, x.type)
    return b.fdiv(num, add(b, e, 1.0))
