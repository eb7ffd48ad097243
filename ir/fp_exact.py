"""Correctly rounded fused multiply-add on NumPy arrays (float32 and float64), for
reproducing C++ kernels the compiler contracted into FMA instructions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's splitter for float64


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


_BIG = 2.0**995  # above this, _SPLIT * x overflows (Veltkamp's split of a huge operand)


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a * b`` as (its nearest double, the exact rest). A huge operand is scaled down by a
    power of two first and the two parts scaled back (all exact while ``a * b`` is finite),
    where its split would overflow to inf and the emulated fma give NaN (float64
    uniform_(-1e300, 1e300) did)."""
    big_a, big_b = np.abs(a) > _BIG, np.abs(b) > _BIG
    if not (big_a.any() or big_b.any()):
        return _two_prod_split(a, b)
    scale = np.where(big_a, 2.0**60, 1.0) * np.where(big_b, 2.0**60, 1.0)
    p, rest = _two_prod_split(np.where(big_a, a * 2.0**-60, a), np.where(big_b, b * 2.0**-60, b))
    with np.errstate(over="ignore"):
        return p * scale, rest * scale


def _two_prod_split(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    with np.errstate(invalid="ignore", over="ignore"):
        ph, pl = _two_prod(a, b)
        th, tl = _two_sum(c, ph)
        vh, vl = _two_sum(tl, pl)
        out = th + _round_to_odd(vh, vl)
        # an infinite or NaN operand (or an overflowing product) makes the error terms NaN;
        # there a * b + c in IEEE arithmetic is the answer (its infinities do not round)
        # and a zero result's sign is IEEE's for ph + c (-0.0 + -0.0 is -0.0; the error terms'
        # +0.0 made it +0.0); ph is exact there (a * b = -c or both zero)
        naive = ~np.isfinite(ph) | ~np.isfinite(c) | (out == 0)
        if naive.any():
            out = np.where(naive, ph + c, out)
    return out


def fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 ``a * b + c`` with one rounding: the product is exact in float64, and the sum
    rounded there is rounded again to float32 correctly unless it landed exactly on a float32
    midpoint (or below float32's normal range); those few are redone with the sum rounded to
    odd, after which the second rounding is the correct one."""
    s = np.multiply(a, b, dtype=np.float64)
    own = s.ndim and s.shape == np.broadcast_shapes(s.shape, np.shape(c))  # (c may widen s)
    s = np.add(s, c, out=s if own else None, dtype=np.float64)
    bits = s.view(np.int64)
    midpoint = (bits & 0x1FFFFFFF) == 0x10000000  # the 29 bits float32 drops: 1000...0
    small = (bits & 0x7FF0000000000000) < ((1023 - 125) << 52)  # |s| < 2**-125 (or zero)
    suspect = midpoint | small
    if suspect.any():
        pick = [np.broadcast_to(np.asarray(v, np.float64), s.shape)[suspect] for v in (a, b, c)]
        p, c_ = pick[0] * pick[1], pick[2]
        s2, e = _two_sum(p, c_)
        with np.errstate(invalid="ignore", over="ignore"):
            s = np.array(s, copy=True) if not s.flags.writeable else s
            s[suspect] = _round_to_odd(s2, e)
    with np.errstate(over="ignore"):
        return s.astype(np.float32)


# Note [native fma]: the emulation above costs a dozen NumPy passes; the runtime registers a
# compiled loop (codegen/fma_kernel.py, Note [eager fma]) that ``fma`` asks first, which may
# decline (None) operands it cannot take. ir imports nothing above it, hence the registration.
_NATIVE: list[Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray | None]] = []


def register_native(
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray | None],
) -> None:
    """Let ``fn`` compute ``fma`` where it can (it returns None where it cannot)."""
    _NATIVE[:] = [fn]


def fma(x: object, y: object, z: object) -> np.ndarray:
    """``x * y + z`` rounded once in the operands' common dtype (float32 or float64)."""
    dt = np.result_type(x, y, z)  # type: ignore[arg-type]
    a, b, c = (np.asarray(v, dt) for v in (x, y, z))
    for native in _NATIVE:
        out = native(a, b, c)
        if out is not None:
            return out
    return np.asarray((fma32 if dt == np.float32 else fma64)(a, b, c), dt)
