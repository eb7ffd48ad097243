"""``torch.sym_int``, ``sym_max`` & co.: int/float helpers that keep traced sizes symbolic."""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..ir.sizes import SymbolicSize

__all__ = ["SymBool", "SymFloat", "SymInt", "sym_float", "sym_int", "sym_ite", "sym_max"]
__all__ += ["sym_min", "sym_not", "sym_sqrt", "sym_sum", "sym_fresh_size"]
__all__ += ["sym_constrain_range", "sym_constrain_range_for_size"]

# Note [sym functions]
# ~~~~~~~~~~~~~~~~~~~~
# PyTorch's sym_* functions compute on Python numbers and on the symbolic sizes of a dynamic
# trace alike, without specializing what they need not. Under ``adjit.compile(dynamic=True)``
# sizes are ir/symbolic_shapes.py's SymInt (``torch.SymInt`` here) and floats computed from them
# are its SymFloat: sym_float, sym_sum and sym_max/sym_min of SymInts stay symbolic (sympy's Max
# and Min, printed into the guards' Python). adjit's comparisons of sizes answer with a bool and
# record a guard (Note [symbolic shapes]), so no value is ever a SymBool: the class is there for
# isinstance checks, as on PyTorch without a trace. What adjit cannot keep symbolic is
# specialized with a guard, never guessed: sym_int of a SymFloat, sym_sqrt, a max that involves a
# SymFloat (decided by a comparison, then converted).


def _symbolic_classes() -> tuple[type, type]:
    from ..ir.symbolic_shapes import SymFloat, SymInt

    return SymInt, SymFloat


class _SizeType(type):
    """The type of ``torch.SymInt``/``torch.SymFloat``: isinstance asks ir/symbolic_shapes.py's
    class of that name, without importing sympy before a dynamic trace has."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, SymbolicSize) and type(obj).__name__ == cls.__name__

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, SymbolicSize) and sub.__name__ == cls.__name__


class SymInt(metaclass=_SizeType):
    """A symbolic size of a dynamic trace (ir/symbolic_shapes.py's SymInt): an int that records
    guards when compared or specialized (Note [symbolic shapes])."""

    def __init__(self, *args: Any) -> None:
        raise TypeError("symbolic sizes are made by adjit.compile(dynamic=True), not directly")


class SymFloat(metaclass=_SizeType):
    """A float computed from symbolic sizes (ir/symbolic_shapes.py's SymFloat)."""

    def __init__(self, *args: Any) -> None:
        raise TypeError("symbolic sizes are made by adjit.compile(dynamic=True), not directly")


class SymBool:
    """PyTorch's symbolic bool. adjit decides comparisons of sizes with guards, so none is
    ever made (Note [sym functions]); ``isinstance(x, SymBool)`` is False as on eager PyTorch."""

    def __init__(self, *args: Any) -> None:
        raise TypeError("adjit makes no SymBool: comparisons of sizes are decided with guards")


def sym_not(a: Any) -> Any:
    """SymInt-aware logical negation (``not a``)."""
    return not a


def sym_float(a: Any) -> Any:
    """SymInt-aware float cast: a symbolic size stays symbolic (a SymFloat)."""
    if isinstance(a, SymbolicSize):
        return _symbolic_classes()[1].of(a)
    return builtins.float(a)


def sym_int(a: Any) -> Any:
    """SymInt-aware int cast (truncating a float, as ``math.trunc``)."""
    SymInt, SymFloat = _symbolic_classes() if isinstance(a, SymbolicSize) else (None, None)
    if SymInt is not None and isinstance(a, SymInt):
        return a
    if SymFloat is not None and isinstance(a, SymFloat):
        return math.trunc(float(a))  # (specialized: Note [sym functions])
    return builtins.int(a)


_ALL_TYPES = (np.integer, np.floating, builtins.int, builtins.float)
_FLOAT_TYPES = (np.floating, builtins.float)


def _extreme(pick: Any, sympy_fn: str, a: Any, b: Any) -> Any:
    if isinstance(a, SymbolicSize) or isinstance(b, SymbolicSize):
        SymInt, SymFloat = _symbolic_classes()
        ints = all(isinstance(v, SymInt | int) and not isinstance(v, bool) for v in (a, b))
        if ints:
            import sympy

            from ..ir.symbolic_shapes import _expr

            env = (a if isinstance(a, SymInt) else b).env
            return env.wrap(getattr(sympy, sympy_fn)(_expr(a), _expr(b)))
        chosen = pick(a, b)  # (a comparison: a guard)
        return sym_float(chosen) if not isinstance(chosen, SymFloat) else chosen
    for v in (a, b):
        if not isinstance(v, _ALL_TYPES):
            raise AssertionError(f"expected {_ALL_TYPES}, got {type(v)}")
    if isinstance(a, _FLOAT_TYPES) or isinstance(b, _FLOAT_TYPES):
        return builtins.float(pick(a, b))
    return pick(a, b)


def sym_max(a: Any, b: Any) -> Any:
    """SymInt-aware max without branching on ``a < b``; a float if either is a float."""
    return _extreme(builtins.max, "Max", a, b)


def sym_min(a: Any, b: Any) -> Any:
    """SymInt-aware min; a float if either is a float."""
    return _extreme(builtins.min, "Min", a, b)


def sym_sum(*args: Any) -> Any:
    """N-ary add; ``sym_sum([a, b, c])`` or ``sym_sum(a, b, c)``."""
    if len(args) == 1 and isinstance(args[0], list | tuple):
        args = tuple(args[0])
    return builtins.sum(args)


def sym_sqrt(a: Any) -> float:
    """SymInt-aware square root (``math.sqrt``; a symbolic size is specialized)."""
    return math.sqrt(a)


def sym_ite(b: Any, t: Any, f: Any) -> Any:
    """SymInt-aware ``t if b else f``."""
    if not isinstance(b, SymBool | builtins.bool):
        raise AssertionError(f"expected SymBool or bool, got {type(b)}")
    if type(t) is not type(f):
        raise AssertionError(f"type mismatch: {type(t)} vs {type(f)}")
    return t if b else f


def sym_fresh_size(expr: Any) -> Any:
    """A size as a fresh value: ``torch.tensor(expr).item()``."""
    from .creation import tensor

    return tensor(expr).item()


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _check_range(size: Any, lo: int, hi: int) -> None:
    if hi < lo:
        raise RuntimeError(f"Max must be greater than or equal to min. Got min={lo} max={hi}")
    value = size.item() if hasattr(size, "item") else size
    if not lo <= value <= hi:  # (a symbolic size: guards)
        raise RuntimeError(f"Invalid value range for {value} between [{lo}, {hi}].")


def sym_constrain_range(size: Any, *, min: int | None = None, max: int | None = None) -> None:  # noqa: A002
    """Check that ``size`` lies in [min, max] (PyTorch's runtime assertion)."""
    _check_range(size, _INT64_MIN if min is None else min, _INT64_MAX if max is None else max)


def sym_constrain_range_for_size(
    size: Any,
    *,
    min: int | None = None,  # noqa: A002
    max: int | None = None,  # noqa: A002
) -> None:
    """Check that ``size`` is a valid size in [min, max] (min defaults to 0)."""
    _check_range(size, 0 if min is None else min, _INT64_MAX if max is None else max)
