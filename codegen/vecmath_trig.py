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
    Fmt,
    Value,
    cmp,
    fabs,
    fma,
    fmt_of,
    iconst,
    pick,
    poly,
    round_int,
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


def _reduce(b: ir.IRBuilder, x: Value) -> tuple[Value, Value, Value]:
    """(sin r, cos r, k) with x = n pi/2 + r and k = n as an integer (low bits meaningful in
    the accurate range). inf and NaN give NaN through the arithmetic (inf - inf)."""
    fmt = fmt_of(x)
    c = TRIG[fmt]
    n, k = round_int(b, fmt, x, TWO_OVER_PI)
    r = x
    for part in c.pio2:
        r = fma(b, b.fneg(n), part, r)
    # beyond the accurate range |r| can be large: 0 keeps |result| <= 1 (NaN stays NaN)
    r = pick(b, cmp(b, ">", fabs(b, r), 0.8), 0.0, r, fmt.ty)
    s = b.fmul(r, r)
    sin_r = fma(b, b.fmul(r, s), poly(b, s, c.sin_p), r)
    cos_r = fma(b, b.fmul(s, s), poly(b, s, c.cos_p), fma(b, s, -0.5, 1.0))
    return sin_r, cos_r, k


def _quadrant(b: ir.IRBuilder, sin_r: Value, cos_r: Value, k: Value) -> Value:
    """sin(r + k pi/2): bit 0 of k picks cos r, bit 1 flips the sign."""
    fmt = fmt_of(sin_r)
    use_cos = b.icmp_unsigned("!=", b.and_(k, iconst(fmt, 1)), iconst(fmt, 0))
    res = b.bitcast(b.select(use_cos, cos_r, sin_r), fmt.ity)
    sign = b.and_(b.shl(k, iconst(fmt, fmt.width - 2)), iconst(fmt, 1 << (fmt.width - 1)))
    return b.bitcast(b.xor(res, sign), fmt.ty)


def sin(b: ir.IRBuilder, x: Value) -> Value:
    """sin(x); keeps -0. Shares its reduction with a cos of the same operand (CSE)."""
    res = _quadrant(b, *_reduce(b, x))
    return b.select(cmp(b, "==", x, 0.0), x, res)


def cos(b: ir.IRBuilder, x: Value) -> Value:
    """cos(x) = sin(x + pi/2)."""
    sin_r, cos_r, k = _reduce(b, x)
    return _quadrant(b, sin_r, cos_r, b.add(k, iconst(fmt_of(x), 1)))
