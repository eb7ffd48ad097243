"""Calling compiled kernels through ctypes; large ones split over a small thread pool."""

from __future__ import annotations

import ctypes
import itertools
import math
import os
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..codegen.jit import CompiledKernel
from ..ir.ops import Op
from .workers import Workers, num_threads, workers

if TYPE_CHECKING:  # imported where used: it costs ~20 ms (llvmlite.ir)
    from ..codegen.kernel_cache import KernelInfo

# Note [split threshold]
# Splitting a kernel across threads costs a hand-off: waking a worker and passing the GIL to
# and fro, 30-40 µs on these 2-core VMs (benchmarks/thread_handoff.py: a 1024-element kernel
# takes 8 µs on one thread, 42 µs split over two). And the estimate ``work`` (elements x
# equations) does not tell a memory-bound kernel from a compute-bound one: measured with one
# other process busy, ``x * 2 + 1`` (0.08 ns of work unit) is slower split up to 2M elements
# (326 µs serial: 0.94x) and faster only from 4M (1.4x), while ``exp(sin(...))`` (0.45 ns a
# unit) wins from 65536 elements (120 µs serial: 1.18x; 67 µs: 0.89x). So a kernel of at least
# PARALLEL_THRESHOLD work that does not reduce across its split loop runs its first PROBES
# calls serially, timed, and splits only if the fastest took SPLIT_ALWAYS_S, or SPLIT_MIN_S
# at SPLIT_MIN_S_PER_WORK or more (compute-bound). Splitting such a kernel never changes its
# results, so the timed choice is safe; kernels that reduce across the split loop (their
# partial sums are combined) keep the fixed threshold, for reproducible results. The chunks of
# a split call are claimed by whoever is free, the caller included (``Split``): a worker that
# does not get a core in time costs only its wake-up, never a wait for its share.
PARALLEL_THRESHOLD = 1 << 17
PROBES = 3
SPLIT_ALWAYS_S = 1e-3
SPLIT_MIN_S = 100e-6
SPLIT_MIN_S_PER_WORK = 0.25e-9
# Note [the GIL in kernel calls]
# A CFUNCTYPE call releases the GIL around the kernel, so other Python threads run meanwhile;
# getting it back costs little when no other thread wants it, but when one does (a library's
# worker or watchdog thread waking up; torch.compile's, for one) the caller waits for it: W4's
# 9 µs call took 25 µs in a process that had run torch.compile. A kernel shorter than that
# handoff (below GIL_THRESHOLD work, a few µs) is called through PYFUNCTYPE and keeps the
# GIL; longer and split kernels release it, as they must for threads to run them in parallel.
GIL_THRESHOLD = 1 << 14
PIECES = 4  # a split kernel's chunks per thread (Note [split threshold])
THREADS = os.cpu_count() or 1  # the default of adjit.set_num_threads (runtime/workers.py)
# how partial reduction outputs of threads that split a reduced loop are combined
COMBINE: dict[Op, np.ufunc] = {Op.SUM: np.add, Op.AMAX: np.maximum, Op.AMIN: np.minimum}


def pool() -> Workers:
    """The process-wide worker threads (the calling thread runs one chunk itself)."""
    return workers(max(1, num_threads() - 1))


def worth_splitting(seconds: float, work: int) -> bool:
    """Whether a kernel whose serial call takes ``seconds`` runs faster split (Note [split
    threshold])."""
    return seconds >= SPLIT_ALWAYS_S or (
        seconds >= SPLIT_MIN_S and seconds / max(work, 1) >= SPLIT_MIN_S_PER_WORK
    )


def pieces(threads: int) -> int:
    """A split kernel's chunk count: one on one thread, else PIECES a thread."""
    return 1 if threads <= 1 else threads * PIECES


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
        self.ranges = chunks(lowered.extent, pieces(self._threads) if parallel else 1)
        # Note [the GIL in kernel calls]
        kind = ctypes.CFUNCTYPE if parallel or lowered.work >= GIL_THRESHOLD else ctypes.PYFUNCTYPE
        proto = kind(None, *[ctypes.c_void_p] * n, ctypes.c_int64, ctypes.c_int64)
        self.fn = proto(compiled.address)
        # the same code without argument types, for argument tuples converted once (Note
        # [prebuilt arguments])
        self.bare = kind(None)(compiled.address)
        self._scratch: list[list[tuple[np.ndarray, int]]] = []  # per extra chunk
        self._busy = threading.Lock()
        # Note [split threshold]: serial calls timed first decide whether splitting pays
        probe = parallel and threshold is None and not lowered.reduce_outer
        self._probes, self._best = (PROBES if probe else 0), math.inf

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
            self.ranges = chunks(self.lowered.extent, pieces(self._threads))
        if self._probes:
            self._probe(addresses)
            return
        if len(self.ranges) == 1:
            self.fn(*addresses, 0, self.lowered.extent)
            return
        if self.lowered.reduce_outer:  # the chunks' private buffers are this runner's: one
            with self._busy:  # call at a time uses them (calls from other threads wait)
                self._split(addresses, outputs)
        else:
            self._split(addresses, outputs)

    def _probe(self, addresses: list[int]) -> None:
        """A serial call, timed; after PROBES of them, stay serial if splitting would not pay."""
        t0 = time.perf_counter()
        self.fn(*addresses, 0, self.lowered.extent)
        self._best = min(self._best, time.perf_counter() - t0)
        self._probes -= 1
        if not self._probes and not worth_splitting(self._best, self.lowered.work):
            self._parallel, self.ranges = False, [(0, self.lowered.extent)]

    def _split(self, addresses: list[int], outputs: Sequence[np.ndarray]) -> None:
        """Run the chunks: caller and workers claim them in turn (Note [split threshold])."""
        private = self.lowered.reduce_outer
        calls = []
        for t, (lo, hi) in enumerate(self.ranges):
            args = list(addresses)
            if private and t:  # the split loop reduces: each chunk accumulates into its own
                for (i, _), (_, p) in zip(
                    self.lowered.reductions, self._private(t, outputs), strict=True
                ):
                    args[i] = p
            calls.append((*args, lo, hi))
        split = Split(self.fn, calls)
        workers_ = pool()
        for _ in range(min(self._threads, len(calls)) - 1):
            workers_.submit(split.work)
        split.work()
        split.wait()
        if private:
            for t in range(1, len(self.ranges)):
                for (i, op), (buf, _) in zip(
                    self.lowered.reductions, self._scratch[t - 1], strict=True
                ):
                    COMBINE[op](outputs[i], buf, out=outputs[i])


class Split:
    """One split call's chunks: whoever is free claims the next (Note [split threshold])."""

    __slots__ = ("fn", "calls", "next", "done", "error")

    def __init__(self, fn: Any, calls: list[tuple[Any, ...]]) -> None:
        self.fn, self.calls = fn, calls
        self.next = itertools.count()  # next() is atomic under the GIL
        self.done = [threading.Lock() for _ in calls]
        for lock in self.done:
            lock.acquire()
        self.error: BaseException | None = None

    def work(self) -> None:
        """Claim and run chunks until none are left (a worker that starts late finds none)."""
        while (i := next(self.next)) < len(self.calls):
            try:
                self.fn(*self.calls[i])
            except BaseException as e:  # noqa: BLE001 -- re-raised by the caller
                self.error = e
            finally:
                self.done[i].release()

    def wait(self) -> None:
        """Wait for the chunks others claimed (their locks; the caller's are released already)."""
        for lock in self.done:
            lock.acquire()
        if self.error is not None:
            raise self.error
