"""``adjit.autograd.graph``: hooks on the tensors the autograd graph saves for backward."""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal

from adjit.nn._module_state import RemovableHandle
from adjit.runtime import graph_task, saved_hooks
from adjit.runtime.autograd import Node, gradient_edge
from adjit.runtime.grad_mode import InferenceBox, no_grad
from adjit.runtime.graph_task import GradientEdge
from adjit.runtime.tensor import Tensor

__all__ = ["Node", "disable_saved_tensors_hooks", "save_on_cpu", "saved_tensors_hooks"]
__all__ += ["increment_version", "GradientEdge", "get_gradient_edge", "register_multi_grad_hook"]
__all__ += ["allow_mutation_on_saved_tensors"]


class saved_tensors_hooks:
    """Inside the block, each tensor saved for backward goes through ``pack_hook`` and the
    backward reads ``unpack_hook(packed)`` (Note [saved tensor hooks] in runtime/saved_hooks.py)."""

    def __init__(
        self, pack_hook: Callable[[Tensor], Any], unpack_hook: Callable[[Any], Tensor]
    ) -> None:
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self) -> None:
        saved_hooks.push(self.pack_hook, self.unpack_hook)

    def __exit__(self, *args: object) -> None:
        saved_hooks.pop()


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors kept in CPU memory (where adjit's tensors already are: a no-op copy)."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        def pack_to_cpu(tensor: Tensor) -> tuple[Any, Tensor]:
            return (tensor.device, tensor.cpu())

        def unpack_from_cpu(packed: tuple[Any, Tensor]) -> Tensor:
            device, tensor = packed
            return tensor.to(device)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message: str) -> Iterator[None]:
    """Inside the block, entering saved_tensors_hooks raises RuntimeError(error_message)."""
    previous = saved_hooks.disabled_message()
    saved_hooks.set_disabled(error_message)
    try:
        yield
    finally:
        saved_hooks.set_disabled(previous)


def increment_version(tensor: Tensor | Iterable[Tensor]) -> None:
    """Mark ``tensor`` (or each of several) modified in place behind autograd's back: a
    backward that saved it then refuses, as after an in-place op. Inference tensors have no
    version counter and are left alone, as in PyTorch."""
    for t in (tensor,) if isinstance(tensor, Tensor) else tensor:
        if not isinstance(t._version_box, InferenceBox):
            t._version_box[0] += 1


def get_gradient_edge(tensor: Tensor) -> GradientEdge:
    """The edge the gradient of ``tensor`` flows into: ``autograd.grad(loss, edge)`` is
    ``autograd.grad(loss, tensor)`` (its grad_fn and output number, or its AccumulateGrad)."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "It is not possible to get the gradient edge for a Tensor "
            "that does not require gradients",
        )
    node, nr = gradient_edge(tensor)
    meta = node.__dict__.setdefault("_edge_meta", {})  # (an output edge's gradient shape)
    meta[nr] = (tensor.shape, tensor.dtype)
    return GradientEdge(node, nr)


class _MultiHandle(RemovableHandle):
    """register_multi_grad_hook's handle: ``remove()`` removes the hook from every tensor."""

    def __init__(self, handles: tuple[Any, ...]) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def __getstate__(self) -> tuple[Any, ...]:
        return self.handles

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.handles = state


def register_multi_grad_hook(
    tensors: Sequence[Tensor],
    fn: Callable[..., None],
    *,
    mode: Literal["all", "any"] = "all",
) -> RemovableHandle:
    """``fn`` runs once per backward call: with "all", after the gradient of every tensor that
    call computes (None for the others, in ``tensors``' order); with "any", on the first one
    (Note [graph tasks] in runtime/graph_task.py tells which tensors a call reaches)."""
    supported_modes = ("all", "any")
    lock = threading.Lock()
    if mode not in supported_modes:
        raise ValueError(f"Expects mode to be one of {supported_modes} but got {mode}")
    if mode == "all":
        count: dict[int, int] = {}
        calls: dict[int, int] = {}
        buffer: dict[int, list[Tensor | None]] = {}
        nodes = [gradient_edge(t)[0] for t in tensors]

        def inner(idx: int) -> Callable[[Tensor], None]:
            def hook(grad: Tensor) -> None:
                task = graph_task.current_id()
                if task == -1:
                    raise AssertionError("expected this hook to be called inside a backward call")
                buffer.setdefault(task, [None] * len(tensors))
                with lock:
                    seen = count.get(task, 0)
                    count[task] = seen + 1
                    if seen == 0:  # the first call: how many this backward makes
                        calls[task] = sum(map(graph_task.will_execute, nodes))
                buffer[task][idx] = grad
                if seen == calls[task] - 1:
                    grads = buffer.pop(task)
                    del count[task], calls[task]
                    fn(grads)

            return hook

        handles = tuple(t.register_hook(inner(i)) for i, t in enumerate(tensors))
    else:
        ran: dict[int, bool] = {}

        @functools.wraps(fn)
        def wrapped(grad: Tensor) -> None:
            task = graph_task.current_id()
            if task == -1:
                raise AssertionError("expected this hook to be called inside a backward call")
            with lock:
                before, ran[task] = ran.get(task, False), True
            if not before:
                fn(grad)

        handles = tuple(t.register_hook(wrapped) for t in tensors if t.requires_grad)
    return _MultiHandle(handles)


# Note [mutation on saved tensors]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# PyTorch's allow_mutation_on_saved_tensors lets a forward modify in place a tensor saved for
# backward: the backward reads the value it had when saved. PyTorch clones a saved tensor when
# an in-place op is about to write it (a dispatch mode); adjit has no such mode, so the
# saved-tensor hook here keeps a copy made when the tensor is saved: the same values reach
# backward, at the cost of a copy of every saved tensor while the context is open. As in
# PyTorch, the backward must run inside the same context (else AssertionError), contexts do
# not nest, and the state is cleared on exit.

_MUTATION_ON = [False]
_OUTSIDE = (
    "Trying to backward outside of the 'allow_mutation_on_saved_tensors' context"
    "in which the graph was originally recorded."
)


class _AllowMutationOnSavedContext:
    """The state of one allow_mutation_on_saved_tensors block: the saved copies, by handle."""

    def __init__(self) -> None:
        self.cloned: weakref.WeakKeyDictionary[_Handle, Tensor] = weakref.WeakKeyDictionary()

    def clear(self) -> None:
        self.cloned.clear()


class _Handle:
    pass


@contextlib.contextmanager
def allow_mutation_on_saved_tensors() -> Iterator[_AllowMutationOnSavedContext]:
    """Inside the block, tensors saved for backward may be modified in place: backward reads
    the values they had when saved (Note [mutation on saved tensors])."""
    ctx = _AllowMutationOnSavedContext()

    def pack(t: Tensor) -> _Handle:
        handle = _Handle()
        with no_grad():
            ctx.cloned[handle] = t.clone()
        return handle

    def unpack(handle: _Handle) -> Tensor:
        if not _MUTATION_ON[0] or handle not in ctx.cloned:
            raise AssertionError(_OUTSIDE)
        return ctx.cloned[handle]

    with saved_tensors_hooks(pack, unpack):
        try:
            if _MUTATION_ON[0]:
                raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
            _MUTATION_ON[0] = True
            yield ctx
        finally:
            ctx.clear()
            _MUTATION_ON[0] = False
