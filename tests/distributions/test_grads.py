"""Gradients through rsample, log_prob, entropy and kl_divergence: side by side with torch
(float64, same seed), against float64 finite differences, and inside adjit.compile (a small
VAE loss: rsample + log_prob + kl_divergence)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

from ._cases import CONC, COUNTS, COV, LOC, MVN_LOC, POS, RATE, REAL, SCALE, SIMPLEX, UNIT

torch = pytest.importorskip("torch")

CHOL = np.linalg.cholesky(COV)

# name -> (parameters, build(L, *params), value scored by log_prob)
ROWS: dict[str, tuple[list[np.ndarray], Callable[..., Any], np.ndarray]] = {
    "Normal": ([LOC, SCALE], lambda L, a, b: L.distributions.Normal(a, b), REAL),
    "Uniform": ([LOC - 2, LOC + 3], lambda L, a, b: L.distributions.Uniform(a, b), LOC),
    "Exponential": ([RATE], lambda L, a: L.distributions.Exponential(a), POS),
    "Laplace": ([LOC, SCALE], lambda L, a, b: L.distributions.Laplace(a, b), REAL),
    "LogNormal": ([LOC, SCALE], lambda L, a, b: L.distributions.LogNormal(a, b), POS),
    "Gamma": ([CONC, RATE], lambda L, a, b: L.distributions.Gamma(a, b), POS),
    "Beta": ([CONC, RATE], lambda L, a, b: L.distributions.Beta(a, b), UNIT),
    "Dirichlet": (
        [SIMPLEX * 3],
        lambda L, a: L.distributions.Dirichlet(a),
        SIMPLEX / SIMPLEX.sum(-1, keepdims=True),
    ),
    "Poisson": ([RATE], lambda L, a: L.distributions.Poisson(a), COUNTS),
    "Cauchy": ([LOC, SCALE], lambda L, a, b: L.distributions.Cauchy(a, b), REAL),
    "InverseGamma": ([CONC + 1, RATE], lambda L, a, b: L.distributions.InverseGamma(a, b), POS),
    "FisherSnedecor": ([CONC * 3, RATE], lambda L, a, b: L.distributions.FisherSnedecor(a, b), POS),
    "Kumaraswamy": ([CONC, RATE], lambda L, a, b: L.distributions.Kumaraswamy(a, b), UNIT),
    "RelaxedOneHotCategorical": (
        [LOC],
        lambda L, a: L.distributions.RelaxedOneHotCategorical(L.tensor(0.5).double(), logits=a),
        SIMPLEX[:, :4] / SIMPLEX[:, :4].sum(-1, keepdims=True),
    ),
    "RelaxedBernoulli": (
        [LOC],
        lambda L, a: L.distributions.RelaxedBernoulli(L.tensor(0.7).double(), logits=a),
        UNIT,
    ),
    "MixtureSameFamily": (
        [SIMPLEX[:, :4], LOC, SCALE],
        lambda L, w, a, b: L.distributions.MixtureSameFamily(
            L.distributions.Categorical(w), L.distributions.Normal(a, b)
        ),
        REAL[:, 0],
    ),
    "StudentT": (
        [CONC * 2 + 0.5, LOC, SCALE],
        lambda L, a, b, c: L.distributions.StudentT(a, b, c),
        REAL,
    ),
    "Bernoulli": ([LOC], lambda L, a: L.distributions.Bernoulli(logits=a), COUNTS % 2),
    "Binomial": ([LOC], lambda L, a: L.distributions.Binomial(5, logits=a), COUNTS),
    "Categorical": (
        [SIMPLEX],
        lambda L, a: L.distributions.Categorical(probs=a),
        np.array([[0, 4, 2], [1, 1, 3]])[..., None],
    ),
    "MVN(scale_tril)": (
        [MVN_LOC, CHOL],
        lambda L, a, b: L.distributions.MultivariateNormal(a, scale_tril=b),
        REAL[:2, :3],
    ),
    "MVN(covariance)": (
        [MVN_LOC, COV],
        lambda L, a, b: L.distributions.MultivariateNormal(a, covariance_matrix=b),
        REAL[:, :3].reshape(3, 1, 3),
    ),
    "Wishart": (
        [np.array([4.5, 6.0]), CHOL],
        lambda L, a, b: L.distributions.Wishart(a, scale_tril=b),
        COV[::-1] / 3,
    ),
    "Transformed(Tanh)": (
        [LOC, SCALE],
        lambda L, a, b: L.distributions.TransformedDistribution(
            L.distributions.Normal(a, b),
            [L.distributions.AffineTransform(0.1, 0.5), L.distributions.TanhTransform()],
        ),
        UNIT * 1.6 - 0.8,
    ),
}
RSAMPLE = ["Normal", "Uniform", "Exponential", "Laplace", "LogNormal", "MVN(scale_tril)"]
RSAMPLE += ["MVN(covariance)", "Transformed(Tanh)", "Gamma", "Beta", "Dirichlet", "Cauchy"]
RSAMPLE += ["StudentT", "RelaxedOneHotCategorical", "RelaxedBernoulli", "InverseGamma"]
RSAMPLE += ["FisherSnedecor", "Kumaraswamy"]
# no closed-form entropy in PyTorch
NO_ENTROPY = {"Transformed(Tanh)", "Poisson", "Binomial", "MixtureSameFamily"}
NO_ENTROPY |= {"RelaxedOneHotCategorical", "RelaxedBernoulli", "FisherSnedecor"}

# Note [PyTorch's trigamma]: PyTorch's CPU trigamma (the derivative of digamma, reached by the
# entropy and KL gradients of Gamma, Beta, Dirichlet) is accurate to about 1.3e-9 absolute near
# 0.6 (measured against scipy.special.polygamma), adjit's to 2e-16: those rows compare with that
# bound, and are also checked against finite differences.
TRIGAMMA = {"Gamma", "Beta", "Dirichlet", "StudentT", "InverseGamma"}
TRIGAMMA |= {"Kumaraswamy", "Wishart"}


def _tolerance(name: str) -> dict[str, float]:
    return {"rtol": 1e-8, "atol": 1e-8} if name in TRIGAMMA else {"rtol": 1e-11, "atol": 1e-12}


def _loss(L: Any, name: str, params: list[Any], with_sample: bool) -> Any:
    dist = ROWS[name][1](L, *params)
    value = L.tensor(np.ascontiguousarray(ROWS[name][2]))
    loss = dist.log_prob(value.to(params[0].dtype) if value.is_floating_point() else value).sum()
    if name not in NO_ENTROPY:
        loss = loss + dist.entropy().sum()
    if with_sample:
        L.manual_seed(7)
        loss = loss + dist.rsample((2,)).sin().sum()
    return loss


def _grads(L: Any, name: str, with_sample: bool) -> list[np.ndarray]:
    params = [L.tensor(p, dtype=L.float64, requires_grad=True) for p in ROWS[name][0]]
    _loss(L, name, params, with_sample).backward()
    return [p.grad.numpy() for p in params]


@pytest.mark.parametrize("name", list(ROWS))
def test_log_prob_and_entropy_grads_match_torch(name: str) -> None:
    for a, b in zip(_grads(adjit, name, False), _grads(torch, name, False), strict=True):
        np.testing.assert_allclose(a, b, **_tolerance(name))


@pytest.mark.parametrize("name", RSAMPLE)
def test_rsample_grads_match_torch(name: str) -> None:
    for a, b in zip(_grads(adjit, name, True), _grads(torch, name, True), strict=True):
        np.testing.assert_allclose(a, b, **_tolerance(name))


@pytest.mark.parametrize("name", ["Gamma", "Beta", "Dirichlet", "MVN(scale_tril)", "Binomial"])
def test_log_prob_grads_finite_differences(name: str) -> None:
    """(unvalidated: a perturbed scale_tril leaves the lower-Cholesky constraint)"""
    params = [adjit.tensor(p, dtype=adjit.float64, requires_grad=True) for p in ROWS[name][0]]
    adjit.distributions.Distribution.set_default_validate_args(False)
    try:
        assert adjit.autograd.gradcheck(
            lambda *ps: _loss(adjit, name, list(ps), False), params, eps=1e-6, atol=1e-5
        )
    finally:
        adjit.distributions.Distribution.set_default_validate_args(True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dirichlet_grad_matches_torch(dtype: str) -> None:
    """Every branch of the beta-decomposition gradient (x near 0, near 1, at and off the mean
    for large alpha and beta, the rational correction). PyTorch sums the near-0/1 series in
    float32 for a float tensor, adjit in double: float32 agrees to PyTorch's float32 error."""
    rng = np.random.default_rng(0)
    small, large = rng.uniform(0.1, 3, 100), rng.uniform(6, 40, 100)
    alpha = np.concatenate([small, small, large, large])
    beta = np.concatenate([small[::-1], large, small, large[::-1]])
    x = np.clip(rng.beta(alpha, beta), 1e-6, 1 - 1e-6)
    x[::7] = (alpha / (alpha + beta))[::7]

    def run(L: Any) -> np.ndarray:
        args = [L.tensor(v, dtype=getattr(L, dtype)) for v in (x, alpha, alpha + beta)]
        return L._dirichlet_grad(*args).numpy()

    rtol = 1e-12 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(run(adjit), run(torch), rtol=rtol)


