"""Outputs of a compiled call computed from leaves it made itself: they require grad, as eagerly."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ..ir.graph import Graph, Var
from ..ir.ops import Op
from ..runtime.autograd import Node
from ..runtime.tensor import Tensor
from ..runtime.trace_state import TracingError
from .consumed_graph import ConsumedGraphBackward

# Note [leaves made inside a compiled function]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# A leaf that requires grad made inside the function (``nn.Linear(4, 3)`` called there: Note
# [modules made while tracing] in runtime/ops_random.py; ``torch.randn(3, requires_grad=True)``)
# is a value computed in the graph, not an input. Eagerly, every output computed from it (under
# grad mode, not through detach) requires grad and has a grad_fn, even when no argument
# requires grad; a backward through it reaches that leaf's ``.grad``, which no one can read
# once the call returned (the leaf is local). So such an output gets, when the compiled
# backward (of the inputs) gives it no grad_fn, an InsideLeafBackward: it requires grad and a
# backward through it ends there, as the eager one ends at the unreachable leaf. A leaf that
# is itself returned is reachable: returned alone it comes back as a leaf that requires grad;
# returned together with an output computed from it, a backward through that output would have
# to reach it, so that is refused while tracing. A Python object returned (a module made
# inside) is kept as a constant of the trace: one holding traced tensors would be the same
# stale object at every call, so that is refused too (a statement-level split then runs that
# part eagerly: Note [statement-level breaks]).
ESCAPED = (
    "adjit.compile: a tensor made inside the compiled function with requires_grad=True (a leaf, "
    "e.g. a parameter of a module made there) is returned, or kept across a graph break, "
    "together with a value computed from it; a backward through that value would not reach "
    "it. Make the leaf (or module) outside the compiled function and pass it in"
)


HOLDS_TRACED = (
    "adjit.compile: the compiled function returns a {} that holds tensors computed inside it "
    "(a module made there?); a compiled call returns tensors and constant Python values only. "
    "Make the module outside the compiled function, or return its tensors"
)


def refuse_traced_objects(leaves: list[Any]) -> None:
    """Refuse a returned Python object (not a tensor) that holds traced tensors: an nn.Module
    (its parameters and buffers) or an object whose attributes are (see the Note)."""
    for o in leaves:
        if isinstance(o, Tensor) or not hasattr(o, "__dict__"):
            continue
        parts = [o.__dict__.values()]
        for m in o.modules() if callable(getattr(o, "modules", None)) else ():
            parts += [m._parameters.values(), m._buffers.values()]
        if any(getattr(t, "_is_tracer", False) for p in parts for t in p):
            raise TracingError(HOLDS_TRACED.format(type(o).__name__))


class InsideLeafBackward(Node):
    """The grad_fn of an output computed only from leaves made inside the call: a backward
    through it ends here (see the Note)."""

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        return []


def leaf_outputs(graph: Graph, leaves: Collection[Var]) -> tuple[list[int], list[int]]:
    """The outputs of ``graph`` computed (under grad mode, not through DETACH) from the made-
    inside leaves ``leaves``, and the outputs that are such a leaf; refused when both exist."""
    reached = set(leaves)
    for e in graph.eqns:
        if e.no_grad or e.op is Op.DETACH or e.out.aval.dtype.category < 2:
            continue
        if any(isinstance(a, Var) and a in reached for a in e.inputs):
            reached.add(e.out)
    outs = [o if isinstance(o, Var) else None for o in graph.outputs]
    computed = [k for k, o in enumerate(outs) if o in reached and o not in leaves]
    returned = [k for k, o in enumerate(outs) if o is not None and o in leaves]
    if computed and returned:
        raise TracingError(ESCAPED)
    return computed, returned


def mark(outs: list[Tensor], computed: list[int], returned: list[int], consumed: bool) -> None:
    """Outputs computed from leaves made inside require grad (see the Note); after a
    backward() inside the function, through a grad_fn that refuses (Note [outputs of a
    consumed graph])."""
    node: Node | None = None
    for k in computed:
        if outs[k]._grad_fn is None:
            node = node or (ConsumedGraphBackward() if consumed else InsideLeafBackward())
            outs[k]._grad_fn, outs[k]._output_nr = node, 0
    for k in returned:
        outs[k].requires_grad_(True)
