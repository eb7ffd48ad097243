"""Special functions as decompositions: lgamma, digamma, polygamma, mvlgamma, erfc, erfinv.

Note [special functions]
~~~~~~~~~~~~~~~~~~~~~~~~
Each function is existing elementwise primitives only (so it fuses and compiles with no new
codegen), evaluated in float64 whatever the input's float dtype and rounded once at the end: a
float32 result is then within an ulp of the correctly rounded one, and only the float64
algorithm needs care. The forms, chosen so that no step cancels:

- lgamma: on [0.75, 3) it is (x - 1)(x - 2) R(x), R a polynomial piece (its zeros at 1 and 2
  are exact factors); below 0.75, lgamma(x + 1) - log(x); on [3, 8) the recurrence down to
  [2, 3) as log((x - 1) ... (x - k)) + lgamma(x - k) (all terms positive); from 8 Stirling's
  series; below 0 the reflection log(pi) - log|sin(pi x)| - lgamma(1 - x), with sin(pi x)
  taken at x minus an integer (exact) so that no multiple of pi is rounded.
- digamma: on [1, 3) (x - x0) S(x), x0 its positive zero in two parts; below 1 digamma(x + 1)
  - 1/x; on [3, 10) down to [2, 3) adding 1/y terms; from 10 the asymptotic series (PyTorch's
  constants); below 0 the reflection digamma(1 - x) - pi cot(pi x) (cot at a reduced argument).
- polygamma(n >= 1): (-1)^(n+1) n! zeta(n + 1, x), the Hurwitz zeta as 9 + n terms of its sum
  then Euler-Maclaurin's tail with 12 Bernoulli terms (Cephes' zeta, with a fixed number of
  terms instead of a data-dependent loop); below 0 the reflection, the n-th derivative of
  pi cot(pi x) being pi^(n+1) P_n(cot(pi x)) for the polynomials P_{k+1} = -(1 + c^2) P_k'.
- erfc: 1 - erf(x) for |x| < 1; above, exp(-x^2) G(1/x) with G = sqrt(pi) x e^(x^2) erfc(x)
  a polynomial piece and exp(-x^2) as exp(-h^2) exp(-(x - h)(x + h)), h = x to 12 fraction bits
  (h^2 exact: the rounding of x^2, amplified 700-fold by exp, never happens).
- erfinv: Giles' single-precision approximation (beyond its float32 range, the solution of
  erfc(x) ~ e^(-x^2) / (x sqrt pi)), then three Newton steps on erf (|y| < 0.5) or on
  log erfc(x) = log(1 - |y|) in the tail (1 - |y| exact; from x = 1 log erfc is log(erfcx) - x^2,
  never a subnormal erfc). ndtri is the same with r = 2 p given exactly below p = 1/4.

The polynomial pieces are Chebyshev interpolants made by tests/runtime/special_fits.py. Where a
function has a zero (lgamma near -2.46, polygamma(2k) below 0), no form keeps the relative
error small: there the error is a few ulp of the terms that cancel. Measured against mpmath
(tests/runtime/test_special_math.py, and the ``special`` fuzz strategy over all exponents):
float64 lgamma, digamma, erfc <= 3 ulp, erfinv 1, ndtri 2, polygamma(n) <= n + 2 (each term
of its sum rounds q + k); below 0 <= 4 ulp of the largest reflected term (polygamma(3): 12);
float32 within 1 ulp. Gradients are PyTorch's formulas (``with_rule``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from ..ir.dtypes import float64
from ..ir.ops import Op
from .dispatch import apply, composite, with_rule
from .ops_elementwise import cos, erf, exp, floor, log, log1p, minimum, sin, sqrt, where
from .ops_math import _floating, _Rule, signbit
from .ops_special_misc import logit, sinc
from .special_coefficients import DIGAMMA, DIGAMMA_ROOT, ERFCX, LGAMMA
from .tensor import Tensor

INF, NAN, PI = float("inf"), float("nan"), math.pi
LOG_PI = math.log(math.pi)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
# B_2k / (2k (2k - 1)), k = 1..9: Stirling's series for lgamma, in 1/x^2
STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156,
            -3617 / 122400, 43867 / 244188)  # fmt: skip
# B_2k / (2k), k = 1..7: digamma's asymptotic series (PyTorch's constants, highest last)
DIGAMMA_ASYMPTOTIC = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


# ---- helpers ------------------------------------------------------------------------------
def _horner(t: Tensor, coefficients: Sequence[float]) -> Tensor:
    v = t * coefficients[0] + coefficients[1]
    for c in coefficients[2:]:
        v = v * t + c
    return v


def _pieces(x: Tensor, table: Sequence[tuple[float, float, Sequence[float]]]) -> Tensor:
    """The polynomial piece of ``table`` whose interval holds x (the last one beyond)."""
    out = None
    for c, h, coefficients in reversed(table):
        value = _horner((x - c) * (1.0 / h), coefficients)
        out = value if out is None else where(x < c + h, value, out)
    assert out is not None
    return out


def _wide(name: str, x: Any) -> tuple[Tensor, Any]:
    """x as a float64 tensor, and the float dtype of the result (integers promote)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")  # fmt: skip
    x = _floating(x)
    return (x if x.dtype is float64 else apply(Op.CAST, x, dtype=float64)), x.dtype


