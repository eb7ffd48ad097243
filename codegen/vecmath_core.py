"""Building blocks of the vectorizable math kernels: formats, constants, intrinsics, bit tricks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TypeAlias

from llvmlite import ir

Value: TypeAlias = ir.Value  # llvmlite is untyped: these aliases are Any to mypy
Coeff: TypeAlias = float | ir.Value

INF = float("inf")
NAN = float("nan")


@dataclass(frozen=True)
class Fmt:
    """An IEEE binary format: its LLVM float type, same-width integer type and field sizes."""

    ty: ir.Type
    ity: ir.IntType
    mant: int  # explicit mantissa bits
    bias: int  # exponent bias
    sqrt_half_bits: int  # bit pattern of sqrt(1/2)

    @property
    def width(self) -> int:
        return self.ity.width


F32 = Fmt(ir.FloatType(), ir.IntType(32), 23, 127, 0x3F3504F3)
F64 = Fmt(ir.DoubleType(), ir.IntType(64), 52, 1023, 0x3FE6A09E667F3BCD)
FORMATS: dict[str, Fmt] = {"float": F32, "double": F64}


def fmt_of(v: Value) -> Fmt:
    """The format of a float value; other types fail loudly."""
    try:
        return FORMATS[str(v.type)]
    except KeyError:
        raise TypeError(f"vecmath supports float and double, not {v.type}") from None


def const(ty: ir.Type, value: float) -> ir.Constant:
    """A float constant of type `ty` (rounded to float32 by llvmlite for `float`)."""
    return ir.Constant(ty, float(value))


def iconst(fmt: Fmt, value: int) -> ir.Constant:
    """An integer constant of the format's integer type."""
    return ir.Constant(fmt.ity, value)


def _c(b: ir.IRBuilder, ty: ir.Type, v: Coeff) -> Value:
    return const(ty, v) if isinstance(v, float | int) else v


def intrinsic(b: ir.IRBuilder, name: str, *args: Value) -> Value:
    """Call an overloaded LLVM intrinsic whose operands and result share one type."""
    ty = args[0].type
    fnty = ir.FunctionType(ty, [a.type for a in args])
    return b.call(b.module.declare_intrinsic(name, [ty], fnty), args)


def fabs(b: ir.IRBuilder, x: Value) -> Value:
    return intrinsic(b, "llvm.fabs", x)


def trunc(b: ir.IRBuilder, x: Value) -> Value:
    return intrinsic(b, "llvm.trunc", x)


def rint(b: ir.IRBuilder, x: Value) -> Value:
    return intrinsic(b, "llvm.rint", x)


def copysign(b: ir.IRBuilder, mag: Value, sign: Value) -> Value:
    return intrinsic(b, "llvm.copysign", mag, sign)


def clamp(b: ir.IRBuilder, x: Value, lo: float, hi: float) -> Value:
    """min(max(x, lo), hi); NaN stays NaN (one vminps/vmaxps each: the constant is not NaN)."""
    x = intrinsic(b, "llvm.minimum", x, const(x.type, hi))
    return intrinsic(b, "llvm.maximum", x, const(x.type, lo))


def fma(b: ir.IRBuilder, x: Value, y: Coeff, z: Coeff) -> Value:
    """x * y + z with one rounding."""
    return b.fma(x, _c(b, x.type, y), _c(b, x.type, z))


def mul(b: ir.IRBuilder, x: Value, y: Coeff) -> Value:
    return b.fmul(x, _c(b, x.type, y))


def add(b: ir.IRBuilder, x: Value, y: Coeff) -> Value:
    return b.fadd(x, _c(b, x.type, y))


def poly(b: ir.IRBuilder, x: Value, coeffs: Sequence[Coeff]) -> Value:
    """Horner evaluation with fma; coefficients highest degree first."""
    acc = _c(b, x.type, coeffs[0])
    for c in coeffs[1:]:
        acc = fma(b, acc, x, c)
    return acc


def estrin(b: ir.IRBuilder, x: Value, coeffs: Sequence[Coeff]) -> Value:
    """The polynomial of `poly` with a dependency chain of ~log2(degree) fmas instead of one
    per coefficient (a few more multiplies): for long chains that would leave the ports idle."""
    terms = [_c(b, x.type, c) for c in reversed(coeffs)]  # lowest degree first
    power = x
    while len(terms) > 1:
        pairs = [fma(b, hi, power, lo) for lo, hi in zip(terms[::2], terms[1::2], strict=False)]
        terms = pairs + ([terms[-1]] if len(terms) % 2 else [])
        power = b.fmul(power, power) if len(terms) > 1 else power
    return terms[0]


def is_nan(b: ir.IRBuilder, x: Value) -> Value:
    return b.fcmp_unordered("uno", x, x)


def cmp(b: ir.IRBuilder, op: str, x: Value, y: Coeff) -> Value:
    """Ordered comparison (false when either side is NaN)."""
    return b.fcmp_ordered(op, x, _c(b, x.type, y))


