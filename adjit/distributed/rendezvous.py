"""init_process_group's checks, agreed by every rank before any communicator is made."""

from __future__ import annotations

import atexit
import os
import time
from typing import Any

import numpy as np

from adjit.distributed.failure import DistBackendError

LAUNCH_HINT = "launch with `adjit run -n N script.py` or mpiexec"


def rank_problem(what: str, given: int, env: str, actual: int) -> str:
    """'' when an explicit rank/world_size and the RANK/WORLD_SIZE variable agree with MPI's;
    else the error text."""
    if given >= 0 and given != actual:
        return (
            f"init_process_group: {what}={given} but the MPI launcher gave this process "
            f"{what} {actual} (adjit.distributed takes ranks from MPI; {LAUNCH_HINT})"
        )
    value = os.environ.get(env, "").strip()
    if value and value != str(actual):
        return (
            f"init_process_group: the environment variable {env}={value} but the MPI launcher "
            f"gave this process {what} {actual} (unset {env}, or {LAUNCH_HINT})"
        )
    return ""


# Note [init agreement]
# A rank whose checks fail must not leave the others blocked: communicator creation (Dup) is a
# blocking collective, and a rank that raised never joins it (measured: rank 0 hung in Dup
# until killed). So before any Dup, every rank all-gathers one flag "my checks failed" with a
# nonblocking call polled until the timeout; if any rank failed, every rank raises: the failed
# one its own error, the others DistBackendError naming it and its text. A rank that never calls
# init_process_group (it failed or exited before) leaves the others waiting until the timeout
# (30 min by default, as PyTorch's rendezvous); they then raise and abort at exit (MPI_Finalize
# would wait for the missing rank forever).
def agree(world: Any, problem: str, timeout: float) -> None:
    """Raise in every rank if ``problem`` is non-empty in any rank (Note [init agreement])."""
    size, rank = world.Get_size(), world.Get_rank()
    flags = np.zeros(size, np.int8)
    request = world.Iallgather(np.array([1 if problem else 0], np.int8), flags)
    deadline = time.monotonic() + timeout
    while not request.Test():
        if time.monotonic() > deadline:
            # MPI_Finalize at exit would wait for the missing ranks forever: abort instead
            atexit.register(world.Abort, 1)
            raise DistBackendError(
                f"[rank {rank}]: init_process_group timed out after {timeout:g} s waiting for "
                f"the other {size - 1} ranks to call it"
            )
        time.sleep(1e-4)
    if problem:
        if size > 1:
            world.allgather(problem)  # (every rank is here: the texts for the others)
        raise ValueError(problem)
    if flags.any():
        texts = world.allgather("")
        bad = int(np.flatnonzero(flags)[0])
        raise DistBackendError(
            f"[rank {rank}]: init_process_group failed in rank {bad}: {texts[bad]}"
        )
