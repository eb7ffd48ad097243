"""Rank script of test_collectives.py: every collective against NumPy, as named CHECK lines."""

from __future__ import annotations

import itertools

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
    "uint8": np.uint8,
    "float16": np.float16,
    "bool": np.bool_,
    "complex64": np.complex64,
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


dist.destroy_process_group()
