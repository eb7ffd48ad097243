"""DistributedDataParallel on 2 MPI processes (ranks_ddp.py, one launch) against one process,
and its single-process parts (bucket plan against PyTorch's, construction errors)."""

from __future__ import annotations

import importlib.util
import socket

import pytest
from _mpi import launch

pytestmark = pytest.mark.quiet  # MPI jobs with timeouts (Note [tests in parallel])

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
    "find-unused-with-no-sync",
    "mixed-dtypes",
    "mlp-adam-compiled-step",  # (the whole step traced: bucket all-reduces in the program)
]
# ranks_ddp_torch.py: next to PyTorch's own DDP on gloo, when torch and gloo are there
TORCH_CHECKS = [
    "rebuilt-buckets-as-torch",
    "training-as-torch-ddp",
    "error-texts-as-torch",
    "printing-and-state-dict-as-torch",
]


def torch_with_gloo() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.distributed.is_available() and torch.distributed.is_gloo_available()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ddp_run():
    """One launch of ranks_ddp.py: every check of both ranks (PyTorch's side by side too when
    its gloo backend is there: MASTER_ADDR/MASTER_PORT for its rendezvous)."""
    port = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    run = launch("ranks_ddp.py", timeout=240, **(port if torch_with_gloo() else {}))
    assert run.proc.returncode == 0, run.proc.stdout[-3000:] + run.proc.stderr[-3000:]
    return run


@pytest.mark.parametrize("name", CHECKS)
def test_check(ddp_run, name: str) -> None:
    for rank in (0, 1):
        assert ddp_run.checks.get((rank, name)) == "ok", (rank, ddp_run.checks.get((rank, name)))


@pytest.mark.parametrize("name", TORCH_CHECKS)
def test_side_by_side_with_torch(ddp_run, name: str) -> None:
    if not torch_with_gloo():
        pytest.skip("PyTorch or its gloo backend is unavailable")
    for rank in (0, 1):
        assert ddp_run.checks.get((rank, name)) == "ok", (rank, ddp_run.checks.get((rank, name)))


def test_no_other_failures(ddp_run) -> None:
    assert not ddp_run.failures(), "\n".join(ddp_run.failures())
    side = TORCH_CHECKS if torch_with_gloo() else []
    assert {name for _, name in ddp_run.checks} == set(CHECKS + side)
