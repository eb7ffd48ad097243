"""``adjit.compile``: torch.compile's signature, with each argument's meaning in adjit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .cache import check_budget, check_limit
from .compile import CompiledFunction

# Note [torch.compile's arguments in adjit]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# backend: PyTorch's names map onto adjit's backends; adjit's own names work too.
#   "inductor" (PyTorch's default) and "llvm": fused native kernels generated with llvmlite.
#   "aot_eager": the forward and its gradient built ahead of time, run by the NumPy
#     interpreter (adjit's "interpreter") instead of fused kernels: PyTorch's meaning (AOT
#     autograd graphs, eager kernels).
#   "eager": the captured graph replayed op by op through adjit's eager ops, with eager
#     autograd recording the history (no ahead-of-time gradient), as PyTorch's "eager" backend.
#   A callable backend (PyTorch's FX GraphModule compilers) cannot apply to adjit's IR.
# mode: every PyTorch mode is accepted; adjit compiles the same program for each: "default",
#   "reduce-overhead" (adjit's calls already go through one prepared trampoline per signature;
#   there are no CUDA graphs on CPU), "max-autotune" and "max-autotune-no-cudagraphs" (adjit's
#   kernels have no tuning knobs to search), "lite" (adjit's pass pipeline is already cheap).
# options: one key, "activation_memory_budget" (a float in [0, 1], PyTorch's
#   torch._functorch.config.activation_memory_budget for this function alone; default
#   adjit.compiler.config.activation_memory_budget, 1.0): what the gradient program saves
#   for backward vs recomputes (Note [rematerialization] in passes/remat.py). Any other key
#   raises (PyTorch's inductor options would silently do nothing).
# dynamic: PyTorch's policy (Note [one trace, many sizes] in dynamic.py): None traces static
#   first and once more with the sizes that changed symbolic, True makes every size >= 2
#   symbolic, False specializes every size.
# fullgraph: a graph break (Note [graph breaks] in breaks.py) raises instead of splitting.
# disable=True returns the function unchanged; name labels warnings; recompile_limit: calls
#   with a new signature past that many traces run eagerly (fullgraph=True: an error), as
#   PyTorch; isolate_recompiles: adjit's compiled functions never share caches, so both values
#   mean the same.
# cache_size_limit (adjit's own keyword): at most this many specializations kept, the least
#   recently used evicted (Note [bounded compile caches] in cache.py); None:
#   adjit.compiler.config.cache_size_limit (64). torch's cache_size_limit is recompile_limit.

BACKENDS = {
    "inductor": "llvm",
    "llvm": "llvm",
    "aot_eager": "interpreter",
    "interpreter": "interpreter",
    "eager": "eager",
}
DEBUG_BACKENDS = ("aot_eager", "eager", "interpreter")
MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
OPTIONS: dict[str, Any] = {"activation_memory_budget": check_budget}  # see the Note


def resolve_backend(backend: Any) -> str | None:
    """adjit's backend for a torch.compile ``backend`` argument (None: the default)."""
    if backend is None:
        return None
    if callable(backend):
        raise NotImplementedError(
            f"adjit.compile(backend={getattr(backend, '__name__', backend)!r}): adjit compiles "
            "its own graph IR, not FX GraphModules, so a callable backend cannot be used; "
            f"use one of {sorted(BACKENDS)}"
        )
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise RuntimeError(
            f"Invalid backend: {backend!r}, see `adjit.compiler.list_backends()` for "
            "available backends."
        )
    return BACKENDS[backend] if backend != "inductor" else None


def check_mode_and_options(mode: str | None, options: dict[str, Any] | None) -> None:
    if mode is not None and options is not None:
        raise RuntimeError(
            "Either mode or options can be specified, but both can't be specified at the same time."
        )
    if mode is not None and mode not in MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(MODES)}")
    for key in options or {}:
        if key.replace("-", "_") not in OPTIONS:
            raise RuntimeError(
                f"Unexpected optimization option {key}, known options are {list(OPTIONS)}"
            )
        OPTIONS[key.replace("-", "_")](options[key])  # type: ignore[index]


def memory_budget(options: dict[str, Any] | None) -> float | None:
    """The ``activation_memory_budget`` option (None: the config's)."""
    for key, value in (options or {}).items():
        if key.replace("-", "_") == "activation_memory_budget":
            return check_budget(value)
    return None


def compile(  # noqa: A001
    model: Callable[..., Any] | None = None,
    *,
    fullgraph: bool = False,
    dynamic: bool | None = None,
    backend: str | Callable[..., Any] | None = None,
    mode: str | None = None,
    options: dict[str, Any] | None = None,
    name: str | None = None,
    disable: bool = False,
    recompile_limit: int | None = None,
    isolate_recompiles: bool = False,
    shapes_spec: Any = None,
    fallback: str | None = None,
    cache_size_limit: int | None = None,
) -> Any:
    """Trace ``model`` per signature into graph IR and run it compiled (decorator or call).

    torch.compile's signature; each argument's meaning in adjit is in Note [torch.compile's
    arguments in adjit]. Value reads (``.item()``, ``if tensor``, printing) split the function
    into compiled segments (graph breaks) unless ``fullgraph=True``. adjit's own keyword
    ``fallback="eager"`` runs calls whose tracing fails eagerly, and ``fallback="interpreter"``
    runs programs the backend cannot compile with the interpreter; each with a warning.
    An ``nn.Module`` gives an ``OptimizedModule`` (PyTorch's wrapper, ``_orig_mod``).
    """
    if model is None:

        def decorate(model: Callable[..., Any]) -> Any:
            if model is None:
                raise RuntimeError("Model can't be None")
            return compile(
                model,
                fullgraph=fullgraph,
                dynamic=dynamic,
                backend=backend,
                mode=mode,
                options=options,
                name=name,
                disable=disable,
                recompile_limit=recompile_limit,
                isolate_recompiles=isolate_recompiles,
                shapes_spec=shapes_spec,
                fallback=fallback,
                cache_size_limit=cache_size_limit,
            )

        return decorate
    check_mode_and_options(mode, options)
    check_limit("cache_size_limit", cache_size_limit)
    adjit_backend = resolve_backend(backend)
    if shapes_spec is not None:
        raise NotImplementedError("adjit.compile(shapes_spec=...): adjit has no dynamic shapes")
    if dynamic not in (None, True, False):
        raise TypeError(f"adjit.compile(dynamic=...) takes None, True or False, got {dynamic!r}")
    if disable:
        return model
    if isinstance(model, CompiledFunction):
        return model
    from ..nn.module import Module

    if isinstance(model, Module):
        from ..compiler import OptimizedModule

        if isinstance(model, OptimizedModule):
            return model
        inner = CompiledFunction(
            model,
            fallback=fallback,
            backend=adjit_backend,
            fullgraph=fullgraph,
            recompile_limit=recompile_limit,
            name=name,
            dynamic=dynamic,
            memory_budget=memory_budget(options),
        )
        inner.cache_size_limit = cache_size_limit
        return OptimizedModule(model, inner)
    compiled = CompiledFunction(
        model,
        fallback=fallback,
        backend=adjit_backend,
        fullgraph=fullgraph,
        recompile_limit=recompile_limit,
        name=name,
        dynamic=dynamic,
        memory_budget=memory_budget(options),
    )
    compiled.cache_size_limit = cache_size_limit
    return compiled