def _narrow(v: Tensor, dtype: Any) -> Tensor:
    return v if dtype is float64 else apply(Op.CAST, v, dtype=dtype)


def _in_float64(fn: Any) -> Any:
    """``fn`` (float64 in, float64 out) applied to x's dtype: widened, computed, rounded once."""

    def value(x: Tensor) -> Tensor:
        return _narrow(fn(x if x.dtype is float64 else apply(Op.CAST, x, dtype=float64)), x.dtype)

    return value


def _reduced(x: Tensor) -> Tensor:
    """x minus the nearest integer, in [-0.5, 0.5] (exact: the integer is 0 or within a factor
    2 of x, and x itself is kept below 1/2, where x - floor(x) would round 1 + x)."""
    return x - floor(x + 0.5)


# ---- lgamma -------------------------------------------------------------------------------
def _lgamma_positive(a: Tensor) -> Tensor:
    """lgamma for a > 0 (and +inf)."""
    y, product = a, a * 0.0 + 1.0  # [3, 8): y = a - k in [2, 3), product (a - 1) ... (a - k)
    for _ in range(5):
        step = y >= 3.0
        y = where(step, y - 1.0, y)
        product = where(step, product * y, product)
    small = a < 0.75
    u = where(small, a + 1.0, where(a < 3.0, a, y))
    near = (u - 1.0) * (u - 2.0) * _pieces(u, LGAMMA)
    below = where(small, near - log(a), where(a < 3.0, near, near + log(product)))
    w = 1.0 / a
    series = w * _horner(w * w, STIRLING[::-1])
    stirling = (a - 0.5) * log(a) - a + HALF_LOG_2PI + series
    return where(a < 8.0, below, where(a == INF, INF, stirling))


def _lgamma(x: Tensor) -> Tensor:
    positive = x > 0
    value = _lgamma_positive(where(positive, x, 1.0 - x))
    m = _reduced(x)  # below 1e-9, log(pi / |sin(pi m)|) is -log|m| within an ulp, and pi m
    tiny = abs(m) < 1e-9  # (maybe subnormal) is never rounded
    reflected = where(tiny, -log(abs(m)), LOG_PI - log(abs(sin(PI * m)))) - value
    out = where(positive, value, where(x == floor(x), INF, reflected))  # (-inf too)
    return where(out == 0, 0.0, out)  # +0 at 1 and 2, where (x - 1)(x - 2) may be -0


