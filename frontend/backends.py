"""Backends that run an optimized graph on arrays: LLVM-compiled kernels, or the interpreter."""

from __future__ import annotations

import functools
import importlib.util
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.graph import Graph
from ..ir.interpreter import interpret

Runner = Callable[[list[np.ndarray]], list[np.ndarray]]
BACKENDS = ("llvm", "interpreter")


def _llvm(graph: Graph, public: int | None) -> Runner:
    from ..runtime.executor import compile_program

    return compile_program(graph, strict=True, public=public)


def _interpreter(graph: Graph, public: int | None) -> Runner:
    return functools.partial(interpret, graph, public=public)


_FACTORIES: dict[str, Callable[[Graph, int | None], Runner]] = {
    "llvm": _llvm,
    "interpreter": _interpreter,
}


@functools.cache
def codegen_available() -> bool:
    """Whether llvmlite is installed (found, not imported: the code generator loads lazily);
    looked up once per process (the search costs a first call ~0.2 ms)."""
    return importlib.util.find_spec("llvmlite") is not None


def make_runner(
    graph: Graph, backend: str, fallback: str | None, public: int | None = None
) -> Runner:
    """The compiled form of ``graph``; a backend failure names the op and the user's line, or
    falls back to the interpreter with a warning when the user asked for a fallback. Only the
    first ``public`` outputs (default: all) reach the user (Note [internal outputs])."""
    try:
        return _FACTORIES[backend](graph, public)
    except Exception as e:  # CodegenError and friends: the op and line are in the message
        if fallback is None:
            raise
        warnings.warn(
            f"adjit.compile: the {backend} backend could not compile this program ({e}); "
            "running it with the interpreter",
            stacklevel=5,
        )
        return _interpreter(graph, public)


def default_backend() -> str:
    return "llvm" if codegen_available() else "interpreter"


def describe(backend: str) -> dict[str, Any]:
    return {"backend": backend, "codegen_available": codegen_available()}
