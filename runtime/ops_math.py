"""Math functions as decompositions: inverse trig, hyperbolics, expm1, logs, rounding, xlogy.

Note [math decompositions]
~~~~~~~~~~~~~~~~~~~~~~~~~~
Each function is a few existing primitives chosen to stay within a few ulp of the correctly
rounded value over the whole range (measured in tests/runtime/test_math_ops.py), the one new
primitive being ATAN2 (no composition of exp/log/sqrt gives an inverse trig function to a few
ulp). Cancellation is what decides the forms: sinh and expm1 never subtract 1 from exp(x) near
0 (expm1 is 2 t / (1 - t) with t = tanh(x / 2) below 1), asin and acos take sqrt((1 - x)(1 + x))
and never 1 - x * x, asinh/acosh/atanh are fdlibm's log1p forms; exp(|x|) overflowing before
sinh/cosh do is answered by exp(|x| / 2)^2 / 2. A sign restored by ``_signed`` keeps -0.0.

Where the decomposition's own derivative differs from PyTorch's formula at an edge (asin at
+-1 gives NaN through sqrt(0), sinh's untaken overflow branch sends 0 * inf = NaN), the value
is computed without history and carries PyTorch's formula from derivatives.yaml as its rule
(a CUSTOM_VJP equation, as lerp does): ``_with_rule`` below. Those rules are written with the
functions themselves, so second derivatives are PyTorch's too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..ir.dtypes import float64, get_default_dtype
from ..ir.ops import Op
from .dispatch import apply, composite, result_dtype, with_rule
from .opmath import in_float32
from .ops_elementwise import (
    abs,
    cos,
    exp,
    floor,
    isnan,
    log,
    log1p,
    maximum,
    minimum,
    pow,
    sign,
    sin,
    sqrt,
    tanh,
    trunc,
    where,
)
from .tensor import Tensor

INF = float("inf")
LN2 = math.log(2.0)
_FLOAT_MAX = {
    "float16": 65504.0,
    "bfloat16": 3.3895313892515355e38,
    "float32": 3.4028234663852886e38,
    "float64": 1.7976931348623157e308,
}
_SMALLEST_NORMAL = {
    "float16": 2.0**-14,
    "bfloat16": 2.0**-126,
    "float32": 2.0**-126,
    "float64": 2.0**-1022,
}
_BIG = 2.0**28  # asinh/acosh: beyond, log(2x) = log(x) + ln 2 (the 1/x^2 term is below an ulp)


class _Rule:
    """PyTorch's derivative formula for one function: ``grads(g, out, *operands)``."""

    def __init__(self, name: str, grads: Callable[..., tuple]) -> None:
        self.name, self.grads = name, grads

    def __repr__(self) -> str:
        return self.name

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        grads = self.grads(g, out, *inputs[1:])
        return (None, *(d if need else None for d, need in zip(grads, needs[1:], strict=True)))


def _with_rule(name: str, rule: _Rule, value: Callable[..., Tensor], *operands: Any) -> Tensor:
    """``value(*operands)`` whose gradient is ``rule``'s (Note [math decompositions])."""
    return with_rule(rule, in_float32(value), *operands, name=name)


def _composite(name: str, fn: Callable[..., Tensor], *args: Any) -> Tensor:
    """``composite``, computed in float32 for float16/bfloat16 (Note [opmath decompositions])."""
    return composite(name, in_float32(fn), *args)


def _floating(x: Any, dtype: Any = None) -> Tensor:
    """Integer and bool tensors promote to the default float dtype, as transcendentals do (to
    ``dtype``, the promoted one, beside a float operand: bool has no subtraction to go through)."""
    if isinstance(x, Tensor) and not x.dtype.is_floating_point:
        return apply(Op.CAST, x, dtype=dtype or get_default_dtype())
    return x


def _signed(x: Tensor, magnitude: Tensor) -> Tensor:
    """``magnitude`` (of an odd function at |x|) with x's sign, -0.0 kept."""
    return where(x < 0, -magnitude, where(x == 0, x, magnitude))


def _rsqrt(x: Tensor) -> Tensor:
    return 1.0 / sqrt(x)


def _tensor_other(name: str, other: Any) -> None:
    if not isinstance(other, Tensor):
        raise TypeError(
            f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}"
        )


def _float_kernel(kernel: str, *xs: Any) -> list[Tensor]:
    """PyTorch's refusal of integer operands for float-only kernels (hypot, logaddexp, frac);
    the operands, an integer or bool one beside a float one promoted."""
    dtype = result_dtype(*xs)
    if not dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{dtype.type_name}'")
    return [_floating(x, dtype) for x in xs]


