"""PyTorch's CPU sampling kernels as NumPy arrays drawn from a ``Generator``: the same words of
the mt19937 stream, consumed in the same order, through the same arithmetic (Note [contracted
multiply-adds] for the fused ones)."""

from __future__ import annotations

import math

import numpy as np

from ..ir.fp_exact import fma32, fma64
from .avx_mathfun import log_ps, sincos_ps
from .generator import Generator

# Note [which PyTorch kernels]
# PyTorch's CPU build picks kernels by CPU: these are the ones PyTorch 2.13 runs on x86-64 with
# AVX2 (measured side by side, tests/runtime/test_random_vs_torch.py). Elsewhere PyTorch's own
# numbers change and adjit keeps these: without AVX2 its float32 randn uses glibc's logf/cosf
# (last-bit differences), and an MKL build that routes bernoulli_(p) or exponential_ through
# MKL's VSL streams (Intel CPUs) draws from a different generator altogether.

# Note [chunked draws]
# The samplers of big outputs (uniform_, normal_'s fill) consume the stream chunk by chunk, in
# order, so their uint64 words and float64 intermediates are bounded by CHUNK elements: a
# float32 result is built directly, never after a full-size float64 array.
CHUNK = 1 << 16  # a multiple of 16 (normal_fill's blocks)

f32 = np.float32
MASK53 = np.uint64(2**53 - 1)

# bits of a uniform sample: float64 53 of random64(); the others 24 of random(), in float32
# (float16 and bfloat16 are drawn as float32 and rounded, as PyTorch's CPU kernels measure)
DIGITS = {"float64": 53, "float32": 24, "float16": 24, "bfloat16": 24}
MANTISSA = {"float64": 53, "float32": 24, "float16": 11, "bfloat16": 8}  # numeric_limits digits


def _name(np_dtype: np.dtype) -> str:
    return np.dtype(np_dtype).name


def c_cast(values: np.ndarray, np_dtype: np.dtype) -> np.ndarray:
    """C++'s ``static_cast`` to the dtype: float16 and bfloat16 are made from a float, so a double
    or int64 value is rounded twice (to float32, then to the dtype), not once as NumPy does."""
    if _name(np_dtype) in ("float16", "bfloat16"):
        with np.errstate(over="ignore"):
            return values.astype(f32).astype(np_dtype)
    return values.astype(np_dtype)


def unit(gen: Generator, n: int, np_dtype: np.dtype) -> np.ndarray:
    """``uniform_real_distribution<T>(0, 1)``: float64 from 53 bits of ``random64()``; the others
    from 24 bits of ``random()``, in float32."""
    digits = DIGITS[_name(np_dtype)]
    if digits == 53:
        return (gen.random64(n) & MASK53).astype(np.float64) * 2.0**-53
    words = gen.random(n) & np.uint64(2**digits - 1)
    return words.astype(f32) * f32(2.0**-digits)


def uniform(gen: Generator, n: int, np_dtype: np.dtype, low: float, high: float) -> np.ndarray:
    """``uniform_(low, high)``: ``x * (to - from) + from`` (contracted) in float64 for double,
    float32 (with float32 bounds) for the others, rounded to the dtype; a value that rounds to
    ``to`` becomes ``from`` (both in the dtype), keeping the range half-open as PyTorch does.
    Computed in chunks: the output is the only array of its size (Note [chunked draws])."""
    out = np.empty(n, np_dtype)
    top, bottom = np.asarray(high).astype(np_dtype), np.asarray(low).astype(np_dtype)
    for start in range(0, n, CHUNK):
        x = unit(gen, min(CHUNK, n - start), np_dtype)
        if _name(np_dtype) == "float64":
            lo, hi = np.float64(low), np.float64(high)
            part = fma64(x, hi - lo, lo)
        else:
            lo32, hi32 = f32(low), f32(high)
            part = fma32(x, hi32 - lo32, lo32).astype(np_dtype)
        out[start : start + len(x)] = np.where(part == top, bottom, part)
    return out


