"""Barrier, broadcast and the reducing collectives on adjit Tensors, in place, over MPI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import numpy as np

from adjit.distributed import dtypes as DT
from adjit.distributed._mpi import mpi
from adjit.distributed.buffers import (
    TRACE_HOOK,
    as_bytes,
    aval,
    buffer,
    not_member,
    root,
    same_dtype,
    single,
    store,
    traced,
    writable,
)
from adjit.distributed.buffers import tensor_list as check_list
from adjit.distributed.dtypes import RedOpType, ReduceOp
from adjit.distributed.gather import _same_shapes as same_shapes
from adjit.distributed.group import ProcessGroup, resolve
from adjit.distributed.signature import Signature
from adjit.distributed.work import Work, run
from adjit.runtime.tensor import Tensor


def barrier(
    group: ProcessGroup | None = None,
    async_op: bool = False,
    device_ids: Any = None,
    timeout: timedelta | None = None,
) -> Work | None:
    """Wait until every rank of the group has called barrier (the signature exchange is one)."""
    if not_member(group, "barrier"):
        return None
    pg = resolve(group)

    def body() -> Iterator[Any]:
        yield from ()

    work = Work(pg, Signature("barrier"), body)
    work._issue()
    if async_op:
        return work
    work.wait(timeout)
    return None


def monitored_barrier(
    group: ProcessGroup | None = None,
    timeout: timedelta | None = None,
    wait_all_ranks: bool = False,
) -> None:
    """A barrier whose timeout error names the ranks that did not arrive (every barrier here
    does: Note [waiting by polling])."""
    barrier(group, timeout=timeout)


def _reduced(pg: ProcessGroup, op: RedOpType, buf: np.ndarray) -> np.ndarray:
    """AVG is SUM, then this division (in the compute dtype: Note [reduced floats on MPI])."""
    if op is RedOpType.AVG:
        np.true_divide(buf, pg.size(), out=buf)
    return buf


def all_reduce(
    tensor: Tensor,
    op: RedOpType = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Reduce ``tensor`` over the group with ``op``; every rank gets the result, in place."""
    t = single(tensor, "tensor")
    if traced("all_reduce", t):
        return TRACE_HOOK[0]("all_reduce", dict(tensor=t, op=op, group=group, async_op=async_op))
    if not_member(group, "all_reduce"):
        return None
    pg = resolve(group)
    op = DT.check_reduce(op, t.dtype, "all_reduce")
    writable(t, "all_reduce")
    MPI = mpi()
    mpitype, mpiop, compute = DT.mpi_reduce(MPI, t.dtype, op)

    def body() -> Iterator[Any]:
        buf = buffer(t, compute)
        yield pg.comm.Iallreduce(MPI.IN_PLACE, [buf, mpitype], mpiop)
        store(t, _reduced(pg, op, buf))

    sig = Signature("all_reduce", t.dtype.name, tuple(t.shape), op)
    return run(Work(pg, sig, body, [t]), async_op)


def broadcast(
    tensor: Tensor,
    src: int | None = None,
    group: ProcessGroup | None = None,
    async_op: bool = False,
    group_src: int | None = None,
) -> Work | None:
    """Copy ``tensor`` of rank ``src`` into ``tensor`` of every other rank."""
    t = single(tensor, "tensor")
    if traced("broadcast", t):
        return TRACE_HOOK[0](
            "broadcast",
            dict(tensor=t, src=src, group=group, async_op=async_op, group_src=group_src),
        )
    if not_member(group, "broadcast"):
        return None
    pg = resolve(group)
    src_rank = root(pg, src, group_src, "broadcast", None)
    me = pg.rank()
    if me != src_rank:
        writable(t, "broadcast")

    def body() -> Iterator[Any]:
        buf = buffer(t)
        yield pg.comm.Ibcast(as_bytes(buf), src_rank)
        if me != src_rank:
            store(t, buf)

    sig = Signature("broadcast", t.dtype.name, tuple(t.shape), root=src_rank)
    return run(Work(pg, sig, body, [t]), async_op)


def reduce(
    tensor: Tensor,
    dst: int | None = None,
    op: RedOpType = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
    group_dst: int | None = None,
) -> Work | None:
    """Reduce ``tensor`` over the group into rank ``dst``'s (the others' are left as they are)."""
    t = single(tensor, "tensor")
    if traced("reduce", t):
        return TRACE_HOOK[0](
            "reduce",
            dict(tensor=t, dst=dst, op=op, group=group, async_op=async_op, group_dst=group_dst),
        )
    if not_member(group, "reduce"):
        return None
    pg = resolve(group)
    dst_rank = root(pg, dst, group_dst, "reduce", None)
    op = DT.check_reduce(op, t.dtype, "reduce")
    me = pg.rank()
    if me == dst_rank:
        writable(t, "reduce")
    MPI = mpi()
    mpitype, mpiop, compute = DT.mpi_reduce(MPI, t.dtype, op)

    def body() -> Iterator[Any]:
        buf = buffer(t, compute)
        if me == dst_rank:
            yield pg.comm.Ireduce(MPI.IN_PLACE, [buf, mpitype], mpiop, dst_rank)
            store(t, _reduced(pg, op, buf))
        else:
            yield pg.comm.Ireduce([buf, mpitype], None, mpiop, dst_rank)

    sig = Signature("reduce", t.dtype.name, tuple(t.shape), op, root=dst_rank)
    return run(Work(pg, sig, body, [t]), async_op)


