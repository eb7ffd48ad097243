"""sin and cos for every float: Cody-Waite + polynomials inline, Payne-Hanek on a rare path.

Note [trig range reduction]
sin/cos reduce x = k pi/2 + r, |r| <= pi/4, then evaluate sin r or cos r by k mod 4.
- Fast path, inline and vectorized, for |x| < FAST_BELOW (2**18 float32, 2**40 float64):
  k = rint(x 2/pi) (the 1.5 * 2**mant trick), r = x - k P1 - k P2 - k P3 with fma, pi/2
  split into three parts (72 bits for float32, 159 for float64). The first step is exact, the
  two others round to r's precision, and the parts are long enough that the closest floats to a
  multiple of pi/2 in this range keep full relative accuracy (the float32 worst case below
  2**18, x = 252.898..., is 2**-28.5 quarter turns away). Polynomials (Chebyshev fits) on
  r**2. Max error 2 ulp: float32 checked against double for every float in [2**-3, 2**18)
  and (-2**18, -2**13] (from 2**18 on the fast path fails); float64 by samples (2 ulp up to
  2**47, wrong beyond) and by the bound: below 2**40, k P3 < 2**-69 while the floats closest
  to a multiple of pi/2 are 2**-61 away (below), so rounding r - k P2 costs under 1 ulp of r.
- Slow path, for |x| >= FAST_BELOW, inf and NaN (Note [rare slow paths] in vecmath_rare.py),
  in double and scalar code: Payne-Hanek (vecmath_pio2.reduce_large). |x| = m 2**q with an
  integer m < 2**53; the 192 bits of 2/pi (stored to 1280 bits, as 64-bit words) starting at
  weight 2**(1-q) give m 2**q 2/pi mod 4 as a 128-bit fixed-point number with 126 fraction
  bits (the 2**128 that wraps away is a multiple of 4 quarter turns): three 64x64-bit
  products. Error below 2**-124 quarter turns (bits of 2/pi beyond the window: < 2**-137;
  dropped product bits: < 2**-126). Rounding to the nearest quarter turn gives k mod 4 and a
  fraction in [-1/2, 1/2], converted exactly enough to a double-double, times pi/2 as a
  double-double r_hi + r_lo (relative error ~2**-100). The floats closest to a multiple of
  pi/2 are 2**-29.9 (float32, x = 16367173 * 2**72) and 2**-61.5 quarter turns away (float64,
  x = 6381956970095103 * 2**797), so r keeps a relative error below 2**-62 everywhere. sin and
  cos of r_hi by the double polynomials, corrected to first order by r_lo: max error 1 ulp
  measured (float32 is computed in double and rounded once: 0.5 ulp + 2**-29).
inf gives NaN (inf - inf in the reduction), NaN stays NaN, sin keeps -0. Before issue 12 the
fast path was used for every x: float32 errors above 1e-3 from |x| ~ 4e5 and results of
-1, 0, 1 from 1e7; float64 wrong from ~2.4e14.
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
    fma,
    fmt_of,
    iconst,
    poly,
    round_int,
)
from .vecmath_pio2 import reduce_large
from .vecmath_rare import FnAttrs, RareSpec, rare_fixup


@dataclass(frozen=True)
class TrigConsts:
    """pi/2 split into three parts; sin r = r + r**3 S(r**2), cos r = 1 - r**2/2 + r**4 C(r**2)."""

    pio2: tuple[float, float, float]
    sin_p: tuple[float, ...]
    cos_p: tuple[float, ...]


def _hex3(hi: str, mid: str, lo: str) -> tuple[float, float, float]:
    """A three-part split of a constant from its hex floats."""
    return float.fromhex(hi), float.fromhex(mid), float.fromhex(lo)


# Polynomials: Chebyshev fits on r**2 <= (1.001 pi/4)**2 (mpmath, 60 digits).
TRIG: dict[Fmt, TrigConsts] = {
    F32: TrigConsts(
        pio2=_hex3("0x1.921fb6p+0", "-0x1.777a5cp-25", "-0x1.ee59dap-50"),
        sin_p=(-0.00019587387068464455, 0.008332745936380422, -0.16666664650292082),
        cos_p=(2.45474372101932e-05, -0.00138883006969039, 0.04166666464745738),
    ),
    F64: TrigConsts(
        pio2=_hex3("0x1.921fb54442d18p+0", "0x1.1a62633145c07p-54", "-0x1.f1976b7ed8fbcp-110"),
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


def _cody_waite(b: ir.IRBuilder, x: Value) -> tuple[Value, Value]:
    """(r, k): x = n pi/2 + r with n = rint(x 2/pi) and k = n as an integer; accurate for
    |x| < FAST_BELOW. inf and NaN give NaN (inf - inf)."""
    fmt = fmt_of(x)
    n, k = round_int(b, fmt, x, TWO_OVER_PI)
    r = x
    for part in TRIG[fmt].pio2:
        r = fma(b, b.fneg(n), part, r)
    return r, k


def _polys(b: ir.IRBuilder, r: Value) -> tuple[Value, Value]:
    """(sin r, cos r) for |r| <= 1.001 pi/4."""
    c = TRIG[fmt_of(r)]
    s = b.fmul(r, r)
    sin_r = fma(b, b.fmul(r, s), poly(b, s, c.sin_p), r)
    cos_r = fma(b, b.fmul(s, s), poly(b, s, c.cos_p), fma(b, s, -0.5, 1.0))
    return sin_r, cos_r


# |x| from which the Payne-Hanek path replaces Cody-Waite: below it the fast path is accurate
# to 2 ulp (see Note [trig range reduction]; float32 checked exhaustively up to 2**18)
FAST_BELOW: dict[Fmt, float] = {F32: 2.0**18, F64: 2.0**40}


def _large_fn(mod: ir.Module, ty: ir.Type) -> ir.Function:
    """`ty f(ty x, ty shift)`: sin(x + shift pi/2) through the Payne-Hanek reduction, in double
    (rounded once to float32 for float32), for |x| >= FAST_BELOW. One per module and type,
    shared by sin and cos (it is most of their compile time); scalar code (the rare path)."""
    name = f"adjit_vecmath_trig_large_{ty}"
    if name in mod.globals:
        return mod.globals[name]
    fn = ir.Function(mod, ir.FunctionType(ty, [ty, F64.ity]), name)
    fn.linkage = "internal"
    fn.attributes = FnAttrs(["noinline", "nounwind", "readnone", "willreturn"])
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    x, shift = fn.args
    wide = fmt_of(x) is F32
    xd = b.fpext(x, F64.ty) if wide else x
    r, r_lo, k = reduce_large(b, xd)
    sin_r, cos_r = _polys(b, r)  # then sin(r + r_lo) and cos(r + r_lo) to first order
    sin_r, cos_r = fma(b, r_lo, cos_r, sin_r), fma(b, b.fneg(r_lo), sin_r, cos_r)
    res = _quadrant(b, sin_r, cos_r, b.add(k, shift))
    b.ret(b.fptrunc(res, x.type) if wide else res)
    return fn


def _sin_large(b: ir.IRBuilder, x: Value) -> Value:
    return b.call(_large_fn(b.module, x.type), [x, iconst(F64, 0)])


def _cos_large(b: ir.IRBuilder, x: Value) -> Value:
    return b.call(_large_fn(b.module, x.type), [x, iconst(F64, 1)])


def _reduce(b: ir.IRBuilder, x: Value) -> tuple[Value, Value, Value]:
    """(sin r, cos r, k) with x = k pi/2 + r by Cody-Waite: right for |x| < FAST_BELOW (the
    callers fix the other lanes with rare_fixup)."""
    r, k = _cody_waite(b, x)
    return (*_polys(b, r), k)


def _quadrant(b: ir.IRBuilder, sin_r: Value, cos_r: Value, k: Value) -> Value:
    """sin(r + k pi/2): bit 0 of k picks cos r, bit 1 flips the sign."""
    fmt = fmt_of(sin_r)
    use_cos = b.icmp_unsigned("!=", b.and_(k, iconst(fmt, 1)), iconst(fmt, 0))
    res = b.bitcast(b.select(use_cos, cos_r, sin_r), fmt.ity)
    sign = b.and_(b.shl(k, iconst(fmt, fmt.width - 2)), iconst(fmt, 1 << (fmt.width - 1)))
    return b.bitcast(b.xor(res, sign), fmt.ty)


def sin(b: ir.IRBuilder, x: Value) -> Value:
    """sin(x) for every float x; keeps -0. Shares its fast reduction with a cos of the same
    operand (CSE); |x| >= FAST_BELOW (and NaN) go through the rare path."""
    fast = b.select(cmp(b, "==", x, 0.0), x, _quadrant(b, *_reduce(b, x)))
    spec = RareSpec("sin", FAST_BELOW[fmt_of(x)], _sin_large)
    return rare_fixup(b, spec, x, fast)


def cos(b: ir.IRBuilder, x: Value) -> Value:
    """cos(x) = sin(x + pi/2) for every float x."""
    sin_r, cos_r, k = _reduce(b, x)
    fast = _quadrant(b, sin_r, cos_r, b.add(k, iconst(fmt_of(x), 1)))
    spec = RareSpec("cos", FAST_BELOW[fmt_of(x)], _cos_large)
    return rare_fixup(b, spec, x, fast)
