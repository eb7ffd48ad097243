"""Shapes (batch, event, sample, expand, broadcast parameters), enumerate_support, argument
and sample validation errors, and reprs, side by side with torch.distributions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

from ._cases import DISTS, LOC, SCALE, assert_same_error, t

torch = pytest.importorskip("torch")


def _both(program: Callable[[Any], Any]) -> tuple[Any, Any]:
    return program(adjit), program(torch)


@pytest.mark.parametrize("name", list(DISTS))
def test_shapes(name: str) -> None:
    build = DISTS[name][0]
    ours, theirs = build(adjit, "float32"), build(torch, "float32")
    assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape
    assert repr(ours.batch_shape) == repr(theirs.batch_shape)
    assert ours.has_rsample == theirs.has_rsample
    assert ours.has_enumerate_support == theirs.has_enumerate_support
    assert ours._extended_shape((2, 1)) == theirs._extended_shape((2, 1))
    big = (5, *theirs.batch_shape)
    ours_e, theirs_e = ours.expand(big), theirs.expand(big)
    assert type(ours_e) is type(ours) and ours_e.batch_shape == theirs_e.batch_shape
    assert ours_e.event_shape == theirs_e.event_shape
    try:
        theirs_mean = theirs_e.mean
    except NotImplementedError:  # e.g. a TransformedDistribution
        with pytest.raises(NotImplementedError):
            _ = ours_e.mean
    else:
        assert ours_e.mean.shape == theirs_mean.shape
    torch.manual_seed(0)
    sample = theirs_e.sample((2,))
    assert tuple(ours_e.sample((2,)).shape) == tuple(sample.shape)
    ours_lp = ours_e.log_prob(adjit.from_numpy(sample.numpy()))
    np.testing.assert_allclose(
        ours_lp.numpy(), theirs_e.log_prob(sample).numpy(), rtol=5e-6, atol=5e-6
    )


@pytest.mark.parametrize(
    "program",
    [
        lambda L: L.distributions.Normal(L.zeros(3, 1), L.ones(4)).batch_shape,
        lambda L: L.distributions.Normal(0.0, L.ones(2, 4)).batch_shape,
        lambda L: L.distributions.Normal(0.0, 1.0).batch_shape,
        lambda L: L.distributions.Uniform(L.zeros(2, 1), 3.0).sample((4,)).shape,
        lambda L: L.distributions.Normal(0.0, L.ones(2, 4)).loc.dtype,
        lambda L: L.distributions.Normal(0.0, 1.0).loc.dtype,
        lambda L: L.distributions.Normal(0.0, L.ones(2, dtype=L.float64)).loc.dtype,
        lambda L: L.distributions.Bernoulli(0.3).enumerate_support(),
        lambda L: L.distributions.Bernoulli(L.full((2, 3), 0.3)).enumerate_support(False),
        lambda L: L.distributions.Bernoulli(L.full((2, 3), 0.3)).enumerate_support(),
        lambda L: L.distributions.Categorical(L.ones(2, 4)).enumerate_support(),
        lambda L: L.distributions.Categorical(L.ones(2, 4)).enumerate_support(False),
        lambda L: L.distributions.OneHotCategorical(L.ones(2, 3)).enumerate_support(),
        lambda L: L.distributions.Binomial(3, L.full((2,), 0.3)).enumerate_support(),
        lambda L: L.distributions.Binomial(3, L.full((2,), 0.3)).entropy(),
        lambda L: L.distributions.Categorical(L.ones(4)).sample().shape,
        lambda L: (
            L.distributions.Independent(L.distributions.Normal(L.zeros(2, 3), 1.0), 2)
            .expand((4,))
            .log_prob(L.zeros(3))
            .shape
        ),
        lambda L: L.distributions.Bernoulli(L.tensor([0.5, 0.2])).mode,
        lambda L: L.distributions.Dirichlet(L.tensor([[0.5, 0.7, 0.9], [2.0, 3.0, 4.0]])).mode,
        lambda L: L.distributions.Beta(L.tensor([0.5, 2.0]), L.tensor([0.7, 3.0])).mode,
        lambda L: L.distributions.Uniform(0.0, 2.0).mode,
        lambda L: L.distributions.Categorical(L.ones(2, 3)).mean,
        lambda L: L.distributions.LogNormal(0.0, 1.0).support.lower_bound,
        lambda L: L.distributions.Normal(0.0, 1.0).log_prob(L.zeros(2, 1)).shape,
    ],
)
def test_shape_programs(program: Callable[[Any], Any]) -> None:
    ours, theirs = _both(program)
    if hasattr(theirs, "numpy"):
        assert ours.dtype == getattr(adjit, str(theirs.dtype).split(".")[1])
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    else:
        assert repr(ours) == repr(theirs)


ERRORS = [
    lambda L: L.distributions.Normal(0.0, -1.0),
    lambda L: L.distributions.Normal(L.zeros(2), L.tensor([1.0, 0.0])),
    lambda L: L.distributions.Normal(0.0, 1.0).log_prob([0.0]),
    lambda L: L.distributions.Normal(L.zeros(3), 1.0).log_prob(L.zeros(2)),
    lambda L: L.distributions.Exponential(1.0).log_prob(L.tensor([-1.0, 1.0])),
    lambda L: L.distributions.Bernoulli(0.3, 0.2),
    lambda L: L.distributions.Bernoulli(),
    lambda L: L.distributions.Bernoulli(1.5),
    lambda L: L.distributions.Bernoulli(0.5).log_prob(L.tensor(0.5)),
    lambda L: L.distributions.Categorical(L.tensor(0.5)),
    lambda L: L.distributions.Categorical(logits=L.tensor(0.5)),
    lambda L: L.distributions.Categorical(L.tensor([0.5, -0.5])),
    lambda L: L.distributions.Categorical(L.ones(3)).log_prob(L.tensor(3)),
    lambda L: L.distributions.OneHotCategorical(L.ones(3)).log_prob(L.ones(2)),
    lambda L: L.distributions.Uniform(1.0, 0.0),
    lambda L: L.distributions.Uniform(0.0, 1.0).log_prob(L.tensor(2.0)),
    lambda L: L.distributions.Beta(1.0, -1.0),
    lambda L: L.distributions.Dirichlet(L.tensor(1.0)),
    lambda L: L.distributions.Binomial(2.5, L.tensor(0.5)),
    lambda L: L.distributions.Binomial(L.tensor([2.0, 3.0]), L.tensor(0.5)).entropy(),
    lambda L: L.distributions.MultivariateNormal(L.tensor(1.0), L.eye(2)),
    lambda L: L.distributions.MultivariateNormal(L.zeros(2)),
    lambda L: L.distributions.MultivariateNormal(L.zeros(2), L.eye(2), scale_tril=L.eye(2)),
    lambda L: L.distributions.MultivariateNormal(L.zeros(2), L.ones(2)),
    lambda L: L.distributions.MultivariateNormal(L.zeros(2), scale_tril=L.ones(2)),
    lambda L: L.distributions.MultivariateNormal(L.zeros(2), precision_matrix=L.ones(2)),
    lambda L: L.distributions.MultivariateNormal(L.zeros(2), scale_tril=L.ones(2, 2)),
    lambda L: L.distributions.MultivariateNormal(L.zeros(2), L.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda L: L.distributions.Independent(L.distributions.Normal(L.zeros(2), 1.0), 2),
    lambda L: L.distributions.Independent(
        L.distributions.Bernoulli(L.ones(2) / 2), 1
    ).enumerate_support(),
    lambda L: L.distributions.TransformedDistribution(L.distributions.Normal(0.0, 1.0), "exp"),
    lambda L: L.distributions.TransformedDistribution(L.distributions.Normal(0.0, 1.0), [1]),
    lambda L: L.distributions.kl_divergence(
        L.distributions.Normal(0.0, 1.0), L.distributions.Bernoulli(0.5)
    ),
    lambda L: L.distributions.kl_divergence(
        L.distributions.Gamma(1.0, 1.0), L.distributions.Poisson(1.0)
    ),
    lambda L: L.distributions.kl_divergence(
        L.distributions.MultivariateNormal(L.zeros(2), L.eye(2)),
        L.distributions.MultivariateNormal(L.zeros(3), L.eye(3)),
    ),
    lambda L: L.distributions.kl_divergence(
        L.distributions.MultivariateNormal(L.zeros(2), L.eye(2)),
        L.distributions.LowRankMultivariateNormal(L.zeros(3), L.ones(3, 1), L.ones(3)),
    ),
    lambda L: L.distributions.LowRankMultivariateNormal(L.zeros(3), L.ones(2, 1), L.ones(3)),
    lambda L: L.distributions.LowRankMultivariateNormal(L.zeros(3), L.ones(3, 1), L.ones(2)),
    lambda L: L.distributions.LowRankMultivariateNormal(L.zeros(2, 3), L.ones(4, 3, 1), L.ones(3)),
    lambda L: L.distributions.Distribution.set_default_validate_args(2),
    lambda L: (
        L.distributions.Normal(0.0, 1.0).mode.new_zeros(1).sum()
        + L.distributions.Poisson(1.0).cdf(L.tensor(1.0))
    ),
    lambda L: L.distributions.Categorical(L.ones(2)).cdf(L.tensor(1)),
    lambda L: L.distributions.Exponential(1.0).transforms,
    lambda L: L.distributions.transforms.Transform(cache_size=2),
    lambda L: (
        L.distributions.ExpTransform().event_dim
        + L.distributions.ExpTransform().sign
        + L.distributions.transforms.AbsTransform().sign
    ),
]


@pytest.mark.parametrize("program", ERRORS)
def test_errors_match_torch(program: Callable[[Any], Any]) -> None:
    assert_same_error(program, adjit, torch)


def test_validation_switches() -> None:
    D = adjit.distributions
    D.Normal(0.0, -1.0, validate_args=False)  # no check
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(0.0, -1.0).log_prob(adjit.tensor([1.0, 2.0]))
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    with pytest.warns(FutureWarning, match="sample_n"):
        assert D.Normal(adjit.zeros(2), 1.0).sample_n(3).shape == (3, 2)


REPRS = [
    lambda L: L.distributions.Normal(0.0, 1.0),
    lambda L: L.distributions.Normal(L.zeros(2), 1.0),
    lambda L: L.distributions.Bernoulli(logits=L.tensor(0.25)),
    lambda L: L.distributions.Categorical(L.ones(3)),
    lambda L: L.distributions.MultivariateNormal(L.zeros(2), L.eye(2)),
    lambda L: L.distributions.Independent(L.distributions.Normal(L.zeros(2), 1.0), 1),
    lambda L: L.distributions.LogNormal(0.0, 1.0),
    lambda L: L.distributions.Beta(2.0, 3.0),
    lambda L: L.distributions.ComposeTransform(
        [L.distributions.ExpTransform(), L.distributions.AffineTransform(0.0, 1.0).inv]
    ),
    lambda L: L.distributions.IndependentTransform(L.distributions.TanhTransform(), 1),
    lambda L: [
        L.distributions.constraints.interval(0.0, 1.0),
        L.distributions.constraints.independent(L.distributions.constraints.positive, 1),
        L.distributions.constraints.simplex,
        L.distributions.constraints.integer_interval(0, 3),
        L.distributions.constraints.real_vector,
        L.distributions.constraints.lower_cholesky,
        L.distributions.constraints.nonnegative_integer,
        L.distributions.ExpTransform().inv.domain,
        L.distributions.TanhTransform().codomain,
    ],
]


@pytest.mark.parametrize("program", REPRS)
def test_repr(program: Callable[[Any], Any]) -> None:
    ours, theirs = _both(program)
    assert repr(ours) == repr(theirs)


def test_constraint_checks() -> None:
    C, TC = adjit.distributions.constraints, torch.distributions.constraints
    x = np.array([[0.2, 0.8], [-0.1, 1.1], [0.5, 0.5]])
    m = np.array([[[1.0, 0.0], [0.5, 2.0]], [[1.0, 0.3], [0.5, 2.0]], [[-1.0, 0.0], [0.5, 2.0]]])
    spd = np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.5, 1.0]]])
    for name, value in [
        ("boolean", x.round()),
        ("unit_interval", x),
        ("positive", x),
        ("simplex", x),
        ("real_vector", x),
        ("nonnegative_integer", x * 10),
        ("one_hot", np.eye(2)[[0, 1, 1]] * [[1, 1], [1, 2], [1, 1]]),
        ("lower_triangular", m),
        ("lower_cholesky", m),
        ("square", m),
        ("symmetric", spd),
        ("positive_definite", spd),
        ("positive_semidefinite", spd),
        ("corr_cholesky", m),
    ]:
        ours = getattr(C, name).check(adjit.tensor(value))
        theirs = getattr(TC, name).check(torch.tensor(value))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)
    assert C.dependent_property(is_discrete=True).is_discrete
    assert C.is_dependent(C.dependent) and not C.is_dependent(C.real)
    with pytest.raises(ValueError, match="Cannot determine validity of dependent constraint"):
        C.dependent.check(adjit.zeros(1))


def test_loc_scale_reach_torch_shapes() -> None:
    """The parameters of an expanded distribution are views of the original (PyTorch: no copy)."""
    loc = adjit.tensor(LOC[0, :1])
    d = adjit.distributions.Normal(loc, adjit.tensor(SCALE[0, :1])).expand((3,))
    assert d.loc.shape == (3,) and d.scale.stride() == (0,)
    assert d.log_prob(t(adjit, LOC[0, :3], "float64").float()).shape == (3,)
