"""torch.fft: discrete Fourier transforms and their helpers (Note [fft primitives])."""

from __future__ import annotations

from adjit.runtime.fft_helpers import fftfreq, fftshift, ifftshift, rfftfreq
from adjit.runtime.fft_ops import (
    fft,
    fft2,
    fftn,
    hfft,
    hfft2,
    hfftn,
    ifft,
    ifft2,
    ifftn,
    ihfft,
    ihfft2,
    ihfftn,
    irfft,
    irfft2,
    irfftn,
    rfft,
    rfft2,
    rfftn,
)
from adjit.runtime.tensor import Tensor

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift", "Tensor"]  # fmt: skip
