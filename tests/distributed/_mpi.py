"""Launch rank scripts under mpiexec for the distributed tests (shared by their files).

``launch(script, n)`` runs ``mpiexec -n N python script`` with a timeout and returns a Launch:
the CompletedProcess and the named checks the ranks recorded with ranks_common.check (one line
``<rank> <name> ok|FAIL <why>`` each, in a file per rank: mpiexec interleaves the ranks'
stdout mid-line), so one launch carries many named checks; ``require_mpi()`` skips with the
install hint when mpi4py or mpiexec is missing."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from adjit.distributed.run import find_mpiexec

HERE = Path(__file__).resolve().parent
SKIP = "MPI unavailable: pip install 'adjit[mpi]' (mpi4py and the mpich wheel's mpiexec)"


def require_mpi() -> str:
    """The mpiexec path; skips the test when MPI is not installed."""
    exe = find_mpiexec()  # the one `adjit run` uses
    if importlib.util.find_spec("mpi4py") is None or exe is None:
        pytest.skip(SKIP)
    return exe


def env(**extra: str) -> dict[str, str]:
    """The ranks' environment: one thread each (2 ranks share 2 cores), no stray RANK."""
    out = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    out.update(ADJIT_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out.update(extra)
    return out


@dataclass
class Launch:
    proc: subprocess.CompletedProcess[str]
    checks: dict[tuple[int, str], str]  # (rank, name) -> "ok" or "FAIL why"

    def failures(self) -> list[str]:
        return [f"rank {r} {name}: {v}" for (r, name), v in self.checks.items() if v != "ok"]


def launch(
    script: str | Path,
    n: int = 2,
    args: tuple[str, ...] = (),
    timeout: float = 120,
    **extra_env: str,
) -> Launch:
    """``mpiexec -n N python script args`` (script relative to tests/distributed/)."""
    exe = require_mpi()
    cmd = [exe, "-n", str(n), sys.executable, str(HERE / script), *args]
    with tempfile.TemporaryDirectory(prefix="adjit_mpi_") as tmp:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env(ADJIT_CHECK_DIR=tmp, **extra_env),
            cwd=HERE,
        )
        found: dict[tuple[int, str], str] = {}
        for path in sorted(Path(tmp).glob("rank*.txt")):
            for line in path.read_text().splitlines():
                rank, name, verdict = line.split(" ", 2)
                found[int(rank), name] = verdict
    return Launch(proc, found)


def launch_many(
    jobs: dict[str, tuple[str, tuple[str, ...], dict[str, str]]], at_once: int = 3
) -> dict[str, tuple[Launch, float]]:
    """Several launches (name -> (script, args, env)), ``at_once`` running together: the
    waits inside the jobs (timeouts, failure notices) overlap. Name -> (Launch, seconds)."""

    def one(job: tuple[str, tuple[str, ...], dict[str, str]]) -> tuple[Launch, float]:
        script, args, extra = job
        start = time.monotonic()
        out = launch(script, args=args, **extra)
        return out, time.monotonic() - start

    require_mpi()
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        done = dict(zip(jobs, pool.map(one, jobs.values()), strict=True))
    return done
