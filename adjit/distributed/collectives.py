"""The collectives and point-to-point ops on adjit Tensors, in place, over MPI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import numpy as np

from adjit.distributed import dtypes as DT
from adjit.distributed._mpi import mpi
from adjit.distributed.dtypes import RedOpType, ReduceOp
from adjit.distributed.group import ProcessGroup, resolve
from adjit.distributed.signature import Signature
from adjit.distributed.work import Work, run
from adjit.runtime.tensor import Tensor

# Note [collectives while tracing]
# Inside adjit.compile a collective sees tracer tensors, whose data is not there yet. The
# frontend may register TRACE_HOOK[0] = fn(name, args, kwargs) to record the collective into
# the graph; without one a traced call is refused by name (never a silent no-op).
TRACE_HOOK: list[Callable[[str, tuple, dict], Any]] = []


def _single(t: Any, param: str) -> Tensor:
    """PyTorch's _check_single_tensor, then adjit's own checks."""
    if not isinstance(t, Tensor):
        raise TypeError(
            f"Invalid function argument. Expected parameter `{param}` of type torch.Tensor\n"
            f"             but got {type(t)} instead."
        )
    return t


def _tensors(ts: Any, param: str) -> list[Tensor]:
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


def _traced(name: str, tensors: list[Tensor], args: tuple, kwargs: dict) -> bool:
    if not any(t._is_tracer for t in tensors):
        return False
    if not TRACE_HOOK:
        raise NotImplementedError(
            f"adjit.distributed.{name} on a traced tensor (inside adjit.compile) is not "
            "supported: call it outside the compiled function"
        )
    return True


def _writable(t: Tensor, what: str) -> None:
    if not t._data.flags.writeable:
        raise RuntimeError(
            f"{what}: the output tensor {_aval(t)} is a read-only view (made by expand or "
            "broadcasting); pass a tensor with its own memory (e.g. .clone())"
        )


def _aval(t: Tensor) -> str:
    return f"{t.dtype.name}{list(t.shape)}"


def _buffer(t: Tensor, dtype: Any = None) -> np.ndarray:
    """A C-contiguous array MPI can read and write: ``t``'s own memory when it can be."""
    d = t._data
    want = d.dtype if dtype is None else np.dtype(dtype)
    if d.dtype == want and d.flags.c_contiguous and d.flags.writeable:
        return d
    return np.ascontiguousarray(d, dtype=want)


def _store(t: Tensor, buf: np.ndarray) -> None:
    """Copy ``buf`` into ``t`` (if it is not ``t``'s memory) and count an in-place write."""
    if buf is not t._data:
        t._data[...] = buf.reshape(t._data.shape).astype(t._data.dtype, copy=False)
    t._version_box[0] += 1


def _bytes(a: np.ndarray) -> list[Any]:
    """An MPI buffer spec moving ``a`` as raw bytes (no arithmetic: any dtype)."""
    return [a.reshape(-1).view(np.uint8), mpi().BYTE]


def _root(pg: ProcessGroup, rank: int | None, group_rank: int | None, what: str, word: str) -> int:
    """The group rank of a src/dst given as a global rank or as group_src/group_dst."""
    if rank is not None and group_rank is not None:
        raise ValueError(f"Can not specify both {word} and group_{word}")
    if group_rank is None:
        group_rank = pg.group_rank(0 if rank is None else rank)
    if not 0 <= group_rank < pg.size():
        raise RuntimeError(f"ProcessGroupMPI::{what}: invalid root rank: {group_rank}")
    return group_rank


# ---- collectives -------------------------------------------------------------------------
def barrier(
    group: ProcessGroup | None = None,
    async_op: bool = False,
    device_ids: Any = None,
    timeout: timedelta | None = None,
) -> Work | None:
    """Wait until every rank of the group has called barrier (the signature exchange is one)."""
    pg = resolve(group)

    def body() -> Iterator[Any]:
        yield from ()

    work = Work(pg, Signature("barrier"), body)
    work._issue()
    if async_op:
        return work
    work.wait(timeout)
    return None


def all_reduce(
    tensor: Tensor, op: RedOpType = ReduceOp.SUM, group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:  # fmt: skip
    """Reduce ``tensor`` over the group with ``op``; every rank gets the result, in place."""
    t = _single(tensor, "tensor")
    if _traced("all_reduce", [t], (tensor, op, group, async_op), {}):
        return TRACE_HOOK[0]("all_reduce", (tensor, op, group, async_op), {})
    pg = resolve(group)
    op = DT.check_reduce(op, t.dtype, "all_reduce")
    _writable(t, "all_reduce")
    MPI = mpi()
    mpitype, mpiop, compute = DT.mpi_reduce(MPI, t.dtype, op)
    size = pg.size()

    def body() -> Iterator[Any]:
        buf = _buffer(t, compute)
        yield pg.comm.Iallreduce(MPI.IN_PLACE, [buf, mpitype], mpiop)
        if op is RedOpType.AVG:
            np.true_divide(buf, size, out=buf)
        _store(t, buf)

    return run(Work(pg, Signature("all_reduce", t.dtype.name, tuple(t.shape), op), body, [t]),
               async_op)  # fmt: skip


def broadcast(
    tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
    async_op: bool = False, group_src: int | None = None,
) -> Work | None:  # fmt: skip
    """Copy ``tensor`` of rank ``src`` into ``tensor`` of every other rank."""
    t = _single(tensor, "tensor")
    if _traced("broadcast", [t], (tensor, src, group, async_op), {}):
        return TRACE_HOOK[0]("broadcast", (tensor, src, group, async_op), {"group_src": group_src})
    pg = resolve(group)
    root = _root(pg, src, group_src, "broadcast", "src")
    me = pg.rank()
    if me != root:
        _writable(t, "broadcast")

    def body() -> Iterator[Any]:
        buf = _buffer(t)
        yield pg.comm.Ibcast(_bytes(buf), root)
        if me != root:
            _store(t, buf)

    sig = Signature("broadcast", t.dtype.name, tuple(t.shape), root=root)
    return run(Work(pg, sig, body, [t]), async_op)


def _register_trace_hook() -> None:
    """A collective on tracers becomes a COLLECTIVE equation (Note [traced collectives] in
    frontend/collectives.py)."""
    from adjit.distributed.group import resolve
    from adjit.frontend.collectives import trace_hook

    TRACE_HOOK.append(trace_hook({"all_reduce": all_reduce, "broadcast": broadcast}, resolve))


_register_trace_hook()
