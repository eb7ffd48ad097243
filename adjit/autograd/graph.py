"""``adjit.autograd.graph``: hooks on the tensors the autograd graph saves for backward."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from adjit.runtime import saved_hooks
from adjit.runtime.autograd import Node
from adjit.runtime.grad_mode import InferenceBox
from adjit.runtime.tensor import Tensor

__all__ = ["Node", "disable_saved_tensors_hooks", "save_on_cpu", "saved_tensors_hooks"]
__all__ += ["increment_version"]


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
