"""The graph IR: typed SSA variables, equations (one op each) and immutable graphs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .aval import Aval
from .ops import Op


@dataclass(frozen=True, eq=False)
class Var:
    """An SSA value: defined once (graph input, constant or equation output), typed by its Aval."""

    aval: Aval
    hint: str = ""  # a name to print, when the tracer knows one (an argument's name)

    def __repr__(self) -> str:
        return f"Var({self.aval})"


@dataclass(frozen=True)
class Lit:
    """A Python scalar operand (a 'wrapped number': lowest type-promotion priority)."""

    value: bool | int | float
    aval: Aval

    def __repr__(self) -> str:
        return f"Lit({self.value!r})"


Atom = Var | Lit


@dataclass(frozen=True, eq=False)
class Eqn:
    """``out = op[attrs](inputs)``, with the user's source line and whether grad was off."""

    op: Op
    inputs: tuple[Atom, ...]
    attrs: dict[str, Any]
    out: Var
    loc: str | None = None
    no_grad: bool = False
    remat: int = 0  # checkpointed region (0: none): recomputed in backward, never saved


@dataclass(frozen=True, eq=False)
class Graph:
    """A whole program: inputs, constants, equations in order, outputs."""

    inputs: tuple[Var, ...]
    eqns: tuple[Eqn, ...]
    outputs: tuple[Atom, ...]
    consts: tuple[tuple[Var, np.ndarray], ...] = field(default=())

    def __str__(self) -> str:
        from .printer import print_graph

        return print_graph(self)

    def replace(self, **changes: Any) -> Graph:
        """A new graph with some fields changed (graphs are immutable)."""
        fields: dict[str, Any] = {
            "inputs": self.inputs,
            "eqns": self.eqns,
            "outputs": self.outputs,
            "consts": self.consts,
        }
        fields.update(changes)
        return Graph(**fields)


def use_counts(graph: Graph) -> Counter[Var]:
    """How many times each value is read: by an equation's inputs, or as a program output."""
    uses = Counter(a for e in graph.eqns for a in e.inputs if isinstance(a, Var))
    uses.update(o for o in graph.outputs if isinstance(o, Var))
    return uses


def readers(graph: Graph) -> dict[Var, list[Eqn]]:
    """The equations reading each value, in program order (once per operand: an equation
    reading a value twice is listed twice)."""
    found: dict[Var, list[Eqn]] = {}
    for e in graph.eqns:
        for a in e.inputs:
            if isinstance(a, Var):
                found.setdefault(a, []).append(e)
    return found


def op_count(graph: Graph) -> dict[str, int]:
    """How many equations of each op the graph has (for tests and reports)."""
    counts: dict[str, int] = {}
    for e in graph.eqns:
        counts[e.op.name.lower()] = counts.get(e.op.name.lower(), 0) + 1
    return counts
