"""Symbolic sizes: SymInt (a size that is a sympy expression) and ShapeEnv (its guards).

Note [symbolic shapes]
~~~~~~~~~~~~~~~~~~~~~~
A symbol ``s<k>`` stands for one input dimension whose size may change between calls. Sizes 0
and 1 never become symbols (broadcasting and empty tensors depend on them, as in PyTorch), so
every symbol is an integer >= 2.

While tracing, sizes are ``SymInt``s: arithmetic (``+ - * // %``, ``max``) builds sympy
expressions (``s0*s1``, ``floor((s0 - 3)/2) + 1``), so shapes, views and Python ints derived
from sizes stay symbolic. A comparison is answered from what is known when it can be (ranges of
the symbols, earlier guards); otherwise the trace's example sizes (the *hints*) answer it and
the answer becomes a *guard* of the trace (``s0 >= 4``, ``Eq(Mod(s1, 4), 0)``): the program is
valid only for sizes satisfying every guard. ``int()``/``operator.index`` of a symbolic size
(NumPy's allocation, ``range``) specializes it: the guard ``Eq(expr, hint)``. An equality
between two symbols replaces the newer one by the older everywhere (``s1 -> s0``).

When tracing ends the env is frozen: passes may still compare sizes, but a question that what
is known cannot decide raises ``SymbolicShapeError`` (a pass that needs a case split must make
it explicit), never a silent guess. Guards are simplified once and printed as one plain Python
function of the symbols' values: a call checks them without importing sympy.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import sympy

from .sizes import SymbolicShapeError, SymbolicSize

INF = math.inf
Bounds = tuple[float, float]


def _expr(x: Any) -> sympy.Expr:
    if isinstance(x, SymInt):
        return x.expr
    if isinstance(x, bool):
        return sympy.Integer(int(x))
    if isinstance(x, int):
        return sympy.Integer(x)
    return operator.index(x) if not isinstance(x, sympy.Basic) else x  # type: ignore[return-value]


class SymInt(SymbolicSize):
    """A size that is an expression over symbols; behaves as an int, recording guards."""

    __slots__ = ("env", "expr")

    def __init__(self, expr: sympy.Expr, env: ShapeEnv) -> None:
        self.expr, self.env = expr, env

    # -- arithmetic: new sizes ------------------------------------------------------------
    def _wrap(self, expr: sympy.Expr) -> Any:
        return self.env.wrap(expr)

    def __add__(self, o: Any) -> Any:
        if isinstance(o, float | SymFloat):
            return SymFloat.of(self)._bin("+", o)
        return self._wrap(self.expr + _expr(o)) if _is_int(o) else NotImplemented

    def __radd__(self, o: Any) -> Any:
        if isinstance(o, float):
            return SymFloat.of(o, self.env)._bin("+", self)
        return self._wrap(_expr(o) + self.expr) if _is_int(o) else NotImplemented

    def __sub__(self, o: Any) -> Any:
        if isinstance(o, float | SymFloat):
            return SymFloat.of(self)._bin("-", o)
        return self._wrap(self.expr - _expr(o)) if _is_int(o) else NotImplemented

    def __rsub__(self, o: Any) -> Any:
        if isinstance(o, float):
            return SymFloat.of(o, self.env)._bin("-", self)
        return self._wrap(_expr(o) - self.expr) if _is_int(o) else NotImplemented

    def __mul__(self, o: Any) -> Any:
        if isinstance(o, float | SymFloat):
            return SymFloat.of(self)._bin("*", o)
        return self._wrap(self.expr * _expr(o)) if _is_int(o) else NotImplemented

    def __rmul__(self, o: Any) -> Any:
        if isinstance(o, float):
            return SymFloat.of(o, self.env)._bin("*", self)
        return self._wrap(_expr(o) * self.expr) if _is_int(o) else NotImplemented

    def __floordiv__(self, o: Any) -> Any:
        return self.env.floordiv(self.expr, _expr(o)) if _is_int(o) else NotImplemented

    def __rfloordiv__(self, o: Any) -> Any:
        return self.env.floordiv(_expr(o), self.expr) if _is_int(o) else NotImplemented

    def __mod__(self, o: Any) -> Any:
        return self.env.mod(self.expr, _expr(o)) if _is_int(o) else NotImplemented

    def __rmod__(self, o: Any) -> Any:
        return self.env.mod(_expr(o), self.expr) if _is_int(o) else NotImplemented

    def __neg__(self) -> Any:
        return self._wrap(-self.expr)

    def __pos__(self) -> SymInt:
        return self

    def __abs__(self) -> Any:
        return self if self >= 0 else -self

    def __pow__(self, o: Any) -> Any:
        if isinstance(o, int) and o >= 0:
            return self._wrap(self.expr**o)
        return NotImplemented

    def __truediv__(self, o: Any) -> Any:
        return SymFloat.of(self)._bin("/", o)

    def __rtruediv__(self, o: Any) -> Any:
        return SymFloat.of(o, self.env)._bin("/", self)

    # -- comparisons: guards ------------------------------------------------------------------
    def __eq__(self, o: object) -> bool:  # type: ignore[override]
        if isinstance(o, SymInt):
            if o.env is not self.env:
                return False  # another trace's symbol (memo tables must never mix traces)
            if o.expr == self.expr:
                return True
        elif type(o) is int and self.expr.is_Symbol and self.expr not in self.env.replacements:
            lo, hi = self.env.ranges[self.expr]  # (the common `n == 1`, without sympy)
            if o < lo or o > hi:
                return False
        return self.env.decide(sympy.Eq(self.expr, _expr(o))) if _is_int(o) else False

    def __ne__(self, o: object) -> bool:  # type: ignore[override]
        return not self == o

    def __lt__(self, o: Any) -> bool:
        return self.env.decide(sympy.Lt(self.expr, _expr(o)))

    def __le__(self, o: Any) -> bool:
        return self.env.decide(sympy.Le(self.expr, _expr(o)))

    def __gt__(self, o: Any) -> bool:
        return self.env.decide(sympy.Gt(self.expr, _expr(o)))

    def __ge__(self, o: Any) -> bool:
        return self.env.decide(sympy.Ge(self.expr, _expr(o)))

    def __bool__(self) -> bool:
        return self != 0

    # -- conversions: specialization ----------------------------------------------------------
    def __index__(self) -> int:
        return self.env.specialize(self.expr)

    __int__ = __index__

    def __float__(self) -> float:
        return float(self.env.specialize(self.expr))

    def key(self) -> tuple:
        return ("SymInt", self.env.simplify(self.expr))

    def known_equal(self, other: Any) -> bool:
        """Equal at every size (no guard)."""
        if isinstance(other, SymInt) and other.env is not self.env:
            return False
        if not _is_int(other):
            return False
        return self.env.statically(sympy.Eq(self.expr, _expr(other))) is True

    def __hash__(self) -> int:
        return hash((id(self.env), self.expr))

    @property
    def hint(self) -> int:
        """The size in the traced example (no guard)."""
        return self.env.hint(self.expr)

    def __repr__(self) -> str:
        # the traced example's size: an error raised while tracing reads as eager's does
        # (explain and guards print the expressions themselves)
        return str(self.hint)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(self.hint, spec)


class SymFloat(SymbolicSize):
    """A Python float computed from sizes (``n - 1.0``, ``1 / n``): the operations themselves,
    replayed on the values of each call, so the float is exactly what eager Python computes;
    comparisons become guards like a SymInt's."""

    __slots__ = ("env", "tree")

    def __init__(self, tree: tuple, env: ShapeEnv) -> None:
        self.tree, self.env = tree, env

    @staticmethod
    def of(x: Any, env: ShapeEnv | None = None) -> SymFloat:
        if isinstance(x, SymFloat):
            return x
        if isinstance(x, SymInt):
            return SymFloat(("size", x.expr), x.env)
        assert env is not None
        return SymFloat(("const", float(x)), env)

    def _bin(self, op: str, o: Any) -> Any:
        if not isinstance(o, int | float | SymInt | SymFloat) or isinstance(o, bool):
            return NotImplemented
        return SymFloat((op, self.tree, SymFloat.of(o, self.env).tree), self.env)

    def __add__(self, o: Any) -> Any:
        return self._bin("+", o)

    def __sub__(self, o: Any) -> Any:
        return self._bin("-", o)

    def __mul__(self, o: Any) -> Any:
        return self._bin("*", o)

    def __truediv__(self, o: Any) -> Any:
        return self._bin("/", o)

    def __radd__(self, o: Any) -> Any:
        return SymFloat.of(o, self.env)._bin("+", self)

    def __rsub__(self, o: Any) -> Any:
        return SymFloat.of(o, self.env)._bin("-", self)

    def __rmul__(self, o: Any) -> Any:
        return SymFloat.of(o, self.env)._bin("*", self)

    def __rtruediv__(self, o: Any) -> Any:
        return SymFloat.of(o, self.env)._bin("/", self)

    def __neg__(self) -> Any:
        return SymFloat(("neg", self.tree), self.env)

    def __pos__(self) -> SymFloat:
        return self

    def sym(self) -> Any:
        """The value as a sympy expression (for guards)."""
        return _tree_sympy(self.tree)

    def _cmp(self, rel: Any, o: Any) -> bool:
        other = SymFloat.of(o, self.env).sym() if not isinstance(o, int) else sympy.Integer(o)
        return self.env.decide(rel(self.sym(), other))

    def __eq__(self, o: object) -> bool:  # type: ignore[override]
        if not isinstance(o, int | float | SymInt | SymFloat):
            return False
        return self._cmp(sympy.Eq, o)

    def __ne__(self, o: object) -> bool:  # type: ignore[override]
        return not self == o

    def __lt__(self, o: Any) -> bool:
        return self._cmp(sympy.Lt, o)

    def __le__(self, o: Any) -> bool:
        return self._cmp(sympy.Le, o)

    def __gt__(self, o: Any) -> bool:
        return self._cmp(sympy.Gt, o)

    def __ge__(self, o: Any) -> bool:
        return self._cmp(sympy.Ge, o)

    def __bool__(self) -> bool:
        return self != 0

    def __hash__(self) -> int:
        return hash((id(self.env), self.tree))

    def key(self) -> tuple:
        return ("SymFloat", self.tree)

    def evaluate(self, values: dict[Any, int]) -> float:
        return float(_replay(self.tree, values))

    @property
    def hint(self) -> float:
        return self.evaluate(self.env.hints)

    def __float__(self) -> float:
        """The value at the traced sizes, every size in it specialized (guarded)."""
        for s in sorted(self.sym().free_symbols, key=str):
            self.env.specialize(s)
        return self.hint

    def __repr__(self) -> str:
        return str(self.hint)  # (as a SymInt's: the traced example's value)

    __str__ = __repr__


