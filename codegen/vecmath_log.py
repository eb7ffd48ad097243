"""log, log1p and a double-double log (for pow) as branch-free IR, after fdlibm."""

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
    cmp,
    fast_two_sum,
    fma,
    fmt_of,
    mul,
    pick,
    poly,
    specials,
    split_sqrt2,
    two_prod,
    two_sum,
)


@dataclass(frozen=True)
class LogConsts:
    """log(1+f) = f - f**2/2 + s*(f**2/2 + z*P(z)), s = f/(2+f), z = s**2 (fdlibm)."""

    ln2_hi: float  # k * ln2_hi is exact for every exponent k
    ln2_lo: float
    p: tuple[float, ...]  # Lg_n .. Lg1


LOG: dict[Fmt, LogConsts] = {
    F32: LogConsts(  # musl logf / log1pf
        ln2_hi=float.fromhex("0x1.62e300p-1"),
        ln2_lo=float.fromhex("0x1.2fefa2p-17"),
        p=tuple(
            float.fromhex(h)
            for h in ("0xf89e26p-26", "0x91e9eep-25", "0xccce13p-25", "0xaaaaaap-24")
        ),
    ),
    F64: LogConsts(  # fdlibm e_log.c
        ln2_hi=6.93147180369123816490e-01,
        ln2_lo=1.90821492927058770002e-10,
        p=(
            1.479819860511658591e-01,
            1.531383769920937332e-01,
            1.818357216161805012e-01,
            2.222219843214978396e-01,
            2.857142874366239149e-01,
            3.999999999940941908e-01,
            6.666666666666735130e-01,
        ),
    ),
}


def _log_kernel(b: ir.IRBuilder, fmt: Fmt, f: Value, k: Value, c: Value | None) -> Value:
    """k*ln2 + log(1+f) + c for f in [sqrt(1/2)-1, sqrt(2)-1] and a small correction c."""
    lc = LOG[fmt]
    s = b.fdiv(f, add(b, f, 2.0))
    z = b.fmul(s, s)
    r = b.fmul(z, poly(b, z, lc.p))
    hfsq = b.fmul(mul(b, f, 0.5), f)
    low = mul(b, k, lc.ln2_lo) if c is None else fma(b, k, lc.ln2_lo, c)
    t = fma(b, s, b.fadd(hfsq, r), low)
    return b.fadd(mul(b, k, lc.ln2_hi), b.fsub(f, b.fsub(hfsq, t)))


_LOG_SPECIALS = (("==", 0.0, -INF), ("<", 0.0, NAN), ("==", INF, INF))


def log(b: ir.IRBuilder, x: Value) -> Value:
    """Natural log: log(0) = -inf, log(x<0) = nan, log(inf) = inf; denormals handled."""
    fmt = fmt_of(x)
    m, k = split_sqrt2(b, fmt, x)
    res = _log_kernel(b, fmt, add(b, m, -1.0), k, None)
    return specials(b, x, res, _LOG_SPECIALS)


_LOG1P_SPECIALS = (("==", -1.0, -INF), ("<", -1.0, NAN), ("==", INF, INF))


def log1p(b: ir.IRBuilder, x: Value) -> Value:
    """log(1 + x) accurate near 0; keeps -0."""
    fmt = fmt_of(x)
    u = add(b, x, 1.0)
    m, k = split_sqrt2(b, fmt, u)
    near0 = cmp(b, "==", k, 0.0)  # 1+x in [sqrt(1/2), sqrt(2)): f = x exactly
    big = cmp(b, ">=", k, 2.0)
    # 1 + x == u + err exactly; log(1+x) ~ log(u) + err/u
    err = b.select(big, b.fsub(ir.Constant(fmt.ty, 1.0), b.fsub(u, x)), b.fsub(x, add(b, u, -1.0)))
    c = pick(b, near0, 0.0, b.fdiv(err, u), fmt.ty)
    f = b.select(near0, x, add(b, m, -1.0))
    res = _log_kernel(b, fmt, f, k, c)
    res = b.select(cmp(b, "==", x, 0.0), x, res)
    return specials(b, x, res, _LOG1P_SPECIALS)


# log(m) = 2s + (2/3) s**3 + s**5 P(s**2), s = (m-1)/(m+1); Chebyshev fit on s**2 <= 0.0297.
LOG_DD_P = (
    0.11735818855512968,
    0.11705021567538627,
    0.13334850282547114,
    0.1538459412012637,
    0.18181818343316125,
    0.2222222222162076,
    0.28571428571429425,
    0.4,
)
TWO_THIRDS = (float.fromhex("0x1.5555555555555p-1"), float.fromhex("0x1.5555555555555p-55"))


def log_dd(b: ir.IRBuilder, x: Value) -> tuple[Value, Value]:
    """log(x) as a double-double (hi, lo), relative error ~2**-64, for finite double x > 0;
    x = 0 gives (-inf, 0), x = inf gives (inf, 0), NaN gives NaN."""
    fmt = fmt_of(x)
    lc = LOG[fmt]
    m, k = split_sqrt2(b, fmt, x)
    f = add(b, m, -1.0)
    # s = f / (2 + f) as s_hi + s_lo
    d_hi, d_lo = fast_two_sum(b, ir.Constant(fmt.ty, 2.0), f)
    s_hi = b.fdiv(f, d_hi)
    resid = b.fsub(fma(b, b.fneg(s_hi), d_hi, f), b.fmul(s_hi, d_lo))
    s_lo = b.fdiv(resid, d_hi)
    # s**3 (double-double), times 2/3
    z, z_lo = two_prod(b, s_hi, s_hi)
    c_hi, c_lo = two_prod(b, z, s_hi)
    c_lo = b.fadd(c_lo, fma(b, z_lo, s_hi, mul(b, b.fmul(z, s_lo), 3.0)))
    t_hi, t_lo = two_prod(b, c_hi, TWO_THIRDS[0])
    t_lo = b.fadd(t_lo, fma(b, c_hi, TWO_THIRDS[1], mul(b, c_lo, TWO_THIRDS[0])))
    tail = b.fmul(b.fmul(c_hi, z), poly(b, z, LOG_DD_P))
    # k ln2_hi + 2 s_hi + t_hi exactly, then the small parts
    h, e1 = two_sum(b, mul(b, k, lc.ln2_hi), mul(b, s_hi, 2.0))
    h, e2 = two_sum(b, h, t_hi)
    small = b.fadd(b.fadd(tail, t_lo), fma(b, s_lo, 2.0, mul(b, k, lc.ln2_lo)))
    hi, lo = fast_two_sum(b, h, b.fadd(b.fadd(e1, e2), small))
    edge = b.fcmp_unordered("uno", x, x)
    for op, operand, value in _LOG_SPECIALS[::2]:
        hit = cmp(b, op, x, operand)
        hi = pick(b, hit, value, hi, fmt.ty)
        edge = b.or_(edge, hit)
    hi = b.select(b.fcmp_unordered("uno", x, x), x, hi)
    return hi, pick(b, edge, 0.0, lo, fmt.ty)
