"""Rank script of test_ddp_traced.py: DistributedDataParallel traced by adjit.compile without
graph breaks (Note [DDP under adjit.compile]) on 2 processes, against eager DDP, as named
checks (ranks_common.check). With ``--measure``: CPU ms per step of each variant, printed by
rank 0 (``mpiexec -n 2 python tests/distributed/ranks_ddp_traced.py --measure``)."""

from __future__ import annotations

import copy
import os
import statistics
import sys
import time
import warnings

import numpy as np
import ranks_common as C
from ranks_common import check

import adjit
import adjit.distributed as dist
import adjit.nn.functional as F
from adjit import nn
from adjit.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
RANK, N = dist.get_rank(), dist.get_world_size()
C.RANK = RANK


def mlp(width: int = 32, d_in: int = 10, d_out: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d_in, width), nn.Tanh(), nn.Linear(width, width), nn.ReLU(),
        nn.Linear(width, d_out),
    )  # fmt: skip


def cnn(c: int = 4) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * c * 14 * 14, 10),
    )  # fmt: skip


class Branchy(nn.Module):
    """``b`` is never used: unused on every rank (find_unused_parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(10, 16)
        self.b = nn.Linear(10, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.a(x).relu())


def batch(shape: tuple[int, ...], classes: int, k: int = 0, n: int = 8):
    g = adjit.Generator().manual_seed(1000 * k + RANK)  # each rank its own data
    return adjit.randn(n, *shape, generator=g), adjit.randint(0, classes, (n,), generator=g)


def params(model: nn.Module) -> list[np.ndarray]:
    return [p.detach().numpy().astype(np.float64) for p in model.parameters()]


def grads(model: nn.Module) -> list[np.ndarray | None]:
    ps = list(model.parameters())
    return [None if p.grad is None else p.grad.numpy().astype(np.float64) for p in ps]


def err(a: list, b: list) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True) if x is not None)


def within(got: list, eager: list, exact: list) -> None:
    """``got`` (compiled float32) is within float32's own error of the float64 run: at most 4x
    the eager float32 run's distance to it (tests/distributed/test_ddp.py's bound)."""
    assert [g is None for g in got] == [e is None for e in exact], "None gradients differ"
    e32, ec = err(eager, exact), err(got, exact)
    assert 0 < e32 < 1e-4 and ec <= 4 * e32, (ec, e32)


def same_on_every_rank(arrays: list) -> None:
    for g in arrays:
        if g is not None:
            hi = adjit.tensor(g)
            dist.all_reduce(hi, op=dist.ReduceOp.MAX)
            assert np.array_equal(hi.numpy(), g)


def no_breaks(fn):
    """``fn()`` with warnings recorded: none of them about graph breaks."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = fn()
    texts = [str(w.message) for w in seen]
    assert not [t for t in texts if "graph break" in t], texts
    return out


def three(base: nn.Module, **kw) -> list[DDP]:
    """Eager, compiled and float64 DDPs of copies of ``base``."""
    return [DDP(copy.deepcopy(base), **kw), DDP(copy.deepcopy(base), **kw),
            DDP(copy.deepcopy(base).double(), **kw)]  # fmt: skip


def buckets(ddp: DDP) -> list[list[int]]:
    return [b.indices for b in ddp.reducer.buckets]


def step_fns(ddps: list[DDP], lr: float = 0.05) -> tuple:
    opts = [adjit.optim.SGD(d.parameters(), lr=lr, momentum=0.9) for d in ddps]

    def step_of(ddp, opt):
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(ddp(x), y)
            loss.backward()
            opt.step()
            return loss

        return step

    return tuple(step_of(d, o) for d, o in zip(ddps, opts, strict=True))


