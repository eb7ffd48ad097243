"""Rank script of test_ddp.py: DistributedDataParallel on 2 processes against one process,
as named checks (ranks_common.check)."""

from __future__ import annotations

import copy
import os
import tempfile
import warnings

import numpy as np
import ranks_common as C
from ranks_common import check, raises

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
    "outer" is adjit.compile(DDP(model)), "step" compiles the whole step (forward, backward
    and the optimizer's step)."""
    ddp = DDP(adjit.compile(model) if compiled == "inner" else model, **kw)
    run = adjit.compile(ddp) if compiled == "outer" else ddp
    opt = make_opt(model.parameters())

    def step(x, y):
        opt.zero_grad()
        nn.functional.cross_entropy(run(x), y).backward()
        opt.step()

    step = adjit.compile(step) if compiled == "step" else step
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "adjit.compile: .* graph break")
        for x, y in batches(ds, RANK):
            step(x, y)
    return model


def train_emulated(model: nn.Module, make_opt, ds: TensorDataset, compiled: str = ""):
    """One process doing each rank's arithmetic: the half-batch gradients, each times 1/N,
    summed over ranks in rank order (what the reducer and MPI's sum compute): bit-equal."""
    opt = make_opt(model.parameters())
    run = adjit.compile(model) if compiled in ("inner", "outer") else model
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


REFERENCES: dict[tuple, tuple[list[np.ndarray], list[np.ndarray]]] = {}


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
    if compiled != "step":  # (a whole compiled step fuses differently from eager steps)
        want = params(train_emulated(copy.deepcopy(init), make_opt, ds, compiled))
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g, w), f"not bit-equal to the emulation: {np.abs(g - w).max()}"
    key = (make_model, shape, make_opt)
    if key not in REFERENCES:  # (the same for every check of this model and optimizer)
        REFERENCES[key] = (
            params(train_concatenated(copy.deepcopy(init), make_opt, ds)),
            params(train_concatenated(copy.deepcopy(init).double(), make_opt, doubled(ds))),
        )
    ref32, ref64 = REFERENCES[key]
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


def on_every_rank(t: adjit.Tensor) -> bool:
    """Whether ``t`` holds the same values on every rank (its MAX and MIN all-reduce to it)."""
    hi, lo = t.detach().clone(), t.detach().clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    return bool(adjit.equal(hi, t) and adjit.equal(lo, t))


def tiny(*shape: int) -> adjit.Tensor:
    return draws(RANK, 1, *shape)[0]


def draws(rank: int, count: int, *shape: int) -> list[adjit.Tensor]:
    """Rank ``rank``'s own data (any rank can make every rank's, for the references)."""
    g = adjit.Generator().manual_seed(99 + rank)
    return [adjit.randn(*shape, generator=g) for _ in range(count)]


@check("mlp-adam-compiled-step")
def _() -> None:
    equivalence(mlp, (10,), ADAM, compiled="step")


@check("construction-broadcasts-rank0")
def _() -> None:
    adjit.manual_seed(RANK)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    model[1].running_mean.fill_(float(RANK + 1))
    adjit.manual_seed(0)
    want = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    ddp = DDP(model)
    assert ddp.module is model
    for a, b in zip(model.parameters(), want.parameters(), strict=True):
        assert adjit.equal(a, b)
    assert model[1].running_mean.tolist() == [1.0] * 4
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    assert (
        repr(ddp)
        == "DistributedDataParallel(\n  (module): " + repr(model).replace("\n", "\n  ") + "\n)"
    )


@check("buffers-broadcast-before-each-forward")
def _() -> None:
    for flag, synced in ((None, True), (False, False)):
        adjit.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
        seen: list[bool] = []
        model.register_forward_pre_hook(
            lambda m, a, seen=seen: seen.append(on_every_rank(m[1].running_mean))
        )
        kw = {} if flag is None else {"broadcast_buffers": flag}
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            ddp = DDP(model, **kw)
        assert bool(ws) == (flag is not None)  # PyTorch 2.13 deprecates the argument
        for _ in range(3):
            ddp(tiny(6, 4)).sum().backward()
        assert seen == [True, synced, synced], (flag, seen)


