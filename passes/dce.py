"""Dead code elimination: drop equations and consts whose values reach no graph output."""

from __future__ import annotations

from ..ir.graph import Graph, Var
from ..ir.ops import GroupOp


def dce(graph: Graph) -> Graph:
    """``graph`` without the equations and consts no output depends on (inputs all stay: the
    signature is fixed). Every op but the effects is pure, so an unused result is never needed;
    an effect (a draw: Note [random numbers in compiled code]) always stays."""
    live: set[Var] = {o for o in graph.outputs if isinstance(o, Var)}
    kept = []
    for e in reversed(graph.eqns):
        if e.out in live or e.op in GroupOp.EFFECTS:
            kept.append(e)
            live.update(a for a in e.inputs if isinstance(a, Var))
    consts = tuple((v, arr) for v, arr in graph.consts if v in live)
    if len(kept) == len(graph.eqns) and len(consts) == len(graph.consts):
        return graph
    return graph.replace(eqns=tuple(reversed(kept)), consts=consts)
