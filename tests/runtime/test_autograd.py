"""The eager autograd engine: PyTorch's semantics, each program run in adjit and in PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import adjit
from tests.conftest import assert_same

# Each program takes the library module (adjit or torch) and returns what it observed: the same
# code runs on both, so every value, flag and node name is checked against PyTorch.


def prog_accumulation(T):
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad.clone()
    (x * 3).sum().backward()
    second = x.grad.clone()
    x.grad.zero_()
    (x**3).sum().backward()
    return first, second, x.grad


def prog_retain_graph(T):
    inp = T.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(T.ones_like(out), retain_graph=True)
    a = inp.grad.clone()
    out.backward(T.ones_like(out), retain_graph=True)
    return a, inp.grad


def prog_create_graph(T):
    x = T.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = (x.sin() * x.exp()).sum()
    (g,) = T.autograd.grad(y, x, create_graph=True)
    (h,) = T.autograd.grad(g.sum(), x)
    return g, h, g.requires_grad


def prog_third_order(T):
    x = T.tensor(0.7, requires_grad=True)
    y = x.tanh()
    (d1,) = T.autograd.grad(y, x, create_graph=True)
    (d2,) = T.autograd.grad(d1, x, create_graph=True)
    (d3,) = T.autograd.grad(d2, x)
    return d1, d2, d3


def prog_grad_of_composites(T):
    x = T.tensor([[0.2, -1.0, 3.0], [1.0, 0.5, -0.5]], requires_grad=True, dtype=T.float64)
    y = (x.softmax(1) * x.log_softmax(1)).sum() + x.var() + x.mean(0).sum()
    (g,) = T.autograd.grad(y, x, create_graph=True)
    (h,) = T.autograd.grad((g * g).sum(), x)
    return g, h


def prog_allow_unused(T):
    x = T.tensor([1.0], requires_grad=True)
    z = T.tensor([2.0], requires_grad=True)
    return T.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)


def prog_retain_grad(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    return y.grad, x.grad, y.is_leaf, y.retains_grad


def prog_hooks(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()))
    y = x * 2
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    return x.grad, seen[0]


def prog_grad_modes(T):
    x = T.ones(2, requires_grad=True)
    with T.no_grad():
        a = x * 2
        with T.enable_grad():
            b = x * 2
    T.set_grad_enabled(False)
    c = x * 2
    T.set_grad_enabled(True)
    with T.set_grad_enabled(False):
        d = x * 2

    @T.no_grad()
    def f(v):
        return v * 2

    e = f(x)
    return [t.requires_grad for t in (a, b, c, d, e)], T.is_grad_enabled()


def prog_detach(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    z = y * 1
    z.detach_()
    w = T.zeros(2).requires_grad_()
    return d.requires_grad, d.is_leaf, z.requires_grad, z.grad_fn is None, w.requires_grad


def prog_requires_grad_propagation(T):
    x = T.rand(5, 5)
    y = T.rand(5, 5)
    z = T.rand((5, 5), requires_grad=True)
    return (x + y).requires_grad, (x + z).requires_grad, (x + y).is_leaf, (x + z).is_leaf


def prog_node_names(T):
    x = T.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    outs = [
        x + 1,
        1 + x,
        x - 1,
        1 - x,
        x * 2,
        x / 2,
        2 / x,
        x**2,
        2**x,
        -x,
        x.exp(),
        x.sum(),
        x.sum(0),
        x.mean(),
        x.t(),
        x.T,
        x[0],
        x[:, 1],
        x.reshape(4),
        x.unsqueeze(0),
        x @ x,
        x.relu(),
        x.sigmoid(),
        x.tanh(),
        x.softmax(1),
        x.max(),
        x.max(1)[0],
    ]
    return [type(o.grad_fn).__name__ for o in outs], [
        [type(n).__name__ if n is not None else None for n, _ in o.grad_fn.next_functions]
        for o in outs[:10]
    ]


def prog_sgd_loop(T):
    T.manual_seed(0)
    x = T.linspace(-math.pi, math.pi, 200)
    y = T.sin(x)
    a, b, c, d = (T.tensor(v, requires_grad=True) for v in (0.1, -0.2, 0.3, 0.05))
    for _ in range(50):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with T.no_grad():
            for p in (a, b, c, d):
                p -= 1e-5 * p.grad
                p.grad = None
    return loss, a, b, c, d


def prog_inplace_nonleaf(T):
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.add_(1)
    y.mul_(x)
    y[0] = 5.0
    y.sum().backward()
    return y, x.grad, type(y.grad_fn).__name__, y._version


def prog_backward_inputs(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    w = T.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward(inputs=[w])
    return x.grad, w.grad


def prog_functional_api(T):
    F = T.autograd.functional

    def exp_adder(x, y):
        return 2 * x.exp() + 3 * y

    inputs = (T.tensor([0.1, 0.2]), T.tensor([0.3, 0.4]))
    cube = lambda x: (x**3).sum()  # noqa: E731
    v = T.tensor([1.0, 1.0])
    return (
        F.jacobian(exp_adder, inputs),
        F.hessian(cube, T.tensor([1.0, 2.0])),
        F.vjp(exp_adder, inputs, v),
        F.jvp(exp_adder, inputs, (v, T.tensor([1.0, 0.0]))),
        F.hvp(cube, T.tensor([1.0, 2.0]), v),
        F.jacobian(T.sin, T.tensor([0.5, 1.0])),
    )


PROGRAMS = [
    prog_functional_api,
    prog_accumulation,
    prog_retain_graph,
    prog_create_graph,
    prog_third_order,
    prog_grad_of_composites,
    prog_allow_unused,
    prog_retain_grad,
    prog_hooks,
    prog_grad_modes,
    prog_detach,
    prog_requires_grad_propagation,
    prog_node_names,
    prog_sgd_loop,
    prog_inplace_nonleaf,
    prog_backward_inputs,
]


@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.__name__)
def test_matches_torch(prog, torch_mod):
    # float32 programs: 1e-5 relative covers differing summation orders in libm/BLAS
    assert_same(prog(adjit), prog(torch_mod), rtol=1e-5, atol=1e-6)


# ---- errors: the same exception type and PyTorch's message --------------------------------


def err_second_backward(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    y.backward()


def err_nonscalar_backward(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).backward()


def err_no_grad_fn(T):
    T.tensor([1.0, 2.0]).sum().backward()


def err_int_requires_grad(T):
    T.tensor([1, 2], requires_grad=True)


def err_leaf_inplace(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    x.add_(1)


def err_version_counter(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1)
    y.sum().backward()


def err_version_counter_input(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * y
    y.mul_(3)
    z.sum().backward()


def err_shape_mismatch_gradient(T):
    x = T.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).backward(T.ones(3))


def err_unused(T):
    x = T.tensor([1.0], requires_grad=True)
    z = T.tensor([2.0], requires_grad=True)
    T.autograd.grad((x * 2).sum(), [x, z])


def err_nonleaf_requires_grad(T):
    x = T.tensor([1.0], requires_grad=True)
    (x * 2).requires_grad = False


def err_numpy_requires_grad(T):
    T.tensor([1.0], requires_grad=True).numpy()


ERRORS = [
    (err_second_backward, RuntimeError, "backward through the graph a second time"),
    (err_nonscalar_backward, RuntimeError, "grad can be implicitly created only for scalar"),
    (err_no_grad_fn, RuntimeError, "does not require grad and does not have a grad_fn"),
    (err_int_requires_grad, RuntimeError, "floating point and complex dtype can require"),
    (
        err_leaf_inplace,
        RuntimeError,
        "leaf Variable that requires grad is being used in an in-place operation",
    ),
    (err_version_counter, RuntimeError, "modified by an inplace operation"),
    (err_version_counter_input, RuntimeError, "modified by an inplace operation"),
    (err_shape_mismatch_gradient, RuntimeError, "Mismatch in shape"),
    (err_unused, RuntimeError, "appears to not have been used in the graph"),
    (err_nonleaf_requires_grad, RuntimeError, "only change requires_grad flags of leaf"),
    (err_numpy_requires_grad, RuntimeError, r"Use tensor\.detach\(\)\.numpy\(\)"),
]


@pytest.mark.parametrize("prog,exc,msg", ERRORS, ids=[e[0].__name__ for e in ERRORS])
def test_errors_like_torch(prog, exc, msg, torch_mod):
    with pytest.raises(exc, match=msg):
        prog(adjit)
    with pytest.raises(exc, match=msg):
        prog(torch_mod)


def test_add_backward_twice_without_saved_values_is_allowed():
    # PyTorch only refuses a second backward through nodes that saved values
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


SAVE_NOTHING = {  # composites whose PyTorch node saves no tensor: a second backward runs
    "mean": lambda T, x: x.mean(),
    "pad": lambda T, x: T.nn.functional.pad(x, (1, 2)),
    "repeat": lambda T, x: x.repeat(2, 1),
}


@pytest.mark.parametrize("name", sorted(SAVE_NOTHING))
def test_composite_backward_twice_when_nothing_is_saved(name, torch_mod):
    grads = []
    for lib in (torch_mod, adjit):
        x = lib.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
        y = SAVE_NOTHING[name](lib, x).sum()
        y.backward()
        y.backward()  # (Note [composites that save nothing])
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])


def test_composite_backward_twice_refuses_when_saved():
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    y = adjit.nn.functional.mse_loss(x, adjit.zeros(2))
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_custom_function():
    class Cube(adjit.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x**2

    x = adjit.tensor([1.0, -2.0], requires_grad=True)
    y = Cube.apply(x)
    assert type(y.grad_fn).__name__ == "CubeBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])


def test_grad_does_not_touch_dot_grad():
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    (g,) = adjit.autograd.grad((x * x).sum(), x)
    assert x.grad is None
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])


def test_accumulate_grad_node_is_stable():
    x = adjit.tensor([1.0], requires_grad=True)
    a, b = x * 2, x * 3
    assert a.grad_fn.next_functions[0][0] is b.grad_fn.next_functions[0][0]
    assert a.grad_fn.next_functions[0][0].variable is x


def test_view_made_under_no_grad_matches_pytorch():
    torch = pytest.importorskip("torch")
    for T in (adjit, torch):
        x = T.ones(3, requires_grad=True)
        with T.no_grad():
            v, r, d = x[0:2], x.view(3), x * 2
        assert (v.requires_grad, v.is_leaf, v.grad_fn) == (True, True, None), T
        assert r.requires_grad and not d.requires_grad and not x.detach().requires_grad
        y = (v * 3).sum()
        y.backward()  # no gradient reaches a no_grad view, nor its base
        assert v.grad is None and x.grad is None
        with pytest.raises(RuntimeError, match="does not require grad and does not have"):
            v.backward(T.ones(2))
        with pytest.raises(RuntimeError, match="A view was created in no_grad mode"):
            v.add_(1)
        with T.no_grad():
            v.add_(1)  # in-place under no_grad: allowed, and seen by the base
        assert x.detach().numpy().tolist() == [2.0, 2.0, 1.0]
