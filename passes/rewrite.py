"""The pattern engine: match rules of ``Pat -> replacement`` on equations, run to a fixed point.

A pattern describes an equation by its op and its operands' patterns, recursively (an operand
pattern with an op matches a Var defined by such an equation), or an operand leaf: any atom
(``Pat(name="x")``) or a constant whose value satisfies a test (``const(test)``). Constants are
Lits and graph consts, tested after the conversion the consuming op applies to that operand
(``ir.shapes.operand_dtypes``), so the test sees exactly the numbers the op computes with.
Commutative ops match their two operands in either order.

A replacement is a function of the ``Match``: it returns an existing atom (the equation's value
is that atom), a ``Term`` (the equation is rebuilt, keeping its output Var, loc and no_grad),
or None (the rule does not apply). The engine applies a replacement only when its Aval equals
the equation's declared Aval exactly, so no rule can change a shape, a dtype or broadcasting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..ir.aval import Aval
from ..ir.errors import ShapeError
from ..ir.graph import Atom, Eqn, Graph, Lit, Var
from ..ir.ops import Op
from ..ir.shapes import infer, operand_dtypes
from ..ir.sizes import SymbolicSize, key_repr

# ops whose two operands can be swapped without changing any bit of the result (NaN payloads
# aside); MAXIMUM/MINIMUM are left out: which zero max(-0.0, 0.0) returns depends on the order
COMMUTATIVE = frozenset({Op.ADD, Op.MUL, Op.AND, Op.OR, Op.EQ, Op.NE})
MAX_STEPS = 100  # rewrites of one equation before the engine reports a rule cycle
MAX_SWEEPS = 20


@dataclass(frozen=True)
class Pat:
    """An equation with ``op`` over ``args`` patterns, or (no op) a leaf: any atom, or a
    constant passing ``const``. ``name`` binds the matched atom."""

    op: Op | None = None
    args: tuple[Pat, ...] = ()
    name: str | None = None
    const: Callable[[np.ndarray], bool] | None = None


def P(op: Op, *args: Pat, name: str | None = None) -> Pat:  # noqa: N802 (reads like a node)
    return Pat(op, tuple(args), name)


def const(test: Callable[[np.ndarray], bool], name: str | None = None) -> Pat:
    return Pat(name=name, const=test)


@dataclass(frozen=True)
class Term:
    """A new equation to build: ``op[attrs](args)``; args may be Terms themselves."""

    op: Op
    args: tuple[Atom | Term, ...]
    attrs: dict[str, Any]


class Match:
    """What a rule's replacement sees: bound atoms as attributes, the root equation."""

    def __init__(self, eqn: Eqn, binds: dict[str, Atom], ctx: _Context) -> None:
        self.eqn, self.out, self.attrs, self._ctx = eqn, eqn.out, eqn.attrs, ctx
        self.__dict__.update(binds)

    def defining(self, v: Atom) -> Eqn:
        """The equation that defines ``v`` (bound by a pattern with an op)."""
        assert isinstance(v, Var)
        return self._ctx.defs[v]

    def __getattr__(self, name: str) -> Any:  # only reached for names the pattern did not bind
        raise AttributeError(f"the pattern binds no {name!r}")


Replacement = Callable[[Match], "Atom | Term | None"]
Rule = tuple[Pat, Replacement]


class _Context:
    """The graph as rewritten so far: which equation defines a Var, which Vars are consts."""

    def __init__(self, graph: Graph) -> None:
        self.defs: dict[Var, Eqn] = {}
        self.consts: dict[Var, np.ndarray] = dict(graph.consts)

    def value(self, a: Atom) -> np.ndarray | None:
        if isinstance(a, Lit):
            return np.asarray(a.value, a.aval.dtype.np)
        return self.consts.get(a)


def _same_atom(a: Atom, b: Atom) -> bool:
    if isinstance(a, Var) or isinstance(b, Var):
        return a is b
    return (type(a.value), key_repr(a.value), a.aval) == (type(b.value), key_repr(b.value), b.aval)


def _match_operand(p: Pat, e: Eqn, i: int, ctx: _Context, binds: dict[str, Atom]) -> bool:
    """Whether operand ``i`` of ``e`` matches ``p`` (binding names into ``binds``)."""
    a = e.inputs[i]
    if p.name is not None:
        if p.name in binds and not _same_atom(binds[p.name], a):
            return False
        binds[p.name] = a
    if p.const is not None:
        # a Python-number literal is tested by its exact value, converted to the dtype the op
        # computes in below (its aval's dtype is only its weak default: 1.0000000367 is 1.0 in
        # float32, and x * 1.0000000367 in float64 must not become x)
        if isinstance(a, Lit) and isinstance(a.value, SymbolicSize):
            return False  # a size: not a constant
        v = np.asarray(a.value) if isinstance(a, Lit) else ctx.value(a)
        if v is None:
            return False
        dtype = operand_dtypes(e.op, [x.aval for x in e.inputs], e.out.aval)[i]
        with np.errstate(all="ignore"):
            return bool(p.const(v if dtype is None else v.astype(dtype.np)))
    if p.op is not None:
        d = ctx.defs.get(a) if isinstance(a, Var) else None
        return d is not None and _match_eqn(p, d, ctx, binds)
    return True


