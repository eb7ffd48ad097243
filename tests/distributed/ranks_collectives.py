"""Rank script of test_collectives.py: every collective against NumPy, as named CHECK lines."""

from __future__ import annotations

import itertools
import pickle
import time
from datetime import timedelta

import numpy as np
import ranks_common as C
from ranks_common import check, raises, same

import adjit
import adjit.distributed as dist
from adjit.distributed import ReduceOp

dist.init_process_group("mpi")
RANK, N = dist.get_rank(), dist.get_world_size()
C.RANK = RANK
try:
    import ml_dtypes

    BF16: type | None = ml_dtypes.bfloat16
except ImportError:
    BF16 = None

DTYPES = {
    "float32": np.float32,
    "float64": np.float64,
    "int64": np.int64,
    "int32": np.int32,
    "int16": np.int16,
    "int8": np.int8,
    "uint8": np.uint8,
    "float16": np.float16,
    "bool": np.bool_,
    "complex64": np.complex64,
    "complex128": np.complex128,
}
if BF16 is not None:
    DTYPES["bfloat16"] = BF16


def data(seed: int, rank: int, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Rank ``rank``'s input of case ``seed`` (every rank can make every rank's)."""
    rng = np.random.default_rng([seed, rank])
    if dtype is np.bool_:
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 50, shape).astype(dtype)
    if np.dtype(dtype).kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(np.float32).astype(dtype)


def compute_dtype(dtype: type) -> type:
    return np.float32 if dtype in (np.float16, BF16) else dtype


# ReduceOp -> the NumPy reduction of the stacked ranks' inputs (in the compute dtype)
NUMPY_OPS = {
    ReduceOp.SUM: lambda s: s.sum(0, dtype=s.dtype),
    ReduceOp.AVG: lambda s: s.sum(0, dtype=s.dtype) / s.dtype.type(len(s)),
    ReduceOp.PRODUCT: lambda s: s.prod(0, dtype=s.dtype),
    ReduceOp.MAX: lambda s: s.max(0),
    ReduceOp.MIN: lambda s: s.min(0),
}
BOOL_OPS = {
    ReduceOp.SUM: lambda s: s.any(0),
    ReduceOp.PRODUCT: lambda s: s.all(0),
    ReduceOp.MAX: lambda s: s.any(0),
    ReduceOp.MIN: lambda s: s.all(0),
}


def reference(seed: int, shape: tuple[int, ...], dtype: type, op: ReduceOp) -> np.ndarray:
    stack = np.stack([data(seed, r, shape, dtype) for r in range(N)])
    if dtype is np.bool_:
        return BOOL_OPS[op](stack)
    return NUMPY_OPS[op](stack.astype(compute_dtype(dtype))).astype(dtype)


def meaningful(dtype: type, op: ReduceOp) -> bool:
    kind = np.dtype(dtype).kind
    if op is ReduceOp.AVG:
        return kind in "fcV"  # (bfloat16's kind is V)
    if kind == "c":
        return op is ReduceOp.SUM
    return True


OPS = [ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MAX, ReduceOp.MIN]
for k, ((dname, dtype), op, async_op) in enumerate(
    itertools.product(DTYPES.items(), OPS, [False, True])
):
    if not meaningful(dtype, op):
        continue

    @check(f"all_reduce-{dname}-{op.name}-{'async' if async_op else 'sync'}")
    def _(k=k, dtype=dtype, op=op, async_op=async_op) -> None:
        x = adjit.from_numpy(data(k, RANK, (3, 5), dtype).copy())
        v = x._version
        work = dist.all_reduce(x, op=op, async_op=async_op)
        if async_op:
            assert work is not None and work.wait() is True and work.is_completed()
            assert work.is_success() and work.exception() is None
            assert work.result()[0] is x
        else:
            assert work is None
        same(x, reference(k, (3, 5), dtype, op))
        assert x._version == v + 1


@check("all_reduce-noncontiguous")
def _() -> None:
    base = adjit.from_numpy(data(100, RANK, (4, 6), np.float64).copy())
    view = base.t()[1:5:2]  # a strided view: the result lands in base's memory
    want_base = data(100, RANK, (4, 6), np.float64).copy()
    want_base.T[1:5:2] = reference(100, (4, 6), np.float64, ReduceOp.SUM).T[1:5:2]
    dist.all_reduce(view)
    same(base, want_base)


@check("all_reduce-int-avg-refused")
def _() -> None:
    raises(
        RuntimeError,
        lambda: dist.all_reduce(adjit.ones(2, dtype=adjit.int64), op=ReduceOp.AVG),
        "result type Float can't be cast to the desired output type Long",
    )


@check("all_reduce-complex-max-refused")
def _() -> None:
    raises(
        ValueError,
        lambda: dist.all_reduce(adjit.ones(2, dtype=adjit.complex64), op=ReduceOp.MAX),
        "all_reduce does not support RedOpType.MAX on complex tensors",
    )


@check("all_reduce-leaf-requires-grad")
def _() -> None:  # PyTorch allows it (no autograd record): DDP broadcasts parameters so
    p = adjit.ones(3, requires_grad=True)
    dist.all_reduce(p)
    same(p.detach(), np.full(3, N, np.float32))


@check("all_reduce-shape-mismatch")
def _() -> None:
    x = adjit.ones(2 + RANK)
    msg = raises(dist.DistBackendError, lambda: dist.all_reduce(x), f"[rank {RANK}]")
    for r in range(N):
        assert f"rank {r} called all_reduce(float32[{2 + r}], op=SUM)" in msg, msg
    same(x, np.ones(2 + RANK, np.float32))  # untouched


@check("all_reduce-dtype-mismatch-async")
def _() -> None:
    x = adjit.ones(2, dtype=adjit.float64 if RANK else adjit.float32)
    work = dist.all_reduce(x, async_op=True)
    msg = raises(dist.DistBackendError, work.wait, "float32[2]", "float64[2]")
    assert "rank 0 called all_reduce(float32[2], op=SUM)" in msg, msg
    assert not work.is_success() and isinstance(work.exception(), dist.DistBackendError)


@check("all_reduce-several-async-in-flight")
def _() -> None:
    xs = [adjit.full((k + 1,), float(RANK + k)) for k in range(5)]
    works = [dist.all_reduce(x, async_op=True) for x in xs]
    for w in reversed(works):
        w.wait()
    for k, x in enumerate(xs):
        same(x, np.full(k + 1, sum(r + k for r in range(N)), np.float32))


for dname, dtype in DTYPES.items():

    @check(f"broadcast-{dname}")
    def _(dtype=dtype) -> None:
        for src in range(N):
            x = adjit.from_numpy(data(200 + src, RANK, (2, 3), dtype).copy())
            dist.broadcast(x, src=src)
            same(x, data(200 + src, src, (2, 3), dtype))


@check("broadcast-async-noncontiguous")
def _() -> None:
    base = adjit.from_numpy(data(300, RANK, (3, 4), np.float32).copy())
    work = dist.broadcast(base.t(), src=N - 1, async_op=True)
    work.wait()
    same(base, data(300, N - 1, (3, 4), np.float32))


@check("broadcast-bad-src")
def _() -> None:
    raises(RuntimeError, lambda: dist.broadcast(adjit.ones(2), src=N), "invalid root rank")


@check("barrier")
def _() -> None:
    assert dist.barrier() is None
    work = dist.barrier(async_op=True)
    assert work.wait()


@check("state")
def _() -> None:
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    assert dist.group.WORLD is dist.GroupMember.WORLD is not None
    assert dist.get_rank(dist.group.WORLD) == RANK and dist.get_world_size() == N


for k, ((dname, dtype), op) in enumerate(itertools.product(DTYPES.items(), OPS)):
    if not meaningful(dtype, op):
        continue

    @check(f"reduce-{dname}-{op.name}")
    def _(k=k, dtype=dtype, op=op) -> None:
        dst = k % N
        mine = data(400 + k, RANK, (2, 3), dtype)
        x = adjit.from_numpy(mine.copy())
        work = dist.reduce(x, dst=dst, op=op, async_op=bool(k % 2))
        if work is not None:
            work.wait()
        same(x, reference(400 + k, (2, 3), dtype, op) if dst == RANK else mine)

    @check(f"reduce_scatter_tensor-{dname}-{op.name}")
    def _(k=k, dtype=dtype, op=op) -> None:
        inp = adjit.from_numpy(data(500 + k, RANK, (N * 3, 2), dtype).copy())
        out = adjit.from_numpy(np.zeros((3, 2), dtype))
        work = dist.reduce_scatter_tensor(out, inp, op=op, async_op=bool(k % 2))
        if work is not None:
            work.wait()
        same(out, reference(500 + k, (N * 3, 2), dtype, op)[RANK * 3 : RANK * 3 + 3])

    @check(f"reduce_scatter-{dname}-{op.name}")
    def _(k=k, dtype=dtype, op=op) -> None:
        # rank r's input_list[j] is block j of case 2500 + k's (N * 3, 2) input
        mine = data(2500 + k, RANK, (N * 3, 2), dtype)
        ins = [adjit.from_numpy(mine[j * 3 : j * 3 + 3].copy()) for j in range(N)]
        out = adjit.from_numpy(np.zeros((3, 2), dtype))
        work = dist.reduce_scatter(out, ins, op=op, async_op=bool(k % 2))
        assert (work is None) == (k % 2 == 0)
        if work is not None:
            assert work.wait() and work.result()[0] is out
        same(out, reference(2500 + k, (N * 3, 2), dtype, op)[RANK * 3 : RANK * 3 + 3])


for k, (dname, dtype) in enumerate(DTYPES.items()):

    @check(f"all_gather-{dname}")
    def _(k=k, dtype=dtype) -> None:
        outs = [adjit.from_numpy(np.zeros((2, 3), dtype)) for _ in range(N)]
        dist.all_gather(outs, adjit.from_numpy(data(600 + k, RANK, (2, 3), dtype)))
        for r in range(N):
            same(outs[r], data(600 + k, r, (2, 3), dtype))

    @check(f"all_gather_into_tensor-{dname}")
    def _(k=k, dtype=dtype) -> None:
        out = adjit.from_numpy(np.zeros((N * 2, 3), dtype))
        work = dist.all_gather_into_tensor(
            out, adjit.from_numpy(data(700 + k, RANK, (2, 3), dtype)), async_op=True
        )
        work.wait()
        same(out, np.concatenate([data(700 + k, r, (2, 3), dtype) for r in range(N)]))

    @check(f"gather-scatter-{dname}")
    def _(k=k, dtype=dtype) -> None:
        for root in range(N):
            outs = (
                [adjit.from_numpy(np.zeros(4, dtype)) for _ in range(N)] if root == RANK else None
            )
            dist.gather(adjit.from_numpy(data(800 + k, RANK, (4,), dtype)), outs, dst=root)
            if root == RANK:
                for r in range(N):
                    same(outs[r], data(800 + k, r, (4,), dtype))
            ins = [adjit.from_numpy(data(900 + k, r, (4,), dtype)) for r in range(N)]
            got = adjit.from_numpy(np.zeros(4, dtype))
            dist.scatter(got, ins if root == RANK else None, src=root)
            same(got, data(900 + k, RANK, (4,), dtype))


@check("all_gather-noncontiguous-async")
def _() -> None:
    base = adjit.from_numpy(np.zeros((3, 2 * N), np.float32))
    outs = [base[:, r::N] for r in range(N)]  # strided views of one tensor
    mine = adjit.from_numpy(data(1000, RANK, (2, 3), np.float32)).t()
    work = dist.all_gather(outs, mine, async_op=True)
    assert work.wait() and work.result() == outs
    want = np.zeros((3, 2 * N), np.float32)
    for r in range(N):
        want[:, r::N] = data(1000, r, (2, 3), np.float32).T
    same(base, want)


@check("send-recv")
def _() -> None:
    peer = (RANK + 1) % N
    back = (RANK - 1) % N
    x = adjit.from_numpy(data(1100, RANK, (5,), np.float64))
    y = adjit.zeros(5, dtype=adjit.float64)
    if RANK % 2 == 0:
        dist.send(x, dst=peer)
        assert dist.recv(y, src=back) == back
    else:
        assert dist.recv(y) == back  # any source
        dist.send(x, dst=peer)
    same(y, data(1100, back, (5,), np.float64))


@check("isend-irecv-tags-noncontiguous")
def _() -> None:
    peer = (RANK + 1) % N
    back = (RANK - 1) % N
    a = adjit.from_numpy(data(1200, RANK, (3, 4), np.float32)).t()
    b = adjit.from_numpy(data(1201, RANK, (2,), np.int64))
    ra, rb = adjit.zeros(4, 3), adjit.zeros(2, dtype=adjit.int64)
    recvs = [dist.irecv(rb, src=back, tag=7), dist.irecv(ra, src=back, tag=3)]
    sends = [dist.isend(a, dst=peer, tag=3), dist.isend(b, dst=peer, tag=7)]
    for w in sends + recvs:
        w.wait()
    assert recvs[0].source_rank() == back
    same(ra, data(1200, back, (3, 4), np.float32).T.copy())
    same(rb, data(1201, back, (2,), np.int64))


@check("recv-shape-mismatch")
def _() -> None:
    if RANK == 0:
        dist.send(adjit.ones(5), dst=1)
    elif RANK == 1:
        y = adjit.zeros(4)
        raises(
            RuntimeError,
            lambda: dist.recv(y, src=0),
            "recv: rank 0 sent float32[5] but the receiving tensor is float32[4]",
        )
        same(y, np.zeros(4, np.float32))
    dist.barrier()


@check("p2p-errors")
def _() -> None:
    raises(
        ValueError,
        lambda: dist.send(adjit.ones(1), dst=RANK),
        "Invalid destination rank: destination rank should not be the same as the rank of the "
        "current process.",
    )
    raises(ValueError, lambda: dist.recv(adjit.ones(1), src=RANK), "Invalid source rank")


@check("batch_isend_irecv")
def _() -> None:
    peer, back = (RANK + 1) % N, (RANK - 1) % N
    got = adjit.zeros(3, dtype=adjit.int32)
    ops = [
        dist.P2POp(dist.irecv, got, back),  # the receive first: none waits for another
        dist.P2POp(dist.isend, adjit.from_numpy(data(1300, RANK, (3,), np.int32)), peer),
    ]
    assert repr(ops[1]).startswith(f"P2POp(isend pg=default_pg, group_src={RANK}, group_dst={peer}")
    for w in dist.batch_isend_irecv(ops):
        w.wait()
    same(got, data(1300, back, (3,), np.int32))
    raises(ValueError, lambda: dist.P2POp(dist.send, got, peer), "Invalid ``op``")


BITWISE = {
    ReduceOp.BAND: np.bitwise_and,
    ReduceOp.BOR: np.bitwise_or,
    ReduceOp.BXOR: np.bitwise_xor,
}


@check("all_reduce-bitwise")
def _() -> None:
    for dtype in (np.int64, np.uint8, np.bool_):
        for op, fn in BITWISE.items():
            x = adjit.from_numpy(data(1400, RANK, (6,), dtype).copy())
            dist.all_reduce(x, op=op)
            same(x, fn.reduce(np.stack([data(1400, r, (6,), dtype) for r in range(N)])))
    raises(RuntimeError, lambda: dist.all_reduce(adjit.ones(2), op=ReduceOp.BAND), "BAND")


@check("all_to_all")
def _() -> None:
    # even splits: rank r's input rows [2j, 2j+2) go to rank j
    inp = adjit.from_numpy(data(1500, RANK, (2 * N, 3), np.float32))
    out = adjit.zeros(2 * N, 3)
    dist.all_to_all_single(out, inp)
    want = np.concatenate(
        [data(1500, r, (2 * N, 3), np.float32)[2 * RANK : 2 * RANK + 2] for r in range(N)]
    )
    same(out, want)
    # uneven: rank r sends r + j + 1 rows to rank j
    sizes = lambda r: [r + j + 1 for j in range(N)]  # noqa: E731
    inp = adjit.from_numpy(data(1501, RANK, (sum(sizes(RANK)),), np.int64))
    recv_sizes = [sizes(r)[RANK] for r in range(N)]
    out = adjit.zeros(sum(recv_sizes), dtype=adjit.int64)
    work = dist.all_to_all_single(out, inp, recv_sizes, sizes(RANK), async_op=True)
    work.wait()
    parts = []
    for r in range(N):
        full, offs = data(1501, r, (sum(sizes(r)),), np.int64), np.cumsum([0, *sizes(r)])
        parts.append(full[offs[RANK] : offs[RANK + 1]])
    same(out, np.concatenate(parts))
    # lists
    ins = [adjit.from_numpy(data(1502, RANK * N + j, (j + 1,), np.float64)) for j in range(N)]
    outs = [adjit.zeros(RANK + 1, dtype=adjit.float64) for _ in range(N)]
    dist.all_to_all(outs, ins)
    for r in range(N):
        same(outs[r], data(1502, r * N + RANK, (RANK + 1,), np.float64))
    # counts that do not match: every rank raises, naming the pair
    msg = raises(
        dist.DistBackendError,
        lambda: dist.all_to_all_single(
            adjit.zeros(N),
            adjit.zeros(N + (RANK == 0)),
            None,
            [2] + [1] * (N - 1) if RANK == 0 else None,
        ),
        "all_to_all: rank 0 sends 8 bytes to rank 0, which expects 4 bytes from it",
    )
    assert msg.startswith(f"[rank {RANK}]")


@check("wait-timeout-then-complete")
def _() -> None:
    x = adjit.ones(2)
    if RANK == 1:
        time.sleep(1.0)  # joins late
    work = dist.all_reduce(x, async_op=True)
    if RANK == 0:
        raises(
            dist.DistBackendError,
            lambda: work.wait(timeout=timedelta(seconds=0.2)),
            "[rank 0]: all_reduce(float32[2], op=SUM) #",
            "timed out after 0.2 s; ranks that have not joined: [1]",
        )
        assert not work.is_completed() or work.is_success()
    assert work.wait()  # the work goes on after a timed-out wait
    same(x, np.full(2, N, np.float32))


@check("objects")
def _() -> None:
    got = [None] * N
    dist.all_gather_object(got, {"rank": RANK, "w": adjit.full((2,), float(RANK))})
    for r in range(N):
        assert got[r]["rank"] == r and got[r]["w"].tolist() == [float(r)] * 2
    objs = ["ckpt.pt", 12, adjit.arange(3)] if RANK == N - 1 else [None, None, None]
    dist.broadcast_object_list(objs, src=N - 1)
    assert objs[:2] == ["ckpt.pt", 12] and objs[2].tolist() == [0, 1, 2]
    gathered = [None] * N if RANK == 0 else None
    dist.gather_object(("r", RANK), gathered, dst=0)
    if RANK == 0:
        assert gathered == [("r", r) for r in range(N)]
    out = [None]
    dist.scatter_object_list(out, [{"i": r} for r in range(N)] if RANK == 0 else None, src=0)
    assert out == [{"i": RANK}]


@check("list-errors")
def _() -> None:
    t = adjit.ones(2)
    raises(
        RuntimeError,
        lambda: dist.all_gather([t] * (N + 1), t),
        "ProcessGroupMPI::allgather: invalid output tensor list at index 0 "
        f"(expected length {N}, got {N + 1})",
    )
    raises(
        RuntimeError,
        lambda: dist.all_gather([adjit.ones(3)] * N, t),
        "ProcessGroupMPI::allgather: invalid tensor size at index 0 (expected (2), got (3))",
    )
    raises(
        ValueError,
        lambda: dist.all_gather([t.double()] * N, t),
        "Invalid usage of tensors with different dtypes",
    )
    raises(
        ValueError,
        lambda: dist.all_gather_into_tensor(adjit.ones(2 * N + 1), t),
        "output tensor size must be equal to world_size times input tensor size",
    )
    raises(
        ValueError,
        lambda: dist.reduce_scatter_tensor(adjit.ones(2), adjit.ones(2 * N + 1)),
        "input tensor must be the same size as output size times world size",
    )
    if RANK == 0:
        raises(
            ValueError,
            lambda: dist.gather(t, None, dst=0),
            "Argument ``gather_list`` must be specified on destination rank.",
        )
        raises(
            RuntimeError,
            lambda: dist.gather(t, [t] * (N + 1), dst=0),
            f"Incorrect output list size {N + 1}. Output list size should be {N}",
        )
        raises(
            ValueError,
            lambda: dist.scatter(t, None, src=0),
            "Argument ``scatter_list`` must be specified on source rank.",
        )
    else:
        raises(
            ValueError,
            lambda: dist.gather(t, [t] * N, dst=0),
            "must NOT be specified on non-destination ranks",
        )
    raises(ValueError, lambda: dist.broadcast(t), "Must specify global_rank or group_rank")
    raises(RuntimeError, lambda: dist.reduce(t, dst=N), "invalid root rank")
    raises(
        TypeError, lambda: dist.all_reduce([t]), "Expected parameter `tensor` of type torch.Tensor"
    )
    raises(RuntimeError, lambda: dist.all_reduce(adjit.ones(1).expand(3)), "read-only view")


@check("kind-mismatch")
def _() -> None:
    t = adjit.ones(3)
    call = (lambda: dist.all_reduce(t)) if RANK == 0 else (lambda: dist.broadcast(t, src=0))
    msg = raises(dist.DistBackendError, call, "ranks disagree on collective")
    assert "rank 0 called all_reduce(float32[3], op=SUM)" in msg
    assert "rank 1 called broadcast(float32[3], root=0)" in msg


@check("new_group")
def _() -> None:
    pair = dist.new_group(list(range(N)))
    x = adjit.full((2,), float(RANK))
    dist.all_reduce(x, group=pair)
    same(x, np.full(2, sum(range(N)), np.float32))
    assert dist.get_process_group_ranks(pair) == list(range(N))
    solo = dist.new_group([0])
    if RANK == 0:
        y = adjit.ones(1)
        dist.all_reduce(y, group=solo)
        assert dist.get_world_size(solo) == 1 and y.tolist() == [1.0]
    else:
        assert solo == dist.GroupMember.NON_GROUP_MEMBER
        import warnings

        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert dist.all_reduce(adjit.ones(1), group=solo) is None
        assert "does not belong to the given group" in str(w[0].message)
    dist.destroy_process_group(pair)


@check("reduce_scatter-noncontiguous")
def _() -> None:
    base = adjit.from_numpy(np.zeros((4, 3), np.float64))
    out = base.t()[1]  # column 1 of base, a strided view: the result lands in base's memory
    full = data(2600, RANK, (N, 4, 3), np.float64)
    ins = [adjit.from_numpy(full[j].copy()).t()[1] for j in range(N)]  # strided inputs
    v = base._version
    dist.reduce_scatter(out, ins, op=ReduceOp.MAX)
    want = np.zeros((4, 3), np.float64)
    want[:, 1] = np.stack([data(2600, r, (N, 4, 3), np.float64) for r in range(N)]).max(0)[
        RANK, :, 1
    ]
    same(base, want)
    assert base._version == v + 1


@check("reduce_scatter-errors")
def _() -> None:
    out = adjit.zeros(2)
    raises(
        RuntimeError,
        lambda: dist.reduce_scatter(out, [adjit.ones(2)] * (N + 1)),
        "ProcessGroupMPI::reduce_scatter: invalid input tensor list size, must be world size "
        f"({N}), got {N + 1}",
    )
    raises(
        RuntimeError,
        lambda: dist.reduce_scatter(out, [adjit.ones(2)] * (N - 1) + [adjit.ones(3)]),
        f"ProcessGroupMPI::reduce_scatter: invalid tensor size at index {N - 1} (expected (2), "
        "got (3))",
    )
    raises(
        ValueError,
        lambda: dist.reduce_scatter(out, [adjit.ones(2, dtype=adjit.float64)] * N),
        "Invalid usage of tensors with different dtypesFound torch.float32 and  torch.float64",
    )
    raises(
        RuntimeError,
        lambda: dist.reduce_scatter(adjit.ones(1).expand(2), [adjit.ones(2)] * N),
        "reduce_scatter: the output tensor float32[2] is a read-only view",
    )
    raises(
        RuntimeError,
        lambda: dist.reduce_scatter(
            adjit.zeros(2, dtype=adjit.int64), [adjit.ones(2, dtype=adjit.int64)] * N, ReduceOp.AVG
        ),
        "result type Float can't be cast to the desired output type Long",
    )
    same(out, np.zeros(2, np.float32))  # untouched by every refusal
    # shapes that differ between ranks: every rank raises, naming each rank's call
    x = adjit.zeros(2 + RANK)
    msg = raises(
        dist.DistBackendError,
        lambda: dist.reduce_scatter(x, [adjit.ones(2 + RANK)] * N, async_op=True).wait(),
        f"[rank {RANK}]: ranks disagree on collective",
    )
    for r in range(N):
        assert f"rank {r} called reduce_scatter(float32[{2 + r}], op=SUM)" in msg, msg
    same(x, np.zeros(2 + RANK, np.float32))


@check("send_object_list-recv_object_list")
def _() -> None:
    peer, back = (RANK + 1) % N, (RANK - 1) % N
    objs = [{"from": RANK}, "x" * 5000, adjit.full((2,), float(RANK)), None]
    got: list = [0, 0, 0, 0]
    if RANK % 2 == 0:
        assert dist.send_object_list(objs, dst=peer) is None
        assert dist.recv_object_list(got, src=back) == back
    else:
        assert dist.recv_object_list(got, group_src=back) == back
        dist.send_object_list(objs, group_dst=peer, device=None, use_batch=False)
    want = [{"from": back}, "x" * 5000, [float(back)] * 2, None]
    assert pickle.dumps(got[:2] + got[3:]) == pickle.dumps(want[:2] + want[3:])
    assert got[2].tolist() == want[2]
    empty: list = []  # an empty list moves too (PyTorch's send fails to unpack it)
    if RANK == 0:
        dist.send_object_list(empty, dst=1)
    elif RANK == 1:
        assert dist.recv_object_list(empty, src=0) == 0 and empty == []
    dist.barrier()


@check("recv_object_list-length-mismatch")
def _() -> None:
    # twice: the sender completes both times (its pickles drained), then a good exchange
    for n_sent in (3, 1):
        if RANK == 0:
            dist.send_object_list(["a", 2, (3,)][:n_sent], dst=1)
        elif RANK == 1:
            got = [None, None]
            raises(
                RuntimeError,
                lambda got=got: dist.recv_object_list(got, src=0),
                f"[rank 1]: recv_object_list: rank 0 sent {n_sent} objects but object_list "
                "has 2 entries (pass a list of the sender's length)",
            )
            assert got == [None, None]
    if RANK == 0:
        dist.send_object_list([7], dst=1)
    elif RANK == 1:
        got = [None]
        assert dist.recv_object_list(got, src=0) == 0 and got == [7]
    dist.barrier()


@check("object-p2p-bad-peer")
def _() -> None:
    self_text = "rank should not be the same as the rank of the current process."
    dst_text, src_text = "Invalid destination rank: destination ", "Invalid source rank: source "
    raises(ValueError, lambda: dist.send_object_list([1], dst=RANK), dst_text + self_text)
    raises(ValueError, lambda: dist.recv_object_list([1], src=RANK), src_text + self_text)
    raises(ValueError, lambda: dist.recv_object_list([1]), "Must specify global_rank or group_rank")
    raises(ValueError, lambda: dist.send_object_list([1]), "Must specify global_rank or group_rank")
    raises(
        ValueError,
        lambda: dist.send_object_list([1], dst=0, group_dst=0),
        "Can't specify both group_rank and global_rank",
    )
    raises(ValueError, lambda: dist.send_object_list([1], dst=N), f"Invalid destination rank: {N}")
    raises(ValueError, lambda: dist.recv_object_list([1], src=-1), "Invalid source rank: -1")


dist.destroy_process_group()