def test_compiled_gamma_rsample_draws_afresh() -> None:
    """The gamma draws are RANDOM equations: each compiled call continues the stream."""

    def f(c: Any) -> Any:
        return adjit.distributions.Gamma(c, 2.0, validate_args=False).rsample((3,)).sum(0)

    conc = adjit.tensor(CONC[0], requires_grad=True)
    compiled = adjit.compile(f, fullgraph=True)
    adjit.manual_seed(2)
    ours = [compiled(conc), compiled(conc)]
    torch.manual_seed(2)
    tconc = torch.tensor(CONC[0], requires_grad=True)
    theirs = [torch.distributions.Gamma(tconc, 2.0).rsample((3,)).sum(0) for _ in range(2)]
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)
    ours[1].sum().backward()
    theirs[1].sum().backward()
    np.testing.assert_allclose(conc.grad.numpy(), tconc.grad.numpy(), rtol=1e-5)


def _kl_grads(L: Any) -> list[np.ndarray]:
    a, b, c = (L.tensor(p, dtype=L.float64, requires_grad=True) for p in (CONC, RATE, MVN_LOC))
    chol = L.tensor(CHOL, dtype=L.float64, requires_grad=True)
    D = L.distributions
    total = (
        D.kl_divergence(D.Normal(a, b), D.Normal(b, a)).sum()
        + D.kl_divergence(D.Gamma(a, b), D.Gamma(b, a)).sum()
        + D.kl_divergence(D.Beta(a, b), D.Beta(b, a)).sum()
        + D.kl_divergence(D.Bernoulli(logits=a), D.Bernoulli(logits=b)).sum()
        + D.kl_divergence(D.Categorical(logits=a), D.Categorical(logits=b)).sum()
        + D.kl_divergence(
            D.MultivariateNormal(c, scale_tril=chol),
            D.MultivariateNormal(c * 0, scale_tril=chol[0]),
        ).sum()
        + D.kl_divergence(D.Independent(D.Uniform(-a, b), 2), D.Independent(D.Uniform(-a, b), 2))
    )
    total.backward()
    return [p.grad.numpy() for p in (a, b, c, chol)]


