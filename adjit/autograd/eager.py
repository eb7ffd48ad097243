"""A custom ``autograd.Function`` called eagerly: one grad_fn node for all of its outputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from adjit.runtime.autograd import PyNode, gradient_edge, node_class
from adjit.runtime.tensor import Tensor


class FunctionBackward(PyNode):
    """The grad_fn of a Function call with ``len(outputs)`` outputs (one slot each); a slot
    no cotangent reached gets zeros (PyTorch materializes them), a non-tensor output None."""

    def __init__(
        self,
        backward: Callable[..., Any],
        ctx: Any,
        edges: tuple,
        outputs: list[tuple[tuple[int, ...], Any] | None],
    ) -> None:
        super().__init__(backward, ctx, edges)
        self.num_outputs = len(outputs)
        self._outputs = outputs

    def apply(self, grad: Any, create_graph: bool) -> list[Tensor | None]:
        grads = grad if isinstance(grad, list) else [grad]
        full = [
            Tensor._make(np.zeros(*spec)) if g is None and spec is not None else g
            for g, spec in zip(grads, self._outputs, strict=True)
        ]
        out = self._backward(self._ctx, *full)
        out = out if isinstance(out, tuple) else (out,)
        return [g if e[0] is not None else None for g, e in zip(out, self._edges, strict=False)]


def attach(cls: type, ctx: Any, args: tuple[Any, ...], out: Any) -> Any:
    """``out`` (a tensor or a tuple) with its differentiable tensors made fresh outputs of
    one FunctionBackward node; a saved output unpacks as the output itself (with its
    grad_fn), as in PyTorch, so the backward is differentiable through it (create_graph)."""
    outs = out if isinstance(out, tuple) else (out,)
    diff = [
        isinstance(o, Tensor) and o.dtype.category >= 2 and id(o) not in ctx._non_differentiable
        for o in outs
    ]
    if not any(diff):
        return out
    edges = tuple(
        gradient_edge(a) if isinstance(a, Tensor) and a.requires_grad else (None, 0) for a in args
    )
    specs = [(tuple(o.shape), o._data.dtype) if isinstance(o, Tensor) else None for o in outs]
    node = node_class(f"{cls.__name__}Backward", FunctionBackward)(
        cls.backward,  # type: ignore[attr-defined]
        ctx,
        edges,
        specs,
    )
    made: dict[int, Tensor] = {}
    results = []
    for k, (o, d) in enumerate(zip(outs, diff, strict=True)):
        if d:
            t = made[id(o)] = Tensor._make(o._data)
            t._grad_fn, t._output_nr = node, k
            o = t
        results.append(o)
    ctx.saved_tensors = tuple(
        made.get(id(s), s) if s is not None else None for s in ctx.saved_tensors
    )
    return tuple(results) if isinstance(out, tuple) else results[0]
