"""The gathering and scattering collectives: all_gather, all_gather_into_tensor, gather, scatter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

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
from adjit.distributed.group import ProcessGroup, resolve
from adjit.distributed.signature import Signature
from adjit.distributed.work import Work, run
from adjit.runtime.tensor import Tensor


def _dims(shape: Any) -> str:
    """PyTorch's c10 sizes text: ``(2, 3)``, ``(2)``."""
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _same_shapes(what: str, ts: list[Tensor], like: Tensor) -> None:
    """Every tensor of a gather/scatter list has ``like``'s shape (gloo's check and text)."""
    for i, t in enumerate(ts):
        if tuple(t.shape) != tuple(like.shape):
            raise RuntimeError(
                f"ProcessGroupMPI::{what}: invalid tensor size at index {i} (expected "
                f"{_dims(like.shape)}, got {_dims(t.shape)})"
            )


def _contiguous(t: Tensor) -> np.ndarray:
    """``t``'s data as a C-contiguous array to send (no copy when it already is)."""
    return np.ascontiguousarray(t._data)


def all_gather(
    tensor_list: list[Tensor],
    tensor: Tensor,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """``tensor_list[i]`` of every rank gets rank i's ``tensor``."""
    outs, t = check_list(tensor_list, "tensor_list"), single(tensor, "tensor")
    if traced("all_gather", t, *outs):
        return TRACE_HOOK[0](
            "all_gather", dict(tensor_list=outs, tensor=t, group=group, async_op=async_op)
        )
    same_dtype(outs, t)
    if not_member(group, "all_gather"):
        return None
    pg = resolve(group)
    if len(outs) != pg.size():
        raise RuntimeError(
            "ProcessGroupMPI::allgather: invalid output tensor list at index 0 (expected "
            f"length {pg.size()}, got {len(outs)})"
        )
    _same_shapes("allgather", outs, t)
    for o in outs:
        writable(o, "all_gather")

    def body() -> Iterator[Any]:
        got = np.empty((pg.size(), *t.shape), t._data.dtype)
        yield pg.comm.Iallgather(as_bytes(_contiguous(t)), as_bytes(got))
        for o, part in zip(outs, got, strict=True):
            store(o, part)

    sig = Signature("all_gather", t.dtype.name, tuple(t.shape))
    return run(Work(pg, sig, body, outs), async_op)


def all_gather_into_tensor(
    output_tensor: Tensor,
    input_tensor: Tensor,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """``output_tensor`` (world_size times the input's elements, e.g. ``[world * n, ...]``)
    gets every rank's ``input_tensor`` in rank order."""
    out, inp = single(output_tensor, "output_tensor"), single(input_tensor, "input_tensor")
    if traced("all_gather_into_tensor", out, inp):
        return TRACE_HOOK[0](
            "all_gather_into_tensor",
            dict(output_tensor=out, input_tensor=inp, group=group, async_op=async_op),
        )
    same_dtype(out, inp)
    if not_member(group, "all_gather_into_tensor"):
        return None
    pg = resolve(group)
    if out.dtype != inp.dtype:
        raise RuntimeError(
            f"all_gather_into_tensor: output tensor must have the same type as input tensor: "
            f"output {aval(out)}, input {aval(inp)}"
        )
    if out.numel() != inp.numel() * pg.size():
        raise ValueError(
            "all_gather_into_tensor: output tensor size must be equal to world_size times "
            f"input tensor size: output {aval(out)} ({out.numel()} elements), input "
            f"{aval(inp)} ({inp.numel()} elements), world size {pg.size()}"
        )
    writable(out, "all_gather_into_tensor")

    def body() -> Iterator[Any]:
        buf = buffer(out)
        yield pg.comm.Iallgather(as_bytes(_contiguous(inp)), as_bytes(buf))
        store(out, buf)

    sig = Signature("all_gather_into_tensor", inp.dtype.name, tuple(inp.shape))
    return run(Work(pg, sig, body, [out]), async_op)


def _root_list(
    op: str,
    name: str,
    items: list[Tensor],
    pg: ProcessGroup,
    root_rank: int,
    t: Tensor,
    role: str,
    side: str,
) -> None:
    """PyTorch's checks of gather's and scatter's list: given on the root rank only, one tensor
    per rank, each of ``t``'s shape (``role``: destination or source; ``side``: output or
    input)."""
    me = pg.rank()
    if me == root_rank and not items:
        raise ValueError(f"Argument ``{name}`` must be specified on {role} rank.")
    if me != root_rank and items:
        raise ValueError(f"Argument ``{name}`` must NOT be specified on non-{role} ranks.")
    if me == root_rank:
        if len(items) != pg.size():
            raise RuntimeError(
                f"ProcessGroupMPI::{op}: Incorrect {side} list size {len(items)}. "
                f"{side.capitalize()} list size should be {pg.size()}, same as size of the "
                "process group."
            )
        _same_shapes(op, items, t)


def gather(
    tensor: Tensor,
    gather_list: list[Tensor] | None = None,
    dst: int | None = None,
    group: ProcessGroup | None = None,
    async_op: bool = False,
    group_dst: int | None = None,
) -> Work | None:
    """Rank ``dst``'s ``gather_list[i]`` gets rank i's ``tensor``."""
    t = single(tensor, "tensor")
    outs = check_list(gather_list, "gather_list") if gather_list else []
    if traced("gather", t, *outs):
        return TRACE_HOOK[0](
            "gather",
            dict(tensor=t, gather_list=gather_list, dst=dst, group=group, async_op=async_op,
                 group_dst=group_dst),
        )  # fmt: skip
    same_dtype(t, outs)
    if not_member(group, "gather"):
        return None
    pg = resolve(group)
    dst_rank = root(pg, dst, group_dst, "gather", 0)
    me = pg.rank()
    _root_list("gather", "gather_list", outs, pg, dst_rank, t, "destination", "output")
    for o in outs:
        writable(o, "gather")

    def body() -> Iterator[Any]:
        mine = as_bytes(_contiguous(t))
        if me != dst_rank:
            yield pg.comm.Igather(mine, None, dst_rank)
            return
        got = np.empty((pg.size(), *t.shape), t._data.dtype)
        yield pg.comm.Igather(mine, as_bytes(got), dst_rank)
        for o, part in zip(outs, got, strict=True):
            store(o, part)

    sig = Signature("gather", t.dtype.name, tuple(t.shape), root=dst_rank)
    return run(Work(pg, sig, body, outs), async_op)


def scatter(
    tensor: Tensor,
    scatter_list: list[Tensor] | None = None,
    src: int | None = None,
    group: ProcessGroup | None = None,
    async_op: bool = False,
    group_src: int | None = None,
) -> Work | None:
    """Rank i's ``tensor`` gets rank ``src``'s ``scatter_list[i]``."""
    t = single(tensor, "tensor")
    ins = check_list(scatter_list, "scatter_list") if scatter_list else []
    if traced("scatter", t, *ins):
        return TRACE_HOOK[0](
            "scatter",
            dict(tensor=t, scatter_list=scatter_list, src=src, group=group, async_op=async_op,
                 group_src=group_src),
        )  # fmt: skip
    same_dtype(t, ins)
    if not_member(group, "scatter"):
        return None
    pg = resolve(group)
    src_rank = root(pg, src, group_src, "scatter", 0)
    me = pg.rank()
    _root_list("scatter", "scatter_list", ins, pg, src_rank, t, "source", "input")
    writable(t, "scatter")

    def body() -> Iterator[Any]:
        buf = buffer(t)
        if me != src_rank:
            yield pg.comm.Iscatter(None, as_bytes(buf), src_rank)
        else:
            parts = np.stack([_contiguous(x) for x in ins])
            yield pg.comm.Iscatter(as_bytes(parts), as_bytes(buf), src_rank)
        store(t, buf)

    sig = Signature("scatter", t.dtype.name, tuple(t.shape), root=src_rank)
    return run(Work(pg, sig, body, [t]), async_op)
