"""Issue 12: compiled sin/cos (values and gradients) at huge arguments, against PyTorch and eager.

Before the Payne-Hanek path (Note [trig range reduction]), float32 kernels were off by more
than 1e-3 from |x| ~ 4e5 and returned -1, 0 or 1 from 1e7; float64 ones from ~2.4e14.
"""

from __future__ import annotations

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
# one ulp-level bound for values in [-1, 1] (torch's own sin/cos err by ~1 ulp too)
ATOL = {"float32": 3e-7, "float64": 1e-15}


def _args(dtype: type) -> np.ndarray:
    info = np.finfo(dtype)
    mags = [0.5, 3.0, 1e4, 4e5, 1e7, 2.4e14, 1e22, 1e30, float(info.max) / 2]
    x = np.array([m for m in mags if m < float(info.max)], dtype=dtype)
    hard = 16367173 * 2.0**72 if dtype is np.float32 else 6381956970095103 * 2.0**797
    x = np.concatenate([x, np.array([hard], dtype=dtype)])
    return np.concatenate([x, -x, np.nextafter(x, np.inf)])


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_compiled_trig_and_gradient_at_huge_arguments(name: str, dtype: str) -> None:
    np_dt, torch_dt = DTYPES[dtype]
    x = _args(np_dt)
    t = torch.tensor(x, dtype=torch_dt, requires_grad=True)
    want = getattr(torch, name)(t)
    (want_grad,) = torch.autograd.grad(want.sum(), t)

    def f(a: adjit.Tensor) -> adjit.Tensor:
        return getattr(a, name)().sum()

    def g(a: adjit.Tensor) -> adjit.Tensor:
        return getattr(a, name)()

    got = adjit.compile(g)(adjit.from_numpy(x)).numpy()
    value, grad = adjit.value_and_grad(f)(adjit.from_numpy(x))
    only_grad = adjit.grad(f)(adjit.from_numpy(x)).numpy()
    eager = adjit.from_numpy(x).requires_grad_()
    f(eager).backward()

    atol = ATOL[dtype]
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=0, atol=atol)
    np.testing.assert_allclose(grad.numpy(), want_grad.numpy(), rtol=0, atol=atol)
    np.testing.assert_allclose(only_grad, want_grad.numpy(), rtol=0, atol=atol)
    np.testing.assert_allclose(eager.grad.numpy(), want_grad.numpy(), rtol=0, atol=atol)
    assert float(value) == pytest.approx(float(want.detach().sum()), abs=atol * x.size)
