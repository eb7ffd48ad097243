"""``torch.compiler``: disable, is_compiling, reset, list_backends, OptimizedModule, config."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from adjit.frontend.breaks import disable as _disable
from adjit.frontend.cache import config as config
from adjit.frontend.compile import _ALL, CompiledFunction
from adjit.frontend.surface import BACKENDS, DEBUG_BACKENDS
from adjit.frontend.surface import compile as compile  # noqa: A004
from adjit.nn.module import Module
from adjit.runtime import trace_state


def disable(fn: Callable[..., Any] | None = None, recursive: bool = True, *, reason: Any = None):
    """``fn`` always runs eagerly, also when a compiled function calls it (a graph break
    there: the code before it runs compiled, then ``fn`` eagerly, then compiled again).
    ``reason`` is accepted as PyTorch's (documentation only)."""
    return _disable(fn, recursive)


def is_compiling() -> bool:
    """True while adjit traces a function (compile, grad, vmap), False when running eagerly."""
    return trace_state.current() is not None


is_dynamo_compiling = is_compiling


def reset() -> None:
    """Clear the compiled code and caches of every compiled function (``torch.compiler.reset``):
    the next call of each traces and compiles again. Kernels nothing else holds are unloaded
    (Note [bounded compile caches]): a collection runs for those held in reference cycles."""
    for cf in list(_ALL):
        cf.reset()
    gc.collect()


def allow_in_graph(fn: Callable[..., Any]) -> Callable[..., Any]:
    """PyTorch's hint to put ``fn`` in the graph without tracing into it. adjit always traces
    into Python functions and records their tensor ops in the graph, so ``fn`` is returned
    as it is."""
    if isinstance(fn, list | tuple):
        return [allow_in_graph(f) for f in fn]  # type: ignore[return-value]
    if not callable(fn):
        raise TypeError("allow_in_graph expects a callable")
    return fn


def list_backends(exclude_tags: Any = ("debug", "experimental")) -> list[str]:
    """The backend names ``adjit.compile`` accepts (debug ones only with ``exclude_tags=None``)."""
    debug = exclude_tags is not None and "debug" in exclude_tags
    return sorted(b for b in BACKENDS if not (debug and b in DEBUG_BACKENDS))


class OptimizedModule(Module):
    """What ``adjit.compile(module)`` returns, as PyTorch's: a module whose only child is
    ``_orig_mod`` (so ``state_dict`` keys start with ``_orig_mod.``), whose calls run the
    original module's ``__call__`` (hooks included) compiled, and which reads any other
    attribute from the original module (then from the compiled function: ``trace_count``)."""

    def __init__(self, mod: Module, compiled: CompiledFunction) -> None:
        super().__init__()
        self._orig_mod = mod
        object.__setattr__(self, "_compiled", compiled)
        self.training = mod.training

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiled(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name in ("_orig_mod", "_compiled"):
                raise
        try:
            return getattr(self._orig_mod, name)
        except AttributeError:
            if not hasattr(self._compiled, name):  # adjit's trace_count, graph_for, ...
                raise
            return getattr(self._compiled, name)


__all__ = [
    "OptimizedModule",
    "allow_in_graph",
    "compile",
    "config",
    "disable",
    "is_compiling",
    "is_dynamo_compiling",
    "list_backends",
    "reset",
]
