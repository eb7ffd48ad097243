"""examples/ddp_train.py, the README's two-process example: ``adjit run -n 2`` trains the same
model as one process (the same global batches), and rank 0's checkpoint loads on every rank."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.distributed._mpi import env, require_mpi

pytestmark = pytest.mark.quiet  # MPI jobs with timeouts (Note [tests in parallel])

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ddp_train.py"


def _run(*launcher: str) -> str:
    cmd = [*launcher, str(EXAMPLE), "--epochs", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _losses(out: str) -> list[float]:
    return [float(v) for v in re.findall(r"mean loss (\d+\.\d+)", out)]


def test_two_ranks_train_as_one_process() -> None:
    require_mpi()
    two = _run(sys.executable, "-m", "adjit", "run", "-n", "2")
    one = _run(sys.executable)
    assert "(2 ranks)" in two and "(1 ranks)" in one
    for rank in (0, 1):
        assert f"rank {rank}: checkpoint" in two and f"rank {rank}:" in two
    assert two.count("matches this rank's model: True") == 2
    l2, l1 = _losses(two), _losses(one)
    assert len(l2) == len(l1) == 2 and l2[1] < l2[0]
    # the same global batches: the printed 4-decimal means differ at most in the last digit
    assert all(abs(a - b) <= 1.5e-4 for a, b in zip(l2, l1, strict=True)), (l2, l1)
