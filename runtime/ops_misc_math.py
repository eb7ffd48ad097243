"""Elementwise odds and ends as decompositions: deg2rad, fmax/fmin, gcd/lcm, heaviside, ldexp,
frexp, nextafter.

Note [frexp and nextafter without bit casts]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
There is no bit-cast primitive, so the exponent comes from ``floor(log2|x|)`` (log2 is exact at
powers of two, Note [math decompositions]) corrected by one step either way, and the scaling by
``2^-e`` is two exact multiplications by powers of two (one would overflow or underflow for
subnormal and huge x; ``pow(2, k)`` is exact for integer k, eager and compiled). nextafter is
``x +- ulp(x)`` with ``ulp`` from that exponent: a power of two stepping towards zero takes
half an ulp, subnormals take the smallest one. Every step is exact in float arithmetic.
"""

from __future__ import annotations

import math
from typing import Any

from ..ir import dtypes as D
from ..ir.dtypes import get_default_dtype
from .creation import ones_like
from .dispatch import composite, result_dtype, with_rule
from .kernel_dtypes import require_float
from .ops_elementwise import abs, floor, isinf, isnan, mul, pow, sign, trunc, where
from .ops_integer import remainder
from .ops_math import _composite, _floating, _Rule, log2
from .ops_stats import return_type
from .tensor import Tensor

frexp_result = return_type("frexp", ("mantissa", "exponent"))

# mantissa bits (with the implicit one) and the exponent of the smallest subnormal
_PRECISION = {"float16": (11, -24), "bfloat16": (8, -133), "float32": (24, -149)}
_PRECISION["float64"] = (53, -1074)


def _named_other(name: str, other: Any, arg: str = "other") -> None:
    if not isinstance(other, Tensor):
        raise TypeError(
            f"{name}(): argument '{arg}' (position 2) must be Tensor, not {type(other).__name__}"
        )


def _not_implemented_rule(message: str) -> _Rule:
    def grads(g: Tensor, out: Tensor, *xs: Any) -> tuple:
        raise RuntimeError(message)

    return _Rule("not implemented", grads)


# PyTorch's nextafter derivative: the gradient passes to x where x != other (there the result
# is other), none reaches other
_NEXTAFTER = _Rule("nextafter", lambda g, out, x, y: (where(x != y, g, 0.0), g * 0.0))


# ---- angles -----------------------------------------------------------------------------------
def deg2rad(x: Tensor) -> Tensor:
    return _composite("Deg2RadBackward0", lambda a: a * (math.pi / 180.0), _floating(x))


def rad2deg(x: Tensor) -> Tensor:
    return _composite("Rad2DegBackward0", lambda a: a * (180.0 / math.pi), _floating(x))


# ---- fmax / fmin: NaN only when both are -------------------------------------------------------
def fmax(x: Tensor, other: Tensor) -> Tensor:
    _named_other("fmax", other)
    # PyTorch's gradient: to x where x >= other or other is NaN, else to other
    return composite("FmaxBackward0", lambda a, b: where((a >= b) | isnan(b), a, b), x, other)


def fmin(x: Tensor, other: Tensor) -> Tensor:
    _named_other("fmin", other)
    return composite("FminBackward0", lambda a, b: where((a <= b) | isnan(b), a, b), x, other)


# ---- gcd / lcm --------------------------------------------------------------------------------
def _integer_kernel(kernel: str, x: Tensor, other: Tensor) -> D.DType:
    dtype = result_dtype(x, other)
    if dtype.is_floating_point or dtype is D.bool_:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{dtype.type_name}'")
    return dtype


def _gcd(a: Tensor, b: Tensor) -> Tensor:
    """Euclid's algorithm on |a|, |b|: until every remainder is 0 eagerly; traced, the worst
    case's step count for the dtype (consecutive Fibonacci numbers: ~1.44 bits + 2)."""
    a, b = abs(a), abs(b)
    steps = int(1.45 * 8 * a.dtype.itemsize) + 2
    for _ in range(steps):
        if not a._is_tracer and not b._is_tracer and not bool((b._data != 0).any()):
            break
        nonzero = b != 0
        a, b = where(nonzero, b, a), where(nonzero, remainder(a, where(nonzero, b, 1)), 0)
    return a


def gcd(x: Tensor, other: Tensor) -> Tensor:
    _named_other("gcd", other)
    dtype = _integer_kernel("gcd_cpu", x, other)
    return _gcd(x.to(dtype), other.to(dtype))


