"""A custom ``autograd.Function`` called eagerly: one grad_fn node for all of its outputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from adjit.autograd import custom
from adjit.autograd.backward_checks import call_backward, checked_gradients, input_metas
from adjit.runtime.autograd import PyNode, gradient_edge, node_class
from adjit.runtime.tensor import Tensor

DIRTY_LEAF_MSG = "a leaf Variable that requires grad has been used in an in-place operation."
DIRTY_NOT_RETURNED_MSG = (
    "Some elements marked as dirty during the forward method were not returned as output. "
    "The inputs that are modified inplace must all be outputs of the Function."
)


class FunctionBackward(PyNode):
    """The grad_fn of a Function call with ``len(outputs)`` outputs (one slot each); a slot
    no cotangent reached gets zeros (PyTorch materializes them unless the forward called
    ``ctx.set_materialize_grads(False)``), a non-tensor output None. As PyTorch's node is the
    ``ctx`` itself, the ctx's attributes read through it (``y.grad_fn.saved_tensors``)."""

    def __init__(
        self,
        cls: type,
        ctx: Any,
        edges: tuple,
        inputs: Sequence[Any],
        outputs: list[tuple[tuple[int, ...], Any] | None],
    ) -> None:
        super().__init__(cls.backward, ctx, edges)  # type: ignore[attr-defined]
        self._cls = cls
        self.num_outputs = len(outputs)
        self._outputs = outputs
        # what the checks need of each input: its shape and dtype (never the tensor itself)
        self._inputs = input_metas(inputs)

    def __repr__(self) -> str:  # PyTorch's class lives in torch.autograd.function
        return f"<adjit.autograd.function.{type(self).__name__} object at {hex(id(self))}>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._ctx, name)

    def apply(self, grad: Any, create_graph: bool) -> list[Tensor | None]:
        grads = grad if isinstance(grad, list) else [grad]
        if self._ctx.materialize_grads:
            grads = [
                Tensor._make(np.zeros(*spec)) if g is None and spec is not None else g
                for g, spec in zip(grads, self._outputs, strict=True)
            ]
        needed = [e[0] is not None for e in self._edges]
        returned = call_backward(self._cls, self._ctx, grads)
        return checked_gradients(self._cls, returned, self._inputs, needed)

    def release(self) -> None:
        if self._ctx._saved:
            self._ctx._freed = True


def attach(cls: type, ctx: Any, inputs: tuple[Any, ...], out: Any) -> Any:
    """``out`` (a tensor or a tuple) with its differentiable tensors made fresh outputs of
    one FunctionBackward node; a saved output unpacks as the output itself (with its
    grad_fn), as in PyTorch, so the backward is differentiable through it (create_graph).
    An input the forward modified in place (``ctx.mark_dirty``) is returned as itself, its
    history now this node."""
    outs = out if isinstance(out, tuple) else (out,)
    dirty = {id(t) for t in ctx._dirty}
    _check_dirty(ctx, outs, dirty)
    diff = [
        isinstance(o, Tensor) and o.dtype.category >= 2 and id(o) not in ctx._non_differentiable
        for o in outs
    ]
    if not any(diff):
        return custom.unaliased(ctx, inputs, out)
    edges = tuple(
        gradient_edge(a) if isinstance(a, Tensor) and a.requires_grad else (None, 0) for a in inputs
    )
    specs = [(tuple(o.shape), o._data.dtype) if isinstance(o, Tensor) else None for o in outs]
    node = node_class(f"{cls.__name__}Backward", FunctionBackward)(cls, ctx, edges, inputs, specs)
    made: dict[int, Tensor] = {}
    results = []
    for k, (o, d) in enumerate(zip(outs, diff, strict=True)):
        if d:
            t = made[id(o)] = o if id(o) in dirty else Tensor._make(o._data)
            t._grad_fn, t._output_nr = node, k
            if id(o) in dirty:  # rebased history: a version, and its views' are stale
                t._version_box[0] += 1
                t._rewrites += 1  # (Note [stale views])
            o = t
        results.append(o)
    ctx._saved = tuple(made.get(id(s), s) if s is not None else None for s in ctx._saved)
    ctx._packed = True
    ctx._versions = tuple(s._version_box[0] if s is not None else 0 for s in ctx._saved)
    ctx._owners = tuple(_owner(s, cls, made) for s in ctx._saved)
    return tuple(results) if isinstance(out, tuple) else results[0]


def _owner(t: Tensor | None, cls: type, made: dict[int, Tensor]) -> str | None:
    """How PyTorch's modified-in-place error names a saved tensor's producer."""
    if t is None:
        return None
    if any(t is m for m in made.values()):
        return f"output {t._output_nr} of {cls.__name__}"
    fn = t.grad_fn
    return f"output {t._output_nr} of {fn.name()}" if fn is not None else None


def _check_dirty(ctx: Any, outs: tuple[Any, ...], dirty: set[int]) -> None:
    """PyTorch's checks on the inputs a forward marked as modified in place."""
    if not dirty:
        return
    if not dirty <= {id(o) for o in outs}:
        raise RuntimeError(DIRTY_NOT_RETURNED_MSG)
    for t in ctx._dirty:
        if t.is_leaf and t.requires_grad:
            raise RuntimeError(DIRTY_LEAF_MSG)
        if t._view_base is not None and t.requires_grad:
            raise NotImplementedError(
                "adjit: a custom Function that modifies a view in place (ctx.mark_dirty on a "
                "view) is not supported (its base's history would go stale); clone() the "
                "view before passing it"
            )
