"""torch.svd_lowrank / pca_lowrank side by side with PyTorch: the same seeded sketch gives the
same singular values and the same approximation (U, V up to each column's sign: adjit's LAPACK
and PyTorch's choose signs differently for wide matrices), errors, gradients, compiled."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import adjit

RNG = np.random.default_rng(11)


def _low_rank(m: int, n: int, rank: int, dtype: Any = np.float64) -> np.ndarray:
    a = RNG.standard_normal((m, rank)) @ RNG.standard_normal((rank, n))
    return (a + 1e-3 * RNG.standard_normal((m, n))).astype(dtype)


def _run(lib: Any, name: str, a: np.ndarray, *args: Any, **kwargs: Any) -> list[np.ndarray]:
    lib.manual_seed(5)
    return [t.detach().numpy() for t in getattr(lib, name)(lib.tensor(a), *args, **kwargs)]


def _same_up_to_signs(ours: list[np.ndarray], theirs: list[np.ndarray], tol: float) -> None:
    (u, s, v), (tu, ts, tv) = ours, theirs
    assert u.shape == tu.shape and s.shape == ts.shape and v.shape == tv.shape
    scale = float(np.abs(ts).max())
    np.testing.assert_allclose(s, ts, rtol=tol, atol=tol * scale)
    signs = np.sign(np.sum(u * tu, axis=-2, keepdims=True))  # each column: +1 or -1
    np.testing.assert_allclose(u * signs, tu, atol=tol * 10)
    np.testing.assert_allclose(v * signs, tv, atol=tol * 10)
    approx = (u * s[..., None, :]) @ np.swapaxes(v, -1, -2)
    want = (tu * ts[..., None, :]) @ np.swapaxes(tv, -1, -2)
    np.testing.assert_allclose(approx, want, atol=tol * scale)


CASES = {
    "tall": ((30, 10), {"q": 4}),
    "wide": ((8, 25), {"q": 3}),
    "niter0": ((30, 10), {"q": 4, "niter": 0}),
    "batched": ((2, 20, 6), {"q": 3}),
}


@pytest.mark.parametrize("name", ["svd_lowrank", "pca_lowrank"])
@pytest.mark.parametrize("case", list(CASES))
def test_same_sketch_same_factorization(name: str, case: str) -> None:
    shape, kwargs = CASES[case]
    a = (
        np.stack([_low_rank(*shape[-2:], 3) for _ in range(shape[0])])
        if len(shape) == 3
        else (_low_rank(*shape, 3))
    )
    _same_up_to_signs(_run(adjit, name, a, **kwargs), _run(torch, name, a, **kwargs), 1e-10)


def test_float32_and_integer_inputs() -> None:
    a = _low_rank(16, 7, 2, np.float32)
    _same_up_to_signs(_run(adjit, "svd_lowrank", a, 3), _run(torch, "svd_lowrank", a, 3), 2e-5)
    ints = RNG.integers(-5, 5, (12, 6))
    msgs = []
    for lib in (adjit, torch):  # (the float sketch times an integer matrix: refused alike)
        with pytest.raises(RuntimeError) as info:
            lib.svd_lowrank(lib.tensor(ints), 2)
        msgs.append(str(info.value))
        with pytest.raises(RuntimeError, match="mean"):  # (centering: a mean of integers)
            lib.pca_lowrank(lib.tensor(ints), 2)
    assert "expected m1 and m2 to have the same dtype, but got: long int != float" in msgs[0]
    assert msgs[1] == "expected m1 and m2 to have the same dtype, but got: long int != float"


def test_svd_lowrank_with_m() -> None:
    a = _low_rank(20, 9, 3)
    m = RNG.standard_normal((1, 9))
    ours = [t.numpy() for t in _seeded(adjit, a, m)]
    theirs = [t.numpy() for t in _seeded(torch, a, m)]
    _same_up_to_signs(ours, theirs, 1e-10)


def _seeded(lib: Any, a: np.ndarray, m: np.ndarray) -> Any:
    lib.manual_seed(3)
    return lib.svd_lowrank(lib.tensor(a), q=4, M=lib.tensor(m))


@pytest.mark.parametrize("q, niter", [(9, 2), (-1, 2), (2, -1)])
def test_pca_lowrank_errors(q: int, niter: int) -> None:
    msgs = []
    for lib in (adjit, torch):
        with pytest.raises(ValueError) as info:
            lib.pca_lowrank(lib.ones(5, 4), q=q, niter=niter)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


def test_gradients_and_compiled() -> None:
    a = _low_rank(15, 6, 3)
    grads = []
    for lib in (adjit, torch):
        x = lib.tensor(a, requires_grad=True)
        lib.manual_seed(2)
        lib.svd_lowrank(x, 3)[1].sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-9)
    x = adjit.tensor(a, requires_grad=True)
    compiled = adjit.compile(lambda t: adjit.pca_lowrank(t, 3)[1].sum())
    adjit.manual_seed(2)
    out = compiled(x)
    out.backward()
    adjit.manual_seed(2)
    y = adjit.tensor(a, requires_grad=True)
    eager = adjit.pca_lowrank(y, 3)[1].sum()
    eager.backward()
    np.testing.assert_allclose(out.item(), eager.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), atol=1e-10)