# ---- checks ----------------------------------------------------------------------------------
@check("compile-ddp-backward-outside")
def _() -> None:
    """adjit.compile(loss of ddp(x)) with backward and the optimizer outside: no graph break,
    the buckets rebuilt as eager DDP's (one retrace, guarded), 6 steps within float32's error
    of the float64 run."""
    adjit.manual_seed(0)
    ddps = three(mlp())
    opts = [adjit.optim.SGD(d.parameters(), lr=0.05, momentum=0.9) for d in ddps]
    eager = lambda x, y: F.cross_entropy(ddps[0](x), y)  # noqa: E731
    compiled = adjit.compile(lambda x, y: F.cross_entropy(ddps[1](x), y))
    exact = lambda x, y: F.cross_entropy(ddps[2](x), y)  # noqa: E731
    for k in range(6):
        x, y = batch((10,), 3, k)
        for f, o, xx in ((eager, opts[0], x), (compiled, opts[1], x), (exact, opts[2], x.double())):
            o.zero_grad()
            no_breaks(lambda f=f, xx=xx: f(xx, y)).backward()  # noqa: B023
            o.step()
        within(params(ddps[1]), params(ddps[0]), params(ddps[2]))
        assert buckets(ddps[1]) == buckets(ddps[0]), (buckets(ddps[1]), buckets(ddps[0]))
    same_on_every_rank(params(ddps[1]))
    assert compiled.trace_count == 2, compiled.trace_count  # the rebuild traces once more


@check("whole-step-traced")
def _() -> None:
    """zero_grad, forward, backward and opt.step in one adjit.compile with DDP inside: no graph
    break, the bucket all-reduces are COLLECTIVE equations of the one program (one per
    bucket, after the rebuild), 6 steps within float32's error of the float64 run."""
    adjit.manual_seed(1)
    ddps = three(mlp(), bucket_cap_mb=0.002)  # several buckets after the rebuild
    eager, compiled, exact = step_fns(ddps)
    compiled = adjit.compile(compiled)
    for k in range(6):
        x, y = batch((10,), 3, k)
        eager(x, y), no_breaks(lambda: compiled(x, y)), exact(x.double(), y)  # noqa: B023
        within(params(ddps[1]), params(ddps[0]), params(ddps[2]))
        assert buckets(ddps[1]) == buckets(ddps[0]), (buckets(ddps[1]), buckets(ddps[0]))
    same_on_every_rank(params(ddps[1]))
    assert compiled.trace_count == 2, compiled.trace_count  # the first call, then the rebuild
    assert len(ddps[1].reducer.buckets) > 1
    graph = str(adjit.explain(compiled, x, y).graph)
    assert graph.count("collective[") == len(ddps[1].reducer.buckets), graph
    r = ddps[1].reducer
    assert not r.expect_hooks and not r.require_finalize and r.num_iterations == 6


@check("whole-step-traced-cnn-buffers")
def _() -> None:
    """A CNN with BatchNorm: its buffers' broadcast before each forward is traced (a
    COLLECTIVE on the running statistics, written back), the whole step in one program."""
    adjit.manual_seed(2)
    base = cnn()
    for m in base.modules():  # rank-local buffers: the forward's broadcast makes them rank 0's
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.fill_(float(RANK))
    ddps = three(base, init_sync=False)
    eager, compiled, exact = step_fns(ddps, lr=0.02)
    compiled = adjit.compile(compiled)
    for k in range(3):
        x, y = batch((1, 28, 28), 10, k, n=4)
        eager(x, y), no_breaks(lambda: compiled(x, y)), exact(x.double(), y)  # noqa: B023
    within(params(ddps[1]), params(ddps[0]), params(ddps[2]))
    for name, b in ddps[1].module.named_buffers():
        want = dict(ddps[0].module.named_buffers())[name]
        assert np.allclose(b.numpy(), want.numpy(), rtol=1e-5, atol=1e-6), name
    graph = str(adjit.explain(compiled, x, y).graph)
    assert graph.count("collective[") >= 2, graph  # the buffers' broadcast + the buckets


@check("no-sync-outside")
def _() -> None:
    """Gradient accumulation: a compiled loss under ddp.no_sync() for one micro-batch, then a
    synchronizing one: the averaged accumulated gradients as eager DDP's."""
    adjit.manual_seed(3)
    ddps = three(mlp())
    fns = [lambda x, y, d=d: F.cross_entropy(d(x), y) for d in ddps]
    fns[1] = adjit.compile(fns[1])
    for k in range(3):
        x1, y1 = batch((10,), 3, 2 * k)
        x2, y2 = batch((10,), 3, 2 * k + 1)
        for d, f, c in zip(ddps, fns, (None, None, "d"), strict=True):
            d.zero_grad()
            with d.no_sync():
                no_breaks(lambda f=f, c=c: f(x1.double() if c else x1, y1)).backward()  # noqa: B023
            no_breaks(lambda f=f, c=c: f(x2.double() if c else x2, y2)).backward()  # noqa: B023
        within(grads(ddps[1]), grads(ddps[0]), grads(ddps[2]))
        same_on_every_rank(grads(ddps[1]))
    assert fns[1].trace_count == 2, fns[1].trace_count  # (toggling no_sync does not retrace)


