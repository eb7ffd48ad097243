"""Argument checks and MPI buffers shared by the collectives and point-to-point ops."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from adjit.distributed._mpi import mpi
from adjit.distributed.group import GroupMember, ProcessGroup
from adjit.runtime import trace_state
from adjit.runtime.tensor import Tensor

# Note [collectives while tracing]
# Inside adjit.compile a collective sees tracer tensors, whose data is not there yet. The
# frontend may register TRACE_HOOK[0] = fn(name, args, kwargs) to record the collective into
# the graph; without one a traced call is refused by name (never a silent no-op).
TRACE_HOOK: list[Callable[[str, dict[str, Any]], Any]] = []


def single(t: Any, param: str) -> Tensor:
    """PyTorch's _check_single_tensor, then adjit's own checks."""
    if not isinstance(t, Tensor):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{param}` of type torch.Tensor\n"
            f"             but got {type(t)} instead."
        )
    return t


def tensor_list(ts: Any, param: str) -> list[Tensor]:
    """PyTorch's _check_tensor_list."""
    if not isinstance(ts, list):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{param}` of type List[torch.Tensor]\n"
            f"             but got {type(ts)} instead."
        )
    if not all(isinstance(t, Tensor) for t in ts):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{param}` of type List[torch.Tensor]\n"
            f"             but got {type(ts)} with elements of type {[type(t) for t in ts]}."
        )
    return ts


def traced(name: str, *tensors: Tensor) -> bool:
    """Whether a tensor is traced (then TRACE_HOOK[0](name, arguments) does the op): a
    tracer, or any tensor while adjit.compile traces (run now, its exchange would be fixed
    into the compiled program as a constant)."""
    for t in tensors:
        if t._is_tracer:
            break
    else:
        if trace_state.current() is None:
            return False
    if not TRACE_HOOK:
        raise NotImplementedError(
            f"adjit.distributed.{name} on a traced tensor (inside adjit.compile) is not "
            "supported: call it outside the compiled function"
        )
    return True


def writable(t: Tensor, what: str) -> None:
    if not t._data.flags.writeable:
        raise RuntimeError(
            f"{what}: the output tensor {aval(t)} is a read-only view (made by expand or "
            "broadcasting); pass a tensor with its own memory (e.g. .clone())"
        )


def aval(t: Tensor) -> str:
    return f"{t.dtype.name}{list(t.shape)}"


def buffer(t: Tensor, dtype: Any = None) -> np.ndarray:
    """A C-contiguous array MPI can read and write: ``t``'s own memory when it can be."""
    d = t._data
    want = d.dtype if dtype is None else np.dtype(dtype)
    if d.dtype == want and d.flags.c_contiguous and d.flags.writeable:
        return d
    return np.ascontiguousarray(d, dtype=want)


# Note [collectives bump the version]
# A collective writes its output tensors in place, outside autograd, as PyTorch's do; unlike
# PyTorch's (torch 2.13 with gloo leaves ``_version`` as it was), adjit counts the write in the
# tensor's version counter as any in-place op does, so a tensor saved for backward and then
# overwritten by a collective fails loudly at backward instead of giving a wrong gradient.
# Tensors that only send (all_reduce's input is its output; broadcast's source; gather's
# input) are not counted on the ranks where they are not written.
def store(t: Tensor, buf: np.ndarray) -> None:
    """Copy ``buf`` into ``t`` (if it is not ``t``'s memory) and count an in-place write
    (Note [collectives bump the version])."""
    if buf is not t._data:
        t._data[...] = buf.reshape(t._data.shape).astype(t._data.dtype, copy=False)
    t._version_box[0] += 1


def as_bytes(a: np.ndarray) -> list[Any]:
    """An MPI buffer spec moving ``a`` as raw bytes (no arithmetic: any dtype)."""
    return [a.reshape(-1).view(np.uint8), mpi().BYTE]


def root(
    pg: ProcessGroup, rank: int | None, group_rank: int | None, what: str, default: int | None
) -> int:
    """The group rank of a src/dst given as a global rank or as group_src/group_dst (PyTorch's
    _canonicalize_group_rank; ``default`` when neither is given, if the op has one)."""
    if rank is None and group_rank is None:
        rank = default
    if group_rank is not None:
        if rank is not None:
            raise ValueError("Can't specify both group_rank and global_rank")
    else:
        if rank is None:
            raise ValueError("Must specify global_rank or group_rank")
        group_rank = pg.group_rank(rank)
    if not 0 <= group_rank < pg.size():
        raise RuntimeError(f"ProcessGroupMPI::{what}: invalid root rank: {group_rank}")
    return group_rank


def not_member(group: Any, what: str) -> bool:
    """PyTorch's _rank_not_in_group: a warning, and the op does nothing."""
    if group is GroupMember.NON_GROUP_MEMBER:
        from adjit.distributed.group import get_rank

        warnings.warn(
            f"Running {what} on global rank {get_rank()} which does not belong to the given group.",
            stacklevel=3,
        )
        return True
    return False


def same_dtype(*tensors: Tensor | list[Tensor]) -> None:
    """PyTorch's _ensure_all_tensors_same_dtype and its text (complex64 may mix with float32;
    torch 2.13 maps every other complex dtype to complex128)."""
    first: Any = None
    for t in (x for group in tensors for x in (group if isinstance(group, list) else [group])):
        dtype = t.dtype.name
        if dtype.startswith("complex"):
            dtype = "float32" if dtype == "complex64" else "complex128"
        if first is None:
            first = dtype
        elif dtype != first:
            raise ValueError(
                f"Invalid usage of tensors with different dtypesFound torch.{first} and  {t.dtype}"
            )