def test_kl_grads_match_torch() -> None:
    for a, b in zip(_kl_grads(adjit), _kl_grads(torch), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8)  # Note [PyTorch's trigamma]


def _vae_loss(L: Any, enc: Any, dec: Any, x: Any) -> Any:
    D = L.distributions
    h = x @ enc
    q = D.Normal(h[:, :2], h[:, 2:].exp())
    z = q.rsample()
    prior = D.Normal(L.zeros_like(z), L.ones_like(z))
    recon = D.Independent(D.Bernoulli(logits=z @ dec), 1)
    return (D.kl_divergence(q, prior).sum(-1) - recon.log_prob(x)).mean()


VAE_X = (np.random.default_rng(3).uniform(size=(5, 6)) > 0.5).astype(np.float32)
VAE_ENC = np.random.default_rng(4).normal(size=(6, 4)).astype(np.float32) * 0.3
VAE_DEC = np.random.default_rng(5).normal(size=(2, 6)).astype(np.float32)


def _vae(L: Any, fn: Callable[..., Any]) -> tuple[float, np.ndarray, np.ndarray]:
    enc = L.tensor(VAE_ENC, requires_grad=True)
    dec = L.tensor(VAE_DEC, requires_grad=True)
    L.manual_seed(11)
    loss = fn(enc, dec, L.tensor(VAE_X))
    loss.backward()
    return loss.item(), enc.grad.numpy(), dec.grad.numpy()


@pytest.mark.parametrize("validate", [True, False])
def test_compiled_vae_loss_matches_eager_and_torch(validate: bool) -> None:
    """rsample + log_prob + kl_divergence compiled: the whole loss is one graph (fullgraph=True),
    the validation checks run in it (Note [validation while tracing] in distribution.py)."""
    adjit.distributions.Distribution.set_default_validate_args(validate)
    try:
        eager = _vae(adjit, lambda e, d, x: _vae_loss(adjit, e, d, x))
        compiled_fn = adjit.compile(lambda e, d, x: _vae_loss(adjit, e, d, x), fullgraph=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # (no graph break warning)
            compiled = _vae(adjit, compiled_fn)
        again = _vae(adjit, compiled_fn)  # the second call draws afresh from the reseeded stream
    finally:
        adjit.distributions.Distribution.set_default_validate_args(True)
    theirs = _vae(torch, lambda e, d, x: _vae_loss(torch, e, d, x))
    for ours in (eager, compiled, again):
        np.testing.assert_allclose(ours[0], theirs[0], rtol=2e-6)
        for a, b in zip(ours[1:], theirs[1:], strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
