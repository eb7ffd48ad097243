"""The float32 ``log`` and ``sincos`` PyTorch's AVX2 ``randn`` uses (Pommier's cephes-based
``avx_mathfun``), re-derived step by step in NumPy float32 so ``randn`` matches bit for bit.

Note [contracted multiply-adds]
PyTorch's CPU kernels are built by GCC with FMA enabled and floating-point contraction on, so
a vector multiply whose only use is an add becomes one fused multiply-add (one rounding).
Each ``_fma`` below marks such a pair; ``fused=False`` gives the uncontracted arithmetic."""

from __future__ import annotations

import numpy as np

from ..ir.fp_exact import fma32

f32 = np.float32

_LOG_P = [f32(v) for v in (
    7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
)]  # fmt: skip
_LOG_Q1, _LOG_Q2 = f32(-2.12194440e-4), f32(0.693359375)
_SQRTHF = f32(0.707106781186547524)
_MIN_NORM = np.array(0x00800000, np.int32).view(np.float32)
_FOPI = f32(1.27323954473516)  # 4 / pi
_DP = (f32(-0.78515625), f32(-2.4187564849853515625e-4), f32(-3.77489497744594108e-8))
_SIN_P = (f32(-1.9515295891e-4), f32(8.3321608736e-3), f32(-1.6666654611e-1))
_COS_P = (f32(2.443315711809948e-005), f32(-1.388731625493765e-003), f32(4.166664568298827e-002))
_HALF, _ONE = f32(0.5), f32(1.0)


def _fma(a: np.ndarray, b: np.ndarray, c: np.ndarray, fused: bool) -> np.ndarray:
    if fused:
        return fma32(a, b, c)
    return (np.asarray(a, f32) * b).astype(f32) + c


def log_ps(x: np.ndarray, fused: bool = True) -> np.ndarray:
    """Natural log of positive float32 values (NaN for x <= 0), as ``log256_ps``."""
    x = np.asarray(x, f32)
    invalid = ~(x > 0)
    x = np.maximum(x, _MIN_NORM)
    bits = x.view(np.int32)
    exponent = (bits.view(np.uint32) >> np.uint32(23)).astype(np.int32) - 127
    x = ((bits & ~0x7F800000) | np.array(_HALF).view(np.int32)).view(f32)
    e = exponent.astype(f32) + _ONE
    small = x < _SQRTHF
    tmp = np.where(small, x, f32(0))
    x = x - _ONE
    e = e - np.where(small, _ONE, f32(0))
    x = x + tmp
    z = x * x
    y = _fma(_LOG_P[0], x, _LOG_P[1], fused)
    for p in _LOG_P[2:]:
        y = _fma(y, x, p, fused)
    y = y * x
    y = _fma(y, z, e * _LOG_Q1, fused)
    y = y - z * _HALF
    x = _fma(e, _LOG_Q2, x + y, fused)
    return np.where(invalid, f32(np.nan), x).astype(f32)


def sincos_ps(x: np.ndarray, fused: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(sin x, cos x) of float32 values, as ``sincos256_ps``."""
    x = np.asarray(x, f32)
    sign_sin = x.view(np.int32) & np.int32(-(2**31))
    x = np.abs(x)
    j = (x * _FOPI).astype(np.int32)  # truncation, as cvttps
    j = (j + 1) & ~1
    y = j.astype(f32)
    swap_sin = (j & 4) << 29
    poly = (j & 2) == 0
    for dp in _DP:  # extended-precision reduction: x - y * pi / 4
        x = _fma(y, dp, x, fused)
    sign_cos = (~(j - 2) & 4) << 29
    sign_sin = sign_sin ^ swap_sin
    z = x * x
    yc = _fma(_COS_P[0], z, _COS_P[1], fused)
    yc = _fma(yc, z, _COS_P[2], fused)
    yc = yc * z
    yc = _fma(yc, z, -(z * _HALF), fused)
    yc = yc + _ONE
    ys = _fma(_SIN_P[0], z, _SIN_P[1], fused)
    ys = _fma(ys, z, _SIN_P[2], fused)
    ys = ys * z
    ys = _fma(ys, x, x, fused)
    sin_part2 = np.where(poly, ys, f32(0))
    sin_part1 = np.where(poly, f32(0), yc)
    ys = ys - sin_part2
    yc = yc - sin_part1
    s = (sin_part1 + sin_part2).astype(f32)
    c = (yc + ys).astype(f32)
    return (s.view(np.int32) ^ sign_sin).view(f32), (c.view(np.int32) ^ sign_cos).view(f32)
