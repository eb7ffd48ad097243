"""Sympy forms of the elementwise ops (the symbolic source of truth) and lambdify helpers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np

from .derivatives import DEFAULT_INPUT_NAMES, INPUT_NAMES
from .ops import Op

SympyForm = Callable[..., Any]


class _LazySympy:
    """``sp.exp`` etc. import sympy on first use: importing adjit must not pay for sympy."""

    def __getattr__(self, name: str) -> Any:
        import sympy

        return getattr(sympy, name)


sp: Any = _LazySympy()


def _clamp(x: Any, *, lo: float | None, hi: float | None) -> Any:
    # PyTorch applies min then max: clamp(x, lo, hi) = min(max(x, lo), hi)
    if lo is not None:
        x = sp.Piecewise((lo, x < lo), (x, True))
    if hi is not None:
        x = sp.Piecewise((hi, x > hi), (x, True))
    return x


# One entry per op in GroupOp.SYMBOLIC: inputs are sympy symbols, attributes keyword arguments.
SYMPY_FORMS: dict[Op, SympyForm] = {
    Op.NEG: lambda x: -x,
    Op.ABS: lambda x: sp.Abs(x),
    Op.SIGN: lambda x: sp.sign(x),
    Op.EXP: lambda x: sp.exp(x),
    Op.LOG: lambda x: sp.log(x),
    Op.LOG1P: lambda x: sp.log(1 + x),
    Op.SQRT: lambda x: sp.sqrt(x),
    Op.SIN: lambda x: sp.sin(x),
    Op.COS: lambda x: sp.cos(x),
    Op.TANH: lambda x: sp.tanh(x),
    Op.SIGMOID: lambda x: 1 / (1 + sp.exp(-x)),
    Op.RELU: lambda x: sp.Piecewise((x, x > 0), (0, True)),
    Op.ERF: lambda x: sp.erf(x),
    Op.FLOOR: lambda x: sp.floor(x),
    Op.TRUNC: lambda x: sp.Piecewise((sp.floor(x), x >= 0), (sp.ceiling(x), True)),
    Op.CLAMP: _clamp,
    Op.ADD: lambda x, y: x + y,
    Op.SUB: lambda x, y: x - y,
    Op.MUL: lambda x, y: x * y,
    Op.DIV: lambda x, y: x / y,
    Op.POW: lambda x, y: x**y,
    Op.MAXIMUM: lambda x, y: sp.Max(x, y),
    Op.MINIMUM: lambda x, y: sp.Min(x, y),
    Op.ATAN2: lambda x, y: sp.atan2(x, y),
}


def input_names(op: Op, arity: int) -> tuple[str, ...]:
    """The names of ``op``'s inputs, as the derivative rules call them."""
    return INPUT_NAMES.get(op, DEFAULT_INPUT_NAMES)[:arity]


def arity(op: Op) -> int:
    """How many inputs the sympy form of ``op`` takes."""
    import inspect

    params = inspect.signature(SYMPY_FORMS[op]).parameters.values()
    return sum(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)


def sympy_form(op: Op, **attrs: Any) -> tuple[tuple[Any, ...], Any]:
    """Real sympy symbols named like the op's inputs, and the op's expression over them."""
    if op not in SYMPY_FORMS:
        raise KeyError(f"{op!r} has no sympy form (only GroupOp.SYMBOLIC ops have one)")
    syms = tuple(sp.Symbol(n, real=True) for n in input_names(op, arity(op)))
    return syms, SYMPY_FORMS[op](*syms, **attrs)


def symbolic_partials(op: Op, **attrs: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The symbols and ``sympy.diff`` of the op's form with respect to each of them."""
    syms, expr = sympy_form(op, **attrs)
    return syms, tuple(_step_derivatives_to_zero(sp.diff(expr, s)) for s in syms)


def _step_derivatives_to_zero(expr: Any) -> Any:
    """sympy leaves d floor(x)/dx unevaluated; it is 0 away from the jumps."""
    steps = (sp.floor, sp.ceiling)
    is_step = lambda e: isinstance(e, sp.Derivative) and isinstance(e.expr, steps)
    return expr.replace(is_step, lambda e: sp.S.Zero)


def _heaviside(x: np.ndarray, h0: Any = 0.5) -> np.ndarray:
    return np.heaviside(x, 0.5 if h0 is None else h0)


# sympy functions NumPy lacks, as NumPy callables (derivatives away from kinks are smooth)
_NUMPY_EXTRAS: dict[str, Callable[..., Any]] = {
    "erf": np.vectorize(math.erf, otypes=[np.float64]),
    "DiracDelta": lambda x, *k: np.where(np.asarray(x) == 0, np.inf, 0.0),
    "Heaviside": _heaviside,
}


def lambdify(syms: Sequence[Any], expr: Any) -> Callable[..., np.ndarray]:
    """A NumPy function evaluating ``expr`` elementwise (broadcasting) at arrays for ``syms``."""
    import sympy

    fn = sympy.lambdify(list(syms), expr, modules=[_NUMPY_EXTRAS, "numpy"])

    def evaluate(*args: np.ndarray) -> np.ndarray:
        shape = np.broadcast_shapes(*(np.shape(a) for a in args))
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(fn(*args), np.float64), shape)

    return evaluate


@cache
def _compiled(op: Op, attr_items: tuple[tuple[str, Any], ...]) -> tuple[Callable[..., Any], ...]:
    syms, expr = sympy_form(op, **dict(attr_items))
    _, partials = symbolic_partials(op, **dict(attr_items))
    return (lambdify(syms, expr), *(lambdify(syms, d) for d in partials))


def evaluate(op: Op, *arrays: np.ndarray, **attrs: Any) -> np.ndarray:
    """The op's value from its sympy form (float64), to check against the NumPy reference."""
    return _compiled(op, tuple(sorted(attrs.items())))[0](*arrays)


def partial_derivatives(op: Op, *arrays: np.ndarray, **attrs: Any) -> tuple[np.ndarray, ...]:
    """d op / d input_i for each input, from ``sympy.diff`` of the form, at ``arrays``."""
    return tuple(f(*arrays) for f in _compiled(op, tuple(sorted(attrs.items())))[1:])
