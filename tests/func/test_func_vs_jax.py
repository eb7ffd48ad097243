"""adjit.func against JAX (skipped where JAX is not installed): per-sample gradients, jvp,
Jacobians and Hessians of the same functions, in float64."""

from __future__ import annotations

import numpy as np
import pytest

import adjit
from adjit import func as F

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")


@pytest.fixture(autouse=True)
def _float64():
    """JAX computes in float32 unless asked: float64 for these tests only."""
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


RNG = np.random.default_rng(7)
W = RNG.standard_normal((5, 4))
X = RNG.standard_normal((6, 4))
V = RNG.standard_normal(4)


def loss(lib, act):
    def f(w, x):
        return act(x @ w.T).sum() ** 2 / 2

    return f


def test_per_sample_gradients_match_jax():
    ours = F.vmap(F.grad(loss(adjit, adjit.tanh)), in_dims=(None, 0))(
        adjit.tensor(W), adjit.tensor(X)
    )
    theirs = jax.vmap(jax.grad(loss(jnp, jnp.tanh)), in_axes=(None, 0))(
        jnp.asarray(W), jnp.asarray(X)
    )
    np.testing.assert_allclose(ours.numpy(), np.asarray(theirs), rtol=1e-12, atol=1e-12)
    comp = adjit.compile(F.vmap(F.grad(loss(adjit, adjit.tanh)), in_dims=(None, 0)))
    np.testing.assert_allclose(
        comp(adjit.tensor(W), adjit.tensor(X)).numpy(), np.asarray(theirs), rtol=1e-12, atol=1e-12
    )


def _vector(lib, act):
    w = lib.asarray(W) if lib is jnp else lib.tensor(W)
    return lambda v: act(w @ v) * v.sum()


@pytest.mark.parametrize("ours,theirs", [("jacrev", "jacrev"), ("jacfwd", "jacfwd")])
def test_jacobians_match_jax(ours, theirs):
    got = getattr(F, ours)(_vector(adjit, adjit.sin))(adjit.tensor(V))
    want = getattr(jax, theirs)(_vector(jnp, jnp.sin))(jnp.asarray(V))
    np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-12, atol=1e-12)


def test_hessian_and_jvp_match_jax():
    def f(lib, act):
        w = lib.asarray(W) if lib is jnp else lib.tensor(W)
        return lambda v: (act(w @ v) ** 2).sum()

    got = F.hessian(f(adjit, adjit.tanh))(adjit.tensor(V))
    want = jax.hessian(f(jnp, jnp.tanh))(jnp.asarray(V))
    np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-11, atol=1e-12)
    t = RNG.standard_normal(4)
    got = F.jvp(f(adjit, adjit.tanh), (adjit.tensor(V),), (adjit.tensor(t),))
    want = jax.jvp(f(jnp, jnp.tanh), (jnp.asarray(V),), (jnp.asarray(t),))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a.numpy(), np.asarray(b), rtol=1e-12, atol=1e-12)
