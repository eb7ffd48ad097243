"""The batching pass's builder: tracer tensors whose operations append to a new graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..ir.aval import Aval
from ..ir.batching import Dim
from ..ir.graph import Graph
from ..passes.batching import batch
from ..runtime.grad_mode import enable_grad
from .builder import TraceBuilder
from .tracer import tracing


class BatchTraceBuilder(TraceBuilder):
    """Implements passes.batching.BatchBuilder with a fresh Trace."""

    def batched(
        self,
        graph: Graph,
        in_dims: Sequence[Dim],
        size: int,
        randomness: str,
        expand: Sequence[bool] = (),
    ) -> tuple[Graph, list[Dim]]:
        return batched_graph(graph, in_dims, size, randomness, expand)

    def batched_rule(self, rule: Any, in_dims: tuple[Any, ...], size: int) -> Any:
        from .vmap import VmappedRule

        return VmappedRule(rule, in_dims, size)

    def subgraph(self, fn: Callable[[Any, list[Any]], list[Any]], avals: Sequence[Aval]) -> Graph:
        builder = BatchTraceBuilder()
        with tracing(builder.trace), enable_grad():
            ins = [builder.input(a, False) for a in avals]
            return builder.finish(fn(builder, ins))


def batched_graph(
    g: Graph,
    in_dims: Sequence[Dim],
    size: int,
    randomness: str = "error",
    expand: Sequence[bool] = (),
) -> tuple[Graph, list[Dim]]:
    """``g`` batched over ``size`` examples (passes/batching.py), built in a fresh trace."""
    builder = BatchTraceBuilder()
    with tracing(builder.trace), enable_grad():
        return batch(g, in_dims, size, builder, randomness, expand)