def lcm(x: Tensor, other: Tensor) -> Tensor:
    _named_other("lcm", other)
    dtype = _integer_kernel("lcm_cpu", x, other)
    a, b = x.to(dtype), other.to(dtype)
    g = _gcd(a, b)
    q = where(g == 0, 0, a // where(g == 0, 1, g))
    if dtype.itemsize < 4:  # C++ computes |a / g * b| in int for the narrow types, then wraps
        return abs(q.to(D.int32) * b.to(D.int32)).to(dtype)
    return abs(q * b)


# ---- heaviside, ldexp --------------------------------------------------------------------------
_HEAVISIDE = _not_implemented_rule("derivative for aten::heaviside is not implemented")


def heaviside(x: Tensor, values: Tensor) -> Tensor:
    _named_other("heaviside", values, "values")
    if x.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")

    def value(a: Tensor, v: Tensor) -> Tensor:
        return where(a == 0, v, (a > 0).to(a.dtype))

    return with_rule(_HEAVISIDE, value, x, values, name="NotImplemented")


def ldexp(x: Tensor, other: Tensor) -> Tensor:
    _named_other("ldexp", other)
    dtype = result_dtype(x, other)
    dtype = dtype if dtype.is_floating_point else get_default_dtype()
    return composite(
        "LdexpBackward0", lambda a, e: mul(a, pow(2.0, e.to(dtype))), x.to(dtype), other
    )


# ---- frexp, nextafter: Note [frexp and nextafter without bit casts] ----------------------------
def _scaled(x: Tensor, k: Tensor) -> Tensor:
    """x 2^k for an integer-valued float tensor k: two exact steps, each factor in range."""
    half = trunc(k * 0.5)
    return x * pow(2.0, half.to(x.dtype)) * pow(2.0, (k - half).to(x.dtype))


def _frexp_parts(x: Tensor) -> tuple[Tensor, Tensor]:
    """(mantissa, exponent as a float tensor): x = m 2^e, 0.5 <= |m| < 1; 0, inf, nan keep e=0."""
    mag = abs(x).detach()
    special = (mag == 0) | isinf(mag) | isnan(mag)
    safe = where(special, 1.0, mag)
    # in float64, where float32/16 subnormals are normal; one correction step either way
    e = (floor(log2(safe.to(D.float64))) + 1.0).to(x.dtype if x.dtype is D.float64 else D.float32)
    m = _scaled(safe, -e)
    e = where(m >= 1.0, e + 1.0, where(m < 0.5, e - 1.0, e))
    e = where(special, 0.0, e).detach()
    return _scaled(x, -e), e


def frexp(x: Tensor) -> Any:
    if not x.dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa = composite("FrexpBackward0", lambda a: _frexp_parts(a)[0], x)
    exponent = _frexp_parts(x.detach())[1].to(D.int32)
    return frexp_result(mantissa, exponent)


def _nextafter(x: Tensor, y: Tensor) -> Tensor:
    bits, smallest = _PRECISION[x.dtype.name]
    m, e = _frexp_parts(x)
    k = e - float(bits)
    towards_zero = where(x > 0, y < x, y > x)
    k = where((abs(m) == 0.5) & towards_zero, k - 1.0, k)
    k = where((k < smallest) | (x == 0), float(smallest), k)
    ulp = _scaled(ones_like(x), k)
    step = where(y > x, x + ulp, x - ulp)
    step = where(step == 0, x * 0.0, step)  # the smallest subnormal steps to zero of its sign
    step = where(isinf(x), sign(x) * _MAX[x.dtype.name], step)
    return where(isnan(x) | isnan(y), x + y, where(x == y, y, step))


_MAX = {
    "float16": 65504.0,
    "bfloat16": 3.3895313892515355e38,
    "float32": 3.4028234663852886e38,
    "float64": 1.7976931348623157e308,
}


def nextafter(x: Tensor, other: Tensor) -> Tensor:
    _named_other("nextafter", other)
    dtype = result_dtype(x, other)
    if not dtype.is_floating_point:
        raise NotImplementedError(f"\"nextafter_cpu\" not implemented for '{dtype.type_name}'")
    return with_rule(
        _NEXTAFTER, _nextafter, x.to(dtype), other.to(dtype), name="NextafterBackward0"
    )


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """0 for ``-lambd <= x <= lambd``, else x (NaN stays NaN), as PyTorch's kernel."""
    require_float(input, "hardshrink_cpu")
    return composite(
        "HardshrinkBackward0",
        lambda a: where((a >= -lambd) & (a <= lambd), 0.0, a),  # (+0, as PyTorch)
        input,
    )


# Tensor methods (runtime/methods.py): same-name ones and the in-place ``name_`` forms
METHODS = "deg2rad rad2deg fmax fmin gcd lcm heaviside ldexp frexp nextafter positive fix ravel"
METHODS += " hardshrink"
METHODS = METHODS.split()
INPLACE = ["deg2rad", "rad2deg", "gcd", "lcm", "heaviside", "ldexp", "nextafter", "fix"]