# ---- trigonometric ------------------------------------------------------------------------
def tan(x: Tensor) -> Tensor:
    return _composite("TanBackward0", lambda a: sin(a) / cos(a), _floating(x))


def atan2(x: Tensor, other: Tensor) -> Tensor:
    _tensor_other("atan2", other)
    return apply(Op.ATAN2, x, other)


def atan(x: Tensor) -> Tensor:
    # atan2(x, 1) is atan(x) in libm and NumPy; its rule gives PyTorch's g / (1 + x^2)
    return _composite("AtanBackward0", lambda a: apply(Op.ATAN2, a, 1.0), _floating(x))


def _cos_of_asin(a: Tensor) -> Tensor:
    return sqrt((1.0 - a) * (1.0 + a))  # exact factors near |a| = 1, unlike 1 - a * a


_ASIN = _Rule("asin", lambda g, out, x: (g * _rsqrt(1.0 - x * x),))
_ACOS = _Rule("acos", lambda g, out, x: (-(g * _rsqrt(1.0 - x * x)),))


def asin(x: Tensor) -> Tensor:
    value = lambda a: apply(Op.ATAN2, a, _cos_of_asin(a))  # noqa: E731
    return _with_rule("AsinBackward0", _ASIN, value, _floating(x))


def acos(x: Tensor) -> Tensor:
    value = lambda a: apply(Op.ATAN2, _cos_of_asin(a), a)  # noqa: E731
    return _with_rule("AcosBackward0", _ACOS, value, _floating(x))


# ---- exponentials and logarithms ----------------------------------------------------------
def _expm1(a: Tensor) -> Tensor:
    t = tanh(a * 0.5)
    return where(a < 1.0, 2.0 * t / (1.0 - t), exp(a) - 1.0)


_EXPM1 = _Rule("expm1", lambda g, out, x: (g * (out + 1.0),))


def expm1(x: Tensor) -> Tensor:
    return _with_rule("Expm1Backward0", _EXPM1, _expm1, _floating(x))


def exp2(x: Tensor) -> Tensor:
    return _composite("Exp2Backward0", lambda a: pow(2.0, a), _floating(x))


def _log_base(base: float) -> Callable[[Tensor], Tensor]:
    def value(x: Tensor) -> Tensor:
        v = log(x) * (1.0 / math.log(base))  # within 2 ulp, but log2(8) may be 2.9999999999999996
        n = floor(v + 0.5).detach()
        # exact powers give exact integers (a subnormal 10^n is too far from 10^n for that)
        exact = (pow(base, n) == x) & (x >= _SMALLEST_NORMAL[x.dtype.name]) & (x < INF)
        return v + where(exact, n - v, 0.0).detach()  # (n - v and v + (n - v) are exact)

    return value


def log2(x: Tensor) -> Tensor:
    return _composite("Log2Backward0", _log_base(2.0), _floating(x))


def log10(x: Tensor) -> Tensor:
    return _composite("Log10Backward0", _log_base(10.0), _floating(x))


def _logaddexp2(a: Tensor, b: Tensor) -> Tensor:
    return _logaddexp(a, b, base2=True)


def _logaddexp(a: Tensor, b: Tensor, base2: bool = False) -> Tensor:
    # PyTorch's kernel: a when both are the same infinity, else max + log1p(exp(-|a - b|))
    m, d = maximum(a, b), -abs(a - b)
    value = m + log1p(pow(2.0, d)) * (1.0 / LN2) if base2 else m + log1p(exp(d))
    return where((abs(a) == INF) & (a == b), a, value)


_LOGADDEXP = _Rule(
    "logaddexp",
    lambda g, out, a, b: (g / (1.0 + exp(b - a)), g / (1.0 + exp(a - b))),
)
_LOGADDEXP2 = _Rule(
    "logaddexp2",
    lambda g, out, a, b: (g / (1.0 + pow(2.0, b - a)), g / (1.0 + pow(2.0, a - b))),
)


def logaddexp(x: Tensor, other: Tensor) -> Tensor:
    _tensor_other("logaddexp", other)
    x, other = _float_kernel("logaddexp_cpu", x, other)
    return _with_rule("LogaddexpBackward0", _LOGADDEXP, _logaddexp, x, other)


def logaddexp2(x: Tensor, other: Tensor) -> Tensor:
    _tensor_other("logaddexp2", other)
    x, other = _float_kernel("logaddexp2_cpu", x, other)
    return _with_rule("Logaddexp2Backward0", _LOGADDEXP2, _logaddexp2, x, other)


def _xlogy(x: Any, y: Any) -> Tensor:
    # PyTorch's kernel: NaN for a NaN y, else 0 where x == 0 (also at y = 0 or inf)
    return where(isnan(y), float("nan"), where(x == 0, 0.0, x * log(y)))


