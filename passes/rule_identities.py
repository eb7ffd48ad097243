"""Drop the CUSTOM_VJP identities of internal derivative rules once the adjoint is built."""

from __future__ import annotations

from dataclasses import replace

from ..ir.graph import Atom, Graph, Var
from ..ir.ops import Op

# Note [rule identities after the adjoint]
# ``with_rule`` (runtime/dispatch.py) passes a value computed by ordinary equations through a
# CUSTOM_VJP identity that carries PyTorch's derivative formula (softmax's reads its output
# only: Note [softmax's gradient] in runtime/ops_reduce.py). Once the adjoint has used the rule,
# the identity is only in the way: it runs as an extern step, splitting the forward's row kernel
# from its consumers. A rule that says ``decomposed = True`` (its value is its inputs[0], made of
# plain equations the passes may see through) is replaced by that input here, first in the
# pipeline, which only ever runs on graphs already differentiated. Users' autograd.Functions
# and hooks keep their equation.


def is_decomposed(rule: object) -> bool:
    """Whether a CUSTOM_VJP rule lets passes see through it to its value's equations."""
    return getattr(rule, "decomposed", False) is True


def drop_rule_identities(graph: Graph) -> Graph:
    """``graph`` with every ``decomposed`` CUSTOM_VJP replaced by its value (input 0)."""
    subst: dict[Var, Atom] = {}

    def read(a: Atom) -> Atom:
        return subst.get(a, a) if isinstance(a, Var) else a

    eqns = []
    for e in graph.eqns:
        if e.op is Op.CUSTOM_VJP and is_decomposed(e.attrs.get("rule")):
            subst[e.out] = read(e.inputs[0])
            continue
        inputs = tuple(read(a) for a in e.inputs)
        eqns.append(e if inputs == e.inputs else replace(e, inputs=inputs))
    if not subst:
        return graph
    outputs = tuple(read(o) for o in graph.outputs)
    return graph.replace(eqns=tuple(eqns), outputs=outputs)
