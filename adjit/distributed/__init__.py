"""``adjit.distributed``: PyTorch's ``torch.distributed`` API on MPI (mpi4py, loaded lazily)."""

from __future__ import annotations

from datetime import timedelta

from adjit.distributed._mpi import is_mpi_available
from adjit.distributed.alltoall import all_to_all, all_to_all_single
from adjit.distributed.collectives import (
    all_reduce,
    barrier,
    broadcast,
    monitored_barrier,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
)
from adjit.distributed.dtypes import ReduceOp
from adjit.distributed.failure import DistBackendError, DistError, DistNetworkError, DistStoreError
from adjit.distributed.gather import all_gather, all_gather_into_tensor, gather, scatter
from adjit.distributed.group import DEFAULT_TIMEOUT as default_pg_timeout
from adjit.distributed.group import (
    Backend,
    GroupMember,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_initialized,
    new_group,
)
from adjit.distributed.objects import (
    all_gather_object,
    broadcast_object_list,
    gather_object,
    recv_object_list,
    scatter_object_list,
    send_object_list,
)
from adjit.distributed.p2p import P2POp, batch_isend_irecv, irecv, isend, recv, send
from adjit.distributed.work import Work


def is_available() -> bool:
    """True: the package is always there (whether MPI is: ``is_mpi_available()``)."""
    return True


def is_gloo_available() -> bool:
    """False: ``backend="gloo"`` is accepted and runs on MPI (no gloo library)."""
    return False


def is_nccl_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    return False


__all__ = [
    "Backend",
    "DistBackendError",
    "DistError",
    "DistNetworkError",
    "DistStoreError",
    "GroupMember",
    "P2POp",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "all_to_all",
    "all_to_all_single",
    "barrier",
    "batch_isend_irecv",
    "broadcast",
    "broadcast_object_list",
    "gather",
    "gather_object",
    "irecv",
    "isend",
    "monitored_barrier",
    "recv",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
    "recv_object_list",
    "scatter_object_list",
    "send",
    "send_object_list",
    "destroy_process_group",
    "get_backend",
    "get_global_rank",
    "get_group_rank",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "default_pg_timeout",
    "group",
    "init_process_group",
    "is_available",
    "is_gloo_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "is_torchelastic_launched",
    "new_group",
    "timedelta",
]
