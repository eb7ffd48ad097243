"""adjit.fft inside adjit.compile (Note [fft in compiled code]): graph breaks around the
transforms and the complex ops after them, gradients equal to eager's; the real helpers
compile without a break."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from fft_cases import close

import adjit


def _compiled(fn: Any, **kw: Any) -> Any:
    cf = adjit.compile(fn, **kw)

    def call(*args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "adjit.compile: .* graph break")
            return cf(*args)

    return call


def _value_and_grad(fn: Any, a: np.ndarray) -> tuple[Any, Any]:
    x = adjit.tensor(a, requires_grad=True)
    y = fn(x)
    (g,) = adjit.autograd.grad(y.sum(), x)
    return y.detach(), g


def filtered(x: Any) -> Any:
    spectrum = adjit.fft.rfft(x * 2, norm="ortho")
    return adjit.fft.irfft(spectrum, n=x.shape[-1]).sin() * 3 + x


def two_dim(x: Any) -> Any:
    return adjit.fft.hfft2(adjit.fft.ihfft2(x.exp()), s=x.shape[-2:]).tanh()


def spectrogram_inverse(x: Any) -> Any:
    window = adjit.hann_window(16, dtype=x.dtype)
    spec = adjit.stft(x.sin(), 16, 4, window=window, return_complex=True)
    return adjit.istft(spec, 16, 4, window=window, length=x.shape[-1]) * x


@pytest.mark.parametrize("fn", [filtered, two_dim, spectrogram_inverse])
def test_compiled_equals_eager_with_gradients(fn: Any) -> None:
    a = np.random.default_rng(1).standard_normal((3, 64))
    cf = _compiled(fn)
    for _ in range(2):  # the second call runs the cached segments
        y, g = _value_and_grad(cf, a)
        y0, g0 = _value_and_grad(fn, a)
        close(y, y0.numpy(), 64)
        close(g, g0.numpy(), 64)


def test_a_complex_result_can_be_returned() -> None:
    x = adjit.randn(4, 10)
    got = _compiled(lambda x: adjit.fft.fft2(x.cos()))(x)
    close(got, adjit.fft.fft2(x.cos()).numpy(), 40)


def test_fullgraph_refuses_by_name() -> None:
    cf = adjit.compile(lambda x: adjit.fft.rfft(x.sin()), fullgraph=True)
    with pytest.raises(adjit.TracingError, match="fft.rfft: traced code .* complex"):
        cf(adjit.randn(8))


def power(x: Any) -> Any:
    return adjit.fft.rfft(x).abs().pow(2).sum(-1)


def spectrum_ops(x: Any) -> Any:
    z = adjit.fft.fft(x.exp())
    polar = adjit.polar(x[:, :5].abs(), x[:, 5:10])
    return (z * z.conj()).real + adjit.view_as_real(z)[..., 1] + z.angle() * x + polar.imag.sum()


def spectrogram(x: Any) -> Any:
    window = adjit.hann_window(8, dtype=x.dtype)
    return adjit.stft(x, 8, 2, window=window, return_complex=True).abs().log1p()


@pytest.mark.parametrize("fn", [power, spectrum_ops, spectrogram])
def test_complex_arithmetic_runs_between_segments(fn: Any) -> None:
    """Note [complex values between segments]: ops on complex values break the graph."""
    a = np.random.default_rng(2).standard_normal((3, 16))
    cf = _compiled(fn)
    for _ in range(2):
        y, g = _value_and_grad(cf, a)
        y0, g0 = _value_and_grad(fn, a)
        close(y, y0.numpy(), 64)
        close(g, g0.numpy(), 64)


@pytest.mark.parametrize("transform", [adjit.vmap, adjit.grad])
def test_traced_transforms_refuse_by_name(transform: Any) -> None:
    fn = transform(lambda x: adjit.fft.irfft(x.sin()).sum())
    with pytest.raises(adjit.TracingError, match="fft.irfft: traced code .* complex"):
        fn(adjit.randn(3, 8))


def test_complex_arguments_compile_with_breaks() -> None:
    a = np.array([1j, 2 + 1j, -0.5])

    def grad(fn: Any) -> Any:
        z = adjit.tensor(a, requires_grad=True)
        (fn(z) * 2).abs().sum().backward()
        return z.grad

    fn = lambda z: (z * z.conj() + z.exp()).sqrt()  # noqa: E731
    close(grad(_compiled(fn)), grad(fn).numpy(), 3)


def _inplace_on_result(x: Any) -> Any:
    z = adjit.fft.rfft(x)
    z.mul_(2)
    return adjit.fft.irfft(z, n=8)


def _inplace_on_argument(x: Any, z: Any) -> Any:
    z.add_(x)
    return z.abs()


@pytest.mark.parametrize("fn", [_inplace_on_result, _inplace_on_argument])
def test_inplace_on_complex_refuses_clearly(fn: Any) -> None:
    args = [adjit.randn(5), adjit.fft.rfft(adjit.randn(8))[:5].clone()]
    with pytest.raises(NotImplementedError, match="in-place op"):
        _compiled(fn)(*args[: fn.__code__.co_argcount])


def test_complex_arithmetic_refuses_under_fullgraph() -> None:
    z = adjit.fft.rfft(adjit.randn(8))
    cf = adjit.compile(lambda x, z: (z * x).abs(), fullgraph=True)
    with pytest.raises(NotImplementedError, match="does not support complex tensors yet"):
        cf(adjit.randn(5), z)


def test_real_helpers_compile_without_a_break() -> None:
    def fn(x: Any) -> Any:
        return adjit.fft.fftshift(x * 2, dim=-1) + adjit.fft.rfftfreq(14)[:8]

    x = adjit.randn(3, 8)
    close(adjit.compile(fn, fullgraph=True)(x), fn(x).numpy(), 8)
