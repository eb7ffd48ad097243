"""The discrete Fourier transforms' primitives (c2c, r2c, c2r, resize) and their derivatives.

Note [fft primitives]
~~~~~~~~~~~~~~~~~~~~~
PyTorch's three FFT primitives, each computed by NumPy's pocketfft on the tensor's data and
carrying PyTorch's derivative (derivatives.yaml) as a rule (``with_rule``):

- ``c2c(x, dims, forward, scale)``: ``scale * F x`` (``F``: the unnormalized DFT over ``dims``,
  ``exp(-2 pi i jk/n)``; its conjugate for ``forward=False``). Its cotangent rule is the
  conjugate transpose: ``c2c(g, dims, not forward, scale)`` (PyTorch's fft_c2c backward).
- ``r2c(x, dims, forward, onesided, scale)``: the same on a real ``x``; onesided keeps the
  first ``n // 2 + 1`` entries of the last dim (the rest is their conjugate mirror).
  ``forward=False`` is the conjugate of the forward one (ihfft's ``conj(rfft(x))``: for a real
  ``x`` that is the inverse-direction DFT). Its rule is fft_r2c_backward: the cotangent padded
  with zeros to the full length, the inverse-direction c2c, the real part.
- ``c2r(x, dims, forward, last_size, scale)``: the real signal of length ``last_size`` whose
  onesided spectrum is ``x`` (the imaginary parts of the entries that must be real, 0 and
  ``n / 2``, are ignored, as pocketfft and MKL do); ``forward=True`` transforms ``conj(x)``
  (hfft). Its rule is fft_c2r_backward: r2c of the cotangent with the entries that stand for
  two (all but the first and, for an even length, the last) doubled.
- ``resize(x, dims, sizes)``: zero padding or trimming from the start (the ``n``/``s``
  arguments); its rule resizes the cotangent back.

Each rule is written with these same primitives, so higher derivatives follow. A real input of
a complex result gets the real part of its cotangent (Note [complex gradients]).

Note [fft precision]
~~~~~~~~~~~~~~~~~~~~
NumPy >= 2 and scipy.fft (Note [fft library]) compute in the input's precision: float32 or
complex64 in, complex64 out, as PyTorch's CPU FFT (pocketfft or MKL) does. The libraries factor
the length and order the butterflies differently, so results agree to rounding, not bit for
bit: the error of a radix FFT grows like ``log2(n) * eps * ||x||`` (Gentleman and Sande), which
is what the tests allow. The normalization is one multiply by ``scale`` afterwards (PyTorch
folds it into the transform: again equal to rounding).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir import dtypes as D
from .tensor import Tensor

Dims = tuple[int, ...]


@functools.cache
def library() -> Any:
    """Note [fft library]: scipy.fft when it is installed, else numpy.fft: the same pocketfft
    with the same calls, but scipy's vectorizes over the rows (2-5x NumPy's in float32, which
    NumPy 2.4 runs slower than float64). Imported at the first transform (scipy takes ~0.6 s
    to import); both compute in the input's precision and agree to rounding."""
    try:
        import scipy.fft

        return scipy.fft
    except ImportError:
        return np.fft


def _np_c2c(a: np.ndarray, dims: Dims, forward: bool) -> np.ndarray:
    if not dims:
        return a.copy()
    lib = library()
    return lib.fftn(a, axes=dims) if forward else lib.ifftn(a, axes=dims, norm="forward")


def _scaled(a: np.ndarray, scale: float, dtype: D.DType) -> Tensor:
    np_dtype = np.dtype(D.to_value(dtype).np)
    if scale != 1.0:
        a = a * np_dtype.type(scale)
    return Tensor._make(_c_order(a.astype(dtype.np, copy=False)))


def _c_order(a: np.ndarray) -> np.ndarray:
    # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _c2c_value(x: Tensor, dims: Dims, forward: bool, scale: float) -> Tensor:
    return _scaled(_np_c2c(x._data, dims, forward), scale, x.dtype)


def _r2c_value(x: Tensor, dims: Dims, forward: bool, onesided: bool, scale: float) -> Tensor:
    a = x._data
    out = library().rfftn(a, axes=dims) if onesided else library().fftn(a, axes=dims)
    if not forward:
        out = np.conj(out)
    return _scaled(out, scale, D.to_complex(x.dtype))


def _c2r_value(x: Tensor, dims: Dims, forward: bool, last_size: int, scale: float) -> Tensor:
    a = np.conj(x._data) if forward else x._data
    sizes = [a.shape[d] for d in dims[:-1]] + [last_size]
    out = library().irfftn(a, s=sizes, axes=dims, norm="forward")
    return _scaled(out, scale, D.to_value(x.dtype))


def _resize_value(x: Tensor, dims: Dims, sizes: Dims) -> Tensor:
    a = x._data
    shape = list(a.shape)
    for d, n in zip(dims, sizes, strict=True):
        shape[d] = n
    out = np.zeros(shape, a.dtype)
    common = tuple(slice(0, min(n, m)) for n, m in zip(shape, a.shape, strict=True))
    out[common] = a[common]
    return Tensor._make(out)


@dataclass(frozen=True)
class _FFTRule:
    """One primitive's parameters and PyTorch's derivative of it (Note [fft primitives])."""

    complex = True  # written for complex values (Note [complex gradients])

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        return (None, self.grad(g) if needs[1] else None)

    def grad(self, g: Tensor) -> Tensor:
        raise NotImplementedError


