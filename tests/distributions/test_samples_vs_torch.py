"""Samples side by side with torch.distributions: the same seed gives the same bits (the
distributions draw through adjit's PyTorch-stream samplers) and leaves the generator in the
same state; the samplers adjit lacks refuse, naming the missing op."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

from ._cases import DISTS, assert_same_error

torch = pytest.importorskip("torch")

MATCHING = list(DISTS)
# Note [derived samples]: these draw the same words as PyTorch (the generator ends in the same
# state, the raw draws are equal) but then apply exp, log, pow, tanh, sigmoid or a matrix product,
# which adjit computes to within an ulp or two of PyTorch's vectorized kernels, not bit for bit
DERIVED = {
    "Laplace",
    "LogNormal",
    "Gumbel",
    "Pareto",
    "Weibull",
    "MixtureSameFamily(MVN)",
    "LowRankMVN",
    "LKJCholesky",
    "GeneralizedPareto",
    "ContinuousBernoulli",
    "VonMises",
    "InverseGamma",
    "Kumaraswamy",
    "LogisticNormal",
    "MVN(covariance)",
    "MVN(scale_tril)",
    "MVN(precision)",
}
DERIVED |= {name for name in DISTS if name.startswith(("Transformed", "Relaxed", "Wishart"))}
SHAPES = [(), (2, 5)]  # () * batch (3, 4): under 16 elements; (2, 5): normal_ vector fill


def _draws(L: Any, name: str, dtype: str, shape: tuple[int, ...]) -> list[np.ndarray]:
    dist = DISTS[name][0](L, dtype)
    L.manual_seed(1234)
    out = [dist.sample(shape)]
    if dist.has_rsample:
        out.append(dist.rsample(shape))
    out.append(L.get_rng_state())
    return [v.detach().numpy() for v in out]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", MATCHING)
def test_samples_match_torch_bit_for_bit(name: str, dtype: str, shape: tuple[int, ...]) -> None:
    ours, theirs = _draws(adjit, name, dtype, shape), _draws(torch, name, dtype, shape)
    assert len(ours) == len(theirs)
    np.testing.assert_array_equal(ours[-1], theirs[-1])  # the generator's state
    eps = np.finfo(dtype).eps
    for a, b in zip(ours[:-1], theirs[:-1], strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        if name == "LKJCholesky":  # Note [a Cholesky factor's small diagonal]
            a, b = _squared_diagonal(a), _squared_diagonal(b)
        if name in DERIVED:  # a few ulps of the terms' magnitude
            np.testing.assert_allclose(a, b, rtol=4 * eps, atol=8 * eps * np.abs(b).max())
        else:
            np.testing.assert_array_equal(a, b)


_RNG = np.random.default_rng(0)
COUNT = np.concatenate([_RNG.integers(0, 10, 60), _RNG.integers(10, 300, 60)]).astype(float)
P = _RNG.uniform(0, 1, COUNT.size)
P[::11], P[::13], P[::17] = 0.5, 0.0, 1.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rejection_sampler_ops_match_torch(dtype: str) -> None:
    """The samplers themselves: every branch of Marsaglia-Tsang (alpha below 1, 1, large),
    Dirichlet rows of many lengths (ATen's summation order of the row totals), binomial by
    inversion and by BTRS on either side of p = 0.5, and its edges (p = 0, 1, count = 0)."""
    alpha = np.array([0.3, 0.5, 1.0, 1.7, 2.5, 9.0, 0.05, 30.0, 0.999, 1e-3, 200.0] * 20)
    rows = [np.random.default_rng(k).uniform(0.1, 3, size=(3, k)) for k in (1, 2, 5, 7, 19, 70)]

    def run(L: Any) -> list[np.ndarray]:
        L.manual_seed(5)
        out = [L._standard_gamma(L.tensor(alpha, dtype=getattr(L, dtype)))]
        out += [L._sample_dirichlet(L.tensor(r, dtype=getattr(L, dtype))) for r in rows]
        out.append(
            L.binomial(
                L.tensor(COUNT, dtype=getattr(L, dtype)), L.tensor(P, dtype=getattr(L, dtype))
            )
        )
        out.append(
            L.binomial(
                L.tensor([[7.0, 7.0, 9.0], [40.0, 40.0, 60.0]], dtype=getattr(L, dtype)),
                L.tensor([0.2, 0.7, 0.5], dtype=getattr(L, dtype)),
            )
        )
        out.append(L.get_rng_state())
        return [v.numpy() for v in out]

    for a, b in zip(run(adjit), run(torch), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    with pytest.raises(NotImplementedError, match="\"gamma_cpu\" not implemented for 'Long'"):
        adjit._standard_gamma(adjit.tensor([1, 2]))


@pytest.mark.parametrize(
    "program",
    [
        lambda L: L.binomial(L.ones(3) * 5, L.full((2,), 0.5)),
        lambda L: L.binomial(L.ones(3) * 5, L.full((3,), 0.5, dtype=L.float64)),
        lambda L: L.binomial(L.ones(3, dtype=L.long) * 5, L.full((3,), 0.5)),
        lambda L: L.binomial(L.ones(2, requires_grad=True), L.full((2,), 0.5)).sum().backward(),
        lambda L: L._sample_dirichlet(L.ones(2, requires_grad=True)).sum().backward(),
    ],
)
def test_sampler_errors_match_torch(program: Any) -> None:
    assert_same_error(program, adjit, torch)


def test_sample_has_no_history_and_rsample_has() -> None:
    loc = adjit.zeros(3, requires_grad=True)
    dist = adjit.distributions.Normal(loc, 1.0)
    assert not dist.sample().requires_grad and dist.rsample().requires_grad
    strait = adjit.distributions.OneHotCategoricalStraightThrough(logits=loc)
    assert strait.rsample().requires_grad


# Note [a Cholesky factor's small diagonal]
# An LKJ sample's diagonal is sqrt(1 - (the squares of its row's other entries)): where that
# sum is near 1, an ulp of it (~1e-7 in float32) moves a diagonal entry d by 1e-7 / (2 d), on
# a Zen 4 0.027051 against PyTorch's 0.027049 (2.2e-6). The diagonal is compared squared, as
# the well-conditioned 1 - sum it is; every other entry as drawn.


def _squared_diagonal(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    i = np.arange(a.shape[-1])
    out[..., i, i] = a[..., i, i] ** 2
    return out
