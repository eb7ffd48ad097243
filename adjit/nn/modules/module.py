"""``torch.nn.modules.module``: ``Module`` and the global forward hooks every module call runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adjit.nn import _module_hooks as _hooks
from adjit.nn._module_state import RemovableHandle
from adjit.nn.module import Module

__all__ = ["Module", "register_module_forward_hook", "register_module_forward_pre_hook"]


def register_module_forward_pre_hook(hook: Callable[..., Any]) -> RemovableHandle:
    """``hook(module, args)`` before every module's forward (before its own pre-hooks)."""
    handle = RemovableHandle(_hooks._global_forward_pre_hooks)
    _hooks._global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(
    hook: Callable[..., Any], *, with_kwargs: bool = False, always_call: bool = False
) -> RemovableHandle:
    """``hook(module, args, output)`` after every module's forward (before its own hooks)."""
    tables = (
        _hooks._global_forward_hooks,
        _hooks._global_forward_hooks_with_kwargs,
        _hooks._global_forward_hooks_always_called,
    )
    handle = RemovableHandle(*tables)
    _hooks._global_forward_hooks[handle.id] = hook
    if with_kwargs:
        _hooks._global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _hooks._global_forward_hooks_always_called[handle.id] = True
    return handle
