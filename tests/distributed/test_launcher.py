"""``adjit run -n N script.py args``: mpiexec from the wheel, the exit code passed through."""

from __future__ import annotations

import argparse
import sys

import pytest
from _mpi import HERE, env, require_mpi

from adjit import cli
from adjit.distributed import run as launcher

pytestmark = pytest.mark.quiet  # MPI jobs with timeouts (Note [tests in parallel])

SCRIPT = str(HERE / "ranks_launcher.py")


def test_two_ranks_end_to_end_exit_code_passed_through(capfd, monkeypatch) -> None:
    """``adjit run -n 2 script.py args`` through the command line's parser, in this process
    (mpiexec and the ranks are child processes writing to this process's stdout)."""
    require_mpi()
    for k in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    for k in ("ADJIT_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(k, env()[k])
    code = cli.main(["run", "-n", "2", SCRIPT, "3", "--flag"])  # rank 1 exits with 3
    out, err = capfd.readouterr()
    assert code == 3, err
    assert sorted(out.splitlines()) == [
        "rank 0 of 2 sum 3 args ['3', '--flag']",
        "rank 1 of 2 sum 3 args ['3', '--flag']",
    ]


def test_command_line() -> None:
    cmd = launcher.command(4, "train.py", ["--lr", "0.1"], "/x/mpiexec")
    assert cmd == ["/x/mpiexec", "-n", "4", sys.executable, "train.py", "--lr", "0.1"]


def test_missing_mpiexec_is_a_clear_error(monkeypatch, capsys) -> None:
    monkeypatch.setattr(launcher, "find_mpiexec", lambda: None)
    code = launcher.main(argparse.Namespace(nproc=2, script=SCRIPT, args=[]))
    assert code == 127
    err = capsys.readouterr().err
    assert "mpiexec not found" in err and 'pip install "adjit[mpi]"' in err


@pytest.mark.parametrize(
    ("nproc", "script", "text"),
    [(0, SCRIPT, "-n must be at least 1"), (2, "nope.py", "no such file")],
)
def test_bad_arguments(capsys, nproc: int, script: str, text: str) -> None:
    assert launcher.main(argparse.Namespace(nproc=nproc, script=script, args=[])) == 2
    assert text in capsys.readouterr().err