def pick(b: ir.IRBuilder, cond: Value, a: Coeff, c: Coeff, ty: ir.Type) -> Value:
    """select(cond, a, c) accepting Python floats."""
    return b.select(cond, _c(b, ty, a), _c(b, ty, c))


def keep_nan(b: ir.IRBuilder, x: Value, res: Value) -> Value:
    """NaN in, the same NaN out."""
    return b.select(is_nan(b, x), x, res)


def specials(
    b: ir.IRBuilder, x: Value, res: Value, table: Sequence[tuple[str, float, float]]
) -> Value:
    """Apply (comparison, operand, result) rows in order: later rows win. NaN passes through."""
    for op, operand, value in table:
        res = pick(b, cmp(b, op, x, operand), value, res, x.type)
    return keep_nan(b, x, res)


def round_int(
    b: ir.IRBuilder, fmt: Fmt, x: Value, scale: float, bias: int = 0
) -> tuple[Value, Value]:
    """(n, k): n = x * scale rounded to the nearest integer (a float, one rounding of the exact
    product) and k = n + bias as an integer, for |x * scale| < 2**(mant - 1).

    Adding 1.5 * 2**mant leaves n in the low mantissa bits (cheaper than rint and fptosi);
    larger |x * scale| give a finite integral n and meaningless k.
    """
    magic = 1.5 * 2.0**fmt.mant
    shifted = fma(b, x, scale, magic + bias)
    n = b.fsub(shifted, const(fmt.ty, magic + bias))
    k = b.sub(b.bitcast(shifted, fmt.ity), b.bitcast(const(fmt.ty, magic), fmt.ity))
    return n, k


@cache
def native_ldexp() -> bool:
    """Whether the host has AVX-512, where a vector llvm.ldexp is one vscalef instruction;
    elsewhere LLVM turns it into a libm call per element."""
    try:
        from .llvm_host import features  # the compile worker's when it is on

        return "+avx512f" in features()
    except (ImportError, RuntimeError):
        return False


def ldexp(b: ir.IRBuilder, fmt: Fmt, x: Value, k: Value) -> Value:
    """x * 2**k for an integer k (of the format's integer type) of magnitude up to twice the
    exponent range: overflow gives inf, underflow gradual denormals then 0."""
    if native_ldexp():
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(fmt.ty, [fmt.ty, i32])
        fn = b.module.declare_intrinsic("llvm.ldexp", [fmt.ty, i32], fnty)
        return b.call(fn, [x, k if fmt.ity == i32 else b.trunc(k, i32)])
    k1 = b.ashr(k, iconst(fmt, 1))
    return b.fmul(b.fmul(x, pow2i(b, fmt, k1)), pow2i(b, fmt, b.sub(k, k1)))


def pow2i(b: ir.IRBuilder, fmt: Fmt, n: Value) -> Value:
    """2**n as a float, for an integer n in the normal exponent range."""
    biased = b.add(n, iconst(fmt, fmt.bias))
    return b.bitcast(b.shl(biased, iconst(fmt, fmt.mant)), fmt.ty)


def split_sqrt2(b: ir.IRBuilder, fmt: Fmt, x: Value) -> tuple[Value, Value]:
    """x = m * 2**k with m in [sqrt(1/2), sqrt(2)) and k a float, for finite x > 0 (denormals
    included); other inputs give finite garbage for the caller to override."""
    pre = fmt.mant + 2
    tiny = cmp(b, "<", x, 2.0 ** (1 - fmt.bias))
    xs = pick(b, tiny, mul(b, x, 2.0**pre), x, fmt.ty)
    ix = b.sub(b.bitcast(xs, fmt.ity), iconst(fmt, fmt.sqrt_half_bits))
    k = b.ashr(ix, iconst(fmt, fmt.mant))
    low = b.and_(ix, iconst(fmt, (1 << fmt.mant) - 1))
    m = b.bitcast(b.add(low, iconst(fmt, fmt.sqrt_half_bits)), fmt.ty)
    kf = b.fsub(b.sitofp(k, fmt.ty), pick(b, tiny, float(pre), 0.0, fmt.ty))
    return m, kf


# Double-double helpers (error-free transformations).


def two_sum(b: ir.IRBuilder, x: Value, y: Value) -> tuple[Value, Value]:
    """s + e == x + y exactly (Knuth)."""
    s = b.fadd(x, y)
    v = b.fsub(s, x)
    e = b.fadd(b.fsub(x, b.fsub(s, v)), b.fsub(y, v))
    return s, e


def fast_two_sum(b: ir.IRBuilder, x: Value, y: Value) -> tuple[Value, Value]:
    """s + e == x + y exactly when |x| >= |y| (Dekker)."""
    s = b.fadd(x, y)
    return s, b.fsub(y, b.fsub(s, x))


def two_prod(b: ir.IRBuilder, x: Value, y: Coeff) -> tuple[Value, Value]:
    """p + e == x * y exactly (fma)."""
    p = mul(b, x, y)
    return p, fma(b, x, y, b.fneg(p))