@check("no-sync-accumulation")
def _() -> None:
    """2 micro-batches per rank, the first under no_sync, == one process summing the
    gradients of all 4 micro-batches over 2 (bit-equal: the same float operations)."""
    adjit.manual_seed(0)
    model = mlp()
    ref = copy.deepcopy(model)
    ddp = DDP(model)
    mbs = draws(RANK, 2, 5, 10)
    with ddp.no_sync():
        ddp(mbs[0]).pow(2).mean().backward()
    mid = [p.grad.clone() for p in model.parameters()]
    ddp(mbs[1]).pow(2).mean().backward()
    grads = [p.grad for p in model.parameters()]
    # the reference: every rank's micro-batches (each rank drew its own), in one process
    per_rank = [draws(r, 2, 5, 10) for r in range(N)]
    total = None
    for r in range(N):
        ref.zero_grad()
        for x in per_rank[r]:
            ref(x).pow(2).mean().backward()
        g = [p.grad * (1.0 / N) for p in ref.parameters()]
        total = g if total is None else [a + b for a, b in zip(total, g, strict=True)]
    for got, want, m in zip(grads, total, mid, strict=True):
        assert adjit.equal(got, want)
        assert not on_every_rank(m)  # under no_sync the gradients stayed local


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(6, 6)
        self.a = nn.Linear(6, 2)
        self.b = nn.Linear(6, 2)
        self.never = nn.Linear(6, 2)

    def forward(self, x, use_b: bool):
        h = self.body(x).tanh()
        return self.a(h) + self.b(h) if use_b else self.a(h)


@check("find-unused-branch-on-one-rank")
def _() -> None:
    """Rank 1 skips head b: its slots carry zeros, so b's gradient is rank 0's over 2 on both
    ranks; `never` is unused everywhere and keeps .grad None; the next iterations run on."""
    adjit.manual_seed(0)
    model = TwoHeads()
    ref = copy.deepcopy(model)
    ddp = DDP(model, find_unused_parameters=True)
    for step in range(3):
        model.zero_grad()
        ddp(tiny(4, 6) + step, use_b=(RANK == 0)).pow(2).sum().backward()
    assert model.never.weight.grad is None and model.never.bias.grad is None
    per_rank = [draws(r, 1, 4, 6)[0] + 2 for r in range(N)]
    total = {}
    for r in range(N):
        ref.zero_grad()
        ref(per_rank[r], use_b=(r == 0)).pow(2).sum().backward()
        for name, p in ref.named_parameters():
            if p.grad is not None:
                g = p.grad * (1.0 / N)
                total[name] = g if name not in total else total[name] + g
    for name, p in model.named_parameters():
        if name.startswith("never"):
            continue
        # (on rank 1, b is locally unused but globally used: .grad made from the bucket)
        assert adjit.equal(p.grad, total[name]), name


@check("find-unused-with-no-sync")
def _() -> None:
    """Head b used only in the no_sync micro-batch, unused in the synchronizing one: its
    accumulated gradient still counts as used and is averaged (not left local)."""
    adjit.manual_seed(0)
    model = TwoHeads()
    ref = copy.deepcopy(model)
    ddp = DDP(model, find_unused_parameters=True)
    mbs = draws(RANK, 2, 4, 6)
    with ddp.no_sync():
        ddp(mbs[0], use_b=True).pow(2).sum().backward()
    ddp(mbs[1], use_b=False).pow(2).sum().backward()
    total: dict[str, adjit.Tensor] = {}
    for r in range(N):
        ref.zero_grad()
        x0, x1 = draws(r, 2, 4, 6)
        ref(x0, use_b=True).pow(2).sum().backward()
        ref(x1, use_b=False).pow(2).sum().backward()
        for name, p in ref.named_parameters():
            if p.grad is not None:
                g = p.grad * (1.0 / N)
                total[name] = g if name not in total else total[name] + g
    assert model.never.weight.grad is None
    for name, p in model.named_parameters():
        if not name.startswith("never"):
            assert adjit.equal(p.grad, total[name]), name


