"""The grad_fn of outputs of a compiled function that ran backward() itself: a clear error on a
backward through them, never a gradient that quietly leaves out their part."""

from __future__ import annotations

from collections.abc import Sequence

from ..ir.graph import Graph, Var
from ..ir.ops import Op
from ..runtime.autograd import Node
from ..runtime.tensor import Tensor

# Note [outputs of a consumed graph]
# A compiled function that calls backward() itself (Entry.consumed) returns its outputs without
# a graph: the trace's gradients went into .grad, and no backward program is kept. Eagerly those
# outputs (the loss, most often) still have a grad_fn, and a backward through them either works
# (retain_graph=True, or a part the inner backward did not pass) or raises PyTorch's "second
# time" error. Compiled, they were plain tensors that did not require grad: added to anything
# that does, their part of a later gradient was silently left out. So the outputs that depend,
# through recorded floating-point values, on an input that requires grad get a
# ConsumedGraphBackward grad_fn: they require grad and print as eager's do, and a backward
# through them refuses in these words.
MESSAGE = (
    "adjit.compile: the compiled function called backward() itself, so its outputs carry no "
    "autograd graph and a backward through them is not supported (eagerly it would run only "
    "where the inner backward kept the graph with retain_graph=True or did not pass); call "
    "backward outside the compiled function, or return .detach()ed values"
)


class ConsumedGraphBackward(Node):
    """Refuses a backward through an output of a function that consumed its graph."""

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        raise RuntimeError(MESSAGE)


def graph_outputs(graph: Graph, wrt: Sequence[int]) -> list[int]:
    """The outputs of ``graph`` that depend on inputs ``wrt`` through recorded floating-point
    values (not under no_grad, not through DETACH): those eager would give a grad_fn."""
    reached = {graph.inputs[i] for i in wrt}
    for e in graph.eqns:
        if e.no_grad or e.op is Op.DETACH or e.out.aval.dtype.category < 2:
            continue
        if any(isinstance(a, Var) and a in reached for a in e.inputs):
            reached.add(e.out)
    return [k for k, o in enumerate(graph.outputs) if isinstance(o, Var) and o in reached]


def mark(outs: list[Tensor], graph: Graph, wrt: Sequence[int]) -> None:
    """Give the outputs eager would give a grad_fn a ConsumedGraphBackward."""
    hits = graph_outputs(graph, wrt)
    if hits:
        node = ConsumedGraphBackward()
        for k in hits:
            outs[k]._grad_fn, outs[k]._output_nr = node, 0