# ---- normal ---------------------------------------------------------------------------------
def _box_muller_16(u: np.ndarray, mean: float, std: float, np_dtype: np.dtype) -> np.ndarray:
    """``normal_fill_16`` on rows of 16 uniforms: the first 8 give cosines, the last 8 sines."""
    u = u.reshape(-1, 16)
    if _name(np_dtype) == "float32":  # the AVX2 kernel PyTorch's CPU build dispatches to
        radius = np.sqrt(f32(-2.0) * log_ps(f32(1.0) - u[:, :8]))
        sin, cos = sincos_ps(f32(2.0 * math.pi) * u[:, 8:])
        std32, mean32 = f32(std), f32(mean)
        out = np.concatenate(
            [fma32(radius * cos, std32, mean32), fma32(radius * sin, std32, mean32)], 1
        )
        return out.ravel()
    u64 = u.astype(np.float64)
    radius = np.sqrt(-2.0 * np.log(1.0 - u64[:, :8]))
    theta = 2.0 * math.pi * u64[:, 8:]
    mean_t, std_t = np.float64(np_dtype.type(mean)), np.float64(np_dtype.type(std))
    out = np.concatenate(
        [
            fma64(radius * np.cos(theta), std_t, mean_t),
            fma64(radius * np.sin(theta), std_t, mean_t),
        ],
        1,
    )
    return out.ravel().astype(np_dtype)


def normal_fill(gen: Generator, n: int, np_dtype: np.dtype, mean: float, std: float) -> np.ndarray:
    """``normal_fill`` (``n >= 16``, contiguous): ``n`` uniforms, Box-Muller in blocks of 16,
    and a ragged tail recomputed from 16 fresh uniforms over the last 16 places.

    float16 and bfloat16 (measured on PyTorch 2.13): uniforms only for the whole blocks, the
    float32 kernel on them and on the 16 tail uniforms, each result rounded to the dtype."""
    reduced = _name(np_dtype) in ("float16", "bfloat16")
    work = np.dtype(f32) if reduced else np_dtype
    whole = n // 16 * 16
    out = np.empty(n, np_dtype)
    for start in range(0, whole, CHUNK):  # whole blocks of 16, chunk by chunk
        u = unit(gen, min(CHUNK, whole - start), work).astype(work)
        out[start : start + len(u)] = _box_muller_16(u, mean, std, work)
    if n % 16:
        if not reduced:
            unit(gen, n % 16, work)  # drawn into the ragged end, then overwritten by the tail
        tail = unit(gen, 16, work).astype(work)
        out[n - 16 :] = _box_muller_16(tail, mean, std, work)
    return out


def normal_double(gen: Generator, n: int, mean: float, std: float) -> np.ndarray:
    """``normal_distribution<double>`` drawn ``n`` times: Box-Muller pairs whose sine is cached
    in the generator for the next draw (also across calls)."""
    out = np.empty(n, np.float64)
    start = 0
    if n and gen.next_double_normal is not None:
        out[0], start = gen.next_double_normal, 1
        gen.next_double_normal = None
    rest = n - start
    pairs = (rest + 1) // 2
    if pairs:
        u = unit(gen, 2 * pairs, np.dtype(np.float64)).reshape(pairs, 2)
        radius = np.sqrt(-2.0 * np.log1p(-u[:, 1]))
        theta = 2.0 * math.pi * u[:, 0]
        both = np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1).ravel()
        out[start:] = both[:rest]
        if rest % 2:
            gen.next_double_normal = float(both[-1])
    return fma64(out, np.float64(std), np.float64(mean))


def normal(
    gen: Generator, n: int, np_dtype: np.dtype, mean: float, std: float, contiguous: bool = True
) -> np.ndarray:
    """``normal_(mean, std)``: the fill kernel for 16 or more contiguous elements, else the
    cached double sampler."""
    if n >= 16 and contiguous:
        return normal_fill(gen, n, np_dtype, mean, std)
    return c_cast(normal_double(gen, n, mean, std), np_dtype)


# ---- integers -------------------------------------------------------------------------------
WIDE_RANGE = 2**28  # spans from here on draw random64() (measured on PyTorch 2.13, any dtype)


def random_from_to(gen: Generator, n: int, np_dtype: np.dtype, span: int, base: int) -> np.ndarray:
    """``random_(from, to)``: ``word % (to - from) + from``, with 64-bit words for wide spans
    (less modulo bias)."""
    words = gen.random64(n) if span >= WIDE_RANGE else gen.random(n)
    vals = (words % np.uint64(span)).astype(np.int64) + np.int64(base)
    return c_cast(vals, np_dtype)


def random_full_range(gen: Generator, n: int, np_dtype: np.dtype) -> np.ndarray:
    """``random_(-2**63, None)``: a whole 64-bit word as int64."""
    return c_cast(gen.random64(n).view(np.int64), np_dtype)


def random_default(gen: Generator, n: int, np_dtype: np.dtype) -> np.ndarray:
    """``random_()``: ``[0, 2**digits]`` for floats, ``[0, max]`` for integers, a bit for bool."""
    name = _name(np_dtype)
    if name == "bool":
        return (gen.random(n) & np.uint64(1)).astype(bool)
    if name in MANTISSA:
        words = gen.random64(n) if name == "float64" else gen.random(n)
        return (words % np.uint64(2 ** MANTISSA[name] + 1)).astype(np_dtype)
    words = gen.random64(n) if name == "int64" else gen.random(n)
    return (words % np.uint64(int(np.iinfo(np_dtype).max) + 1)).astype(np_dtype)


