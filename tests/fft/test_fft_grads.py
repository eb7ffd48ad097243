"""Gradients through adjit.fft: against torch.autograd and float64 central differences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from fft_cases import close, data

import adjit

# (name, input kind, keyword arguments): odd and even n, trimming and padding, each norm
CASES = [
    ("fft", "float64", {"n": 7}),
    ("fft", "complex128", {"norm": "ortho"}),
    ("ifft", "complex128", {"n": 12, "norm": "forward"}),
    ("ifft", "float64", {"dim": 0}),
    ("rfft", "float64", {}),
    ("rfft", "float64", {"n": 7, "norm": "ortho"}),
    ("rfft", "float64", {"n": 12, "norm": "forward"}),
    ("irfft", "complex128", {}),
    ("irfft", "complex128", {"n": 9}),
    ("irfft", "complex128", {"n": 8, "norm": "ortho"}),
    ("irfft", "complex128", {"n": 13, "norm": "forward"}),
    ("irfft", "float64", {"n": 6}),
    ("hfft", "complex128", {"n": 7}),
    ("hfft", "complex128", {"norm": "ortho"}),
    ("ihfft", "float64", {"n": 9, "norm": "forward"}),
    ("ihfft", "float64", {}),
    ("fft2", "complex128", {"s": (5, 4)}),
    ("ifftn", "float64", {"norm": "ortho"}),
    ("rfft2", "float64", {"s": (3, 9)}),
    ("rfftn", "float64", {"dim": (0, 1), "norm": "forward"}),
    ("irfft2", "complex128", {"s": (4, 7)}),
    ("irfftn", "complex128", {"norm": "ortho"}),
    ("hfft2", "complex128", {"s": (3, 6), "norm": "forward"}),
    ("hfftn", "complex128", {"dim": (1, 0)}),
    ("ihfft2", "float64", {"norm": "ortho"}),
    ("ihfftn", "float64", {"s": (4, 5)}),
]


def _loss(mod: Any, y: Any, w: np.ndarray) -> Any:
    """A real loss reading every real and imaginary part with its own weight."""
    if y.is_complex():
        y = mod.view_as_real(y.resolve_conj())
    else:
        w = w[..., 0]
    return (y * mod.tensor(w[tuple(slice(0, n) for n in y.shape)])).sum()


def _grad(mod: Any, name: str, a: np.ndarray, w: np.ndarray, kw: dict) -> np.ndarray:
    x = mod.tensor(a, requires_grad=True)
    _loss(mod, getattr(mod.fft, name)(x, **kw), w).backward()
    return x.grad.resolve_conj().numpy() if mod is torch else x.grad.numpy()


def _central(f: Any, a: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """dL/dre + i dL/dim by central differences (exact for a quadratic loss, but rounding)."""
    parts = [1.0] + ([1j] if np.iscomplexobj(a) else [])
    out = np.zeros(a.shape, a.dtype)
    for i in np.ndindex(a.shape):
        for unit in parts:
            step = np.zeros_like(a)
            step[i] = h * unit
            out[i] += unit * (f(a + step) - f(a - step)) / (2 * h)
    return out


@pytest.mark.parametrize("name,kind,kw", CASES)
def test_gradient_like_torch_and_differences(name: str, kind: str, kw: dict) -> None:
    rng = np.random.default_rng(11)
    a = data(rng, (3, 5), kind)
    w = rng.standard_normal((16, 16, 2))
    got = _grad(adjit, name, a, w, kw)
    close(got, _grad(torch, name, a, w, kw), 64)

    def f(v: np.ndarray) -> float:
        return float(_loss(adjit, getattr(adjit.fft, name)(adjit.tensor(v), **kw), w))

    # a linear map: the differences' only error is rounding, ~ eps * |L| / h
    diff = _central(f, a)
    assert np.abs(got - diff).max() <= 1e-9 * max(1.0, np.abs(diff).max()), (got, diff)


def test_real_loss_through_fft_like_torch() -> None:
    """|rfft(x)|^2 summed, and a filter applied in the frequency domain."""
    a = np.random.default_rng(2).standard_normal((4, 11))
    h = np.random.default_rng(3).standard_normal(6)

    def losses(mod: Any) -> tuple[Any, Any]:
        x = mod.tensor(a, requires_grad=True)
        power = mod.fft.rfft(x).abs().pow(2).sum()
        filtered = mod.fft.irfft(mod.fft.rfft(x, norm="ortho") * mod.tensor(h), n=11)
        loss = power + (filtered.sin() * 3).sum()
        loss.backward()
        return loss.detach(), x.grad

    (l1, g1), (l2, g2) = losses(adjit), losses(torch)
    close(l1, l2, 16)
    close(g1, g2, 16)


def test_float32_gradients_stay_float32() -> None:
    x = adjit.randn(3, 8, requires_grad=True)
    adjit.fft.rfft(x).abs().sum().backward()
    assert x.grad.dtype == adjit.float32
    z = adjit.randn(3, 5, dtype=adjit.complex64, requires_grad=True)
    adjit.fft.irfft(z).sum().backward()
    assert z.grad.dtype == adjit.complex64


def test_second_derivative_like_torch() -> None:
    a = np.random.default_rng(5).standard_normal(8)

    def hvp(mod: Any) -> Any:
        x = mod.tensor(a, requires_grad=True)
        y = mod.fft.rfft(x.sin(), norm="ortho").abs().pow(2).sum()
        (g,) = mod.autograd.grad(y, x, create_graph=True)
        (h,) = mod.autograd.grad(g.sum(), x)
        return h

    close(hvp(adjit), hvp(torch), 8)
