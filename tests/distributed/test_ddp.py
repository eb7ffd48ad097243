"""DistributedDataParallel on 2 MPI processes (ranks_ddp.py, one launch) against one process,
and its single-process parts (bucket plan against PyTorch's, construction errors)."""

from __future__ import annotations

import pytest
from _mpi import launch

CHECKS = [
    "mlp-sgd-momentum",
    "mlp-adam",
    "cnn-sgd-momentum",
    "mlp-sgd-compiled-inner",
    "mlp-adam-compiled-outer",
    "construction-broadcasts-rank0",
    "buffers-broadcast-before-each-forward",
    "no-sync-accumulation",
    "find-unused-branch-on-one-rank",
    "unused-parameter-error",
    "marked-ready-twice-error",
    "gradient-as-bucket-view",
    "buckets-rebuilt-in-ready-order-and-overlap",
    "sampler-from-process-group",
    "mismatched-models-refused-on-every-rank",
    "checkpoint-on-rank-0",
    "static-graph",
    "mlp-adam-compiled-step",  # (segment mode: backward() into an earlier segment breaks)
]
KNOWN_FAILING: list[str] = []


@pytest.fixture(scope="module")
def ddp_run():
    """One launch of ranks_ddp.py: every check of both ranks."""
    run = launch("ranks_ddp.py", timeout=240)
    assert run.proc.returncode == 0, run.proc.stdout[-3000:] + run.proc.stderr[-3000:]
    return run


@pytest.mark.parametrize("name", CHECKS)
def test_check(ddp_run, name: str) -> None:
    for rank in (0, 1):
        assert ddp_run.checks.get((rank, name)) == "ok", (rank, ddp_run.checks.get((rank, name)))


@pytest.mark.xfail(strict=True, reason="segment mode drops opt.step() after backward()")
@pytest.mark.parametrize("name", KNOWN_FAILING)
def test_known_failing(ddp_run, name: str) -> None:
    for rank in (0, 1):
        assert ddp_run.checks.get((rank, name)) == "ok", (rank, ddp_run.checks.get((rank, name)))


def test_no_other_failures(ddp_run) -> None:
    failures = [f for f in ddp_run.failures() if f.split()[2][:-1] not in KNOWN_FAILING]
    assert not failures, "\n".join(failures)
    assert {name for _, name in ddp_run.checks} == set(CHECKS + KNOWN_FAILING)
