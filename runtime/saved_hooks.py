"""The saved-tensor hooks stack: pack/unpack functions applied to tensors saved for backward."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# Note [saved tensor hooks]
# ~~~~~~~~~~~~~~~~~~~~~~~~~
# As PyTorch's torch.autograd.graph.saved_tensors_hooks: while a (pack, unpack) pair is
# innermost, every tensor a grad_fn saves for backward is passed to ``pack`` when it is saved
# and the backward reads ``unpack(packed)`` instead. There is no version-counter check then,
# as in PyTorch: the packed value is what backward reads, whatever happened to the original
# since (autograd.graph.allow_mutation_on_saved_tensors relies on that). Activation
# checkpointing (adjit/utils/checkpoint.py) is built on it: pack stores nothing, unpack
# recomputes.

Hooks = tuple[Callable[[Any], Any], Callable[[Any], Any]]


class _State(threading.local):
    def __init__(self) -> None:
        self.stack: list[Hooks] = []
        self.disabled: str | None = None


_state = _State()


def current() -> Hooks | None:
    """The innermost (pack, unpack) pair, or None."""
    return _state.stack[-1] if _state.stack else None


def push(pack: Callable[[Any], Any], unpack: Callable[[Any], Any]) -> None:
    if _state.disabled is not None:
        raise RuntimeError(_state.disabled)
    _state.stack.append((pack, unpack))


def pop() -> None:
    _state.stack.pop()


def disabled_message() -> str | None:
    return _state.disabled


def set_disabled(message: str | None) -> None:
    _state.disabled = message