def randperm(gen: Generator, n: int) -> np.ndarray:
    """``randperm``: swaps with ``random() % (n - i)``; the inside-out shuffle with 64-bit
    words for n of 2**32 / 20 and beyond."""
    if n < (2**32 - 1) // 20:
        perm = list(range(n))
        picks = (gen.random(max(n - 1, 0)) % np.arange(n, 1, -1, dtype=np.uint64)).tolist()
        for i, z in enumerate(picks):
            j = z + i
            perm[i], perm[j] = perm[j], perm[i]
        return np.asarray(perm, np.int64)
    words = gen.random64(n)
    out = np.empty(n, np.int64)
    for i in range(n):
        z = int(words[i] % np.uint64(i + 1))
        out[i] = out[z]
        out[z] = i
    return out


# ---- other distributions (double-precision samplers, as PyTorch's serial kernels) ------------
def bernoulli_scalar(gen: Generator, n: int, p: float) -> np.ndarray:
    return unit(gen, n, np.dtype(np.float64)) < p


def bernoulli_tensor(gen: Generator, p: np.ndarray) -> np.ndarray:
    """One draw per element of ``p`` in its memory order: float64 p with 53-bit uniforms, the
    other float dtypes with 24-bit float32 ones."""
    if p.dtype == np.float64:
        return unit(gen, p.size, np.dtype(np.float64)) < p.ravel()
    return unit(gen, p.size, np.dtype(np.float32)) < p.ravel().astype(f32)


def exponential(gen: Generator, n: int, lambd: float) -> np.ndarray:
    u = unit(gen, n, np.dtype(np.float64))
    return (-1.0 / lambd) * np.log1p(-u)


def geometric(gen: Generator, n: int, p: float) -> np.ndarray:
    u = unit(gen, n, np.dtype(np.float64))
    return np.ceil(np.log(u) / np.log1p(-p))


def cauchy(gen: Generator, n: int, median: float, sigma: float) -> np.ndarray:
    u = unit(gen, n, np.dtype(np.float64))
    return fma64(np.float64(sigma), np.tan(math.pi * (u - 0.5)), np.float64(median))


def log_normal(gen: Generator, n: int, mean: float, std: float) -> np.ndarray:
    return np.exp(normal_double(gen, n, mean, std))


def poisson(gen: Generator, rates: np.ndarray) -> np.ndarray:
    """``sample_poisson`` per rate: Hoermann's transformed rejection for rates of 10 or more,
    multiplication of uniforms below."""
    out = np.empty(rates.size, np.float64)
    for i, lam in enumerate(rates.ravel().tolist()):
        out[i] = _poisson_one(gen, lam)
    return out.reshape(rates.shape)


def _uniform1(gen: Generator) -> float:
    return float(int(gen.random64(1)[0]) & (2**53 - 1)) * 2.0**-53


def _poisson_one(gen: Generator, lam: float) -> int:
    if lam >= 10:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = _uniform1(gen) - 0.5
            v = _uniform1(gen)
            us = 0.5 - abs(u)
            k = math.floor((2 * a / us + b) * u + lam + 0.43)
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            lhs = math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
            if lhs <= -lam + k * loglam - math.lgamma(k + 1.0):
                return k
    if lam == 0:
        return 0
    enlam, x, prod = math.exp(-lam), 0, 1.0
    while True:
        prod *= _uniform1(gen)
        if prod > enlam:
            x += 1
        else:
            return x


def multinomial_with_replacement(gen: Generator, probs: np.ndarray, n_sample: int) -> np.ndarray:
    """Per row: the running sum (float32 for float16/bfloat16), divided by the total, its last
    entry set to 1, and ``n_sample`` double uniforms located by binary search (first cum >= u)."""
    out = np.empty((probs.shape[0], n_sample), np.int64)
    acc = f32 if _name(probs.dtype) in ("float16", "bfloat16") else probs.dtype  # opmath
    for i, row in enumerate(probs):
        cum = np.cumsum(row, dtype=acc)  # sequential, in the accumulate type, as the kernel
        cum = (cum / cum[-1]).astype(acc)
        cum[-1] = 1
        u = unit(gen, n_sample, np.dtype(np.float64))
        out[i] = np.searchsorted(cum.astype(np.float64), u, side="left")
    return out