@dataclass(frozen=True)
class C2C(_FFTRule):
    dims: Dims
    forward: bool
    scale: float

    def grad(self, g: Tensor) -> Tensor:
        return c2c(g, self.dims, not self.forward, self.scale)


@dataclass(frozen=True)
class R2C(_FFTRule):
    dims: Dims
    forward: bool
    onesided: bool
    scale: float
    last_size: int  # the input's length along dims[-1]

    def grad(self, g: Tensor) -> Tensor:
        if self.onesided:  # the dropped half's cotangent is 0 (fft_r2c_backward)
            g = resize(g, self.dims[-1:], (self.last_size,))
        from .ops_complex import real

        return real(c2c(g, self.dims, not self.forward, self.scale))


@dataclass(frozen=True)
class C2R(_FFTRule):
    dims: Dims
    forward: bool
    last_size: int
    scale: float

    def grad(self, g: Tensor) -> Tensor:
        gi = r2c(g, self.dims, not self.forward, True, self.scale)
        half = gi.shape[self.dims[-1]]
        twice = self.last_size - half  # the entries standing for themselves and their mirror
        if twice <= 0:
            return gi
        from .functional import cat

        d = self.dims[-1]
        head, middle, tail = gi.split([1, twice, half - 1 - twice], dim=d)
        return cat([head, middle * 2, tail], dim=d)


@dataclass(frozen=True)
class Resize(_FFTRule):
    dims: Dims
    sizes: Dims  # the input's own sizes along dims

    def grad(self, g: Tensor) -> Tensor:
        return resize(g, self.dims, self.sizes)


@dataclass(frozen=True)
class Frames(_FFTRule):
    size: int
    hop: int
    length: int  # the signal's length (the last dim)

    def grad(self, g: Tensor) -> Tensor:
        return overlap_add(g, self.hop, self.length)


def _frames_value(x: Tensor, size: int, hop: int) -> Tensor:
    view = np.lib.stride_tricks.sliding_window_view(x._data, size, axis=-1)[..., ::hop, :]
    return Tensor._make(np.ascontiguousarray(view))


def _overlap_add_value(x: Tensor, hop: int, length: int) -> Tensor:
    """Frames (..., n, size) summed into (..., length), frame t starting at t * hop: one strided
    add per run of frames that do not overlap (ceil(size / hop) of them)."""
    a = x._data
    n, size = a.shape[-2], a.shape[-1]
    out = np.zeros((*a.shape[:-2], length), a.dtype)
    step = -(-size // hop)  # frames t, t + step, ... do not overlap
    for first in range(min(step, n)):
        count = len(range(first, n, step))
        start = first * hop
        window = np.lib.stride_tricks.as_strided(
            out[..., start:],
            (*out.shape[:-1], count, size),
            (*out.strides[:-1], step * hop * out.strides[-1], out.strides[-1]),
            writeable=True,
        )
        window += a[..., first::step, :]
    return Tensor._make(out)


def frames(x: Tensor, size: int, hop: int) -> Tensor:
    """The windows ``x[..., t * hop : t * hop + size]`` along the last dim: (..., n, size)."""
    rule = Frames(size, hop, x.shape[-1])
    value = lambda x: _frames_value(x, size, hop)  # noqa: E731
    return _ruled("UnfoldBackward0", rule, value, x)


def overlap_add(x: Tensor, hop: int, length: int) -> Tensor:
    """The inverse bookkeeping of ``frames``: each frame added in at ``t * hop``."""
    rule = _OverlapAdd(hop, x.shape[-1])
    value = lambda x: _overlap_add_value(x, hop, length)  # noqa: E731
    return _ruled("UnfoldBackwardBackward0", rule, value, x)


@dataclass(frozen=True)
class _OverlapAdd(_FFTRule):
    hop: int
    size: int

    def grad(self, g: Tensor) -> Tensor:
        return frames(g, self.size, self.hop)


def _ruled(name: str, rule: _FFTRule, value: Any, x: Tensor) -> Tensor:
    from .dispatch import with_rule

    return with_rule(rule, value, x, name=name)


def c2c(x: Tensor, dims: Dims, forward: bool, scale: float) -> Tensor:
    rule = C2C(dims, forward, scale)
    return _ruled("FftC2CBackward0", rule, lambda x: _c2c_value(x, dims, forward, scale), x)


def r2c(x: Tensor, dims: Dims, forward: bool, onesided: bool, scale: float) -> Tensor:
    rule = R2C(dims, forward, onesided, scale, x.shape[dims[-1]])
    value = lambda x: _r2c_value(x, dims, forward, onesided, scale)  # noqa: E731
    return _ruled("FftR2CBackward0", rule, value, x)


def c2r(x: Tensor, dims: Dims, forward: bool, last_size: int, scale: float) -> Tensor:
    rule = C2R(dims, forward, last_size, scale)
    value = lambda x: _c2r_value(x, dims, forward, last_size, scale)  # noqa: E731
    return _ruled("FftC2RBackward0", rule, value, x)


def resize(x: Tensor, dims: Dims, sizes: Dims) -> Tensor:
    """``x`` zero-padded or trimmed (from the start) to ``sizes`` along ``dims``."""
    if all(x.shape[d] == n for d, n in zip(dims, sizes, strict=True)):
        return x
    rule = Resize(dims, tuple(x.shape[d] for d in dims))
    value = lambda x: _resize_value(x, dims, sizes)  # noqa: E731
    return _ruled("ConstantPadNdBackward0", rule, value, x)