_FLOAT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def _replay(tree: tuple, values: dict[Any, int]) -> Any:
    kind = tree[0]
    if kind == "const":
        return tree[1]
    if kind == "size":
        return evaluate(tree[1], values)
    if kind == "neg":
        return -_replay(tree[1], values)
    return _FLOAT_OPS[kind](float(_replay(tree[1], values)), _replay(tree[2], values))


def _tree_sympy(tree: tuple) -> Any:
    kind = tree[0]
    if kind == "const":
        return sympy.Float(tree[1])
    if kind == "size":
        return tree[1]
    if kind == "neg":
        return -_tree_sympy(tree[1])
    a, b = _tree_sympy(tree[1]), _tree_sympy(tree[2])
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[kind] if kind != "/" else a / b


def _is_int(o: Any) -> bool:
    return isinstance(o, int | SymInt) or (isinstance(o, sympy.Basic) and o.is_integer)


def is_symbolic(x: Any) -> bool:
    return isinstance(x, SymInt)


def hint(x: Any) -> int:
    """A size's example value (no guard): ``x`` itself for an int."""
    return x.hint if isinstance(x, SymInt) else int(x)


class ShapeEnv:
    """The symbols of one trace: their example sizes, sources, ranges, replacements, guards."""

    def __init__(self) -> None:
        self.symbols: list[sympy.Symbol] = []
        self.hints: dict[sympy.Symbol, int] = {}
        self.sources: dict[sympy.Symbol, str] = {}
        self.ranges: dict[sympy.Symbol, Bounds] = {}
        self.replacements: dict[sympy.Symbol, sympy.Expr] = {}
        self.divisible: set[tuple[Any, Any]] = set()  # (a, b): a guard says b divides a
        self._decided: dict[Any, bool] = {}  # relation -> its answer
        self._essential: list[Any] = []  # the guards kept when frozen (essential_guards)
        self.guards: list[sympy.Basic] = []  # as recorded, simplified
        self.frozen = False

    # -- symbols ----------------------------------------------------------------------------
    def create(self, size: int, source: str) -> SymInt:
        """A new symbol for an input dimension of example size ``size`` (>= 2)."""
        if size < 2:
            raise ValueError(f"sizes 0 and 1 stay concrete (got {size} for {source})")
        s = sympy.Symbol(f"s{len(self.symbols)}", integer=True, positive=True)
        self.symbols.append(s)
        self.hints[s], self.sources[s], self.ranges[s] = size, source, (2, INF)
        return SymInt(s, self)

    def wrap(self, expr: sympy.Expr) -> Any:
        """An int when ``expr`` is a number, else a SymInt."""
        expr = self.simplify(expr)
        if expr.is_Integer:
            return int(expr)
        if expr.is_Number:
            raise TypeError(f"a size must be an integer, got {expr}")
        return SymInt(expr, self)

    def simplify(self, expr: Any) -> Any:
        if self.replacements and isinstance(expr, sympy.Basic):
            for _ in range(4):  # replacements may chain (s2 -> s1 -> s0)
                new = expr.xreplace(self.replacements)
                if new == expr:
                    break
                expr = new
        if self.divisible and isinstance(expr, sympy.Basic) and expr.has(sympy.floor):
            exact = {}  # floor(a/b) where a guard says b divides a: exactly a/b
            for f in expr.atoms(sympy.floor):
                n, d = f.args[0].as_numer_denom()
                if (sympy.expand(n), sympy.expand(d)) in self.divisible:
                    exact[f] = f.args[0]
            if exact:
                expr = sympy.expand(expr.xreplace(exact))
        return expr

    def hint(self, expr: Any) -> int:
        value = sympy.sympify(expr).xreplace({s: sympy.Integer(v) for s, v in self.hints.items()})
        if not value.is_Integer:
            raise SymbolicShapeError(f"cannot evaluate {expr} at the traced sizes")
        return int(value)

    def floordiv(self, a: sympy.Expr, b: sympy.Expr) -> Any:
        if b.is_Integer and int(b) == 0 or (not b.is_Integer and self.decide(sympy.Eq(b, 0))):
            raise ZeroDivisionError("integer division or modulo by zero")
        if b.is_Integer and int(b) == 1:
            return self.wrap(a)
        return self.wrap(sympy.floor(a / b))

    def mod(self, a: sympy.Expr, b: sympy.Expr) -> Any:
        if b.is_Integer and int(b) == 0 or (not b.is_Integer and self.decide(sympy.Eq(b, 0))):
            raise ZeroDivisionError("integer division or modulo by zero")
        return self.wrap(sympy.Mod(a, b))

    # -- questions ---------------------------------------------------------------------------
    def decide(self, rel: Any) -> bool:
        """The answer to a comparison of sizes: from what is known, else (while tracing) from
        the example sizes, recorded as a guard."""
        known = self._decided.get(rel)
        if known is not None:
            return known
        answer = self._decide(rel)
        self._decided[rel] = answer  # (guards only grow: an answer never changes)
        return answer

    def _decide(self, rel: Any) -> bool:
        rel = self.simplify(rel)
        if rel in (sympy.true, sympy.false):
            return bool(rel)
        known = self.statically(rel)
        if known is not None:
            return known
        if self.frozen:
            raise SymbolicShapeError(
                f"the guards of this trace do not decide {rel} (a pass compared symbolic sizes "
                "without a case split)"
            )
        value = bool(rel.xreplace({s: sympy.Integer(v) for s, v in self.hints.items()}))
        self.add_guard(rel if value else _negate(rel))
        return value

    def statically(self, rel: Any) -> bool | None:
        """True/False when ranges or earlier guards decide ``rel``; None otherwise."""
        rel = _canonical(rel)
        if rel in (sympy.true, sympy.false):
            return bool(rel)
        if rel in self.guards:
            return True
        if _negate(rel) in self.guards:
            return False
        diff = sympy.expand(rel.lhs - rel.rhs)
        if diff.is_Number:
            return bool(rel.func(diff, 0))
        lo, hi = self.bounds(diff)
        return _decide_range(type(rel), lo, hi)

    def bounds(self, expr: Any) -> Bounds:
        """An interval holding every value ``expr`` can take under the symbols' ranges."""
        return _bounds(expr, self.ranges)

    def specialize(self, expr: Any) -> int:
        """``int(size)``: the example value, guarded (the trace is valid only for it)."""
        expr = self.simplify(expr)
        if expr.is_Integer:
            return int(expr)
        value = self.hint(expr)
        if self.frozen:
            raise SymbolicShapeError(f"a pass needs the concrete value of the size {expr}")
        self.add_guard(sympy.Eq(expr, value))
        return value

    def add_guard(self, rel: Any) -> None:
        rel = _canonical(self.simplify(rel))
        if rel in (sympy.true, sympy.false) or rel in self.guards:
            return
        self.guards.append(rel)
        self._learn(rel)

    def _learn(self, rel: Any) -> None:
        """Replacements from equalities, tighter ranges from bounds on one symbol."""
        diff = sympy.expand(rel.lhs - rel.rhs)
        free = sorted(diff.free_symbols, key=lambda s: self.symbols.index(s))
        if isinstance(rel, sympy.Eq) and isinstance(diff, sympy.Mod):  # Eq(Mod(a, b), 0)
            self.divisible.add((sympy.expand(diff.args[0]), sympy.expand(diff.args[1])))
            return
        if isinstance(rel, sympy.Eq) and free:
            # drop factors that cannot be 0 (sizes >= 2): 6*s0 == s0*s1 says s1 == 6
            factors = sympy.Mul.make_args(sympy.factor(diff))
            kept = [f for f in factors if _decide_range(sympy.Ne, *self.bounds(f)) is not True]
            if len(kept) == 1 and kept[0] != diff:
                diff = sympy.expand(kept[0])
                free = sorted(diff.free_symbols, key=lambda s: self.symbols.index(s))
                if not free:
                    return
            newest = free[-1]
            coeff = diff.coeff(newest)
            if coeff in (1, -1) and newest not in (diff - coeff * newest).free_symbols:
                self.replacements[newest] = sympy.expand(-(diff - coeff * newest) / coeff)
                value = self.replacements[newest]
                if value.is_Integer:
                    self.ranges[newest] = (int(value), int(value))
            return
        if len(free) != 1:
            return
        s = free[0]
        coeff = diff.coeff(s)
        rest = diff - coeff * s
        if coeff not in (1, -1) or not rest.is_Number:
            return
        # rel is  coeff*s + rest  (op)  0
        lo, hi = self.ranges[s]
        bound = -rest * coeff  # s (op') bound
        op = type(rel)
        if coeff == -1:
            op = {
                sympy.Lt: sympy.Gt,
                sympy.Le: sympy.Ge,
                sympy.Gt: sympy.Lt,
                sympy.Ge: sympy.Le,
            }.get(op, op)
        if op is sympy.Ge:
            lo = max(lo, int(bound))
        elif op is sympy.Gt:
            lo = max(lo, int(bound) + 1)
        elif op is sympy.Le:
            hi = min(hi, int(bound))
        elif op is sympy.Lt:
            hi = min(hi, int(bound) - 1)
        self.ranges[s] = (lo, hi)

    def freeze(self) -> None:
        """Tracing is over: questions after this never add guards. A guard ``s != edge of its
        range`` shrinks the range (``s <= 8`` and ``s != 8``: ``s <= 7``), and the guards the
        ranges do not already say are kept (Note [symbolic shapes]: simplified once)."""
        self.frozen = True
        for g in self.guards:
            if isinstance(g, sympy.Ne) and g.lhs.is_Symbol and g.rhs.is_Integer:
                lo, hi = self.ranges[g.lhs]
                v = int(g.rhs)
                self.ranges[g.lhs] = (lo + 1 if v == lo else lo, hi - 1 if v == hi else hi)
        self._essential = self._unimplied()

    # -- the call-time check -----------------------------------------------------------------
    def guard_source(self) -> str:
        """The guards as one Python expression over the symbols' names (for ``explain`` and the
        call-time check)."""
        parts = [f"{s} >= 2" for s in self.symbols if s not in self.replacements]
        parts += [f"{s} == {to_python(r)}" for s, r in self.replacements.items()]
        for s in self.symbols:
            lo, hi = self.ranges[s]
            if s not in self.replacements and lo > 2:
                parts.append(f"{s} >= {int(lo)}")
            if s not in self.replacements and hi != INF:
                parts.append(f"{s} <= {int(hi)}")
        parts += [to_python(g) for g in self.essential_guards()]
        return " and ".join(parts) or "True"

    def essential_guards(self) -> list[Any]:
        """The guards not already said by the symbols' ranges and replacements (worked out
        once, when the trace is frozen)."""
        return self._essential if self.frozen else self._unimplied()

    def _unimplied(self) -> list[Any]:
        out = []
        for g in self.guards:
            if _is_replacement(g, self) or self.simplify(g) in (sympy.true, sympy.false):
                continue
            diff = sympy.expand(g.lhs - g.rhs)
            free = diff.free_symbols
            if len(free) == 1 and _decide_range(type(g), *self.bounds(diff)) is True:
                continue  # the range of its one symbol implies it
            out.append(g)
        return out

    def guard_function(self, text: str | None = None) -> Callable[..., bool]:
        """``check(s0, s1, ...)``: whether sizes satisfy every guard (``text``: the guard
        source, when made already); plain Python."""
        names = ", ".join(str(s) for s in self.symbols)
        source = f"def check({names}):\n    return {text or self.guard_source()}\n"
        scope: dict[str, Any] = {}
        exec(compile(source, "<adjit guards>", "exec"), scope)  # noqa: S102 - our own printer
        return scope["check"]  # type: ignore[no-any-return]

    def describe(self) -> list[str]:
        """Readable lines: each symbol, where it came from, its range; then the guards."""
        lines = []
        for s in self.symbols:
            lo, hi = self.ranges[s]
            if s in self.replacements:
                lines.append(f"{s} = {self.replacements[s]}  ({self.sources[s]})")
            else:
                upper = "" if hi == INF else f" <= {int(hi)}"
                where, at = self.sources[s], self.hints[s]
                lines.append(f"{s}: {where}, {int(lo)} <= {s}{upper}, traced at {at}")
        lines += [f"guard: {to_python(g)}" for g in self.essential_guards()]
        return lines