# ---- digamma and polygamma ----------------------------------------------------------------
def _digamma_positive(a: Tensor) -> Tensor:
    y, acc = a, a * 0.0  # [3, 10): y = a - k in [2, 3), acc = 1/y + ... + 1/(a - 1)
    for _ in range(7):
        step = y >= 3.0
        y = where(step, y - 1.0, y)
        acc = where(step, acc + 1.0 / y, acc)
    small = a < 1.0
    u = where(small, a + 1.0, where(a < 3.0, a, y))
    root_hi, root_lo = DIGAMMA_ROOT
    near = ((u - root_hi) - root_lo) * _pieces(u, DIGAMMA)
    below = where(small, near - 1.0 / a, where(a < 3.0, near, near + acc))
    z = 1.0 / (a * a)
    asymptotic = log(a) - 0.5 / a - z * _horner(z, DIGAMMA_ASYMPTOTIC[::-1])
    return where(a < 10.0, below, asymptotic)


def _cot_pi(x: Tensor) -> Tensor:
    """cot(pi x): cos / sin at |m| <= 1/4, else tan(pi (1/2 - |m|)) (no cosine near pi / 2)."""
    m = _reduced(x)
    k = PI * where(abs(m) > 0.25, where(m > 0, 0.5 - m, -0.5 - m), m)
    near = where(abs(m) > 0.25, sin(k) / cos(k), cos(k) / sin(k))
    # below 1e-9, 1 / (pi m) within an ulp, without rounding a subnormal pi m
    return where(abs(m) < 1e-9, (1.0 / m) * (1.0 / PI), near)


def _digamma(x: Tensor) -> Tensor:
    positive = x > 0
    value = _digamma_positive(where(positive, x, 1.0 - x))
    reflected = value - PI * _cot_pi(x)
    pole = where(x == 0, where(signbit(x), INF, -INF), NAN)  # PyTorch: -inf at +0, inf at -0
    return where(positive, value, where(x == floor(x), pole, reflected))


def _bernoulli(n: int) -> Fraction:
    b = [Fraction(1)]
    for m in range(1, n + 1):
        b.append(-sum(math.comb(m + 1, k) * b[k] for k in range(m)) / (m + 1))
    return b[n]


def _zeta_tail(s: int) -> list[float]:
    """Euler-Maclaurin: c_j = B_2j / (2j)! s (s + 1) ... (s + 2j - 2), j = 1..12."""
    out = []
    for j in range(1, 13):
        rising = math.prod(range(s, s + 2 * j - 1))
        out.append(float(_bernoulli(2 * j) / math.factorial(2 * j) * rising))
    return out


def _hurwitz_zeta(s: int, q: Tensor) -> Tensor:
    """zeta(s, q) = sum_k (q + k)^-s for an integer s >= 2 and q > 0."""
    terms = 9 + s  # Note [special functions]: the tail's terms then shrink like (s / 2 pi w)^2
    total = apply(Op.POW, q, -s)
    for k in range(1, terms):
        total = total + apply(Op.POW, q + k, -s)
    w = q + terms
    v = 1.0 / w  # w^(1 - s) first: w^-s alone underflows where the sum does not
    series = 1.0 / (s - 1) + v * (0.5 + v * _horner(v * v, _zeta_tail(s)[::-1]))
    return total + apply(Op.POW, w, 1 - s) * series


def _cot_derivative(n: int) -> list[int]:
    """P_n's coefficients (highest first): d^n/dx^n cot(pi x) = pi^n P_n(cot(pi x))."""
    p = [0, 1]  # lowest first: P_0(c) = c
    for _ in range(n):
        dp = [k * p[k] for k in range(1, len(p))] or [0]
        # -(1 + c^2) P'(c)
        q = [0] * (len(dp) + 2)
        for k, a in enumerate(dp):
            q[k] -= a
            q[k + 2] -= a
        p = q
    while len(p) > 1 and p[-1] == 0:
        p.pop()
    return p[::-1]


