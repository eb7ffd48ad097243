"""Wishart beyond the shared rows: gradients through its Bartlett rsample (side by side with
torch where torch can differentiate it, finite differences where its in-place resampling
breaks torch's backward), under adjit.compile, and its constructor's errors and warnings."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import adjit

from ._cases import COV, assert_same_error

torch = pytest.importorskip("torch")

CHOL = np.linalg.cholesky(COV)
DF = np.array([4.5, 6.0])


def _loss(L: Any, df: Any, chol: Any, shape: tuple[int, ...]) -> Any:
    dist = L.distributions.Wishart(df, scale_tril=chol)
    L.manual_seed(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Note [Wishart's resampling]
        sample = dist.rsample(shape)
    return sample.sin().sum() + dist.log_prob(L.tensor(COV / 2)).sum() + dist.entropy().sum()


def _grads(L: Any, shape: tuple[int, ...]) -> list[np.ndarray]:
    df = L.tensor(DF, requires_grad=True)
    chol = L.tensor(CHOL, requires_grad=True)
    _loss(L, df, chol, shape).backward()
    return [df.grad.numpy(), chol.grad.numpy()]


def test_rsample_grads_match_torch() -> None:
    for a, b in zip(_grads(adjit, ()), _grads(torch, ()), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8)  # Note [PyTorch's trigamma]


def test_rsample_grads_with_sample_shape_finite_differences() -> None:
    """torch's backward fails here (its resampling writes in place to a mask it saved); the
    draws are the same as torch's, and their gradient in the scale's lower triangle (all that
    log_prob reads) checks against finite differences. (The gamma draws' implicit gradient in
    df is not the derivative of the rejection sampler at a fixed seed: it is checked against
    torch above.)"""
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _grads(torch, (2,))
    adjit.distributions.Distribution.set_default_validate_args(False)
    try:
        assert adjit.autograd.gradcheck(
            lambda chol: _loss(adjit, adjit.tensor(DF), chol.tril(), (2,)),
            [adjit.tensor(CHOL, requires_grad=True)],
            eps=1e-6,
            atol=1e-5,
        )
    finally:
        adjit.distributions.Distribution.set_default_validate_args(True)


def test_compiled_log_prob_and_rsample_match_eager() -> None:
    def f(df: Any, chol: Any) -> Any:
        return _loss(adjit, df, chol, ())

    eager = _grads(adjit, ())
    df = adjit.tensor(DF, requires_grad=True)
    chol = adjit.tensor(CHOL, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the data-dependent checks are graph breaks
        loss = adjit.compile(f)(df, chol)
    np.testing.assert_allclose(loss.item(), _loss(adjit, *map(adjit.tensor, (DF, CHOL)), ()).item())
    loss.backward()
    for a, b in zip([df.grad.numpy(), chol.grad.numpy()], eager, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "program",
    [
        lambda L: L.distributions.Wishart(4.0),
        lambda L: L.distributions.Wishart(4.0, L.eye(2), scale_tril=L.eye(2)),
        lambda L: L.distributions.Wishart(4.0, L.ones(2)),
        lambda L: L.distributions.Wishart(1.0, L.eye(3)),
        lambda L: L.distributions.Wishart(L.tensor([4.0, 1.5]), L.eye(3)),
        lambda L: L.distributions.Wishart(4.0, L.tensor([[1.0, 2.0], [2.0, 1.0]])),
        lambda L: L.distributions.Wishart(4.0, scale_tril=L.ones(2, 2)),
        lambda L: L.distributions.Wishart(4.0, L.eye(2)).log_prob(L.ones(3, 3)),
        lambda L: L.distributions.Wishart(4.0, L.eye(2)).log_prob(-L.eye(2)),
        lambda L: L.distributions.Wishart(4.0, L.eye(2)).cdf(L.eye(2)),
    ],
)
def test_errors_match_torch(program: Any) -> None:
    assert_same_error(program, adjit, torch)


def test_low_df_warns_and_repr() -> None:
    for L in (adjit, torch):
        with pytest.warns(UserWarning, match="Low df values detected"):
            dist = L.distributions.Wishart(L.tensor([2.5, 4.0]), L.eye(3))
        with pytest.warns(UserWarning, match="Singular sample detected."):
            dist.rsample()
    assert repr(adjit.distributions.Wishart(4.0, adjit.eye(2))) == repr(
        torch.distributions.Wishart(4.0, torch.eye(2))
    )
    assert repr(adjit.distributions.Wishart(adjit.ones(2) * 4, precision_matrix=adjit.eye(2))) == (
        repr(torch.distributions.Wishart(torch.ones(2) * 4, precision_matrix=torch.eye(2)))
    )
