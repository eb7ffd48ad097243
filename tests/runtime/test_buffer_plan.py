"""Liveness-based buffer planning (Note [buffer planning]): values with disjoint live ranges
share memory, overlapping ones never do, escaping results are never overwritten."""

from __future__ import annotations

import argparse
import threading
import time
import weakref

import numpy as np
import pytest
from adjit.benchmarks import checkpoint_memory as cm
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float64
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.runtime import workers
from adjit.runtime.buffer_plan import nbytes, peak_live_bytes
from adjit.runtime.executor import SHARED, compile_program

import adjit

N = 6


def _var(shape: tuple[int, ...] = (N, N)) -> Var:
    return Var(Aval(shape, float64))


def _chain() -> tuple[Graph, list[Var]]:
    """tanh -> matmul -> sin -> matmul -> exp: a kernel, BLAS, a kernel, BLAS, a kernel."""
    x = _var()
    a, b, c, d, e = (_var() for _ in range(5))
    eqns = (
        Eqn(Op.TANH, (x,), {}, a),
        Eqn(Op.MATMUL, (a, a), {}, b),
        Eqn(Op.SIN, (b,), {}, c),
        Eqn(Op.MATMUL, (c, c), {}, d),
        Eqn(Op.EXP, (d,), {}, e),
    )
    return Graph((x,), eqns, (e,)), [a, b, c, d]


def _shares(ex, u: Var, v: Var) -> bool:
    return np.shares_memory(ex.buffers.views[u][0], ex.buffers.views[v][0])


def test_disjoint_lifetimes_share_memory_and_overlapping_ones_never_do() -> None:
    g, (a, b, c, d) = _chain()
    ex = compile_program(g)
    x = np.random.default_rng(0).standard_normal((N, N))
    np.testing.assert_allclose(ex([x])[0], interpret(g, [x])[0], rtol=1e-12)
    plan = ex.buffer_plan
    assert (
        set(plan.offset_of) == {a, b, c, d} and plan.arena_bytes == 2 * 320
    )  # two (6, 6) float64s at 64-byte offsets
    # c = sin(b) is written over b, which dies there (Note [kernels in place]); a is dead once
    # b is made, so d takes a's bytes
    assert plan.shared == {c: b} and plan.offset_of[b] == plan.offset_of[c]
    assert _shares(ex, a, d) and _shares(ex, b, c)
    for u, v in ((a, b), (c, d)):  # a BLAS step's input and output: never
        assert not _shares(ex, u, v)


# (op, arity) of the random programs' equations; all values are (N, N) float64
OPS = [(Op.ADD, 2), (Op.MUL, 2), (Op.SUB, 2), (Op.TANH, 1), (Op.SIN, 1), (Op.MATMUL, 2)]
VIEWS = [(Op.PERMUTE, {"axes": (1, 0)}), (Op.RESHAPE, {"shape": (N, N)})]


