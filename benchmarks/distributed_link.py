"""A simulated network link for the distributed benchmark: all-reduce cost, a FIFO link that
delays each all-reduce's completion, and the bucket model that predicts the exposed time."""

# Note [simulated link]
# On this machine the two processes share memory: an all-reduce of the digits MLP's 69 KB of
# gradients takes tens of microseconds, so nothing here says what a network does. The
# benchmark therefore puts a modelled link behind every all-reduce it launches (through
# adjit.distributed or mpi4py): the real all-reduce still runs, and its ``wait()`` does not
# return before the modelled completion. The model is a ring all-reduce over p processes,
#     cost(n bytes) = 2 (p - 1) alpha + 2 (p - 1) / p * n / beta,
# (each of the 2(p-1) ring steps pays the latency; each process sends and receives 2(p-1)/p of
# the buffer) on one link per process that carries one all-reduce at a time, in launch order:
# an all-reduce launched at t starts at max(t, the previous one's finish) and finishes ``cost``
# later. The clock starts at the launch, so compute between the launch and the wait hides the
# transfer, as a NIC or a communication thread would (NCCL, gloo); only the time a wait blocks
# is exposed. A transfer cannot start before every rank has launched it: each launch also
# shares its time with the other ranks (an 8-byte MAX all-reduce on a communicator of its
# own; perf_counter is the machine's monotonic clock, the same in every process), and the
# modelled start is the latest rank's launch, so waiting for a late peer never hides link
# time. Without that, a rank that waits for its peer on this noisy shared machine would see
# the modelled transfer done during the wait. ``predict`` runs the same model on paper: from
# the times each gradient became ready in a measured backward (and PyTorch's bucket rule,
# ``buckets``; buckets launched in order once all their gradients are ready) it gives the
# exposed time of a step.
# The benchmark checks the prediction against the measured delayed runs on the small models
# and then applies it to a larger model's measured backward (resnet18) where buckets matter.

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

FIRST_BUCKET_BYTES = 1024 * 1024  # torch.distributed._DEFAULT_FIRST_BUCKET_BYTES
DEFAULT_CAP_MB = 25  # DistributedDataParallel's bucket_cap_mb


@dataclass(frozen=True)
class Link:
    """A modelled network: latency ``alpha_s`` per ring step and bandwidth ``beta_bps`` (bytes
    per second) per process; ``beta_bps = 0`` is no model at all (the machine's own link)."""

    name: str
    alpha_s: float = 0.0
    beta_bps: float = 0.0

    def cost(self, nbytes: int, world: int) -> float:
        """Seconds of one ring all-reduce of ``nbytes`` over ``world`` processes."""
        if self.beta_bps <= 0 or world < 2:
            return 0.0
        steps = 2 * (world - 1)
        return steps * self.alpha_s + steps / world * nbytes / self.beta_bps


REAL = Link("shm")
LINKS = {
    link.name: link
    for link in (
        REAL,
        Link("25GB/s", 50e-6, 25e9),
        Link("10GB/s", 50e-6, 10e9),
        Link("1GB/s", 50e-6, 1e9),
        Link("100MB/s", 50e-6, 1e8),
        Link("10MB/s", 50e-6, 1e7),
    )
}


@dataclass
class Record:
    """One step's communication: every all-reduce's launch time and bytes, each wait's start
    and end (perf_counter seconds), the modelled link time they add up to, and the part of
    it the waits slept through after the real all-reduce was done (the link's exposed time)."""

    launches: list[tuple[float, int]] = field(default_factory=list)
    waits: list[tuple[float, float]] = field(default_factory=list)
    modelled_s: float = 0.0
    slept_s: float = 0.0

    def blocked(self, start: float, end: float) -> float:
        """Seconds spent inside waits between ``start`` and ``end``."""
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.waits)


Exchange = Callable[[float], Callable[[], float]]  # launch time -> (wait -> latest launch)


@dataclass
class Pending:
    """One launched all-reduce on the modelled link: its cost, the exchange that gives the
    last rank's launch time, and its finish once resolved."""

    cost: float
    latest_launch: Callable[[], float]
    finish: float | None = None