def _polygamma(n: int, x: Tensor) -> Tensor:
    sign = 1.0 if n % 2 else -1.0
    scale = sign * math.factorial(n)
    positive = x > 0
    value = scale * _hurwitz_zeta(n + 1, where(positive, x, 1.0 - x))
    coefficients = [float(c) for c in _cot_derivative(n)]
    cot_part = _horner(_cot_pi(x), coefficients) if len(coefficients) > 1 else coefficients[0]
    reflected = (-1.0) ** n * value - PI ** (n + 1) * cot_part
    pole = INF if n == 1 else sign * INF  # (PyTorch's trigamma is huge but finite there)
    at_inf = 0.0 if n == 1 else NAN  # PyTorch's: trigamma(inf) = 0, its zeta gives NaN
    at_minus_inf = NAN if n == 1 else sign * INF
    out = where(positive, value, where(x == floor(x), pole, reflected))
    return where(x == INF, at_inf, where(x == -INF, at_minus_inf, out))


# ---- erfc and erfinv ----------------------------------------------------------------------
def _exp_minus_square(a: Tensor) -> Tensor:
    """exp(-a^2) without rounding a^2 (Note [special functions])."""
    h = floor(a * 4096.0 + 0.5) * (1.0 / 4096.0)
    return exp(-(h * h)) * exp(-((a - h) * (a + h)))


def _erfc_tail(a: Tensor) -> Tensor:
    """erfc(a) for a >= 1 (inf gives 0)."""
    u = 1.0 / a
    g = _pieces(u, ERFCX)
    # (erfc is 0 from 27.3: clamped, no infinite h^2 meets an infinite (a - h)(a + h))
    return _exp_minus_square(minimum(a, 40.0)) * (u * (1.0 / math.sqrt(PI))) * g


def _erfc(x: Tensor) -> Tensor:
    a = abs(x)
    tail = _erfc_tail(where(a < 1.0, 1.0, a))
    return where(a < 1.0, 1.0 - erf(x), where(x > 0, tail, 2.0 - tail))


def _erfinv_magnitude(a: Tensor, r: Tensor) -> Tensor:
    """erfinv(a) for a >= 0, given r = 1 - a exactly (ndtri passes r = 2 p below 1/2)."""
    w = -log(r * (2.0 - r))
    central, tail = _horner(w - 2.5, GILES_CENTRAL), _horner(sqrt(w) - 3.0, GILES_TAIL)
    # beyond Giles' float32 range (1 - a < 1e-7): erfc(x) ~ exp(-x^2) / (x sqrt(pi)) solved
    big = -log(r)
    far = sqrt(big)
    far = sqrt(big - log(far * math.sqrt(PI)))
    far = sqrt(big - log(far * math.sqrt(PI)) + log1p(-0.5 / (far * far)))
    x = where(w < 5.0, central * a, where(w < 16.0, tail * a, far))
    x = where(r > 0.0, x, where(r == 0.0, INF, NAN))
    near = a < 0.5
    log_r = log(r)
    for _ in range(3):  # Newton on erf(x) = a, or on log erfc(x) = log r in the tail
        slope = TWO_OVER_SQRT_PI * _exp_minus_square(x)
        # log erfc(x) from 1 on as log(erfcx(x)) - x^2: never through a subnormal erfc
        big = x >= 1.0
        xb = where(big, x, 1.0)
        u = 1.0 / xb
        g = _pieces(u, ERFCX)
        e = _erfc(where(near | big, 1.0, x))
        residual = where(big, log(g * u * (1.0 / math.sqrt(PI))) - xb * xb - log_r, log(e / r))
        log_slope = where(big, -2.0 * xb / g, -slope / e)  # d/dx log erfc(x)
        step = where(near, (erf(x) - a) / slope, residual / log_slope)
        x = where(r > 0.0, x - step, x)
    return x


def _erfinv(y: Tensor) -> Tensor:
    a = abs(y)
    x = _erfinv_magnitude(a, 1.0 - a)  # (1 - a exact from 1/2 on, where the tail needs it)
    return where(y < 0, -x, where(y == 0, y, x))  # (-0.0 kept, NaN passed on)


