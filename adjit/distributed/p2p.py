"""Point-to-point: send, recv, isend, irecv (a header with dtype and shape goes first)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from adjit.distributed import failure
from adjit.distributed._mpi import mpi
from adjit.distributed.buffers import (
    as_bytes,
    aval,
    buffer,
    not_member,
    single,
    store,
    traced,
    writable,
)
from adjit.distributed.dtypes import DTYPE_NAMES
from adjit.distributed.failure import DistBackendError
from adjit.distributed.group import ProcessGroup, resolve
from adjit.distributed.signature import Signature, aval_text
from adjit.distributed.work import EXIT_GRACE, Work, progress
from adjit.ir import dtypes as D
from adjit.runtime.tensor import Tensor


# Note [point-to-point header]
# A send is two messages on the group's p2p communicator: a header (the signature of the
# tensor: dtype, shape, the sender's rank) on tag 2*tag, then the bytes on tag 2*tag+1 (MPI
# keeps the order of messages between two ranks on one tag and communicator). recv reads the
# header first: a dtype or shape that differs from the receiving tensor's raises an error
# naming both (after draining the bytes, so the sender completes), instead of MPI's truncation
# error or a silent reinterpretation of the bytes.
class PeerWork(Work):
    """A send or recv: no group-wide order or signature; its own requests only."""

    peer: int | None = None  # the other rank (group rank), None: any source until the header

    def _issue(self) -> None:
        self._stage = "ready"
        self._advance()

    def _poll(self) -> None:
        self._advance()
        progress(self.pg)

    def _check_exited(self, ctl: failure.Control) -> None:
        peers = self.pg.ranks if self.peer is None else [self.pg.global_rank(self.peer)]
        gone = [r for r in peers if r in ctl.exited and r != ctl.rank]
        if len(gone) < len(peers) - (self.peer is None):
            return
        now = time.monotonic()
        self._exited_seen = self._exited_seen or now
        if now - self._exited_seen > EXIT_GRACE:
            raise DistBackendError(
                f"[rank {ctl.rank}]: rank {gone[0]} exited without completing {self.describe()}"
            )

    def source_rank(self) -> int:
        return -1 if self.peer is None else self.pg.global_rank(self.peer)

    def describe(self) -> str:
        """``recv(float32[2]) from rank 1`` (no sequence number: not a collective)."""
        kind = self.sig.kind
        peer = "any rank" if self.peer is None else f"rank {self.source_rank()}"
        return f"{kind}({aval_text(self.sig.array)}) {'to' if kind == 'send' else 'from'} {peer}"


def _peer(pg: ProcessGroup, rank: int | None, group_rank: int | None, word: str) -> int:
    """The peer's group rank; PyTorch's errors for a missing peer, or this rank itself."""
    if group_rank is not None:
        if rank is not None:
            raise ValueError("Can't specify both group_rank and global_rank")
    elif rank is None:
        raise ValueError("Must specify global_rank or group_rank")
    else:
        group_rank = pg.group_rank(rank)
    if group_rank == pg.rank():
        raise ValueError(
            f"Invalid {word} rank: {word} rank should not be the same as the rank of the "
            "current process."
        )
    if not 0 <= group_rank < pg.size():
        raise ValueError(
            f"Invalid {word} rank: {group_rank} (the group has ranks 0 to {pg.size() - 1})"
        )
    return group_rank


def _tag(tag: int) -> int:
    if not isinstance(tag, int) or tag < 0:
        raise ValueError(f"tag must be a non-negative int, got {tag!r}")
    return 2 * tag


def isend(
    tensor: Tensor,
    dst: int | None = None,
    group: ProcessGroup | None = None,
    tag: int = 0,
    group_dst: int | None = None,
) -> Work | None:
    """Send ``tensor`` to rank ``dst``; ``wait()`` the Work before changing ``tensor``."""
    t = single(tensor, "tensor")
    if traced("isend", t):
        raise NotImplementedError("adjit.distributed.isend inside adjit.compile")
    if not_member(group, "isend"):
        return None
    pg = resolve(group)
    peer = _peer(pg, dst, group_dst, "destination")
    sig = Signature("send", t.dtype.name, tuple(t.shape), root=pg.rank())
    comm, base = pg.p2p_comm, _tag(tag)

    def body() -> Iterator[Any]:
        yield comm.Isend(sig.array, peer, base)
        yield comm.Isend(as_bytes(np.ascontiguousarray(t._data)), peer, base + 1)

    work = PeerWork(pg, sig, body, [t])
    work.peer = peer
    work._issue()
    return work


def irecv(
    tensor: Tensor,
    src: int | None = None,
    group: ProcessGroup | None = None,
    tag: int = 0,
    group_src: int | None = None,
) -> Work | None:
    """Receive into ``tensor`` from rank ``src`` (any rank if None); ``wait()`` the Work."""
    t = single(tensor, "tensor")
    if traced("irecv", t):
        raise NotImplementedError("adjit.distributed.irecv inside adjit.compile")
    if not_member(group, "irecv"):
        return None
    pg = resolve(group)
    peer = None if src is None and group_src is None else _peer(pg, src, group_src, "source")
    writable(t, "recv")
    return _irecv(t, pg, peer, tag, _recv_mismatch)


def _recv_mismatch(pg: ProcessGroup, sender: int, header: np.ndarray, t: Tensor, tag: int) -> str:
    return (
        f"[rank {pg.rank()}]: recv: rank {pg.global_rank(sender)} sent {aval_text(header)} but "
        f"the receiving tensor is {aval(t)} (tag {tag})"
    )


def _irecv(
    t: Tensor,
    pg: ProcessGroup,
    peer: int | None,
    tag: int,
    mismatch: Callable[[ProcessGroup, int, np.ndarray, Tensor, int], str],
) -> PeerWork:
    """irecv's transfer (arguments checked): a header that differs from ``t``'s dtype and
    shape raises RuntimeError(``mismatch(pg, sender, header, t, tag)``)."""
    comm, base = pg.p2p_comm, _tag(tag)
    MPI = mpi()
    sig = Signature("recv", t.dtype.name, tuple(t.shape), root=-1 if peer is None else peer)
    work = PeerWork(pg, sig, lambda: iter(()), [t])
    work.peer = peer

    def body() -> Iterator[Any]:
        header = np.empty_like(sig.array)
        yield comm.Irecv(header, MPI.ANY_SOURCE if peer is None else peer, base)
        sender = work.peer = int(header[3])
        if not np.array_equal(header[4:], sig.array[4:]):
            dtype = D.by_name(DTYPE_NAMES[int(header[4])])
            scratch = np.empty(int(header[5]) * dtype.itemsize, np.uint8)
            yield comm.Irecv([scratch, MPI.BYTE], sender, base + 1)  # let the sender complete
            raise RuntimeError(mismatch(pg, sender, header, t, tag))
        buf = buffer(t)
        yield comm.Irecv(as_bytes(buf), sender, base + 1)
        store(t, buf)

    work._body = body
    work._issue()
    return work


def send(
    tensor: Tensor,
    dst: int | None = None,
    group: ProcessGroup | None = None,
    tag: int = 0,
    group_dst: int | None = None,
) -> None:
    """Send ``tensor`` to rank ``dst`` (returns when the data has left ``tensor``)."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(
    tensor: Tensor,
    src: int | None = None,
    group: ProcessGroup | None = None,
    tag: int = 0,
    group_src: int | None = None,
) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank if None); returns the sender's rank."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    return work.source_rank()