def _is_replacement(g: Any, env: ShapeEnv) -> bool:
    return isinstance(g, sympy.Eq) and any(
        sympy.expand(g.lhs - g.rhs - (s - r)) == 0 or sympy.expand(g.lhs - g.rhs + (s - r)) == 0
        for s, r in env.replacements.items()
    )


_NEGATE = {sympy.Eq: sympy.Ne, sympy.Ne: sympy.Eq, sympy.Lt: sympy.Ge, sympy.Ge: sympy.Lt}
_NEGATE |= {sympy.Le: sympy.Gt, sympy.Gt: sympy.Le}


_FLIP = {sympy.Lt: sympy.Gt, sympy.Le: sympy.Ge, sympy.Gt: sympy.Lt, sympy.Ge: sympy.Le}


def _canonical(rel: Any) -> Any:
    """``op(terms with symbols, constant)``: one spelling per relation, so guards compare."""
    if rel in (sympy.true, sympy.false):
        return rel
    diff = sympy.expand(rel.lhs - rel.rhs)
    const = diff.as_coeff_Add()[0]
    return rel.func(diff - const, -const)


def _negate(rel: Any) -> Any:
    return _NEGATE[type(rel)](rel.lhs, rel.rhs)


def _decide_range(op: type, lo: float, hi: float) -> bool | None:
    """Whether ``x (op) 0`` for every x in [lo, hi]: True, False, or None (it depends)."""
    if op is sympy.Eq:
        return False if lo > 0 or hi < 0 else (True if lo == hi == 0 else None)
    if op is sympy.Ne:
        r = _decide_range(sympy.Eq, lo, hi)
        return None if r is None else not r
    tests = {
        sympy.Lt: (hi < 0, lo >= 0),
        sympy.Le: (hi <= 0, lo > 0),
        sympy.Gt: (lo > 0, hi <= 0),
        sympy.Ge: (lo >= 0, hi < 0),
    }
    yes, no = tests[op]
    return True if yes else (False if no else None)


