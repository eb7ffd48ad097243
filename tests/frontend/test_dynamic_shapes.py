"""Symbolic shapes in adjit.compile: the dynamic= policy, guards, and one trace at many sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adjit.ir.symbolic_shapes import ShapeEnv, SymFloat, SymInt, evaluate, to_python

import adjit
import adjit.nn as nn
import adjit.nn.functional as F


def _same(a: adjit.Tensor, b: adjit.Tensor, tol: float = 0.0) -> None:
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


# -- the sizes themselves ---------------------------------------------------------------------


def test_symint_arithmetic_stays_symbolic_and_evaluates_like_python() -> None:
    env = ShapeEnv()
    s = env.create(10, "x.size(0)")
    exprs = {
        "s + 3": (s + 3, lambda n: n + 3),
        "2 * s - 1": (2 * s - 1, lambda n: 2 * n - 1),
        "(s - 3) // 2 + 1": ((s - 3) // 2 + 1, lambda n: (n - 3) // 2 + 1),
        "s % 4": (s % 4, lambda n: n % 4),
        "-(-s // 3)": (-(-s // 3), lambda n: -(-n // 3)),
        "s * s": (s * s, lambda n: n * n),
    }
    for name, (e, ref) in exprs.items():
        assert isinstance(e, SymInt), name
        for n in (2, 3, 7, 10, 1001):
            assert evaluate(e, {env.symbols[0]: n}) == ref(n), (name, n)
            # the printed guard language is plain Python over the sizes
            assert eval(to_python(e.expr), {"s0": n}) == ref(n), (name, n)
    assert env.guards == []  # arithmetic alone asks nothing


def test_symfloat_replays_the_python_operations_exactly() -> None:
    env = ShapeEnv()
    s = env.create(7, "x.size(0)")
    f = (s - 1.0) * 0.1 / 3
    assert isinstance(f, SymFloat)
    for n in (2, 7, 100, 12345):
        assert f.evaluate({env.symbols[0]: n}) == (n - 1.0) * 0.1 / 3  # bit for bit


def test_comparisons_become_guards_and_ranges_decide_what_they_can() -> None:
    env = ShapeEnv()
    s = env.create(8, "x.size(0)")
    t = env.create(8, "y.size(0)")
    assert s != 1 and s >= 2 and s != 0  # sizes >= 2: decided without a guard
    assert env.guards == []
    assert s == t  # two symbols equal at the traced sizes: one replaces the other
    assert env.replacements == {env.symbols[1]: env.symbols[0]}
    assert s >= 5  # a guard ...
    assert s > 4  # ... and one it implies (no new guard)
    check = env.guard_function()
    assert check(8, 8) and check(5, 5) and not check(4, 4) and not check(8, 9)
    assert int(s) == 8  # int() specializes
    assert not env.guard_function()(9, 9)


def test_frozen_env_refuses_an_undecidable_question() -> None:
    env = ShapeEnv()
    s = env.create(8, "x.size(0)")
    env.freeze()
    assert s != 1  # decidable: fine
    with pytest.raises(adjit.ir.sizes.SymbolicShapeError):
        _ = s == 8


# -- the policy ---------------------------------------------------------------------------------


def _mlp_step():
    adjit.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))
    opt = adjit.optim.SGD(model.parameters(), lr=0.05)  # (momentum: its state appears at step 1)

    def step(x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step


SIZES = [32, 31, 30, 29, 24, 17, 16, 15, 13, 11, 9, 8, 7, 6, 5, 4, 3, 2, 64, 20]  # 20 sizes


@pytest.mark.parametrize("dynamic, traces", [(None, 2), (True, 1), (False, len(SIZES))])
def test_twenty_batch_sizes_of_a_train_step(dynamic: bool | None, traces: int) -> None:
    model, step = _mlp_step()
    ref_model, ref_step = _mlp_step()
    compiled = adjit.compile(step, dynamic=dynamic)
    rng = np.random.default_rng(0)
    for n in SIZES:
        x = adjit.tensor(rng.standard_normal((n, 12)).astype(np.float32))
        y = adjit.tensor(rng.integers(0, 5, n))
        _same(compiled(x, y), ref_step(x, y), 2e-6)
    for p, q in zip(model.parameters(), ref_model.parameters(), strict=True):
        _same(p, q, 1e-5)  # 20 SGD steps apart from rounding
    assert compiled.trace_count == traces


def test_size_one_and_zero_stay_specialized() -> None:
    f = adjit.compile(lambda x: x.sum(0) * 2, dynamic=True)
    for n in (5, 6):
        _same(f(adjit.ones(n, 3)), adjit.full((3,), 2.0 * n))
    assert f.trace_count == 1
    _same(f(adjit.ones(1, 3)), adjit.full((3,), 2.0))
    _same(f(adjit.ones(0, 3)), adjit.zeros(3))
    assert f.trace_count == 3


def test_mark_dynamic_and_mark_static() -> None:
    f = adjit.compile(lambda x: (x * 2).sum(1))
    for n in (4, 5, 6):
        x = adjit.ones(n, 3)
        adjit.mark_dynamic(x, 0)
        _same(f(x), adjit.full((n,), 6.0))
    assert f.trace_count == 1
    g = adjit.compile(lambda x: (x * 2).sum(1), dynamic=True)
    for n in (4, 5):
        x = adjit.ones(3, n)
        adjit._dynamo.mark_static(x, 1)
        _same(g(x), adjit.full((3,), 2.0 * n))
    assert g.trace_count == 2  # dim 1 specialized: one trace per size
    with pytest.raises(IndexError, match="Dimension out of range"):
        adjit.mark_dynamic(adjit.ones(2), 1)


def test_dynamic_false_specializes_every_size() -> None:
    f = adjit.compile(lambda x: x + 1, dynamic=False)
    for n in (3, 4, 5):
        f(adjit.ones(n))
    assert f.trace_count == 3


# -- guards reject the sizes they must ----------------------------------------------------------


def test_a_slice_guards_its_bound() -> None:
    f = adjit.compile(lambda x: x[:4] * 3, dynamic=True)
    for n in (6, 9, 5):
        _same(f(adjit.arange(n * 1.0)), adjit.arange(4.0) * 3)
    assert f.trace_count == 1
    _same(f(adjit.arange(3.0)), adjit.arange(3.0) * 3)  # fewer than 4: another program
    assert f.trace_count == 2


def test_a_view_guards_divisibility() -> None:
    f = adjit.compile(lambda x: x.view(-1, 4).sum(1), dynamic=True)
    for n in (8, 12, 40):
        _same(f(adjit.arange(n * 1.0)), adjit.arange(n * 1.0).view(-1, 4).sum(1))
    assert f.trace_count == 1
    with pytest.raises(RuntimeError, match="invalid for input of size 10"):
        f(adjit.arange(10.0))


def test_sizes_used_as_numbers_stay_symbolic() -> None:
    cases = {
        "half": lambda x: x[: x.shape[0] // 2] + 1,
        "scale": lambda x: x * x.size(0),
        "mean_by_hand": lambda x: x.sum(0) / x.shape[0],
        "unbiased": lambda x: ((x - x.mean(0)) ** 2).sum(0) / (x.shape[0] - 1.0),
        "view": lambda x: x.view(x.shape[0], -1).sum(1),
        "std": lambda x: x.std(0),
        "zeros": lambda x: adjit.zeros(x.shape[0], 3) + x[:, :1],
        "ones_like": lambda x: adjit.ones_like(x) + x,
        "pad": lambda x: F.pad(x, (1, 2)),
        "chunk": lambda x: x.chunk(2, 0)[0] * 2,
    }
    for name, fn in cases.items():
        f = adjit.compile(fn, dynamic=True)
        for n in (6, 8, 10):
            x = adjit.randn(n, 4)
            _same(f(x), fn(x), 1e-6)
        assert f.trace_count == 1, name


def test_values_and_gradients_match_torch_at_every_size() -> None:
    def loss(w: adjit.Tensor, x: adjit.Tensor) -> adjit.Tensor:
        h = (x @ w).tanh()
        return (h * h).mean() + F.log_softmax(h, -1)[:, 0].sum() / x.shape[0]

    def torch_loss(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = (x @ w).tanh()
        return (h * h).mean() + torch.log_softmax(h, -1)[:, 0].sum() / x.shape[0]

    g = adjit.compile(adjit.grad(loss), dynamic=True)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    for n in (3, 7, 50):
        x = rng.standard_normal((n, 5)).astype(np.float32)
        tw = torch.tensor(w, requires_grad=True)
        torch_loss(tw, torch.tensor(x)).backward()
        np.testing.assert_allclose(
            g(adjit.tensor(w), adjit.tensor(x)).numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-6
        )
    assert g.trace_count == 1


def test_explain_shows_symbols_and_guards() -> None:
    f = adjit.compile(lambda x: x[:4].sum(), dynamic=True)
    x = adjit.ones(6)
    f(x)
    text = str(adjit.explain(f, x).guards)
    assert "s0" in text and "inputs[0].size(0)" in text and "4 <= s0" in text


def test_two_sizes_equal_when_traced_stay_two_values() -> None:
    # s0 and s1 are both 4 in the traced call: passes that key values (CSE, rewrites, the
    # symbolic regions' cache) must key them by expression, not by the printed traced value
    f = adjit.compile(lambda x: x * x.shape[0] + x * x.shape[1] * 10, dynamic=True)
    _same(f(adjit.ones(4, 4)), adjit.full((4, 4), 44.0))
    _same(f(adjit.ones(5, 3)), adjit.full((5, 3), 35.0))
    assert f.trace_count == 1


def test_sizes_inside_a_where_region_differentiate_by_the_per_op_rules() -> None:
    def f(x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
        return (adjit.where(x > 0, x * x.shape[0], 0.0) + y * x.shape[1]).sum()

    g = adjit.compile(adjit.grad(f), dynamic=True)
    for n in (4, 5, 7):
        x, y = adjit.randn(n, 4), adjit.randn(n, 4)
        _same(g(x, y), adjit.grad(f)(x, y))
    assert g.trace_count == 1


def test_value_and_grad_serves_sizes_with_one_program() -> None:
    from adjit.codegen.jit import STATS

    def loss(w: adjit.Tensor, x: adjit.Tensor) -> adjit.Tensor:
        return ((x @ w).tanh() ** 2).mean()

    w = adjit.randn(6, 3)
    for g in (adjit.value_and_grad(loss), adjit.compile(adjit.value_and_grad(loss), dynamic=True)):
        g(w, adjit.randn(3, 6))
        g(w, adjit.randn(4, 6))  # (the default policy: the size changed, a symbolic trace)
        for n in (5, 9, 17):
            x = adjit.randn(n, 6)
            with adjit.no_grad():
                ev = loss(w, x)
            wr = w.detach().requires_grad_()
            loss(wr, x).backward()  # (eager: no kernel)
            made = ("lowerings", "compiles", "disk_loads")
            before = [STATS[k] for k in made]
            v, gw = g(w, x)
            assert [STATS[k] for k in made] == before  # a new size: no kernel made or loaded
            _same(v, ev, 1e-6)
            _same(gw, wr.grad, 1e-6)