@check("mixed-dtypes")
def _() -> None:
    """float64 and float32 parameters: one bucket per dtype, each all-reduced in its own."""
    adjit.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4).double(), nn.Linear(4, 3).double())
    model.add_module("head", nn.Linear(3, 2))
    ref = copy.deepcopy(model)
    ddp = DDP(model)

    def run(m, x):
        return m.head(m[1](m[0](x)).float())

    ddp.module.forward = lambda x: run(model, x)
    ddp(draws(RANK, 1, 6, 5)[0].double()).sum().backward()
    dtypes = sorted(str(b.dtype) for b in ddp.reducer.buckets)
    assert dtypes == ["torch.float32", "torch.float64"], dtypes
    total = None
    for r in range(N):
        ref.zero_grad()
        run(ref, draws(r, 1, 6, 5)[0].double()).sum().backward()
        g = [p.grad * (1.0 / N) for p in ref.parameters()]
        total = g if total is None else [a + b for a, b in zip(total, g, strict=True)]
    for p, want in zip(model.parameters(), total, strict=True):
        assert p.grad.dtype == want.dtype and adjit.equal(p.grad, want)


@check("static-graph")
def _() -> None:
    """static_graph=True: the parameters unused in the first iteration (head b, `never`, on
    every rank) are marked ready at once afterwards, with the same gradients as with
    find_unused_parameters; .grad of the unused ones stays None."""
    results = []
    for kw in ({"static_graph": True}, {"find_unused_parameters": True}):
        adjit.manual_seed(0)
        model = TwoHeads()
        ddp = DDP(model, **kw)
        for step in range(3):
            ddp(tiny(4, 6) + step, use_b=False).pow(2).sum().backward()
        assert model.b.weight.grad is None and model.never.bias.grad is None
        results.append([p.grad for p in model.parameters() if p.grad is not None])
    assert len(results[0]) == 4
    for a, b in zip(*results, strict=True):
        assert adjit.equal(a, b)


EXPECTED_UNUSED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by \n"
    "making sure all `forward` function outputs participate in calculating loss. \nIf you "
    "already have done the above, then the distributed data parallel module wasn't able to "
    "locate the output tensors in the return value of your module's `forward` function. "
    "Please include the loss function and the structure of the return value of `forward` of "
    "your module when reporting this issue (e.g. list, dict, iterable).\nParameter indices "
    "which did not receive grad for rank {rank}: 6 7\n In addition, you can set the "
    "environment variable TORCH_DISTRIBUTED_DEBUG to either INFO or DETAIL to print out "
    "information about which particular parameters did not receive gradient on this rank as "
    "part of this error"
)


@check("unused-parameter-error")
def _() -> None:
    """A parameter without a gradient and no find_unused_parameters: the next forward raises
    PyTorch's error on every rank (never a hang)."""
    adjit.manual_seed(0)
    ddp = DDP(TwoHeads())
    ddp(tiny(4, 6), use_b=True).sum().backward()
    msg = raises(RuntimeError, lambda: ddp(tiny(4, 6), use_b=True))
    assert msg == EXPECTED_UNUSED.format(rank=RANK), msg


@check("marked-ready-twice-error")
def _() -> None:
    adjit.manual_seed(0)
    model = TwoHeads()
    ddp = DDP(model, find_unused_parameters=True)
    out = ddp(tiny(4, 6), use_b=False).sum() + model.b.weight.sum()
    raises(
        RuntimeError,
        lambda: out.backward(),
        "Expected to mark a variable ready only once.",
        "Parameter at index 4 with name b.weight has been marked as ready twice.",
    )


@check("gradient-as-bucket-view")
def _() -> None:
    equivalence(mlp, (10,), SGD, gradient_as_bucket_view=True)
    adjit.manual_seed(0)
    model = mlp()
    ddp = DDP(model, gradient_as_bucket_view=True)
    opt = SGD(model.parameters())
    for _ in range(2):
        opt.zero_grad(set_to_none=False)
        ddp(tiny(3, 10)).sum().backward()
    (bucket,) = ddp.reducer.buckets
    for p, view in zip(reversed(list(model.parameters())), bucket.views, strict=False):
        assert p.grad is view  # the gradients live in the bucket
    assert on_every_rank(bucket.buffer)


