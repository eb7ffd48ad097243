"""The native thread pool (``codegen/thread_pool.py``) as the runtime uses it: built on first
use, one state block per process."""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any

from ..codegen.jit import CompiledKernel, compile_ir
from ..codegen.thread_pool import (
    ENTRY,
    MAX_ARITY,
    STATE,
    STATE_BYTES,
    host_arch,
    pool_ir,
)

# Note [pool spin time]
# After its last chunk a worker spins (``pause``, watching the generation counter) for
# SPIN_NS before it sleeps on a futex: a compiled step calls its kernels a few µs of Python
# apart, and a sleeping worker takes ~30-80 µs (a futex wake-up on this KVM guest) to join, by
# when a small kernel is done. The gaps between the split kernel calls of compiled train steps
# (2 threads; ``python -m adjit.benchmarks.thread_handoff --gaps resnet18``): resnet18 b8, 52
# split calls a step, 39-47% of the gaps under 100 µs, 51% under 500 µs, the rest 1-16 ms
# (GEMMs and convolutions in between); the transformer block, 7 calls, 33% under 100 µs, the
# rest 0.5-100 ms. So 100 µs catches nearly every short gap, and spinning longer would mostly
# burn a core that BLAS's own threads need in the long gaps (LLVM_NOTES: OpenMP threads
# spinning next to OpenBLAS made steps 6-36x slower).
SPIN_NS = 100_000
# ADJIT_NATIVE_POOL=0: split kernels run on the Python worker threads (runtime/workers.py)
ENABLED = [os.environ.get("ADJIT_NATIVE_POOL", "1").strip() != "0"]
_ENTRY_TYPE = ctypes.CFUNCTYPE(
    ctypes.c_int32, *[ctypes.c_void_p] * 4, *[ctypes.c_int64] * 4
)  # releases the GIL


def _immortal(obj: Any) -> None:
    """Never collected, even at interpreter exit: workers run this code until the process
    ends, and a finalizer unloading it then would pull it from under them."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))


def _allocate_state() -> int:
    """A zeroed state block (Note [native thread pool]), 64-byte aligned, never freed: workers
    hold its address for the life of the process."""
    libc = ctypes.CDLL(None)
    libc.calloc.restype = ctypes.c_void_p
    libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    base = libc.calloc(1, STATE_BYTES + 64)
    if not base:
        raise MemoryError("adjit: cannot allocate the thread pool's state")
    state = (base + 63) & ~63
    ctypes.c_int64.from_address(state + STATE["spin_ns"]).value = SPIN_NS
    return int(state)


class NativePool:
    """The pool's entry and this process's state block."""

    def __init__(self, entry: CompiledKernel) -> None:
        self.entry = entry
        self.call = _ENTRY_TYPE(entry.address)
        self._state = 0  # allocated by the first run (and again in a forked child)
        self._lock = threading.Lock()

    @property
    def state(self) -> int:
        if not self._state:
            with self._lock:
                if not self._state:
                    self._state = _allocate_state()
        return self._state

    def run(
        self, arity: int, fn: int, args: int, stride: int, extent: int, n: int, threads: int
    ) -> bool:
        """Chunks ``0 .. n-1`` of ``[0, extent)`` of the kernel ``fn`` (``arity`` pointer
        arguments) run on up to ``threads`` threads, the caller included; False if the caller
        ran them alone (Note [native thread pool])."""
        if not 1 <= arity <= MAX_ARITY:
            raise ValueError(
                f"the native pool calls kernels of 1 to {MAX_ARITY} pointers, not {arity}"
            )
        return bool(self.call(self.state, arity, fn, args, stride, extent, n, threads))

    def counter(self, name: str) -> int:
        """One of the state's fields (``tasks``, ``sleeps``, ``alone``, ``workers``...)."""
        return ctypes.c_int64.from_address(self.state + STATE[name]).value

    def set_spin_ns(self, ns: int) -> None:
        ctypes.c_int64.from_address(self.state + STATE["spin_ns"]).value = ns

    def forget_state(self) -> None:
        """After fork: the child has none of the parent's workers; its first run makes its own
        state and workers (the parent's block stays, unused)."""
        self._state = 0
        self._lock = threading.Lock()


_POOL: list[NativePool | None] = []  # [] until tried; [None] when it cannot be built here
BUILD_ERROR: list[Exception] = []  # why not, then


def _build() -> NativePool | None:
    arch = host_arch()
    if arch is None:
        return None
    from ..codegen import jit

    # the pool is no kernel: its compile or load is taken back out of the kernels' counts
    # (jit.STATS), under the JIT's lock so no other thread's compile is counted meanwhile
    with jit._LOCK:
        counts = dict(jit.STATS)
        try:
            entry = compile_ir(pool_ir(arch), "thread_pool", ENTRY)
        except Exception as e:  # noqa: BLE001 -- e.g. a libc symbol missing: the Python pool
            BUILD_ERROR.append(e)
            return None
        finally:
            jit.STATS.update(counts)
    _immortal(entry)
    return NativePool(entry)


def get() -> NativePool | None:
    """The process's native pool, None where it is off or cannot be built (then the Python
    worker threads run split kernels)."""
    if not ENABLED[0]:
        return None
    if not _POOL:
        with _BUILD:
            if not _POOL:
                _POOL.append(_build())
    return _POOL[0]


_BUILD = threading.Lock()


def _after_fork_in_child() -> None:
    global _BUILD
    _BUILD = threading.Lock()
    if _POOL and _POOL[0] is not None:
        _POOL[0].forget_state()


os.register_at_fork(after_in_child=_after_fork_in_child)