@check("no-sync-inside-step")
def _() -> None:
    """One compiled step accumulating two micro-batches, the first under no_sync inside the
    compiled function: the same as eager DDP doing it (never a skipped reduction)."""
    adjit.manual_seed(4)
    ddps = three(mlp())
    opts = [adjit.optim.SGD(d.parameters(), lr=0.05) for d in ddps]

    def step_of(ddp, opt):
        def step(x1, y1, x2, y2):
            opt.zero_grad()
            with ddp.no_sync():
                F.cross_entropy(ddp(x1), y1).backward()
            F.cross_entropy(ddp(x2), y2).backward()
            opt.step()

        return step

    eager, compiled, exact = (step_of(d, o) for d, o in zip(ddps, opts, strict=True))
    compiled = adjit.compile(compiled)
    for k in range(3):
        (x1, y1), (x2, y2) = batch((10,), 3, 2 * k), batch((10,), 3, 2 * k + 1)
        eager(x1, y1, x2, y2)
        no_breaks(lambda: compiled(x1, y1, x2, y2))  # noqa: B023
        exact(x1.double(), y1, x2.double(), y2)
        within(params(ddps[1]), params(ddps[0]), params(ddps[2]))
    same_on_every_rank(params(ddps[1]))
    assert compiled.trace_count == 2, compiled.trace_count
    graph = str(adjit.explain(compiled, x1, y1, x2, y2).graph)
    assert graph.count("collective[") == len(ddps[1].reducer.buckets), graph  # 2nd only


@check("whole-step-under-no-sync")
def _() -> None:
    """A compiled whole step called under ddp.no_sync() (outside the function: a rank-local
    update) and then without it: the program traced under no_sync has no all-reduce, so the
    synchronizing call is guarded to trace again (Reducer.sync_guard), never skipping it."""
    adjit.manual_seed(9)
    ddps = three(mlp())
    eager, compiled, exact = step_fns(ddps)
    compiled = adjit.compile(compiled)
    for k in range(4):
        x, y = batch((10,), 3, k)
        for d, f, c in zip(ddps, (eager, compiled, exact), (False, False, True), strict=True):
            if k % 2 == 0:
                with d.no_sync():
                    no_breaks(lambda f=f, c=c: f(x.double() if c else x, y))  # noqa: B023
            else:
                no_breaks(lambda f=f, c=c: f(x.double() if c else x, y))  # noqa: B023
        within(params(ddps[1]), params(ddps[0]), params(ddps[2]))
    # (the no_sync steps' rank-local updates leave the parameters different on each rank)


@check("find-unused-compiled")
def _() -> None:
    """find_unused_parameters with adjit.compile(ddp) (backward outside): the unused layer is
    found from the traced program, its .grad stays None, no graph break, as eager DDP."""
    adjit.manual_seed(5)
    ddps = three(Branchy(), find_unused_parameters=True)
    fns = [lambda x, y, d=d: F.cross_entropy(d(x), y) for d in ddps]
    fns[1] = adjit.compile(fns[1])
    for k in range(3):
        x, y = batch((10,), 3, k)
        for d, f, xx in zip(ddps, fns, (x, x, x.double()), strict=True):
            d.zero_grad()
            no_breaks(lambda f=f, xx=xx: f(xx, y)).backward()  # noqa: B023
        within(grads(ddps[1]), grads(ddps[0]), grads(ddps[2]))
        assert ddps[1].module.b.weight.grad is None
    assert ddps[1].reducer.unused == ddps[0].reducer.unused == [2, 3]


@check("find-unused-whole-step")
def _() -> None:
    """find_unused_parameters in a whole compiled step: the used flags' all-reduce is read by
    Python (which gradients to write), so the step runs as segments (a graph break, never a
    skipped sync), equal to eager DDP."""
    adjit.manual_seed(6)
    ddps = three(Branchy(), find_unused_parameters=True)
    eager, compiled, exact = step_fns(ddps)
    compiled = adjit.compile(compiled)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(3):
            x, y = batch((10,), 3, k)
            eager(x, y), compiled(x, y), exact(x.double(), y)
            within(params(ddps[1]), params(ddps[0]), params(ddps[2]))
    assert ddps[1].module.b.weight.grad is None