_SWAPS = ((0, 1), (1, 0))


def _match_eqn(p: Pat, e: Eqn, ctx: _Context, binds: dict[str, Atom]) -> bool:
    """Whether ``e`` matches ``p``; on success ``binds`` has the pattern's names. On failure it
    may hold some of them: the caller drops it (a rule's match starts from a fresh dict)."""
    if e.op is not p.op or len(e.inputs) != len(p.args):
        return False
    if e.op not in COMMUTATIVE:
        return all(_match_operand(q, e, i, ctx, binds) for i, q in enumerate(p.args))
    for order in _SWAPS:
        trial = dict(binds)
        if all(_match_operand(q, e, i, ctx, trial) for q, i in zip(p.args, order, strict=True)):
            binds.update(trial)
            return True
    return False


def _build(t: Term, root: Eqn, emitted: list[Eqn]) -> Eqn | None:
    """The equation for ``t`` (its inner Terms appended to ``emitted``), or None when a shape
    rule refuses it."""
    inputs: list[Atom] = []
    for a in t.args:
        if isinstance(a, Term):
            inner = _build(a, root, emitted)
            if inner is None:
                return None
            emitted.append(inner)
            inputs.append(inner.out)
        else:
            inputs.append(a)
    try:
        aval = infer(t.op, [a.aval for a in inputs], t.attrs)
    except (ShapeError, RuntimeError, IndexError, TypeError):
        return None
    out = Var(Aval(aval.shape, aval.dtype))
    return Eqn(t.op, tuple(inputs), dict(t.attrs), out, root.loc, root.no_grad, root.remat)


def _apply(e: Eqn, rules: Sequence[Rule], ctx: _Context) -> tuple[Atom | Eqn, list[Eqn]] | None:
    """The first rule that rewrites ``e`` exactly: (new atom or equation, equations it needs)."""
    want = (e.out.aval.shape, e.out.aval.dtype)
    for pat, repl in rules:
        binds: dict[str, Atom] = {}
        if not _match_eqn(pat, e, ctx, binds):
            continue
        r = repl(Match(e, binds, ctx))
        if r is None:
            continue
        if not isinstance(r, Term):
            if r.aval == e.out.aval:  # exactly: a weak Lit never stands in for a tensor
                return r, []
            continue
        emitted: list[Eqn] = []
        new = _build(r, e, emitted)
        if new is not None and (new.out.aval.shape, new.out.aval.dtype) == want:
            return replace(new, out=e.out), emitted
    return None


def _sweep(graph: Graph, index: dict[Op, list[Rule]]) -> tuple[Graph | None, bool]:
    """One forward pass; every equation is rewritten until no rule fires. Returns the new
    graph (None: no change) and whether it is a fixed point already (Note [one sweep])."""
    ctx = _Context(graph)
    subst: dict[Var, Atom] = {}

    def read(a: Atom) -> Atom:
        return subst.get(a, a) if isinstance(a, Var) else a

    eqns: list[Eqn] = []
    changed = emitted = False
    for e in graph.eqns:
        inputs = tuple(read(a) for a in e.inputs)
        cur: Eqn | None = e if inputs == e.inputs else replace(e, inputs=inputs)
        for _ in range(MAX_STEPS):
            r = _apply(cur, index.get(cur.op, ()), ctx) if cur is not None else None
            if r is None:
                break
            changed = True
            new, needed = r
            emitted = emitted or bool(needed)
            for n in needed:
                ctx.defs[n.out] = n
            eqns.extend(needed)
            if isinstance(new, Eqn):
                cur = new
            else:
                subst[e.out], cur = new, None
        else:
            raise RuntimeError(f"rewrite rules cycle on {e.op.name.lower()} (see passes/rewrite)")
        if cur is not None:
            changed = changed or cur is not e
            ctx.defs[cur.out] = cur
            eqns.append(cur)
    if not changed:
        return None, True
    new_graph = graph.replace(eqns=tuple(eqns), outputs=tuple(read(o) for o in graph.outputs))
    return new_graph, not emitted


# Note [one sweep]
# A pattern looks at an equation and, through its operands, at the equations defining them:
# never at later ones. A sweep visits equations in order and rewrites each until no rule fires,
# reading operands as already rewritten, so every equation it keeps is final: sweeping the
# result again would change nothing. The exception is the inner equations a replacement's
# nested Terms emit, which are added as built, not rewritten: only a sweep that emitted some
# needs another. (This halves the pass: the confirming sweep was half its time.)


def rewrite(graph: Graph, rules: Sequence[Rule]) -> Graph:
    """``graph`` with ``rules`` applied until none fires (the input graph is not changed)."""
    index: dict[Op, list[Rule]] = {}
    for rule in rules:
        assert rule[0].op is not None, "a rule's pattern must name the root op"
        index.setdefault(rule[0].op, []).append(rule)
    for _ in range(MAX_SWEEPS):
        new, settled = _sweep(graph, index)
        if new is None:
            return graph
        if settled:
            return new
        graph = new
    raise RuntimeError("rewrite rules did not reach a fixed point (see passes/rewrite)")
