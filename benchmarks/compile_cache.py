"""Memory of a long-running process compiling thousands of signatures, with and without bounds.

Run: ``python -m adjit.benchmarks.compile_cache [--n 5000] [--every 500] [--modes both]``.
Each mode runs in a fresh process that compiles one layer-like function
(``relu(tanh(x) @ w + b).sum(1)``, ``dynamic=False``) for ``n`` distinct input shapes (``x`` is
``[r, c]`` with ``c`` cycling through 1..71 and ``r`` growing by one every 71 signatures, so
the data stays small and memory growth is the cache's), calling each twice (the second call
writes its trampoline), and reports its resident memory (VmRSS) and its number of memory
mappings (lines of ``/proc/self/maps``) every ``every`` signatures:
  - ``bounded``: the defaults (``adjit.compiler.config.cache_size_limit`` = 64 entries per
    function, ``loaded_kernel_limit`` = 4096 kernels per process), kernels from the cache
    directory as it is (``--cache-dir``, else the user's);
  - ``unbounded``: both set to None (every specialization and its kernels kept, as adjit did
    before the bounds);
  - ``cold``: the bounds, an empty cache directory (every kernel compiled, by the compile
    worker: Note [compile worker] in codegen/worker.py); ``cold-inprocess``: the same with
    ``ADJIT_COMPILE_WORKER=0`` (LLVM in the process, ~65 KiB a kernel kept by llvmlite's pass
    pipeline, Note [unloading kernels] in codegen/jit.py); ``warm``: the bounds, kernels from
    the cache directory ``cold`` filled (run after it). ``--modes cold`` runs all three.
The table gives memory and mappings per signature (the growth from the first report to the
last, over the signatures in between). The bounds it checks (Note [bounded compile caches]):
with the bounds and kernels from disk (``bounded``, ``warm``), the process ends within
``RSS_BOUND_MB`` of its RSS at the first report and within ``MAPS_BOUND`` mappings of its count
there; compiling every kernel cold with the worker (``cold``), within ``COLD_RSS_BOUND_MB`` and
``MAPS_BOUND``; the exit status is 1 when one does not hold. ``cold-inprocess`` and
``unbounded`` are reported, not bounded. ``--cache-dir`` picks the cache (``ADJIT_CACHE_DIR``)
of ``bounded``/``unbounded``; the cold modes use fresh temporary ones.

Measured (``--n 5000 --modes cold``, 2 cores, llvmlite 0.50; from 500 to 5,000 signatures,
5,071 kernels compiled): ``cold`` RSS 65.9 -> 68.6 MB (0.6 KiB a signature), 573 -> 574
mappings, 148 s, 11 workers of ~100-105 MB each in turn; ``cold-inprocess`` 184.7 -> 562.6 MB
(86.0 KiB a signature), 592 mappings, 152 s; ``warm`` 65.1 -> 73.4 MB (1.9 KiB), 569
mappings, 23.5 s, no worker, no ``llvmlite.binding``.
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
COLD_RSS_BOUND_MB = 16.0  # the same, every kernel compiled cold by the compile worker (2.7)
MAPS_BOUND = 1000  # mappings allowed past the first report (64 entries: ~400 at 6 each)
WIDTHS = 71  # x's column counts cycle through 1..WIDTHS


def rss_mb(pid: int | None = None) -> float:
    """This process's (or ``pid``'s) resident memory now (VmRSS), in MiB (peak RSS off Linux)."""
    try:
        with open(f"/proc/{pid or 'self'}/status") as f:
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
    from adjit.codegen import jit, worker

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
            wpid = worker.current_pid()
            row = {
                "mode": mode,
                "signatures": i,
                "rss_mb": round(rss_mb(), 1),
                "maps": maps(),
                "entries": len(f._entries),
                "loaded_kernels": jit.loaded_count(),
                "compiles": jit.STATS["compiles"],
                "worker_starts": worker.STATS["starts"],
                "worker_rss_mb": None if wpid is None else round(rss_mb(wpid), 1),
                "binding": "llvmlite.binding" in sys.modules,
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(json.dumps(row), flush=True)


def run_mode(mode: str, n: int, every: int, cache_dir: str | None) -> list[dict]:
    env = dict(os.environ)
    if cache_dir:
        env["ADJIT_CACHE_DIR"] = cache_dir
    if mode == "cold-inprocess":
        env["ADJIT_COMPILE_WORKER"] = "0"
    elif mode == "cold":
        env.pop("ADJIT_COMPILE_WORKER", None)
    cmd = [sys.executable, "-m", "adjit.benchmarks.compile_cache", "--child", mode]
    cmd += ["--n", str(n), "--every", str(every)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} run failed ({done.returncode}): {done.stderr[-2000:]}")
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    for r in rows:
        print(
            f"{mode:>9} {r['signatures']:>6} sigs  RSS {r['rss_mb']:8.1f} MB  maps {r['maps']}  "
            f"entries {r['entries']:>5}  kernels {r['loaded_kernels']:>5}  "
            f"compiled {r['compiles']:>5}  workers {r['worker_starts']:>2} "
            f"({r['worker_rss_mb']} MB)  binding {r['binding']!s:>5}  {r['seconds']:7.1f} s",
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


BOUNDS = {"bounded": RSS_BOUND_MB, "warm": RSS_BOUND_MB, "cold": COLD_RSS_BOUND_MB}
MODES = {
    "both": ["bounded", "unbounded"],
    "cold": ["cold", "cold-inprocess", "warm"],
    "all": ["cold", "cold-inprocess", "warm", "unbounded"],
}


def main(argv: list[str] | None = None) -> int:
    import tempfile

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5000, help="distinct signatures (default 5000)")
    p.add_argument("--every", type=int, default=500, help="report every this many signatures")
    choices = (*MODES, "bounded", "unbounded", "cold-inprocess")
    p.add_argument("--modes", default="both", choices=choices)
    p.add_argument("--cache-dir", default=None, help="ADJIT_CACHE_DIR for the child processes")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child, a.n, a.every)
        return 0
    modes = MODES.get(a.modes, [a.modes])
    results = {}
    with tempfile.TemporaryDirectory(prefix="adjit-bench-cold-") as tmp:
        for m in modes:  # cold modes: empty caches; warm: the one ``cold`` filled
            where = {"cold": f"{tmp}/cold", "cold-inprocess": f"{tmp}/inprocess"}.get(m)
            where = f"{tmp}/cold" if m == "warm" and "cold" in modes else where
            results[m] = run_mode(m, a.n, a.every, where or a.cache_dir)
    ok = True
    for mode, rows in results.items():
        kib, m, k = per_signature(rows)
        maps_text = "n/a" if m is None else f"{m:.2f} maps"
        print(f"{mode}: {kib:.1f} KiB and {maps_text} per signature (over the last {k})")
        if mode in BOUNDS:
            first, last = rows[0], rows[-1]
            grew = last["rss_mb"] - first["rss_mb"]
            grew_maps = None if m is None else last["maps"] - first["maps"]
            bound = BOUNDS[mode]
            held = grew <= bound and (grew_maps is None or grew_maps <= MAPS_BOUND)
            print(
                f"bound ({mode}): RSS growth {grew:.1f} MB <= {bound} MB and map growth "
                f"{grew_maps} <= {MAPS_BOUND} from {first['signatures']} to "
                f"{last['signatures']} signatures: {'held' if held else 'EXCEEDED'}"
            )
            ok = ok and held
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
