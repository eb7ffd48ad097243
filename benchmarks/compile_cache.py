"""Memory of a long-running process compiling thousands of signatures, with and without bounds.

Run: ``python -m adjit.benchmarks.compile_cache [--n 5000] [--every 500] [--modes both]``.
Each mode runs in a fresh process that compiles one layer-like function
(``relu(tanh(x) @ w + b).sum(1)``, ``dynamic=False``) for ``n`` distinct input shapes (``x`` is
``[r, c]`` with ``c`` cycling through 1..71 and ``r`` growing by one every 71 signatures, so
the data stays small and memory growth is the cache's), calling each twice (the second call
writes its trampoline), and reports its resident memory (VmRSS) and its number of memory
mappings (lines of ``/proc/self/maps``) every ``every`` signatures:
  - ``bounded``: the defaults (``adjit.compiler.config.cache_size_limit`` = 64 entries per
    function, ``loaded_kernel_limit`` = 4096 kernels per process);
  - ``unbounded``: both set to None (every specialization and its kernels kept, as adjit did
    before the bounds).
The table gives memory and mappings per signature (the growth from the first report to the
last, over the signatures in between). The bound it checks (Note [bounded compile caches]):
with the bounds, the process ends within ``RSS_BOUND_MB`` of its RSS at the first report and
within ``MAPS_BOUND`` mappings of its count there; the exit status is 1 when it does not.
The bound holds for kernels loaded from the disk cache, which is what a long-running process
re-compiling a signature it saw before does: the first run of a fresh cache compiles ~5,000
kernels (minutes), and each cold compile leaves ~65 KiB inside llvmlite's pass pipeline that
no unloading returns (Note [unloading kernels] in codegen/jit.py), so run it twice and read the
second run. ``--cache-dir`` picks the cache (``ADJIT_CACHE_DIR``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

RSS_BOUND_MB = 16.0  # growth allowed past the first report, with the bounds on (warm: 7.6)
MAPS_BOUND = 1000  # mappings allowed past the first report (64 entries: ~400 at 6 each)
WIDTHS = 71  # x's column counts cycle through 1..WIDTHS


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MiB (peak RSS off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def maps() -> int | None:
    """The number of memory mappings of this process (None without /proc)."""
    try:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def child(mode: str, n: int, every: int) -> None:
    """One fresh process: compile ``n`` signatures, print a JSON line per report."""
    from adjit.codegen import jit

    import adjit

    warnings.simplefilter("ignore")  # the recompile warning, once
    if mode == "unbounded":
        adjit.compiler.config.cache_size_limit = None
        adjit.compiler.config.loaded_kernel_limit = None

    def layer(x: adjit.Tensor, w: adjit.Tensor, b: adjit.Tensor) -> adjit.Tensor:
        return (x.tanh() @ w + b).relu().sum(1)  # a kernel over x's [r, c], one over [r, 16]

    f = adjit.compile(layer, dynamic=False)
    adjit.manual_seed(0)
    b = adjit.randn(16)
    start = time.perf_counter()
    for i in range(1, n + 1):
        r, c = 1 + (i - 1) // WIDTHS, 1 + (i - 1) % WIDTHS
        x, w = adjit.randn(r, c), adjit.randn(c, 16)  # a new signature, a new kernel
        f(x, w, b)
        f(x, w, b)
        if i % every == 0 or i == n:
            row = {
                "mode": mode,
                "signatures": i,
                "rss_mb": round(rss_mb(), 1),
                "maps": maps(),
                "entries": len(f._entries),
                "loaded_kernels": jit.loaded_count(),
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(json.dumps(row), flush=True)


def run_mode(mode: str, n: int, every: int, cache_dir: str | None) -> list[dict]:
    env = dict(os.environ)
    if cache_dir:
        env["ADJIT_CACHE_DIR"] = cache_dir
    cmd = [sys.executable, "-m", "adjit.benchmarks.compile_cache", "--child", mode]
    cmd += ["--n", str(n), "--every", str(every)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} run failed ({done.returncode}): {done.stderr[-2000:]}")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for r in rows:
        print(
            f"{mode:>9} {r['signatures']:>6} sigs  RSS {r['rss_mb']:8.1f} MB  maps {r['maps']}  "
            f"entries {r['entries']:>5}  kernels {r['loaded_kernels']:>5}  {r['seconds']:7.1f} s",
            flush=True,
        )
    return rows


def per_signature(rows: list[dict]) -> tuple[float, float | None, int]:
    """(KiB of RSS, mappings) added per signature from the first report to the last."""
    first, last = rows[0], rows[-1]
    k = max(1, last["signatures"] - first["signatures"])
    kib = (last["rss_mb"] - first["rss_mb"]) * 1024 / k
    m = None if first["maps"] is None else (last["maps"] - first["maps"]) / k
    return kib, m, k


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5000, help="distinct signatures (default 5000)")
    p.add_argument("--every", type=int, default=500, help="report every this many signatures")
    p.add_argument("--modes", default="both", choices=("both", "bounded", "unbounded"))
    p.add_argument("--cache-dir", default=None, help="ADJIT_CACHE_DIR for the child processes")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child, a.n, a.every)
        return 0
    modes = ["bounded", "unbounded"] if a.modes == "both" else [a.modes]
    results = {m: run_mode(m, a.n, a.every, a.cache_dir) for m in modes}
    ok = True
    for mode, rows in results.items():
        kib, m, k = per_signature(rows)
        maps_text = "n/a" if m is None else f"{m:.2f} maps"
        print(f"{mode}: {kib:.1f} KiB and {maps_text} per signature (over the last {k})")
        if mode == "bounded":
            first, last = rows[0], rows[-1]
            grew = last["rss_mb"] - first["rss_mb"]
            grew_maps = None if m is None else last["maps"] - first["maps"]
            held = grew <= RSS_BOUND_MB and (grew_maps is None or grew_maps <= MAPS_BOUND)
            print(
                f"bound: RSS growth {grew:.1f} MB <= {RSS_BOUND_MB} MB and map growth "
                f"{grew_maps} <= {MAPS_BOUND} from {first['signatures']} to "
                f"{last['signatures']} signatures: {'held' if held else 'EXCEEDED'}"
            )
            ok = ok and held
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
