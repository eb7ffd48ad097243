"""PyTorch's CPU gamma and Dirichlet samplers (``_standard_gamma``, ``_sample_dirichlet``) on a
``Generator``: Marsaglia and Tsang's rejection method drawing the same uniform and cached
normal doubles in the same order, with PyTorch's mixed float/double arithmetic."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ir.dtypes import DType
from .distributions import _uniform1
from .generator import Generator, resolve

F32 = np.float32
THIRD_F32 = float(F32(1.0) / F32(3.0))  # ``1.0f / 3.0f``
SQUEEZE_F32 = float(F32(0.0331))  # ``0.0331f``

# Note [PyTorch's sample_gamma]
# ATen's sample_gamma<scalar_t, double> runs per element (in the output's C order, under the
# generator's lock): alpha < 1 is boosted by a uniform (``scale = pow(1 - U, 1.0f / alpha)``,
# ``alpha += 1``), then Marsaglia-Tsang loops on a normal (the generator's cached double
# Box-Muller pair) and a uniform. ``1.0f / alpha``, ``alpha += 1.0f`` and ``alpha - 1.0f/3.0f``
# are computed in scalar_t (float32 for a float tensor), the rest in double with float
# constants (0.0331f); the result is cast to scalar_t and raised to its smallest normal.


def _normal1(gen: Generator) -> float:
    """``normal_distribution<double>(0, 1)``: the cached sine of the last Box-Muller pair, else a
    new pair from two uniforms (its sine cached), in glibc's double ``log1p``/``cos``/``sin``."""
    if gen.next_double_normal is not None:
        value, gen.next_double_normal = gen.next_double_normal, None
        return value
    u1, u2 = _uniform1(gen), _uniform1(gen)
    r = math.sqrt(-2.0 * math.log1p(-u2))
    theta = 2.0 * math.pi * u1
    gen.next_double_normal = r * math.sin(theta)
    return r * math.cos(theta)


def _gamma_one(gen: Generator, alpha: float, single: bool) -> float:
    """One draw of ``sample_gamma`` (``single``: scalar_t is float32)."""
    scale = 1.0
    if alpha < 1.0:
        if alpha == 0.0:
            return 0.0
        inverse = float(F32(1.0) / F32(alpha)) if single else 1.0 / alpha
        scale *= math.pow(1 - _uniform1(gen), inverse)
        alpha = float(F32(alpha) + F32(1.0)) if single else alpha + 1.0
    d = float(F32(alpha) - F32(THIRD_F32)) if single else alpha - THIRD_F32
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        while True:
            x = _normal1(gen)
            y = 1.0 + c * x
            if y > 0:
                break
        v = y * y * y
        u = 1 - _uniform1(gen)
        xx = x * x
        if u < 1.0 - SQUEEZE_F32 * xx * xx:
            return scale * d * v
        if math.log(u) < 0.5 * xx + d * (1.0 - v + math.log(v)):
            return scale * d * v


def standard_gamma(generator: Any, alpha: np.ndarray, *, shape: tuple[int, ...],
                   dtype: DType) -> np.ndarray:  # fmt: skip
    """``_standard_gamma(alpha)``: one draw per element, at least the dtype's smallest normal."""
    npd = np.dtype(dtype.np)
    gen = resolve(generator)
    single = npd == np.float32
    flat = np.ascontiguousarray(alpha).reshape(-1).tolist()
    out = np.array([_gamma_one(gen, a, single) for a in flat], np.float64).astype(npd)
    return np.maximum(out, np.finfo(npd).tiny).reshape(alpha.shape)


def dirichlet(generator: Any, alpha: np.ndarray, *, shape: tuple[int, ...],
              dtype: DType) -> np.ndarray:  # fmt: skip
    """``_sample_dirichlet(alpha)``: double gamma draws (alpha cast to double) normalized over the
    last dim, cast to the dtype and kept inside ``[tiny, nexttoward(1, 0)]``."""
    npd = np.dtype(dtype.np)
    gen = resolve(generator)
    flat = np.ascontiguousarray(alpha).astype(np.float64).reshape(-1).tolist()
    gamma = np.array([_gamma_one(gen, a, False) for a in flat], np.float64)
    gamma = np.maximum(gamma, np.finfo(np.float64).tiny).reshape(alpha.shape)
    total = _row_sums(gamma)
    out = (gamma / total).astype(npd)
    top = np.nextafter(npd.type(1.0), npd.type(0.0))
    return np.minimum(top, np.maximum(np.finfo(npd).tiny, out))


# Note [ATen's inner sum]: ATen sums a contiguous last dim of doubles as Vectorized<double>
# rows of LANES (AVX2: 4), the rows spread over ILP accumulators (row i into i % ILP, the rows
# past the last full group of ILP into the first; cascaded by levels of 16 rows and more for
# long dims), the accumulators added in order; the scalar tail is summed first, then the lanes.
LANES, ILP, LEVELS = 4, 4, 4


def _cascade(rows: list[np.ndarray]) -> np.ndarray:
    """ATen's ``multi_row_sum`` of ``rows`` (each a (n, LANES) block of one accumulator)."""
    size = len(rows)
    power = max(4, (max(size - 1, 0)).bit_length() // LEVELS)
    step, mask = 1 << power, (1 << power) - 1
    acc = [np.zeros_like(rows[0]) for _ in range(LEVELS)] if rows else []
    i = 0
    while i + step <= size:
        for _ in range(step):
            acc[0] = acc[0] + rows[i]
            i += 1
        for j in range(1, LEVELS):
            acc[j], acc[j - 1] = acc[j] + acc[j - 1], np.zeros_like(acc[j - 1])
            if i & (mask << (j * power)):
                break
    for k in range(i, size):
        acc[0] = acc[0] + rows[k]
    for j in range(1, LEVELS):
        acc[0] = acc[0] + acc[j]
    return acc[0]


def _row_sums(gamma: np.ndarray) -> np.ndarray:
    """``gamma.sum(-1, keepdim=True)`` in ATen's order (Note [ATen's inner sum])."""
    k = gamma.shape[-1]
    flat = gamma.reshape(-1, k)
    vectors = [flat[:, LANES * v : LANES * (v + 1)] for v in range(k // LANES)]
    groups = len(vectors) // ILP
    if vectors:
        partial = [_cascade(vectors[j : groups * ILP : ILP]) if groups else
                   np.zeros_like(vectors[0]) for j in range(ILP)]  # fmt: skip
        for v in vectors[groups * ILP :]:
            partial[0] = partial[0] + v
        lanes = partial[0]
        for j in range(1, ILP):
            lanes = lanes + partial[j]
    total = np.zeros(flat.shape[0])
    for t in range(LANES * len(vectors), k):
        total = total + flat[:, t]
    for lane in range(LANES if vectors else 0):
        total = total + lanes[:, lane]
    return total.reshape(*gamma.shape[:-1], 1)
