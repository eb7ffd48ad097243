"""Collectives and DistributedDataParallel inside adjit.compile on 2 MPI processes
(ranks_compiled.py, one launch): compiled results against eager ones."""

from __future__ import annotations

import pytest
from _mpi import launch

pytestmark = pytest.mark.quiet  # MPI jobs with timeouts (Note [tests in parallel])

CHECKS = ["bare-collectives-compiled", "hook-step-traced-grads", "ddp-whole-step-compiled-grads"]


@pytest.fixture(scope="module")
def compiled_run():
    run = launch("ranks_compiled.py", timeout=240)
    assert run.proc.returncode == 0, run.proc.stdout[-3000:] + run.proc.stderr[-3000:]
    return run


@pytest.mark.parametrize("name", CHECKS)
def test_check(compiled_run, name: str) -> None:
    for rank in (0, 1):
        assert compiled_run.checks.get((rank, name)) == "ok", (rank, compiled_run.checks)
