"""Distributions built the same way under adjit and torch (``L``) from shared NumPy parameters:
the rows that the value, shape and gradient tests run side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

RNG = np.random.default_rng(20261206)
LOC = RNG.normal(size=(3, 4))
SCALE = RNG.uniform(0.5, 2.0, size=(3, 4))
PROBS = RNG.uniform(0.05, 0.95, size=(3, 4))
SIMPLEX = RNG.uniform(0.1, 1.0, size=(3, 5))
CONC = RNG.uniform(0.5, 3.0, size=(3, 4))
RATE = RNG.uniform(0.5, 3.0, size=(3, 4))
A = RNG.normal(size=(2, 3, 3))
COV = A @ A.transpose(0, 2, 1) + 3 * np.eye(3)
MVN_LOC = RNG.normal(size=(2, 3))
POS = RNG.uniform(0.1, 3.0, size=(3, 4))  # values in every positive support
UNIT = RNG.uniform(0.05, 0.95, size=(3, 4))  # values in (0, 1), probabilities for icdf
REAL = RNG.normal(size=(3, 4))
COUNTS = np.array([[0, 1, 2, 3], [4, 5, 0, 1], [2, 2, 3, 5]], np.float64)
MVN_VALUE = RNG.normal(size=(4, 2, 3))
_CORR = COV / np.sqrt(np.einsum("bii,bjj->bij", COV, COV))
CORR_CHOL = np.linalg.cholesky(_CORR)  # (2, 3, 3) Cholesky factors of correlation matrices


def assert_same_error(program: Callable[[Any], Any], ours: Any, theirs: Any) -> None:
    """``program(theirs)`` raises; ``program(ours)`` raises the same type with the same text."""
    with pytest.raises(Exception) as expected:
        program(theirs)
    with pytest.raises(type(expected.value)) as got:
        program(ours)
    assert str(got.value) == str(expected.value)


def t(L: Any, a: np.ndarray, dtype: str) -> Any:
    """``a`` as an L tensor of ``dtype``."""
    return L.tensor(np.ascontiguousarray(a), dtype=getattr(L, dtype))


Builder = Callable[[Any, str], Any]

# name -> (build(L, dtype), value(L, dtype) scored by log_prob/cdf)
DISTS: dict[str, tuple[Builder, Builder]] = {
    "Normal": (
        lambda L, d: L.distributions.Normal(t(L, LOC, d), t(L, SCALE, d)),
        lambda L, d: t(L, REAL, d),
    ),
    "Uniform": (
        lambda L, d: L.distributions.Uniform(t(L, LOC - 2, d), t(L, LOC + 3 * SCALE, d)),
        lambda L, d: t(L, LOC, d),
    ),
    "Exponential": (
        lambda L, d: L.distributions.Exponential(t(L, RATE, d)),
        lambda L, d: t(L, POS, d),
    ),
    "Laplace": (
        lambda L, d: L.distributions.Laplace(t(L, LOC, d), t(L, SCALE, d)),
        lambda L, d: t(L, REAL, d),
    ),
    "LogNormal": (
        lambda L, d: L.distributions.LogNormal(t(L, LOC, d), t(L, SCALE, d)),
        lambda L, d: t(L, POS, d),
    ),
    "Gamma": (
        lambda L, d: L.distributions.Gamma(t(L, CONC, d), t(L, RATE, d)),
        lambda L, d: t(L, POS, d),
    ),
    "Beta": (
        lambda L, d: L.distributions.Beta(t(L, CONC, d), t(L, RATE, d)),
        lambda L, d: t(L, UNIT, d),
    ),
    "Dirichlet": (
        lambda L, d: L.distributions.Dirichlet(t(L, SIMPLEX * 3, d)),
        lambda L, d: t(L, SIMPLEX / SIMPLEX.sum(-1, keepdims=True), d),
    ),
    "Bernoulli(probs)": (
        lambda L, d: L.distributions.Bernoulli(probs=t(L, PROBS, d)),
        lambda L, d: t(L, COUNTS % 2, d),
    ),
    "Bernoulli(logits)": (
        lambda L, d: L.distributions.Bernoulli(logits=t(L, LOC, d)),
        lambda L, d: t(L, COUNTS % 2, d),
    ),
    "Categorical(probs)": (
        lambda L, d: L.distributions.Categorical(probs=t(L, SIMPLEX, d)),
        lambda L, d: L.tensor([[0, 4, 2], [1, 1, 3]]).unsqueeze(-1),
    ),
    "Categorical(logits)": (
        lambda L, d: L.distributions.Categorical(logits=t(L, LOC, d)),
        lambda L, d: L.tensor([[0, 3, 2]]),
    ),
    "OneHotCategorical": (
        lambda L, d: L.distributions.OneHotCategorical(probs=t(L, SIMPLEX, d)),
        lambda L, d: t(L, np.eye(5)[[1, 4, 0]], d),
    ),
    "Cauchy": (
        lambda L, d: L.distributions.Cauchy(t(L, LOC, d), t(L, SCALE, d)),
        lambda L, d: t(L, REAL, d),
    ),
    "HalfNormal": (
        lambda L, d: L.distributions.HalfNormal(t(L, SCALE, d)),
        lambda L, d: t(L, POS, d),
    ),
    "HalfCauchy": (
        lambda L, d: L.distributions.HalfCauchy(t(L, SCALE, d)),
        lambda L, d: t(L, POS, d),
    ),
    "Gumbel": (
        lambda L, d: L.distributions.Gumbel(t(L, LOC, d), t(L, SCALE, d)),
        lambda L, d: t(L, REAL, d),
    ),
    "Geometric": (
        lambda L, d: L.distributions.Geometric(t(L, PROBS, d)),
        lambda L, d: t(L, COUNTS, d),
    ),
    "Chi2": (
        lambda L, d: L.distributions.Chi2(t(L, CONC, d)),
        lambda L, d: t(L, POS, d),
    ),
    "StudentT": (
        lambda L, d: L.distributions.StudentT(
            t(L, CONC * 2 - 0.5, d), t(L, LOC, d), t(L, SCALE, d)
        ),
        lambda L, d: t(L, REAL, d),
    ),
    "Multinomial": (
        lambda L, d: L.distributions.Multinomial(6, probs=t(L, SIMPLEX, d)),
        lambda L, d: t(L, [[1, 0, 2, 3, 0], [6, 0, 0, 0, 0], [1, 1, 1, 1, 2]], d),
    ),
    "MixtureSameFamily(Normal)": (
        lambda L, d: L.distributions.MixtureSameFamily(
            L.distributions.Categorical(t(L, SIMPLEX[:, :4], d)),
            L.distributions.Normal(t(L, LOC, d), t(L, SCALE, d)),
        ),
        lambda L, d: t(L, REAL[:, 0], d),
    ),
    "MixtureSameFamily(MVN)": (
        lambda L, d: L.distributions.MixtureSameFamily(
            L.distributions.Categorical(t(L, SIMPLEX[0, :2], d)),
            L.distributions.MultivariateNormal(t(L, MVN_LOC, d), t(L, COV, d)),
        ),
        lambda L, d: t(L, MVN_VALUE, d),
    ),
    "RelaxedBernoulli": (
        lambda L, d: L.distributions.RelaxedBernoulli(t(L, 0.7, d), probs=t(L, PROBS, d)),
        lambda L, d: t(L, UNIT, d),
    ),
    "RelaxedOneHotCategorical": (
        lambda L, d: L.distributions.RelaxedOneHotCategorical(t(L, 0.5, d), logits=t(L, LOC, d)),
        lambda L, d: t(L, SIMPLEX[:, :4] / SIMPLEX[:, :4].sum(-1, keepdims=True), d),
    ),
    "Pareto": (
        lambda L, d: L.distributions.Pareto(t(L, SCALE * 0.1, d), t(L, CONC + 1.5, d)),
        lambda L, d: t(L, POS + 0.2, d),
    ),
    "Weibull": (
        lambda L, d: L.distributions.Weibull(t(L, SCALE, d), t(L, CONC, d)),
        lambda L, d: t(L, POS, d),
    ),
    "NegativeBinomial": (
        lambda L, d: L.distributions.NegativeBinomial(t(L, CONC, d), probs=t(L, PROBS * 0.9, d)),
        lambda L, d: t(L, COUNTS, d),
    ),
    "InverseGamma": (
        lambda L, d: L.distributions.InverseGamma(t(L, CONC + 1.5, d), t(L, RATE, d)),
        lambda L, d: t(L, POS, d),
    ),
    "FisherSnedecor": (
        lambda L, d: L.distributions.FisherSnedecor(t(L, CONC * 3, d), t(L, RATE * 3, d)),
        lambda L, d: t(L, POS, d),
    ),
    "Kumaraswamy": (
        lambda L, d: L.distributions.Kumaraswamy(t(L, CONC, d), t(L, RATE, d)),
        lambda L, d: t(L, UNIT, d),
    ),
    "LogisticNormal": (
        lambda L, d: L.distributions.LogisticNormal(t(L, LOC, d), t(L, SCALE, d)),
        lambda L, d: t(L, SIMPLEX / SIMPLEX.sum(-1, keepdims=True), d),
    ),
    "VonMises": (
        lambda L, d: L.distributions.VonMises(t(L, LOC, d), t(L, CONC * 2, d)),
        lambda L, d: t(L, REAL, d),
    ),
    "ContinuousBernoulli": (
        lambda L, d: L.distributions.ContinuousBernoulli(
            t(L, np.where(PROBS > 0.8, 0.5, PROBS), d)
        ),
        lambda L, d: t(L, UNIT, d),
    ),
    "GeneralizedPareto": (
        lambda L, d: L.distributions.GeneralizedPareto(
            t(L, LOC - 3, d), t(L, SCALE, d), t(L, np.where(PROBS > 0.7, 0.0, PROBS - 0.3), d)
        ),
        lambda L, d: t(L, POS, d),
    ),
    "LKJCholesky": (
        lambda L, d: L.distributions.LKJCholesky(3, t(L, CONC[0, :2], d)),
        lambda L, d: t(L, CORR_CHOL, d),
    ),
    "Poisson": (
        lambda L, d: L.distributions.Poisson(t(L, RATE, d)),
        lambda L, d: t(L, COUNTS, d),
    ),
    "Binomial(probs)": (
        lambda L, d: L.distributions.Binomial(5, probs=t(L, PROBS, d)),
        lambda L, d: t(L, COUNTS, d),
    ),
    "Binomial(logits)": (
        lambda L, d: L.distributions.Binomial(t(L, np.full((3, 4), 6.0), d), logits=t(L, LOC, d)),
        lambda L, d: t(L, COUNTS, d),
    ),
    "MVN(covariance)": (
        lambda L, d: L.distributions.MultivariateNormal(t(L, MVN_LOC, d), t(L, COV, d)),
        lambda L, d: t(L, MVN_VALUE, d),
    ),
    "MVN(scale_tril)": (
        lambda L, d: L.distributions.MultivariateNormal(
            t(L, MVN_LOC[0], d), scale_tril=t(L, np.linalg.cholesky(COV), d)
        ),
        lambda L, d: t(L, REAL[:2, :3], d),
    ),
    "MVN(precision)": (
        lambda L, d: L.distributions.MultivariateNormal(
            t(L, MVN_LOC, d), precision_matrix=t(L, COV, d)
        ),
        lambda L, d: t(L, REAL[:, :3].reshape(3, 1, 3), d),
    ),
    "Wishart(covariance)": (
        lambda L, d: L.distributions.Wishart(t(L, [4.5, 6.0], d), covariance_matrix=t(L, COV, d)),
        lambda L, d: t(L, COV[::-1] / 3, d),
    ),
    "Wishart(scale_tril)": (
        lambda L, d: L.distributions.Wishart(5.0, scale_tril=t(L, np.linalg.cholesky(COV[0]), d)),
        lambda L, d: t(L, COV, d),
    ),
    "Wishart(precision)": (
        lambda L, d: L.distributions.Wishart(
            t(L, [[4.5], [6.0], [9.0]], d), precision_matrix=t(L, COV / 4, d)
        ),
        lambda L, d: t(L, COV[None] / 2, d),
    ),
    "LowRankMVN": (
        lambda L, d: L.distributions.LowRankMultivariateNormal(
            t(L, MVN_LOC, d), t(L, A[:, :, :2], d), t(L, SCALE[:2, :3], d)
        ),
        lambda L, d: t(L, MVN_VALUE, d),
    ),
    "Independent(Normal)": (
        lambda L, d: L.distributions.Independent(
            L.distributions.Normal(t(L, LOC, d), t(L, SCALE, d)), 1
        ),
        lambda L, d: t(L, REAL, d),
    ),
    "Transformed(Normal; Affine, Tanh)": (
        lambda L, d: L.distributions.TransformedDistribution(
            L.distributions.Normal(t(L, LOC, d), t(L, SCALE, d)),
            [
                L.distributions.AffineTransform(0.5, t(L, SCALE, d)),
                L.distributions.TanhTransform(),
            ],
        ),
        lambda L, d: t(L, UNIT * 1.6 - 0.8, d),
    ),
    "Transformed(Normal; Sigmoid, Affine(-2))": (
        lambda L, d: L.distributions.TransformedDistribution(
            L.distributions.Normal(t(L, LOC, d), t(L, SCALE, d)),
            L.distributions.ComposeTransform(
                [L.distributions.SigmoidTransform(), L.distributions.AffineTransform(1.0, -2.0)]
            ),
        ),
        lambda L, d: t(L, -UNIT * 1.8 + 0.9, d),
    ),
    "Transformed(Uniform; Exp)": (
        lambda L, d: L.distributions.TransformedDistribution(
            L.distributions.Uniform(t(L, LOC - 1, d), t(L, LOC + 1, d)),
            [L.distributions.ExpTransform()],
        ),
        lambda L, d: t(L, np.exp(LOC + 0.3), d),
    ),
}