@check("bucket-view-and-static-graph")
def _() -> None:
    """gradient_as_bucket_view (gradients are views of buckets written in place: a graph
    break around the bucket's launch) and static_graph (its first iteration's used flags read
    by Python: graph breaks) in a whole compiled step, and compile(ddp) with the backward
    outside (no break): as eager DDP, 4 steps."""
    for kw in ({"gradient_as_bucket_view": True}, {"static_graph": True}):
        adjit.manual_seed(8)
        base = mlp()
        ddps = three(base, bucket_cap_mb=0.002, **kw)
        eager, compiled, exact = step_fns(ddps)
        compiled = adjit.compile(compiled)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k in range(4):
                x, y = batch((10,), 3, k)
                eager(x, y), compiled(x, y), exact(x.double(), y)
        within(params(ddps[1]), params(ddps[0]), params(ddps[2]))
        ddps = three(base, bucket_cap_mb=0.002, **kw)
        fns = [lambda x, y, d=d: F.cross_entropy(d(x), y) for d in ddps]
        fns[1] = adjit.compile(fns[1])
        for k in range(4):
            x, y = batch((10,), 3, k)
            for d, f, xx in zip(ddps, fns, (x, x, x.double()), strict=True):
                d.zero_grad()
                no_breaks(lambda f=f, xx=xx: f(xx, y)).backward()  # noqa: B023
            within(grads(ddps[1]), grads(ddps[0]), grads(ddps[2]))
        same_on_every_rank(grads(ddps[1]))


@check("unfinished-reduction-error-compiled")
def _() -> None:
    """A parameter that gets no gradient without find_unused_parameters: the next compiled call
    raises PyTorch's error (the replayed check before the program), as eager DDP."""
    adjit.manual_seed(7)
    ddp = DDP(Branchy())
    f = adjit.compile(lambda x, y: F.cross_entropy(ddp(x), y))
    x, y = batch((10,), 3)
    f(x, y).backward()
    C.raises(RuntimeError, lambda: f(x, y), "Expected to have finished reduction in the prior")


def measure(repeats: int = 30) -> None:
    """CPU ms per step (process_time, median of ``repeats`` after 3 warm-up steps) of eager
    DDP, DDP(compile(net)), compile(ddp) with backward outside, and the whole step compiled."""
    torch_threads = os.environ.get("OMP_NUM_THREADS")
    rows = []
    for name, make, shape, classes, n in (
        ("mlp", lambda: mlp(256, 64, 10), (64,), 10, 64),
        ("cnn", lambda: cnn(8), (1, 28, 28), 10, 32),
    ):
        adjit.manual_seed(0)
        base = make()
        for case in ("eager", "ddp(compile)", "compile(ddp)", "whole step"):
            net = copy.deepcopy(base)
            ddp = DDP(adjit.compile(net) if case == "ddp(compile)" else net)
            opt = adjit.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
            if case in ("eager", "ddp(compile)", "whole step"):
                loss_fn = lambda x, y, ddp=ddp: F.cross_entropy(ddp(x), y)  # noqa: E731
            else:
                loss_fn = adjit.compile(lambda x, y, ddp=ddp: F.cross_entropy(ddp(x), y))

            def step(x, y, loss_fn=loss_fn, opt=opt):
                opt.zero_grad()
                loss_fn(x, y).backward()
                opt.step()

            if case == "whole step":
                step = adjit.compile(step)
            x, y = batch(shape, classes, 0, n)
            times = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for i in range(repeats + 3):
                    dist.barrier()
                    t0 = time.process_time()
                    step(x, y)
                    if i >= 3:
                        times.append(time.process_time() - t0)
            rows.append((name, case, 1e3 * statistics.median(times), 1e3 * min(times)))
    if RANK == 0:
        print(f"CPU ms per step, {N} ranks, OMP_NUM_THREADS={torch_threads}")
        for name, case, med, lo in rows:
            print(f"  {name:4s} {case:14s} median {med:7.2f}  min {lo:7.2f}")


if "--measure" in sys.argv:
    measure()
else:
    C.done()
dist.destroy_process_group()
