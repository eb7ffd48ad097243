"""exp and its relatives (tanh, sigmoid) as branch-free IR: Cody-Waite reduction + polynomial."""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from .vecmath_core import (
    F32,
    F64,
    INF,
    Fmt,
    Value,
    add,
    cmp,
    const,
    copysign,
    fabs,
    fma,
    fmt_of,
    iconst,
    ldexp,
    pick,
    poly,
    pow2i,
    round_int,
)


@dataclass(frozen=True)
class ExpConsts:
    """e**r = 1 + r * H(r) and e**r - 1 = r + r**2 * G(r) on |r| <= ln2/2; e**x is 0 below lo
    and inf above hi (the reduction itself only holds for |x / ln2| < 2**(mant - 1))."""

    lo: float
    hi: float
    ln2_hi: float  # n * ln2_hi is exact, or x - n * ln2_hi is exact under fma
    ln2_lo: float
    h: tuple[float, ...]
    g: tuple[float, ...]


# float64: G is a Chebyshev fit of (e**r - 1 - r) / r**2 on [-0.35, 0.35] (mpmath, 60 digits)
# and H = 1 + r * G. float32: weighted minimax fits (Lawson iterations, mpmath) of H for the
# error of e**r relative to e**r (2**-28.9), and of G for the error of e**r - 1 relative to itself
# (2**-26.2: tanh needs it for small |x|).
_G64 = (
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
)
EXP: dict[Fmt, ExpConsts] = {
    F32: ExpConsts(
        lo=-110.0,
        hi=89.0,
        ln2_hi=0.693359375,
        ln2_lo=-2.12194440e-4,
        h=(
            0.0013843465784943755,
            0.00837431669672374,
            0.0416680128287577,
            0.1666642940896431,
            0.49999994139146686,
            1.000000032540865,
        ),
        g=(
            0.001388249710137066,
            0.008366646814386518,
            0.04166720392432202,
            0.16666542684275368,
            0.4999999813291621,
        ),
    ),
    F64: ExpConsts(
        lo=-760.0,
        hi=710.0,
        ln2_hi=float.fromhex("0x1.62e42fefa39efp-1"),
        ln2_lo=float.fromhex("0x1.abc9e3b39803fp-56"),
        h=(*_G64, 1.0),
        g=_G64,
    ),
}
LOG2E = 1.4426950408889634


def _reduce(
    b: ir.IRBuilder, fmt: Fmt, x: Value, bias: int = 0, lo: Value | None = None
) -> tuple[Value, Value]:
    """(r, k): x + lo = n ln2 + r with n = rint(x / ln2) and k = n + bias as an integer."""
    c = EXP[fmt]
    n, k = round_int(b, fmt, x, LOG2E, bias)
    r = fma(b, b.fneg(n), c.ln2_hi, x)
    r = fma(b, b.fneg(n), c.ln2_lo, r)
    return (r if lo is None else b.fadd(r, lo)), k


def exp_dd(b: ir.IRBuilder, x: Value, lo: Value | None = None) -> Value:
    """exp(x + lo) for a double-double argument (lo may be None). Overflow gives inf,
    underflow gradual denormals then 0, NaN stays NaN."""
    fmt = fmt_of(x)
    c = EXP[fmt]
    r, k = _reduce(b, fmt, x, lo=lo)
    res = ldexp(b, fmt, fma(b, r, poly(b, r, c.h), 1.0), k)
    # selects, not a clamp of x: compares and blends leave the FP port to the arithmetic
    res = pick(b, cmp(b, ">", x, c.hi), INF, res, fmt.ty)
    return pick(b, cmp(b, "<", x, c.lo), 0.0, res, fmt.ty)


def exp(b: ir.IRBuilder, x: Value) -> Value:
    """e**x."""
    return exp_dd(b, x)


def exp_normal(b: ir.IRBuilder, x: Value) -> Value:
    """e**x for x whose result is a normal float (float32: -87 < x < 88), without exp's
    overflow and underflow selects; other x give garbage for the caller to discard."""
    fmt = fmt_of(x)
    r, k = _reduce(b, fmt, x)
    return b.fmul(fma(b, r, poly(b, r, EXP[fmt].h), 1.0), pow2i(b, fmt, k))


def expm1_small(b: ir.IRBuilder, x: Value) -> Value:
    """exp(x) - 1 with relative accuracy for 0 <= x <= 40 (NaN stays NaN, larger x: garbage)."""
    fmt = fmt_of(x)
    r, k = _reduce(b, fmt, x, bias=fmt.bias)
    scale = b.bitcast(b.shl(k, iconst(fmt, fmt.mant)), fmt.ty)  # 2**n: n + bias is in range
    em1_r = fma(b, b.fmul(r, r), poly(b, r, EXP[fmt].g), r)
    return fma(b, scale, em1_r, add(b, scale, -1.0))


# tanh(x) rounds to +-1 beyond these
TANH_SATURATE: dict[Fmt, float] = {F32: 10.0, F64: 20.0}


def tanh(b: ir.IRBuilder, x: Value) -> Value:
    """tanh(x) = em / (em + 2), em = expm1(2|x|), with the sign of x (so tanh(-0) = -0);
    saturates to +-1."""
    fmt = fmt_of(x)
    a = fabs(b, x)
    em = expm1_small(b, b.fadd(a, a))
    res = pick(b, cmp(b, ">", a, TANH_SATURATE[fmt]), 1.0, b.fdiv(em, add(b, em, 2.0)), fmt.ty)
    return copysign(b, res, x)


def sigmoid(b: ir.IRBuilder, x: Value) -> Value:
    """1 / (1 + e**-x), PyTorch's formula: 0 where e**-x overflows (x below about -88.7 in
    float32), as PyTorch's, never inf/inf."""
    return b.fdiv(const(x.type, 1.0), add(b, exp(b, b.fneg(x)), 1.0))