def _bounds(e: Any, ranges: dict[sympy.Symbol, Bounds]) -> Bounds:
    """Interval arithmetic over the expressions sizes are made of."""
    if e.is_Number:
        v = float(e)
        return (v, v)
    if e.is_Symbol:
        return ranges.get(e, (-INF, INF))
    args = [_bounds(a, ranges) for a in e.args]
    if isinstance(e, sympy.Add):
        return (sum(a[0] for a in args), sum(a[1] for a in args))
    if isinstance(e, sympy.Mul):
        lo, hi = args[0]
        for a in args[1:]:
            lo, hi = _mul(lo, hi, *a)
        return (lo, hi)
    if isinstance(e, sympy.Pow) and e.exp.is_Integer:
        n = int(e.exp)
        lo, hi = args[0]
        if n >= 0 and lo >= 0:
            return (lo**n, hi**n)
        if n == -1 and lo > 0:
            return (1 / hi if hi != INF else 0.0, 1 / lo)
        return (-INF, INF)
    if isinstance(e, sympy.floor):
        return (math.floor(args[0][0]) if args[0][0] != -INF else -INF,
                math.floor(args[0][1]) if args[0][1] != INF else INF)  # fmt: skip
    if isinstance(e, sympy.ceiling):
        return (math.ceil(args[0][0]) if args[0][0] != -INF else -INF,
                math.ceil(args[0][1]) if args[0][1] != INF else INF)  # fmt: skip
    if isinstance(e, sympy.Mod):
        (alo, _), (blo, bhi) = args
        if blo > 0 and alo >= 0:
            return (0, bhi - 1)
        return (-INF, INF)
    if isinstance(e, sympy.Max):
        return (max(a[0] for a in args), max(a[1] for a in args))
    if isinstance(e, sympy.Min):
        return (min(a[0] for a in args), min(a[1] for a in args))
    return (-INF, INF)


