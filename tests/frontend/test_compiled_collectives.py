"""Collectives traced into a compiled function (Note [traced collectives], Note [collectives in
the IR], Note [collective steps]), in one process with fake collectives: a world where
all_reduce doubles (so that a result the program ignored would show) and one where it is the
identity (a world of one)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.frontend.collectives import traced_collective
from adjit.ir.ops import Op
from adjit.runtime import trace_state
from adjit.runtime.collective_steps import CollectivePoll, CollectiveStart, CollectiveWait
from adjit.runtime.executor import Executable, compile_program
from adjit.runtime.trace_state import TracingError

import adjit


class Group:
    def __init__(self, size: int) -> None:
        self.n = size

    def rank(self) -> int:
        return 0

    def size(self) -> int:
        return self.n


class Work:
    def __init__(self, log: list[str], t: Any, factor: float) -> None:
        self.log, self.t, self.factor = log, t, factor
        self.done = False

    def is_completed(self) -> bool:
        self.log.append("poll")
        return self.done

    def wait(self, timeout: Any = None) -> bool:
        if not self.done:  # the fake's "message": applied at wait, as MPI completes it
            self.t._data *= self.factor
            self.done = True
        self.log.append("wait")
        return True


class Fake:
    """``adjit.distributed.all_reduce`` of a world of ``size`` ranks that all hold the same
    tensor: SUM multiplies by ``size``; records start/poll/wait."""

    def __init__(self, size: int = 2) -> None:
        self.group = Group(size)
        self.log: list[str] = []

    def resolve(self, group: Any) -> Group:
        return self.group

    def all_reduce(self, tensor: Any, op: str = "sum", group: Any = None, async_op: bool = False):
        if tensor._is_tracer or trace_state.current() is not None:  # (as adjit.distributed)
            args = {"tensor": tensor, "op": op, "group": group, "async_op": async_op}
            return traced_collective(
                {"all_reduce": self.all_reduce}, self.resolve, "all_reduce", args
            )
        self.log.append("start")
        work = Work(self.log, tensor, self.group.n)
        if async_op:
            return work
        work.wait()
        return None


def _program(cf: Any, *args: Any) -> Executable:
    entry, _ = cf.graph_for(*args)
    run = entry.runner(entry.inference())
    assert type(run) is Executable
    return run


@pytest.mark.parametrize("size", [1, 2])
def test_async_all_reduce_result_is_used(size: int) -> None:
    fake = Fake(size)

    def f(x):
        y = x * 3
        work = fake.all_reduce(y, async_op=True)
        z = (x + 1) * x
        work.wait()
        return y + z

    x = adjit.randn(5)
    want = f(x)
    assert fake.log == ["start", "wait"]
    cf = adjit.compile(f)
    for _ in range(2):
        fake.log.clear()
        got = cf(x)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert fake.log[0] == "start" and fake.log[-1] == "wait"
    np.testing.assert_array_equal(want.numpy(), (x * 3 * size + (x + 1) * x).numpy())


def test_sync_all_reduce_and_two_equal_collectives_are_two() -> None:
    fake = Fake(2)

    def f(x):
        a, b = x * 1.5, x * 1.5  # equal values: CSE would merge plain equal equations
        fake.all_reduce(a)
        fake.all_reduce(b)
        c = x.sin()
        fake.all_reduce(c)  # its result unused: still a collective every rank joins
        return a + b

    x = adjit.randn(4)
    want = f(x)
    fake.log.clear()
    got = adjit.compile(f)(x)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert fake.log.count("start") == 3 and fake.log.count("wait") == 3


def test_start_after_producer_wait_before_first_reader_polls_between() -> None:
    """The pipeline moves the collective up to right after its operand's step (it was traced
    after unrelated work); the executor waits just before the step reading the result."""
    fake = Fake(2)

    def f(x, w):
        g = (x * 2).sum(0)  # the "gradient"
        h = (x @ w).tanh() @ w.t()  # the rest of the "backward", traced first...
        fake.all_reduce(g)  # ...then the hook's all-reduce
        return h.sum() + (g * 0.5).sum()

    cf = adjit.compile(f)
    x, w = adjit.randn(8, 4), adjit.randn(4, 4)
    np.testing.assert_allclose(cf(x, w).numpy(), f(x, w).numpy(), rtol=1e-6)
    steps = _program(cf, x, w).steps
    kinds = [type(s).__name__ for s in steps]
    start = next(i for i, s in enumerate(steps) if type(s) is CollectiveStart)
    wait = next(i for i, s in enumerate(steps) if type(s) is CollectiveWait)
    assert start <= 1, kinds  # right after the kernel summing x * 2
    assert any(type(s) is CollectivePoll for s in steps[start:wait])
    between = [s for s in steps[start + 1 : wait] if type(s) is not CollectivePoll]
    assert len(between) >= 2, kinds  # the products run while the message is in flight
    reader = steps[wait + 1]
    assert steps[start].eqn.out in getattr(reader, "kernel", reader).inputs  # type: ignore[union-attr]


def test_no_polls_when_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("ADJIT_COLLECTIVE_POLL", "0")
    fake = Fake(2)

    def f(x):
        y = x * 2
        fake.all_reduce(y)
        return y + x * x

    cf = adjit.compile(f)
    x = adjit.randn(6)
    np.testing.assert_array_equal(cf(x).numpy(), f(x).numpy())
    assert not any(type(s) is CollectivePoll for s in _program(cf, x).steps)


def test_a_new_process_group_traces_again() -> None:
    fake = Fake(2)

    def f(x):
        y = x + 0
        fake.all_reduce(y)
        return y

    cf = adjit.compile(f)
    x = adjit.ones(3)
    assert cf(x).tolist() == [2.0, 2.0, 2.0]
    fake.group = Group(3)  # destroy_process_group + init_process_group with 3 ranks
    assert cf(x).tolist() == [3.0, 3.0, 3.0]


def test_refusals() -> None:
    fake = Fake(2)
    w = adjit.randn(3, requires_grad=True)

    def needs_grad(x):
        y = x * w
        fake.all_reduce(y)
        return y

    with pytest.raises(RuntimeError, match="collectives have no derivative"):
        adjit.compile(needs_grad)(adjit.randn(3))

    def batched(x):
        y = x * 2
        fake.all_reduce(y)
        return y

    with pytest.raises(RuntimeError, match="cannot be batched"):
        adjit.vmap(adjit.compile(batched))(adjit.randn(2, 3))


def test_interpreter_backend_and_ir_rules() -> None:
    fake = Fake(2)

    def f(x):
        y = x * 2
        fake.all_reduce(y)
        return y

    x = adjit.randn(4)
    got = adjit.compile(f, backend="interpreter")(x)
    np.testing.assert_array_equal(got.numpy(), (x * 4).numpy())
    graph = adjit.explain(adjit.compile(f), x).graph
    (e,) = [e for e in graph.eqns if e.op is Op.COLLECTIVE]
    assert "collective[coll=all_reduce(op='sum'; rank 0 of 2)]" in str(graph)
    assert type(compile_program(graph)) is Executable


def test_a_buffer_from_outside_is_exchanged_at_every_call() -> None:
    """A tensor from outside the function (a buffer) all-reduced inside it: every call
    exchanges its current value and writes the result back, as eagerly."""
    fake = Fake(2)

    def f(x, buf):
        fake.all_reduce(buf)
        return x + buf

    def run(fn, buf):
        return [fn(adjit.ones(3), buf).tolist() for _ in range(3)]

    eager_buf, compiled_buf = adjit.full((3,), 0.5), adjit.full((3,), 0.5)
    cf = adjit.compile(lambda x: f(x, compiled_buf))
    want = run(lambda x, b: f(x, b), eager_buf)
    assert run(lambda x, b: cf(x), compiled_buf) == want == [[2.0] * 3, [3.0] * 3, [5.0] * 3]
    assert compiled_buf.tolist() == eager_buf.tolist() == [4.0] * 3


def test_a_constant_made_inside_is_refused() -> None:
    fake = Fake(2)

    def f(x):
        t = adjit.ones(3)
        fake.all_reduce(t)
        return x + t

    with pytest.raises(TracingError, match="made from constants inside the function"):
        adjit.compile(f, fullgraph=True)(adjit.zeros(3))