_XLOGY = _Rule(
    "xlogy",
    lambda g, out, x, y: (where((x == 0) & (y <= 0), 0.0, _xlogy(g, y)), g * x / y),
)


def xlogy(x: Any, y: Any) -> Tensor:
    kind = 0 if isinstance(x, Tensor) and isinstance(y, Tensor) else 1 + isinstance(x, Tensor)
    return _with_rule(f"XlogyBackward{kind}", _XLOGY, _xlogy, _floating(x), _floating(y))


# ---- hyperbolic ---------------------------------------------------------------------------
def _half_exp_squared(a: Tensor) -> Tensor:
    """exp(a) / 2 for a where exp(a) overflows and the result may not (a < ~710.5)."""
    w = exp(a * 0.5)
    return (0.5 * w) * w


def _sinh(x: Tensor) -> Tensor:
    a = abs(x)
    em = _expm1(a)
    return _signed(x, where(em == INF, _half_exp_squared(a), (em + em / (em + 1.0)) * 0.5))


def _cosh(x: Tensor) -> Tensor:
    a = abs(x)
    e = exp(a)
    return where(e == INF, _half_exp_squared(a), 0.5 * e + 0.5 / e)


_SINH = _Rule("sinh", lambda g, out, x: (g * cosh(x),))
_COSH = _Rule("cosh", lambda g, out, x: (g * sinh(x),))


def sinh(x: Tensor) -> Tensor:
    return _with_rule("SinhBackward0", _SINH, _sinh, _floating(x))


def cosh(x: Tensor) -> Tensor:
    return _with_rule("CoshBackward0", _COSH, _cosh, _floating(x))


def _asinh(x: Tensor) -> Tensor:
    a = abs(x)
    near = log1p(a + a * a / (1.0 + sqrt(1.0 + a * a)))
    return _signed(x, where(a > _BIG, log(a) + LN2, near))


def _acosh(x: Tensor) -> Tensor:
    t = x - 1.0
    value = where(x > _BIG, log(x) + LN2, log1p(t + sqrt(t * (t + 2.0))))
    return where(x >= 1.0, value, float("nan"))  # (NaN in, NaN out)


def _atanh(x: Tensor) -> Tensor:
    a = abs(x)  # 1 - a is exact near 1: atanh(+-1) = +-inf, |x| > 1 gives log1p(< -1) = NaN
    return _signed(x, 0.5 * log1p(2.0 * a / (1.0 - a)))


_ASINH = _Rule("asinh", lambda g, out, x: (g * _rsqrt(x * x + 1.0),))
_ACOSH = _Rule("acosh", lambda g, out, x: (g * _rsqrt(x * x - 1.0),))
_ATANH = _Rule("atanh", lambda g, out, x: (g * (1.0 / (1.0 - x * x)),))


def asinh(x: Tensor) -> Tensor:
    return _with_rule("AsinhBackward0", _ASINH, _asinh, _floating(x))


def acosh(x: Tensor) -> Tensor:
    return _with_rule("AcoshBackward0", _ACOSH, _acosh, _floating(x))


def atanh(x: Tensor) -> Tensor:
    return _with_rule("AtanhBackward0", _ATANH, _atanh, _floating(x))


def _hypot(x: Tensor, y: Tensor) -> Tensor:
    ax, ay = abs(x), abs(y)
    m, n = maximum(ax, ay), minimum(ax, ay)
    r = n / m  # <= 1: no overflow; NaN at 0/0 and inf/inf, both answered below
    value = where(m == 0, m, m * sqrt(1.0 + r * r))
    return where((ax == INF) | (ay == INF), INF, value)  # C's hypot(inf, NaN) is inf


_HYPOT = _Rule("hypot", lambda g, out, x, y: (g * x / out, g * y / out))


def hypot(x: Tensor, other: Tensor) -> Tensor:
    _tensor_other("hypot", other)
    x, other = _float_kernel("hypot_cpu", x, other)
    return _with_rule("HypotBackward0", _HYPOT, _hypot, x, other)


# ---- rounding -----------------------------------------------------------------------------
def _integer_copy(x: Tensor, kernel: str) -> Tensor:
    """Rounding an integer tensor is a copy; bool has no kernel."""
    if x.dtype.name == "bool":
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    return apply(Op.FLOOR, x)  # the identity on integers


# PyTorch's zeros_like(grad) (zero also for an inf or NaN g); as a rule, the forward's
# floor/where steps are not differentiated symbolically (which took sympy seconds for round)
_STEP = _Rule("step", lambda g, out, x: (g.new_zeros(()).expand(tuple(g.shape)),))


