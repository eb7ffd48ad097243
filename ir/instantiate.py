"""A symbolic graph at concrete sizes: every symbolic size replaced by its value (one var map)."""

from __future__ import annotations

from typing import Any

from .aval import Aval
from .graph import Atom, Eqn, Graph, Lit, Var
from .sizes import SymbolicSize, has_symbols


class Instantiator:
    """Maps a symbolic program's values to concrete ones; one instance per set of sizes, shared
    by every graph of a plan (a split forward's residuals are the backward's inputs)."""

    def __init__(self, values: dict[Any, int]) -> None:
        from .symbolic_shapes import concrete_shape, concrete_value

        self.values = values
        self._shape, self._value = concrete_shape, concrete_value
        self.vars: dict[Var, Var] = {}
        self.graphs: dict[int, Graph] = {}  # id(symbolic graph) -> its instance
        self.sources: dict[int, Graph] = {}  # id(instance graph) -> the symbolic graph

    def aval(self, a: Aval) -> Aval:
        if not has_symbols(a.shape):
            return a
        return Aval(self._shape(a.shape, self.values), a.dtype, a.weak)

    def var(self, v: Var) -> Var:
        new = self.vars.get(v)
        if new is None:
            aval = self.aval(v.aval)
            new = self.vars[v] = v if aval is v.aval else Var(aval, v.hint)
        return new

    def atom(self, a: Atom) -> Atom:
        if isinstance(a, Lit):
            if isinstance(a.value, SymbolicSize):
                return Lit(self._value(a.value, self.values), a.aval)
            return a
        return self.var(a)

    def attr(self, x: Any) -> Any:
        if isinstance(x, Graph):
            return self.graph(x)
        return self._value(x, self.values)

    def eqn(self, e: Eqn) -> Eqn:
        inputs = tuple(self.atom(a) for a in e.inputs)
        attrs = {k: self.attr(v) for k, v in e.attrs.items()}
        out = self.var(e.out)
        same = all(a is b for a, b in zip(inputs, e.inputs, strict=True))
        if out is e.out and same and all(attrs[k] is e.attrs[k] for k in attrs):
            return e
        return Eqn(e.op, inputs, attrs, out, e.loc, e.no_grad)

    def graph(self, g: Graph) -> Graph:
        done = self.graphs.get(id(g))
        if done is None:
            done = self.graphs[id(g)] = Graph(
                tuple(self.var(v) for v in g.inputs),
                tuple(self.eqn(e) for e in g.eqns),
                tuple(self.atom(a) for a in g.outputs),
                tuple((self.var(v), a) for v, a in g.consts),
            )
            self.sources[id(done)] = g
        return done


def is_symbolic_graph(g: Graph) -> bool:
    """Whether any value of ``g`` has a symbolic size."""
    return any(has_symbols(v.aval.shape) for v in g.inputs) or any(
        has_symbols(e.out.aval.shape) for e in g.eqns
    )
