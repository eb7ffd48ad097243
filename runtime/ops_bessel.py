"""Modified Bessel functions i0, i0e, i1, i1e as decompositions (in float64, rounded once).

Note [Bessel functions]
~~~~~~~~~~~~~~~~~~~~~~~
Up to |x| = 8 the power series in q = x^2 / 4, whose terms are all positive (no cancellation):
I0 = sum q^k / (k!)^2, I1 = x / 2 sum q^k / (k! (k + 1)!), 25 terms. Above, sqrt(x) e^-x I(x)
is a polynomial piece in u = 8 / x (tests/runtime/special_fits.py), and i0 is PyTorch's
product exp(x) G / sqrt(x): infinite where exp overflows (from 709.8) and NaN at infinity, as
PyTorch's. Gradients are PyTorch's formulas (i1 and i1e at |x| <= eps: 0.5).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .dispatch import with_rule
from .ops_elementwise import abs, exp, sqrt, where
from .ops_math import _floating, _Rule
from .ops_special import _horner, _in_float64, _pieces
from .special_coefficients import I0_LARGE, I1_LARGE
from .tensor import Tensor

TERMS = 25
I0_SERIES = [1 / math.factorial(k) ** 2 for k in range(TERMS)][::-1]  # highest first
I1_SERIES = [1 / (math.factorial(k) * math.factorial(k + 1)) for k in range(TERMS)][::-1]


def _sign(x: Tensor) -> Tensor:
    return where(x < 0, -1.0, 1.0)


def _parts(x: Tensor, series: list[float], table: Any, odd: bool) -> tuple[Tensor, Tensor, Tensor]:
    """(the series value, G(8 / |x|) = sqrt|x| e^-|x| I(|x|) for |x| > 8, |x|)."""
    a = abs(x)
    q = x * x * 0.25
    small = _horner(q, series)
    small = x * 0.5 * small if odd else small
    big = a > 8.0
    safe = where(big, a, 8.0)
    return small, _pieces(8.0 / safe, table), a


def _i0(x: Tensor) -> Tensor:
    small, g, a = _parts(x, I0_SERIES, I0_LARGE, False)
    return where(a > 8.0, exp(a) * g / sqrt(a), small)


def _i0e(x: Tensor) -> Tensor:
    small, g, a = _parts(x, I0_SERIES, I0_LARGE, False)
    return where(a > 8.0, g / sqrt(a), small * exp(-a))


def _i1(x: Tensor) -> Tensor:
    small, g, a = _parts(x, I1_SERIES, I1_LARGE, True)
    return where(a > 8.0, _sign(x) * (exp(a) * g / sqrt(a)), small)


def _i1e(x: Tensor) -> Tensor:
    small, g, a = _parts(x, I1_SERIES, I1_LARGE, True)
    return where(a > 8.0, _sign(x) * (g / sqrt(a)), small * exp(-a))


def _safe(x: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch's i1_backward: x where |x| > eps (else eps), and that mask."""
    eps = float(np.finfo(x.dtype.np).eps) if x.dtype.is_floating_point else 2.0**-52
    not_tiny = abs(x) > eps
    return where(not_tiny, x, eps), not_tiny


def _sgn(x: Tensor) -> Tensor:
    return where(x > 0, 1.0, where(x < 0, -1.0, 0.0))


def _i1_grad(g: Tensor, out: Tensor, x: Tensor) -> tuple:
    s, not_tiny = _safe(x)
    return (g * where(not_tiny, i0(s) - out / s, 0.5),)


def _i1e_grad(g: Tensor, out: Tensor, x: Tensor) -> tuple:
    s, not_tiny = _safe(x)
    return (g * where(not_tiny, i0e(s) - out * (_sgn(s) + 1.0 / s), 0.5),)


_I0 = _Rule("i0", lambda g, out, x: (g * i1(x),))
_I0E = _Rule("i0e", lambda g, out, x: (g * (i1e(x) - _sgn(x) * out),))
_I1 = _Rule("i1", _i1_grad)
_I1E = _Rule("i1e", _i1e_grad)


def _wide(x: Any) -> Tensor:
    return _floating(x)


def i0(x: Tensor) -> Tensor:
    return with_rule(_I0, _in_float64(_i0), _wide(x), name="I0Backward0")


def i0e(x: Tensor) -> Tensor:
    return with_rule(_I0E, _in_float64(_i0e), _wide(x), name="SpecialI0EBackward0")


def i1(x: Tensor) -> Tensor:
    return with_rule(_I1, _in_float64(_i1), _wide(x), name="SpecialI1Backward0")


def i1e(x: Tensor) -> Tensor:
    return with_rule(_I1E, _in_float64(_i1e), _wide(x), name="SpecialI1EBackward0")