def ceil(x: Tensor) -> Tensor:
    if not x.dtype.is_floating_point:
        return _integer_copy(x, "ceil_vml_cpu")
    return _with_rule("CeilBackward0", _STEP, _ceil, x)


def _ceil(x: Tensor) -> Tensor:
    r = floor(x)  # (not -floor(-x): its gradient would be -0.0)
    return _zero_signed(x, where(r < x, r + 1.0, r))


def _zero_signed(x: Tensor, v: Tensor) -> Tensor:
    """A rounding result ``v`` with x's sign where it is 0: ceil(-0.5) and round(-0.3) are -0."""
    return where(v == 0, where(x < 0, -0.0, v), v)


def _round_half_even(x: Tensor) -> Tensor:
    r = floor(x)
    d = x - r  # exact; 0 for |x| >= 2^52 (2^23 in float32), NaN for infinities
    odd = r - 2.0 * floor(r * 0.5) != 0
    return _zero_signed(x, where((d > 0.5) | ((d == 0.5) & odd), r + 1.0, r))


def _round_decimals(x: Tensor, decimals: int) -> Tensor:
    # PyTorch's kernel: nearbyint(x * 10^d) / 10^d, or nearbyint(x / 10^-d) * 10^-d, with
    # 10^|d| in x's dtype (inf beyond its range: then NaN or 0 results, as PyTorch's)
    power = -decimals if decimals < 0 else decimals
    scale = 10.0**power if power <= 308 else INF
    scale = INF if scale > _FLOAT_MAX[x.dtype.name] else scale
    if decimals < 0:
        return _round_half_even(x / scale) * scale
    return _round_half_even(x * scale) / scale


def round(x: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001
    if not x.dtype.is_floating_point:
        if decimals:
            raise NotImplementedError(f"\"round_cpu\" not implemented for '{x.dtype.type_name}'")
        return _integer_copy(x, "round_vml_cpu")
    if decimals:
        return _with_rule("RoundBackward1", _STEP, lambda a: _round_decimals(a, decimals), x)
    return _with_rule("RoundBackward0", _STEP, _round_half_even, x)


def frac(x: Tensor) -> Tensor:
    _float_kernel("frac_cpu", x)
    return _composite("FracBackward0", lambda a: a - trunc(a), x)


# ---- predicates and aliases ---------------------------------------------------------------
def isposinf(x: Tensor) -> Tensor:
    return apply(Op.EQ, x, INF) if x.dtype.is_floating_point else apply(Op.NE, x, x)


def isneginf(x: Tensor) -> Tensor:
    return apply(Op.EQ, x, -INF) if x.dtype.is_floating_point else apply(Op.NE, x, x)


def copysign(x: Any, other: Any) -> Tensor:
    name = "CopysignBackward0" if isinstance(other, Tensor) else "CopysignBackward1"
    return apply(Op.COPYSIGN, x, other, name=name)


def signbit(x: Tensor) -> Tensor:
    """The sign bit: True for -0.0 and a negative NaN too (copysign reads it)."""
    if x.dtype.is_floating_point:
        return apply(Op.LT, apply(Op.COPYSIGN, 1.0, x), 0)
    return apply(Op.LT, x, 0)


def sgn(x: Tensor) -> Tensor:
    return _composite("SgnBackward0", sign, x)


def float_power(x: Any, y: Any) -> Tensor:
    """PyTorch's: both operands in float64, then pow."""
    wide = [v.to(float64) if isinstance(v, Tensor) else v for v in (x, y)]
    return pow(*wide)


def _float_power_inplace(x: Tensor, exponent: Any) -> Tensor:
    """``x.float_power_(e)``: only a float64 ``x`` can hold the result."""
    if x.dtype is not float64:
        raise RuntimeError(
            f"the base given to float_power_ has dtype {x.dtype.type_name} but the operation's "
            "result requires dtype Double"
        )
    return float_power(x, exponent)


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh

# names for functional.__all__, the Tensor methods and their in-place forms
NAMES = """
tan atan atan2 arctan arctan2 asin arcsin acos arccos sinh cosh asinh arcsinh acosh arccosh
atanh arctanh expm1 exp2 log2 log10 logaddexp logaddexp2 xlogy hypot ceil round frac isposinf
isneginf sgn float_power copysign signbit
""".split()  # noqa: SIM905 - a word list reads best as words
INPLACE = [
    n
    for n in NAMES
    if n not in ("logaddexp", "logaddexp2", "isposinf", "isneginf", "float_power", "signbit")
]
INPLACE_EXTRA = {"float_power_": _float_power_inplace}  # out-of-place bodies of in-place methods
