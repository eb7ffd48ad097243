"""DistributedDataParallel inside adjit.compile without graph breaks on 2 MPI processes
(ranks_ddp_traced.py, one launch): compiled steps against eager DDP and float64."""

from __future__ import annotations

import pytest
from _mpi import launch

pytestmark = pytest.mark.quiet  # MPI jobs with timeouts (Note [tests in parallel])

CHECKS = [
    "compile-ddp-backward-outside",
    "whole-step-traced",
    "whole-step-traced-cnn-buffers",
    "no-sync-outside",
    "no-sync-inside-step",
    "whole-step-under-no-sync",
    "find-unused-compiled",
    "find-unused-whole-step",
    "bucket-view-and-static-graph",
    "unfinished-reduction-error-compiled",
]


@pytest.fixture(scope="module")
def traced_run():
    run = launch("ranks_ddp_traced.py", timeout=240)
    assert run.proc.returncode == 0, run.proc.stdout[-3000:] + run.proc.stderr[-3000:]
    return run


@pytest.mark.parametrize("name", CHECKS)
def test_check(traced_run, name: str) -> None:
    for rank in (0, 1):
        assert traced_run.checks.get((rank, name)) == "ok", (rank, traced_run.checks)
