"""Questions about sizes that fusion and codegen ask, answered the same at every size.

Note [size-oblivious decisions]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A symbolic graph (Note [symbolic shapes] in ir/symbolic_shapes.py) is fused and compiled once
for every size its guards allow, so a decision of fusion or codegen must hold at every size.
These helpers answer from the structure of the sizes alone and the one fact true of every
trace: each symbol is an integer >= 2. Two sizes are *the same* when their expressions are
(``expand(a - b) == 0``); a size is *known 1* only when it is the integer 1; a size is *never
1* (or 0) when interval arithmetic over symbols >= 2 says so. A question they cannot answer
gets the general answer (not fused, not collapsed, a dim kept, a careful sum kept), which is
right at every size; none of them records a guard or reads a trace's example sizes, so a
kernel's code is a function of its printed structure, which is its cache key (Note [kernel
keys]). On int sizes they are the plain comparisons (no sympy is imported).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..ir.sizes import SymbolicSize

Size = Any  # an int, or a sympy expression over the symbols s0, s1, ... (normalized)


def norm(n: Any) -> Size:
    """``n`` as an int, or as its simplified sympy expression when it is symbolic."""
    if isinstance(n, int):
        return n
    e = n.env.simplify(n.expr) if isinstance(n, SymbolicSize) else n  # type: ignore[attr-defined]
    return int(e) if getattr(e, "is_Integer", False) else e


def float_tree(x: Any) -> tuple:
    """A ``SymFloat``'s operations (Note [symbolic shapes]) with each size normalized: what
    the float is, printed the same for the same float at every size."""

    def walk(t: tuple) -> tuple:
        if t[0] == "const":
            return t
        if t[0] == "size":
            return ("size", norm(t[1]))
        return (t[0], *(walk(a) for a in t[1:]))

    return walk(x.tree)


def norm_shape(shape: Sequence[Any]) -> tuple[Size, ...]:
    return tuple(norm(n) for n in shape)


def symbolic(n: Any) -> bool:
    return not isinstance(n, int)


def same(a: Any, b: Any) -> bool:
    """Equal at every size."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    a, b = norm(a), norm(b)
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, int) or isinstance(b, int):
        return False  # a non-constant expression is not a number
    import sympy

    return bool(sympy.expand(a - b) == 0)


def same_shape(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return len(a) == len(b) and all(same(m, n) for m, n in zip(a, b, strict=True))


def bounds(n: Any) -> tuple[float, float]:
    """An interval holding ``n`` at every size (symbols >= 2)."""
    n = norm(n)
    if isinstance(n, int):
        return (n, n)
    from ..ir.symbolic_shapes import _bounds

    return _bounds(n, {s: (2, math.inf) for s in n.free_symbols})


def at_least(n: Any, k: int) -> bool:
    """``n >= k`` at every size."""
    return n >= k if isinstance(n, int) else bounds(n)[0] >= k


def at_most(n: Any, k: int) -> bool:
    """``n <= k`` at every size."""
    return n <= k if isinstance(n, int) else bounds(n)[1] <= k


def is_one(n: Any) -> bool:
    """``n == 1`` at every size (a symbolic size that may be 1 is not)."""
    return n == 1 if isinstance(n, int) else norm(n) == 1


def is_zero(n: Any) -> bool:
    return n == 0 if isinstance(n, int) else norm(n) == 0


def is_scalar_shape(shape: Sequence[Any]) -> bool:
    """One element at every size (every dim is 1)."""
    return all(is_one(n) for n in shape)


def numel(shape: Sequence[Any]) -> Size:
    out: Size = 1
    for n in shape:
        out = out * norm(n)
    return out


def contiguous_strides(shape: Sequence[Any]) -> tuple[Size, ...]:
    """C-order strides, in elements."""
    out, acc = [], 1
    for n in reversed(shape):
        out.append(acc)
        acc = acc * norm(n)
    return tuple(reversed(out))


def broadcast_strides(shape: Sequence[Any], into: Sequence[Any]) -> tuple[Size, ...] | None:
    """Strides reading a contiguous ``shape`` broadcast (right-aligned) into ``into`` at every
    size: a dim reads along when it is the same as ``into``'s, stays put when it is 1; None
    otherwise (it would broadcast only at some sizes)."""
    lead = len(into) - len(shape)
    if lead < 0:
        return None
    own = contiguous_strides(shape)
    out: list[Size] = [0] * len(into)
    for i, n in enumerate(shape):
        if is_one(n):
            continue
        if not same(n, into[lead + i]):
            return None
        out[lead + i] = own[i]
    return tuple(out)
