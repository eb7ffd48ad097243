"""The cost of splitting a compiled kernel across threads: 1 vs N threads by kernel size.

Sets ``runtime/kernels.py``'s split thresholds (Note [split threshold]): every kernel here is
compiled with splitting forced on, then timed on 1 thread and on all threads, on the native
pool (Note [native thread pool]) and on the Python worker threads, interleaved, as medians
with the interquartile range. The hand-off cost is the N-thread time minus 1/N of the
1-thread time on the smallest kernels; splitting pays from the work where the N-thread median
is below the 1-thread one.

    python -m adjit.benchmarks.thread_handoff [--threads 2] [--repeats 31] [--pools native python]
    python -m adjit.benchmarks.thread_handoff --gaps resnet18   # or transformer

``--gaps`` times the gaps between the split kernel calls of a compiled train step instead,
which sets the native pool's spin time (Note [pool spin time] in runtime/native_pool.py).
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
            number = max(3, int(1e6 // n))  # a few ms a sample
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


def gaps(model: str, threads: int) -> None:
    """The split kernel calls of one compiled train step of ``model``, and the gaps between
    them (from one call's end to the next one's start)."""
    from . import models, peers

    peers.set_threads(threads)
    calls: list[tuple[float, float]] = []
    split = kernels.KernelRunner._split

    def timed(runner: kernels.KernelRunner, *args: Any) -> None:
        t0 = time.perf_counter()
        split(runner, *args)
        calls.append((t0, time.perf_counter()))

    kernels.KernelRunner._split = timed  # type: ignore[method-assign]
    size = models.TRANSFORMER if model == "transformer" else {"model": model, "batch": 8}
    step = models._train("adjit", size, True)()
    for _ in range(4):  # compiled, probed (Note [split threshold])
        step()
    calls.clear()
    step()
    kernels.KernelRunner._split = split  # type: ignore[method-assign]
    us = np.array([b[0] - a[1] for a, b in zip(calls[:-1], calls[1:], strict=True)]) * 1e6
    print(f"{model}, {threads} threads: {len(calls)} split calls a step; gaps between them:")
    for limit in (20, 50, 100, 200, 500, 1000, 5000):
        print(f"  under {limit:5d} µs: {np.mean(us < limit):4.0%}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeats", type=int, default=31)
    p.add_argument("--sizes", type=int, nargs="*", default=SIZES, help="elements")
    p.add_argument("--pools", nargs="*", default=["native", "python"], help="native, python")
    p.add_argument("--gaps", metavar="MODEL", help="resnet18, transformer: see above")
    args = p.parse_args()
    if args.gaps:
        gaps(args.gaps, args.threads)
        return
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