def _random_graph(rng: np.random.Generator) -> Graph:
    inputs = [_var() for _ in range(2)]
    values, eqns = list(inputs), []
    for _ in range(int(rng.integers(4, 16))):
        out = _var()
        recent = values[-4:]
        if rng.random() < 0.2:
            op, attrs = VIEWS[int(rng.integers(len(VIEWS)))]
            eqns.append(Eqn(op, (recent[int(rng.integers(len(recent)))],), attrs, out))
        else:
            op, arity = OPS[int(rng.integers(len(OPS)))]
            pool = recent if rng.random() < 0.7 else values
            args = tuple(pool[int(rng.integers(len(pool)))] for _ in range(arity))
            eqns.append(Eqn(op, args, {}, out))
        values.append(out)
    made = values[2:]
    k = int(rng.integers(1, 4))
    outputs = [made[-1], *(made[int(i)] for i in rng.integers(0, len(made), k - 1))]
    return Graph(tuple(inputs), tuple(eqns), tuple(outputs))


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_equal_the_interpreter_and_never_clobber_held_results(seed: int) -> None:
    rng = np.random.default_rng(seed)
    g = _random_graph(rng)
    ex = compile_program(g)
    plan = ex.buffer_plan
    spans = {v: (o, o + nbytes(v)) for v, o in plan.offset_of.items()}
    for u in spans:  # values live at a common step never overlap in the arena
        for v in spans:
            meet = not (plan.live[u][1] < plan.live[v][0] or plan.live[v][1] < plan.live[u][0])
            apart = spans[u][1] <= spans[v][0] or spans[v][1] <= spans[u][0]
            # except a kernel's output written over its input, which dies there: exactly the
            # same bytes, meeting only at that kernel (Note [kernels in place])
            in_place = (
                plan.shared.get(u) is v
                and plan.live[u][0] == plan.live[v][1]
                and spans[u] == spans[v]
            )
            assert u is v or not meet or apart or in_place or plan.shared.get(v) is u
    held = []
    for _ in range(3):  # every call's results held across the next calls
        xs = [rng.standard_normal((N, N)) for _ in g.inputs]
        got = ex(xs)
        want = interpret(g, xs)
        for o, w in zip(got, want, strict=True):
            np.testing.assert_allclose(o, w, rtol=1e-12, atol=1e-12)
        held.append((got, [o.copy() for o in got]))
    for got, copies in held:
        for o, c in zip(got, copies, strict=True):
            np.testing.assert_array_equal(o, c)


def test_views_of_results_and_results_aliasing_inputs_survive_later_calls() -> None:
    x = _var()
    a, t, b, r = _var(), _var(), _var(), _var()
    eqns = (
        Eqn(Op.TANH, (x,), {}, a),
        Eqn(Op.PERMUTE, (a,), {"axes": (1, 0)}, t),  # the output is a view of a kernel's buffer
        Eqn(Op.SIN, (a,), {}, b),
        Eqn(Op.RESHAPE, (x,), {"shape": (N, N)}, r),  # an output that is the input reshaped
    )
    g = Graph((x,), eqns, (t, b, r))
    ex = compile_program(g)
    assert a in ex.buffer_plan.escaping and a not in ex.buffer_plan.offset_of
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((N, N))
    first = ex([x0])
    view = first[0][1:, :2]  # a view of a view of the pooled buffer
    kept, kept_view = [o.copy() for o in first], view.copy()
    del first
    for _ in range(3):
        ex([rng.standard_normal((N, N))])
    np.testing.assert_array_equal(view, kept_view)
    again = ex([x0])
    for o, k in zip(again, kept, strict=True):
        np.testing.assert_array_equal(o, k)
    again[2][0, 0] = 99.0  # the result aliasing the input is a copy
    assert x0[0, 0] != 99.0


def _tiny_block() -> tuple[argparse.Namespace, dict[str, adjit.Tensor], adjit.Tensor]:
    a = argparse.Namespace(threads=1, batch=2, seq=16, dim=32, heads=2, layers=2)
    data = cm._data(a)
    p = {k: adjit.tensor(data[k], requires_grad=True) for k in cm.NAMES}
    return a, p, adjit.tensor(data["x"])


