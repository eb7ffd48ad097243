"""Payne-Hanek reduction of huge sin/cos arguments in 128-bit integer arithmetic (scalar code: it
runs only for the rare lanes, see Note [rare slow paths] in vecmath_rare.py).

See Note [trig range reduction] in vecmath_trig.py for the method and the error bound.
"""

from __future__ import annotations

from llvmlite import ir

from .vecmath_core import F64, Value, fast_two_sum, fma, mul, two_prod, two_sum

# 2/pi = TWO_OVER_PI_BITS * 2**-1280 (truncated): enough for every double exponent (the
# reduction of 2**1023 needs the bits down to 2**-1190).
TWO_OVER_PI_BITS = int(
    "a2f9836e4e441529fc2757d1f534ddc0db6295993c439041fe5163abdebbc561b7246e3a424dd2e0"
    "06492eea09d1921cfe1deb1cb129a73ee88235f52ebb4484e99c7026b45f7e413991d639835339f4"
    "9c845f8bbdf9283b1ff897ffde05980fef2f118b5a0a6d1f6d367ecf27cb09b74f463f669e5fea2d"
    "7527bac7ebe5f17b3d0739f78a5292ea6bfb5fb11f8d5d0856033046fc7b6babf0cfbc209af4361d",
    16,
)
_L = 1280
PIO2_HI = float.fromhex("0x1.921fb54442d18p+0")
PIO2_LO = float.fromhex("0x1.1a62633145c07p-54")
I64, I128 = ir.IntType(64), ir.IntType(128)
# TWO_OVER_PI_BITS as 64-bit words, most significant first, after one zero word (the window of
# an x below 2**53 starts above 2/pi's first bit) and before two (the last window's tail)
WORDS = (
    (0,)
    + tuple((TWO_OVER_PI_BITS >> (_L - 64 * (i + 1))) & (2**64 - 1) for i in range(_L // 64))
    + (0, 0)
)


def window_start(q: int) -> int:
    """Bit position in WORDS (0 = most significant) of the bit of 2**q 2/pi with weight 2**1."""
    return 64 + (_L - 1) - (_L + 1 - q)


def _words(b: ir.IRBuilder) -> ir.GlobalVariable:
    name = "adjit.2_over_pi.words"
    if name in b.module.globals:
        return b.module.globals[name]
    ty = ir.ArrayType(I64, len(WORDS))
    g = ir.GlobalVariable(b.module, ty, name)
    g.global_constant = True
    g.linkage = "private"
    g.unnamed_addr = True
    g.initializer = ir.Constant(ty, [ir.Constant(I64, w) for w in WORDS])
    return g


def _window_word(b: ir.IRBuilder, pos: Value) -> Value:
    """The 64 bits of WORDS from bit position `pos` (an i64) on."""
    table = _words(b)

    def word(i: Value) -> Value:
        ptr = b.gep(table, [I64(0), i], inbounds=True, source_etype=table.value_type)
        return b.load(ptr, typ=I64)

    k = b.lshr(pos, I64(6))
    hi, lo = word(k), word(b.add(k, I64(1)))
    fshl = b.module.declare_intrinsic("llvm.fshl", [I64], ir.FunctionType(I64, [I64] * 3))
    return b.call(fshl, [hi, lo, b.and_(pos, I64(63))])


def reduce_large(b: ir.IRBuilder, x: Value) -> tuple[Value, Value, Value]:
    """(r_hi, r_lo, k) with x = r_hi + r_lo + k pi/2 (the low two bits of the i64 k exact,
    |r| <= pi/4, r_hi + r_lo to ~2**-100 relative) for a double x with |x| >= 2**-10; inf
    gives a NaN r_hi. Scalar code."""
    bits = b.bitcast(x, I64)
    field = b.and_(b.lshr(bits, I64(52)), I64(0x7FF))
    m = b.or_(b.and_(bits, I64(2**52 - 1)), I64(2**52))  # |x| = m * 2**q
    pos = b.add(field, I64(window_start(-1075)))  # q = field - 1075
    m128 = b.zext(m, I128)

    def times(offset: int) -> Value:
        return b.mul(m128, b.zext(_window_word(b, b.add(pos, I64(offset))), I128))

    # |x| 2/pi mod 4 in fixed point with 126 fraction bits: the 2**128 that wraps away is 4
    acc = b.add(b.shl(times(0), I128(64)), times(64))
    acc = b.add(acc, b.lshr(times(128), I128(64)))
    n = b.lshr(b.add(acc, I128(2**125)), I128(126))  # nearest integer, mod 4
    frac = b.sub(acc, b.shl(n, I128(126)))  # in [-2**125, 2**125) as a signed number
    dbl = ir.DoubleType()
    top = b.ashr(frac, I128(64))  # frac = top * 2**64 + low, |top| < 2**61
    a1 = b.sitofp(b.trunc(b.ashr(top, I128(11)), I64), dbl)  # 50 bits: exact
    a0 = b.sitofp(b.trunc(b.and_(top, I128(2**11 - 1)), I64), dbl)
    low = b.uitofp(b.trunc(frac, I64), dbl)
    y_hi, y_lo = two_sum(b, mul(b, a1, 2.0**-51), fma(b, a0, 2.0**-62, mul(b, low, 2.0**-126)))
    r_hi, e = two_prod(b, y_hi, PIO2_HI)
    r_lo = b.fadd(e, fma(b, y_hi, PIO2_LO, mul(b, y_lo, PIO2_HI)))
    r_hi, r_lo = fast_two_sum(b, r_hi, r_lo)
    r_hi = b.fadd(r_hi, b.fsub(x, x))  # NaN for inf
    k = b.trunc(n, I64)
    negative = b.icmp_signed("<", bits, I64(0))
    # the reduction of -x is (-r, -k)
    return (
        b.select(negative, b.fneg(r_hi), r_hi),
        b.select(negative, b.fneg(r_lo), r_lo),
        b.select(negative, b.neg(k), k),
    )


__all__ = ["F64", "WORDS", "reduce_large", "window_start"]
