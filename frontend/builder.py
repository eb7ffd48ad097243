"""The adjoint pass's builder: tracer tensors whose operations append to a new graph."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..ir.aval import Aval
from ..ir.graph import Eqn, Graph
from ..ir.sizes import has_symbols
from ..passes.adjoint import Joint, Region, adjoint
from ..runtime import creation, functional
from ..runtime.dispatch import as_tensor_operand
from ..runtime.grad_mode import enable_grad
from ..runtime.tensor import Tensor
from . import control_trace
from .replay import run_eqn
from .tracer import Trace, tracing


class TraceBuilder:
    """Implements passes.adjoint.Builder with a fresh Trace."""

    def __init__(self) -> None:
        self.trace = Trace()
        self.trace.fixed_loc = True  # locations come from the forward equations, via at()

    def at(self, eqn: Eqn | None) -> None:
        self.trace.loc = eqn.loc if eqn is not None else None
        self.trace.remat = eqn.remat if eqn is not None else 0

    def input(self, aval: Aval, requires_grad: bool) -> Any:
        return self.trace.new_input(Aval(aval.shape, aval.dtype), requires_grad)

    def const(self, value: Any) -> Any:
        return Tensor._make(np.asarray(value))

    def literal(self, value: bool | int | float) -> Any:
        return as_tensor_operand(value)  # a weak scalar, as in eager mode

    def zeros(self, aval: Aval) -> Any:
        if has_symbols(aval.shape):  # traced: a constant expanded (Note [symbolic shapes])
            return creation.zeros(aval.shape, dtype=aval.dtype)
        return Tensor._make(np.zeros(aval.shape, aval.dtype.np))

    def run(self, eqn: Eqn, args: list[Any]) -> Any:
        return run_eqn(eqn, args)  # (the adjoint runs under enable_grad)

    def finish(self, outputs: list[Any]) -> Graph:
        return self.trace.graph(outputs)

    def joint(self, graph: Graph, wrt: Sequence[int]) -> Joint:
        return joint_graph(graph, wrt)  # a loop's body (Note [the adjoint of a scan])

    call = staticmethod(control_trace.call)  # a new equation (a loop's adjoint)


class SymbolicHost:
    """passes.sympy_bridge.Host: what the symbolic passes lower into, from this layer."""

    ops = functional

    @staticmethod
    @contextmanager
    def scratch() -> Iterator[TraceBuilder]:
        builder = TraceBuilder()
        with tracing(builder.trace):
            yield builder


SYMBOLIC_HOST = SymbolicHost()


def joint_graph(fwd: Graph, wrt: Sequence[int], regions: Sequence[Region] = ()) -> Joint:
    """The adjoint of ``fwd`` with respect to inputs ``wrt``, as one joint graph."""
    builder = TraceBuilder()
    with tracing(builder.trace), enable_grad():
        return adjoint(fwd, wrt, builder, regions)
