"""linalg.ldl_factor / ldl_factor_ex / ldl_solve side by side with PyTorch (LAPACK sytrf/sytrs,
hetrf/hetrs): the same pivots (1x1 and 2x2 blocks) and LD within rounding on random matrices,
real and complex symmetric, complex Hermitian, batched, singular (info), solutions, PyTorch's
errors, and the missing derivative raising PyTorch's error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "complex64", "complex128"]


def _symmetric(shape: tuple[int, ...], dtype: str, seed: int, scale_row: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    if scale_row and shape[-1] > 1:  # small diagonal entries: 2x2 pivots and interchanges
        a[..., 0, :] *= 1e-3
    return np.asarray((a + np.swapaxes(a, -1, -2)).astype(dtype))


def _eps(dtype: str) -> float:
    return float(np.finfo(np.float32 if dtype in ("float32", "complex64") else np.float64).eps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(12))
def test_factor_as_pytorch(seed: int, dtype: str) -> None:
    n = 1 + seed % 7
    shape = (2, n, n) if seed % 3 == 0 else (n, n)
    a = _symmetric(shape, dtype, seed, scale_row=seed % 2 == 0)
    got = adjit.linalg.ldl_factor_ex(adjit.tensor(a))
    want = torch.linalg.ldl_factor_ex(torch.tensor(a))
    assert type(got).__name__ == type(want).__name__ == "linalg_ldl_factor_ex"
    np.testing.assert_array_equal(got.pivots.numpy(), want.pivots.numpy())
    np.testing.assert_array_equal(got.info.numpy(), want.info.numpy())
    assert str(got.pivots.dtype) == str(want.pivots.dtype) == "torch.int32"
    w = want.LD.numpy()
    scale = max(1.0, float(np.abs(w).max(initial=0.0)))
    np.testing.assert_allclose(got.LD.numpy(), w, rtol=0, atol=256 * _eps(dtype) * scale)
    factor = adjit.linalg.ldl_factor(adjit.tensor(a))
    assert type(factor).__name__ == "linalg_ldl_factor"
    np.testing.assert_array_equal(factor.LD.numpy(), got.LD.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(6))
def test_solve_as_pytorch(seed: int, dtype: str) -> None:
    n = 2 + seed
    a = _symmetric((n, n), dtype, 20 + seed, scale_row=seed % 2 == 1)
    b = _symmetric((n, n), dtype, 40 + seed, scale_row=False)[:, :3]
    ld, piv = torch.linalg.ldl_factor(torch.tensor(a))
    want = torch.linalg.ldl_solve(ld, piv, torch.tensor(b)).numpy()
    got = adjit.linalg.ldl_solve(
        adjit.tensor(ld.numpy()), adjit.tensor(piv.numpy()), adjit.tensor(b)
    )
    cond = np.linalg.cond(a.astype(np.complex128))
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=64 * _eps(dtype) * cond * scale)


def test_solve_broadcasts_batches_as_pytorch() -> None:
    a = _symmetric((3, 4, 4), "float64", 5, scale_row=True)
    b = np.random.default_rng(6).standard_normal((4, 2))
    ld, piv = adjit.linalg.ldl_factor(adjit.tensor(a))
    got = adjit.linalg.ldl_solve(ld, piv, adjit.tensor(b)).numpy()
    np.testing.assert_allclose(a @ got, np.broadcast_to(b, (3, 4, 2)), atol=1e-10)


def test_singular_info_as_pytorch() -> None:
    a = np.stack([np.eye(3), np.zeros((3, 3)), np.diag([1.0, 0.0, 2.0])])
    got = adjit.linalg.ldl_factor_ex(adjit.tensor(a))
    want = torch.linalg.ldl_factor_ex(torch.tensor(a))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    # (PyTorch reports info > 0 through an internal assert ending in these words)
    for fn in (
        lambda: adjit.linalg.ldl_factor(adjit.tensor(a)),
        lambda: adjit.linalg.ldl_factor_ex(adjit.tensor(a), check_errors=True),
    ):
        with pytest.raises(RuntimeError, match="Unknown error code: 1"):
            fn()


def _error(fn: Callable[[Any], Any], m: Any) -> tuple[type, str]:
    try:
        fn(m)
    except Exception as e:  # noqa: BLE001 - compared with PyTorch's
        return type(e), str(e)
    return type(None), ""


def _factor_grad(m: Any) -> Any:
    a = m.tensor([[2.0, 1.0], [1.0, -3.0]], requires_grad=True)
    return m.linalg.ldl_factor(a).LD.sum().backward()


def _solve_grad(m: Any) -> Any:
    ld, piv = m.linalg.ldl_factor(m.tensor([[2.0, 1.0], [1.0, -3.0]]))
    b = m.ones(2, 1, requires_grad=True)
    return m.linalg.ldl_solve(ld, piv, b).sum().backward()


ERRORS: dict[str, Callable[[Any], Any]] = {
    "factor_grad": _factor_grad,
    "solve_grad": _solve_grad,
    "vector": lambda m: m.linalg.ldl_factor(m.ones(3)),
    "not_square": lambda m: m.linalg.ldl_factor(m.ones(2, 3)),
    "long": lambda m: m.linalg.ldl_factor_ex(m.ones(2, 2, dtype=m.int64)),
    "solve_b_vector": lambda m: m.linalg.ldl_solve(m.eye(2), m.ones(2, dtype=m.int32), m.ones(2)),
    "solve_sizes": lambda m: m.linalg.ldl_solve(m.eye(2), m.ones(2, dtype=m.int32), m.ones(3, 1)),
    "solve_dtype": lambda m: m.linalg.ldl_solve(
        m.eye(2), m.ones(2, dtype=m.int32), m.ones(2, 1, dtype=m.float64)
    ),
    "solve_pivots": lambda m: m.linalg.ldl_solve(m.eye(2), m.ones(3, dtype=m.int32), m.ones(2, 1)),
    "solve_not_square": lambda m: m.linalg.ldl_solve(
        m.eye(2, 3), m.ones(2, dtype=m.int32), m.ones(2, 1)
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_pytorch(name: str) -> None:
    got, want = _error(ERRORS[name], adjit), _error(ERRORS[name], torch)
    assert want[0] is not type(None)
    assert issubclass(got[0], want[0]) and got[1] == want[1]


REFUSED: dict[str, Callable[[], Any]] = {
    "compile": lambda: adjit.compile(lambda a: adjit.linalg.ldl_factor(a).LD)(adjit.eye(2)),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_clearly(name: str) -> None:
    with pytest.raises(NotImplementedError, match="ldl"):
        REFUSED[name]()


def test_hermitian_flag_on_real_input_as_pytorch() -> None:
    a = _symmetric((4, 4), "float64", 9, scale_row=True)
    got = adjit.linalg.ldl_factor(adjit.tensor(a), hermitian=True)
    want = torch.linalg.ldl_factor(torch.tensor(a), hermitian=True)
    np.testing.assert_array_equal(got.pivots.numpy(), want.pivots.numpy())
    np.testing.assert_allclose(got.LD.numpy(), want.LD.numpy(), atol=1e-12)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("seed", range(10))
def test_hermitian_as_pytorch(seed: int, dtype: str) -> None:
    n = 1 + seed % 7
    shape = (2, n, n) if seed % 3 == 0 else (n, n)
    rng = np.random.default_rng(60 + seed)
    a = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    if seed % 2 == 0 and n > 1:
        a[..., 0, :] *= 1e-3
    a = np.asarray((a + np.conj(np.swapaxes(a, -1, -2))).astype(dtype))
    got = adjit.linalg.ldl_factor_ex(adjit.tensor(a), hermitian=True)
    want = torch.linalg.ldl_factor_ex(torch.tensor(a), hermitian=True)
    np.testing.assert_array_equal(got.pivots.numpy(), want.pivots.numpy())
    np.testing.assert_array_equal(got.info.numpy(), want.info.numpy())
    w = want.LD.numpy()
    scale = max(1.0, float(np.abs(w).max(initial=0.0)))
    np.testing.assert_allclose(got.LD.numpy(), w, rtol=0, atol=256 * _eps(dtype) * scale)
    b = np.asarray((rng.standard_normal((n, 2)) + 1j * rng.standard_normal((n, 2))).astype(dtype))
    x = adjit.linalg.ldl_solve(got.LD, got.pivots, adjit.tensor(b), hermitian=True).numpy()
    xt = torch.linalg.ldl_solve(want.LD, want.pivots, torch.tensor(b), hermitian=True).numpy()
    cond = np.linalg.cond(a.astype(np.complex128)).max()
    scale = max(1.0, float(np.abs(xt).max(initial=0.0)))
    np.testing.assert_allclose(x, xt, rtol=0, atol=64 * _eps(dtype) * cond * scale)
