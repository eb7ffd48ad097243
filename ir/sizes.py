"""What a size may be: an int, or a symbolic size (Note [symbolic shapes], ir/symbolic_shapes)."""

from __future__ import annotations

import operator
from typing import Any


class SymbolicShapeError(RuntimeError):
    """A pass asked a question about symbolic sizes that the guards do not decide."""


class SymbolicSize:
    """Base class of ``SymInt`` (defined beside sympy in ir/symbolic_shapes.py): code that only
    needs to recognize a symbolic size checks this and never imports sympy."""

    __slots__ = ()

    def known_equal(self, other: Any) -> bool:
        raise NotImplementedError

    def key(self) -> tuple:
        """A hashable structural key (its expression): never the printed traced value, which
        two different sizes can share."""
        raise NotImplementedError


def is_size(x: Any) -> bool:
    """An int (not a bool) or a symbolic size."""
    return isinstance(x, SymbolicSize) or (isinstance(x, int) and not isinstance(x, bool))


def as_size(x: Any) -> Any:
    """``operator.index(x)``, keeping a symbolic size symbolic (``int()`` would specialize it)."""
    return x if isinstance(x, SymbolicSize) else operator.index(x)


def has_symbols(shape: Any) -> bool:
    return any(isinstance(n, SymbolicSize) for n in shape)


def same_shape(a: Any, b: Any) -> bool:
    """Whether two shapes are equal for every size their symbols can take, without a guard
    ("size-oblivious"): for a test whose False branch is also right when they happen to be
    equal (conforming a cotangent: summing over no axes, reshaping to the same shape)."""
    if len(a) != len(b):
        return False
    for m, n in zip(a, b, strict=True):
        if m is n:
            continue
        if isinstance(m, SymbolicSize) or isinstance(n, SymbolicSize):
            if not (isinstance(m, SymbolicSize) and m.known_equal(n)):
                return False
        elif m != n:
            return False
    return True


def key_repr(value: Any) -> str:
    """``repr(value)`` for keying a value (a literal, an attribute), with a symbolic size as
    its expression: its own repr is the traced size, which two different sizes can share."""
    if isinstance(value, SymbolicSize):
        return repr(value.key())
    if isinstance(value, tuple) and symbolic_attr(value):
        return "(" + ", ".join(map(key_repr, value)) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def symbolic_attr(x: Any) -> bool:
    """Whether an attribute (a size, or a tuple or list of them) holds a symbolic size."""
    if isinstance(x, SymbolicSize):
        return True
    return isinstance(x, tuple | list) and any(symbolic_attr(v) for v in x)
