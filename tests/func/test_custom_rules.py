"""adjit.custom_vjp / adjit.custom_jvp side by side with jax.custom_vjp / jax.custom_jvp:
values and gradients eagerly (.backward, autograd.grad), through adjit.grad and compiled."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import adjit

jax = pytest.importorskip("jax")
jnp = jax.numpy


# -- the classic examples, written once per library -----------------------------------------


def clip_gradient_for(lib, custom_vjp):  # JAX's docs: clip the cotangent, not the value
    @custom_vjp
    def clip_gradient(lo, hi, x):
        return x

    def fwd(lo, hi, x):
        return x, (lo, hi)

    def bwd(res, g):
        lo, hi = res
        return (None, None, lib.clip(g, lo, hi))

    clip_gradient.defvjp(fwd, bwd)
    return clip_gradient


def log1pexp_for(lib, custom_jvp):  # JAX's docs: a numerically stable derivative
    @custom_jvp
    def log1pexp(x):
        return lib.log(1.0 + lib.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return log1pexp(x), t * (1 - 1 / (1 + lib.exp(x)))

    return log1pexp


ADJ_CLIP = clip_gradient_for(adjit, adjit.custom_vjp)
JAX_CLIP = clip_gradient_for(jnp, jax.custom_vjp)
ADJ_L1PE = log1pexp_for(adjit, adjit.custom_jvp)
JAX_L1PE = log1pexp_for(jnp, jax.custom_jvp)


def adj_clip_loss(x):
    return (ADJ_CLIP(-0.5, 0.5, x) * adjit.tensor([3.0, -0.1, 1.0])).sum()


def jax_clip_loss(x):
    return (JAX_CLIP(-0.5, 0.5, x) * jnp.array([3.0, -0.1, 1.0])).sum()


def adj_l1pe_loss(x):
    return (ADJ_L1PE(x) * 2.0).sum()


def jax_l1pe_loss(x):
    return (JAX_L1PE(x) * 2.0).sum()


CASES = {
    "clip_gradient": (adj_clip_loss, jax_clip_loss, [1.0, 2.0, -3.0]),
    "log1pexp": (adj_l1pe_loss, jax_l1pe_loss, [0.0, 10.0, 100.0]),  # the naive grad is NaN
}


def _eager_grad(fn, values):
    x = adjit.tensor(values, requires_grad=True)
    fn(x).backward()
    return x.grad.numpy()


def _compiled_grad(fn, values):
    x = adjit.tensor(values, requires_grad=True)
    adjit.compile(fn)(x).backward()
    return x.grad.numpy()


def _adjit_grad(fn, values):
    return adjit.grad(fn)(adjit.tensor(values)).numpy()


@pytest.mark.parametrize("how", [_eager_grad, _compiled_grad, _adjit_grad])
@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_matches_jax(case, how):
    adj_fn, jax_fn, values = CASES[case]
    expected = np.asarray(jax.grad(jax_fn)(jnp.array(values, dtype=jnp.float32)))
    got = how(adj_fn, values)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", sorted(CASES))
def test_value_matches_jax(case):
    adj_fn, jax_fn, values = CASES[case]
    expected = float(jax_fn(jnp.array(values, dtype=jnp.float32)))
    x = adjit.tensor(values, requires_grad=True)
    assert float(adj_fn(x)) == pytest.approx(expected, rel=1e-6)
    if case == "log1pexp":  # compiled computes log(1 + exp(x)) stably: finite where JAX's is inf
        expected = 2 * float(np.logaddexp(0.0, np.array(values)).sum())  # (Note [stability
    assert float(adjit.compile(adj_fn)(x)) == pytest.approx(expected, rel=1e-6)  # rewrites])


def test_custom_vjp_pytrees_and_nondiff_argnums():
    def make(lib, custom_vjp):
        @functools.partial(custom_vjp, nondiff_argnums=(0,))
        def f(scale, p, xs):
            return {"a": p["w"] * xs[0], "b": scale * xs[1].sum()}

        def fwd(scale, p, xs):
            return f(scale, p, xs), (p["w"], xs[0], xs[1])

        def bwd(scale, res, g):
            w, x0, x1 = res
            return {"w": 2.0 * g["a"] * x0}, (g["a"] * w, scale * g["b"] * lib.ones_like(x1))

        f.defvjp(fwd, bwd)
        return lambda p, x0, x1: f(1.5, p, (x0, x1))["a"].sum() + f(1.5, p, (x0, x1))["b"]

    w, x0, x1 = [0.5, -1.0], [2.0, 3.0], [1.0, 4.0, 5.0]
    expected = jax.grad(make(jnp, jax.custom_vjp), argnums=(0, 1, 2))(
        {"w": jnp.array(w)}, jnp.array(x0), jnp.array(x1)
    )
    fn = make(adjit, adjit.custom_vjp)
    tw, tx0, tx1 = (adjit.tensor(v, requires_grad=True) for v in (w, x0, x1))
    fn({"w": tw}, tx0, tx1).backward()
    np.testing.assert_allclose(tw.grad.numpy(), expected[0]["w"], rtol=1e-6)
    np.testing.assert_allclose(tx0.grad.numpy(), expected[1], rtol=1e-6)
    np.testing.assert_allclose(tx1.grad.numpy(), expected[2], rtol=1e-6)
    compiled = adjit.compile(fn)
    for t in (tw, tx0, tx1):
        t.grad = None
    compiled({"w": tw}, tx0, tx1).backward()
    np.testing.assert_allclose(tw.grad.numpy(), expected[0]["w"], rtol=1e-6)
    np.testing.assert_allclose(tx1.grad.numpy(), expected[2], rtol=1e-6)


def test_custom_jvp_defjvps_two_arguments():
    def make(custom_jvp, lib):
        @custom_jvp
        def f(x, y):
            return lib.sin(x) * y

        f.defjvps(
            lambda tx, ans, x, y: lib.cos(x) * tx * y,
            lambda ty, ans, x, y: lib.sin(x) * ty,
        )
        return lambda x, y: f(x, y).sum()

    xv, yv = [0.3, 1.2], [2.0, -1.0]
    expected = jax.grad(make(jax.custom_jvp, jnp), argnums=(0, 1))(jnp.array(xv), jnp.array(yv))
    fn = make(adjit.custom_jvp, adjit)
    x, y = adjit.tensor(xv, requires_grad=True), adjit.tensor(yv, requires_grad=True)
    fn(x, y).backward()
    np.testing.assert_allclose(x.grad.numpy(), expected[0], rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), expected[1], rtol=1e-6)
    gx, gy = adjit.grad(fn, argnums=(0, 1))(x.detach(), y.detach())
    np.testing.assert_allclose(gx.numpy(), expected[0], rtol=1e-6)
    np.testing.assert_allclose(gy.numpy(), expected[1], rtol=1e-6)


def _sin_with_rule(custom_jvp, lib, scale):
    @custom_jvp
    def f(x):
        return lib.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), scale * t * lib.cos(x)  # deliberately not sin's derivative for scale != 1

    return f


def test_custom_jvp_rule_is_used_and_second_order_matches_jax():
    f_adj, f_jax = (
        _sin_with_rule(adjit.custom_jvp, adjit, 3.0),
        _sin_with_rule(jax.custom_jvp, jnp, 3.0),
    )
    xv = [0.3, 1.0, 2.0]
    g_jax = jax.grad(lambda x: f_jax(x).sum())
    gg_jax = np.asarray(jax.grad(lambda x: g_jax(x).sum())(jnp.array(xv)))
    x = adjit.tensor(xv, requires_grad=True)
    (g,) = adjit.autograd.grad(f_adj(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3.0 * np.cos(np.float32(xv)), rtol=1e-6)
    (gg,) = adjit.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), gg_jax, rtol=1e-6)
    traced = adjit.grad(lambda x: adjit.grad(lambda x: f_adj(x).sum())(x).sum())(x.detach())
    np.testing.assert_allclose(traced.numpy(), gg_jax, rtol=1e-6)


def test_float64_finite_differences():
    f = _sin_with_rule(adjit.custom_jvp, adjit, 1.0)
    x = adjit.tensor([0.3, -1.1, 2.5], dtype=adjit.float64, requires_grad=True)
    assert adjit.autograd.gradcheck(lambda x: f(x) * x, (x,))
    assert adjit.autograd.gradgradcheck(lambda x: f(x) * x, (x,))
    y = adjit.tensor([0.4, 0.7, 2.0], dtype=adjit.float64, requires_grad=True)

    @adjit.custom_vjp
    def h(x, y):
        return x * y.exp()

    h.defvjp(lambda x, y: (h(x, y), (x, y)), lambda r, g: (g * r[1].exp(), g * r[0] * r[1].exp()))
    assert adjit.autograd.gradcheck(h, (x, y))


def test_primal_function_runs_when_nothing_differentiates():
    calls = []

    @adjit.custom_vjp
    def f(x):
        calls.append("fun")
        return x * 2

    def fwd(x):
        calls.append("fwd")
        return x * 2, None

    f.defvjp(fwd, lambda r, g: (g,))
    f(adjit.ones(2))
    f(adjit.ones(2, requires_grad=True))
    with adjit.no_grad():
        f(adjit.ones(2, requires_grad=True))
    assert calls == ["fun", "fwd", "fun"]


def test_errors_match_jax():
    @adjit.custom_vjp
    def f(x, y):
        return x * y

    with pytest.raises(
        AttributeError, match="No VJP defined for custom_vjp function f using defvjp"
    ):
        f(adjit.ones(2), adjit.ones(2))
    f.defvjp(lambda x, y: (x * y, (x, y)), lambda r, g: (g * r[1],))
    x = adjit.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match=r"bwd output structure PyTreeDef\(\(\*,\)\) for primal"):
        f(x, adjit.ones(2)).sum().backward()

    @adjit.custom_jvp
    def h(x):
        return x

    with pytest.raises(
        AttributeError, match="No JVP defined for custom_jvp function h using defjvp"
    ):
        h(x)
    h.defjvp(lambda p, t: 5)
    with pytest.raises(TypeError, match="must produce a pair .* but got 5"):
        h(x)


def test_tensor_nondiff_arguments_under_transforms():
    """A tensor among nondiff_argnums reaches the rules as the value the transform holds
    (traced: an operand of the rule, batched under vmap)."""

    @functools.partial(adjit.custom_vjp, nondiff_argnums=(1,))
    def f(x, w):
        return x * w

    f.defvjp(lambda x, w: (x * w, None), lambda w, r, g: (g * w * 2,))

    @functools.partial(adjit.custom_jvp, nondiff_argnums=(1,))
    def h(x, w):
        return x * w

    h.defjvp(lambda w, p, t: (h(p[0], w), t[0] * w * 3))
    w = adjit.tensor([1.0, 2.0, 3.0])
    ws = adjit.stack([w, -w])
    for fn, k in ((f, 2.0), (h, 3.0)):
        expected = k * w.numpy()
        got = adjit.grad(lambda x, fn=fn: fn(x, w).sum())(adjit.ones(3))
        np.testing.assert_array_equal(got.numpy(), expected)
        compiled = adjit.compile(lambda x, w, fn=fn: adjit.func.grad(lambda x: fn(x, w).sum())(x))
        np.testing.assert_array_equal(compiled(adjit.ones(3), w).numpy(), expected)
        per_example = adjit.func.vmap(adjit.func.grad(lambda x, w, fn=fn: fn(x, w).sum()))
        np.testing.assert_array_equal(per_example(adjit.ones(2, 3), ws).numpy(), k * ws.numpy())


def _polar_for(lib, custom_jvp):
    """A dict in, a (tuple, dict) pytree out, with a rule (JAX's shapes of custom_jvp)."""

    @custom_jvp
    def polar(p):
        r, a = p["r"], p["a"]
        return (r * lib.cos(a), r * lib.sin(a)), {"r2": r * r}

    @polar.defjvp
    def polar_jvp(primals, tangents):
        ((p,), (t,)) = primals, tangents
        r, a = p["r"], p["a"]
        out = polar(p)
        c, s = lib.cos(a), lib.sin(a)
        return out, (
            (t["r"] * c - r * s * t["a"], t["r"] * s + r * c * t["a"]),
            {"r2": 2 * r * t["r"]},
        )

    return polar


def test_custom_jvp_pytrees_under_grad_vmap_and_jvp_match_jax():
    from adjit.func import grad, jvp, vmap

    pa, pj = _polar_for(adjit, adjit.custom_jvp), _polar_for(jnp, jax.custom_jvp)
    r, a = np.array([1.0, 2.0, 0.5], np.float32), np.array([0.3, -1.0, 2.0], np.float32)

    def loss(polar, p):
        (x, y), d = polar(p)
        return (x * y).sum() + (d["r2"] * x).sum()

    ej = jax.grad(lambda p: loss(pj, p))({"r": jnp.array(r), "a": jnp.array(a)})
    ga = grad(lambda p: loss(pa, p))({"r": adjit.tensor(r), "a": adjit.tensor(a)})
    for k in ("r", "a"):
        np.testing.assert_allclose(ga[k].numpy(), np.asarray(ej[k]), rtol=1e-6)
    vj = jax.vmap(jax.grad(lambda p: loss(pj, p)))({"r": jnp.array(r), "a": jnp.array(a)})
    va = vmap(grad(lambda p: loss(pa, p)))({"r": adjit.tensor(r), "a": adjit.tensor(a)})
    for k in ("r", "a"):
        np.testing.assert_allclose(va[k].numpy(), np.asarray(vj[k]), rtol=1e-6)
    tan = {"r": np.ones(3, np.float32), "a": np.full(3, 0.5, np.float32)}
    _, tj = jax.jvp(
        pj, ({"r": jnp.array(r), "a": jnp.array(a)},), ({k: jnp.array(v) for k, v in tan.items()},)
    )
    _, ta = jvp(
        pa,
        ({"r": adjit.tensor(r), "a": adjit.tensor(a)},),
        ({k: adjit.tensor(v) for k, v in tan.items()},),
    )
    np.testing.assert_allclose(ta[0][0].numpy(), np.asarray(tj[0][0]), rtol=1e-6)
    np.testing.assert_allclose(ta[0][1].numpy(), np.asarray(tj[0][1]), rtol=1e-6)
    np.testing.assert_allclose(ta[1]["r2"].numpy(), np.asarray(tj[1]["r2"]), rtol=1e-6)
