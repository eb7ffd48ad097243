"""torch.lobpcg side by side with PyTorch: the same seeded start gives the same eigenvalues and
eigenvectors (up to each vector's sign: adjit's LAPACK signs eigh's vectors differently),
both methods, B, batches, PyTorch's backward, errors, and a graph break when compiled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

RNG = np.random.default_rng(4)


def _spd(m: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    a = RNG.standard_normal((*batch, m, m))
    return a @ np.swapaxes(a, -1, -2) + m * np.eye(m) * 0.1


def _run(T: Any, a: np.ndarray, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    T.manual_seed(0)
    extra = {k: T.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    E, X = T.lobpcg(T.tensor(a), **extra)
    return E.numpy(), X.numpy()


def _same(ours: Any, theirs: Any, tol: float) -> None:
    (e, x), (te, tx) = ours, theirs
    np.testing.assert_allclose(e, te, rtol=tol)
    signs = np.sign(np.sum(x * tx, axis=-2, keepdims=True))
    np.testing.assert_allclose(x * signs, tx, atol=tol * 10)


CASES: dict[str, dict[str, Any]] = {
    "largest": {"k": 2},
    "smallest": {"k": 2, "largest": False},
    "basic": {"k": 3, "method": "basic"},
    "n": {"k": 2, "n": 3},
    "niter": {"k": 2, "niter": 3},
    "tol": {"k": 1, "tol": 1e-4},
}


@pytest.mark.parametrize("name", list(CASES))
def test_eigenpairs_as_torch(name: str) -> None:
    a = _spd(18)
    _same(_run(adjit, a, **CASES[name]), _run(torch, a, **CASES[name]), 1e-9)


def test_generalized_batched_and_given_start() -> None:
    a, b = _spd(15), _spd(15)
    _same(_run(adjit, a, k=2, B=b), _run(torch, a, k=2, B=b), 1e-8)
    batch = _spd(12, (2,))
    _same(_run(adjit, batch, k=2), _run(torch, batch, k=2), 1e-9)
    x0 = RNG.standard_normal((12, 2))
    _same(_run(adjit, batch[0], X=x0), _run(torch, batch[0], X=x0), 1e-9)


def test_float32() -> None:
    a = _spd(15).astype(np.float32)
    _same(_run(adjit, a, k=1), _run(torch, a, k=1), 1e-4)


@pytest.mark.parametrize("k", [2, 12])
def test_pytorch_backward(k: int) -> None:
    a = _spd(12)
    grads = []
    for T in (adjit, torch):
        T.manual_seed(0)
        x = T.tensor(a, requires_grad=True)
        E, U = T.lobpcg(x, k=min(k, 4))
        (E.sum() + (U**4).sum()).backward()  # (a sign-free loss of the vectors)
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-9)


ERRORS: dict[str, Callable[[Any], Any]] = {
    "too-many": lambda T: T.lobpcg(T.eye(5, dtype=T.float64), k=2),
    "square": lambda T: T.lobpcg(T.ones(6, 5, dtype=T.float64)),
    "b-shape": lambda T: T.lobpcg(T.eye(6, dtype=T.float64), B=T.eye(5, dtype=T.float64)),
    "backward-b": lambda T: (
        T.lobpcg(T.eye(9, dtype=T.float64).requires_grad_(), k=1, B=T.eye(9, dtype=T.float64))[0]
        .sum()
        .backward()
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_torch(name: str) -> None:
    errors = []
    for T in (adjit, torch):
        T.manual_seed(0)
        with pytest.raises(Exception) as info:  # noqa: PT011 - compared with torch's
            ERRORS[name](T)
        errors.append((type(info.value).__name__, str(info.value)))
    assert errors[0] == errors[1]


def test_compiled_breaks_the_graph_once() -> None:
    a = _spd(12)
    f = adjit.compile(lambda x: adjit.lobpcg(x * 2.0, k=2)[0].sum() + 1)
    adjit.manual_seed(0)
    with pytest.warns(UserWarning, match="has 1 graph break"):
        got = f(adjit.tensor(a))
    adjit.manual_seed(0)
    want = adjit.lobpcg(adjit.tensor(a) * 2.0, k=2)[0].sum() + 1
    assert got.item() == pytest.approx(want.item(), rel=1e-12)
    with pytest.raises(adjit.TracingError, match="lobpcg"):
        adjit.compile(lambda x: adjit.lobpcg(x, k=2)[0], fullgraph=True)(adjit.tensor(a))
