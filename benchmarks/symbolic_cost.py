"""Compile-time cost of the sympy pass: the first step in fresh processes, pass off and on,
with an empty cache folder (cold) and the folder the cold process filled (warm).

Run: ``python -m adjit.benchmarks.symbolic_cost [--repeats 7]`` (or in ``adjit bench``,
workload ``symbolic``). Programs: README.md's first example (``((x @ w).sigmoid() - y)
.pow(2).mean()``, w [8, 1], x [64, 8]) and the same with ``softplus`` for ``sigmoid`` (a where
region: its VJP comes from sympy whether the pass is on or not). Contenders: "adjit compiled"
(the default: ``ADJIT_SYMBOLIC`` unset) and "adjit compiled + sympy pass"
(``ADJIT_SYMBOLIC=1``); each sample is a new process (``symbolic_cost_child.py``, by path), a
cold one then a warm one per folder, and its loss and gradient are checked against float64
NumPy before its time counts. Medians of the first step (tracing, passes, sympy, LLVM or the
kernel cache) and, in the JSON, of the time spent in the symbolic passes themselves.

Measured (``--repeats 7``, 2 cores shared, load 1.8-3.3; median first step, ms, pass off ->
on; in brackets the symbolic passes' own wall time off -> on): README cold 325 -> 1035
(0 -> 704), warm 15.6 -> 19.5 (0 -> 3.7, sympy never imported); softplus cold 1003 -> 1688
(570 -> 1195), warm 31.5 -> 44.8 (4.6 -> 7.2). Before the disk cache a warm softplus process
(kernels cached) still paid sympy for its where region: first step 377 ms, now 21 ms.
Warm only, off/on interleaved, 10 pairs (load 2.6): README 23.1 vs 21.0 ms (IQRs 16 and 7 ms;
3.5 ms in the pass), softplus 21.8 vs 22.2 ms (where regions and simplify 3.3 -> 3.8 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from . import peers
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
from .latency import PYCACHE
from .progress import Progress
from .symbolic_cost_child import inputs

CHILD = Path(__file__).with_name("symbolic_cost_child.py")
PROGRAMS = ("readme", "softplus")
PHASES = ("cold", "warm")
ON = "adjit compiled + sympy pass"
MODES = {BASELINE: "", ON: "1"}  # contender -> ADJIT_SYMBOLIC
SIZES: dict[str, list[Any]] = {p: list(PROGRAMS) for p in ("full", "quick", "tiny")}
TOLERANCE = 1e-4
TIMEOUT_S = 300


def reference(program: str) -> tuple[np.ndarray, np.ndarray]:
    """The loss and d loss / d w in float64 NumPy."""
    w, x, y = (a.astype(np.float64) for a in inputs())
    z = x @ w
    if program == "readme":
        act = 1 / (1 + np.exp(-z))
        dact = act * (1 - act)
    else:  # softplus, threshold 20 (never reached here)
        act, dact = np.log1p(np.exp(z)), 1 / (1 + np.exp(-z))
    r = act - y
    loss = np.mean(r * r)
    grad = x.T @ (2 * r * dact / r.size)
    return np.asarray(loss), grad.ravel()


def child(program: str, symbolic: str, cache: str) -> dict[str, Any]:
    """One fresh process; RuntimeError with its last error line if it fails."""
    env = dict(os.environ) | thread_env(peers.SETTINGS["threads"])
    env["PYTHONPYCACHEPREFIX"] = PYCACHE  # bytecode, as an installed package has it
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["ADJIT_SYMBOLIC"] = symbolic
    cmd = [sys.executable, str(CHILD), program, cache]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        raise RuntimeError(lines[-1][:200])
    return json.loads(done.stdout.strip().splitlines()[-1])


def samples(program: str, repeats: int, progress: Progress) -> dict[str, dict[str, list[dict]]]:
    """contender -> phase -> the checked child rows (or raises RuntimeError)."""
    want = reference(program)
    rows: dict[str, dict[str, list[dict]]] = {c: {p: [] for p in PHASES} for c in MODES}
    with (  # an untimed process first: it writes the bytecode every timed one reads
        tempfile.TemporaryDirectory(prefix="adjit-bench-") as tmp,
        contextlib.suppress(RuntimeError, subprocess.TimeoutExpired, ValueError),
    ):
        child(program, "", tmp)
    for r in range(repeats):
        for name, flag in MODES.items():  # interleaved: off, on, off, on...
            with tempfile.TemporaryDirectory(prefix="adjit-bench-") as cache:
                for phase in PHASES:
                    progress.step(f"symbolic {program} {name} {phase} {r + 1}/{repeats}")
                    out = child(program, flag, cache)
                    loss, grad = out["outputs"]
                    out["error"] = disagreement((np.asarray(loss), np.asarray(grad)), want, {})
                    if out["error"] > TOLERANCE:
                        raise RuntimeError(f"{name} differs from float64 by {out['error']:.1e}")
                    rows[name][phase].append(out)
    return rows


def _measurement(runs: list[dict]) -> Measurement:
    first = [r["first_ms"] for r in runs]
    m = Measurement("ok", median_ms=statistics.median(first), first_call_ms=first[0])
    m.rounds, m.number = len(runs), 1
    if len(first) > 1:
        q = statistics.quantiles(first, n=4, method="inclusive")
        m.iqr_ms = q[2] - q[0]
    m.error = max(r["error"] for r in runs)
    m.extra = {
        "symbolic_ms": statistics.median(r["symbolic_ms"] for r in runs),
        "symbolic_cpu_ms": statistics.median(r["symbolic_cpu_ms"] for r in runs),
        "sympy_imported": sum(r["sympy"] for r in runs),
        "import_ms": statistics.median(r["import_ms"] for r in runs),
    }
    return m


def run(settings: Settings, progress: Progress) -> list[CaseResult]:
    results = []
    repeats = settings.latency_repeats
    for program in SIZES[settings.preset]:
        progress.case("symbolic", program)
        rows: dict[str, dict[str, list[dict]]] | None = None
        note = ""
        try:
            rows = samples(program, repeats, progress)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
            note = str(e)[:200]
        for phase in PHASES:
            if rows is None:
                ms = {c: Measurement("failed", note=note) for c in MODES}
            else:
                ms = {c: _measurement(rows[c][phase]) for c in MODES}
            set_ratios(ms)
            label = f"{program} {phase} cache"
            result = CaseResult("symbolic", label, {"program": program, "cache": phase}, ms)
            progress.current = f"symbolic {label}"
            progress.done(result)
            results.append(result)
    return results


WORKLOAD = Workload(
    "symbolic",
    "compile-time cost of the sympy pass: first step in a fresh process (ms after import)",
    SIZES,
    run=run,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7, help="fresh process pairs per contender")
    a = p.parse_args(argv)
    print("program   cache  pass  first step ms (median, IQR)  symbolic ms (CPU)  sympy imported")
    for program in PROGRAMS:
        rows = samples(program, a.repeats, Progress(enabled=False))
        for phase in PHASES:
            for name in MODES:
                m = _measurement(rows[name][phase])
                print(
                    f"{program:9} {phase:5}  {'on' if name == ON else 'off':4}"
                    f"  {m.median_ms:8.1f}  ({m.iqr_ms or 0:6.1f})"
                    f"{m.extra['symbolic_ms']:14.1f} ({m.extra['symbolic_cpu_ms']:6.1f})"
                    f"  {m.extra['sympy_imported']}/{m.rounds}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
