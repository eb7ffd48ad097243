"""Calling compiled kernels through ctypes; large ones split over a small thread pool."""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..codegen.jit import CompiledKernel
from ..ir.ops import Op
from .workers import Workers, num_threads, workers

if TYPE_CHECKING:  # imported where used: it costs ~20 ms (llvmlite.ir)
    from ..codegen.kernel_cache import KernelInfo

# kernels below this much work (elements x equations) run serially: a thread handoff costs µs
PARALLEL_THRESHOLD = 1 << 17
# Note [the GIL in kernel calls]
# A CFUNCTYPE call releases the GIL around the kernel, so other Python threads run meanwhile;
# getting it back costs little when no other thread wants it, but when one does (a library's
# worker or watchdog thread waking up; torch.compile's, for one) the caller waits for it: W4's
# 9 µs call took 25 µs in a process that had run torch.compile. A kernel shorter than that
# handoff (below GIL_THRESHOLD work, a few µs) is called through PYFUNCTYPE and keeps the
# GIL; longer and split kernels release it, as they must for threads to run them in parallel.
GIL_THRESHOLD = 1 << 14
THREADS = os.cpu_count() or 1  # the default of adjit.set_num_threads (runtime/workers.py)
# how partial reduction outputs of threads that split a reduced loop are combined
COMBINE: dict[Op, np.ufunc] = {Op.SUM: np.add, Op.AMAX: np.maximum, Op.AMIN: np.minimum}


def pool() -> Workers:
    """The process-wide worker threads (the calling thread runs one chunk itself)."""
    return workers(max(1, num_threads() - 1))


def chunks(extent: int, n: int) -> list[tuple[int, int]]:
    """``[0, extent)`` cut into ``n`` nearly equal ranges."""
    n = max(1, min(n, extent))
    edges = [extent * i // n for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


# Note [prebuilt arguments]
# A ctypes call with argtypes converts every Python int to a C value on each call (~80 ns an
# argument). A prepared call whose arguments never change converts them once, into c_void_p /
# c_int64 objects, and calls an argument-less prototype of the same address (``bare``): ctypes
# passes ready-made C values as they are. On x86-64 every argument is one 64-bit integer
# register or stack slot, so the call is the same as the typed one.


def prebuilt(addresses: Sequence[int], lo: int, hi: int) -> tuple[Any, ...]:
    """A kernel's arguments (buffer addresses, then the range) as ready-made C values."""
    return (*(ctypes.c_void_p(a) for a in addresses), ctypes.c_int64(lo), ctypes.c_int64(hi))


class KernelRunner:
    """One compiled kernel, callable on buffer addresses: ``run(addresses, outputs)``.

    ``addresses`` are the outputs' then the inputs' data pointers. Holding the runner holds
    the compiled code's engine, so its function pointer stays valid.
    """

    def __init__(
        self,
        lowered: KernelInfo,
        compiled: CompiledKernel,
        threshold: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.lowered, self.compiled = lowered, compiled
        n = lowered.n_outputs + lowered.n_inputs
        limit = PARALLEL_THRESHOLD if threshold is None else threshold
        parallel = lowered.work >= limit and lowered.extent > 1
        self._split_across = threads  # None: adjit.set_num_threads's count, read at each run
        self._parallel = parallel
        self._threads = threads or num_threads()
        self.ranges = chunks(lowered.extent, self._threads if parallel else 1)
        # Note [the GIL in kernel calls]
        kind = ctypes.CFUNCTYPE if parallel or lowered.work >= GIL_THRESHOLD else ctypes.PYFUNCTYPE
        proto = kind(None, *[ctypes.c_void_p] * n, ctypes.c_int64, ctypes.c_int64)
        self.fn = proto(compiled.address)
        # the same code without argument types, for argument tuples converted once (Note
        # [prebuilt arguments])
        self.bare = kind(None)(compiled.address)
        self._scratch: list[list[tuple[np.ndarray, int]]] = []  # per extra chunk
        self._busy = threading.Lock()

    @property
    def parallel(self) -> bool:
        """Split now, or may be after adjit.set_num_threads (then calls must go through run)."""
        follows = self._parallel and self._split_across is None and THREADS > 1
        return follows or len(self.ranges) > 1

    def _private(self, t: int, outputs: Sequence[np.ndarray]) -> list[tuple[np.ndarray, int]]:
        """Chunk ``t``'s own reduction outputs (reused across calls)."""
        while len(self._scratch) < t:
            bufs = [np.empty_like(outputs[i]) for i, _ in self.lowered.reductions]
            self._scratch.append([(b, b.ctypes.data) for b in bufs])
        return self._scratch[t - 1]

    def run(self, addresses: list[int], outputs: Sequence[np.ndarray]) -> None:
        if self._parallel and self._split_across is None and self._threads != num_threads():
            self._threads = num_threads()  # Note [thread count] in runtime/workers.py
            self.ranges = chunks(self.lowered.extent, self._threads)
        if len(self.ranges) == 1:
            self.fn(*addresses, 0, self.lowered.extent)
            return
        if self.lowered.reduce_outer:  # the chunks' private buffers are this runner's: one
            with self._busy:  # call at a time uses them (calls from other threads wait)
                self._split(addresses, outputs)
        else:
            self._split(addresses, outputs)

    def _split(self, addresses: list[int], outputs: Sequence[np.ndarray]) -> None:
        jobs: list[Any] = []
        private = self.lowered.reduce_outer
        for t, (lo, hi) in enumerate(self.ranges[1:], start=1):
            args = list(addresses)
            if private:  # the split loop reduces: each chunk accumulates into its own buffers
                for (i, _), (_, p) in zip(
                    self.lowered.reductions, self._private(t, outputs), strict=True
                ):
                    args[i] = p
            jobs.append(pool().submit(self.fn, *args, lo, hi))
        self.fn(*addresses, *self.ranges[0])
        for j in jobs:
            j.result()
        if private:
            for t in range(1, len(self.ranges)):
                for (i, op), (buf, _) in zip(
                    self.lowered.reductions, self._scratch[t - 1], strict=True
                ):
                    COMBINE[op](outputs[i], buf, out=outputs[i])
