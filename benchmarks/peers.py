"""The optional contenders' libraries (PyTorch, JAX): found at run time, configured once."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import os
from collections.abc import Iterator
from types import ModuleType

from .harness import Unavailable, thread_env

# Note [torch threads]
# Every contender runs with the same thread count, ``--threads`` (default: all cores): adjit
# (adjit.set_num_threads: its kernels and BLAS), NumPy's BLAS (the same OpenBLAS, set by
# adjit), PyTorch (torch.set_num_threads), JAX (XLA_FLAGS, set before JAX loads) and the
# compile-latency children (their environment, harness.thread_env). PyTorch's OpenMP workers
# spin for a while after every op and may hold a core the contender timed next wants; the
# timing rounds rotate the order (harness.time_interleaved) so no contender always follows the
# same one. Runs that must not share a process (compile latency) use fresh children.

_LOADED: dict[str, ModuleType] = {}
SETTINGS = {"threads": os.cpu_count() or 1}


# Note [torch before MKL]
# With the mkl extra, adjit's first compiled product loads libmkl_rt, which makes MKL's symbols
# global; a PyTorch imported after that binds its BLAS and LAPACK to that sequential MKL and runs
# its products on one thread (Note [MKL products] in runtime/mkl_gemm.py). So set_threads, which
# runs before any contender, imports PyTorch first when it is installed.


def set_threads(n: int, load_torch: bool = True) -> None:
    """Give every contender ``n`` threads (Note [torch threads]); call before any runs. A
    process that runs adjit alone skips loading PyTorch (Note [MKL's own threads])."""
    import adjit

    if load_torch:
        with contextlib.suppress(Unavailable):
            _load("torch")  # before adjit's MKL (Note [torch before MKL])
    SETTINGS["threads"] = n
    adjit.set_num_threads(n)
    os.environ.update(thread_env(n))  # for libraries loaded later (JAX) and children
    if "torch" in _LOADED:
        _LOADED["torch"].set_num_threads(n)


def _load(name: str) -> ModuleType:
    if name not in _LOADED:
        try:
            _LOADED[name] = importlib.import_module(name)
        except ImportError as e:  # not installed, or installed and broken: say which
            found = importlib.util.find_spec(name.partition(".")[0]) is not None
            why = f"{name} is installed but failed to import: {e}" if found else None
            raise Unavailable(why or f"{name} is not installed") from e
    return _LOADED[name]


def torch() -> ModuleType:
    """PyTorch with SETTINGS["threads"] threads; Unavailable if it is missing."""
    t = _load("torch")
    if t.get_num_threads() != SETTINGS["threads"]:
        t.set_num_threads(SETTINGS["threads"])
    return t


# Note [JAX threads]
# XLA's CPU client (JAX 0.10) sizes its thread pool by the CPUs the process may run on, and
# its XLA_FLAGS (``--xla_cpu_multi_thread_eigen=false``) no longer keep products on one
# thread: at ``--threads 1`` W2 batch 1024's jax.jit step kept 1.28-1.9 cores busy (4.6 ms
# wall, 9.0 ms of CPU). So the backend starts (``jax.devices()``) while the calling thread
# may run on only ``threads`` CPUs, and the process's threads get their CPUs back after: the
# pool keeps the size it was made with (one core's worth of CPU time per step at 1 thread).


def jax(threads: int | None = None) -> tuple[ModuleType, ModuleType]:
    """``(jax, jax.numpy)`` on the CPU with ``threads`` threads (SETTINGS["threads"] by
    default; Note [JAX threads]), fixed when JAX's backend first starts; Unavailable if JAX is
    missing."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if "jax" in _LOADED:
        return _LOADED["jax"], _load("jax.numpy")
    jax_module = _load("jax")
    with _cpus(threads or SETTINGS["threads"]):
        jax_module.devices()
    return jax_module, _load("jax.numpy")


@contextlib.contextmanager
def _cpus(n: int) -> Iterator[None]:
    """The calling thread (and the threads it starts) on its first ``n`` allowed CPUs; on
    leaving, every thread of the process on all the CPUs it had."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    allowed = os.sched_getaffinity(0)
    if n >= len(allowed):
        yield
        return
    os.sched_setaffinity(0, sorted(allowed)[:n])
    try:
        yield
    finally:
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(tid), allowed)


def version(dist: str) -> str | None:
    """An installed distribution's version, without importing it (None: not installed)."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
