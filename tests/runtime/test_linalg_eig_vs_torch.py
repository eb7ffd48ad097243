"""linalg.eig / linalg.eigvals side by side with PyTorch: values (eigenvectors up to each
column's phase, which LAPACK builds choose apart in float32), A V = V diag(L), gradients of
phase-invariant losses vs torch.autograd and vs central finite differences in float64 (real and
imaginary parts of A perturbed apart), the gauge error, argument errors and refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "complex64", "complex128"]
SHAPES = [(4, 4), (2, 3, 3), (1, 1), (2, 0, 0), (5, 5)]


def _matrix(shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return np.asarray(a.astype(dtype))


def _phase_fixed(v: np.ndarray) -> np.ndarray:
    """Each column divided by the phase of its largest entry (eigenvectors are unique up to it)."""
    if v.size == 0:
        return v
    k = np.argmax(np.abs(v), axis=-2)[..., None, :]
    top = np.take_along_axis(v, k, axis=-2)
    return v * (np.abs(top) / top)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_values_as_pytorch(shape: tuple[int, ...], dtype: str) -> None:
    a = _matrix(shape, dtype, 1)
    got = adjit.linalg.eig(adjit.tensor(a))
    want = torch.linalg.eig(torch.tensor(a))
    assert type(got).__name__ == type(want).__name__ == "linalg_eig"
    assert got._fields == ("eigenvalues", "eigenvectors")
    eps = np.finfo(np.float32 if dtype in ("float32", "complex64") else np.float64).eps
    tol = 64 * eps * max(1.0, float(np.abs(a).max(initial=0.0)))  # eigenproblem conditioning
    for g, w in zip(got, want, strict=True):
        assert str(g.dtype) == str(w.dtype) and tuple(g.shape) == tuple(w.shape)
    np.testing.assert_allclose(got.eigenvalues.numpy(), want.eigenvalues.numpy(), atol=tol)
    v = got.eigenvectors.numpy()
    np.testing.assert_allclose(_phase_fixed(v), _phase_fixed(want.eigenvectors.numpy()), atol=tol)
    lam = got.eigenvalues.numpy()
    np.testing.assert_allclose(a @ v, v * lam[..., None, :], atol=tol)
    vals = adjit.linalg.eigvals(adjit.tensor(a))
    np.testing.assert_array_equal(vals.numpy(), got.eigenvalues.numpy())


LOSSES: dict[str, Callable[[Any, Any, Any, Any], Any]] = {
    # each invariant under V -> V e^{i phi} (PyTorch's gauge condition)
    "values": lambda m, L, V, c: (L * L).real.sum() + (L.imag * c[..., 0, :]).sum(),
    "vectors": lambda m, L, V, c: (V.abs() ** 2 * c).sum(),
    "both": lambda m, L, V, c: ((V.abs() ** 2) * L.real.unsqueeze(-2) * c).sum() + L.abs().sum(),
    "ratio": lambda m, L, V, c: (V[..., 0, :] / V[..., 1, :]).real.sum(),
}


def _grad(m: Any, a: np.ndarray, loss: str) -> tuple[Any, Any]:
    A = m.tensor(a, requires_grad=True)  # noqa: N806
    c = m.tensor(np.linspace(0.5, 1.5, a.shape[-1] ** 2).reshape(a.shape[-2:]))
    L, V = m.linalg.eig(A)  # noqa: N806
    out = LOSSES[loss](m, L, V, c.to(L.real.dtype))
    out.backward()
    return out, A.grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", list(LOSSES))
def test_gradients_as_pytorch(loss: str, dtype: str) -> None:
    a = _matrix((2, 4, 4), dtype, 3)
    (_, g_a), (_, g_t) = _grad(adjit, a, loss), _grad(torch, a, loss)
    assert str(g_a.dtype) == str(g_t.dtype)
    eps = np.finfo(np.float32 if dtype in ("float32", "complex64") else np.float64).eps
    scale = max(1.0, float(np.abs(g_t.numpy()).max()))
    np.testing.assert_allclose(g_a.numpy(), g_t.numpy(), atol=2048 * eps * scale)


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_gradients_vs_finite_differences(loss: str, dtype: str) -> None:
    a = _matrix((3, 3), dtype, 5)
    _, g = _grad(adjit, a, loss)

    def f(x: np.ndarray) -> float:
        with adjit.no_grad():
            A = adjit.tensor(x)  # noqa: N806
            c = adjit.tensor(np.linspace(0.5, 1.5, 9).reshape(3, 3))
            L, V = adjit.linalg.eig(A)  # noqa: N806
            return float(LOSSES[loss](adjit, L, V, c).item())

    h = 1e-6
    fd = np.zeros(a.shape, np.complex128)
    for idx in np.ndindex(*a.shape):
        for unit in (1, 1j) if dtype == "complex128" else (1,):
            hi, lo = a.copy(), a.copy()
            hi[idx] += h * unit
            lo[idx] -= h * unit
            fd[idx] += (f(hi) - f(lo)) / (2 * h) * unit
    np.testing.assert_allclose(g.numpy(), fd if dtype == "complex128" else fd.real, atol=1e-6)


def test_eigvals_gradient_and_names_as_pytorch() -> None:
    a = _matrix((3, 3), "float64", 7)

    def run(m: Any) -> tuple[str, np.ndarray]:
        A = m.tensor(a, requires_grad=True)  # noqa: N806
        L = m.linalg.eigvals(A)  # noqa: N806
        (L.abs() ** 3).sum().backward()
        return type(L.grad_fn).__name__, A.grad.numpy()

    (name_a, g_a), (name_t, g_t) = run(adjit), run(torch)
    assert name_a == name_t == "LinalgEigBackward0"
    np.testing.assert_allclose(g_a, g_t, atol=1e-12)


def _error(fn: Callable[[Any], Any], m: Any) -> tuple[type, str]:
    try:
        fn(m)
    except Exception as e:  # noqa: BLE001 - compared with PyTorch's
        return type(e), str(e)
    return type(None), ""


ROTATION = [[0.0, -2.0, 0.1], [1.0, 0.0, 0.3], [0.2, 0.1, 1.0]]  # complex eigenvalues
ERRORS: dict[str, Callable[[Any], Any]] = {
    "gauge": lambda m: (
        m.linalg.eig(m.tensor(ROTATION, requires_grad=True)).eigenvectors.sum().abs().backward()
    ),
    "long": lambda m: m.linalg.eig(m.ones(3, 3, dtype=m.int64)),
    "long_1d": lambda m: m.linalg.eigvals(m.ones(3, dtype=m.int64)),
    "vector": lambda m: m.linalg.eig(m.ones(3)),
    "not_square": lambda m: m.linalg.eig(m.ones(2, 3)),
    "nan": lambda m: m.linalg.eig(m.tensor([[float("nan"), 1.0], [0.0, 1.0]])),
    "inf_grad": lambda m: m.linalg.eigvals(
        m.tensor([[float("inf"), 1.0], [0.0, 1.0]], requires_grad=True)
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_pytorch(name: str) -> None:
    got, want = _error(ERRORS[name], adjit), _error(ERRORS[name], torch)
    assert want[0] is not type(None)
    assert issubclass(got[0], want[0]) and got[1] == want[1]


REFUSED: dict[str, Callable[[], Any]] = {
    "compile": lambda: adjit.compile(lambda a: adjit.linalg.eigvals(a).real)(adjit.eye(2)),
    "out": lambda: adjit.linalg.eig(adjit.eye(2), out=(adjit.eye(2), adjit.eye(2))),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_clearly(name: str) -> None:
    with pytest.raises(NotImplementedError):
        REFUSED[name]()


def test_second_derivative_refuses_by_name() -> None:
    A = adjit.tensor(_matrix((3, 3), "float64", 4), requires_grad=True)  # noqa: N806
    with pytest.raises(NotImplementedError, match="linalg.eig: .* second derivatives"):
        adjit.autograd.grad(adjit.linalg.eigvals(A).real.sum(), A, create_graph=True)


def test_eigvals_of_infinities_without_grad_are_nan_as_pytorch() -> None:
    a = [[[float("inf"), 1.0], [0.0, 1.0]], [[2.0, 1.0], [0.0, 1.0]]]
    got = adjit.linalg.eigvals(adjit.tensor(a)).numpy()
    want = torch.linalg.eigvals(torch.tensor(a)).numpy()
    np.testing.assert_array_equal(got, want)


def test_one_node_for_both_results_as_pytorch() -> None:
    a = _matrix((3, 3), "float64", 8)

    def run(m: Any) -> tuple[Any, ...]:
        A = m.tensor(a, requires_grad=True)  # noqa: N806
        L, V = m.linalg.eig(A)  # noqa: N806
        node = L.grad_fn
        (L.real.sum() + (V.abs() ** 2).sum(0).mean()).backward()
        try:
            L.abs().sum().backward()  # the graph was freed
        except RuntimeError as e:
            freed = str(e)
        return node is V.grad_fn, type(node).__name__, len(node.next_functions), freed[:40]

    assert run(adjit) == run(torch)
