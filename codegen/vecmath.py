"""Vectorizable math for generated kernels: one table from function name to an IR emitter.

Every emitter takes an `ir.IRBuilder` and scalar `float`/`double` values and returns a value of
the same type, built only from arithmetic, compares, selects, bitcasts and intrinsics that the
loop vectorizer widens (fabs, trunc, sqrt, fma, copysign, minimum, maximum, and ldexp where it is
one instruction, see vecmath_core.native_ldexp): no libm calls, no branches, except sin/cos's
rare path for huge arguments (a call the vectorizer widens, Note [rare slow paths] in
vecmath_rare.py). See Note [vecmath accuracy] and Note [vecmath cost] below.

Note [vecmath accuracy]
Max error in ulp of the result type, against float64 (float32) or long double (float64)
references, from tests/codegen/test_vecmath*.py (measured maximum in brackets where lower),
over the whole float range (tests/codegen/test_vecmath_range.py: every binary exponent,
subnormals, +-0, +-inf, NaN, against mpmath):
  exp [1], log [1], log1p [1], sigmoid, tanh, sin, cos, sqrt [0] <= 2 (sin/cos: Note [trig
  range reduction]); erf <= 4 [2]; pow <= 4 [1] (exact special cases as np.power).
exp produces gradual-underflow denormals (not flushed) before reaching 0; denormal inputs are
handled exactly by log/log1p. NaN in gives NaN out (except pow's x**0 and 1**y, which are 1).

Note [vecmath cost]
Kernels are bound by the vector ports, so every instruction counts (W1's fused kernel is
~120 zmm instructions per 16 elements). Hence: round-to-integer by adding 1.5 * 2**mant (one
fma; the integer comes for free in the low mantissa bits) instead of rint + fptosi; scaling by
ldexp (vscalef); out-of-range inputs fixed by compare + select on the result instead of
clamping the input (compares and blends run beside the FP arithmetic); NaN propagated by the
arithmetic itself instead of a final select; sin and cos written as one reduction (the same
IR expression, so a kernel computing both keeps one); float32 polynomials of the lowest degree
that keeps the bounds above.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from .vecmath_core import const, intrinsic
from .vecmath_erf import erf
from .vecmath_exp import exp, sigmoid, tanh
from .vecmath_log import log, log1p
from .vecmath_pow import pow
from .vecmath_trig import cos, sin

Unary = Callable[[ir.IRBuilder, ir.Value], ir.Value]
Binary = Callable[[ir.IRBuilder, ir.Value, ir.Value], ir.Value]


def sqrt(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """Correctly rounded square root (llvm.sqrt vectorizes)."""
    return intrinsic(b, "llvm.sqrt", x)


MATH: dict[str, Unary] = {
    "exp": exp,
    "log": log,
    "log1p": log1p,
    "sin": sin,
    "cos": cos,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "erf": erf,
    "sqrt": sqrt,
}
BINARY_MATH: dict[str, Binary] = {"pow": pow}


def emit(name: str, b: ir.IRBuilder, *args: ir.Value) -> ir.Value:
    """Emit math function `name` on scalar float/double operands at the builder's position."""
    table: dict[str, Callable[..., ir.Value]] = MATH if len(args) == 1 else BINARY_MATH
    try:
        fn = table[name]
    except KeyError:
        known = sorted(MATH) + sorted(BINARY_MATH)
        raise KeyError(f"no vecmath {name!r} with {len(args)} operand(s); known: {known}") from None
    return fn(b, *args)


__all__ = ["BINARY_MATH", "MATH", "const", "emit", "pow", "sqrt"]
