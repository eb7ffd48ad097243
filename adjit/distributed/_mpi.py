"""mpi4py, imported on first use so ``import adjit.distributed`` works without it."""

from __future__ import annotations

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


def mpi() -> Any:
    """The ``mpi4py.MPI`` module (initializes MPI); a clear error when the extra is missing."""
    if _MPI:
        return _MPI[0]
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            "adjit.distributed runs on MPI through mpi4py, which is not installed: "
            f"{MPI_EXTRA} (mpi4py and the mpich wheel)"
        ) from e
    _MPI.append(MPI)
    return MPI
