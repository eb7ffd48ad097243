"""``torch.binomial(count, prob)``: PyTorch's CPU binomial sampler on a ``Generator`` (BTRS
transformed rejection for ``count * p >= 10``, geometric inversion below, on ``min(p, 1 - p)``),
drawing the same uniform doubles in the same order with PyTorch's float/double arithmetic."""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from typing import Any

import numpy as np

from ..ir.dtypes import DType
from .distributions import _uniform1
from .generator import Generator, resolve

F32 = np.float32
_LIBM = ctypes.CDLL(ctypes.util.find_library("m"))
_LIBM.log1pf.restype, _LIBM.log1pf.argtypes = ctypes.c_float, [ctypes.c_float]

# Note [PyTorch's sample_binomial]
# ATen's sample_binomial<scalar_t, double> (adapted from TensorFlow's random_binomial_op)
# mixes types: the parameters and ``k`` stay scalar_t (float32 for a float tensor: products
# such as ``count * prob``, ``1 - prob``, ``count - k + 1`` and std::sqrt/std::log1p of them
# round to float), the rest is double. Emulated with NumPy float32 scalars and glibc's log1pf.

TAIL = (  # stirling_approx_tail for k = 0..9
    0.0810614667953272, 0.0413406959554092, 0.0276779256849983, 0.02079067210376509,
    0.0166446911898211, 0.0138761288230707, 0.0118967099458917, 0.0104112652619720,
    0.00925546218271273, 0.00833056343336287,
)  # fmt: skip


def _tail(k: float) -> float:
    if k <= 9:
        return TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


def _inversion(gen: Generator, count: Any, prob: Any, s: Any, single: bool) -> Any:
    """The number of geometric gaps that fit in ``count``."""
    geom_sum, num_geom = 0.0, s(0)
    logprob = float(_LIBM.log1pf(float(-prob))) if single else math.log1p(-prob)
    while True:
        u = _uniform1(gen)
        geom = math.ceil(math.log(u) / logprob) if u > 0 else math.inf  # log(0) / logprob = inf
        geom_sum += geom
        if geom_sum > float(count):
            return num_geom
        num_geom = num_geom + s(1)


def _btrs(gen: Generator, count: Any, prob: Any, s: Any) -> Any:
    """Hoermann's BTRS (with TensorFlow's missing log): one draw for ``count * prob >= 10``."""
    one = s(1)
    spq = count * prob * (one - prob)
    stddev = float(np.sqrt(spq)) if isinstance(spq, F32) else math.sqrt(spq)
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * float(prob)
    c = float(count * prob) + 0.5
    v_r = 0.92 - 4.2 / b
    r = float(prob / (one - prob))
    alpha = (2.83 + 5.1 / b) * stddev
    m = math.floor(float((count + one) * prob))
    n = float(count)
    while True:
        u = _uniform1(gen) - 0.5
        v = _uniform1(gen)
        us = 0.5 - abs(u)
        k = s(math.floor((2 * a / us + b) * u + c))
        if k < 0 or k > count:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = math.log(v * alpha / (a / (us * us) + b))
        kf, rest = float(k), float(count - k + one)
        upperbound = (
            (m + 0.5) * math.log((m + 1) / (r * (n - m + 1)))
            + float(count + one) * math.log((n - m + 1) / rest)
            + (kf + 0.5) * math.log(r * rest / float(k + one))
            + _tail(m)
            + _tail(n - m)
            - _tail(kf)
            - _tail(float(count - k))
        )
        if v <= upperbound:
            return k


def _binomial_one(gen: Generator, count: float, prob: float, single: bool) -> float:
    s = F32 if single else float
    n, p = s(count), s(prob)
    if n <= 0.0 or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return float(n)
    if p <= 0.5:
        if float(n * p) >= 10.0:
            return float(_btrs(gen, n, p, s))
        return float(_inversion(gen, n, p, s, single))
    if p > 0.5:
        q = s(1.0 - float(p))
        k = _btrs(gen, n, q, s) if float(n * q) >= 10.0 else _inversion(gen, n, q, s, single)
        return float(n - k)
    return math.nan  # prob is NaN


def binomial(generator: Any, count: np.ndarray, prob: np.ndarray, *, shape: tuple[int, ...],
             dtype: DType) -> np.ndarray:  # fmt: skip
    """One draw per element of the broadcast ``shape``, in C order."""
    npd = np.dtype(dtype.np)
    gen = resolve(generator)
    single = npd == np.float32
    counts = np.broadcast_to(count, shape).reshape(-1).tolist()  # C order
    probs = np.broadcast_to(prob, shape).reshape(-1).tolist()
    out = [_binomial_one(gen, n, p, single) for n, p in zip(counts, probs, strict=True)]
    return np.array(out, np.float64).astype(npd).reshape(shape)
