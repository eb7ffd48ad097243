"""linalg.householder_product / torch.orgqr / Tensor.orgqr side by side with PyTorch: values
(real and complex, batched, empty), gradients of A and tau vs torch.autograd and vs central
finite differences in float64, compiled vs eager, and PyTorch's argument errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "complex64", "complex128"]
SHAPES = [((5, 3), 3), ((5, 3), 2), ((5, 3), 0), ((2, 4, 4), 4), ((3, 0), 0), ((1, 1), 1)]


def _inputs(shape: tuple[int, ...], k: int, dtype: str, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    a, tau = rng.standard_normal(shape), rng.uniform(0.2, 1.8, (*shape[:-2], k))
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
        tau = tau + 1j * rng.uniform(-0.5, 0.5, tau.shape)
    return np.asarray(a.astype(dtype)), np.asarray(tau.astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "k"), SHAPES)
def test_values_as_pytorch(shape: tuple[int, ...], k: int, dtype: str) -> None:
    a, tau = _inputs(shape, k, dtype, 1)
    want = torch.linalg.householder_product(torch.tensor(a), torch.tensor(tau)).numpy()
    for fn in (
        lambda m, x, t: m.linalg.householder_product(x, t),
        lambda m, x, t: m.orgqr(x, t),
        lambda m, x, t: x.orgqr(t),
    ):
        got = fn(adjit, adjit.tensor(a), adjit.tensor(tau))
        assert str(got.dtype).replace("torch.", "") == dtype and got.shape == want.shape
        eps = np.finfo(np.float32 if dtype in ("float32", "complex64") else np.float64).eps
        # the product's rounding error is relative to its norm (|Q| reaches 24 here: 32 eps
        # absolute was 1.3 ulps of the largest element, which BLAS kernels differ by)
        scale = max(1.0, float(np.abs(want).max(initial=0.0)))
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=32 * eps * scale)


def _grads(m: Any, a: np.ndarray, tau: np.ndarray) -> tuple[Any, Any, str]:
    x, t = m.tensor(a, requires_grad=True), m.tensor(tau, requires_grad=True)
    q = m.linalg.householder_product(x, t)
    g = np.random.default_rng(2).standard_normal(tuple(q.shape))
    if np.iscomplexobj(a):
        g = g + 1j * np.random.default_rng(3).standard_normal(tuple(q.shape))
    q.backward(m.tensor(g.astype(a.dtype)))
    return x.grad, t.grad, type(q.grad_fn).__name__


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "k"), [((5, 3), 3), ((2, 4, 3), 2)])
def test_gradients_as_pytorch(shape: tuple[int, ...], k: int, dtype: str) -> None:
    a, tau = _inputs(shape, k, dtype, 4)
    *got, name = _grads(adjit, a, tau)
    *want, want_name = _grads(torch, a, tau)
    assert name == want_name
    eps = np.finfo(np.float32 if dtype in ("float32", "complex64") else np.float64).eps
    for g, w in zip(got, want, strict=True):
        w = w.numpy()
        np.testing.assert_allclose(g.numpy(), w, rtol=0, atol=64 * eps * max(1, np.abs(w).max()))


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_gradients_vs_finite_differences(dtype: str) -> None:
    a, tau = _inputs((4, 3), 2, dtype, 5)
    got = _grads(adjit, a, tau)[:2]
    q = adjit.linalg.householder_product(adjit.tensor(a), adjit.tensor(tau))
    g = np.random.default_rng(2).standard_normal(tuple(q.shape))
    if dtype == "complex128":
        g = g + 1j * np.random.default_rng(3).standard_normal(tuple(q.shape))

    def loss(x: np.ndarray, t: np.ndarray) -> float:
        out = adjit.linalg.householder_product(adjit.tensor(x), adjit.tensor(t)).numpy()
        return float(np.real(np.sum(np.conj(g) * out)))

    h = 1e-6
    for i, base in enumerate((a, tau)):
        fd = np.zeros(base.shape, np.complex128)
        for idx in np.ndindex(*base.shape):
            for unit in (1, 1j) if dtype == "complex128" else (1,):
                hi, lo = [a.copy(), tau.copy()], [a.copy(), tau.copy()]
                hi[i][idx] += h * unit
                lo[i][idx] -= h * unit
                fd[idx] += (loss(*hi) - loss(*lo)) / (2 * h) * unit
        want = fd if dtype == "complex128" else fd.real
        np.testing.assert_allclose(got[i].numpy(), want, atol=1e-7)


def test_compiled_as_eager() -> None:
    a, tau = _inputs((2, 5, 3), 3, "float64", 6)
    x, t = adjit.tensor(a, requires_grad=True), adjit.tensor(tau, requires_grad=True)
    f = adjit.compile(lambda x, t: (adjit.linalg.householder_product(x, t) ** 2).sum())
    f(x, t).backward()
    gx, gt = x.grad.numpy(), t.grad.numpy()
    x.grad = t.grad = None
    (adjit.linalg.householder_product(x, t) ** 2).sum().backward()
    np.testing.assert_allclose(gx, x.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(gt, t.grad.numpy(), atol=1e-12)


ERRORS: dict[str, Callable[[Any], Any]] = {
    "vector": lambda m: m.linalg.householder_product(m.ones(3), m.ones(1)),
    "wide": lambda m: m.linalg.householder_product(m.ones(2, 3), m.ones(1)),
    "long_tau": lambda m: m.linalg.householder_product(m.ones(3, 2), m.ones(3)),
    "tau_ndim": lambda m: m.linalg.householder_product(m.ones(3, 2), m.ones(2, 1)),
    "tau_batch": lambda m: m.linalg.householder_product(m.ones(2, 3, 2), m.ones(3, 1)),
    "tau_dtype": lambda m: m.orgqr(m.ones(3, 2), m.ones(1, dtype=m.float64)),
    "long": lambda m: m.linalg.householder_product(
        m.ones(3, 2, dtype=m.int64), m.ones(1, dtype=m.int64)
    ),
    "tau_0d": lambda m: m.linalg.householder_product(m.ones(3, 2), m.ones(())),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_pytorch(name: str) -> None:
    def run(m: Any) -> tuple[type, str]:
        try:
            ERRORS[name](m)
        except Exception as e:  # noqa: BLE001 - compared with PyTorch's
            return type(e), str(e)
        return type(None), ""

    got, want = run(adjit), run(torch)
    assert want[0] is not type(None)
    assert issubclass(got[0], want[0]) and got[1] == want[1]
