"""An MLP training step over 20 batch sizes: traces, compile time per new size, per-call time.

Run: ``python -m adjit.benchmarks.dynamic_shapes [--threads 1] [--repeats 30] [--cold]``.
The same step (Linear 64-128-128-10, ReLU, cross-entropy, SGD) is compiled three ways:
``dynamic=False`` (one static trace per size), the default ``dynamic=None`` (static first,
then one symbolic trace once a size changes: Note [one trace, many sizes]) and
``dynamic=True``. Each sees the 20 sizes in the same order (an epoch's last partial batch
included); the report gives the number of traces, the first-call time at each size (tracing,
the passes and, for a new size, instantiating and compiling), and the per-call median (with
the interquartile range) at each size, and the ratio of each symbolic policy to the static
one. First calls: each policy in a fresh process of its own (no policy warms another's
kernels; ``--cold`` gives each an empty kernel cache directory, a fresh machine). Per call:
the three in one process, interleaved size by size.
Issue 16's bars: <= 2 traces by default, 1 with dynamic=True, per-call within 10% of static.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable

SIZES = [64, 64 - 1, 48, 32, 17, 100, 128, 96, 80, 72, 56, 40, 24, 16, 8, 120, 112, 88, 50, 37]
POLICIES: dict[str, bool | None] = {"static": False, "default": None, "dynamic": True}


def _step(policy: bool | None) -> tuple[Callable[..., object], object]:
    import adjit

    adjit.manual_seed(0)
    model = adjit.nn.Sequential(
        adjit.nn.Linear(64, 128),
        adjit.nn.ReLU(),
        adjit.nn.Linear(128, 128),
        adjit.nn.ReLU(),
        adjit.nn.Linear(128, 10),
    )
    opt = adjit.optim.SGD(model.parameters(), lr=1e-3)

    def step(x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
        opt.zero_grad()
        loss = adjit.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    compiled = adjit.compile(step, dynamic=policy)
    return compiled, compiled


def _quartiles(xs: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def _data(threads: int) -> dict[int, tuple]:
    import adjit

    adjit.set_num_threads(threads)
    warnings.simplefilter("ignore")  # dynamic=False warns about its many traces, as it should
    rng = __import__("numpy").random.default_rng(0)
    return {
        n: (
            adjit.tensor(rng.standard_normal((n, 64)).astype("float32")),
            adjit.tensor(rng.integers(0, 10, n)),
        )
        for n in SIZES
    }


def _measure(name: str, threads: int) -> dict:
    """One policy in a fresh process: the epoch's first calls, traces, memory."""
    data = _data(threads)
    fn, handle = _step(POLICIES[name])
    rss0 = _rss_mb()
    first = []
    for n in SIZES:  # the epoch: each size once, in order
        t0 = time.perf_counter()
        fn(*data[n])
        first.append(time.perf_counter() - t0)
    grown = _rss_mb() - rss0
    traces = handle.trace_count  # type: ignore[attr-defined]
    return {"first": first, "traces": traces, "rss_mb": grown}


def _per_call(threads: int, repeats: int) -> dict[str, dict[int, tuple[float, float, float]]]:
    """Every policy in this one process, after its epoch, timed interleaved round by round
    (the same memory and machine state for each: separate processes differed by up to 10%
    from run to run)."""
    data = _data(threads)
    steps = {name: _step(policy)[0] for name, policy in POLICIES.items()}
    for fn in steps.values():
        for n in SIZES:
            fn(*data[n])
    times: dict[str, dict[int, list[float]]] = {k: {n: [] for n in SIZES} for k in steps}
    for _ in range(repeats):
        for n in SIZES:
            for k, fn in steps.items():
                t0 = time.perf_counter()
                fn(*data[n])
                times[k][n].append(time.perf_counter() - t0)
    return {k: {n: _quartiles(v) for n, v in t.items()} for k, t in times.items()}


def _rss_mb() -> float:
    """This process's resident memory (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            line = next(x for x in f if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--cold", action="store_true", help="start from an empty kernel cache")
    p.add_argument("--only", choices=list(POLICIES), help=argparse.SUPPRESS)  # (a child)
    args = p.parse_args()
    if args.only:
        print(json.dumps(_measure(args.only, args.threads)))
        return
    results = {}
    for name in POLICIES:
        env = dict(os.environ)
        if args.cold:
            env["ADJIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="adjit-cold-")
        cmd = [sys.executable, "-m", "adjit.benchmarks.dynamic_shapes", "--only", name]
        cmd += ["--threads", str(args.threads)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
    first = {k: r["first"] for k, r in results.items()}
    traces = {k: r["traces"] for k, r in results.items()}
    per_call = _per_call(args.threads, args.repeats)
    print(f"threads: {args.threads} (adjit kernels and BLAS); repeats per size: {args.repeats}")
    print(f"kernel cache: {'cold (empty directory)' if args.cold else 'as found'}")
    for name in POLICIES:
        total = sum(first[name])
        print(
            f"{name:8s} dynamic={POLICIES[name]!s:5s} traces={traces[name]:2d}  "
            f"first calls over the 20 sizes: {total * 1e3:8.1f} ms "
            f"(first size {first[name][0] * 1e3:.1f} ms, later new sizes median "
            f"{statistics.median(first[name][2:]) * 1e3:.1f} ms), "
            f"RSS +{results[name]['rss_mb']:.1f} MB over the 20 sizes"
        )
    print("\nper-call median ms [IQR] at each size, and the ratio to static")
    print(f"{'size':>5} " + " ".join(f"{k:>24}" for k in POLICIES))
    worst = {k: 0.0 for k in POLICIES}
    for n in SIZES:
        cells = []
        for k in POLICIES:
            lo, med, hi = per_call[k][n]
            ratio = med / per_call["static"][n][1]
            worst[k] = max(worst[k], ratio)
            cells.append(f"{med * 1e3:6.3f} [{lo * 1e3:.3f},{hi * 1e3:.3f}] {ratio:4.2f}x")
        print(f"{n:>5} " + " ".join(f"{c:>24}" for c in cells))
    print("worst ratio to static: " + ", ".join(f"{k} {v:.2f}x" for k, v in worst.items()))


if __name__ == "__main__":
    main()
