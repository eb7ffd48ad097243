"""Collectives of picklable Python objects (checkpoint coordination, metrics, configs)."""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np

from adjit.distributed import p2p
from adjit.distributed._mpi import mpi
from adjit.distributed.buffers import not_member, root
from adjit.distributed.group import ProcessGroup, resolve
from adjit.distributed.signature import Signature
from adjit.distributed.work import Work, run
from adjit.runtime.creation import from_numpy
from adjit.runtime.tensor import Tensor


# Note [object collectives]
# As PyTorch's: each object is pickled to bytes; the byte counts move first (a small
# collective), then the bytes (a v-collective with those counts); receivers unpickle. The
# signature holds the list length where every rank must agree on it (broadcast_object_list).
# Unpickling runs arbitrary code: only exchange objects with ranks you trust (PyTorch's warning).
def _pickle(obj: Any) -> np.ndarray:
    return np.frombuffer(pickle.dumps(obj), np.uint8)


def _unpickle(data: np.ndarray) -> Any:
    return pickle.loads(data.tobytes())


def _displacements(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)[:-1]])[: len(counts)].astype(np.int64)


def all_gather_object(object_list: list[Any], obj: Any, group: ProcessGroup | None = None) -> None:
    """``object_list[i]`` of every rank gets rank i's ``obj`` (``object_list`` must have one
    entry per rank)."""
    if not_member(group, "all_gather_object"):
        return
    pg = resolve(group)
    if len(object_list) < pg.size():
        raise IndexError(
            f"all_gather_object: object_list has {len(object_list)} entries but the group has "
            f"{pg.size()} ranks (pass [None] * world_size)"
        )
    MPI = mpi()

    def body() -> Iterator[Any]:
        data = _pickle(obj)
        counts = np.empty(pg.size(), np.int64)
        yield pg.comm.Iallgather(np.array([data.size], np.int64), counts)
        got = np.empty(int(counts.sum()), np.uint8)
        yield pg.comm.Iallgatherv(
            [data, MPI.BYTE], [got, (counts, _displacements(counts)), MPI.BYTE]
        )
        for i, start in enumerate(_displacements(counts)):
            object_list[i] = _unpickle(got[start : start + counts[i]])

    run(Work(pg, Signature("all_gather_object"), body), async_op=False)


def broadcast_object_list(
    object_list: list[Any],
    src: int | None = None,
    group: ProcessGroup | None = None,
    device: Any = None,
    group_src: int | None = None,
) -> None:
    """Rank ``src``'s ``object_list`` entries replace every other rank's, in place (every rank
    passes a list of the same length)."""
    if not_member(group, "broadcast_object_list"):
        return
    pg = resolve(group)
    src_rank = root(pg, src, group_src, "broadcast", 0)
    me = pg.rank()
    MPI = mpi()

    def body() -> Iterator[Any]:
        parts = [_pickle(o) for o in object_list] if me == src_rank else []
        counts = np.array([p.size for p in parts] or [0] * len(object_list), np.int64)
        yield pg.comm.Ibcast(counts, src_rank)
        data = np.concatenate(parts) if parts else np.empty(int(counts.sum()), np.uint8)
        yield pg.comm.Ibcast([data, MPI.BYTE], src_rank)
        if me != src_rank:
            for i, start in enumerate(_displacements(counts)):
                object_list[i] = _unpickle(data[start : start + counts[i]])

    sig = Signature("broadcast_object_list", "uint8", (len(object_list),), root=src_rank)
    run(Work(pg, sig, body), async_op=False)


def gather_object(
    obj: Any,
    object_gather_list: list[Any] | None = None,
    dst: int | None = None,
    group: ProcessGroup | None = None,
    group_dst: int | None = None,
) -> None:
    """Rank ``dst``'s ``object_gather_list[i]`` gets rank i's ``obj``."""
    if not_member(group, "gather_object"):
        return
    pg = resolve(group)
    dst_rank = root(pg, dst, group_dst, "gather", 0)
    me = pg.rank()
    if me == dst_rank and object_gather_list is None:
        raise AssertionError("Must provide object_gather_list on dst rank")
    if me == dst_rank and len(object_gather_list) < pg.size():  # type: ignore[arg-type]
        raise IndexError(
            f"gather_object: object_gather_list has {len(object_gather_list)} entries but the "  # type: ignore[arg-type]
            f"group has {pg.size()} ranks"
        )
    MPI = mpi()

    def body() -> Iterator[Any]:
        data = _pickle(obj)
        counts = np.empty(pg.size(), np.int64)
        yield pg.comm.Igather(
            np.array([data.size], np.int64), counts if me == dst_rank else None, dst_rank
        )
        if me != dst_rank:
            yield pg.comm.Igatherv([data, MPI.BYTE], None, dst_rank)
            return
        got = np.empty(int(counts.sum()), np.uint8)
        displs = _displacements(counts)
        yield pg.comm.Igatherv([data, MPI.BYTE], [got, (counts, displs), MPI.BYTE], dst_rank)
        for i, start in enumerate(displs):
            object_gather_list[i] = _unpickle(got[start : start + counts[i]])  # type: ignore[index]

    run(Work(pg, Signature("gather_object", root=dst_rank), body), async_op=False)


