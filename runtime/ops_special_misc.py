"""sinc, logit, xlog1py, entr, ndtr: PyTorch's own formulas, in the input's float dtype."""

from __future__ import annotations

import math
from typing import Any

from .dispatch import composite, with_rule
from .ops_elementwise import clamp, cos, erf, isnan, log, log1p, sin, where
from .ops_math import _floating, _Rule
from .tensor import Tensor

NAN, PI = float("nan"), math.pi


def _sinc(x: Tensor) -> Tensor:
    product = PI * x  # PyTorch's kernel: sin(pi x) / (pi x), 1 at 0
    return where(x == 0, 1.0, sin(product) / product)


def _sinc_grad(g: Tensor, out: Tensor, x: Tensor) -> tuple:
    product = PI * x
    slope = (product * cos(product) - sin(product)) / (product * x)
    return (where(x == 0, 0.0, slope) * g,)


_SINC = _Rule("sinc", _sinc_grad)


def sinc(x: Tensor) -> Tensor:
    return with_rule(_SINC, _sinc, _floating(x), name="SincBackward0")


class _LogitRule(_Rule):
    """PyTorch's logit_backward: NaN outside [0, 1] without eps, 0 outside [eps, 1 - eps]."""

    def __init__(self, eps: float | None) -> None:
        lo, hi = (0.0, 1.0) if eps is None else (eps, 1.0 - eps)
        outside = NAN if eps is None else 0.0

        def grads(g: Tensor, out: Tensor, x: Tensor) -> tuple:
            # as PyTorch's float64 kernel: a NaN x is outside (its float32 one differs at NaN
            # and -0.0, where its vectorized loop gives NaN and +inf)
            inside = (x >= lo) & (x <= hi)
            inside = inside | isnan(x) if eps is None else inside
            return (where(inside, g / (x * (1.0 - x)), outside),)

        super().__init__(f"logit({eps})", grads)


def logit(x: Tensor, eps: float | None = None) -> Tensor:
    def value(a: Tensor) -> Tensor:
        z = a if eps is None else clamp(a, eps, 1.0 - eps)
        return log(z / (1.0 - z))

    return with_rule(_LogitRule(eps), value, _floating(x), name="LogitBackward0")


def _xlog1py(x: Any, y: Any) -> Tensor:
    # PyTorch's kernel: NaN for a NaN y, else 0 where x == 0, else x * log1p(y)
    return where(isnan(y), NAN, where(x == 0, 0.0, x * log1p(y)))


_XLOG1PY = _Rule(
    "xlog1py",
    lambda g, out, x, y: (where((x == 0) & (y <= -1.0), 0.0, _xlog1py(g, y)), g * x / (y + 1.0)),
)


def xlog1py(x: Any, y: Any) -> Tensor:
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        raise TypeError(
            "special_xlog1py() received an invalid combination of arguments - got "
            f"({type(x).__name__}, {type(y).__name__}), but expected one of:\n"
            " * (Tensor input, Tensor other, *, Tensor out = None)\n"
            " * (Number self, Tensor other, *, Tensor out = None)\n"
            " * (Tensor input, Number other, *, Tensor out = None)\n"
        )
    kind = 0 if isinstance(x, Tensor) and isinstance(y, Tensor) else 1 + isinstance(x, Tensor)
    name = f"SpecialXlog1PyBackward{kind}"
    return with_rule(_XLOG1PY, _xlog1py, _floating(x), _floating(y), name=name)


def _entr(x: Tensor) -> Tensor:
    # PyTorch's kernel: NaN stays, -inf below 0, 0 at 0, -x log x above
    return where(
        x > 0, -x * log(where(x > 0, x, 1.0)), where(x == 0, 0.0, where(x < 0, -math.inf, x))
    )


_ENTR = _Rule("entr", lambda g, out, x: (g * -(1.0 + log(x)),))


def entr(x: Tensor) -> Tensor:
    return with_rule(_ENTR, _entr, _floating(x), name="SpecialEntrBackward0")


def ndtr(x: Tensor) -> Tensor:
    """PyTorch's composite (1 + erf(x / sqrt 2)) / 2: its grad_fn chain, its 0 below -8.3."""
    half = lambda a: a * 0.5  # noqa: E731 - PyTorch's mul by a Scalar: MulBackward1
    return composite("MulBackward1", half, 1 + erf(_floating(x) * math.sqrt(0.5)))
