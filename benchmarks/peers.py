"""The optional contenders' libraries (PyTorch, JAX): found at run time, configured once."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from types import ModuleType

from .harness import Unavailable

# Note [torch threads]: PyTorch's OpenMP workers spin for a while after every op; on a small
# machine they starve the adjit (and JAX) pool threads timed right after them, which
# interleaved timing does on purpose. So by default PyTorch runs on one thread (recorded in the
# JSON); --torch-threads 0 keeps PyTorch's default.
DEFAULT_TORCH_THREADS = 1

_LOADED: dict[str, ModuleType] = {}
SETTINGS = {"torch_threads": DEFAULT_TORCH_THREADS}


def _load(name: str) -> ModuleType:
    if name not in _LOADED:
        try:
            _LOADED[name] = importlib.import_module(name)
        except ImportError as e:
            raise Unavailable(f"{name} is not installed") from e
    return _LOADED[name]


def torch() -> ModuleType:
    """PyTorch with SETTINGS["torch_threads"] threads (0: its default); Unavailable if missing."""
    t = _load("torch")
    if SETTINGS["torch_threads"]:
        t.set_num_threads(SETTINGS["torch_threads"])
    return t


def jax() -> tuple[ModuleType, ModuleType]:
    """``(jax, jax.numpy)`` on the CPU; Unavailable if JAX is missing."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    return _load("jax"), _load("jax.numpy")


def version(dist: str) -> str | None:
    """An installed distribution's version, without importing it (None: not installed)."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
