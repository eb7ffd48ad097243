"""adjit.grad / value_and_grad and the compiled backward of adjit.compile, vs eager and FD."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir.ops import Op

import adjit


def tutorial(x, y, z):
    return x**2 + y**2 + z**2


def _fd(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar float64 function (error ~eps**2 + 1e-16/eps)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


def test_grad_tutorial():
    x, y, z = (adjit.tensor(v) for v in (2.0, 3.0, 4.0))
    gx, gy, gz = adjit.grad(tutorial, argnums=(0, 1, 2))(x, y, z)
    assert (gx.item(), gy.item(), gz.item()) == (4.0, 6.0, 8.0)
    assert adjit.grad(tutorial)(x, y, z).item() == 4.0


def test_value_and_grad():
    x, y, z = (adjit.tensor(v) for v in (2.0, 3.0, 4.0))
    value, (gy, gz) = adjit.value_and_grad(tutorial, argnums=(1, 2))(x, y, z)
    assert value.item() == 29.0 and (gy.item(), gz.item()) == (6.0, 8.0)


def test_has_aux():
    def f(x):
        return (x * x).sum(), x.mean()

    (value, aux), g = adjit.value_and_grad(f, has_aux=True)(adjit.tensor([1.0, 3.0]))
    assert value.item() == 10.0 and aux.item() == 2.0 and g.tolist() == [2.0, 6.0]


PROGRAMS = {
    "mlp": lambda x, w: (x @ w).tanh().log_softmax(-1).mean(),
    "softmax_xent": lambda x, w: -((x @ w).log_softmax(-1) * adjit.eye(4, 3)).sum(),
    "layer_norm": lambda x, w: (
        ((x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True) + 1e-5).sqrt()) @ w
    ).sum(),
    "elementwise": lambda x, w: (
        (x.sin() * x.exp() + x**2 - (x * 0.5).tanh()).sum() + (w.sigmoid() ** 3).sum()
    ),
}


@pytest.mark.parametrize("name", PROGRAMS)
def test_grad_matches_eager_and_finite_differences(name):
    f = PROGRAMS[name]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))
    w = rng.standard_normal((5, 3))
    gx, gw = adjit.grad(f, argnums=(0, 1))(adjit.tensor(x), adjit.tensor(w))
    xe, we = adjit.tensor(x, requires_grad=True), adjit.tensor(w, requires_grad=True)
    f(xe, we).backward()
    # float32 program vs float32 eager: same math, different association -> ~1e-6 relative
    np.testing.assert_allclose(gx.numpy(), xe.grad.numpy(), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(gw.numpy(), we.grad.numpy(), rtol=2e-5, atol=1e-6)
    # float64: compiled gradient vs central differences (eps 1e-6: error ~1e-9)
    g64 = adjit.grad(f, argnums=(0, 1))(
        adjit.tensor(x, dtype=adjit.float64), adjit.tensor(w, dtype=adjit.float64)
    )
    fd_x = _fd(lambda v: f(adjit.tensor(v), adjit.tensor(w, dtype=adjit.float64)).item(), x)
    fd_w = _fd(lambda v: f(adjit.tensor(x, dtype=adjit.float64), adjit.tensor(v)).item(), w)
    np.testing.assert_allclose(g64[0].numpy(), fd_x, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(g64[1].numpy(), fd_w, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", PROGRAMS)
def test_compiled_second_derivative(name):
    f = PROGRAMS[name]
    rng = np.random.default_rng(4)
    x = adjit.tensor(rng.standard_normal((4, 5)), dtype=adjit.float64)
    w = adjit.tensor(rng.standard_normal((5, 3)), dtype=adjit.float64)
    v = adjit.tensor(rng.standard_normal((4, 5)), dtype=adjit.float64)
    # Hessian-vector product through grad(grad(...)) vs finite differences of the gradient
    hvp = adjit.grad(lambda a, b: (adjit.grad(f)(a, b) * v).sum())(x, w)
    eps = 1e-6
    gp = adjit.grad(f)(x + eps * v, w).numpy()
    gm = adjit.grad(f)(x - eps * v, w).numpy()
    np.testing.assert_allclose(hvp.numpy(), (gp - gm) / (2 * eps), rtol=1e-5, atol=1e-6)


def test_create_graph_through_compiled_backward():
    cf = adjit.compile(lambda x: (x.exp() * x).sum())
    x = adjit.tensor([0.5, 1.0], requires_grad=True, dtype=adjit.float64)
    (g,) = adjit.autograd.grad(cf(x), x, create_graph=True)
    (h,) = adjit.autograd.grad(g.sum(), x)
    xs = x.detach().numpy()
    np.testing.assert_allclose(g.detach().numpy(), np.exp(xs) * (1 + xs), rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), np.exp(xs) * (2 + xs), rtol=1e-12)


def test_compiled_backward_retain_graph():
    cf = adjit.compile(lambda x: (x.exp() * x).sum())
    x = adjit.tensor([0.5, 1.0], requires_grad=True)
    out = cf(x)
    assert type(out.grad_fn).__name__ == "CompiledFunctionBackward"
    out.backward(retain_graph=True)
    out.backward()
    with pytest.raises(RuntimeError, match="second time"):
        out.backward()


def test_multi_output_backward():
    @adjit.compile
    def f(x):
        return x.sin(), (x * x).sum()

    x = adjit.tensor([0.3, 0.7], requires_grad=True)
    a, b = f(x)
    assert a.grad_fn is b.grad_fn
    b.backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.6, 1.4], rtol=1e-6)
    x.grad = None
    a, b = f(x)
    (a.sum() + b).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.3, 0.7]) + [0.6, 1.4], rtol=1e-6)


def test_frozen_input_and_no_grad_region_get_no_adjoint():
    w = adjit.randn(3, 2, requires_grad=True)
    frozen = adjit.randn(2, 2)

    def loss(inp):
        with adjit.no_grad():
            s = inp * 2
        return (((inp @ w).sigmoid() @ frozen) + s.sum()).mean()

    ex = adjit.explain(loss, adjit.randn(4, 3))
    reasons = dict(ex.pruned)
    assert reasons["d:f32[4,3] = mul a 2"] == "no_grad"
    # one matmul for w's gradient and one to carry the cotangent through `frozen`; none makes
    # a gradient for `frozen` (it would be f32[2,2])
    matmuls = [e for e in ex.backward.eqns if e.op.name == "MATMUL"]
    assert len(matmuls) == 2 and all(e.out.aval.shape != (2, 2) for e in matmuls)
    assert all(not e.no_grad for e in ex.backward.eqns)


def test_errors():
    with pytest.raises(TypeError, match="scalar"):
        adjit.grad(lambda x: x * 2)(adjit.ones(3))
    with pytest.raises(TypeError, match="floating-point"):
        adjit.grad(lambda x: x.sum())(adjit.ones(3, dtype=adjit.int64))


def test_grad_program_has_its_seed_folded_in():
    f = lambda x, y: (x.sin() * y + x * y).sum()  # noqa: E731
    g = adjit.value_and_grad(f, argnums=(0, 1))
    x, y = (adjit.tensor(np.linspace(-1, 1, 50, dtype=np.float32) * k) for k in (1, 2))
    value, (gx, gy) = g(x, y)
    fast = next(iter(g._fast.values()))
    program = fast.run.graph
    assert len(program.inputs) == 2  # no cotangent input: the seed of ones is a constant
    joint = fast.entry.training((0, 1)).optimized_joint  # the same program with a seed input
    muls = [sum(e.op is Op.MUL for e in p.eqns) for p in (program, joint)]
    assert muls[0] <= muls[1] - 2  # dx and dy each lost their "* seed"
    xe, ye = (adjit.tensor(t.numpy(), requires_grad=True) for t in (x, y))
    f(xe, ye).backward()
    np.testing.assert_allclose(gx.numpy(), xe.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(gy.numpy(), ye.grad.numpy(), rtol=1e-6)
    assert value.item() == pytest.approx(f(x, y).item(), rel=1e-6)


def test_grad_ignores_an_outer_no_grad_like_torch_func() -> None:
    def f(x):
        with adjit.no_grad():
            scale = x * 2  # an inner no_grad is respected: a constant for the derivative
        return (scale * x).sum()

    plain = adjit.tensor([1.5, 2.0])
    leaf = adjit.tensor([1.5, 2.0], requires_grad=True)
    with adjit.no_grad():
        g = adjit.grad(f)(plain)
        g_leaf = adjit.grad(f)(leaf)
        value, g2 = adjit.value_and_grad(f)(plain)
    np.testing.assert_array_equal(g.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(g2.numpy(), [3.0, 4.0])
    assert value.item() == pytest.approx(2 * (1.5**2 + 4.0))
    assert not g_leaf.requires_grad  # nothing is recorded under the outer no_grad
    np.testing.assert_array_equal(g_leaf.numpy(), [3.0, 4.0])
