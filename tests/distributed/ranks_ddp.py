"""Rank script of test_ddp.py: DistributedDataParallel on 2 processes against one process,
as named checks (ranks_common.check)."""

from __future__ import annotations

import copy

import numpy as np
import ranks_common as C
from ranks_common import check

import adjit
import adjit.distributed as dist
from adjit import nn
from adjit.nn.parallel import DistributedDataParallel as DDP
from adjit.utils.data import DistributedSampler, TensorDataset

dist.init_process_group("mpi")
RANK, N = dist.get_rank(), dist.get_world_size()
C.RANK = RANK
STEPS, PER_RANK = 20, 8


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 3)
    )


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)
    )


def data(shape: tuple[int, ...], n: int = 160) -> TensorDataset:
    g = adjit.Generator().manual_seed(123)  # the same on every rank
    return TensorDataset(
        adjit.randn(n, *shape, generator=g), adjit.randint(0, 3, (n,), generator=g)
    )


def batches(ds: TensorDataset, rank: int) -> list[tuple[adjit.Tensor, adjit.Tensor]]:
    """Rank ``rank``'s STEPS batches of PER_RANK samples (DistributedSampler, 2 epochs)."""
    sampler = DistributedSampler(ds, N, rank, shuffle=True, seed=7)
    out = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        idx = list(sampler)
        for k in range(0, len(idx), PER_RANK):
            x, y = ds[adjit.tensor(idx[k : k + PER_RANK])]
            out.append((x, y))
    return out[:STEPS]


def params(m: nn.Module) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in m.parameters()]


def train_ddp(model: nn.Module, make_opt, ds: TensorDataset, compiled: str = "", **kw):
    """DDP training on this rank's batches; ``compiled``: "inner" is DDP(adjit.compile(model)),
    "outer" is adjit.compile(DDP(model))."""
    ddp = DDP(adjit.compile(model) if compiled == "inner" else model, **kw)
    run = adjit.compile(ddp) if compiled == "outer" else ddp
    opt = make_opt(model.parameters())
    for x, y in batches(ds, RANK):
        opt.zero_grad()
        nn.functional.cross_entropy(run(x), y).backward()
        opt.step()
    return model


def train_emulated(model: nn.Module, make_opt, ds: TensorDataset, compiled: str = ""):
    """One process doing each rank's arithmetic: the half-batch gradients, each times 1/N,
    summed over ranks in rank order (what the reducer and MPI's sum compute): bit-equal."""
    opt = make_opt(model.parameters())
    run = adjit.compile(model) if compiled else model
    per_rank = [batches(ds, r) for r in range(N)]
    for step in range(STEPS):
        total = None
        for r in range(N):
            model.zero_grad()
            x, y = per_rank[r][step]
            nn.functional.cross_entropy(run(x), y).backward()
            g = [p.grad * (1.0 / N) for p in model.parameters()]
            total = g if total is None else [a + b for a, b in zip(total, g, strict=True)]
        for p, g in zip(model.parameters(), total, strict=True):
            p.grad = g
        opt.step()
    return model


def train_concatenated(model: nn.Module, make_opt, ds: TensorDataset) -> nn.Module:
    """One process on the concatenated batch (all ranks' samples of each step)."""
    opt = make_opt(model.parameters())
    per_rank = [batches(ds, r) for r in range(N)]
    for step in range(STEPS):
        x = adjit.cat([per_rank[r][step][0] for r in range(N)])
        y = adjit.cat([per_rank[r][step][1] for r in range(N)])
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model


def doubled(ds: TensorDataset) -> TensorDataset:
    x, y = ds.tensors
    return TensorDataset(x.double(), y)


SGD = lambda ps: adjit.optim.SGD(ps, lr=0.1, momentum=0.9)  # noqa: E731
ADAM = lambda ps: adjit.optim.Adam(ps, lr=0.01)  # noqa: E731


def equivalence(make_model, shape, make_opt, compiled: str = "", **kw) -> None:
    """20 steps of DDP on 2 ranks (a) bit-equal to one process doing the ranks' arithmetic and
    (b) within float32's accumulation-order error of one process on the concatenated batch.
    (b)'s bound: the float32 one-process result's distance from the same training in float64
    (err32) measures how far float32 rounding moves these 20 steps; DDP is another float32
    evaluation of the same steps whose batch sums are split in two (a different order), so its
    distance from float64 must be of the same size: at most 4 * err32 (not 0: the orders do
    differ; an error in the reduction, such as a missing 1/N, is of the size of the result)."""
    adjit.manual_seed(RANK)  # each rank starts differently: DDP broadcasts rank 0's
    model = make_model()
    adjit.manual_seed(0)
    init = make_model()  # rank 0's initial model, made on every rank for the references
    ds = data(shape)
    got = params(train_ddp(model, make_opt, ds, compiled, **kw))
    want = params(train_emulated(copy.deepcopy(init), make_opt, ds, compiled))
    for g, w in zip(got, want, strict=True):
        assert np.array_equal(g, w), f"not bit-equal to the emulation: {np.abs(g - w).max()}"
    ref32 = params(train_concatenated(copy.deepcopy(init), make_opt, ds))
    ref64 = params(train_concatenated(copy.deepcopy(init).double(), make_opt, doubled(ds)))
    err32 = max(np.abs(a - b).max() for a, b in zip(ref32, ref64, strict=True))
    err_ddp = max(np.abs(a - b).max() for a, b in zip(got, ref64, strict=True))
    diff = max(np.abs(a - b).max() for a, b in zip(got, ref32, strict=True))
    assert 0 < err32 < 1e-4, err32
    assert err_ddp <= 4 * err32, (err_ddp, err32)
    assert diff <= 5 * err32, (diff, err32)


@check("mlp-sgd-momentum")
def _() -> None:
    equivalence(mlp, (10,), SGD)


@check("mlp-adam")
def _() -> None:
    equivalence(mlp, (10,), ADAM)


@check("cnn-sgd-momentum")
def _() -> None:
    equivalence(cnn, (1, 8, 8), SGD)


@check("mlp-sgd-compiled-inner")
def _() -> None:
    equivalence(mlp, (10,), SGD, compiled="inner")


@check("mlp-adam-compiled-outer")
def _() -> None:
    equivalence(mlp, (10,), ADAM, compiled="outer")


C.done()