def _mul(alo: float, ahi: float, blo: float, bhi: float) -> Bounds:
    products = []
    for x in (alo, ahi):
        for y in (blo, bhi):
            products.append(0.0 if x == 0 or y == 0 else x * y)
    return (min(products), max(products))


# -- printing and evaluating without sympy -------------------------------------------------------


class _PythonPrinter(sympy.printing.str.StrPrinter):  # type: ignore[misc,name-defined]
    """Integer arithmetic as Python source: floor(a/b) -> (a)//(b), Mod -> %, Max -> max."""

    def _print_floor(self, e: Any) -> str:
        n, d = e.args[0].as_numer_denom()
        return f"(({self._print(n)})//({self._print(d)}))"

    def _print_ceiling(self, e: Any) -> str:
        n, d = e.args[0].as_numer_denom()
        return f"(-((-({self._print(n)}))//({self._print(d)})))"

    def _print_Mod(self, e: Any) -> str:
        return f"(({self._print(e.args[0])}) % ({self._print(e.args[1])}))"

    def _print_Max(self, e: Any) -> str:
        return f"max({', '.join(self._print(a) for a in e.args)})"

    def _print_Min(self, e: Any) -> str:
        return f"min({', '.join(self._print(a) for a in e.args)})"

    def _print_Relational(self, e: Any) -> str:
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[e.rel_op]
        return f"({self._print(e.lhs)} {op} {self._print(e.rhs)})"

    def _print_Rational(self, e: Any) -> str:  # only as a factor: floor printing handles /
        return f"({e.p}/{e.q})"

    def _print_Mul(self, e: Any) -> str:
        coeff, rest = e.as_coeff_Mul()
        if coeff.is_Rational and not coeff.is_Integer:  # an exact division (a guard says so)
            return f"(({coeff.p} * {self._print(rest)}) // {coeff.q})"
        return str(super()._print_Mul(e))

    def _print_Add(self, e: Any, order: Any = None) -> str:
        terms = [self._print(a) for a in e.as_ordered_terms()]
        return "(" + " + ".join(terms) + ")"


