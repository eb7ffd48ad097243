"""A rank that raises, exits or never joins gives a clear error in every rank, never a hang."""

from __future__ import annotations

import pytest
from _mpi import HERE, launch_many

pytestmark = pytest.mark.quiet  # MPI jobs with timeouts (Note [tests in parallel])

SCRIPT = (HERE / "ranks_failures.py").read_text().splitlines()
RAISE_LINE = SCRIPT.index('        raise ValueError("boom")') + 1
MODES = {  # ranks_failures.py's mode -> the environment of its launch
    "raise": {},
    "exit": {},
    "never": {"ADJIT_DIST_TIMEOUT": "0.5"},
    "deadlock": {"ADJIT_DIST_TIMEOUT": "0.5"},
    "init": {},
    "before-init": {"ADJIT_DIST_START_TIMEOUT": "2"},
    "async-exit": {"ADJIT_DIST_TIMEOUT": "20"},
}


@pytest.fixture(scope="module")
def runs():
    """Every mode's launch, three at a time (their timeouts and notices overlap)."""
    jobs = {mode: ("ranks_failures.py", (mode,), env) for mode, env in MODES.items()}
    return launch_many(jobs)


def run(runs, mode: str):
    launched, seconds = runs[mode]
    return launched.proc, seconds


def test_rank_raises_before_a_collective(runs) -> None:
    proc, seconds = run(runs, "raise")
    assert proc.returncode != 0
    err = proc.stderr
    assert "ValueError: boom" in err  # rank 1's own traceback
    assert (
        f"DistBackendError: [rank 0]: rank 1 failed: ValueError: boom (ranks_failures.py:"
        f"{RAISE_LINE}) (while rank 0 waited in all_reduce(float32[4], op=SUM) #1)"
    ) in err
    assert seconds < 30
    assert "finished" not in proc.stdout


def test_init_fails_in_one_rank(runs) -> None:
    proc, seconds = run(runs, "init")
    assert proc.returncode != 0
    assert (
        "DistBackendError: [rank 0]: init_process_group failed in rank 1: init_process_group: "
        "the environment variable RANK=5 but the MPI launcher gave this process rank 1"
    ) in proc.stderr
    assert "ValueError: init_process_group: the environment variable RANK=5" in proc.stderr
    assert "started" not in proc.stdout and seconds < 30


def test_rank_fails_before_init(runs) -> None:
    """MPI_Init waits for every rank: the watchdog ends rank 0's wait at the timeout."""
    proc, seconds = run(runs, "before-init")
    assert proc.returncode != 0
    assert "ValueError: failed before init_process_group" in proc.stderr
    assert "in _start_mpi_waiting_for_every_rank_to_call_init_process_group" in proc.stderr
    assert "started" not in proc.stdout and seconds < 30


def test_rank_exits_before_a_collective(runs) -> None:
    proc, _ = run(runs, "exit")
    assert proc.returncode != 0
    assert (
        "[rank 0]: rank 1 exited without joining all_reduce(float32[4], op=SUM) #1" in proc.stderr
    )
    assert "MPI_Abort" not in proc.stderr  # nobody left to stop: rank 0 exits, output intact


def test_rank_exits_without_waiting_for_its_async_collective(runs) -> None:
    proc, seconds = run(runs, "async-exit")
    assert proc.returncode != 0
    assert (
        "[rank 0]: rank 1 exited without completing all_reduce(float32[4], op=SUM) #1 (it "
        "issued it with async_op=True and never waited for it)"
    ) in proc.stderr
    assert "MPI_Abort" in proc.stderr  # rank 1 waits in MPI_Finalize for its all_reduce
    assert seconds < 15  # not the 20 s timeout


def test_rank_never_joins_times_out(runs) -> None:
    proc, seconds = run(runs, "never")
    assert proc.returncode != 0
    assert "[rank 0]: all_reduce(float32[4], op=SUM) #1 timed out after 0.5 s" in proc.stderr
    assert "ranks that have not joined: [1]" in proc.stderr
    assert seconds < 30  # rank 1 sleeps 60 s: rank 0's abort ended the job


def test_deadlock_times_out_naming_what_the_peer_waits_in(runs) -> None:
    proc, seconds = run(runs, "deadlock")
    assert proc.returncode != 0
    err = proc.stderr
    assert (
        "[rank 0]: recv(float32[2]) from rank 1 timed out after 0.5 s; "
        "rank 1 waits in recv(float32[2]) from rank 0"
    ) in err or (
        "[rank 1]: recv(float32[2]) from rank 0 timed out after 0.5 s; "
        "rank 0 waits in recv(float32[2]) from rank 1"
    ) in err, err
    assert seconds < 30


def test_failure_notice_names_the_users_line() -> None:
    """An error raised inside adjit (or NumPy) is reported at the user's line that called it."""
    import sys

    import adjit
    from adjit.distributed.failure import where

    try:
        adjit.ones(2) + adjit.ones(3)  # the line the notice names
    except Exception:
        tb = sys.exc_info()[2]
    line = where(tb)
    assert line == f" (test_failures.py:{tb.tb_lineno})", line