class P2POp:
    """PyTorch's ``P2POp``: one isend or irecv for ``batch_isend_irecv``."""

    def __init__(
        self,
        op: Any,
        tensor: Tensor,
        peer: int | None = None,
        group: ProcessGroup | None = None,
        tag: int = 0,
        group_peer: int | None = None,
    ) -> None:
        if op not in (isend, irecv):
            raise ValueError(
                "Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                "``torch.distributed.irecv``."
            )
        self.op, self.tensor = op, single(tensor, "tensor")
        self.group = resolve(group)
        word = "destination" if op is isend else "source"
        self.group_peer = _peer(self.group, peer, group_peer, word)
        self.peer = self.group.global_rank(self.group_peer)
        self.tag = tag

    def __repr__(self) -> str:
        me, other = self.group.rank(), self.group_peer
        src, dst = (me, other) if self.op is isend else (other, me)
        name = self.group.group_name or "default_pg"
        return (
            f"P2POp({self.op.__name__} pg={name}, group_src={src}, group_dst={dst},  "
            f"{self.tensor.shape}, {self.tensor.dtype})"
        )


def batch_isend_irecv(p2p_op_list: list[P2POp]) -> list[Work]:
    """Start every isend/irecv of the list (in any order: none waits for another); the Works."""
    if not isinstance(p2p_op_list, list) or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError(
            "Invalid ``p2p_op_list``. Each op is expected to to be of type "
            "``torch.distributed.P2POp``."
        )
    if not all(p.group is p2p_op_list[0].group for p in p2p_op_list):
        raise ValueError("All ops need to use the same group.")
    # (isend and irecv take (tensor, dst|src, group, tag, group_dst|group_src))
    works = [p.op(p.tensor, None, p.group, p.tag, p.group_peer) for p in p2p_op_list]
    return [w for w in works if w is not None]
