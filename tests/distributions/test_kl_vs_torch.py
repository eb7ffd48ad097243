"""kl_divergence side by side with torch.distributions for the registered pairs (float32 and
float64), infinite cases, register_kl dispatch and its errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

from ._cases import CONC, COV, LOC, MVN_LOC, PROBS, RATE, SCALE, SIMPLEX, t

torch = pytest.importorskip("torch")

A2 = np.random.default_rng(7).normal(size=(3, 3))
COV2 = A2 @ A2.T + np.eye(3)

PAIRS: dict[str, Any] = {
    "Normal": lambda L, d: (
        L.distributions.Normal(t(L, LOC, d), t(L, SCALE, d)),
        L.distributions.Normal(t(L, LOC[::-1], d), t(L, RATE, d)),
    ),
    "Bernoulli": lambda L, d: (
        L.distributions.Bernoulli(t(L, np.where(PROBS > 0.8, 0.0, PROBS), d)),
        L.distributions.Bernoulli(logits=t(L, LOC, d)),
    ),
    "Bernoulli edges": lambda L, d: (
        L.distributions.Bernoulli(t(L, [0.0, 1.0, 0.5, 0.0, 1.0], d)),
        L.distributions.Bernoulli(t(L, [0.5, 0.5, 0.0, 1.0, 0.0], d)),
    ),
    "Categorical": lambda L, d: (
        L.distributions.Categorical(t(L, SIMPLEX * (SIMPLEX > 0.3), d)),
        L.distributions.Categorical(logits=t(L, SIMPLEX[::-1], d)),
    ),
    "Categorical zero q": lambda L, d: (
        L.distributions.Categorical(t(L, [0.5, 0.5, 0.0], d)),
        L.distributions.Categorical(t(L, [0.5, 0.0, 0.5], d)),
    ),
    "OneHotCategorical": lambda L, d: (
        L.distributions.OneHotCategorical(t(L, SIMPLEX, d)),
        L.distributions.OneHotCategorical(t(L, SIMPLEX[::-1], d)),
    ),
    "MVN": lambda L, d: (
        L.distributions.MultivariateNormal(t(L, MVN_LOC, d), t(L, COV, d)),
        L.distributions.MultivariateNormal(t(L, MVN_LOC[0], d), precision_matrix=t(L, COV2, d)),
    ),
    "LowRankMVN": lambda L, d: (
        L.distributions.LowRankMultivariateNormal(
            t(L, MVN_LOC, d), t(L, COV[:, :, :2], d), t(L, SCALE[:2, :3], d)
        ),
        L.distributions.LowRankMultivariateNormal(
            t(L, MVN_LOC[0], d), t(L, COV2[:, :1], d), t(L, RATE[0, :3], d)
        ),
    ),
    "MVN, LowRankMVN": lambda L, d: (
        L.distributions.MultivariateNormal(t(L, MVN_LOC, d), t(L, COV, d)),
        L.distributions.LowRankMultivariateNormal(
            t(L, MVN_LOC[0], d), t(L, COV2[:, :1], d), t(L, RATE[0, :3], d)
        ),
    ),
    "LowRankMVN, MVN": lambda L, d: (
        L.distributions.LowRankMultivariateNormal(
            t(L, MVN_LOC, d), t(L, COV[:, :, :2], d), t(L, SCALE[:2, :3], d)
        ),
        L.distributions.MultivariateNormal(t(L, MVN_LOC[0], d), t(L, COV2, d)),
    ),
    "Uniform": lambda L, d: (
        L.distributions.Uniform(t(L, LOC, d), t(L, LOC + SCALE, d)),
        L.distributions.Uniform(t(L, LOC - 0.5 + (SCALE > 1.5), d), t(L, LOC + 2 * SCALE, d)),
    ),
    "Beta": lambda L, d: (
        L.distributions.Beta(t(L, CONC, d), t(L, RATE, d)),
        L.distributions.Beta(t(L, RATE, d), t(L, CONC, d)),
    ),
    "Gamma": lambda L, d: (
        L.distributions.Gamma(t(L, CONC, d), t(L, RATE, d)),
        L.distributions.Gamma(t(L, RATE, d), t(L, CONC, d)),
    ),
    "Dirichlet": lambda L, d: (
        L.distributions.Dirichlet(t(L, SIMPLEX * 3, d)),
        L.distributions.Dirichlet(t(L, SIMPLEX[::-1] * 2, d)),
    ),
    "Exponential": lambda L, d: (
        L.distributions.Exponential(t(L, CONC, d)),
        L.distributions.Exponential(t(L, RATE, d)),
    ),
    "Laplace": lambda L, d: (
        L.distributions.Laplace(t(L, LOC, d), t(L, SCALE, d)),
        L.distributions.Laplace(t(L, LOC[::-1], d), t(L, RATE, d)),
    ),
    "Poisson": lambda L, d: (
        L.distributions.Poisson(t(L, CONC, d)),
        L.distributions.Poisson(t(L, RATE, d)),
    ),
    "Binomial": lambda L, d: (
        L.distributions.Binomial(t(L, [5.0, 6.0, 5.0], d), t(L, PROBS[0, :3], d)),
        L.distributions.Binomial(t(L, [5.0, 5.0, 5.0], d), t(L, PROBS[1, :3], d)),
    ),
    "Independent": lambda L, d: (
        L.distributions.Independent(L.distributions.Normal(t(L, LOC, d), t(L, SCALE, d)), 1),
        L.distributions.Independent(L.distributions.Normal(t(L, LOC[::-1], d), 1.0), 1),
    ),
    "LogNormal": lambda L, d: (
        L.distributions.LogNormal(t(L, LOC, d), t(L, SCALE, d)),
        L.distributions.LogNormal(t(L, LOC[::-1], d), t(L, RATE, d)),
    ),
    "Gumbel": lambda L, d: (
        L.distributions.Gumbel(t(L, LOC, d), t(L, SCALE, d)),
        L.distributions.Gumbel(t(L, LOC[::-1], d), t(L, RATE, d)),
    ),
    "Geometric": lambda L, d: (
        L.distributions.Geometric(t(L, PROBS, d)),
        L.distributions.Geometric(logits=t(L, LOC, d)),
    ),
    "HalfNormal": lambda L, d: (
        L.distributions.HalfNormal(t(L, SCALE, d)),
        L.distributions.HalfNormal(t(L, RATE, d)),
    ),
    "Cauchy": lambda L, d: (
        L.distributions.Cauchy(t(L, LOC, d), t(L, SCALE, d)),
        L.distributions.Cauchy(t(L, LOC[::-1], d), t(L, RATE, d)),
    ),
    "Pareto": lambda L, d: (
        L.distributions.Pareto(t(L, SCALE, d), t(L, CONC, d)),
        L.distributions.Pareto(t(L, SCALE[::-1], d), t(L, RATE, d)),
    ),
    "ContinuousBernoulli": lambda L, d: (
        L.distributions.ContinuousBernoulli(t(L, np.where(PROBS > 0.8, 0.5, PROBS), d)),
        L.distributions.ContinuousBernoulli(logits=t(L, LOC, d)),
    ),
    "Exponential, Gamma": lambda L, d: (
        L.distributions.Exponential(t(L, CONC, d)),
        L.distributions.Gamma(t(L, RATE, d), t(L, CONC, d)),
    ),
    "Exponential, Normal": lambda L, d: (
        L.distributions.Exponential(t(L, CONC, d)),
        L.distributions.Normal(t(L, LOC, d), t(L, SCALE, d)),
    ),
    "Gamma, Exponential": lambda L, d: (
        L.distributions.Gamma(t(L, RATE, d), t(L, CONC, d)),
        L.distributions.Exponential(t(L, CONC, d)),
    ),
    "Laplace, Normal": lambda L, d: (
        L.distributions.Laplace(t(L, LOC, d), t(L, SCALE, d)),
        L.distributions.Normal(t(L, LOC[::-1], d), t(L, RATE, d)),
    ),
    "Uniform, Normal": lambda L, d: (
        L.distributions.Uniform(t(L, LOC, d), t(L, LOC + SCALE, d)),
        L.distributions.Normal(t(L, LOC[::-1], d), t(L, RATE, d)),
    ),
    "Normal, Uniform": lambda L, d: (
        L.distributions.Normal(t(L, LOC, d), t(L, SCALE, d)),
        L.distributions.Uniform(t(L, LOC, d), t(L, LOC + SCALE, d)),
    ),
    "Gamma, Beta": lambda L, d: (
        L.distributions.Gamma(t(L, RATE, d), t(L, CONC, d)),
        L.distributions.Beta(t(L, RATE, d), t(L, CONC, d)),
    ),
    "Laplace, Exponential (infinite)": lambda L, d: (
        L.distributions.Laplace(t(L, LOC, d), t(L, SCALE, d)),
        L.distributions.Exponential(t(L, CONC, d)),
    ),
}

TOL = {"float32": (5e-6, 5e-6), "float64": (1e-12, 1e-13)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pair", list(PAIRS))
def test_kl_matches_torch(pair: str, dtype: str) -> None:
    ours = adjit.distributions.kl_divergence(*PAIRS[pair](adjit, dtype))
    theirs = torch.distributions.kl_divergence(*PAIRS[pair](torch, dtype))
    assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype)
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=rtol, atol=atol)


def test_kl_of_a_distribution_with_itself_is_zero() -> None:
    p = adjit.distributions.MultivariateNormal(adjit.tensor(MVN_LOC), adjit.tensor(COV))
    np.testing.assert_allclose(adjit.distributions.kl_divergence(p, p).numpy(), 0, atol=1e-12)


def test_register_kl_most_specific_and_ambiguous() -> None:
    D = adjit.distributions

    class MyNormal(D.Normal):
        pass

    @D.register_kl(MyNormal, D.Normal)
    def _mine(p: Any, q: Any) -> Any:
        return adjit.zeros(())

    try:
        mine = MyNormal(0.0, 1.0)
        assert D.kl_divergence(mine, D.Normal(1.0, 1.0)).item() == 0.0
        assert D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(0.0, 2.0)).item() > 0
        with pytest.warns(RuntimeWarning, match="Ambiguous kl_divergence"):
            D.register_kl(D.Normal, MyNormal)(lambda p, q: adjit.ones(()))
            D.kl_divergence(mine, MyNormal(1.0, 1.0))
    finally:
        for key in [(MyNormal, D.Normal), (D.Normal, MyNormal)]:
            D.kl._KL_REGISTRY.pop(key, None)
        D.kl._KL_MEMOIZE.clear()