def _ndtri(p: Tensor) -> Tensor:
    """sqrt 2 erfinv(2 p - 1), exact argument from p = 1/4; below, -sqrt 2 erfcinv(2 p)."""
    r = 2.0 * p
    low = -math.sqrt(2.0) * _erfinv_magnitude(1.0 - r, r)
    return where(p < 0.25, low, math.sqrt(2.0) * _erfinv(r - 1.0))


# Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011), single precision
GILES_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
GILES_TAIL = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)


# ---- PyTorch's derivative formulas --------------------------------------------------------
_LGAMMA = _Rule("lgamma", lambda g, out, x: (g * digamma(x),))
_DIGAMMA = _Rule("digamma", lambda g, out, x: (g * polygamma(1, x),))
_ERFC = _Rule("erfc", lambda g, out, x: (-TWO_OVER_SQRT_PI * exp(-(x * x)) * g,))
_ERFINV = _Rule("erfinv", lambda g, out, x: (math.sqrt(PI) / 2 * exp(out * out) * g,))
_NDTRI = _Rule("ndtri", lambda g, out, p: (g * math.sqrt(2 * PI) * exp(out * out * 0.5),))


class _PolygammaRule(_Rule):
    def __init__(self, n: int) -> None:
        super().__init__(f"polygamma({n})", lambda g, out, x: (g * polygamma(n + 1, x),))


def lgamma(x: Tensor) -> Tensor:
    return with_rule(_LGAMMA, _in_float64(_lgamma), _floating(x), name="LgammaBackward0")


def digamma(x: Tensor) -> Tensor:
    return with_rule(_DIGAMMA, _in_float64(_digamma), _floating(x), name="DigammaBackward0")


def polygamma(n: int, x: Tensor) -> Tensor:
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(
            f"polygamma(): argument 'n' (position 1) must be int, not {type(n).__name__}"
        )
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    fn = _digamma if n == 0 else lambda v: _polygamma(n, v)
    rule = _DIGAMMA if n == 0 else _PolygammaRule(n)
    return with_rule(rule, _in_float64(fn), _floating(x), name="PolygammaBackward0")


def mvlgamma(x: Tensor, p: int) -> Tensor:
    """The multivariate log-gamma: sum_j lgamma(x - j / 2) + p (p - 1) / 4 log(pi)."""
    if x.dtype.name == "bool":
        raise RuntimeError("The input tensor may not be a boolean tensor.")
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")

    def value(a: Tensor) -> Tensor:
        total = lgamma(a)
        for j in range(1, p):
            total = total + lgamma(a - j / 2)
        return total + p * (p - 1) / 4 * LOG_PI

    return composite("MvlgammaBackward0", value, _floating(x))


def erfc(x: Tensor) -> Tensor:
    return with_rule(_ERFC, _in_float64(_erfc), _floating(x), name="ErfcBackward0")


def erfinv(x: Tensor) -> Tensor:
    return with_rule(_ERFINV, _in_float64(_erfinv), _floating(x), name="ErfinvBackward0")


def ndtri(p: Tensor) -> Tensor:
    """The inverse of the normal CDF (torch.special.ndtri)."""
    return with_rule(_NDTRI, _in_float64(_ndtri), _floating(p), name="SpecialNdtriBackward0")


def _polygamma_method(x: Tensor, n: int) -> Tensor:
    return polygamma(n, x)


def _i0_method(x: Tensor) -> Tensor:
    from .ops_bessel import i0  # (it builds on this module's helpers)

    return i0(x)


# names for functional.__all__ and the Tensor methods (with their in-place forms)
NAMES = ["lgamma", "digamma", "polygamma", "mvlgamma", "erfc", "erfinv", "sinc", "logit", "i0"]
METHODS = {"lgamma": lgamma, "digamma": digamma, "polygamma": _polygamma_method,
           "mvlgamma": mvlgamma, "erfc": erfc, "erfinv": erfinv, "sinc": sinc,
           "logit": logit, "i0": _i0_method}  # fmt: skip
