"""torch.special's Bessel, Airy, polynomial, incomplete gamma and zeta functions (over the SPECIAL
primitive, Note [SPECIAL is one primitive] in ir/special.py), and erfcx (a decomposition).

PyTorch's dtype rules: integer and bool inputs promote to the default float dtype (igamma's
do not: it refuses them), float16 and bfloat16 are refused by name (igamma computes them in
float32). The Bessel, Airy and polynomial results carry no gradient (PyTorch's do not require
grad); igamma, igammac and zeta have PyTorch's derivative in their second argument and its
"not implemented" error in the first, erfcx its formula.
"""

from __future__ import annotations

import math
from typing import Any

from ..ir.dtypes import DType, bfloat16, float16, float32, float64, get_default_dtype
from ..ir.ops import Op
from ..ir.special_bessel import UNARY as BESSEL
from ..ir.special_polynomials import BINARY as POLYNOMIALS
from .dispatch import apply, as_tensor_operand, result_dtype, with_rule
from .grad_mode import no_grad
from .ops_elementwise import abs, erf, exp, isnan, log, where
from .ops_math import _Rule
from .ops_shape import broadcast_tensors
from .ops_special import _in_float64, _pieces, lgamma
from .special_coefficients import ERFCX
from .tensor import Tensor

SQRT_PI = math.sqrt(math.pi)


# ---- dtypes and the primitive ----------------------------------------------------------------
def _float_dtype(dtype: DType) -> DType:
    return dtype if dtype.is_floating_point or dtype.is_complex else get_default_dtype()


def _refuse(kernel: str, dtype: DType, reduced_ok: bool = False) -> None:
    """PyTorch's error for a dtype its CPU kernel has no instance for."""
    if dtype.is_complex or (dtype in (float16, bfloat16) and not reduced_ok):
        raise NotImplementedError(f"\"{kernel}_cpu\" not implemented for '{dtype.type_name}'")


def _special(func: str, dtype: DType, *operands: Any) -> Tensor:
    """SPECIAL[func] of ``operands`` (cast to ``dtype`` first, as PyTorch's kernels see them),
    computed in ``dtype`` (float16/bfloat16: float32; zeta: float64) and rounded to it."""
    work = float64 if func == "zeta" else (float32 if dtype in (float16, bfloat16) else dtype)
    with no_grad():
        ts = []
        for v in operands:
            t = as_tensor_operand(v)
            t = t if t.dtype is dtype and not t._weak else apply(Op.CAST, t, dtype=dtype)
            ts.append(t if dtype is work else apply(Op.CAST, t, dtype=work))
        out = apply(Op.SPECIAL, *broadcast_tensors(*ts), func=func)
        return out if dtype is work else apply(Op.CAST, out, dtype=dtype)


def _not_tensor(name: str, arg: str, position: int, v: Any) -> TypeError:
    return TypeError(
        f"{name}(): argument '{arg}' (position {position}) must be Tensor, not {type(v).__name__}"
    )


def _combination_error(name: str, a: Any, b: Any, names: tuple[str, str]) -> TypeError:
    first, second = names
    self_name = "self" if first == "input" else first
    return TypeError(
        f"{name}() received an invalid combination of arguments - got "
        f"({type(a).__name__}, {type(b).__name__}), but expected one of:\n"
        f" * (Tensor {first}, Tensor {second}, *, Tensor out = None)\n"
        f" * (Number {self_name}, Tensor {second}, *, Tensor out = None)\n"
        f" * (Tensor {first}, Number {second}, *, Tensor out = None)\n"
    )


