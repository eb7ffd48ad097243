"""One launch of the distributed benchmark (run under ``mpiexec -n P``): a model's training
steps for each configuration, timed by phase, interleaved; rank 0 prints one JSON line."""

# Note [distributed step phases]
# A configuration is (how gradients are averaged, the simulated link). Each has its own copy of
# the model (the same seeded weights), optimizer and loss function, so DDP's hooks of one never
# fire in another; the configurations take turns, ``--steps`` steps each per round, rounds
# rotating the order. A step is ``zero_grad; loss = f(x, y); loss.backward(); <reduce>;
# opt.step()``, each phase timed with perf_counter. Every all-reduce the step launches (DDP's
# inside the backward, or the benchmark's own after it) goes through distributed_link.Clock,
# which records the launches and the time blocked in each ``wait()`` (Note [simulated link]).
# So per step: ``backward`` is the backward's time without the waits inside it, ``blocked``
# all the time in waits (the communication not hidden), and ``comm`` the all-reduces' own
# time, measured apart: the same message sizes all-reduced back to back after a barrier, plus
# the modelled link time; ``hidden = comm - blocked`` (at least 0). Before any timing every
# configuration trains ``CHECK_STEPS`` steps on one fixed global batch, each rank on its shard
# (one process: the whole batch); the losses (the ranks' mean) and the final parameters go to
# the parent, which compares them with the one-process run. ``ready`` is, from one extra
# untimed step with post-accumulate-grad hooks, when each parameter's gradient was ready (from
# the backward's start, in wall and in CPU time): the input of distributed_link.predict.

# Note [first backward's ready times]
# (Fixed since, by aa0f6f9: AccumulateGrad now runs as soon as it is ready, as PyTorch's; the
# CNN's gradients stream with the last loss kept alive too. What follows is what this
# benchmark found, and why it still measures both schedules.)
# adjit's eager engine ran ready nodes by their sequence number, latest first, and a leaf's
# AccumulateGrad node is made once and reused while a graph still holds it
# (runtime/autograd.gradient_edge). In a plain training loop the previous step's ``loss`` (and
# its graph) is alive while the next forward runs, so the next graph reuses those nodes, older
# than all of its own: every gradient is accumulated (and every post-accumulate hook, DDP's,
# fires) at the very end of the backward (measured: the CNN's 6 gradients all within the last
# 0.05 ms of a 5 ms backward; with ``del loss`` before the next forward, from 0.6 ms on; PyTorch
# gives AccumulateGrad the highest priority, so a gradient is accumulated as soon as it is
# complete). Here ``step`` keeps the loss in a local that dies on return, so the timed steps
# stream their gradients, as ``ready_times`` measures them (``del loss``); one-process launches
# also report a fresh model copy's first backward (``first_ready``), whose AccumulateGrad nodes
# were made during its own forward: the analytic table runs both schedules.

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import distributed_link as dl
from .distributed_models import MODELS, N_DIGITS, batches, dataset, one_hot

CHECK_STEPS = 3
REDUCERS = ("none", "after backward", "ddp")
# the loss function eager or compiled (backward outside), or the whole step compiled
# (zero_grad, forward, backward, opt.step: DDP's hooks and all-reduces inside the compiled call)
MODES = ("eager", "compiled", "compiled step")
BACKENDS = ("adjit.distributed", "mpi4py")  # the first when it is there


