"""Compile latency: W1 fwd+bwd's first call in fresh processes, cold and warm compile caches."""

# Each sample is a new Python process (``latency_child.py``, run by path so nothing of adjit's is
# imported before it times ``import adjit``). "cold" gets an empty cache folder; "warm" is the
# next process with the folder the cold one filled. The time to the first result (after import)
# is the measurement; the import time is kept beside it. Every child's loss and gradients are
# checked against float64 NumPy before its time counts.

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import peers, w1
from .harness import (
    BASELINE,
    CaseResult,
    Measurement,
    Settings,
    Workload,
    disagreement,
    set_ratios,
    thread_env,
)
from .progress import Progress

SIZES = {"full": [10_000], "quick": [10_000], "tiny": [64]}
CHILD = Path(__file__).with_name("latency_child.py")
TIMEOUT_S = 600
TOLERANCE = 1e-3
PHASES = ("cold", "warm")
# contender -> (the child's library argument, the distribution that must be installed)
TARGETS = {
    BASELINE: ("adjit", "adjit"),
    "torch.compile": ("torch", "torch"),
    "jax.jit": ("jax", "jax"),
}


# Bytecode as an installed package has it: every child may write and read compiled modules
# here (an environment with PYTHONDONTWRITEBYTECODE would otherwise compile every module from
# source in every process, which no user of an installed package pays).
PYCACHE = os.path.join(tempfile.gettempdir(), "adjit-bench-pycache")


def child(lib: str, n: int, cache: str) -> dict[str, Any]:
    """One fresh process; raises RuntimeError with the child's last error line if it fails."""
    env = dict(os.environ) | thread_env(peers.SETTINGS["threads"])
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = [sys.executable, str(CHILD), lib, str(n), cache]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        raise RuntimeError(lines[-1][:200])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure(name: str, n: int, repeats: int, progress: Progress) -> dict[str, Measurement]:
    """``repeats`` cold+warm pairs of one contender, checked; {"cold": ..., "warm": ...}."""
    lib, dist = TARGETS[name]
    if peers.version(dist) is None:
        return {k: Measurement("unavailable", note=f"{dist} is not installed") for k in PHASES}
    x, y = w1.inputs(n)
    x64, y64 = x.astype("float64"), y.astype("float64")
    want, scales = w1.numpy_w1(x64, y64), {0: w1.abs_terms(x64, y64)}
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in PHASES}
    # an untimed process first: it writes the bytecode every timed one reads (a failure shows
    # again, and is reported, in the timed runs)
    with (
        tempfile.TemporaryDirectory(prefix="adjit-bench-") as cache,
        contextlib.suppress(RuntimeError, subprocess.TimeoutExpired, ValueError),
    ):
        child(lib, n, cache)
    for r in range(repeats):
        with tempfile.TemporaryDirectory(prefix="adjit-bench-") as cache:
            for phase in PHASES:
                progress.step(f"{name} {phase} process {r + 1}/{repeats}")
                try:
                    out = child(lib, n, cache)
                except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                    return {k: Measurement("failed", note=str(e)[:200]) for k in PHASES}
                out["error"] = disagreement(tuple(out["outputs"]), want, scales)
                if out["error"] > TOLERANCE:
                    note = f"differs from float64 NumPy by {out['error']:.2e}"
                    return {
                        k: Measurement("disagrees", error=out["error"], note=note) for k in PHASES
                    }
                runs[phase].append(out)
    return {phase: _summary(rs) for phase, rs in runs.items()}


def _summary(runs: list[dict[str, Any]]) -> Measurement:
    first = statistics.median(r["first_ms"] for r in runs)
    m = Measurement("ok", median_ms=first, first_call_ms=first, rounds=len(runs), number=1)
    m.error = max(r["error"] for r in runs)
    m.extra = {"import_ms": statistics.median(r["import_ms"] for r in runs)}
    return m


def run(settings: Settings, progress: Progress) -> list[CaseResult]:
    n = SIZES[settings.preset][0]
    per_phase: dict[str, dict[str, Measurement]] = {p: {} for p in PHASES}
    progress.case("latency", f"N={n}")
    for name in TARGETS:
        if name in settings.skip:
            got = {p: Measurement("skipped", note=settings.skip[name]) for p in PHASES}
        else:
            repeats = settings.latency_repeats if name == BASELINE else 1
            got = _measure(name, n, repeats, progress)
        for p in PHASES:
            per_phase[p][name] = got[p]
    results = []
    for p in PHASES:
        ms = per_phase[p]
        set_ratios(ms)
        result = CaseResult("latency", f"{p} cache", {"n": n, "cache": p}, ms)
        progress.current = f"latency {p} cache"
        progress.done(result)
        results.append(result)
    return results


WORKLOAD = Workload(
    "latency",
    "compile latency: first W1 fwd+bwd in a fresh process (ms after import)",
    SIZES,
    run=run,
)
