"""log_ndtr, the log of the normal CDF, without underflow: log(erfcx) - x^2 / 2 in the tail."""

from __future__ import annotations

import math

from .dispatch import with_rule
from .ops_elementwise import abs, exp, floor, log, log1p, minimum, where
from .ops_math import _floating, _Rule
from .ops_special import _erfc, _in_float64, _pieces
from .special_coefficients import ERFCX
from .tensor import Tensor

SQRT_HALF = math.sqrt(0.5)


def _tail_factor(u: Tensor) -> Tensor:
    """erfcx(a) / 2 at u = 1 / a >= 1 (Note [special functions]: erfcx = G(1 / a) / (a sqrt pi))."""
    return _pieces(u, ERFCX) * u * (0.5 / math.sqrt(math.pi))


def _exp_minus_half_square(x: Tensor) -> Tensor:
    """exp(-x^2 / 2) with x^2 never rounded (x = h + (x - h), h to 12 fraction bits)."""
    h = floor(x * 4096.0 + 0.5) * (1.0 / 4096.0)
    return exp(-(h * h) * 0.5) * exp(-((x - h) * (x + h)) * 0.5)


def _log_ndtr(x: Tensor) -> Tensor:
    # |x| > sqrt 2 (erfc's argument a = |x| / sqrt 2 > 1): Phi(-|x|) = erfcx(a) e^(-x^2 / 2) / 2,
    # its exponent taken from x itself (a rounded would cost 2 a^2 ulp: 800 at x = 31)
    a = abs(x)
    tail = a > math.sqrt(2.0)
    u = math.sqrt(2.0) / where(tail, a, 2.0)
    factor = _tail_factor(u)
    far_below = log(factor) - x * x * 0.5
    far_above = log1p(-(factor * _exp_minus_half_square(minimum(a, 60.0))))
    near = where(x > 0, log1p(-0.5 * _erfc(x * SQRT_HALF)), log(0.5 * _erfc(-x * SQRT_HALF)))
    far = where(x < 0, where(x == -math.inf, -math.inf, far_below), far_above)
    return where(tail, far, near)


_LOG_NDTR = _Rule(
    "log_ndtr",
    lambda g, out, x: (g * (1.0 / math.sqrt(2 * math.pi)) * exp(-(out + x * x * 0.5)),),
)


def log_ndtr(x: Tensor) -> Tensor:
    return with_rule(
        _LOG_NDTR, _in_float64(_log_ndtr), _floating(x), name="SpecialLogNdtrBackward0"
    )
