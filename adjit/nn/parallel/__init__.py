"""``adjit.nn.parallel``: ``DistributedDataParallel`` over ``adjit.distributed`` (MPI), and
``DataParallel`` as PyTorch's on a CPU-only machine."""

from __future__ import annotations

from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