def to_python(e: Any) -> str:
    return str(_PythonPrinter().doprint(e))


_EVALUATORS: dict[Any, Callable[..., int]] = {}


def evaluate(expr: Any, values: dict[Any, int]) -> int:
    """An expression's value for concrete symbol values (a cached plain-Python function)."""
    if isinstance(expr, int):
        return expr
    e = expr.expr if isinstance(expr, SymInt) else expr
    if isinstance(expr, SymInt):
        e = expr.env.simplify(e)
    if e.is_Integer:
        return int(e)
    fn = _EVALUATORS.get(e)
    if fn is None:
        names = sorted(e.free_symbols, key=str)
        src = f"lambda {', '.join(map(str, names))}: {to_python(e)}"
        code = eval(src)  # noqa: S307 - our own printer's output
        fn = _EVALUATORS[e] = lambda vals, _c=code, _n=names: _c(*(vals[n] for n in _n))
    return int(fn(values))


def concrete_shape(shape: Sequence[Any], values: dict[Any, int]) -> tuple[int, ...]:
    return tuple(n if isinstance(n, int) else evaluate(n, values) for n in shape)


def concrete_value(x: Any, values: dict[Any, int]) -> Any:
    """``x`` (an attribute: a size, a tuple or list of them, anything else) with every
    symbolic size replaced by its value."""
    if isinstance(x, SymInt):
        return evaluate(x, values)
    if isinstance(x, SymFloat):
        return x.evaluate(values)
    if isinstance(x, tuple) and any(_has_sym(v) for v in x):
        return tuple(concrete_value(v, values) for v in x)
    if isinstance(x, list) and any(_has_sym(v) for v in x):
        return [concrete_value(v, values) for v in x]
    return x


def _has_sym(x: Any) -> bool:
    if isinstance(x, SymbolicSize):
        return True
    if isinstance(x, tuple | list):
        return any(_has_sym(v) for v in x)
    return False
