"""sin and cos as branch-free IR: quadrant reduction by pi/2 (3-part fma Cody-Waite) + polynomials.

Accurate range: |x| <= 1e4 for float32 (pi/2 carried to 72 bits), |x| <= 1e9 for float64
(159 bits). Beyond it results stay finite and within [-1, 1] but lose accuracy; inf gives NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from .vecmath_core import (
    F32,
    F64,
    INF,
    NAN,
    Fmt,
    Value,
    add,
    clamp,
    cmp,
    fabs,
    floor,
    fma,
    fmt_of,
    iconst,
    mul,
    pick,
    poly,
    rint,
)


@dataclass(frozen=True)
class TrigConsts:
    """pi/2 split into three parts; sin r = r + r**3 S(r**2), cos r = 1 - r**2/2 + r**4 C(r**2)."""

    pio2: tuple[float, float, float]
    sin_p: tuple[float, ...]
    cos_p: tuple[float, ...]


# Polynomials: Chebyshev fits on r**2 <= (1.001 pi/4)**2 (mpmath, 60 digits).
TRIG: dict[Fmt, TrigConsts] = {
    F32: TrigConsts(
        pio2=tuple(
            float.fromhex(h) for h in ("0x1.921fb6p+0", "-0x1.777a5cp-25", "-0x1.ee59dap-50")
        ),
        sin_p=(-0.00019587387068464455, 0.008332745936380422, -0.16666664650292082),
        cos_p=(2.45474372101932e-05, -0.00138883006969039, 0.04166666464745738),
    ),
    F64: TrigConsts(
        pio2=tuple(
            float.fromhex(h)
            for h in ("0x1.921fb54442d18p+0", "0x1.1a62633145c07p-54", "-0x1.f1976b7ed8fbcp-110")
        ),
        sin_p=(
            -7.586576588171073e-13,
            1.6058529572267877e-10,
            -2.5052106219521895e-08,
            2.755731921930192e-06,
            -0.00019841269841265017,
            0.008333333333333331,
            -0.16666666666666666,
        ),
        cos_p=(
            -1.1382456778061306e-11,
            2.0876143827993133e-09,
            -2.7557317260008837e-07,
            2.480158729874307e-05,
            -0.0013888888888887382,
            0.041666666666666664,
        ),
    ),
}
TWO_OVER_PI = 0.6366197723675814


def _sincos(b: ir.IRBuilder, x: Value, quadrant_shift: float) -> Value:
    """sin(x + quadrant_shift * pi/2)."""
    fmt = fmt_of(x)
    c = TRIG[fmt]
    finite = cmp(b, "<", fabs(b, x), INF)
    xs = pick(b, finite, x, 0.0, fmt.ty)
    q = rint(b, mul(b, xs, TWO_OVER_PI))
    r = xs
    for part in c.pio2:
        r = fma(b, b.fneg(q), part, r)
    r = clamp(b, r, -0.8, 0.8)  # only matters beyond the accurate range: keeps |result| <= 1
    s = b.fmul(r, r)
    sin_r = fma(b, b.fmul(r, s), poly(b, s, c.sin_p), r)
    cos_r = fma(b, b.fmul(s, s), poly(b, s, c.cos_p), fma(b, s, -0.5, 1.0))
    # quadrant mod 4 in float arithmetic (exact, and valid for any magnitude of q)
    j = add(b, q, quadrant_shift)
    j = b.fsub(j, mul(b, floor(b, mul(b, j, 0.25)), 4.0))
    ji = b.fptosi(j, fmt.ity)
    use_cos = b.icmp_unsigned("!=", b.and_(ji, iconst(fmt, 1)), iconst(fmt, 0))
    negate = b.icmp_unsigned("!=", b.and_(ji, iconst(fmt, 2)), iconst(fmt, 0))
    res = b.select(use_cos, cos_r, sin_r)
    res = b.select(negate, b.fneg(res), res)
    return pick(b, finite, res, NAN, fmt.ty)


def sin(b: ir.IRBuilder, x: Value) -> Value:
    """sin(x); keeps -0."""
    res = _sincos(b, x, 0.0)
    return b.select(cmp(b, "==", x, 0.0), x, res)


def cos(b: ir.IRBuilder, x: Value) -> Value:
    """cos(x)."""
    return _sincos(b, x, 1.0)
