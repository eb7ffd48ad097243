"""mpi4py, imported on first use so ``import adjit.distributed`` works without it."""

from __future__ import annotations

import faulthandler
import os
from typing import Any

MPI_EXTRA = 'pip install "adjit[mpi]"'


def is_mpi_available() -> bool:
    """Whether mpi4py can be imported (the ``mpi`` extra is installed); MPI stays uninitialized."""
    try:
        import mpi4py  # noqa: F401  (the package only: mpi4py.MPI would initialize MPI)
    except ImportError:
        return False
    return True


_MPI: list[Any] = []  # the module, once imported


# Note [a rank that never starts MPI]
# MPI_Init waits (in the process manager's fence) until every rank of the job has called it, and
# holds the GIL meanwhile: a rank that failed or exited before init_process_group leaves the
# others blocked there forever (measured: with plain mpi4py too, whatever its exit code).
# Under a launcher, init_process_group arms faulthandler's C watchdog before MPI_Init, for the
# start timeout (ADJIT_DIST_START_TIMEOUT, else the collective timeout but at least 60 s: ranks
# reach init_process_group seconds apart, after imports and setup of their own): past it the
# process prints where it waited (the frames name
# _start_mpi_waiting_for_every_rank_to_call_init_process_group) and exits with 1.
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE")


def _start_mpi_waiting_for_every_rank_to_call_init_process_group(timeout: float) -> Any:
    """``from mpi4py import MPI`` (MPI_Init) bounded by ``timeout`` seconds under a launcher."""
    launched = any(v in os.environ for v in LAUNCHER_VARIABLES)
    if launched:
        faulthandler.dump_traceback_later(timeout, exit=True)
    try:
        from mpi4py import MPI
    finally:
        if launched:
            faulthandler.cancel_dump_traceback_later()
    return MPI


def mpi(start_timeout: float = 1800.0) -> Any:
    """The ``mpi4py.MPI`` module (initializes MPI: Note [a rank that never starts MPI]); a clear
    error when the extra is missing."""
    if _MPI:
        return _MPI[0]
    try:
        MPI = _start_mpi_waiting_for_every_rank_to_call_init_process_group(start_timeout)
    except ImportError as e:
        raise RuntimeError(
            "adjit.distributed runs on MPI through mpi4py, which is not installed: "
            f"{MPI_EXTRA} (mpi4py and the mpich wheel)"
        ) from e
    _MPI.append(MPI)
    return MPI
