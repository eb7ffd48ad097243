"""Whether adjit's workers have been getting cores for the blocks of split products."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

# Note [workers without a core]
# A split product (Note [split products] in split_gemm.py) gains only when a worker gets a core
# while the caller runs its own block. On a machine whose other processes hold every core the
# worker runs late or is preempted mid-block: the caller runs the blocks itself, or waits for a
# worker's block, and pays the worker's wake-up and the blocks' repacking on top (W2's step at
# 2 threads, two split products, load ~8: 2.14 ms of CPU and 6.9 ms wall against 1.44 and 4.9
# with the products unsplit; at 1 thread 1.40 and 4.9). So each split is judged after it ran:
# a miss when the caller ran every block (no worker came) or waited for the others longer than
# MISS_WAIT of its own time in blocks. Past MISSES misses in a row the next ALONE splits run
# their blocks on the caller alone, waking no worker, then splits are tried again. The blocks
# are the same either way (their edges depend only on the shapes and the thread count), so
# the results' bits never depend on this: only who runs the blocks does.
MISSES = 3
MISS_WAIT = 0.5
ALONE = 32
# Note [CPU pressure]
# A worker that comes in time is no gain either when every core is contended: two blocks run at
# once each took 240-270 µs of CPU where half the product takes 200 on its own (W2's (128, 784)
# @ (784, 256), load ~7), and the process's share of the machine is what bounds its wall time.
# W2 b128's step at 2 threads, split / blocks on the caller alone / 1 thread, interleaved
# medians: load ~9, CPU 2.45 / 2.07 / 1.83 ms, wall 9.3 / 7.4 / 6.4 ms; load ~7, CPU 2.35 / 2.33
# / 1.71, wall 7.0 / 6.3 / 4.7 (b1024: wall 32.1 / 30.8 / 26.2). Linux reports how much of the
# last 10 s some runnable task waited for a CPU (PSI, /proc/pressure/cpu, ``some avg10``): from
# PRESSURE percent no core is free for a worker, and splits run their blocks on the caller
# alone. The file is read at most every PRESSURE_EVERY seconds; where it is missing (not Linux,
# PSI off) only the misses decide. On a quiet machine (pressure low) nothing changes.
PRESSURE = 50.0
PRESSURE_EVERY = 0.5
PSI = "/proc/pressure/cpu"


def cpu_pressure() -> float | None:
    """PSI's ``some avg10`` for the CPU, percent; None where it cannot be read."""
    try:
        with open(PSI) as f:
            first = f.readline()
    except OSError:
        return None
    for field in first.split():
        if field.startswith("avg10="):
            try:
                return float(field[6:])
            except ValueError:
                return None
    return None


class Watch:
    """The recent splits' record (one a process; counts read and written under the GIL)."""

    def __init__(self) -> None:
        self.misses = 0
        self.alone = 0  # splits left to run on the caller alone
        self.pressure: float | None = None  # the last cpu_pressure() read (Note [CPU pressure])
        self.read_at = -PRESSURE_EVERY

    def contended(self) -> bool:
        """Whether the CPU pressure is at least PRESSURE (read at most every PRESSURE_EVERY s)."""
        now = time.monotonic()
        if now - self.read_at >= PRESSURE_EVERY:
            self.pressure, self.read_at = cpu_pressure(), now
        return self.pressure is not None and self.pressure >= PRESSURE

    def run(
        self,
        fn: Callable[..., None],
        calls: list[tuple[Any, ...]],
        split: Callable[[Callable[..., None], list[tuple[Any, ...]], int], None],
    ) -> None:
        """``fn(*call)`` for every call: by ``split(fn, calls, threads)`` (the caller and the
        workers), or on the caller alone after workers kept missing (Note [workers without a
        core])."""
        if self.alone or self.contended():
            self.alone = max(0, self.alone - 1)
            split(fn, calls, 1)  # (the caller's blocks in turn)
            return
        caller = threading.get_ident()
        mine = [0, 0.0, 0.0]  # the caller's blocks, its seconds in them, when it left the last

        def block(*call: Any) -> None:
            if threading.get_ident() != caller:
                fn(*call)
                return
            t0 = time.perf_counter()
            fn(*call)
            mine[2] = time.perf_counter()
            mine[0], mine[1] = mine[0] + 1, mine[1] + mine[2] - t0

        split(block, calls, len(calls))
        waited = time.perf_counter() - mine[2] if mine[0] else 0.0
        if mine[0] == len(calls) or waited > MISS_WAIT * mine[1]:
            self.misses += 1
            if self.misses >= MISSES:
                self.misses, self.alone = 0, ALONE
        else:
            self.misses = 0


WATCH = Watch()