def scatter_object_list(
    scatter_object_output_list: list[Any],
    scatter_object_input_list: list[Any] | None = None,
    src: int | None = None,
    group: ProcessGroup | None = None,
    group_src: int | None = None,
) -> None:
    """``scatter_object_output_list[0]`` of rank i gets rank ``src``'s
    ``scatter_object_input_list[i]``."""
    if not_member(group, "scatter_object_list"):
        return
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError(
            "Expected argument scatter_object_output_list to be a list of size at least 1."
        )
    pg = resolve(group)
    src_rank = root(pg, src, group_src, "scatter", 0)
    me = pg.rank()
    if me == src_rank and scatter_object_input_list is None:
        raise ValueError("source rank must provide non-None scatter_object_input_list")
    if me == src_rank and len(scatter_object_input_list) != pg.size():  # type: ignore[arg-type]
        raise RuntimeError(
            f"scatter_object_list: scatter_object_input_list has "
            f"{len(scatter_object_input_list)} entries but the group has {pg.size()} ranks"  # type: ignore[arg-type]
        )
    MPI = mpi()

    def body() -> Iterator[Any]:
        count = np.empty(1, np.int64)
        if me == src_rank:
            parts = [_pickle(o) for o in scatter_object_input_list]  # type: ignore[union-attr]
            counts = np.array([p.size for p in parts], np.int64)
            yield pg.comm.Iscatter(counts, count, src_rank)
            data = np.concatenate(parts)
            got = np.empty(int(count[0]), np.uint8)
            yield pg.comm.Iscatterv(
                [data, (counts, _displacements(counts)), MPI.BYTE], [got, MPI.BYTE], src_rank
            )
        else:
            yield pg.comm.Iscatter(None, count, src_rank)
            got = np.empty(int(count[0]), np.uint8)
            yield pg.comm.Iscatterv(None, [got, MPI.BYTE], src_rank)
        scatter_object_output_list[0] = _unpickle(got)

    run(Work(pg, Signature("scatter_object_list", root=src_rank), body), async_op=False)


# Note [object point-to-point]
# send_object_list is two sends on tag 0, as PyTorch's: the int64 byte counts (one per object),
# then the concatenated pickles; recv_object_list receives the counts into a tensor of its
# list's length, so a receiver whose list length differs gets the p2p header mismatch, worded
# for lists, after also draining the pickles (the sender completes instead of waiting for a
# receive that never comes).
def send_object_list(
    object_list: list[Any],
    dst: int | None = None,
    group: ProcessGroup | None = None,
    device: Any = None,
    group_dst: int | None = None,
    use_batch: bool = False,
) -> None:
    """Send the picklable objects of ``object_list`` to rank ``dst`` (which calls
    ``recv_object_list`` with a list of the same length)."""
    if not_member(group, "send_object_list"):
        return
    pg = resolve(group)
    peer = p2p._peer(pg, dst, group_dst, "destination")
    parts = [_pickle(o) for o in object_list]
    p2p.send(from_numpy(np.array([p.size for p in parts], np.int64)), group=pg, group_dst=peer)
    data = np.concatenate(parts) if parts else np.empty(0, np.uint8)
    p2p.send(from_numpy(data), group=pg, group_dst=peer)


def _length_mismatch(pg: ProcessGroup, sender: int, header: np.ndarray, t: Tensor, tag: int) -> str:
    return (
        f"[rank {pg.rank()}]: recv_object_list: rank {pg.global_rank(sender)} sent "
        f"{int(header[5])} objects but object_list has {t.numel()} entries (pass a list of the "
        "sender's length)"
    )


def recv_object_list(
    object_list: list[Any],
    src: int | None = None,
    group: ProcessGroup | None = None,
    device: Any = None,
    group_src: int | None = None,
    use_batch: bool = False,
) -> int:
    """Fill ``object_list`` with the objects rank ``src`` sent with ``send_object_list``;
    returns the sender's global rank (-1 if this rank is not in ``group``)."""
    if not_member(group, "recv_object_list"):
        return -1
    pg = resolve(group)
    peer = p2p._peer(pg, src, group_src, "source")
    sizes = from_numpy(np.zeros(len(object_list), np.int64))
    work = p2p._irecv(sizes, pg, peer, 0, _length_mismatch)
    try:
        work.wait()
    except RuntimeError:
        if work.exception() is None:  # a timeout or a peer's failure: nothing to drain
            raise
        drain = p2p._irecv(from_numpy(np.zeros(0, np.uint8)), pg, peer, 0, _length_mismatch)
        with contextlib.suppress(RuntimeError):  # (a mismatch again unless no bytes were
            drain.wait()  # sent: both drain the pickles)
        raise
    counts = sizes._data
    data = from_numpy(np.zeros(int(counts.sum()), np.uint8))
    p2p._irecv(data, pg, peer, 0, p2p._recv_mismatch).wait()
    for i, start in enumerate(_displacements(counts)):
        object_list[i] = _unpickle(data._data[start : start + counts[i]])
    return pg.global_rank(peer)
