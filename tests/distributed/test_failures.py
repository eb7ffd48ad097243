"""A rank that raises, exits or never joins gives a clear error in every rank, never a hang."""

from __future__ import annotations

import time

from _mpi import HERE, launch

SCRIPT = (HERE / "ranks_failures.py").read_text().splitlines()
RAISE_LINE = SCRIPT.index('        raise ValueError("boom")') + 1


def run(mode: str, **env: str):
    start = time.monotonic()
    out = launch("ranks_failures.py", args=(mode,), timeout=60, **env)
    return out.proc, time.monotonic() - start


def test_rank_raises_before_a_collective() -> None:
    proc, seconds = run("raise")
    assert proc.returncode != 0
    err = proc.stderr
    assert "ValueError: boom" in err  # rank 1's own traceback
    assert (
        f"DistBackendError: [rank 0]: rank 1 failed: ValueError: boom (ranks_failures.py:"
        f"{RAISE_LINE}) (while rank 0 waited in all_reduce(float32[4], op=SUM) #1)"
    ) in err
    assert seconds < 30
    assert "finished" not in proc.stdout


def test_init_fails_in_one_rank() -> None:
    proc, seconds = run("init")
    assert proc.returncode != 0
    assert (
        "DistBackendError: [rank 0]: init_process_group failed in rank 1: init_process_group: "
        "the environment variable RANK=5 but the MPI launcher gave this process rank 1"
    ) in proc.stderr
    assert "ValueError: init_process_group: the environment variable RANK=5" in proc.stderr
    assert "started" not in proc.stdout and seconds < 30


def test_rank_exits_before_a_collective() -> None:
    proc, _ = run("exit")
    assert proc.returncode != 0
    assert (
        "[rank 0]: rank 1 exited without joining all_reduce(float32[4], op=SUM) #1" in proc.stderr
    )


def test_rank_never_joins_times_out() -> None:
    proc, seconds = run("never", ADJIT_DIST_TIMEOUT="0.5")
    assert proc.returncode != 0
    assert "[rank 0]: all_reduce(float32[4], op=SUM) #1 timed out after 0.5 s" in proc.stderr
    assert "ranks that have not joined: [1]" in proc.stderr
    assert seconds < 30  # rank 1 sleeps 60 s: rank 0's abort ended the job


def test_deadlock_times_out_naming_what_the_peer_waits_in() -> None:
    proc, seconds = run("deadlock", ADJIT_DIST_TIMEOUT="0.5")
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
