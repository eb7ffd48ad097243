"""vmap compiled (adjit.compile of a vmap, vmap inside a compiled function: one batched program,
no loop over the examples), composed (vmap of vmap, gradients, adjit.grad), over loops and
branches, and over custom rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.ir.graph import op_count

import adjit

RNG = np.random.default_rng(5)


def _t(*shape: int, grad: bool = False) -> Any:
    return adjit.tensor(RNG.standard_normal(shape).astype(np.float32), requires_grad=grad)


def _mlp(x: Any, w1: Any, b1: Any, w2: Any) -> Any:
    return (adjit.tanh(x @ w1 + b1) @ w2).log_softmax(-1)


def _loop(f: Any, *args: Any, in_dims: tuple) -> Any:
    n = next(a.shape[d] for a, d in zip(args, in_dims, strict=True) if d is not None)
    outs = [
        f(*[a if d is None else a.select(d, k) for a, d in zip(args, in_dims, strict=True)])
        for k in range(n)
    ]
    return adjit.stack(outs)


def _graph(fn: Any, *args: Any) -> Any:
    entry = fn.entry_for(*_leaves(args))
    return entry.graph


def _leaves(args: tuple) -> tuple[list[Any], Any]:
    from adjit.frontend.pytree import flatten

    return flatten((args, {}))


@pytest.mark.parametrize("batch", [2, 9])
def test_compiled_vmap_is_one_batched_program(batch: int) -> None:
    """adjit.compile(vmap(f)): the graph does not grow with the batch (no per-example loop):
    one matmul per layer whatever the batch, and values equal the eager vmap's."""
    dims = (0, None, None, None)
    f = adjit.compile(adjit.vmap(_mlp, in_dims=dims))
    args = (_t(batch, 4), _t(4, 5), _t(5), _t(5, 3))
    got = f(*args)
    want = _loop(_mlp, *args, in_dims=dims)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    counts = op_count(_graph(f, *args))
    assert counts.get("matmul") == 2, counts
    assert "index" not in counts and "cat" not in counts, counts
    assert sum(counts.values()) < 30, counts