def test_transformer_step_pools_hold_their_live_peak_not_the_sum_of_values() -> None:
    a, p, x = _tiny_block()
    loss = adjit.compile(cm._loss(adjit, p, a, False))
    grads = []
    for _ in range(3):
        for t in p.values():
            t.grad = None
        loss(x).backward()
        grads.append([t.grad.numpy().copy() for t in p.values()])
    ref_p = {k: adjit.tensor(t.detach().numpy(), requires_grad=True) for k, t in p.items()}
    cm._loss(adjit, ref_p, a, False)(x).backward()  # eager
    for got, want in zip(grads[-1], (t.grad.numpy() for t in ref_p.values()), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    runs = adjit.explain(loss, x)._executables()
    assert len(runs) == 2
    fwd, bwd = sorted((ex for _, ex in runs), key=lambda ex: ex.donor is not None)
    # one arena for the forward's values and residuals and the donating backward's values
    # (Note [one arena for a training step]): the step holds what its caller holds (the
    # loss, gradients) plus the step's live values and at most the largest value more (the
    # arena's fragmentation), not the sum of its values nor residuals next to a backward arena
    joint = fwd.joint
    assert joint is not None and bwd.joint is joint and fwd.buffer_plan is joint.plan
    assert len(joint.arenas) == 1 and bwd.donor.arena is joint.arenas[0]
    assert bwd.buffers.arena is None  # the backward never ran on its own plan
    plan = joint.plan
    held = fwd.buffers.nbytes + bwd.donor.nbytes + bwd.buffers.nbytes
    escaping = sum(nbytes(v) for v in plan.escaping)
    largest = max(nbytes(v) for v in plan.live)
    every = sum(nbytes(v) for v in plan.live)
    assert held <= escaping + peak_live_bytes(plan) + largest
    assert held < every * 0.6
    assert plan.arena_bytes <= peak_live_bytes(plan) + largest
    own = bwd.buffer_plan  # the backward's plan for a call that keeps the residuals
    values = [v for v in own.live if v not in own.escaping]
    assert own.arena_bytes <= peak_live_bytes(own) + max(nbytes(v) for v in values)
    assert own.arena_bytes < sum(nbytes(v) for v in values) / 2


def test_a_step_with_residuals_kept_or_two_graphs_alive_is_right() -> None:
    # Note [one arena for a training step]: retain_graph keeps the residuals intact (the
    # backward runs on its own plan), and a second forward while the first one's residuals
    # are alive takes another arena
    a, p, x = _tiny_block()
    loss = adjit.compile(cm._loss(adjit, p, a, False))
    ref_p = {k: adjit.tensor(t.detach().numpy(), requires_grad=True) for k, t in p.items()}
    cm._loss(adjit, ref_p, a, False)(x).backward()  # eager
    want = [t.grad.numpy() for t in ref_p.values()]

    def check(scale: float) -> None:
        for t, w in zip(p.values(), want, strict=True):
            np.testing.assert_allclose(t.grad.numpy(), scale * w, rtol=2e-4, atol=2e-5)
            t.grad = None

    loss(x).backward()
    check(1)
    out = loss(x)
    out.backward(retain_graph=True)
    out.backward()
    check(2)
    first, second = loss(x), loss(x)  # two graphs alive
    second.backward()
    first.backward()
    check(2)
    fwd = next(ex for _, ex in adjit.explain(loss, x)._executables() if ex.donor is None)
    assert len(fwd.joint.arenas) == 2


def test_a_call_in_another_thread_uses_its_own_arena() -> None:
    g, _ = _chain()
    ex = compile_program(g)
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((N, N)) for _ in range(8)]
    want = [interpret(g, [x])[0] for x in xs]
    got: dict[int, np.ndarray] = {}
    with ex._lock:  # the owner's buffers are busy: the thread's call gets a fresh pool

        def run(i: int) -> None:
            got[i] = ex([xs[i]])[0]

        threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert ex.buffers.arena is None  # the threads' calls made their own
    for i in range(8):
        np.testing.assert_allclose(got[i], want[i], rtol=1e-12)


def test_scan_bodies_and_stacked_outputs_are_planned_and_right() -> None:
    def f(x, w):
        def body(h, xi):
            h2 = ((h @ w).tanh() + xi).sin()
            return h2, (h2 * 2.0).exp()

        return adjit.scan(body, x[0], x)

    rng = np.random.default_rng(3)
    x = adjit.tensor(rng.standard_normal((5, 4, 4)))
    w = adjit.tensor(rng.standard_normal((4, 4)) / 2)
    cf = adjit.compile(f)
    held = [cf(x, w) for _ in range(3)]
    h, ys = f(x, w)
    for hc, yc in held:
        np.testing.assert_allclose(hc.numpy(), h.numpy(), rtol=1e-12)
        np.testing.assert_allclose(yc.numpy(), ys.numpy(), rtol=1e-12)


