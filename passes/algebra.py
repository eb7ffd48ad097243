"""Algebraic simplification: a table of exact local rules run by the pattern engine.

Every rule here gives bit-identical results in IEEE arithmetic (signed zeros, infinities and
NaNs included; NaN payloads are not tracked), and the engine applies a rule only when the
replacement has exactly the equation's Aval (so nothing changes a shape, a dtype or how
operands broadcast). Constants are tested in the dtype the op computes in.

Rules left out on purpose, and why:

- ``x + 0.0 -> x`` for a float ``x``: ``-0.0 + 0.0`` is ``+0.0``. Exact forms are kept:
  ``x + (-0.0)``, ``x - 0.0``, and ``x + 0`` on integers and bools.
- ``x * 0 -> 0``: ``inf * 0`` and ``nan * 0`` are NaN, and ``-3.0 * 0`` is ``-0.0``.
- ``x - x -> 0``: ``inf - inf`` is NaN.
- ``x / x -> 1``, ``x ** 0 -> 1``-style folds over a variable: NaN/inf/zero inputs differ
  (``pow`` aside, and ``x ** 0`` would also need a new tensor of ones).
- ``0 - x -> neg(x)``: ``0.0 - 0.0`` is ``+0.0`` but ``neg(0.0)`` is ``-0.0``.
- Reassociating constants, e.g. ``(g * 2) * a -> g * (2 * a)``: scaling by a power of two is
  exact, but the two orders differ when an intermediate overflows (``g * 2 = inf`` while
  ``g * (2 * a)`` is finite for ``|a| < 0.5``) or lands among the subnormals (rounding at
  subnormal precision, then scaling, is not rounding once). It would not save an op either:
  the shared ``g * 2`` is computed once after CSE.
- ``x * -1 -> neg(x)``: the product keeps a NaN's sign bit, ``neg`` flips it.
- ``sum[axes=()](x) -> x`` for floats: a float sum starts from ``+0.0``, so it turns ``-0.0``
  into ``+0.0`` (NumPy and torch alike); the rule stays for integers and bools.
- ``cast(cast(x))``: narrowing or int/float round trips lose information.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import numpy as np

from ..ir.graph import Atom, Graph
from ..ir.ops import Op
from .rewrite import Match, P, Pat, Replacement, Rule, Term, const, rewrite


def _all(test: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], bool]:
    """A constant test: ``test`` holds for every element (of a non-empty constant)."""
    return lambda a: a.size > 0 and bool(np.all(test(a)))


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


# identities in the operand's compute dtype
_ONE = const(_all(lambda a: a == 1))
_TWO = const(_all(lambda a: a == 2))
_TRUE = const(_all(lambda a: a))
_FALSE = const(_all(lambda a: ~a.astype(bool)))
# x & c == x for every x exactly when c has every bit set: True, or -1 (255 for uint8)
_ALL_BITS = const(_all(lambda a: a.dtype.kind in "biu" and a == np.invert(np.zeros_like(a))))
# x + z == x for every x exactly when z is -0.0 (floats) or 0 (ints, bools); x - z when z is +0.0
_ADD_ZERO = const(_all(lambda a: (a == 0) & (np.signbit(a) if _is_float(a) else True)))
_SUB_ZERO = const(_all(lambda a: (a == 0) & ~np.signbit(a)))

X, Y = Pat(name="x"), Pat(name="y")
_SHAPING = (Op.RESHAPE, Op.EXPAND)


def _identity_permute(m: Match) -> Atom | None:
    return m.x if tuple(m.attrs["axes"]) == tuple(range(len(m.attrs["axes"]))) else None


def _compose_permutes(m: Match) -> Term:
    inner = m.defining(m.inner).attrs["axes"]
    return Term(Op.PERMUTE, (m.x,), {"axes": tuple(inner[i] for i in m.attrs["axes"])})


def _broadcast_single(m: Match) -> Term | None:
    """Any reshape/expand chain from a one-element value is that value broadcast."""
    if prod(m.x.aval.shape) != 1:
        return None
    op = Op.EXPAND if m.x.aval.ndim <= m.out.aval.ndim else Op.RESHAPE
    return Term(op, (m.x,), {"shape": m.out.aval.shape})


def _drop_keepdim(m: Match) -> Term:
    """reshape(reduce(x, keepdim=True)) that only drops the kept dims: reduce without them."""
    return Term(m.defining(m.r).op, (m.x,), {**m.defining(m.r).attrs, "keepdim": False})


def _sum_over_nothing(m: Match) -> Atom | None:
    # a float sum starts from +0.0, so summing nothing turns -0.0 into +0.0 (as torch does)
    return m.x if m.attrs["axes"] == () and not m.x.aval.dtype.is_floating_point else None


# One named row per rule, tried in this order; tests/passes/test_algebra_proven.py proves every
# row (sympy, both sides equal; IEEE samples, identical bits) and fails on a row it cannot prove.
TABLE: list[tuple[str, Pat, Replacement]] = [
    # arithmetic identities (commutative ops match either operand order)
    ("add_zero", P(Op.ADD, X, _ADD_ZERO), lambda m: m.x),
    ("sub_zero", P(Op.SUB, X, _SUB_ZERO), lambda m: m.x),
    ("mul_one", P(Op.MUL, X, _ONE), lambda m: m.x),
    ("mul_expanded_one", P(Op.MUL, X, P(Op.EXPAND, _ONE)), lambda m: m.x),  # a seed of ones
    ("div_one", P(Op.DIV, X, _ONE), lambda m: m.x),
    ("pow_one", P(Op.POW, X, _ONE), lambda m: m.x),
    # exact: the square is the correctly rounded x*x (tests/passes/test_algebra_rules.py)
    ("pow_two", P(Op.POW, X, _TWO), lambda m: Term(Op.MUL, (m.x, m.x), {})),
    ("neg_neg", P(Op.NEG, P(Op.NEG, X)), lambda m: m.x),
    # selection and logic
    ("where_true", P(Op.WHERE, _TRUE, X, Y), lambda m: m.x),
    ("where_false", P(Op.WHERE, _FALSE, X, Y), lambda m: m.y),
    ("where_same", P(Op.WHERE, X, Y, Y), lambda m: m.y),
    (
        "where_not",
        P(Op.WHERE, P(Op.NOT, X), Y, Pat(name="z")),
        lambda m: Term(Op.WHERE, (m.x, m.z, m.y), {}),
    ),
    ("and_all_bits", P(Op.AND, X, _ALL_BITS), lambda m: m.x),
    ("or_false", P(Op.OR, X, _FALSE), lambda m: m.x),
    ("not_not", P(Op.NOT, P(Op.NOT, X)), lambda m: m.x),
    # movement and casts: "-> x" applies only when x already has the result's shape/dtype
    ("reshape_same", P(Op.RESHAPE, X), lambda m: m.x),
    ("expand_same", P(Op.EXPAND, X), lambda m: m.x),
    ("cast_same", P(Op.CAST, X), lambda m: m.x),
    ("permute_identity", P(Op.PERMUTE, X), _identity_permute),
    (
        "reshape_reshape",
        P(Op.RESHAPE, P(Op.RESHAPE, X)),
        lambda m: Term(Op.RESHAPE, (m.x,), m.attrs),
    ),
    ("expand_expand", P(Op.EXPAND, P(Op.EXPAND, X)), lambda m: Term(Op.EXPAND, (m.x,), m.attrs)),
    ("permute_permute", P(Op.PERMUTE, P(Op.PERMUTE, X, name="inner")), _compose_permutes),
    ("sum_no_axes", P(Op.SUM, X), _sum_over_nothing),
    *(
        (
            f"{outer.name.lower()}_{inner.name.lower()}_single",
            P(outer, P(inner, X)),
            _broadcast_single,
        )
        for outer in _SHAPING
        for inner in _SHAPING
    ),
    *(
        (f"reshape_{r.name.lower()}_keepdim", P(Op.RESHAPE, P(r, X, name="r")), _drop_keepdim)
        for r in (Op.SUM, Op.AMAX, Op.AMIN)
    ),
    ("detach_detach", P(Op.DETACH, P(Op.DETACH, X, name="inner")), lambda m: m.inner),
]
RULES: list[Rule] = [(pattern, replacement) for _, pattern, replacement in TABLE]


def algebra(graph: Graph) -> Graph:
    """``graph`` with the algebraic rules applied until none fires."""
    return rewrite(graph, RULES)
