"""The JVP pass's builder: tracer tensors whose operations append to a new graph."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from ..ir.aval import Aval
from ..ir.graph import Eqn, Graph
from ..ir.ops import Op
from ..ir.sizes import has_symbols
from ..passes.jvp import jvp
from ..runtime import creation
from ..runtime.backward import grad
from ..runtime.grad_mode import enable_grad, no_grad
from ..runtime.tensor import Tensor
from . import control_trace
from .replay import run_eqn
from .tracer import Trace, tracing


class JvpTraceBuilder:
    """Implements passes.jvp.JvpBuilder with a fresh Trace."""

    def __init__(self) -> None:
        self.trace = Trace()
        self.trace.fixed_loc = True  # locations come from the primal equations, via at()

    def at(self, eqn: Eqn | None) -> None:
        self.trace.loc = eqn.loc if eqn is not None else None

    def input(self, aval: Aval) -> Any:
        return self.trace.new_input(Aval(aval.shape, aval.dtype), False)

    def const(self, value: Any) -> Any:
        return Tensor._make(np.asarray(value))

    def zeros(self, aval: Aval) -> Any:
        if has_symbols(aval.shape):  # traced: a constant expanded (Note [symbolic shapes])
            return creation.zeros(aval.shape, dtype=aval.dtype)
        return Tensor._make(np.zeros(aval.shape, aval.dtype.np))

    def run(self, eqn: Eqn, args: list[Any]) -> Any:
        return run_eqn(eqn, args)

    def call(self, op: Op, args: list[Any], attrs: dict[str, Any]) -> Any:
        return control_trace.call(op, args, attrs)

    def grad(self, outputs: Any, inputs: Any, grad_outputs: Any, **kw: Any) -> tuple[Any, ...]:
        return grad(outputs, inputs, grad_outputs, **kw)

    def leaf(self, like: Any) -> Any:
        one = Tensor._make(np.ones((), like.dtype.np))
        g = self.trace.emit(Op.EXPAND, [one], {"shape": tuple(like.shape)}, None)
        self.trace.mark_differentiated(g)
        return g

    def recording(self) -> AbstractContextManager[Any]:
        return enable_grad()

    def quiet(self) -> AbstractContextManager[Any]:
        return no_grad()

    def finish(self, outputs: list[Any]) -> Graph:
        return self.trace.graph(outputs)

    def jvp(
        self, graph: Graph, active: Sequence[int], force: Sequence[bool] | None
    ) -> tuple[Graph, tuple[bool, ...]]:
        return jvp_graph(graph, active, force)  # a loop's or branch's body


def jvp_graph(
    g: Graph, active: Sequence[int], force: Sequence[bool] | None = None
) -> tuple[Graph, tuple[bool, ...]]:
    """``g`` and its JVP with respect to inputs ``active`` (passes/jvp.py's layout)."""
    builder = JvpTraceBuilder()
    with tracing(builder.trace), enable_grad():
        return jvp(g, active, builder, force)