def test_a_call_while_the_shared_arena_is_taken_uses_an_arena_of_its_own() -> None:
    g, (a, b, c, d) = _chain()
    ex = compile_program(g)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, N))
    want = interpret(g, [x])[0]
    with SHARED.lock:  # as inside another program's call (a loop body's, a callback's)
        np.testing.assert_allclose(ex([x])[0], want, rtol=1e-12)
        own = ex.buffers.arena
        assert own is not None and not ex.buffers.shared and own is not SHARED.buffer
    np.testing.assert_allclose(ex([x])[0], want, rtol=1e-12)
    assert ex.buffers.shared and ex.buffers.arena is SHARED.buffer
    assert _shares(ex, a, d) and not _shares(ex, a, b)


def test_a_value_the_backward_computes_again_has_its_own_place_in_each_program() -> None:
    # a conv's columns are unfolded again in the backward (Note [cheap recompute]): the same
    # Var in both programs, planned as two values (each program's at its own offset), else
    # the forward's columns kept the backward's live range and were written over
    from adjit import nn
    from adjit.models.resnet import BasicBlock, conv1x1

    adjit.manual_seed(0)
    down = nn.Sequential(conv1x1(4, 8, 2), nn.BatchNorm2d(8))
    block = BasicBlock(4, 8, stride=2, downsample=down).eval()
    x = adjit.randn(2, 4, 8, 8)
    y = block(x)
    (y * y).sum().backward()
    want = [y.detach().numpy(), *(p.grad.numpy().copy() for p in block.parameters())]
    cb = adjit.compile(block)
    for _ in range(2):
        block.zero_grad()
        yc = cb(x)
        (yc * yc).sum().backward()
        got = [yc.detach().numpy(), *(p.grad.numpy() for p in block.parameters())]
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(b).max()))
    fwd = next(ex for _, ex in adjit.explain(cb, x)._executables() if ex.donor is None)
    assert fwd.joint is not None
    step = adjit.compile(lambda x: (block(x) * block(x)).sum())  # the donating backward
    for _ in range(2):
        block.zero_grad()
        step(x).backward()
        for p, b in zip(block.parameters(), want[1:], strict=True):
            np.testing.assert_allclose(p.grad.numpy(), b, rtol=1e-5, atol=1e-5 * np.abs(b).max())
    bwd = next(ex for _, ex in adjit.explain(step, x)._executables() if ex.donor is not None)
    assert bwd.donor.arena is bwd.joint.arenas[0]


def _arenas_after_steps(threads: int) -> int:
    """How many arenas a small conv net's compiled training step holds after 4 steps at
    ``threads`` threads (its Winograd steps split across adjit's workers from 2)."""
    before = adjit.get_num_threads()
    adjit.set_num_threads(threads)
    try:
        conv = adjit.nn.Conv2d
        net = adjit.nn.Sequential(
            conv(4, 8, 3, padding=1), adjit.nn.ReLU(), conv(8, 8, 3, padding=1)
        )
        x = adjit.tensor(np.random.default_rng(0).standard_normal((4, 4, 8, 8)).astype(np.float32))
        loss = adjit.compile(lambda x: net(x).square().sum())
        for _ in range(4):
            loss(x).backward()
        runs = adjit.explain(loss, x)._executables()
    finally:
        adjit.set_num_threads(before)
    assert "WinogradConv" in {type(s).__name__ for _, ex in runs for s in ex.steps}
    return len(next(ex for _, ex in runs if ex.donor is None).joint.arenas)


def test_a_step_on_threads_takes_no_more_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    # Note [idle workers hold nothing]: at 2 threads the Winograd steps hand pieces to a
    # worker; a worker that still held its last job, or a job no worker had claimed yet, held
    # views of the step's arena, and the next forward took another arena (resnet18 b8's step at
    # 2 threads: 111 MB against 55.5 at 1)
    monkeypatch.setenv("ADJIT_WINOGRAD", "all")
    assert _arenas_after_steps(2) == _arenas_after_steps(1)


def test_an_idle_worker_holds_nothing() -> None:
    # Note [idle workers hold nothing]: a job's arguments are freed once the caller drops them
    box = np.ones(3)
    ref = weakref.ref(box)
    workers.Workers(1).submit(np.sum, box).result()
    del box
    deadline = time.monotonic() + 10  # (the worker drops its job just after releasing it)
    while ref() is not None and time.monotonic() < deadline:
        time.sleep(0.001)
    assert ref() is None
