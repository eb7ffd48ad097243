"""Python run on every call of a compiled function (frontend/each_call.py, Note [eager on every
call]) and DistributedDataParallel traced without graph breaks in a world of one process."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from adjit.frontend.each_call import each_call, on_each_call
from adjit.frontend.reach import reached

import adjit
import adjit.nn.functional as F
from adjit import nn


class Counter:
    """Python state a library keeps across calls (as DDP's reducer does)."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.mode = 0

    def note(self, what: str, k: int) -> None:
        self.log.append((what, k))


def no_breaks(fn, *args):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = fn(*args)
    assert not [w for w in seen if "graph break" in str(w.message)], [str(w.message) for w in seen]
    return out


def test_replays_run_on_every_call_in_order():
    c = Counter()

    def f(x):
        each_call(c.note, "before", 1, before=True)
        y = x * 2
        each_call(c.note, "after", 2)
        on_each_call(c.note, "replay-only", 3)  # (live code does its own work when tracing)
        return y + 1

    cf = adjit.compile(f)
    x = adjit.arange(3.0)
    for _ in range(3):
        assert np.array_equal(no_breaks(cf, x).numpy(), (x * 2 + 1).numpy())
    assert cf.trace_count == 1
    first = [("before", 1), ("after", 2)]  # the trace's own call: live code only
    later = [("before", 1), ("after", 2), ("replay-only", 3)]
    assert c.log == first + later + later
    f(x)  # eagerly: each_call runs, on_each_call does nothing
    assert c.log[-2:] == first


def test_replay_order_around_the_program():
    """before=True replays run before the program (they see the arguments unchanged, and may
    raise before anything runs), the others after it."""
    seen: list[float] = []
    x = adjit.zeros(1)

    def f(t):
        each_call(lambda: seen.append(float(x[0])), before=True)
        x.add_(1)  # a write-back of an outside tensor: done by the program
        each_call(lambda: seen.append(float(x[0])))
        return t + 1

    cf = adjit.compile(f)
    for _ in range(3):
        cf(adjit.ones(2))
    # the trace's call ran both live while tracing, before its program (Note [eager on every
    # call]: bookkeeping that reads no value the program writes); then around the program
    assert seen == [0.0, 0.0, 1.0, 2.0, 2.0, 3.0]


def test_key_guards_the_specialization():
    c = Counter()

    def f(x):
        each_call(c.note, "mode", c.mode, key=lambda: c.mode)
        return x * (c.mode + 1)

    cf = adjit.compile(f)
    x = adjit.ones(2)
    assert cf(x).tolist() == [1.0, 1.0]
    assert cf(x).tolist() == [1.0, 1.0]
    c.mode = 2
    assert cf(x).tolist() == [3.0, 3.0]  # traced again, not the mode-0 program
    assert cf.trace_count == 2
    assert c.log == [("mode", 0), ("mode", 0), ("mode", 2)]


def test_replay_inside_vmap_is_handed_to_the_compiled_function():
    log: list[int] = []

    def inner(x):
        each_call(log.append, 1)
        return (x * x).sum()

    cf = adjit.compile(lambda x: adjit.func.vmap(inner)(x))
    for _ in range(3):
        assert cf(adjit.ones(2, 3)).tolist() == [3.0, 3.0]
    assert log == [1, 1, 1] and cf.trace_count == 1


def test_replays_of_a_compiled_function_called_inside_another():
    """The inner compiled function's replays (and guards) become the outer one's: its program
    inlines the inner one's, so the outer entry must run them on every call."""
    c = Counter()

    def inner(x):
        each_call(c.note, "inner", c.mode, key=lambda: c.mode)
        return x + 1

    ci = adjit.compile(inner)
    ci(adjit.ones(2))  # traced and cached on its own first
    co = adjit.compile(lambda x: ci(x) * 2)
    for _ in range(3):
        assert co(adjit.ones(2)).tolist() == [4.0, 4.0]
    assert c.log == [("inner", 0)] * 4 and co.trace_count == 1
    c.mode = 1
    co(adjit.ones(2))
    assert co.trace_count == 2 and c.log[-1] == ("inner", 1)
    c.log.clear()
    fresh = adjit.compile(inner)  # traced for the first time inside the outer trace
    co2 = adjit.compile(lambda x: fresh(x) * 2)
    for _ in range(3):
        co2(adjit.ones(2))
    assert c.log == [("inner", 1)] * 3


def test_reached_from_the_trace():
    """Which parameters a traced value reaches through equations that carry a gradient: not
    through detach, no_grad or a comparison (as the eager graph walk)."""
    w = [nn.Parameter(adjit.randn(3)) for _ in range(5)]
    found = {}

    def f(x):
        y = (x * w[0]).sum() + (x * w[1].detach()).sum() + (w[2] > 0).float().sum()
        with adjit.no_grad():
            z = (x * w[3]).sum()
        found["r"] = reached([y + z], w)
        return y

    adjit.compile(f)(adjit.randn(3))
    assert found["r"] == [True, False, False, False, False]
    assert reached([adjit.ones(1)], w) is None  # no tracer: the caller walks eagerly


# ---- DistributedDataParallel in a world of one process --------------------------------------
@pytest.fixture(scope="module")
def world():
    pytest.importorskip("mpi4py", reason="adjit.distributed needs the mpi extra (mpi4py)")
    import adjit.distributed as dist

    created = not dist.is_initialized()
    if created:
        dist.init_process_group("mpi")
    yield dist
    if created:  # (a default group left behind changes later tests: SyncBatchNorm's refusal)
        dist.destroy_process_group()


def _mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


def _data(k: int):
    g = adjit.Generator().manual_seed(k)
    return adjit.randn(8, 6, generator=g), adjit.randint(0, 3, (8,), generator=g)


def test_ddp_compiled_without_breaks_world_of_one(world):
    from adjit.nn.parallel import DistributedDataParallel as DDP

    adjit.manual_seed(0)
    base = _mlp()
    import copy

    a, b = DDP(copy.deepcopy(base)), DDP(copy.deepcopy(base))
    c = DDP(copy.deepcopy(base).double())  # the float64 reference
    opts = [adjit.optim.SGD(d.parameters(), lr=0.1) for d in (a, b, c)]

    def step_of(d, o):
        def step(x, y):
            o.zero_grad()
            loss = F.cross_entropy(d(x), y)
            loss.backward()
            o.step()
            return loss

        return step

    eager, exact = step_of(a, opts[0]), step_of(c, opts[2])
    compiled = adjit.compile(step_of(b, opts[1]))
    for k in range(4):
        x, y = _data(k)
        eager(x, y), exact(x.double(), y)
        no_breaks(compiled, x, y)
    # within float32's own error: at most 4x the eager float32 run's distance to float64's
    ref = [p.detach().numpy() for p in c.parameters()]

    def dist_to_ref(d):
        return max(
            np.abs(p.detach().numpy() - r).max() for p, r in zip(d.parameters(), ref, strict=True)
        )

    e32, ec = dist_to_ref(a), dist_to_ref(b)
    assert 0 < e32 < 1e-5 and ec <= 4 * e32, (ec, e32)
    assert compiled.trace_count == 2  # the first call, then the rebuilt buckets
    assert [x.indices for x in b.reducer.buckets] == [x.indices for x in a.reducer.buckets]
    assert not b.reducer.expect_hooks and b.reducer.num_iterations == 4
    assert "collective[" in str(adjit.explain(compiled, x, y).graph)


def test_ddp_unfinished_reduction_replayed_world_of_one(world):
    """The check before each forward runs on every compiled call: a parameter without a
    gradient raises PyTorch's error at the next call, before the program runs."""
    from adjit.nn.parallel import DistributedDataParallel as DDP

    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(6, 3), nn.Linear(6, 3)

        def forward(self, x, use_b: bool):
            return self.b(x) if use_b else self.a(x)

    ddp = DDP(TwoHeads())
    f = adjit.compile(lambda x, y, use_b: F.cross_entropy(ddp(x, use_b), y))
    x, y = _data(0)
    f(x, y, False).backward()  # b unused: its reduction never finishes
    w = ddp.module.a.weight.detach().clone()
    with pytest.raises(RuntimeError, match="Expected to have finished reduction in the prior"):
        f(x, y, False)
    assert adjit.equal(ddp.module.a.weight, w)
