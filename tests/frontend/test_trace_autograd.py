"""Autograd inside compiled functions (Note [autograd while tracing]) and whole compiled training
steps (Note [traced training steps]): values, gradients and parameters against eager adjit,
float64 finite differences and PyTorch."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from adjit.runtime.trace_state import TracingError

import adjit
import adjit.nn as nn

BACKENDS = ["llvm", "interpreter"]
F32 = dict(rtol=2e-6, atol=2e-7)  # a few float32 roundings apart (fused kernels contract)


def _close(a, b, **tol):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), **(tol or F32))


# ---- autograd.grad and backward inside the trace --------------------------------------------
def penalty(x, w):
    x = x.requires_grad_()
    y = (x.sin() * w).sum()
    (g,) = adjit.autograd.grad(y, x, create_graph=True)
    return (g.norm() - 1) ** 2 + y


def penalty_torch(x, w):
    x = x.requires_grad_()
    y = (x.sin() * w).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    return (g.norm() - 1) ** 2 + y


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_penalty_matches_eager_and_torch(backend):
    rng = np.random.default_rng(0)
    xv, wv = rng.standard_normal(5), rng.standard_normal(5)
    w = adjit.tensor(wv, requires_grad=True)
    out = adjit.compile(penalty, backend=backend)(adjit.tensor(xv), w)
    out.backward()
    w_eager = adjit.tensor(wv, requires_grad=True)
    eager = penalty(adjit.tensor(xv), w_eager)
    eager.backward()
    wt = torch.tensor(wv, requires_grad=True)
    ref = penalty_torch(torch.tensor(xv), wt)
    ref.backward()
    _close(out.item(), ref.item(), rtol=1e-12)
    _close(w.grad.numpy(), wt.grad.numpy(), rtol=1e-12, atol=1e-14)
    _close(w_eager.grad.numpy(), wt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_gradient_penalty_against_finite_differences():
    rng = np.random.default_rng(1)
    xv, wv = rng.standard_normal(4), rng.standard_normal(4)
    f = adjit.compile(penalty)
    w = adjit.tensor(wv, requires_grad=True)
    f(adjit.tensor(xv), w).backward()
    eps, fd = 1e-6, np.zeros(4)
    for k in range(4):
        d = np.zeros(4)
        d[k] = eps
        hi = f(adjit.tensor(xv), adjit.tensor(wv + d)).item()
        lo = f(adjit.tensor(xv), adjit.tensor(wv - d)).item()
        fd[k] = (hi - lo) / (2 * eps)
    _close(w.grad.numpy(), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_without_create_graph_is_a_constant(backend):
    def f(x, w):
        y = (x * w).pow(3).sum()
        (g,) = adjit.autograd.grad(y, w)
        return g.requires_grad, (g * w).sum()

    x = adjit.tensor([1.0, 2.0, 3.0])
    w = adjit.tensor([0.5, -1.0, 2.0], requires_grad=True)
    flag, out = adjit.compile(f, backend=backend)(x, w)
    flag_e, out_e = f(x, w)
    assert flag is False and flag_e is False
    out.backward()
    g_c = w.grad.clone()
    w.grad = None
    out_e.backward()
    _close(g_c.numpy(), w.grad.numpy())  # d/dw of (const g) . w = g


@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_inside_accumulates_into_arguments_and_params(backend):
    lin = nn.Linear(3, 2)

    def f(x):
        loss = (lin(x) ** 2).sum()
        loss.backward()
        return loss

    x = adjit.randn(4, 3, requires_grad=True)
    g = adjit.compile(f, backend=backend)
    loss = g(x)
    grads_c = [p.grad.clone() for p in lin.parameters()] + [x.grad.clone()]
    for p in [*lin.parameters(), x]:
        p.grad = None
    loss_e = f(x)
    grads_e = [p.grad.clone() for p in lin.parameters()] + [x.grad.clone()]
    _close(loss.item(), loss_e.item())
    for a, b in zip(grads_c, grads_e, strict=True):
        _close(a.numpy(), b.numpy())
    g(x)  # the .grad left by the eager call: a compiled call accumulates into it, as eager
    f(x)
    for p, a, b in zip([*lin.parameters(), x], grads_c, grads_e, strict=True):
        _close(p.grad.numpy(), (a + 2 * b).numpy(), rtol=1e-5)


def test_errors_match_eager():
    def unused(x, w):
        return adjit.autograd.grad((x * 2).sum(), w)

    def no_grad_out(x, w):
        return adjit.autograd.grad(x.sum(), w)

    x = adjit.ones(3, requires_grad=True)
    w = adjit.ones(3, requires_grad=True)
    for fn in (unused, no_grad_out):
        xx = x if fn is unused else adjit.ones(3)
        with pytest.raises(RuntimeError) as eager:
            fn(xx, w)
        with pytest.raises(RuntimeError) as compiled:
            adjit.compile(fn)(xx, w)
        assert str(eager.value) in str(compiled.value)


def test_allow_unused_gives_none():
    def f(x, w):
        return adjit.autograd.grad((x * 2).sum(), [x, w], allow_unused=True)

    x = adjit.ones(3, requires_grad=True)
    w = adjit.ones(3, requires_grad=True)
    gx, gw = adjit.compile(f)(x, w)
    assert gw is None
    _close(gx.numpy(), [2.0, 2.0, 2.0])


# ---- requires_grad_, hooks, retain_grad ------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_requires_grad_on_an_intermediate(backend):
    def f(x):
        h = (x * 3).requires_grad_()
        y = (h.exp() * x).sum()
        (g,) = adjit.autograd.grad(y, h)
        return g

    x = adjit.tensor([0.1, 0.2, -0.3])
    _close(adjit.compile(f, backend=backend)(x).numpy(), f(x).numpy())


def test_requires_grad_false_on_a_leaf_stops_later_gradients():
    def f(x):
        a = (x * x).sum()
        x.requires_grad_(False)
        return a + (x * x).sum()

    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    adjit.compile(f)(x).backward()
    _close(x.grad.numpy(), [2.0, 4.0])  # only the first use differentiates
    x.requires_grad_(True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_register_hook_and_retain_grad(backend):
    def f(x):
        y = x * 2
        y.register_hook(lambda g: g * 3)
        y.retain_grad()
        z = (y * y).sum()
        z.backward()
        return y.grad

    x = adjit.tensor([1.0, -2.0, 0.5], requires_grad=True)
    yg = adjit.compile(f, backend=backend)(x)
    xg = x.grad.clone()
    x.grad = None
    _close(yg.numpy(), f(x).numpy())
    _close(xg.numpy(), x.grad.numpy())
    xt = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    yt = xt * 2
    yt.register_hook(lambda g: g * 3)
    (yt * yt).sum().backward()
    _close(xg.numpy(), xt.grad.numpy())


def test_hook_on_a_used_tensor_refuses():
    def f(x):
        y = x * 2
        z = y.sum()
        y.register_hook(lambda g: g)
        return z

    with pytest.raises(TracingError, match="already used"):
        adjit.compile(f)(adjit.ones(2, requires_grad=True))


# ---- nested adjit.grad with closures ---------------------------------------------------------
def test_nested_grad_closing_over_outer_arguments():
    def outer(x, y):
        return adjit.grad(lambda z: (z * z * x * y).sum())(x).sum()

    a = adjit.tensor([0.3, -1.2, 2.0], dtype=adjit.float64)
    b = adjit.tensor([1.5, 0.25, -0.7], dtype=adjit.float64)
    got = adjit.grad(outer)(a, b)
    at = torch.tensor(a.numpy(), requires_grad=True)
    inner = torch.func.grad(lambda z: (z * z * at * torch.tensor(b.numpy())).sum())
    (ref,) = torch.autograd.grad(inner(at).sum(), at)
    _close(got.numpy(), ref.numpy(), rtol=1e-12)
    _close(got.numpy(), (4 * a * b).numpy(), rtol=1e-12)


# ---- outputs ---------------------------------------------------------------------------------
def test_function_returning_none_and_python_values():
    calls = []

    def f(x):
        calls.append(1)
        return None

    assert adjit.compile(f)(adjit.ones(2)) is None
    assert adjit.compile(lambda x: (x + 1, None, 3))(adjit.ones(2))[1:] == (None, 3)


# ---- whole training steps --------------------------------------------------------------------
def _train(make_opt, compiled, backend="llvm", steps=6, clip=None, zero="none", lib=adjit):
    lib.manual_seed(0)
    m = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 1))
    opt = make_opt(lib, m.parameters())

    def step(x, y):
        opt.zero_grad(set_to_none=zero == "none")
        loss = lib.nn.functional.mse_loss(m(x), y)
        loss.backward()
        if clip is not None:
            lib.nn.utils.clip_grad_norm_(m.parameters(), clip)
        opt.step()
        return loss

    f = adjit.compile(step, backend=backend) if compiled else step
    rng = np.random.default_rng(2)
    losses = []
    for _ in range(steps):
        x = lib.tensor(rng.standard_normal((16, 4)), dtype=lib.float32)
        y = lib.tensor(rng.standard_normal((16, 1)), dtype=lib.float32)
        losses.append(f(x, y).item())
    params = [p.detach().numpy().copy() for p in m.parameters()]
    grads = [p.grad.numpy().copy() for p in m.parameters()]
    return losses, params, grads, f


OPTIMIZERS = {
    "sgd": lambda lib, ps: lib.optim.SGD(ps, lr=0.1),
    "momentum": lambda lib, ps: lib.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "sgd_wd": lambda lib, ps: lib.optim.SGD(ps, lr=0.05, momentum=0.5, weight_decay=1e-2),
    "adam": lambda lib, ps: lib.optim.Adam(ps, lr=0.01),
    "adamw": lambda lib, ps: lib.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    "adam_amsgrad": lambda lib, ps: lib.optim.Adam(ps, lr=0.01, amsgrad=True),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_compiled_training_step_matches_eager_and_torch(name, backend):
    make = OPTIMIZERS[name]
    le, pe, ge, _ = _train(make, False)
    lc, pc, gc, f = _train(make, True, backend=backend)
    lt, pt, gt, _ = _train(make, False, lib=torch)
    _close(le, lt, rtol=1e-6, atol=1e-7)  # eager adjit is PyTorch's arithmetic
    _close(lc, le, rtol=1e-5, atol=1e-7)
    for a, b in zip(pc + gc, pe + ge, strict=True):
        _close(a, b, rtol=1e-5, atol=1e-6)
    assert f.trace_count <= 2  # momentum buffers appear after the first step


@pytest.mark.parametrize("zero", ["none", "zeros"])
def test_training_step_with_clipping_and_zeroing(zero):
    make = OPTIMIZERS["adam"]
    le, pe, ge, _ = _train(make, False, clip=0.5, zero=zero)
    lc, pc, gc, f = _train(make, True, clip=0.5, zero=zero)
    _close(lc, le, rtol=1e-5, atol=1e-7)
    for a, b in zip(pc + gc, pe + ge, strict=True):
        _close(a, b, rtol=1e-5, atol=1e-6)


def test_learning_rate_change_and_state_reload_are_followed():
    adjit.manual_seed(0)
    m = nn.Linear(3, 1)
    opt = adjit.optim.Adam(m.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = m(x).pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    f = adjit.compile(step)
    x = adjit.ones(2, 3)
    f(x)
    snapshot = {k: v.clone() for k, v in m.state_dict().items()}
    saved = copy.deepcopy(opt.state_dict())
    for g in opt.param_groups:
        g["lr"] = 0.01  # a baked-in hyper-parameter: the step is traced again
    f(x)
    after_lr = m.weight.detach().clone()
    m.load_state_dict(snapshot)
    opt.load_state_dict(saved)  # new state tensors: never the stale ones
    for g in opt.param_groups:
        g["lr"] = 0.01
    step(x)
    _close(m.weight.detach().numpy(), after_lr.numpy())


def test_an_optimizer_that_needs_values_says_so():
    m = nn.Linear(2, 1)
    opt = adjit.optim.LBFGS(m.parameters())

    def step(x):
        def closure():
            opt.zero_grad()
            loss = m(x).sum()
            loss.backward()
            return loss

        return opt.step(closure)

    with pytest.raises(TracingError, match="LBFGS"):
        adjit.compile(step, fullgraph=True)(adjit.ones(1, 2))


@pytest.mark.parametrize("closure", [False, True])
def test_backward_inside_continues_through_history_made_outside(closure):
    w = adjit.tensor([0.5, -1.0, 2.0], requires_grad=True)
    h = w * 2  # not a leaf: its gradient goes on to w, eagerly, after the call

    def f(a):
        b = h if closure else a
        loss = (b * b).sum()
        loss.backward()
        return loss

    adjit.compile(f)(h)
    _close(w.grad.numpy(), (8 * w).detach().numpy())
    with pytest.warns(UserWarning, match="not a leaf Tensor is being accessed"):  # as PyTorch
        assert h.grad is None


def test_a_compiled_step_inside_another_compiled_function_refuses():
    lin = nn.Linear(2, 1)

    @adjit.compile
    def inner(x):
        loss = lin(x).sum()
        loss.backward()
        return loss

    with pytest.raises(TracingError, match="inside another compiled function"):
        adjit.compile(lambda x: inner(x) * 2)(adjit.ones(3, 2))
    assert all(p.grad is None for p in lin.parameters())


@pytest.mark.parametrize("name", ["sgd", "momentum", "adamw"])
def test_a_learning_rate_schedule_runs_one_program(name):
    """The learning rate is read at each call, not baked in: a schedule that changes it every
    step neither retraces nor trains differently from eager. (A momentum schedule, OneCycleLR's
    default, changes a hyper-parameter that decides the program: it retraces per value.)"""

    def run(compiled):
        adjit.manual_seed(0)
        m = nn.Linear(3, 2)
        opt = OPTIMIZERS[name](adjit, m.parameters())
        sched = adjit.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=0.1, total_steps=8, cycle_momentum=False
        )

        def step(x):
            opt.zero_grad()
            loss = m(x).pow(2).mean()
            loss.backward()
            opt.step()
            return loss

        f = adjit.compile(step) if compiled else step
        x = adjit.linspace(-1, 1, 12).view(4, 3)
        losses = []
        for _ in range(8):
            losses.append(f(x).item())
            sched.step()
        return losses, m.weight.detach().numpy().copy(), f

    le, we, _ = run(False)
    lc, wc, f = run(True)
    assert f.trace_count <= 2
    _close(lc, le, rtol=1e-5)
    _close(wc, we, rtol=1e-5, atol=1e-6)


def test_reading_a_tensor_from_outside_is_never_frozen():
    """``.item()`` of a buffer or closure tensor inside a compiled function reads its value at
    that point of each call (a graph break), never the number it had when tracing."""
    s = adjit.zeros(())

    def f(x):
        s.add_(1)
        return x * s.item(), s.tolist()

    compiled = adjit.compile(f)
    with pytest.warns(UserWarning, match="graph break"):
        got = [compiled(adjit.ones(2)) for _ in range(3)]
    assert [g[0].tolist() for g in got] == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]
    assert [g[1] for g in got] == [1.0, 2.0, 3.0]
    with pytest.raises(TracingError, match=r"Tensor.item\(\)"):
        adjit.compile(f, fullgraph=True)(adjit.ones(2))


def test_a_break_under_no_grad_keeps_the_arguments_gradient():
    def k(t):
        u = t * 3
        with adjit.no_grad():
            u.sum().item()  # a graph break inside no_grad
        return (u / 2 * t).sum()

    t = adjit.tensor([0.25, 0.5, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="graph break"):
        adjit.compile(k)(t).backward()
    _close(t.grad.numpy(), [0.75, 1.5, 3.0])  # d/dt of 1.5 t^2


def test_a_module_hook_added_after_the_first_call_runs():
    lin = nn.Linear(2, 2)
    seen = []
    f = adjit.compile(lambda x: lin(x).sum())
    f(adjit.ones(1, 2))
    handle = lin.register_forward_hook(lambda m, args, out: seen.append(out.shape) or out * 2)
    assert f(adjit.ones(1, 2)).item() == pytest.approx(2 * lin(adjit.ones(1, 2)).sum().item() / 2)
    assert seen
    handle.remove()
    n = len(seen)
    f(adjit.ones(1, 2))
    assert len(seen) == n  # removed: the first program again


@pytest.mark.parametrize("order", ["write-then-read", "read-then-write"])
def test_writing_through_a_view_of_an_outside_tensor_refuses(order):
    g = adjit.ones(2, 2)
    v = g[0]

    def f(x):
        if order == "read-then-write":
            y = g + x
            v.mul_(2)
            return y
        v.mul_(2)
        return g + x

    with pytest.raises(TracingError, match="shares memory"):
        adjit.compile(f, fullgraph=True)(adjit.ones(2, 2))
    assert g.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_backward_with_inputs_fills_only_those():
    lin = nn.Linear(3, 2)

    def f(x):
        loss = (lin(x) ** 2).sum()
        loss.backward(inputs=[lin.weight])
        return loss

    x = adjit.ones(4, 3)
    adjit.compile(f)(x)
    got = lin.weight.grad.clone()
    assert lin.bias.grad is None
    lin.weight.grad = None
    f(x)
    _close(got.numpy(), lin.weight.grad.numpy())
    assert lin.bias.grad is None


SCALE = 2.0
TABLE = adjit.ones(3)


def test_rebinding_what_a_compiled_function_reads_traces_again():
    """A global, a closure variable or a module's parameter bound to a new object later is
    seen by the next call (the entry guards the objects it was traced with)."""
    global SCALE, TABLE
    lin = nn.Linear(3, 1, bias=False)
    bias = adjit.zeros(1)

    def f(x):
        return lin(x * TABLE) * SCALE + bias

    compiled = adjit.compile(f)
    x = adjit.ones(2, 3)
    _close(compiled(x).detach().numpy(), f(x).detach().numpy())
    old = (SCALE, TABLE)
    try:
        SCALE, TABLE = 3.0, adjit.full((3,), 2.0)
        _close(compiled(x).detach().numpy(), f(x).detach().numpy())
        bias = adjit.ones(1)  # noqa: F841  (the closure cell now holds a new tensor)
        _close(compiled(x).detach().numpy(), f(x).detach().numpy())
        lin.weight = nn.Parameter(adjit.full((1, 3), 0.5))
        _close(compiled(x).detach().numpy(), f(x).detach().numpy())
    finally:
        SCALE, TABLE = old


@pytest.mark.parametrize("backend", BACKENDS)
def test_second_order_autograd_grad_inside_the_trace(backend):
    """autograd.grad(create_graph=True), then autograd.grad of that gradient, both inside a
    compiled function: the first gradient requires grad (it depends on the leaf through its
    own equation), as PyTorch's."""

    def second(lib, x):
        (g,) = lib.autograd.grad((x * x).exp().sum(), x, create_graph=True)
        assert g.requires_grad
        return lib.autograd.grad(g.sum(), x)[0]

    x = [1.0, -2.0, 0.5]
    got = adjit.compile(lambda t: second(adjit, t), backend=backend)(
        adjit.tensor(x, requires_grad=True)
    )
    want = second(torch, torch.tensor(x, requires_grad=True))
    _close(got.detach().numpy(), want.detach().numpy())
