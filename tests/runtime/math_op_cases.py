"""Rows for the math functions of issue 13 (tan, inverse trig, hyperbolics, logs, rounding...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from test_ops_table import A, B, C, Case, I, In, P, R


def _u(name: str, into: Callable[[Any], Any] = lambda x: x, kind: Callable[..., In] = R) -> Case:
    """A unary row: ``T.name(into(x))``, ``into`` mapping the sampled x into the domain."""
    return C(name, lambda T, x: getattr(T, name)(into(x)), kind(2, 3))


# fn(T, *args) runs with T = adjit or torch; float inputs are float64 and require grad
CASES: list[Case] = [
    _u("tan"),
    _u("atan", lambda x: x * 3),
    _u("arctan"),
    _u("asin", lambda x: x * 0.6),
    _u("arcsin", lambda x: x * 0.6),
    _u("acos", lambda x: x * 0.6),
    _u("arccos", lambda x: x * 0.6),
    _u("sinh", lambda x: x * 3),
    _u("cosh", lambda x: x * 3),
    _u("asinh", lambda x: x * 3),
    _u("arcsinh"),
    _u("acosh", lambda x: x + 1, P),
    _u("arccosh", lambda x: x + 1, P),
    _u("atanh", lambda x: x * 0.6),
    _u("arctanh", lambda x: x * 0.6),
    _u("expm1", lambda x: x * 3),
    _u("exp2", lambda x: x * 3),
    _u("log2", kind=P),
    _u("log10", kind=P),
    C("atan2", lambda T, x, y: T.atan2(x, y), R(2, 3), A(3)),
    C("atan2-bcast", lambda T, x, y: x.atan2(y), R(3, 1), R(4)),
    C("arctan2", lambda T, x, y: T.arctan2(x, y), A(2, 3), R(2, 3)),
    C("logaddexp", lambda T, x, y: T.logaddexp(x * 3, y), R(2, 3), R(3)),
    C("logaddexp2", lambda T, x, y: x.logaddexp2(y * 3), R(2, 3), R(2, 1)),
    C("xlogy", lambda T, x, y: T.xlogy(x, y), R(2, 3), P(2, 3)),
    C("xlogy-scalar", lambda T, y: T.xlogy(2.5, y), P(2, 3)),
    C("xlogy-scalar-other", lambda T, x: x.xlogy(3.0), R(2, 3)),
    C("hypot", lambda T, x, y: T.hypot(x, y), A(2, 3), A(3)),
    C("hypot-bool", lambda T, x, b: T.hypot(b, x), A(2, 3), B(2, 3)),
    C("ceil", lambda T, x: T.ceil(x * 3) + x, R(2, 3)),
    C("ceil-int", lambda T, i: T.ceil(i), I(2, 3)),
    C("round", lambda T, x: T.round(x * 3) * x, R(2, 3)),
    C("round-decimals", lambda T, x: T.round(x * 3, decimals=1) * x, R(2, 3)),
    C("round-int", lambda T, i: i.round(), I(2, 3)),
    C("frac", lambda T, x: T.frac(x * 3), R(2, 3)),
    C("isposinf", lambda T, x: T.isposinf(1 / (x * 0)), R(2, 3)),
    C("isneginf", lambda T, x: T.isneginf(1 / (x * 0)), R(2, 3)),
    C("sgn", lambda T, x: T.sgn(x) * x, A(2, 3)),
    C("copysign", lambda T, x, y: T.copysign(x, y), A(2, 3), R(3)),
    C("copysign-scalar", lambda T, x: x.copysign(-0.0), R(2, 3)),
    C("copysign-int", lambda T, x, i: T.copysign(i, x), R(2, 3), I(2, 3)),
    C("signbit", lambda T, x: T.signbit(x - 0.5), R(2, 3)),
    C("signbit-int", lambda T, i: (i - 1).signbit(), I(2, 3)),
    C("float_power", lambda T, x, y: T.float_power(x, y), P(2, 3), R(3)),
    C("float_power-scalar", lambda T, x: x.float_power(2.5), P(2, 3)),
    C("float_power-int", lambda T, i: T.float_power(i, 2), I(2, 3)),
]

# special functions (runtime/ops_special.py); the domains keep PyTorch's own float64 kernels
# accurate to an ulp (its trigamma, digamma's gradient, is off by up to 1e-10 below 20, and its
# digamma near 1.46): tests/runtime/test_special_math.py sweeps every domain against mpmath
CASES += [
    C("lgamma", lambda T, x: T.lgamma(x * 0.5 + 3), R(2, 3)),
    C("lgamma-negative", lambda T, x: (x * 0.2 - 0.5).lgamma(), R(2, 3)),
    C("lgamma-int", lambda T, i: T.lgamma(i + 3), I(2, 3)),
    C("digamma", lambda T, x: T.digamma(x * 3 + 25), R(2, 3)),
    C("digamma-method", lambda T, x: (x * 3 - 25.5).digamma(), R(2, 3)),
    C("polygamma", lambda T, x: T.polygamma(2, x), P(2, 3)),
    C("polygamma-1", lambda T, x: T.polygamma(1, x + 300), R(2, 3)),  # (see TORCH_GRAD_RTOL)
    C("polygamma-method", lambda T, x: x.polygamma(3), P(2, 3)),
    C("polygamma-0", lambda T, x: T.polygamma(0, x + 30), R(2, 3)),
    C("mvlgamma", lambda T, x: T.mvlgamma(x + 3, 3), P(2, 3)),
    C("mvlgamma-method", lambda T, x: (x * 3 + 25).mvlgamma(p=2), R(2, 3)),
    C("erfc", lambda T, x: T.erfc(x * 3), R(2, 3)),
    C("erfc-method", lambda T, x: (x * 4).erfc(), R(3)),
    C("erfinv", lambda T, x: T.erfinv(x * 0.6), R(2, 3)),
    C("erfinv-method", lambda T, x: (x * 0.6).erfinv(), R(3)),
]

# rows whose gradient is PyTorch's trigamma: its float64 series stops at B_6, 1e-10 off at 1 and
# 4e-14 at 25 (adjit's is within 4 ulp of mpmath: test_special_math.py); compared this loosely
TORCH_GRAD_RTOL = {"digamma": 1e-12, "digamma-method": 1e-12, "polygamma-0": 1e-12}
CASES += [
    C("sinc", lambda T, x: T.sinc(x * 3), R(2, 3)),
    C("sinc-method", lambda T, x: (x * 2).sinc(), R(3)),
    C("logit", lambda T, x: T.logit(x * 0.3 + 0.5), R(2, 3)),
    C("logit-eps", lambda T, x: (x * 0.4 + 0.5).logit(eps=0.2), R(2, 3)),
]
CASES += [
    C("i0", lambda T, x: T.i0(x * 6), R(2, 3)),
    C("i0-large", lambda T, x: (x * 4 + 12).i0(), R(3)),
]