class Clock:
    """The link every instrumented all-reduce goes through: records launches and waits into
    ``record`` and holds each wait until the modelled finish (Note [simulated link]).
    ``exchange`` shares a launch time with the other ranks (a MAX all-reduce of its own):
    a transfer starts once every rank has launched it."""

    def __init__(self, world: int, exchange: Exchange) -> None:
        self.world, self.exchange = world, exchange
        self.link = REAL
        self.free_at = 0.0
        self.queue: list[Pending] = []
        self.record = Record()

    def launch(self, nbytes: int) -> Pending | None:
        """Note an all-reduce of ``nbytes`` launched now; None when the link adds nothing."""
        now = time.perf_counter()
        self.record.launches.append((now, nbytes))
        cost = self.link.cost(nbytes, self.world)
        if cost == 0.0:
            return None
        self.record.modelled_s += cost
        pending = Pending(cost, self.exchange(now))
        self.queue.append(pending)
        return pending

    def _resolve(self, pending: Pending) -> float:
        """The modelled finish of ``pending`` (and of every one launched before it)."""
        while pending.finish is None:
            first = self.queue.pop(0)
            self.free_at = max(first.latest_launch(), self.free_at) + first.cost
            first.finish = self.free_at
        return pending.finish

    def wait(self, real_wait: Callable[[], Any], pending: Pending | None) -> Any:
        """Run the real wait, then block until the modelled finish; the time is recorded."""
        start = time.perf_counter()
        try:
            return real_wait()
        finally:
            if pending is not None:
                done = time.perf_counter()
                left = self._resolve(pending) - done
                if left > 0:
                    time.sleep(left)
                    self.record.slept_s += time.perf_counter() - done
            self.record.waits.append((start, time.perf_counter()))


class TimedWork:
    """A work handle whose ``wait`` goes through the clock (what the instrumented
    ``all_reduce(..., async_op=True)`` returns in place of the real one)."""

    def __init__(self, work: Any, clock: Clock, pending: Pending | None) -> None:
        self._work, self._clock, self._pending = work, clock, pending

    def wait(self, *args: Any, **kwargs: Any) -> Any:
        return self._clock.wait(lambda: self._work.wait(*args, **kwargs), self._pending)

    def __getattr__(self, name: str) -> Any:  # is_completed, get_future, ...: the real ones
        return getattr(self._work, name)


def limits(cap_mb: float | None) -> tuple[float, float]:
    """(first bucket's, every other bucket's) byte limits of PyTorch's DDP for
    ``bucket_cap_mb`` (None: its default, 25 MiB after a first bucket of 1 MiB)."""
    if cap_mb is None:
        return FIRST_BUCKET_BYTES, DEFAULT_CAP_MB * 2**20
    return cap_mb * 2**20, cap_mb * 2**20


def buckets(
    sizes: Sequence[int], order: Sequence[int], limit: tuple[float, float] | None
) -> list[list[int]]:
    """Parameter indices per bucket as PyTorch's DDP rebuilds them after its first step: in
    ``order`` (the order their gradients became ready), a parameter joins the open bucket and
    the bucket closes once it holds at least its limit (``limit``: the first bucket's and the
    others'); ``None``: one bucket of everything (the all-reduce after backward)."""
    if limit is None:
        return [list(order)]
    out: list[list[int]] = [[]]
    filled = 0
    for i in order:
        if filled >= limit[0 if len(out) == 1 else 1]:
            out.append([])
            filled = 0
        out[-1].append(i)
        filled += sizes[i]
    return out


def predict(
    ready_s: Sequence[float],
    sizes: Sequence[int],
    backward_s: float,
    limit: tuple[float, float] | None,
    link: Link,
    world: int,
) -> tuple[float, float]:
    """(exposed seconds after the backward, total modelled all-reduce seconds) of one step:
    ``ready_s[i]`` is when parameter i's gradient was ready, from the backward's start;
    ``limit=None`` launches one all-reduce when the backward ends."""
    free, launched, total = 0.0, 0.0, 0.0
    order = sorted(range(len(sizes)), key=lambda i: ready_s[i])
    for bucket in buckets(sizes, order, limit):
        ready = backward_s if limit is None else max(ready_s[i] for i in bucket)
        launched = max(launched, ready)  # buckets launch in order
        cost = link.cost(sum(sizes[i] for i in bucket), world)
        free = max(free, launched) + cost
        total += cost
    return max(0.0, free - backward_s), total
