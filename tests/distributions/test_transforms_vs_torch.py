"""Transforms and the constraint registry side by side with torch.distributions: forward,
inverse, log-abs-det-Jacobian, shapes, domains, reprs; biject_to and transform_to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

from ._cases import CONC, LOC, SCALE

torch = pytest.importorskip("torch")

MAT = np.random.default_rng(5).normal(size=(2, 3, 3))
# name -> (transform(L), input x)
TRANSFORMS: dict[str, tuple[Callable[[Any], Any], np.ndarray]] = {
    "Exp": (lambda L: L.distributions.ExpTransform(), LOC),
    "Sigmoid": (lambda L: L.distributions.SigmoidTransform(), LOC),
    "Tanh": (lambda L: L.distributions.TanhTransform(), LOC * 0.5),
    "Softplus": (lambda L: L.distributions.SoftplusTransform(), LOC),
    "Power": (lambda L: L.distributions.PowerTransform(L.tensor(CONC)), SCALE),
    "Affine(event_dim=1)": (
        lambda L: L.distributions.AffineTransform(L.tensor(LOC), L.tensor(-SCALE), event_dim=1),
        LOC[::-1].copy(),
    ),
    "Compose": (
        lambda L: L.distributions.ComposeTransform(
            [L.distributions.AffineTransform(0.3, 2.0), L.distributions.SigmoidTransform()]
        ),
        LOC,
    ),
    "Independent(Exp)": (
        lambda L: L.distributions.IndependentTransform(L.distributions.ExpTransform(), 1),
        LOC,
    ),
    "Inverse(Sigmoid)": (lambda L: L.distributions.SigmoidTransform().inv, np.abs(LOC) / 3),
    "StickBreaking": (lambda L: L.distributions.StickBreakingTransform(), LOC),
    "Reshape": (lambda L: L.distributions.ReshapeTransform((4,), (2, 2)), LOC),
    "Softmax": (lambda L: L.distributions.SoftmaxTransform(), LOC),
    "Cat": (
        lambda L: L.distributions.CatTransform(
            [L.distributions.ExpTransform(), L.distributions.SigmoidTransform()], 1, [1, 3]
        ),
        LOC,
    ),
    "Stack": (
        lambda L: L.distributions.StackTransform(
            [L.distributions.ExpTransform(), L.distributions.AffineTransform(1.0, 3.0)], 0
        ),
        LOC[:2],
    ),
    "CumulativeDistribution": (
        lambda L: L.distributions.CumulativeDistributionTransform(
            L.distributions.Normal(L.tensor(LOC), L.tensor(SCALE))
        ),
        LOC[::-1].copy(),
    ),
    "CorrCholesky": (lambda L: L.distributions.CorrCholeskyTransform(), LOC[:, :3]),
    "LowerCholesky": (lambda L: L.distributions.LowerCholeskyTransform(), MAT),
    "PositiveDefinite": (lambda L: L.distributions.PositiveDefiniteTransform(), MAT),
}
JACOBIAN_FREE = {"Softmax", "LowerCholesky", "PositiveDefinite"}  # PyTorch has none either


def _run(L: Any, name: str) -> list[Any]:
    build, x = TRANSFORMS[name]
    tr, xt = build(L), L.tensor(x)
    y = tr(xt)
    out = [y, tr.inv(y), repr(tr), repr(tr.domain), repr(tr.codomain), tr.bijective]
    out += [tuple(tr.forward_shape(xt.shape)), tuple(tr.inverse_shape(y.shape))]
    if name not in JACOBIAN_FREE:
        out.append(tr.log_abs_det_jacobian(xt, y))
    return out


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transforms_match_torch(name: str) -> None:
    for a, b in zip(_run(adjit, name), _run(torch, name), strict=True):
        if hasattr(b, "numpy"):
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-13)
        else:
            assert a == b


def test_transform_cache_and_equality() -> None:
    D = adjit.distributions
    tr = D.ExpTransform(cache_size=1)
    x = adjit.tensor([0.5, 1.0])
    y = tr(x)
    assert tr.inv(y) is x and tr(x) is y
    assert D.ExpTransform() == D.ExpTransform() and D.ExpTransform() != D.SigmoidTransform()
    assert D.AffineTransform(0.0, 2.0) == D.AffineTransform(0.0, 2.0)
    assert D.ComposeTransform([D.ExpTransform()]).inv.inv == D.ComposeTransform([D.ExpTransform()])
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        D.ExpTransform(cache_size=2)
    with pytest.raises(ValueError, match="different numbers of elements"):
        D.ReshapeTransform((4,), (3,))


C = "L.distributions.constraints."
REGISTRY = [
    C + "real",
    C + "positive",
    C + "nonnegative",
    C + "greater_than(2.0)",
    C + "greater_than_eq(-1.0)",
    C + "less_than(3.0)",
    C + "interval(0.0, 1.0)",
    C + "interval(-2.0, 5.0)",
    C + "half_open_interval(0.0, 1.0)",
    C + "unit_interval",
    C + "simplex",
    C + "independent(" + C + "positive, 1)",
    C + "real_vector",
    C + "lower_cholesky",
    C + "positive_definite",
    C + "boolean",
    C + "corr_cholesky",
    C + "cat([" + C + "positive, " + C + "unit_interval], 1, [2, 2])",
    C + "stack([" + C + "positive, " + C + "real, " + C + "interval(-1.0, 1.0)], 0)",
]


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("constraint", REGISTRY)
def test_constraint_registry_matches_torch(registry: str, constraint: str) -> None:
    def run(L: Any) -> Any:
        transform = getattr(L.distributions, registry)(eval(constraint, {"L": L}))
        matrix = transform.domain.event_dim == 2
        vector = LOC[:, :3] if "corr" in constraint else LOC  # 3 = D(D-1)/2 values for D = 3
        x = L.tensor(np.tril(MAT[0]) + 3 * np.eye(3) if matrix else vector)
        return repr(transform), transform(x).numpy()

    try:
        theirs = run(torch)
    except NotImplementedError as e:
        with pytest.raises(NotImplementedError, match=str(e)):
            run(adjit)
        return
    ours = run(adjit)
    assert ours[0] == theirs[0]
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
