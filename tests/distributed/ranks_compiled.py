"""Rank script of test_compiled_collectives.py: collectives and DDP inside adjit.compile on 2
processes, as named checks (ranks_common.check). With ``--measure``: how much of the
all-reduce time the backward hides (Note [gradients as they are made], Note [collective
steps]), printed by rank 0:

    ADJIT_COLLECTIVE_POLL=0 mpiexec -n 2 python tests/distributed/ranks_compiled.py --measure
    ADJIT_COLLECTIVE_POLL=1 mpiexec -n 2 python tests/distributed/ranks_compiled.py --measure

(with polls: MPI progress calls between the steps of a streamed backward, and poll steps
between a compiled collective's start and wait)
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
import time

import numpy as np
import ranks_common as C
from ranks_common import check

import adjit
import adjit.distributed as dist
import adjit.nn.functional as F
from adjit import nn
from adjit.distributed import work as work_module
from adjit.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
RANK, N = dist.get_rank(), dist.get_world_size()
C.RANK = RANK


def mlp(width: int = 32, d_in: int = 10, d_out: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d_in, width),
        nn.Tanh(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, d_out),
    )


def cnn(c: int = 4) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c, 2 * c, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * c * 14 * 14, 10),
    )


def batch(shape: tuple[int, ...], classes: int, k: int = 0, n: int = 8):
    g = adjit.Generator().manual_seed(1000 * k + RANK)  # each rank its own data
    return adjit.randn(n, *shape, generator=g), adjit.randint(0, classes, (n,), generator=g)


class HookAllReduce:
    """A minimal data-parallel reducer: each parameter's post-accumulate hook starts the
    all-reduce of its gradient (times 1/N); ``finish`` waits and writes the averages back.
    Inside adjit.compile the hooks run on tracers: COLLECTIVE equations."""

    def __init__(self, model: nn.Module) -> None:
        self.params = list(model.parameters())
        self.pending: list[tuple[adjit.Tensor, adjit.Tensor, object]] = []
        for p in self.params:
            p.register_post_accumulate_grad_hook(self.hook)

    def hook(self, p: adjit.Tensor) -> None:
        with adjit.no_grad():
            flat = p.grad.reshape(-1) * (1.0 / N)
        self.pending.append((p, flat, dist.all_reduce(flat, async_op=True)))

    def finish(self) -> None:
        for p, flat, work in self.pending:
            work.wait()
            with adjit.no_grad():
                p.grad = flat.reshape(p.shape)
        self.pending = []


def grads(model: nn.Module) -> list[np.ndarray]:
    return [p.grad.numpy().copy() for p in model.parameters()]


def same_on_every_rank(arrays: list[np.ndarray]) -> None:
    for g in arrays:
        hi = adjit.tensor(g)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        assert np.array_equal(hi.numpy(), g)


# ---- checks ----------------------------------------------------------------------------------
@check("bare-collectives-compiled")
def _() -> None:
    def f(x):
        y = x * 2
        dist.all_reduce(y)  # sync SUM
        w = x + 1
        work = dist.all_reduce(w, op=dist.ReduceOp.MAX, async_op=True)
        z = x * x
        work.wait()
        return y + w + z

    x = adjit.arange(4.0) + RANK
    want = f(x.clone())
    cf = adjit.compile(f)
    for _ in range(2):
        got = cf(x)
        assert np.array_equal(got.numpy(), want.numpy()), (got, want)
    graph = adjit.explain(cf, x).graph
    assert str(graph).count("collective[") == 2, graph


@check("hook-step-traced-grads")
def _() -> None:
    """A whole step whose gradient hooks all-reduce on tracers (COLLECTIVE equations, one per
    parameter) against the same step run eagerly: within float32's error of the float64 step
    (the eager float32 step's error, x4), and averaged (every rank holds the same)."""
    adjit.manual_seed(0)
    base = mlp()
    models = [copy.deepcopy(base), copy.deepcopy(base), copy.deepcopy(base).double()]
    reducers = [HookAllReduce(m) for m in models]

    def step_of(model, reducer):
        def step(x, y):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            reducer.finish()
            return loss

        return step

    eager, exact = step_of(models[0], reducers[0]), step_of(models[2], reducers[2])
    compiled = adjit.compile(step_of(models[1], reducers[1]))
    for k in range(3):
        x, y = batch((10,), 3, k)
        for m in models:
            m.zero_grad()
        eager(x, y), compiled(x, y), exact(x.double(), y)
        g32, gc, g64 = grads(models[0]), grads(models[1]), grads(models[2])
        err32 = max(np.abs(a - b).max() for a, b in zip(g32, g64, strict=True))
        errc = max(np.abs(a - b).max() for a, b in zip(gc, g64, strict=True))
        assert 0 < err32 < 1e-5 and errc <= 4 * err32, (errc, err32)
        same_on_every_rank(gc)
    graph = str(adjit.explain(compiled, x, y).graph)
    assert graph.count("collective[") == len(list(models[1].parameters())), graph


@check("ddp-whole-step-compiled-grads")
def _() -> None:
    """adjit.compile of a step with DDP inside against the eager DDP step: gradients within
    float32's error of the same step in float64 (the eager float32 step's error, x4)."""
    adjit.manual_seed(0)
    base = mlp()
    models = [copy.deepcopy(base), copy.deepcopy(base), copy.deepcopy(base).double()]
    ddps = [DDP(m) for m in models]

    def step_of(ddp):
        def step(x, y):
            loss = F.cross_entropy(ddp(x), y)
            loss.backward()
            return loss

        return step

    eager, compiled, exact = step_of(ddps[0]), adjit.compile(step_of(ddps[1])), step_of(ddps[2])
    for k in range(3):
        x, y = batch((10,), 3, k)
        for m in models:
            m.zero_grad()
        eager(x, y), compiled(x, y), exact(x.double(), y)
        g32, gc, g64 = grads(models[0]), grads(models[1]), grads(models[2])
        err32 = max(np.abs(a - b).max() for a, b in zip(g32, g64, strict=True))
        errc = max(np.abs(a - b).max() for a, b in zip(gc, g64, strict=True))
        assert 0 < err32 < 1e-5 and errc <= 4 * err32, (errc, err32)
        same_on_every_rank(gc)


# ---- measurement -----------------------------------------------------------------------------
class WaitClock:
    """When a step first entered Work.wait (its backward is over: DDP's reducer waits in the
    last gradient's hook, a compiled step before the first reader of a result) and when its
    last wait returned (perf_counter: one clock for both processes of this machine); and the
    bytes of the step's all-reduces already complete when the first wait began."""

    def __init__(self) -> None:
        self.first = self.last = 0.0
        self.issued: list[tuple[object, int]] = []  # this step's works and their bytes
        self.done_at_end = 0
        real_wait, real_issue = work_module.Work.wait, work_module.Work._issue
        clock = self

        def timed(work, timeout=None):
            t0 = time.perf_counter()
            if not clock.first:
                clock.first = t0
                clock.done_at_end = sum(n for w, n in clock.issued if w._stage == "done")
            try:
                return real_wait(work, timeout)
            finally:
                clock.last = time.perf_counter()

        def issue(work):
            clock.issued.append((work, sum(t._data.nbytes for t in work._result)))
            return real_issue(work)

        work_module.Work.wait = timed  # type: ignore[method-assign]
        work_module.Work._issue = issue  # type: ignore[method-assign]

    def reset(self) -> None:
        self.first = self.last = 0.0
        self.issued = []
        self.done_at_end = 0


def sync_times(sizes: list[int], repeats: int = 30) -> list[float]:
    """Seconds of blocking all-reduces of these float32 sizes, back to back, per repeat."""
    bufs = [adjit.zeros(n) for n in sizes]
    times = []
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        for b in bufs:
            dist.all_reduce(b)
        times.append(time.perf_counter() - t0)
    return times


def stepper(case: str, model: nn.Module, opt, cap: float | None = None) -> tuple:
    """The step of ``case`` and the float32 sizes of its all-reduces, last launched last."""
    sizes = [p.numel() for p in model.parameters()]
    if case == "A":  # DDP around a compiled model: hooks from the streamed backward
        ddp = DDP(adjit.compile(model), bucket_cap_mb=cap)

        def run(x, y):
            F.cross_entropy(ddp(x), y).backward()
            opt.step()
            opt.zero_grad()

        return run, None
    if case == "B":  # the whole step compiled, DDP inside (segments around its breaks)
        ddp = DDP(model, bucket_cap_mb=cap)

        @adjit.compile
        def run(x, y):
            F.cross_entropy(ddp(x), y).backward()
            opt.step()
            opt.zero_grad()

        return run, None
    reducer = HookAllReduce(model)  # the whole step traced: a COLLECTIVE per gradient

    @adjit.compile
    def run(x, y):
        F.cross_entropy(model(x), y).backward()
        reducer.finish()
        opt.step()
        opt.zero_grad()

    return run, sizes


def measure(
    name: str, make_model, shape, classes: int, steps: int = 80, cap: float | None = None
) -> None:
    """Per case and polling choice: the step time, the communication left after the slower
    rank's backward (from then to the last wait's return: ``exposed``) against the same
    all-reduces run alone (blocking, back to back); hidden = 1 - exposed / alone, of the
    medians and of the minima (this machine's 2 cores are shared: the minima are the least
    disturbed)."""
    clock: WaitClock = WaitClock.instance  # type: ignore[attr-defined]
    rows = []
    poll = os.environ.get("ADJIT_COLLECTIVE_POLL", "1") != "0"
    for case in ("A", "B", "B-IR"):
        adjit.manual_seed(0)
        model = make_model()
        run, sizes = stepper(case, model, adjit.optim.SGD(model.parameters(), lr=0.01), cap)
        data = [batch(shape, classes, k, n=32) for k in range(4)]
        marks, done = [], []
        for k in range(steps):
            x, y = data[k % 4]
            dist.barrier()
            clock.reset()
            t0 = time.perf_counter()
            run(x, y)
            total = sum(n for _, n in clock.issued)
            done.append(clock.done_at_end / total if total else 0.0)
            marks.append((t0, clock.first, clock.last, time.perf_counter()))
        ends = adjit.tensor([m[1] for m in marks], dtype=adjit.float64)
        dist.all_reduce(ends, op=dist.ReduceOp.MAX)  # the slower rank's backward end
        warm = steps // 4
        exposed = [max(0.0, m[2] - e) for m, e in zip(marks, ends.tolist(), strict=True)]
        step = statistics.median(m[3] - m[0] for m in marks[warm:])
        if sizes is None:  # DDP's buckets, as rebuilt after the first step
            sizes = [sum(s) for s in ddp_sizes(model, cap)]
        alone = sync_times(sizes)
        rows.append((case, poll, step, exposed[warm:], alone, statistics.mean(done[warm:])))
    if RANK == 0:
        print(f"\n{name}: the last 3/4 of {steps} steps, rank 0, ms (median / min)")
        print(
            " case  poll  step     exposed          all-reduces alone   hidden (median / min)"
            "  done at backward end"
        )
        for case, poll, step, exposed, alone, done in rows:
            e_med, e_min = statistics.median(exposed), min(exposed)
            a_med, a_min = statistics.median(alone), min(alone)
            print(
                f" {case:5} {'yes' if poll else 'no ':4} {step * 1e3:6.2f}"
                f"  {e_med * 1e3:7.3f} / {e_min * 1e3:6.3f}"
                f"  {a_med * 1e3:7.3f} / {a_min * 1e3:6.3f}"
                f"    {max(0.0, 1 - e_med / a_med):4.0%} / {max(0.0, 1 - e_min / a_min):4.0%}"
                f"       {done:4.0%}"
            )
        sys.stdout.flush()


def ddp_sizes(model: nn.Module, cap: float | None) -> list[list[int]]:
    """PyTorch's rebuilt bucket plan for ``model`` (its gradients ready last layer first)."""
    from adjit.nn.parallel.buckets import BucketCaps, assign

    params = list(model.parameters())
    order = list(range(len(params)))[::-1]
    limits = BucketCaps.create(cap).rebuild_limits()
    plan = assign([(p.numel() * 4, p.dtype) for p in params], limits, order)
    return [[params[i].numel() for i in bucket] for bucket in plan]


if "--measure" in sys.argv:
    hooks = getattr(dist.collectives, "TRACE_HOOK", None)  # (a rewrite of adjit.distributed
    if hooks is not None and not hooks:  # that has not registered the trace hook yet)
        from adjit.frontend.collectives import trace_hook

        from adjit.distributed.group import resolve

        hooks.append(
            trace_hook({"all_reduce": dist.all_reduce, "broadcast": dist.broadcast}, resolve)
        )
    WaitClock.instance = WaitClock()  # type: ignore[attr-defined]
    measure("MLP 784-512-512-10, batch 32", lambda: mlp(512, 784, 10), (784,), 10)
    wide = "MLP 64-1024-1024-10 (first layer's gradient small), batch 32, DDP buckets of 1 MB"
    measure(wide, lambda: mlp(1024, 64, 10), (64,), 10, cap=1.0)
    measure("CNN 1-8-16 conv + linear, 28x28, batch 32", lambda: cnn(8), (1, 28, 28), 10)