@check("buckets-rebuilt-in-ready-order-and-overlap")
def _() -> None:
    """bucket_cap_mb=0.002 (2097 bytes): the first iteration has one bucket, the next ones
    PyTorch's plan over the ready order (the last layer's gradients first); the first bucket's
    all-reduce starts before the backward has made all gradients (eager, and in a compiled
    backward, which calls the hooks as it finalizes each gradient); results bit-equal."""
    equivalence(mlp, (10,), SGD, bucket_cap_mb=0.002)
    for compiled in (False, True):
        adjit.manual_seed(0)
        model = mlp()
        ddp = DDP(adjit.compile(model) if compiled else model, bucket_cap_mb=0.002)
        red = ddp.reducer
        assert [b.indices for b in red.buckets] == [[0, 1, 2, 3, 4, 5]]
        launched: list[tuple[int, bool]] = []  # (gradients ready, first layer's grad made)
        launch = red.launch
        red.launch = lambda b, red=red, launch=launch, model=model, launched=launched: (
            launched.append((sum(red.ready), model[0].weight.grad is not None)),
            launch(b),
        )[1]
        ready: list[int] = []  # the order gradients reached DDP in the first iteration
        for i, p in enumerate(model.parameters()):
            p.register_post_accumulate_grad_hook(lambda t, i=i, ready=ready: ready.append(i))
        for _ in range(2):
            model.zero_grad()
            ddp(tiny(3, 10)).sum().backward()
        # eager: PyTorch's engine order; compiled: the program's (a layer's weight and bias
        # gradients may come either way round), the last layer's first either way
        assert ready[:6] == [5, 4, 3, 2, 1, 0] or (compiled and set(ready[:2]) == {4, 5}), ready
        assert [b.indices for b in red.buckets] == [ready[:4], ready[4:6]], [
            b.indices for b in red.buckets
        ]
        # iteration 2's bucket 0 starts at 4 of 6 gradients, before the first layer's exists
        assert launched == [(6, True), (4, False), (6, True)], (compiled, launched)


@check("sampler-from-process-group")
def _() -> None:
    s = DistributedSampler(range(11))
    assert (s.num_replicas, s.rank, len(s)) == (N, RANK, 6)
    assert list(s) == list(DistributedSampler(range(11), N, RANK))


@check("mismatched-models-refused-on-every-rank")
def _() -> None:
    raises(
        RuntimeError,
        lambda: DDP(nn.Sequential(*[nn.Linear(3, 3) for _ in range(1 + RANK)])),
        f"DDP expects same model across all ranks, but Rank {RANK} has {2 + 2 * RANK} params, "
        f"while rank {1 - RANK} has inconsistent {4 - 2 * RANK} params.",
    )
    msg = raises(RuntimeError, lambda: DDP(nn.Linear(3, 2 + RANK)))
    if RANK == 0:
        assert msg.startswith("DDP expects same model across all ranks, but the parameters of"), msg
    else:
        assert msg == (
            "[1]: params[0] in this process with sizes [3, 3] appears not to match sizes of "
            "the same param in process 0."
        ), msg
    raises(RuntimeError, lambda: DDP(nn.ReLU()), "DistributedDataParallel is not needed")


@check("checkpoint-on-rank-0")
def _() -> None:
    adjit.manual_seed(RANK)
    ddp = DDP(mlp())
    ddp(tiny(2, 10)).sum().backward()
    path = os.path.join(tempfile.gettempdir(), f"adjit_ddp_ckpt_{os.getppid()}.pt")
    if dist.get_rank() == 0:
        adjit.save(ddp.module.state_dict(), path)
    dist.barrier()
    loaded = adjit.load(path)
    fresh = mlp()
    fresh.load_state_dict(loaded)
    for a, b in zip(fresh.parameters(), ddp.module.parameters(), strict=True):
        assert adjit.equal(a, b)
    if RANK == 0:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            theirs = torch.load(path, weights_only=True)
            assert list(theirs) == list(ddp.module.state_dict())
            for k, v in ddp.module.state_dict().items():
                assert np.array_equal(theirs[k].numpy(), v.numpy()), k
    dist.barrier()
    if RANK == 0:
        os.remove(path)


def torch_with_gloo() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.distributed.is_available() and torch.distributed.is_gloo_available()


if torch_with_gloo() and "MASTER_PORT" in os.environ:
    import ranks_ddp_torch  # noqa: F401  (its checks run on import)

C.done()
