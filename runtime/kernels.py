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
from .workers import Workers, workers

if TYPE_CHECKING:  # imported where used: it costs ~20 ms (llvmlite.ir)
    from ..codegen.kernel_cache import KernelInfo

# kernels below this much work (elements x equations) run serially: a thread handoff costs µs
PARALLEL_THRESHOLD = 1 << 17
THREADS = os.cpu_count() or 1
# how partial reduction outputs of threads that split a reduced loop are combined
COMBINE: dict[Op, np.ufunc] = {Op.SUM: np.add, Op.AMAX: np.maximum, Op.AMIN: np.minimum}


def pool() -> Workers:
    """The process-wide worker threads (the calling thread runs one chunk itself)."""
    return workers(max(1, THREADS - 1))


def chunks(extent: int, n: int) -> list[tuple[int, int]]:
    """``[0, extent)`` cut into ``n`` nearly equal ranges."""
    n = max(1, min(n, extent))
    edges = [extent * i // n for i in range(n + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


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
        proto = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * n, ctypes.c_int64, ctypes.c_int64)
        self.fn = proto(compiled.address)  # CFUNCTYPE releases the GIL during the call
        limit = PARALLEL_THRESHOLD if threshold is None else threshold
        parallel = lowered.work >= limit and lowered.extent > 1
        self.ranges = chunks(lowered.extent, (threads or THREADS) if parallel else 1)
        self._scratch: list[list[tuple[np.ndarray, int]]] = []  # per extra chunk
        self._busy = threading.Lock()

    @property
    def parallel(self) -> bool:
        return len(self.ranges) > 1

    def _private(self, t: int, outputs: Sequence[np.ndarray]) -> list[tuple[np.ndarray, int]]:
        """Chunk ``t``'s own reduction outputs (reused across calls)."""
        while len(self._scratch) < t:
            bufs = [np.empty_like(outputs[i]) for i, _ in self.lowered.reductions]
            self._scratch.append([(b, b.ctypes.data) for b in bufs])
        return self._scratch[t - 1]

    def run(self, addresses: list[int], outputs: Sequence[np.ndarray]) -> None:
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
