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
from . import native_pool
from .workers import Workers, num_threads, workers

if TYPE_CHECKING:  # imported where used: it costs ~20 ms (llvmlite.ir)
    from ..codegen.kernel_cache import KernelInfo

# Note [split threshold]
# Splitting a kernel across threads costs a hand-off. On the Python worker threads
# (runtime/workers.py) that was 30-100 µs on these 2-core VMs (waking a worker and passing the
# GIL to and fro); on the native pool (Note [native thread pool] in codegen/thread_pool.py) it
# is a few µs while its workers spin, ~30-80 µs of a futex wake-up after they slept, which the
# caller does not wait for (it claims chunks itself). And the estimate ``work`` (elements x
# equations) does not tell a memory-bound kernel from a compute-bound one (``x * 2 + 1`` 0.08
# ns a unit of work, ``exp(sin(...))`` 0.45 ns), nor does it see what else wants the cores. So
# a kernel of at least PARALLEL_THRESHOLD work that does not reduce across its split loop runs
# its first PROBES calls timed, serial and split in turn, and keeps splitting only if the
# fastest split call took at most SPLIT_GAIN of the fastest serial one. Splitting such a kernel
# never changes its results, so the timed choice is safe; kernels that reduce across the split
# loop (their partial sums are combined) split by a fixed threshold, REDUCE_THRESHOLD, for
# reproducible results. The chunks of a split call are claimed by whoever is free, the caller
# included: a worker that does not get a core in time costs only its wake-up, never a wait for
# its share. Measured with benchmarks/thread_handoff.py (numbers in the commit that set them).
PARALLEL_THRESHOLD = 1 << 17
REDUCE_THRESHOLD = 1 << 17
PROBES = 6
SPLIT_GAIN = 0.85
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


