"""Shared helpers of the fft tests: random inputs, and closeness bounded by FFT rounding."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Note [fft tolerances]: a radix FFT of length n computes each output with a relative normwise
# error at most about c * log2(n) * eps (Gentleman and Sande; pocketfft's and MKL's twiddles are
# accurate to an ulp); two libraries each within it differ by at most twice that. c = 4
# covers the constant of mixed radices and the one extra rounding of the normalization.
C = 4


def rounding(dtype: Any, n: int) -> float:
    """The bound for two length-``n`` FFTs in ``dtype`` (NumPy's finfo of a complex dtype is
    its parts')."""
    return 2 * C * max(1.0, math.log2(max(n, 1))) * float(np.finfo(dtype).eps)


def close(got: Any, want: Any, n: int, scale: float | None = None, dtype: Any = None) -> None:
    """``got`` (adjit) equals ``want`` (torch or NumPy) within FFT rounding in ``dtype`` (by
    default ``want``'s), normwise."""
    g = np.asarray(got.detach().numpy() if hasattr(got, "detach") else got)
    w = np.asarray(want.detach().resolve_conj().numpy() if hasattr(want, "resolve_conj") else want)
    assert g.shape == w.shape, (g.shape, w.shape)
    ref = np.linalg.norm(w.ravel()) if scale is None else scale
    err = np.linalg.norm((g.astype(np.complex128) - w).ravel())
    bound = rounding(w.dtype if dtype is None else dtype, n)
    assert err <= bound * ref, (err, ref, bound)


def data(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    a = rng.standard_normal(shape)
    if kind.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(kind)
