"""Correctly rounded fused multiply-add on NumPy arrays (float32 and float64), for
reproducing C++ kernels the compiler contracted into FMA instructions."""

from __future__ import annotations

import numpy as np

_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's splitter for float64


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = a * b
    ca, cb = _SPLIT * a, _SPLIT * b
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _round_to_odd(s: np.ndarray, err: np.ndarray) -> np.ndarray:
    """``s + err`` (``s`` its nearest double) rounded to odd: if inexact and ``s`` has an even
    last bit, step one ulp towards ``err``."""
    even = (s.view(np.int64) & 1) == 0
    step = (err != 0) & even
    if not step.any():
        return s
    toward = np.where(err > 0, np.inf, -np.inf)
    return np.where(step, np.nextafter(s, toward), s)


def fma64(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a * b + c`` with one rounding (Boldo and Melquiond's emulation via round-to-odd)."""
    a, b, c = (np.asarray(v, np.float64) for v in (a, b, c))
    ph, pl = _two_prod(a, b)
    th, tl = _two_sum(c, ph)
    vh, vl = _two_sum(tl, pl)
    with np.errstate(invalid="ignore", over="ignore"):
        return th + _round_to_odd(vh, vl)


def fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 ``a * b + c`` with one rounding: the product is exact in float64, and the sum
    rounded there is rounded again to float32 correctly unless it landed exactly on a float32
    midpoint (or in float32's subnormal range); those few are redone with the sum rounded to
    odd, after which the second rounding is the correct one."""
    p = np.asarray(a, np.float64) * np.asarray(b, np.float64)
    c64 = np.asarray(c, np.float64)
    s = p + c64
    low = s.view(np.int64) & 0x1FFFFFFF  # the 29 bits float32 drops
    suspect = (low == 0x10000000) | (np.abs(s) < 2.0**-125)
    if suspect.any():
        p, c64 = np.broadcast_to(p, s.shape), np.broadcast_to(c64, s.shape)
        s2, e = _two_sum(p[suspect], c64[suspect])
        with np.errstate(invalid="ignore", over="ignore"):
            s = s.copy()
            s[suspect] = _round_to_odd(s2, e)
    with np.errstate(over="ignore"):
        return s.astype(np.float32)