def split_pays(serial: float, split: float) -> bool:
    """Whether a kernel whose fastest timed calls took ``serial`` and ``split`` seconds should
    be split from now on (Note [split threshold])."""
    return split < serial * SPLIT_GAIN


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
        if threshold is not None:
            limit = threshold
        else:
            limit = REDUCE_THRESHOLD if lowered.reduce_outer else PARALLEL_THRESHOLD
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
        # per reduction output: the private partial results of chunks 1.. (reduce_outer)
        self._partials: list[np.ndarray] = []
        self._partial_at: list[list[int]] = []  # their addresses, by chunk
        self._busy = threading.Lock()
        self._arg_rows: Any = None  # reduce_outer: the chunks' argument rows (``_rows``)
        self._reduced = [i for i, _ in lowered.reductions]  # outputs chunks keep private
        self._shared = [i for i in range(n) if i not in self._reduced]
        # Note [split threshold]: timed calls, serial and split, decide whether splitting pays
        probe = parallel and threshold is None and not lowered.reduce_outer
        self._probes, self._best = (PROBES if probe else 0), [math.inf, math.inf]

    @property
    def parallel(self) -> bool:
        """Split now, or may be after adjit.set_num_threads (then calls must go through run)."""
        follows = self._parallel and self._split_across is None and THREADS > 1
        return follows or len(self.ranges) > 1

    def _private(self, t: int, outputs: Sequence[np.ndarray]) -> list[int]:
        """The addresses of chunk ``t``'s own reduction outputs (t >= 1; reused across calls,
        made again when the chunk count changes)."""
        n = len(self.ranges)
        if not self._partials or len(self._partials[0]) != n - 1:
            self._partials = [
                np.empty((n - 1, *outputs[i].shape), outputs[i].dtype)
                for i, _ in self.lowered.reductions
            ]
            self._arg_rows = None
            self._partial_at = [
                [p.ctypes.data + t * p.strides[0] for p in self._partials] for t in range(n - 1)
            ]
        return self._partial_at[t - 1]

    def run(self, addresses: list[int], outputs: Sequence[np.ndarray]) -> None:
        if self._parallel and self._split_across is None and self._threads != num_threads():
            self._threads = num_threads()  # Note [thread count] in runtime/workers.py
            self.ranges = chunks(self.lowered.extent, pieces(self._threads))
        if len(self.ranges) == 1:
            self.fn(*addresses, 0, self.lowered.extent)
            return
        if self.lowered.reduce_outer:  # the chunks' private buffers are this runner's: one
            with self._busy:  # call at a time uses them (calls from other threads wait)
                self._split(addresses, outputs)
        elif self._probes:
            self._probe(addresses, outputs)
        else:
            self._split(addresses, outputs)

    def _probe(self, addresses: list[int], outputs: Sequence[np.ndarray]) -> None:
        """A timed call, serial and split in turn; after PROBES of them, stay serial unless
        splitting paid (Note [split threshold])."""
        split = self._probes % 2 == 1  # PROBES is even: serial first
        t0 = time.perf_counter()
        if split:
            self._split(addresses, outputs)
        else:
            self.fn(*addresses, 0, self.lowered.extent)
        seconds = time.perf_counter() - t0
        self._best[split] = min(self._best[split], seconds)
        self._probes -= 1
        if not self._probes and not split_pays(*self._best):
            self._parallel, self.ranges = False, [(0, self.lowered.extent)]

    def _split(self, addresses: list[int], outputs: Sequence[np.ndarray]) -> None:
        """Run the chunks on the native pool (Note [native thread pool] in
        codegen/thread_pool.py), else on the Python workers."""
        native = native_pool.get()
        arity, n = len(addresses), len(self.ranges)
        if native is None or arity > native_pool.MAX_ARITY:
            self._split_python(addresses, outputs)
            return
        if not self.lowered.reduce_outer:  # every chunk reads the same argument row
            row = (ctypes.c_void_p * arity)(*addresses)
            at = ctypes.addressof(row)
            native.run(arity, self.compiled.address, at, 0, self.lowered.extent, n, self._threads)
            return
        rows, at, private = self._rows(outputs)  # one row of arguments a chunk
        rows[:] = addresses * n
        for k, p in private:  # chunks 1.. write their reductions to their own buffers
            rows[k] = p
        native.run(arity, self.compiled.address, at, arity, self.lowered.extent, n, self._threads)
        self._combine(outputs)

    def _rows(self, outputs: Sequence[np.ndarray]) -> tuple[Any, int, list[tuple[int, int]]]:
        """A reduce_outer kernel's argument rows (``len(ranges)`` x arity pointers), their
        address, and the (slot, address) of the chunks' private reduction outputs."""
        n, arity = len(self.ranges), self.lowered.n_outputs + self.lowered.n_inputs
        if self._arg_rows is None or len(self._arg_rows[0]) != n * arity:
            self._private(1, outputs)  # (made first: making them forgets the rows)
            rows = (ctypes.c_void_p * (n * arity))()
            private = [
                (t * arity + i, p)
                for t in range(1, n)
                for i, p in zip(self._reduced, self._private(t, outputs), strict=True)
            ]
            self._arg_rows = rows, ctypes.addressof(rows), private
        return self._arg_rows

    def _combine(self, outputs: Sequence[np.ndarray]) -> None:
        """Fold the chunks' private reduction outputs into the real ones: the partials of chunks
        1.. reduced in order, then added to chunk 0's (one order for any pool)."""
        for (i, op), partial in zip(self.lowered.reductions, self._partials, strict=True):
            ufunc = COMBINE[op]
            ufunc(outputs[i], ufunc.reduce(partial, axis=0), out=outputs[i])

    def _split_python(self, addresses: list[int], outputs: Sequence[np.ndarray]) -> None:
        """Run the chunks: caller and workers claim them in turn (Note [split threshold])."""
        private = self.lowered.reduce_outer
        calls = []
        for t, (lo, hi) in enumerate(self.ranges):
            args = list(addresses)
            if private and t:  # the split loop reduces: each chunk accumulates into its own
                for i, p in zip(self._reduced, self._private(t, outputs), strict=True):
                    args[i] = p
            calls.append((*args, lo, hi))
        split = Split(self.fn, calls)
        workers_ = pool()
        for _ in range(min(self._threads, len(calls)) - 1):
            workers_.submit(split.work)
        split.work()
        split.wait()
        if private:
            self._combine(outputs)


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
