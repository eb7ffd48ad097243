"""Densities, cdfs, entropies and moments of every distribution side by side with
torch.distributions, in float32 and float64."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

from ._cases import DISTS, UNIT, t

torch = pytest.importorskip("torch")

# a few ulps of each dtype, relative, plus an absolute floor for results near 0 (sums of terms
# of order 1 cancelling: log-densities, entropies)
TOL = {"float32": (5e-6, 5e-6), "float64": (1e-13, 1e-13)}

QUERIES: dict[str, Any] = {
    "log_prob": lambda dist, L, d, value: dist.log_prob(value(L, d)),
    "cdf": lambda dist, L, d, value: dist.cdf(value(L, d)),
    "icdf": lambda dist, L, d, value: dist.icdf(t(L, UNIT, d)),
    "entropy": lambda dist, L, d, value: dist.entropy(),
    "perplexity": lambda dist, L, d, value: dist.perplexity(),
    "mean": lambda dist, L, d, value: dist.mean,
    "mode": lambda dist, L, d, value: dist.mode,
    "variance": lambda dist, L, d, value: dist.variance,
    "stddev": lambda dist, L, d, value: dist.stddev,
}


def _outcome(L: Any, name: str, query: str, dtype: str) -> Any:
    build, value = DISTS[name]
    try:
        return QUERIES[query](build(L, dtype), L, dtype, value)
    except (NotImplementedError, RuntimeError) as e:  # e.g. GeneralizedPareto's float64 isclose
        return type(e), str(e).split(" ")[0] if isinstance(e, NotImplementedError) else str(e)


def _numpy(v: Any) -> np.ndarray:
    return v.detach().numpy() if hasattr(v, "detach") else np.asarray(v)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("query", list(QUERIES))
@pytest.mark.parametrize("name", list(DISTS))
def test_values_match_torch(name: str, query: str, dtype: str) -> None:
    ours, theirs = _outcome(adjit, name, query, dtype), _outcome(torch, name, query, dtype)
    if isinstance(theirs, tuple):  # PyTorch refuses: adjit refuses alike
        assert isinstance(ours, tuple) and ours[0] is theirs[0]
        if theirs[0] is RuntimeError:
            assert ours[1] == theirs[1]
        return
    assert not isinstance(ours, tuple), ours
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype)
    a, b = _numpy(ours), _numpy(theirs)
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
