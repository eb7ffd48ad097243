"""Module call in PyTorch's hook order: forward pre-hooks, forward, hooks, backward hooks."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adjit.nn.module import Module

_global_forward_pre_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
_global_forward_hooks: OrderedDict[int, Callable[..., Any]] = OrderedDict()
_global_forward_hooks_always_called: dict[int, bool] = {}
_global_forward_hooks_with_kwargs: dict[int, bool] = {}


class _WithModule:
    """A load_state_dict pre-hook that also receives the module as first argument."""

    def __init__(self, module: Module, hook: Callable[..., Any]) -> None:
        self.module, self.hook = module, hook

    def __call__(self, *args: Any) -> Any:
        return self.hook(self.module, *args)


def global_hook_ids() -> tuple:
    """The global forward hooks registered now (a compiled module call's guard)."""
    return tuple(_global_forward_pre_hooks), tuple(_global_forward_hooks)


def any_hooks(module: Module) -> bool:
    return bool(
        _global_forward_pre_hooks
        or _global_forward_hooks
        or module._backward_hooks
        or module._backward_pre_hooks
    )


def _run_pre_hooks(module: Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    with_kwargs = module._forward_pre_hooks_with_kwargs
    for hook_id, hook in (*_global_forward_pre_hooks.items(), *module._forward_pre_hooks.items()):
        if hook_id in with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(
                        "forward pre-hook must return None or a tuple "
                        f"of (new_args, new_kwargs), but got {result}."
                    )
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    return args, kwargs


def _forward_hooks(module: Module) -> list[tuple[int, Callable[..., Any], bool, bool]]:
    out = [
        (i, h, i in _global_forward_hooks_with_kwargs, i in _global_forward_hooks_always_called)
        for i, h in _global_forward_hooks.items()
    ]
    out += [
        (i, h, i in module._forward_hooks_with_kwargs, i in module._forward_hooks_always_called)
        for i, h in module._forward_hooks.items()
    ]
    return out


def call_with_hooks(module: Module, args: tuple, kwargs: dict) -> Any:
    hooks = _forward_hooks(module)
    called: set[int] = set()
    try:
        args, kwargs = _run_pre_hooks(module, args, kwargs)
        bw_hook = None
        if module._backward_hooks or module._backward_pre_hooks:
            from adjit.nn._backward_hooks import BackwardHook

            bw_hook = BackwardHook(module)
            args = bw_hook.setup_input_hook(args)
        result = module.forward(*args, **kwargs)
        for hook_id, hook, with_kwargs, always in hooks:
            if always:
                called.add(hook_id)
            out = hook(module, args, kwargs, result) if with_kwargs else hook(module, args, result)
            if out is not None:
                result = out
        if bw_hook is not None:
            result = bw_hook.setup_output_hook(result)
    except Exception:
        for hook_id, hook, with_kwargs, always in hooks:
            if always and hook_id not in called:
                try:
                    hook(module, args, kwargs, None) if with_kwargs else hook(module, args, None)
                except Exception as e:
                    warnings.warn(
                        "forward hook with ``always_call=True`` raised an exception "
                        f"that was silenced as another error was raised in forward: {str(e)}",
                        stacklevel=2,
                    )
        raise
    return result
