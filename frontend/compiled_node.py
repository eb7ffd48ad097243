"""The grad_fn of a compiled call's outputs: runs the compiled backward graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..runtime.autograd import FREED_MSG, Node, SavedTensor, node_class
from ..runtime.tensor import Tensor
from .plans import TrainPlan
from .replay import replay


class CompiledFunctionBackward(Node):
    """Backward of a compiled forward: one node for all of its differentiable outputs."""

    def __init__(
        self,
        plan: TrainPlan,
        inputs: Sequence[Tensor],
        residuals: list[np.ndarray],
        edges: tuple[tuple[Node | None, int], ...],
        run_backward: Callable[[list[np.ndarray]], list[np.ndarray]],
    ) -> None:
        super().__init__()
        self._run_backward = run_backward
        self._edges = edges
        self.num_outputs = len(plan.joint.cotangent_of)
        self._plan = plan
        # the inputs the backward reads are saved with their versions (modifying one in place
        # before backward is an error, as in eager mode); the others only for create_graph
        read = plan.split.saved_inputs
        self._inputs = [
            SavedTensor(t, False) if i in read else _Plain(t) for i, t in enumerate(inputs)
        ]
        self._residuals: list[np.ndarray] | None = residuals

    def apply(self, grads: Any, create_graph: bool) -> list[Tensor | None]:
        if self._residuals is None:
            raise RuntimeError(FREED_MSG)
        grads = grads if isinstance(grads, list) else [grads]
        inputs = [s.unpack(self) for s in self._inputs]
        cts = [
            Tensor._make(np.zeros(shape, dtype)) if ct is None else ct
            for (shape, dtype), ct in zip(_cotangent_avals(self._plan), grads, strict=True)
        ]
        if create_graph:  # differentiable: the joint graph, eagerly, on the real inputs
            out = replay(self._plan.joint.graph, [*inputs, *cts])
            return list(out[self._plan.joint.n_outputs :])
        arrays = self._residuals + [inputs[i]._data for i in self._plan.split.saved_inputs]
        arrays += [ct._data for ct in cts]
        make = Tensor._make
        return [make(a) for a in self._run_backward(arrays)]

    def release(self) -> None:
        self._residuals = None


def _cotangent_avals(plan: TrainPlan) -> list[tuple[tuple[int, ...], type]]:
    """(shape, NumPy type) of each cotangent input of the joint graph (cached on the plan)."""
    cached = plan.__dict__.get("_cotangent_avals")
    if cached is None:
        g = plan.joint.graph
        n = len(plan.joint.cotangent_of)
        cached = [(v.aval.shape, v.aval.dtype.np) for v in g.inputs[len(g.inputs) - n :]]
        plan.__dict__["_cotangent_avals"] = cached
    return cached


class _Plain:
    """An input kept for ``create_graph`` only: the fast backward never reads it."""

    __slots__ = ("t",)

    def __init__(self, t: Tensor) -> None:
        self.t = t

    def unpack(self, node: Node) -> Tensor:
        return self.t


def make_node(
    plan: TrainPlan,
    inputs: Sequence[Tensor],
    residuals: list[np.ndarray],
    edges: tuple[tuple[Node | None, int], ...],
    run_backward: Callable[[list[np.ndarray]], list[np.ndarray]],
) -> CompiledFunctionBackward:
    return _NODE(plan, inputs, residuals, edges, run_backward)


_NODE = node_class("CompiledFunctionBackward", CompiledFunctionBackward)
