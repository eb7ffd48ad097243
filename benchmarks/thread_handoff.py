"""The cost of splitting a compiled kernel across threads: 1 vs N threads by kernel size.

Sets ``runtime/kernels.py``'s split thresholds (Note [split threshold]): every kernel here is
compiled with splitting forced on, then timed on 1 thread and on all threads, on the native
pool (Note [native thread pool]) and on the Python worker threads, interleaved, as medians
with the interquartile range. The hand-off cost is the N-thread time minus 1/N of the
1-thread time on the smallest kernels; splitting pays from the work where the N-thread median
is below the 1-thread one.

    python -m adjit.benchmarks.thread_handoff [--threads 2] [--repeats 31] [--pools native python]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.runtime import kernels, native_pool

import adjit

SIZES = [1 << k for k in range(10, 23)]  # 1e3 .. 4e6 elements


def _programs() -> dict[str, Callable[[Any], Any]]:
    """Cheap kernels (~2 flops an element; one summing over the split loop) and expensive
    ones (transcendentals)."""
    return {
        "cheap": lambda x: x * 2.0 + 1.0,
        "sum": lambda x: (x * 2.0 + 1.0).sum(),
        "exp": lambda x: (x * 2.0 + 1.0).exp(),
        "exp+sin": lambda x: (x * 2.0 + 1.0).exp().sin(),
    }


def _time(fn: Callable[[Any], Any], x: Any, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn(x)
    return (time.perf_counter() - t0) / number * 1e6


def _setting(config: str, threads: int) -> None:
    """``1``, or ``native``/``python``: ``threads`` threads on that pool."""
    adjit.set_num_threads(1 if config == "1" else threads)
    native_pool.ENABLED[0] = config != "python"


def measure(threads: int, repeats: int, sizes: list[int], pools: list[str]) -> list[dict[str, Any]]:
    """Per program and size: medians and IQRs in µs, on 1 thread and on ``threads`` threads
    with each of ``pools``."""
    kernels.PARALLEL_THRESHOLD = kernels.REDUCE_THRESHOLD = 1  # split everything: we measure
    kernels.PROBES = 0
    configs = ["1", *pools]
    rows = []
    for name, body in _programs().items():
        for n in sizes:
            f = adjit.compile(body)
            x = adjit.from_numpy(np.random.default_rng(0).standard_normal(n).astype(np.float32))
            for c in configs:
                _setting(c, threads)
                f(x), f(x)
            number = max(1, int(2e5 // n))
            samples: dict[str, list[float]] = {c: [] for c in configs}
            for r in range(repeats):
                for c in configs[r % len(configs) :] + configs[: r % len(configs)]:
                    _setting(c, threads)
                    samples[c].append(_time(f, x, number))
            row: dict[str, Any] = {"program": name, "elements": n}
            for c, v in samples.items():
                q = statistics.quantiles(v, n=4)
                row[c] = (q[1], q[2] - q[0])
            rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeats", type=int, default=31)
    p.add_argument("--sizes", type=int, nargs="*", default=SIZES, help="elements")
    p.add_argument("--pools", nargs="*", default=["native", "python"], help="native, python")
    args = p.parse_args()
    pools = [c for c in args.pools if c != "native" or native_pool.get() is not None]
    print(f"load average {os.getloadavg()}, {args.threads} threads vs 1 (µs per call)")
    heads = "".join(f" {f'{args.threads} threads, {c}':>22} ratio" for c in pools)
    print(f"{'program':>8} {'elements':>9} {'1 thread':>16}{heads}")
    for row in measure(args.threads, args.repeats, args.sizes, pools):
        m1, s1 = row["1"]
        cells = "".join(
            f" {row[c][0]:14.1f} ±{row[c][1]:5.1f} {m1 / row[c][0]:5.2f}" for c in pools
        )
        print(f"{row['program']:>8} {row['elements']:>9} {m1:9.1f} ±{s1:5.1f}{cells}")


if __name__ == "__main__":
    main()