class Comm:
    """The process group the benchmark reduces with: adjit.distributed once it is there,
    mpi4py's COMM_WORLD otherwise (the baseline before DDP); every all-reduce timed by
    ``clock``. ``backend`` says which."""

    def __init__(self, backend: str = "adjit.distributed") -> None:
        from mpi4py import MPI

        self.mpi, self.world = MPI, MPI.COMM_WORLD
        self.rank, self.size = self.world.Get_rank(), self.world.Get_size()
        self.stamps = self.world.Dup()  # the launch-time exchange's own communicator
        self.clock = dl.Clock(self.size, self._exchange)
        self.dist: Any = None
        try:
            import adjit.distributed as dist

            if backend == "adjit.distributed" and hasattr(dist, "init_process_group"):
                if not dist.is_initialized():
                    dist.init_process_group(backend="mpi")
                self.dist = dist
        except ImportError:
            pass
        self.backend = "adjit.distributed" if self.dist is not None else "mpi4py"
        if self.dist is not None:
            self._instrument()

    def _exchange(self, now: float) -> Callable[[], float]:
        """Share a launch time with the other ranks; the returned call gives the latest."""
        buf = np.array([now])
        request = self.stamps.Iallreduce(self.mpi.IN_PLACE, buf, op=self.mpi.MAX)

        def latest() -> float:
            request.Wait()
            return float(buf[0])

        return latest

    def _instrument(self) -> None:
        """Route every adjit.distributed all-reduce through the clock: ``all_reduce`` (and
        every module that imported it by name) notes the launch and tags the work with its
        modelled transfer; ``Work.wait``, for every caller (DDP's reducer), waits through the
        clock. Traced calls (inside adjit.compile) pass through untouched."""
        import sys

        from adjit.distributed.work import Work

        real, real_wait, clock = self.dist.all_reduce, Work.wait, self.clock

        def wait(work: Any, *args: Any, **kwargs: Any) -> Any:
            pending = getattr(work, "_bench_link", None)
            return clock.wait(lambda: real_wait(work, *args, **kwargs), pending)

        def all_reduce(tensor: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(tensor, "_is_tracer", False):
                return real(tensor, *args, **kwargs)
            async_op = kwargs.pop("async_op", False)
            if len(args) >= 3:
                args, async_op = args[:2], args[2]
            pending = clock.launch(tensor.numel() * tensor.element_size())
            work = real(tensor, *args, async_op=True, **kwargs)
            work._bench_link = pending
            if async_op:
                return work
            work.wait()
            return None

        Work.wait = wait
        for name, module in list(sys.modules.items()):
            if name.startswith("adjit") and getattr(module, "all_reduce", None) is real:
                module.all_reduce = all_reduce

    def all_reduce(self, buf: np.ndarray) -> Any:
        """Launch a SUM all-reduce of ``buf`` in place; returns a handle with ``wait()``."""
        if self.dist is not None:
            import adjit

            return self.dist.all_reduce(adjit.from_numpy(buf), async_op=True)
        pending = self.clock.launch(buf.nbytes)
        return dl.TimedWork(self.world.Iallreduce(self.mpi.IN_PLACE, buf), self.clock, pending)

    def standalone_s(self, sizes: list[int], repeats: int = 20) -> float:
        """Median seconds of all-reducing messages of ``sizes`` bytes back to back (the
        communication's own time, with no compute to hide it), after a barrier."""
        bufs = [np.ones(max(n // 4, 1), np.float32) for n in sizes]
        link, record = self.clock.link, self.clock.record
        self.clock.link, self.clock.record = dl.REAL, dl.Record()
        times = []
        for _ in range(repeats):
            self.world.Barrier()
            t = time.perf_counter()
            for b in bufs:
                self.all_reduce(b).wait()
            times.append(time.perf_counter() - t)
        self.clock.link, self.clock.record = link, record
        return statistics.median(times)

    def mean(self, value: float) -> float:
        return float(self.world.allreduce(value)) / self.size


@dataclass
class Trainer:
    """One configuration's model, optimizer, loss function and reduction."""

    name: str
    reducer: str
    link: dl.Link
    params: list[Any]
    loss_fn: Callable[[Any, Any], Any]
    opt: Any
    reduce: Callable[[], None]
    whole: Callable[[Any, Any], Any] | None = None  # the whole step compiled (MODES)
    samples: list[dict[str, float]] = field(default_factory=list)


def _flat_reduce(params: list[Any], comm: Comm) -> Callable[[], None]:
    """The all-reduce after backward: every gradient copied into one buffer, one all-reduce,
    averaged and copied back."""
    sizes = [int(np.prod(p.shape)) for p in params]
    flat = np.zeros(sum(sizes), np.float32)
    cuts = np.cumsum([0, *sizes])

    def reduce() -> None:
        for p, a, b in zip(params, cuts[:-1], cuts[1:], strict=True):
            flat[a:b] = p.grad.numpy().reshape(-1)
        comm.all_reduce(flat).wait()
        flat[:] /= comm.size
        for p, a, b in zip(params, cuts[:-1], cuts[1:], strict=True):
            p.grad.numpy().reshape(-1)[:] = flat[a:b]

    return reduce


def build(
    model: str, mode: str, reducer: str, cap_mb: str | None, link: dl.Link, comm: Comm
) -> Trainer:
    """A configuration's trainer: the model seeded as every other copy, wrapped as asked."""
    import adjit

    adjit.manual_seed(0)
    net, loss_of = MODELS[model].build(adjit)
    params = list(net.parameters())
    reduce: Callable[[], None] = lambda: None
    module, name = net, reducer
    if reducer == "ddp":
        from adjit.nn.parallel import DistributedDataParallel

        kwargs = {} if cap_mb in (None, "default") else {"bucket_cap_mb": float(cap_mb)}
        module = DistributedDataParallel(net, **kwargs)
        name = f"ddp {cap_mb or 'default'} MB"
    elif reducer == "after backward":
        reduce = _flat_reduce(params, comm)
    fn = lambda x, y: loss_of(module(x), y)
    loss_fn = adjit.compile(fn) if mode == "compiled" else fn
    opt = adjit.optim.Adam(params, lr=1e-3)
    t = Trainer(f"{name} @{link.name}", reducer, link, params, loss_fn, opt, reduce)
    if mode == "compiled step":
        if reducer == "after backward":
            raise ValueError("the all-reduce after backward is NumPy's: not in a compiled step")

        def whole(x: Any, y: Any) -> Any:
            opt.zero_grad()
            loss = fn(x, y)
            loss.backward()
            opt.step()
            return loss

        t.whole = adjit.compile(whole)
    return t


def step(t: Trainer, x: Any, y: Any, comm: Comm) -> tuple[float, dict[str, float]]:
    """One training step, timed by phase (Note [distributed step phases])."""
    comm.clock.link, comm.clock.record = t.link, dl.Record()
    c0, t0 = time.process_time(), time.perf_counter()
    if t.whole is not None:  # one call: only the step and its waits are timed
        loss = t.whole(x, y)
        t4 = time.perf_counter()
        rec = comm.clock.record
        return float(loss.detach()), {
            "step": t4 - t0,
            "blocked": rec.blocked(t0, t4),
            "cpu": time.process_time() - c0,
            "cores": (time.process_time() - c0) / max(t4 - t0, 1e-9),
            "modelled": rec.modelled_s,
            "link_exposed": rec.slept_s,
            "launched": float(sum(n for _, n in rec.launches)),
        }
    t.opt.zero_grad()
    loss = t.loss_fn(x, y)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    t.reduce()
    t3 = time.perf_counter()
    t.opt.step()
    t4 = time.perf_counter()
    rec = comm.clock.record
    in_backward = rec.blocked(t1, t2)
    return float(loss.detach()), {
        "step": t4 - t0,
        "forward": t1 - t0,
        "backward": t2 - t1 - in_backward,
        "blocked": rec.blocked(t0, t4),
        "reduce": t3 - t2,
        "optimizer": t4 - t3,
        "cpu": time.process_time() - c0,
        "cores": (time.process_time() - c0) / max(t4 - t0, 1e-9),
        "modelled": rec.modelled_s,
        "link_exposed": rec.slept_s,
        "launched": float(sum(n for _, n in rec.launches)),
    }


def _stamp(stamps: dict[int, tuple[float, float]], i: int, _param: Any) -> None:
    stamps.setdefault(i, (time.perf_counter(), time.thread_time()))


@dataclass
class Schedule:
    """When each parameter's gradient was ready in one backward, from its start, and the
    backward's length: in wall seconds (``ready``, ``backward``) and in this thread's CPU
    seconds (``ready_cpu``, ``backward_cpu``: the schedule on an idle core, which the
    machine's other load does not stretch)."""

    ready: list[float] = field(default_factory=list)
    backward: float = 0.0
    ready_cpu: list[float] = field(default_factory=list)
    backward_cpu: float = 0.0


def _timed_backward(
    params: list[Any], loss: Any, rec: dl.Record, before: Callable[[], None]
) -> Schedule:
    """``loss.backward()`` with a post-accumulate-grad stamp on every parameter; the time
    blocked in waits inside it (DDP's, whose hooks run before these) taken out of the wall
    times."""
    stamps: dict[int, tuple[float, float]] = {}
    hooks = [
        p.register_post_accumulate_grad_hook(functools.partial(_stamp, stamps, i))
        for i, p in enumerate(params)
    ]
    before()
    t0, c0 = time.perf_counter(), time.thread_time()
    loss.backward()
    t1, c1 = time.perf_counter(), time.thread_time()
    for h in hooks:
        h.remove()
    at = lambda u: u - t0 - rec.blocked(t0, u)
    done = [stamps.get(i, (t1, c1)) for i in range(len(params))]
    return Schedule([at(u) for u, _ in done], at(t1), [c - c0 for _, c in done], c1 - c0)


def ready_times(t: Trainer, x: Any, y: Any, comm: Comm, tries: int = 3) -> Schedule:
    """The gradients' ready times in a step's backward: of ``tries`` steps the one with the
    fastest backward, the least disturbed by the machine's other load (none for a whole step
    compiled: its backward has no start to time from outside). Note [first backward's ready
    times]: no graph of an earlier step may be alive at a forward, as in ``step``."""
    comm.clock.link, comm.clock.record = dl.REAL, dl.Record()
    if t.whole is not None:
        t.whole(x, y)
        return Schedule()
    best = Schedule(backward=float("inf"))
    for _ in range(tries):
        rec = comm.clock.record = dl.Record()
        t.opt.zero_grad()
        loss = t.loss_fn(x, y)
        got = _timed_backward(t.params, loss, rec, comm.world.Barrier)
        del loss
        t.reduce()
        best = min(best, got, key=lambda b: b.backward)
    t.opt.zero_grad()
    return best


def first_ready(model: str, x: Any, y: Any) -> Schedule:
    """The gradients' ready times in a fresh eager copy's first backward (Note [first
    backward's ready times])."""
    import adjit

    adjit.manual_seed(0)
    net, loss_of = MODELS[model].build(adjit)
    loss = loss_of(net(x), y)
    return _timed_backward(list(net.parameters()), loss, dl.Record(), lambda: None)


def _summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    keys = samples[0].keys()
    out: dict[str, Any] = {}
    for k in keys:
        values = [s[k] for s in samples]
        q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
        out[k] = statistics.median(values)
        out[k + "_iqr"] = q[2] - q[0]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=list(MODELS), default="mlp")
    p.add_argument("--mode", choices=MODES, default="compiled")
    p.add_argument("--reducers", nargs="+", default=["after backward"], choices=REDUCERS)
    p.add_argument("--caps", nargs="+", default=["default"], help="DDP bucket_cap_mb values")
    p.add_argument("--links", nargs="+", default=["shm"], choices=list(dl.LINKS))
    p.add_argument("--batch", type=int, default=64, help="samples per process per step")
    p.add_argument("--steps", type=int, default=20, help="steps per configuration per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--backend", choices=BACKENDS, default=BACKENDS[0],
                   help="the all-reduce after backward's (DDP's is adjit.distributed)")  # fmt: skip
    a = p.parse_args(argv)

    from . import peers

    peers.set_threads(a.threads)
    comm = Comm(a.backend)
    import adjit

    trainers = [
        build(a.model, a.mode, reducer, cap, dl.LINKS[link], comm)
        for reducer in a.reducers
        for cap in (a.caps if reducer == "ddp" else [None])
        for link in (a.links if reducer != "none" else ["shm"])
    ]

    # agreement first: CHECK_STEPS steps on one global batch, this rank's shard of it
    classes = MODELS[a.model].classes
    xs, ys = dataset(a.model, a.batch * 2, seed=1)
    shard = slice(comm.rank * len(xs) // comm.size, (comm.rank + 1) * len(xs) // comm.size)
    gx, gy = adjit.tensor(xs[shard]), adjit.tensor(one_hot(ys[shard], classes))
    checks = {}
    for t in trainers:
        losses = [comm.mean(step(t, gx, gy, comm)[0]) for _ in range(CHECK_STEPS)]
        flat = np.concatenate([q.detach().numpy().reshape(-1) for q in t.params])
        checks[t.name] = {"losses": losses, "params": flat[:: max(len(flat) // 512, 1)].tolist()}

    # timing: this rank's own stream of batches, configurations interleaved by rounds
    xs, ys = dataset(a.model, min(N_DIGITS, a.batch * 8), seed=0)
    data = list(batches(adjit, a.model, xs, ys, a.batch, seed=comm.rank))
    for t in trainers:  # warm-up (compiling, pools, the trampolines)
        for i in range(3):
            step(t, *data[i % len(data)], comm)
    k = 0
    for r in range(a.rounds):
        for t in trainers[r % len(trainers) :] + trainers[: r % len(trainers)]:
            comm.world.Barrier()
            for _ in range(a.steps):
                t.samples.append(step(t, *data[k % len(data)], comm)[1])
                k += 1

    results = []
    for t in trainers:
        s = _summary(t.samples)
        sched = ready_times(t, *data[0], comm)
        launches = [n for _, n in comm.clock.record.launches]
        s["comm"] = (comm.standalone_s(launches) if launches else 0.0) + s["modelled"]
        s["hidden"] = max(0.0, s["comm"] - s["blocked"])
        s["steps"] = len(t.samples)
        per_rank = comm.world.gather(s["step"])
        s["slowest_rank_step"] = max(per_rank) if per_rank else s["step"]
        results.append({
            "name": t.name, "reducer": t.reducer, "link": t.link.name, "summary": s,
            "ready": sched.ready, "backward_once": sched.backward, "ready_cpu": sched.ready_cpu,
            "backward_cpu": sched.backward_cpu, "buckets": launches,
            "sizes": [int(np.prod(p.shape)) * 4 for p in t.params],
            "check": checks[t.name],
        })  # fmt: skip
    if comm.rank == 0:
        head = {
            "world": comm.size,
            "backend": comm.backend,
            "model": a.model,
            "mode": a.mode,
            "batch": a.batch,
            "threads": a.threads,
            "adjit_threads": adjit.get_num_threads(),
        }
        if comm.size == 1:
            head["first"] = vars(first_ready(a.model, *data[0]))
        print(json.dumps(head | {"results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
