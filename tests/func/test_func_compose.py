"""adjit.func's transforms composed (jacobians, Hessians, per-sample gradients, ensembles),
eager and compiled, side by side with torch.func and against float64 finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit
from adjit import func as F
from tests.func.test_func_reverse import same

RNG = np.random.default_rng(11)


def vec_fn(lib):
    """R^4 x R^3 -> R^5: a vector function with some of everything."""
    W = lib.tensor(np.linspace(-1, 1, 20).reshape(5, 4))

    def f(x, y):
        return lib.tanh(W @ x) * y.sum() + (x[:1] * y[1:2]).exp().expand(5)

    return f


def fd_jacobian(f, args, argnum, eps=1e-6):
    """Central differences in float64 of ``f`` (adjit) w.r.t. ``args[argnum]``."""
    base = [a.numpy().astype(np.float64) for a in args]
    out = f(*[adjit.tensor(a) for a in base]).numpy()
    cols = []
    for k in range(base[argnum].size):
        plus, minus = [b.copy() for b in base], [b.copy() for b in base]
        plus[argnum].flat[k] += eps
        minus[argnum].flat[k] -= eps
        fp = f(*[adjit.tensor(a) for a in plus]).numpy()
        fm = f(*[adjit.tensor(a) for a in minus]).numpy()
        cols.append((fp - fm) / (2 * eps))
    return np.stack(cols, -1).reshape(out.shape + base[argnum].shape)


XY = (RNG.standard_normal(4), RNG.standard_normal(3))


@pytest.mark.parametrize("jac", ["jacrev", "jacfwd"])
def test_jacobians_match_torch_and_finite_differences(jac):
    x, y = (adjit.tensor(v) for v in XY)
    tx, ty = (torch.tensor(v) for v in XY)
    ours = getattr(F, jac)(vec_fn(adjit), argnums=(0, 1))(x, y)
    theirs = getattr(torch.func, jac)(vec_fn(torch), argnums=(0, 1))(tx, ty)
    same(ours, theirs, rtol=1e-12, atol=1e-12)
    for k in (0, 1):
        np.testing.assert_allclose(
            ours[k].numpy(), fd_jacobian(vec_fn(adjit), (x, y), k), atol=1e-8
        )
    single = getattr(F, jac)(vec_fn(adjit))(x, y)
    same(single, theirs[0], rtol=1e-12, atol=1e-12)


def test_jacrev_chunks_pytrees_and_aux():
    x = {"a": adjit.tensor(XY[0]), "b": adjit.tensor(XY[1])}
    tx = {"a": torch.tensor(XY[0]), "b": torch.tensor(XY[1])}

    def f(lib):
        def fn(p):
            out = {"s": (p["a"] * 2).sin(), "t": p["b"].cumsum(0) * p["a"][0]}
            return out, p["a"].sum()

        return fn

    for chunk in (None, 1, 3):
        ours = F.jacrev(f(adjit), has_aux=True, chunk_size=chunk)(x)
        theirs = torch.func.jacrev(f(torch), has_aux=True, chunk_size=chunk)(tx)
        same(ours, theirs, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="chunk_size` should be greater than 0"):
        F.jacrev(f(adjit), chunk_size=0)


def test_hessian_matches_torch_and_is_symmetric():
    v = RNG.standard_normal(6)

    def f(lib):
        W = lib.tensor(np.linspace(-0.5, 0.7, 36).reshape(6, 6))
        return lambda x: (lib.tanh(W @ x) ** 2).sum() + (x**4).sum() / 4

    ours = F.hessian(f(adjit))(adjit.tensor(v))
    same(ours, torch.func.hessian(f(torch))(torch.tensor(v)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.numpy(), ours.numpy().T, atol=1e-12)
    grad_fn = F.grad(f(adjit))
    fd = fd_jacobian(lambda x: grad_fn(x), (adjit.tensor(v),), 0)
    np.testing.assert_allclose(ours.numpy(), fd, atol=1e-7)
    comp = adjit.compile(F.hessian(f(adjit)))
    np.testing.assert_allclose(comp(adjit.tensor(v)).numpy(), ours.numpy(), rtol=1e-12, atol=1e-13)


def test_jvp_hvp_and_linearize_match_torch():
    x, t = RNG.standard_normal(5), RNG.standard_normal(5)

    def f(lib):
        return lambda a: (a.sin() * a).sum() + (a[:3] * a[2:]).prod()

    ours = F.jvp(F.grad(f(adjit)), (adjit.tensor(x),), (adjit.tensor(t),))
    theirs = torch.func.jvp(torch.func.grad(f(torch)), (torch.tensor(x),), (torch.tensor(t),))
    same(ours, theirs, rtol=1e-12, atol=1e-12)
    # reverse-over-forward gives the same Hessian-vector product
    rof = F.grad(lambda a: F.jvp(f(adjit), (a,), (adjit.tensor(t),))[1])(adjit.tensor(x))
    same(rof, theirs[1], rtol=1e-12, atol=1e-12)
    out, jvp_fn = F.linearize(lambda a: a.exp() * a.cos(), adjit.tensor(x))
    tout, tjvp_fn = torch.func.linearize(lambda a: a.exp() * a.cos(), torch.tensor(x))
    same(out, tout, rtol=1e-12)
    same(jvp_fn(adjit.tensor(t)), tjvp_fn(torch.tensor(t)), rtol=1e-12, atol=1e-12)


def test_transforms_compose_in_any_order():
    x = RNG.standard_normal(4)

    def f(lib):
        return lambda a: (a.sin() ** 2 * a.exp()).sum()

    cases = [
        lambda m: m.jacfwd(m.jacrev(f_lib(m))),
        lambda m: m.jacrev(m.jacrev(f_lib(m))),
        lambda m: m.jacrev(m.jacfwd(f_lib(m))),
        lambda m: m.jacfwd(m.jacfwd(f_lib(m))),
    ]

    def f_lib(m):
        return f(adjit if m is F else torch)

    for make in cases:
        same(make(F)(adjit.tensor(x)), make(torch.func)(torch.tensor(x)), rtol=1e-11, atol=1e-12)


def _cnn(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(
        lib.nn.Conv2d(1, 4, 3, padding=1),
        lib.nn.ReLU(),
        lib.nn.MaxPool2d(2),
        lib.nn.Flatten(),
        lib.nn.Linear(4 * 4 * 4, 3),
    )


def _mlp(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(6, 8), lib.nn.Tanh(), lib.nn.Linear(8, 3))


@pytest.mark.parametrize("model,shape", [(_mlp, (6,)), (_cnn, (1, 8, 8))], ids=["mlp", "cnn"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_per_sample_gradients_match_torch_func(model, shape, compiled):
    """Opacus-style per-sample gradients: vmap(grad(loss), in_dims=(None, 0, 0))."""
    data = RNG.standard_normal((5, *shape)).astype(np.float32)
    labels = RNG.integers(0, 3, 5)

    def per_sample(lib, fn_api):
        m = model(lib)
        params = {k: v.detach() for k, v in m.named_parameters()}

        def loss(p, x, y):
            out = fn_api.functional_call(m, p, (x.unsqueeze(0),))
            return lib.nn.functional.cross_entropy(out, y.unsqueeze(0))

        f = fn_api.vmap(fn_api.grad(loss), in_dims=(None, 0, 0))
        if compiled and lib is adjit:
            f = adjit.compile(f)
        return f(params, lib.tensor(data), lib.tensor(labels))

    got, want = per_sample(adjit, F), per_sample(torch, torch.func)
    same(got, want, rtol=2e-5, atol=2e-6)
    # the per-sample gradients average to the batch gradient (eager autograd, one backward)
    m = model(adjit)
    adjit.nn.functional.cross_entropy(m(adjit.tensor(data)), adjit.tensor(labels)).backward()
    for k, p in m.named_parameters():
        np.testing.assert_allclose(got[k].numpy().mean(0), p.grad.numpy(), rtol=2e-5, atol=2e-6)


def test_ensemble_with_stack_module_state_and_vmap():
    models = [_mlp(adjit) for _ in range(3)]
    for i, m in enumerate(models):  # different weights per member
        with adjit.no_grad():
            for p in m.parameters():
                p.mul_(1 + 0.1 * i)
    params, buffers = F.stack_module_state(models)
    x = adjit.tensor(RNG.standard_normal((4, 6)).astype(np.float32))

    def member(p, b, x):
        return F.functional_call(models[0], (p, b), (x,))

    for fn in (F.vmap(member, in_dims=(0, 0, None)), adjit.compile(F.vmap(member, (0, 0, None)))):
        out = fn(params, buffers, x)
        assert tuple(out.shape) == (3, 4, 3)
        for i, m in enumerate(models):
            np.testing.assert_allclose(  # float32: batched vs single GEMMs sum in other orders
                out[i].detach().numpy(), m(x).detach().numpy(), rtol=1e-5, atol=1e-6
            )
    # the stacked parameters are leaves: an ensemble trains through vmap
    out = F.vmap(member, in_dims=(0, 0, None))(params, buffers, x)
    out.pow(2).sum().backward()
    for i, m in enumerate(models):
        m.zero_grad()
        m(x).pow(2).sum().backward()
        np.testing.assert_allclose(
            params["0.weight"].grad[i].numpy(), m[0].weight.grad.numpy(), rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_autograd_grad_is_grads_batched_matches_torch(compiled):
    """One engine run under vmap for a batch of cotangents (PyTorch vmaps its engine too)."""
    x0, w0 = RNG.standard_normal(3), RNG.standard_normal(2)

    def run(lib, twice=False):
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(w0, requires_grad=True)
        out = (x.sin() * x).exp()
        eye = lib.eye(3, dtype=lib.float64)
        kw = dict(is_grads_batched=True, retain_graph=True, allow_unused=True)
        jac, unused = lib.autograd.grad(out, (x, w), eye, create_graph=twice, **kw)
        if not twice:
            return jac, unused, lib.autograd.grad(out, (x, w), eye, materialize_grads=True, **kw)
        (second,) = lib.autograd.grad(jac.sum(), x)
        return jac, second

    got = adjit.compile(lambda: run(adjit))() if compiled else run(adjit)
    want = run(torch)
    assert got[1] is None and want[1] is None
    same((got[0], got[2]), (want[0], want[2]), rtol=1e-12, atol=1e-12)
    same(run(adjit, twice=True), run(torch, twice=True), rtol=1e-12, atol=1e-12)


def test_vmap_of_autograd_grad_on_eager_values_matches_torch():
    """torch.func's own pattern for a Jacobian of an already computed output."""
    x0 = RNG.standard_normal(4)

    def run(lib):
        x = lib.tensor(x0, requires_grad=True)
        out = (x.exp() * x.sin()).cumsum(0)
        rows = lib.vmap(lambda ct: lib.autograd.grad(out, x, ct, retain_graph=True)[0])
        return rows(lib.eye(4, dtype=lib.float64))

    same(run(adjit), run(torch), rtol=1e-12, atol=1e-12)


def test_checkpoint_inside_vmap_keeps_its_region_when_compiled():
    """Replayed into the compiled trace, a vmapped checkpoint region is still recomputed."""
    from adjit.utils.checkpoint import checkpoint

    m = adjit.tensor(RNG.standard_normal((8, 8)).astype(np.float32))

    def per_row(r, ckpt):
        body = lambda t: (t @ m).tanh().sin()  # noqa: E731
        return (checkpoint(body, r, use_reentrant=False) if ckpt else body(r)).sum()

    def f(x, ckpt=True):
        return adjit.vmap(lambda r: per_row(r, ckpt))(x).sum()

    x = adjit.tensor(RNG.standard_normal((5, 8)).astype(np.float32), requires_grad=True)
    saved = adjit.explain(f, x).saved
    assert saved.bytes < adjit.explain(lambda x: f(x, False), x).saved.bytes
    assert any("tanh" in str(r) for r in saved.recomputed)
    (g,) = adjit.autograd.grad(adjit.compile(f)(x), x)
    (want,) = adjit.autograd.grad(f(x, False), x)
    np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
