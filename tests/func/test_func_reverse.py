"""adjit.func's reverse-mode transforms and module helpers side by side with torch.func."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit
from adjit import func as F


def T(x):
    """adjit -> torch (pytrees of tensors)."""
    if isinstance(x, dict):
        return {k: T(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return type(x)(T(v) for v in x)
    return torch.tensor(x.detach().numpy()) if isinstance(x, adjit.Tensor) else x


def same(a, b, rtol=1e-5, atol=1e-6):
    """adjit pytree ``a`` equals torch pytree ``b`` (structure and values)."""
    if isinstance(b, dict):
        assert isinstance(a, dict) and list(a) == list(b)
        for k in b:
            same(a[k], b[k], rtol, atol)
        return
    if isinstance(b, tuple | list):
        assert type(a) is type(b) and len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            same(u, v, rtol, atol)
        return
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


def mlp_params(lib, seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"w1": (16, 8), "b1": (16,), "w2": (3, 16), "b2": (3,)}
    return {
        k: lib.tensor(rng.standard_normal(s).astype(np.float32) * 0.3) for k, s in shapes.items()
    }


def mlp_loss(lib):
    def loss(p, x, y):
        h = lib.tanh(x @ p["w1"].T + p["b1"])
        logits = h @ p["w2"].T + p["b2"]
        return lib.nn.functional.cross_entropy(logits, y)

    return loss


def data(lib, n=5):
    rng = np.random.default_rng(1)
    x = lib.tensor(rng.standard_normal((n, 8)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 3, n))
    return x, y


def test_grad_over_a_dict_of_parameters_matches_torch_func():
    got = F.grad(mlp_loss(adjit))(mlp_params(adjit), *data(adjit))
    want = torch.func.grad(mlp_loss(torch))(mlp_params(torch), *data(torch))
    same(got, want)


def test_grad_and_value_argnums_tuple_and_has_aux():
    def f(lib):
        def fn(a, b, c):
            out = (a.sin() * b["u"] + c).pow(2).sum()
            return out, {"twice": out * 2}

        return fn

    rng = np.random.default_rng(2)
    vals = [rng.standard_normal(4).astype(np.float32) for _ in range(3)]

    def args(lib):
        return lib.tensor(vals[0]), {"u": lib.tensor(vals[1])}, lib.tensor(vals[2])

    got = F.grad_and_value(f(adjit), argnums=(0, -2), has_aux=True)(*args(adjit))
    want = torch.func.grad_and_value(f(torch), argnums=(0, -2), has_aux=True)(*args(torch))
    same(got, want)
    got = F.grad(f(adjit), argnums=1, has_aux=True)(*args(adjit))
    want = torch.func.grad(f(torch), argnums=1, has_aux=True)(*args(torch))
    same(got, want)


def test_nested_grad_gives_higher_derivatives():
    x = np.array([0.3, -1.2, 2.0], np.float64)

    def f(lib):
        return lambda t: (t.sin() * t.pow(3)).sum()

    def third(lib, g):
        d1 = g(f(lib))
        d2 = g(lambda t: d1(t).sum())
        return g(lambda t: d2(t).sum())

    got = third(adjit, F.grad)(adjit.tensor(x))
    want = third(torch, torch.func.grad)(torch.tensor(x))
    same(got, want, rtol=1e-12, atol=1e-12)


def test_grad_matches_float64_finite_differences():
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal(6)

    def f(t):
        return (t.exp() * t.cos() / (1 + t * t)).sum()

    g = F.grad(f)(adjit.tensor(x0)).numpy()
    eps = 1e-6
    for i in range(6):
        e = np.zeros(6)
        e[i] = eps
        fd = (f(adjit.tensor(x0 + e)).item() - f(adjit.tensor(x0 - e)).item()) / (2 * eps)
        assert abs(g[i] - fd) < 1e-7 * max(1.0, abs(fd))


def test_results_carry_history_only_to_what_is_outside():
    x = adjit.randn(3)
    xr = adjit.randn(3, requires_grad=True)
    assert F.grad(lambda a: (a.sin() * a).sum())(x).grad_fn is None
    assert F.grad(lambda a: (a.sin() * xr).sum())(x).grad_fn is not None  # xr is outside
    assert F.grad(lambda a: a.sin().sum())(xr).grad_fn is not None  # xr itself requires grad
    with adjit.no_grad():  # a transform ignores an outer no_grad inside, records nothing outside
        g, v = F.grad_and_value(lambda a: (a * a).sum())(xr)
    assert g.grad_fn is None and v.grad_fn is None
    np.testing.assert_allclose(g.numpy(), 2 * xr.detach().numpy(), rtol=1e-6)


def test_gradient_of_a_gradient_flows_to_an_outside_leaf():
    # a gradient penalty: d/dw of |d/dx f(x, w)|^2, through torch.func.grad and backward
    rng = np.random.default_rng(4)
    xv, wv = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)

    def run(lib, grad):
        x, w = lib.tensor(xv), lib.tensor(wv, requires_grad=True)
        gx = grad(lambda t: (t.tanh() * w).sum())(x)
        (gx * gx).sum().backward()
        return w.grad

    same(run(adjit, F.grad), run(torch, torch.func.grad))


def test_grad_error_texts_match_torch():
    x = adjit.randn(3)
    tx = torch.randn(3)
    cases = [
        (lambda g: g(lambda t: t * 2), "to return a scalar Tensor"),
        (lambda g: g(lambda t: 3.0), "to return a Tensor, got"),
        (lambda g: g(lambda t: t.sum(), argnums=1), "but only 1 positional inputs"),
        (lambda g: g(lambda t: t.sum(), argnums=()), "argnums must be non-empty"),
        (lambda g: g(lambda t: t.sum(), argnums=(0, 0)), "argnums elements must be unique"),
        (lambda g: g(lambda t: t.sum(), argnums=[0]), "argnums must be int or Tuple"),
        (lambda g: g(lambda t: t.sum(), has_aux=True), "should be a tuple: (output, aux)"),
    ]
    for make, text in cases:
        with pytest.raises(RuntimeError) as ours:
            make(F.grad)(x)
        with pytest.raises(RuntimeError) as theirs:
            make(torch.func.grad)(tx)
        assert str(ours.value) == str(theirs.value) and text in str(ours.value)
    with pytest.raises(ValueError, match="Thing passed to transform API must be Tensor"):
        F.grad(lambda t, s: t.sum())(3.0, x)


def test_vjp_with_pytree_outputs_matches_torch():
    rng = np.random.default_rng(5)
    av, bv = (
        rng.standard_normal((3, 4)).astype(np.float32),
        rng.standard_normal(4).astype(np.float32),
    )

    def f(a, b):
        return {"p": a @ b, "q": (a.sin(), b * b)}

    def run(lib, vjp):
        out, fn = vjp(f, lib.tensor(av), lib.tensor(bv))
        ct = {"p": lib.ones(3), "q": (lib.full((3, 4), 0.5), lib.arange(4.0))}
        return out, fn(ct)

    same(run(adjit, F.vjp), run(torch, torch.func.vjp))
    _, fn = F.vjp(f, adjit.tensor(av), adjit.tensor(bv))
    _, tfn = torch.func.vjp(f, torch.tensor(av), torch.tensor(bv))
    with pytest.raises(RuntimeError) as ours:
        fn(adjit.ones(3))
    with pytest.raises(RuntimeError) as theirs:
        tfn(torch.ones(3))
    assert str(ours.value).split(".")[0] == str(theirs.value).split(".")[0]


def test_vjp_has_aux_and_integer_output_error():
    x = adjit.randn(3)
    out, fn, aux = F.vjp(lambda t: (t.exp(), {"n": t.sum()}), x, has_aux=True)
    np.testing.assert_allclose(fn(adjit.ones(3))[0].numpy(), x.exp().numpy(), rtol=1e-6)
    assert aux["n"].grad_fn is None
    with pytest.raises(RuntimeError, match="All outputs of f must be floating-point"):
        F.vjp(lambda t: t.argmax(), x)


def test_grad_compiled_matches_eager():
    loss = mlp_loss(adjit)
    step = adjit.compile(lambda p, x, y: F.grad(loss)(p, x, y))
    p, (x, y) = mlp_params(adjit), data(adjit)
    same(step(p, x, y), T(F.grad(loss)(p, x, y)))
    same(step(p, x, y), torch.func.grad(mlp_loss(torch))(mlp_params(torch), *data(torch)))


def test_adjit_grad_takes_a_dict_of_parameters():
    loss = mlp_loss(adjit)
    got = adjit.grad(loss)(mlp_params(adjit), *data(adjit))
    same(got, torch.func.grad(mlp_loss(torch))(mlp_params(torch), *data(torch)))
    got2 = adjit.grad(loss, argnums=(0, 1))(mlp_params(adjit), *data(adjit))
    want2 = torch.func.grad(mlp_loss(torch), argnums=(0, 1))(mlp_params(torch), *data(torch))
    same(got2, want2)


def _linear_pair(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.ReLU(), lib.nn.Linear(5, 2))


def test_functional_call_with_swapped_parameters():
    m, tm = _linear_pair(adjit), _linear_pair(torch)
    rng = np.random.default_rng(6)
    new = {
        k: rng.standard_normal(tuple(v.shape)).astype(np.float32) for k, v in tm.named_parameters()
    }
    x = rng.standard_normal((3, 4)).astype(np.float32)
    got = F.functional_call(m, {k: adjit.tensor(v) for k, v in new.items()}, adjit.tensor(x))
    want = torch.func.functional_call(
        tm, {k: torch.tensor(v) for k, v in new.items()}, torch.tensor(x)
    )
    same(got, want)
    same(m[0].weight, tm[0].weight)  # the module keeps its own parameters
    halves = (
        {k: adjit.tensor(v) for k, v in new.items() if k.startswith("0")},
        {k: adjit.tensor(v) for k, v in new.items() if not k.startswith("0")},
    )
    same(F.functional_call(m, halves, (adjit.tensor(x),)), want)
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        F.functional_call(m, (halves[0], halves[0]), adjit.tensor(x))
    with pytest.raises(ValueError, match="to be a dict, or a list/tuple of dicts"):
        F.functional_call(m, 3, adjit.tensor(x))


def test_grad_of_functional_call_per_parameter():
    m, tm = _linear_pair(adjit), _linear_pair(torch)
    x, tx = adjit.randn(3, 4), None
    tx = torch.tensor(x.numpy())

    def loss(lib, mod):
        return lambda p, x: lib.func.functional_call(mod, p, (x,)).pow(2).sum()

    got = F.grad(loss(adjit, m))({k: v.detach() for k, v in m.named_parameters()}, x)
    want = torch.func.grad(loss(torch, tm))({k: v.detach() for k, v in tm.named_parameters()}, tx)
    same(got, want)


def test_stack_module_state():
    models = [_linear_pair(adjit) for _ in range(3)]
    params, buffers = F.stack_module_state(models)
    assert list(params) == ["0.weight", "0.bias", "2.weight", "2.bias"] and buffers == {}
    assert tuple(params["0.weight"].shape) == (3, 5, 4)
    assert params["0.weight"].is_leaf and params["0.weight"].requires_grad
    np.testing.assert_array_equal(
        params["2.bias"][1].detach().numpy(), models[1][2].bias.detach().numpy()
    )
    with pytest.raises(RuntimeError, match="Expected at least one model, got 0"):
        F.stack_module_state([])
    with pytest.raises(RuntimeError, match="Expected all models to be of the same class"):
        F.stack_module_state([models[0], adjit.nn.Linear(2, 2)])
    models[1].eval()
    with pytest.raises(RuntimeError, match="same training/eval mode"):
        F.stack_module_state(models)


def test_batch_norm_under_vmap_after_replace_all_batch_norm_modules_():
    def run(lib):
        lib.manual_seed(0)
        m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4))
        lib.func.replace_all_batch_norm_modules_(m)
        x = lib.tensor(np.linspace(-1, 1, 30, dtype=np.float32).reshape(2, 5, 3))
        return m[1].running_mean, m[1].track_running_stats, lib.func.vmap(m)(x)

    (mean, track, out), (tmean, ttrack, tout) = run(adjit), run(torch)
    assert mean is None and tmean is None and track is ttrack is False
    same(out, tout, rtol=1e-5, atol=1e-6)


def test_functionalize_and_debug_unwrap():
    def f(x):
        y = x.clone()
        y.add_(1)
        x.mul_(2)
        return y

    x, tx = adjit.ones(3), torch.ones(3)
    same(F.functionalize(f)(x), torch.func.functionalize(f)(tx))
    same(x, tx)  # the input's mutation still happens, as torch's
    with pytest.raises(RuntimeError) as ours:
        F.functionalize(f, remove="views")
    with pytest.raises(RuntimeError) as theirs:
        torch.func.functionalize(f, remove="views")
    assert str(ours.value) == str(theirs.value)
    assert F.debug_unwrap(x) is x