def test_vmap_inside_compiled_function_with_grad() -> None:
    """Per-example losses summed inside a compiled training step; gradients vs eager loop."""
    w1, b1, w2 = _t(4, 5, grad=True), _t(5, grad=True), _t(5, 3, grad=True)
    x, y = _t(6, 4), adjit.tensor(RNG.integers(0, 3, 6))

    def per_example(x: Any, y: Any, w1: Any, b1: Any, w2: Any) -> Any:
        return -_mlp(x, w1, b1, w2)[y]

    @adjit.compile
    def step(x: Any, y: Any) -> Any:
        return adjit.vmap(per_example, in_dims=(0, 0, None, None, None))(x, y, w1, b1, w2).sum()

    loss = step(x, y)
    loss.backward()
    got = [p.grad.numpy().copy() for p in (w1, b1, w2)]
    for p in (w1, b1, w2):
        p.grad = None
    want_loss = sum(per_example(x[k], y[k], w1, b1, w2) for k in range(6))
    want_loss.backward()
    np.testing.assert_allclose(loss.item(), want_loss.item(), rtol=1e-5)
    for g, p in zip(got, (w1, b1, w2), strict=True):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_per_sample_gradients_vmap_of_grad() -> None:
    """torch.func's per-sample gradients: vmap(grad(loss), in_dims=(None, 0, 0)), eager and
    compiled, against a loop of adjit.grad."""
    w = _t(4, 3)
    x, y = _t(5, 4), _t(5, 3)

    def loss(w: Any, x: Any, y: Any) -> Any:
        return ((x @ w).tanh() - y).pow(2).sum()

    per_sample = adjit.vmap(adjit.grad(loss), in_dims=(None, 0, 0))
    want = adjit.stack([adjit.grad(loss)(w, x[k], y[k]) for k in range(5)])
    np.testing.assert_allclose(per_sample(w, x, y).numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    compiled = adjit.compile(per_sample)
    np.testing.assert_allclose(compiled(w, x, y).numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_grad_of_vmap() -> None:
    x = _t(5, 4)
    w = _t(4, 3)
    f = adjit.grad(lambda w: adjit.vmap(lambda a: (a @ w).sin().sum())(x).sum())
    w2 = w.detach().requires_grad_()
    _loop(lambda a: (a @ w2).sin().sum(), x, in_dims=(0,)).sum().backward()
    np.testing.assert_allclose(f(w).numpy(), w2.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_vmap_of_vmap_compiled() -> None:
    def f(a: Any, b: Any) -> Any:
        return (a[:, None] * b).softmax(-1).sum(0)

    inner = adjit.vmap(f, in_dims=(None, 0))
    outer = adjit.vmap(inner, in_dims=(0, None))
    a, b = _t(3, 4), _t(5, 6)
    want = adjit.stack([adjit.stack([f(a[i], b[j]) for j in range(5)]) for i in range(3)])
    np.testing.assert_allclose(outer(a, b).numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        adjit.compile(outer)(a, b).numpy(), want.numpy(), rtol=1e-5, atol=1e-6
    )


def test_closure_and_module_parameters_are_lifted_unbatched() -> None:
    lin = adjit.nn.Linear(4, 2)
    x = _t(6, 4)
    got = adjit.vmap(lambda a: lin(a).relu())(x)
    want = lin(x).relu().detach().numpy()  # (float32 sums of another order: a few ulp)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-5, atol=1e-6)
    got.sum().backward()
    w_grad = lin.weight.grad.numpy().copy()
    lin.zero_grad()
    lin(x).relu().sum().backward()
    np.testing.assert_allclose(w_grad, lin.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


# ---- loops and branches ------------------------------------------------------------------------
def test_scan_batched_carry_and_xs() -> None:
    def f(h0: Any, xs: Any, w: Any) -> Any:
        def step(h: Any, x: Any) -> tuple[Any, Any]:
            h = (h @ w + x).tanh()
            return h, h.sum()

        return adjit.scan(step, h0, xs)

    h0, xs, w = _t(4, 3), _t(4, 5, 3), _t(3, 3)
    for dims in [(0, 0, None), (None, 0, None), (0, None, None), (None, None, 0)]:
        args = (h0 if dims[0] is not None else h0[0], xs if dims[1] is not None else xs[0],
                w if dims[2] is None else adjit.stack([w] * 4))  # fmt: skip
        got = adjit.vmap(f, in_dims=dims)(*args)
        n = 4
        per = [
            f(*[a if d is None else a[k] for a, d in zip(args, dims, strict=True)])
            for k in range(n)
        ]
        for j in range(2):
            want = adjit.stack([p[j] for p in per])
            np.testing.assert_allclose(got[j].numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


def test_cond_batched_operands_and_predicate() -> None:
    def f(p: Any, x: Any) -> Any:
        return adjit.cond(p, lambda x: x.sin() * 2, lambda x: x.cos() - 1, (x,))

    x = _t(4, 3)
    p = adjit.tensor([True, False, True, False])
    got = adjit.vmap(f)(p, x)
    want = adjit.stack([f(p[k], x[k]) for k in range(4)])
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    got = adjit.vmap(f, in_dims=(None, 0))(adjit.tensor(False), x)
    np.testing.assert_allclose(got.numpy(), (x.cos() - 1).numpy(), rtol=1e-6)


@pytest.mark.parametrize("compiled", [False, True])
def test_gradients_through_batched_scan_and_cond(compiled: bool) -> None:
    """The batched scan's adjoint (a reverse scan of the batched body) and the batched cond's
    (where over both branches), eager and compiled, vs the loop's gradients."""
    rng = np.random.default_rng(0)
    h0 = adjit.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    xs = adjit.tensor(rng.standard_normal((4, 5, 3)), requires_grad=True)
    w = adjit.tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True)
    p = adjit.tensor([True, False, True, False])

    def f(h0: Any, xs: Any, p: Any) -> Any:
        def step(h: Any, x: Any) -> tuple[Any, Any]:
            h = (h @ w + x).tanh()
            return h, h.sum()

        c, ys = adjit.scan(step, h0, xs)
        b = adjit.cond(p, lambda c: c.sin() * w.sum(), lambda c: c.cos(), (c,))
        return b.sum() + ys.pow(2).sum()

    def batched(h0: Any, xs: Any, p: Any) -> Any:
        return adjit.vmap(f)(h0, xs, p).sum()

    run = adjit.compile(batched) if compiled else batched
    run(h0, xs, p).backward()
    got = [t.grad.numpy().copy() for t in (h0, xs, w)]
    for t in (h0, xs, w):
        t.grad = None
    sum(f(h0[k], xs[k], p[k]) for k in range(4)).backward()
    for g, t in zip(got, (h0, xs, w), strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_while_loop_unbatched_condition() -> None:
    def f(x: Any) -> Any:
        _, y = adjit.while_loop(
            lambda i, y: i < 3, lambda i, y: (i + 1, y * 2 + 1), (adjit.tensor(0), x)
        )
        return y

    x = _t(4, 3)
    np.testing.assert_allclose(adjit.vmap(f)(x).numpy(), (x * 8 + 7).numpy(), rtol=1e-6)


def test_while_loop_batched_condition() -> None:
    """Examples stop at different steps: each keeps its carry once its condition fails."""

    def f(x: Any) -> Any:
        return adjit.while_loop(lambda y: y.sum() < 10, lambda y: (y * 2,), (x,))[0]

    x = _t(5, 3).abs() + 0.1
    want = adjit.stack([f(x[k]) for k in range(5)])
    np.testing.assert_allclose(adjit.vmap(f)(x).numpy(), want.numpy(), rtol=1e-6)
    compiled = adjit.compile(adjit.vmap(f))
    np.testing.assert_allclose(compiled(x).numpy(), want.numpy(), rtol=1e-6)

    def g(n: Any, w: Any) -> Any:  # the count batched, the carry not at first
        i, y = adjit.while_loop(lambda i, y: i < n, lambda i, y: (i + 1, y @ w), (n * 0, w))
        return y

    n, w = adjit.tensor([0, 1, 3]), _t(2, 2)
    want = adjit.stack([g(n[k], w) for k in range(3)])
    got = adjit.vmap(g, in_dims=(0, None))(n, w)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


# ---- custom rules -------------------------------------------------------------------------------
class _Cube(adjit.autograd.Function):
    @staticmethod
    def forward(x: Any) -> Any:
        return x**3

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return g * 3 * x**2


def test_autograd_function_without_vmap_rule_is_pytorchs_error() -> None:
    x = _t(3, 4, grad=True)
    with pytest.raises(RuntimeError, match="You tried to vmap over _Cube, but it does not have"):
        adjit.vmap(_Cube.apply)(x)


@pytest.mark.parametrize("compiled", [False, True])
def test_pytorch_formula_rules_batch(compiled: bool) -> None:
    """Ops carrying PyTorch's own derivative formula (CUSTOM_VJP equations of with_rule) batch
    through their rule, vmapped (in the adjoint pass too): gradients vs the loop."""
    x, y = _t(4, 3, grad=True), _t(3, grad=True)

    def f(a: Any, b: Any) -> Any:
        out = adjit.lerp(a, b, 0.3).atan2(b + 2).sum() + adjit.nn.functional.softplus(a).sum()
        return out + adjit.special.erfcx(a).sum()

    def total(x: Any, y: Any) -> Any:
        return adjit.vmap(f, in_dims=(0, None))(x, y).sum()

    (adjit.compile(total) if compiled else total)(x, y).backward()
    gx, gy = x.grad.numpy().copy(), y.grad.numpy().copy()
    x.grad = y.grad = None
    sum(f(x[k], y) for k in range(4)).backward()
    np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gy, y.grad.numpy(), rtol=1e-5, atol=1e-6)