# ---- Bessel and Airy functions, polynomials (no gradient) -----------------------------------
def _unary(func: str) -> Any:
    def fn(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's keyword
        if not isinstance(input, Tensor):
            raise _not_tensor(f"special_{func}", "input", 1, input)
        dtype = _float_dtype(input.dtype)
        _refuse(func, dtype)
        return _special(func, dtype, input)

    fn.__name__ = fn.__qualname__ = func
    return fn


def _polynomial(func: str) -> Any:
    def fn(x: Any, n: Any) -> Tensor:
        if not isinstance(x, Tensor) and not isinstance(n, Tensor):
            raise _combination_error(f"special_{func}", x, n, ("x", "n"))
        dtype = _float_dtype(result_dtype(x, n))
        _refuse(func, dtype)
        return _special(func, dtype, x, n)

    fn.__name__ = fn.__qualname__ = func
    return fn


FUNCTIONS: dict[str, Any] = {name: _unary(name) for name in BESSEL}
FUNCTIONS.update({name: _polynomial(name) for name in POLYNOMIALS})


# ---- zeta ------------------------------------------------------------------------------------
class _ZetaRule(_Rule):
    """PyTorch's: d/dq zeta(x, q) = -x zeta(x + 1, q); none in x."""

    def __init__(self) -> None:
        super().__init__("zeta", lambda g, out, x, q: (None, None))

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        x, q = inputs[1], inputs[2]
        if needs[1]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        return (None, None, g * -x * zeta(x + 1.0, q) if needs[2] else None)


_ZETA = _ZetaRule()


def zeta(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's keyword
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise _combination_error("special_zeta", input, other, ("input", "other"))
    dtype = _float_dtype(result_dtype(input, other))
    _refuse("zeta", dtype)
    kind = (
        0
        if isinstance(input, Tensor) and isinstance(other, Tensor)
        else 1 + isinstance(input, Tensor)
    )
    value = lambda x, q: _special("zeta", dtype, x, q)  # noqa: E731
    return with_rule(_ZETA, value, input, other, name=f"SpecialZetaBackward{kind}")


# ---- the regularized incomplete gamma functions ----------------------------------------------
class _IgammaRule(_Rule):
    """PyTorch's: d/dx P(a, x) = x^(a - 1) e^-x / Gamma(a) (igammac: its negative); none in a."""

    def __init__(self, name: str, sign: float) -> None:
        super().__init__(name, lambda g, out, a, x: (None, None))
        self.sign = sign

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        a, x = inputs[1], inputs[2]
        if needs[1]:
            raise NotImplementedError(
                f"the derivative for '{self.name}: input' is not implemented."
            )
        if not needs[2]:
            return (None, None, None)
        return (None, None, self.sign * g * exp((a - 1) * log(x) - x - lgamma(a)))


_IGAMMA, _IGAMMAC = _IgammaRule("igamma", 1.0), _IgammaRule("igammac", -1.0)


def _incomplete_gamma(name: str, func: str, a: Any, x: Any, position: int = 1) -> Tensor:
    if not isinstance(a, Tensor):
        raise _not_tensor(name, "input", position, a)
    if not isinstance(x, Tensor):
        raise _not_tensor(name, "other", position + 1, x)
    dtype = result_dtype(a, x)
    kernel = "igamma" if func == "gammainc" else "igammac"
    if not dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}_cpu\" not implemented for '{dtype.type_name}'")
    _refuse(kernel, dtype, reduced_ok=True)
    rule, grad_fn = (_IGAMMA, "IgammaBackward0") if kernel == "igamma" else (
        _IGAMMAC, "IgammacBackward0")  # fmt: skip
    value = lambda p, q: _special(func, dtype, p, q)  # noqa: E731
    return with_rule(rule, value, a, x, name=grad_fn)


def igamma(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's keyword
    return _incomplete_gamma("igamma", "gammainc", input, other)


def igammac(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's keyword
    return _incomplete_gamma("igammac", "gammaincc", input, other)


def gammainc(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's keyword
    return _incomplete_gamma("special_gammainc", "gammainc", input, other)


def gammaincc(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's keyword
    return _incomplete_gamma("special_gammaincc", "gammaincc", input, other)


def _igamma_method(self: Tensor, other: Any) -> Tensor:
    if not isinstance(other, Tensor):  # (a method counts its arguments after self)
        raise _not_tensor("igamma", "other", 1, other)
    return igamma(self, other)


def _igammac_method(self: Tensor, other: Any) -> Tensor:
    if not isinstance(other, Tensor):
        raise _not_tensor("igammac", "other", 1, other)
    return igammac(self, other)


# ---- erfcx -----------------------------------------------------------------------------------
def _erfcx(x: Tensor) -> Tensor:
    """exp(x^2) erfc(x) in float64: from |x| = 1 on, erfcx(|x|) = G(1 / |x|) / (|x| sqrt(pi))
    (ops_special's ERFCX piece, Note [special functions]); inside, exp(x^2) (1 - erf(x)); below
    -1, PyTorch's 2 exp(x^2) - erfcx(-x) (infinite from -26.6, where exp(x^2) overflows)."""
    a = abs(x)
    u = 1.0 / where(a < 1.0, 1.0, a)
    tail = u * (1.0 / SQRT_PI) * _pieces(u, ERFCX)
    square = exp(x * x)
    near = square * (1.0 - erf(x))
    out = where(a < 1.0, near, where(x > 0, tail, 2.0 * square - tail))
    return where(isnan(x), x, out)


_ERFCX = _Rule("erfcx", lambda g, out, x: ((2.0 * x * out - 2.0 / SQRT_PI) * g,))


def erfcx(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's keyword
    if not isinstance(input, Tensor):
        raise _not_tensor("special_erfcx", "input", 1, input)
    dtype = _float_dtype(input.dtype)
    _refuse("erfcx", dtype)
    x = input if input.dtype is dtype else apply(Op.CAST, input, dtype=dtype)
    return with_rule(_ERFCX, _in_float64(_erfcx), x, name="SpecialErfcxBackward0")


# names for functional.__all__, adjit.special and the Tensor methods (with in-place forms)
NAMES = ["igamma", "igammac"]
METHODS = {"igamma": _igamma_method, "igammac": _igammac_method}
SPECIAL = {**FUNCTIONS, "zeta": zeta, "gammainc": gammainc, "gammaincc": gammaincc,
           "erfcx": erfcx}  # fmt: skip