def reduce_scatter_tensor(
    output: Tensor,
    input: Tensor,
    op: RedOpType = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Reduce ``input`` (world_size blocks along its elements) over the group; rank i gets
    block i of the result in ``output``."""
    out, inp = single(output, "output"), single(input, "input")
    if traced("reduce_scatter_tensor", out, inp):
        return TRACE_HOOK[0](
            "reduce_scatter_tensor",
            dict(output=out, input=inp, op=op, group=group, async_op=async_op),
        )
    same_dtype(out, inp)
    if not_member(group, "reduce_scatter_tensor"):
        return None
    pg = resolve(group)
    op = DT.check_reduce(op, inp.dtype, "reduce_scatter_tensor")
    if inp.numel() != out.numel() * pg.size():
        raise ValueError(
            "reduce_scatter_tensor: input tensor must be the same size as output size times "
            f"world size: input {aval(inp)} ({inp.numel()} elements), output {aval(out)} "
            f"({out.numel()} elements), world size {pg.size()}"
        )
    sig = Signature("reduce_scatter_tensor", inp.dtype.name, tuple(inp.shape), op)
    return _reduce_scatter_block(
        pg, sig, out, op, lambda c: np.ascontiguousarray(inp._data, c), async_op
    )


def reduce_scatter(
    output: Tensor,
    input_list: list[Tensor],
    op: RedOpType = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Reduce ``input_list`` (one tensor per rank, each shaped like ``output``) over the
    group; rank i gets the reduction of every rank's ``input_list[i]`` in ``output``."""
    out, ins = single(output, "output"), check_list(input_list, "input_list")
    if traced("reduce_scatter", out, *ins):
        return TRACE_HOOK[0](
            "reduce_scatter",
            dict(output=out, input_list=ins, op=op, group=group, async_op=async_op),
        )
    same_dtype(out, ins)
    if not_member(group, "reduce_scatter"):
        return None
    pg = resolve(group)
    if len(ins) != pg.size():
        raise RuntimeError(
            "ProcessGroupMPI::reduce_scatter: invalid input tensor list size, must be world "
            f"size ({pg.size()}), got {len(ins)}"
        )
    same_shapes("reduce_scatter", ins, out)
    op = DT.check_reduce(op, out.dtype, "reduce_scatter")
    sig = Signature("reduce_scatter", out.dtype.name, tuple(out.shape), op)
    return _reduce_scatter_block(
        pg, sig, out, op, lambda c: np.stack([np.asarray(t._data, c) for t in ins]), async_op
    )


def _reduce_scatter_block(
    pg: ProcessGroup,
    sig: Signature,
    out: Tensor,
    op: RedOpType,
    send: Callable[[Any], np.ndarray],
    async_op: bool,
) -> Work | None:
    """reduce_scatter(_tensor)'s transfer: ``send(compute_dtype)`` (world_size blocks of
    ``out``'s size, C order) is reduced block by block; this rank's block lands in ``out``."""
    writable(out, sig.kind)
    MPI = mpi()
    mpitype, mpiop, compute = DT.mpi_reduce(MPI, out.dtype, op)

    def body() -> Iterator[Any]:
        data = send(compute)
        buf = buffer(out, compute)
        yield pg.comm.Ireduce_scatter_block([data, mpitype], [buf, mpitype], mpiop)
        store(out, _reduced(pg, op, buf))

    return run(Work(pg, sig, body, [out]), async_op)


def _register_trace_hook() -> None:
    """A collective on tracers becomes a COLLECTIVE equation (Note [traced collectives] in
    frontend/collectives.py); a streamed backward lets the world group's collectives in flight
    progress between its steps (MPICH moves nonblocking data only inside MPI calls: Note
    [gradients as they are made]), unless ADJIT_COLLECTIVE_POLL=0."""
    from adjit.distributed.group import GroupMember
    from adjit.distributed.work import progress
    from adjit.frontend.collectives import trace_hook
    from adjit.passes.pipeline import flag
    from adjit.runtime import streaming

    TRACE_HOOK.append(trace_hook({"all_reduce": all_reduce, "broadcast": broadcast}, resolve))

    def progress_world() -> None:
        pg = GroupMember.WORLD
        if pg is not None and pg.pending:
            progress(pg)

    if flag("ADJIT_COLLECTIVE_POLL") != "0":
        streaming.POLLERS.append(progress_world)


_register_trace_hook()
