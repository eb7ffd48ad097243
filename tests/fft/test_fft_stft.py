"""adjit.stft / adjit.istft (and the Tensor methods) side by side with torch: values, gradients,
warnings and errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from fft_cases import close

import adjit

STFT = [
    ({"n_fft": 8, "return_complex": True}, None, False),
    ({"n_fft": 8, "hop_length": 3, "return_complex": True}, 8, True),
    ({"n_fft": 8, "hop_length": 3, "win_length": 5, "normalized": True, "return_complex": True},
     5, False),
    ({"n_fft": 8, "hop_length": 3, "win_length": 5, "center": False, "return_complex": False},
     5, True),
    ({"n_fft": 8, "hop_length": 3, "win_length": 5, "center": False, "align_to_window": True,
      "return_complex": True}, 5, False),
    ({"n_fft": 8, "hop_length": 3, "win_length": 5, "onesided": False, "pad_mode": "constant",
      "return_complex": True}, 5, False),
    ({"n_fft": 7, "hop_length": 2, "pad_mode": "replicate", "return_complex": True}, 7, True),
    ({"n_fft": 7, "hop_length": 2, "pad_mode": "circular", "return_complex": True}, None, False),
    ({"n_fft": 6, "hop_length": 9, "center": False, "return_complex": True}, 6, True),
]  # fmt: skip


def _weights(y: Any) -> np.ndarray:
    return np.cos(np.arange(y.numel())).reshape(tuple(y.shape))


def _stft(mod: Any, a: np.ndarray, w: np.ndarray | None, kw: dict) -> tuple:
    x = mod.tensor(a, requires_grad=True)
    win = None if w is None else mod.tensor(w, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = x.stft(window=win, **kw)
    yr = mod.view_as_real(y) if y.is_complex() else y
    (yr * mod.tensor(_weights(yr))).sum().backward()
    return y, x.grad, None if win is None else win.grad


@pytest.mark.parametrize("kw,win,batch", STFT)
@pytest.mark.parametrize("kind", ["float64", "complex128"])
def test_stft_like_torch(kw: dict, win: int | None, batch: bool, kind: str) -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal((3, 21) if batch else (21,))
    if kind == "complex128":
        if kw.get("onesided") is not False:
            kw = {**kw, "onesided": False}
        a = a + 1j * rng.standard_normal(a.shape)
    w = None if win is None else rng.random(win) + 0.5
    for got, want in zip(_stft(adjit, a, w, kw), _stft(torch, a, w, kw), strict=True):
        if want is None:
            assert got is None
        else:
            assert str(got.dtype) == str(want.dtype)
            close(got, want, 64)


def test_stft_float32_and_dtype_promotion() -> None:
    a = np.random.default_rng(6).standard_normal(40).astype(np.float32)
    w = np.hanning(16)
    for window_dtype in ("float32", "float64"):
        got = adjit.stft(adjit.tensor(a), 16, window=adjit.tensor(w.astype(window_dtype)),
                         return_complex=True)  # fmt: skip
        want = torch.stft(torch.tensor(a), 16, window=torch.tensor(w.astype(window_dtype)),
                          return_complex=True)  # fmt: skip
        assert str(got.dtype) == str(want.dtype)
        close(got, want, 16, scale=float(np.abs(a).sum()))


ISTFT = [
    ({"n_fft": 8}, {}, None),
    ({"n_fft": 8, "hop_length": 3}, {}, 8),
    ({"n_fft": 8, "hop_length": 3, "win_length": 5, "normalized": True},
     {"length": 21}, 5),
    ({"n_fft": 8, "hop_length": 3, "center": False}, {}, 8),
    ({"n_fft": 8, "hop_length": 3, "onesided": False}, {}, 8),
    ({"n_fft": 8, "hop_length": 3, "onesided": False}, {"return_complex": True}, 8),
    ({"n_fft": 7, "hop_length": 2}, {"length": 30}, 7),
    ({"n_fft": 7, "hop_length": 2}, {"length": 10}, 7),
]  # fmt: skip


def _istft(mod: Any, spec: np.ndarray, w: np.ndarray | None, kw: dict) -> tuple:
    x = mod.tensor(spec, requires_grad=True)
    win = None if w is None else mod.tensor(w, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = x.istft(window=win, **kw)
    yr = mod.view_as_real(y) if y.is_complex() else y
    (yr * mod.tensor(_weights(yr))).sum().backward()
    return y, x.grad, None if win is None else win.grad


@pytest.mark.parametrize("skw,ikw,win", ISTFT)
def test_istft_like_torch_and_inverts_stft(skw: dict, ikw: dict, win: int | None) -> None:
    rng = np.random.default_rng(9)
    a = rng.standard_normal((2, 21))
    w = None if win is None else np.hanning(win + 2)[1:-1] + 0.1
    window = None if w is None else torch.tensor(w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = torch.stft(torch.tensor(a), window=window, return_complex=True, **skw).numpy()
    kw = {**skw, **ikw}
    for got, want in zip(_istft(adjit, spec, w, kw), _istft(torch, spec, w, kw), strict=True):
        if want is None:
            assert got is None
        else:
            assert str(got.dtype) == str(want.dtype)
            close(got, want, 64)
    y = _istft(adjit, spec, w, kw)[0].detach()
    if not y.is_complex():
        n = min(21, y.shape[-1])
        close(y[:, :n], a[:, :n], 64)


def _message(fn: Any) -> tuple[type, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
        except (RuntimeError, NotImplementedError) as e:
            return type(e), str(e)
    raise AssertionError("no error")


ERRORS = [
    lambda m: m.stft(m.randn(20), 4),
    lambda m: m.stft(m.randn(2, 3, 20), 4, return_complex=True),
    lambda m: m.stft(m.randn(20), 40, return_complex=True),
    lambda m: m.stft(m.randn(20), 8, hop_length=0, return_complex=True),
    lambda m: m.stft(m.randn(20), 8, win_length=10, return_complex=True),
    lambda m: m.stft(m.randn(20), 8, window=m.ones(5), return_complex=True),
    lambda m: m.stft(m.randn(20), 0, center=False, return_complex=True),
    lambda m: m.stft(m.randn(20), 8, pad_mode="foo", return_complex=True),
    lambda m: m.stft(m.arange(20), 8, hop_length=2, return_complex=True),
    lambda m: m.stft(m.randn(20, dtype=m.complex64), 8, onesided=True, return_complex=True),
    lambda m: m.stft(m.randn(20), 8, center=True, align_to_window=True, return_complex=True),
    lambda m: m.istft(m.randn(5, 9), 8),
    lambda m: m.istft(m.randn(6, 9, dtype=m.complex64), 8, window=m.hann_window(8)),
    lambda m: m.istft(m.randn(5, 9, dtype=m.complex64), 8, onesided=False),
    lambda m: m.istft(m.randn(5, 9, dtype=m.complex64), 8, window=m.zeros(8)),
    lambda m: m.istft(m.randn(5, 9, dtype=m.complex64), 8, hop_length=9),
    lambda m: m.istft(m.randn(5, 9, dtype=m.complex64), 8, win_length=9),
    lambda m: m.istft(m.randn(5, 9, dtype=m.complex64), 8, window=m.ones(7)),
    lambda m: m.istft(m.randn(5, 0, dtype=m.complex64), 8),
    lambda m: m.istft(m.randn(2, 2, 5, 9, dtype=m.complex64), 8),
    lambda m: m.istft(m.randn(5, 9, dtype=m.complex64), 8, return_complex=True),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_like_torch(case: int) -> None:
    assert _message(lambda: ERRORS[case](adjit)) == _message(lambda: ERRORS[case](torch))


def test_warnings_once_like_torch() -> None:
    """PyTorch warns once per process (TORCH_WARN_ONCE; earlier tests may have used it up)."""
    from adjit.runtime import fft_stft

    fft_stft.WARNED.clear()
    for _ in range(2):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            adjit.stft(adjit.randn(20), 8, return_complex=True)
            adjit.stft(adjit.randn(20), 8, window=adjit.ones(8), return_complex=False)
            adjit.istft(adjit.randn(5, 9, dtype=adjit.complex64), 8)
        if _ == 0:
            assert [str(w.message)[:40] for w in seen] == [
                "A window was not provided. A rectangular",
                "stft with return_complex=False is deprec",
                "A window was not provided. A rectangular",
            ]
            assert all(w.filename == __file__ for w in seen)
        else:
            assert seen == []
