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
# (runtime/workers.py) that was 30-100 µs on these 2-core VMs (waking a worker and passing the GIL
# to and fro); on the native pool (Note [native thread pool] in codegen/thread_pool.py) it is a few
# µs (1024 elements of x * 2 + 1: 13.4 µs serial, 16.3 split, 59.1 on the Python workers), plus a
# futex wake-up of ~30-80 µs when the workers slept, which the caller does not wait for (it claims
# chunks itself). Measured with benchmarks/thread_handoff.py (2 threads vs 1, medians, one other
# process busy: load 1.05): x * 2 + 1 on 65536 elements 1.25x (Python workers 0.42x), 262144 1.33x
# (0.55x), 1M 1.52x (1.08x); exp(sin(...)) on 16384 1.17x, 65536 1.28x (0.44x), 1M 1.56x (1.34x); a
# sum over the split loop (private partial sums combined) 262144 0.78x, 1M 1.34x (0.77x). But
# whether splitting pays depends on more than the size: the estimate ``work`` (elements x equations)
# does not tell a memory-bound kernel from a compute-bound one, and with more of the machine busy
# (load 1.3-2.8, other engineers' processes) the second core is rarely free and every kernel
# measured ran slower split (exp(sin) 1M 0.9-1.0x, a 1M sum 0.6-0.9x). So no size is right
# everywhere, and each kernel measures: one of at least PARALLEL_THRESHOLD work (REDUCE_THRESHOLD if
# it reduces across its split loop) runs its first PROBES calls timed, serial and split in turn, and
# keeps splitting only if its fastest split call took at most SPLIT_GAIN of its fastest serial one.
# Splitting never changes an elementwise kernel's results; a kernel reducing across the split loop
# combines per-chunk partial results, so it runs its chunks in either case (on the caller alone when
# splitting did not pay) and its results depend only on the thread count, never on the timing.
# Running the chunks alone costs ~6-10 µs over a plain serial call (the partials and their
# combination; a sum of 1M float32: 147 vs 158 µs), hence REDUCE_THRESHOLD (a sum of ~350K elements,
# ~60 µs; 262144 lost split even at load 1.05) above PARALLEL_THRESHOLD (exp(sin) on 16384 elements,
# ~20 µs, the shortest kernel that gained). The chunks of a split call are claimed by whoever is
# free, the caller included: a worker that does not get a core in time costs only its wake-up, never
# a wait for its share.
PARALLEL_THRESHOLD = 1 << 16
REDUCE_THRESHOLD = 1 << 20
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
        # Note [split threshold]: timed calls, serial and split, decide whether splitting pays
        probe = parallel and threshold is None
        self._probes, self._best = (PROBES if probe else 0), [math.inf, math.inf]
        self._together = True  # reduce_outer: chunks shared with workers (else the caller's)

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
                if self._probes:
                    self._probe(addresses, outputs)
                else:
                    self._split(addresses, outputs, self._threads if self._together else 1)
        elif self._probes:
            self._probe(addresses, outputs)
        else:
            self._split(addresses, outputs, self._threads)

    def _probe(self, addresses: list[int], outputs: Sequence[np.ndarray]) -> None:
        """A timed call, serial and split in turn; after PROBES of them, stay serial unless
        splitting paid (Note [split threshold]). A kernel reducing across its split loop runs
        its chunks either way, on the caller alone when serial: the same results."""
        split = self._probes % 2 == 1  # PROBES is even: serial first
        t0 = time.perf_counter()
        if split or self.lowered.reduce_outer:
            self._split(addresses, outputs, self._threads if split else 1)
        else:
            self.fn(*addresses, 0, self.lowered.extent)
        seconds = time.perf_counter() - t0
        self._best[split] = min(self._best[split], seconds)
        self._probes -= 1
        if not self._probes and not split_pays(*self._best):
            if self.lowered.reduce_outer:
                self._together = False
            else:
                self._parallel, self.ranges = False, [(0, self.lowered.extent)]

    def _split(self, addresses: list[int], outputs: Sequence[np.ndarray], threads: int) -> None:
        """Run the chunks on up to ``threads`` threads: the native pool's (Note [native thread
        pool] in codegen/thread_pool.py), else the Python workers."""
        native = native_pool.get()
        arity, n = len(addresses), len(self.ranges)
        if native is None or arity > native_pool.MAX_ARITY:
            self._split_python(addresses, outputs, threads)
            return
        if not self.lowered.reduce_outer:  # every chunk reads the same argument row
            row = (ctypes.c_void_p * arity)(*addresses)
            at = ctypes.addressof(row)
            native.run(arity, self.compiled.address, at, 0, self.lowered.extent, n, threads)
            return
        rows, at, private = self._rows(outputs)  # one row of arguments a chunk
        rows[:] = addresses * n
        for k, p in private:  # chunks 1.. write their reductions to their own buffers
            rows[k] = p
        native.run(arity, self.compiled.address, at, arity, self.lowered.extent, n, threads)
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

    def _split_python(
        self, addresses: list[int], outputs: Sequence[np.ndarray], threads: int
    ) -> None:
        """Run the chunks: caller and workers claim them in turn (Note [split threshold])."""
        private = self.lowered.reduce_outer
        calls = []
        for t, (lo, hi) in enumerate(self.ranges):
            args = list(addresses)
            if private and t:  # the split loop reduces: each chunk accumulates into its own
                for i, p in zip(self._reduced, self._private(t, outputs), strict=True):
                    args[i] = p
            calls.append((*args, lo, hi))
        run_split(self.fn, calls, threads)
        if private:
            self._combine(outputs)


def run_split(fn: Any, calls: list[tuple[Any, ...]], threads: int) -> None:
    """``fn(*call)`` for every call, claimed in turn by the caller and up to ``threads`` - 1 of
    adjit's Python workers (Note [split threshold]); re-raises what a call raised."""
    split = Split(fn, calls)
    workers_ = pool()
    for _ in range(min(threads, len(calls)) - 1):
        workers_.submit(split.work)
    split.work()
    split.wait()


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
        self.fn, self.calls = None, []  # Note [idle workers hold nothing]
        if self.error is not None:
            raise self.error
