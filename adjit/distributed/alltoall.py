"""all_to_all_single and all_to_all: every rank sends a part of its input to every rank."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from adjit.distributed._mpi import mpi
from adjit.distributed.buffers import buffer, not_member, same_dtype, single, store, writable
from adjit.distributed.buffers import tensor_list as check_list
from adjit.distributed.failure import DistBackendError
from adjit.distributed.group import ProcessGroup, resolve
from adjit.distributed.signature import Signature
from adjit.distributed.work import Work, run
from adjit.runtime.tensor import Tensor


# Note [all_to_all counts]
# What rank i sends to rank j (sent[i][j] bytes) must be what rank j expects from rank i
# (expected[j][i]); the fixed-size signature cannot hold that matrix, so the first step of the
# data transfer all-gathers each rank's two rows of byte counts, and every rank compares the
# whole matrices (the same table everywhere: all raise, naming the first pair that disagrees,
# or all proceed to MPI_Ialltoallv).
def _exchange(
    pg: ProcessGroup, send: np.ndarray, sent: list[int], recv: np.ndarray, expected: list[int]
) -> Iterator[Any]:
    """The byte-count agreement, then the transfer (``sent``/``expected`` per peer, bytes)."""
    MPI = mpi()
    mine = np.array([*sent, *expected], np.int64)
    table = np.empty((pg.size(), mine.size), np.int64)
    yield pg.comm.Iallgather(mine, table)
    n = pg.size()
    for i in range(n):
        for j in range(n):
            if table[i, j] != table[j, n + i]:
                raise DistBackendError(
                    f"[rank {pg.rank()}]: all_to_all: rank {pg.global_rank(i)} sends "
                    f"{table[i, j]} bytes to rank {pg.global_rank(j)}, which expects "
                    f"{table[j, n + i]} bytes from it"
                )

    def spec(buf: np.ndarray, counts: list[int]) -> list[Any]:
        c = np.array(counts, np.int64)
        displs = np.concatenate([[0], np.cumsum(c)[:-1]]).astype(np.int64)
        return [buf.reshape(-1).view(np.uint8), (c, displs), MPI.BYTE]

    yield pg.comm.Ialltoallv(spec(send, sent), spec(recv, expected))


def _splits(t: Tensor, sizes: list[int] | None, n: int, what: str) -> list[int]:
    """Rows of ``t`` (dim 0) per rank: ``sizes``, or even splits."""
    rows = t.shape[0] if t.ndim else 1
    if sizes is None or len(sizes) == 0:
        if rows % n:
            raise ValueError(
                f"all_to_all_single: {what} of shape {list(t.shape)}: dim 0 ({rows}) must be "
                f"divisible by the world size ({n}) when no split sizes are given"
            )
        return [rows // n] * n
    if len(sizes) != n or sum(sizes) != rows or min(sizes) < 0:
        raise ValueError(
            f"all_to_all_single: {what}_split_sizes {list(sizes)} must have one size per rank "
            f"({n}) summing to the {what}'s dim 0 ({rows})"
        )
    return list(sizes)


def all_to_all_single(
    output: Tensor,
    input: Tensor,
    output_split_sizes: list[int] | None = None,
    input_split_sizes: list[int] | None = None,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Rank i's input rows for rank j (``input_split_sizes[j]`` rows, even splits by default)
    land in rank j's ``output`` at rank i's place."""
    if not_member(group, "all_to_all_single"):
        return None
    out, inp = single(output, "output"), single(input, "input")
    same_dtype(out, inp)
    pg = resolve(group)
    n = pg.size()
    row_out = out._data.itemsize * (int(np.prod(out.shape[1:])) if out.ndim else 1)
    row_in = inp._data.itemsize * (int(np.prod(inp.shape[1:])) if inp.ndim else 1)
    sent = [s * row_in for s in _splits(inp, input_split_sizes, n, "input")]
    expected = [s * row_out for s in _splits(out, output_split_sizes, n, "output")]
    writable(out, "all_to_all_single")

    def body() -> Iterator[Any]:
        buf = buffer(out)
        yield from _exchange(pg, np.ascontiguousarray(inp._data), sent, buf, expected)
        store(out, buf)

    sig = Signature("all_to_all_single", inp.dtype.name, ())
    return run(Work(pg, sig, body, [out]), async_op)


def all_to_all(
    output_tensor_list: list[Tensor],
    input_tensor_list: list[Tensor],
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Rank j's ``output_tensor_list[i]`` gets rank i's ``input_tensor_list[j]``."""
    if not_member(group, "all_to_all"):
        return None
    outs = check_list(output_tensor_list, "output_tensor_list")
    ins = check_list(input_tensor_list, "input_tensor_list")
    same_dtype(outs, ins)
    pg = resolve(group)
    if len(outs) != pg.size() or len(ins) != pg.size():
        raise ValueError(
            f"all_to_all: input and output lists need one tensor per rank ({pg.size()}), got "
            f"{len(ins)} inputs and {len(outs)} outputs"
        )
    for o in outs:
        writable(o, "all_to_all")

    def body() -> Iterator[Any]:
        send = np.concatenate(
            [np.ascontiguousarray(t._data).reshape(-1).view(np.uint8) for t in ins]
        )
        recv = np.empty(sum(o._data.nbytes for o in outs), np.uint8)
        sent = [t._data.nbytes for t in ins]
        yield from _exchange(pg, send, sent, recv, [o._data.nbytes for o in outs])
        start = 0
        for o in outs:
            part = recv[start : start + o._data.nbytes].view(o._data.dtype)
            store(o, part.reshape(o._data.shape))
            start += o._data.nbytes

    dtype = ins[0].dtype.name if ins else ""
    return run(Work(pg, Signature("all_to_all", dtype, ()), body, outs), async_op)
