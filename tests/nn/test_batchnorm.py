"""BatchNorm1d/2d and F.batch_norm vs PyTorch: train/eval values, gradients, running buffers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F
from adjit import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CONFIGS = [
    {},
    {"momentum": None},
    {"momentum": 0.3, "eps": 1e-3},
    {"affine": False},
    {"bias": False},
    {"track_running_stats": False},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", CONFIGS, ids=str)
@pytest.mark.parametrize(
    "cls,shape",
    [("BatchNorm2d", (4, 3, 5, 5)), ("BatchNorm1d", (6, 3)), ("BatchNorm1d", (5, 3, 4))],
)
def test_batchnorm_module(cls: str, shape: tuple[int, ...], kw: dict[str, Any], dtype: str) -> None:
    a = getattr(nn, cls)(3, **kw).to(getattr(adjit, dtype))
    t = getattr(torch.nn, cls)(3, **kw).to(getattr(torch, dtype))
    assert repr(a) == repr(t)
    rng = np.random.default_rng(0)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for step in range(4):
        if step == 3:
            a.eval(), t.eval()
        x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
        xa, xt = adjit.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yt = a(xa), t(xt)
        assert ya.grad_fn.name() == yt.grad_fn.name() == "NativeBatchNormBackward0"
        np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
        g = rng.standard_normal(shape).astype(dtype)
        ya.backward(adjit.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=10 * tol)
        for pa, pt in zip(a.parameters(), t.parameters(), strict=True):
            np.testing.assert_allclose(pa.grad.numpy(), pt.grad.numpy(), rtol=tol, atol=10 * tol)
            pa.grad, pt.grad = None, None
        sa, st = a.state_dict(), t.state_dict()
        assert list(sa) == list(st)
        for k in sa:
            assert sa[k].numpy().dtype == st[k].numpy().dtype, k
            np.testing.assert_allclose(sa[k].numpy(), st[k].numpy(), rtol=tol, atol=tol)


def test_functional_batch_norm_eval_and_no_stats() -> None:
    x = np.random.default_rng(2).standard_normal((4, 3, 2, 2))
    rm, rv = np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.5, 2.0])
    w, b = np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.5, -1.0])
    A = [adjit.tensor(v) for v in (x, rm, rv, w, b)]
    T = [torch.tensor(v) for v in (x, rm, rv, w, b)]
    np.testing.assert_allclose(F.batch_norm(*A).numpy(), TF.batch_norm(*T).numpy(), rtol=1e-12)
    ya = F.batch_norm(A[0], None, None, training=True)
    yt = TF.batch_norm(T[0], None, None, training=True)
    np.testing.assert_allclose(ya.numpy(), yt.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(adjit.randn(1, 3), None, None, training=True)


def test_batchnorm_finite_differences() -> None:
    x = adjit.randn(3, 2, 2, 2, dtype=adjit.float64, requires_grad=True)
    w = adjit.randn(2, dtype=adjit.float64, requires_grad=True)
    b = adjit.randn(2, dtype=adjit.float64, requires_grad=True)
    assert adjit.autograd.gradcheck(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b)
    )


def test_batchnorm_input_dims() -> None:
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(adjit.randn(2, 3))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(adjit.randn(2, 3, 4, 4))
