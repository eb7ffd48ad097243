"""The cost of splitting a compiled kernel across threads: 1 vs 2 threads by kernel size.

Sets ``runtime/kernels.py``'s PARALLEL_THRESHOLD (Note [split threshold]): every kernel here is
compiled with splitting forced on, then timed on 1 thread and on all threads, interleaved, as
medians with the interquartile range. The hand-off cost is the 2-thread time minus half the
1-thread time on the smallest kernels; splitting pays from the work where the 2-thread median
is below the 1-thread one.

    python benchmarks/thread_handoff.py [--threads 2] [--repeats 31]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.runtime import kernels

import adjit

SIZES = [1 << k for k in range(10, 23)]  # 1e3 .. 4e6 elements


def _programs() -> dict[str, Callable[[Any], Any]]:
    """A cheap kernel (~2 flops an element) and an expensive one (transcendentals)."""
    return {
        "cheap": lambda x: x * 2.0 + 1.0,
        "exp": lambda x: (x * 2.0 + 1.0).exp(),
        "exp+sin": lambda x: (x * 2.0 + 1.0).exp().sin(),
    }


def _time(fn: Callable[[Any], Any], x: Any, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn(x)
    return (time.perf_counter() - t0) / number * 1e6


def measure(threads: int, repeats: int, sizes: list[int]) -> list[dict[str, Any]]:
    """Per program and size: 1-thread and ``threads``-thread medians and IQRs in µs."""
    kernels.PARALLEL_THRESHOLD = 1  # split everything: we measure what splitting costs
    kernels.PROBES = 0
    rows = []
    for name, body in _programs().items():
        for n in sizes:
            f = adjit.compile(body)
            x = adjit.from_numpy(np.random.default_rng(0).standard_normal(n).astype(np.float32))
            f(x), f(x)
            number = max(1, int(2e5 // n))
            samples: dict[int, list[float]] = {1: [], threads: []}
            for r in range(repeats):
                for t in (1, threads) if r % 2 else (threads, 1):
                    adjit.set_num_threads(t)
                    samples[t].append(_time(f, x, number))
            row: dict[str, Any] = {"program": name, "elements": n}
            for t, v in samples.items():
                q = statistics.quantiles(v, n=4)
                row[t] = (q[1], q[2] - q[0])
            rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeats", type=int, default=31)
    p.add_argument("--sizes", type=int, nargs="*", default=SIZES, help="elements")
    args = p.parse_args()
    print(f"load average {os.getloadavg()}, {args.threads} threads vs 1 (µs per call)")
    print(f"{'program':>8} {'elements':>9} {'1 thread':>16} {f'{args.threads} threads':>16} ratio")
    for row in measure(args.threads, args.repeats, args.sizes):
        (m1, s1), (mn, sn) = row[1], row[args.threads]
        print(
            f"{row['program']:>8} {row['elements']:>9} {m1:9.1f} ±{s1:5.1f} {mn:9.1f} ±{sn:5.1f}"
            f" {m1 / mn:5.2f} {m1 * 1e3 / row['elements']:6.3f} ns/element (1 thread)"
        )


if __name__ == "__main__":
    main()
