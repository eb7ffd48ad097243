"""fma32/fma64 (runtime/fp_exact.py) against exact rational arithmetic: one correct rounding."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from adjit.ir.fp_exact import fma32, fma64


def _rounded(value: Fraction, dtype: type) -> float:
    """``value`` rounded once to ``dtype``: the nearest neighbour, ties to an even last bit."""
    guess = dtype(float(value))
    near = [np.nextafter(guess, dtype(-np.inf)), guess, np.nextafter(guess, dtype(np.inf))]
    bits = np.int32 if dtype is np.float32 else np.int64

    def key(x: np.floating) -> tuple[Fraction, int]:
        return abs(Fraction(float(x)) - value), int(np.array(x).view(bits)) & 1

    return float(min(near, key=key))


def _triples(dtype: type, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """c nearly cancels a * b: the cases a separate multiply and add get wrong."""
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(n).astype(dtype) for _ in range(2))
    c = (-(a.astype(np.float64) * b) * (1 + rng.standard_normal(n) * 1e-7)).astype(dtype)
    return a, b, c


@pytest.mark.parametrize("dtype,fma", [(np.float32, fma32), (np.float64, fma64)])
def test_fma_rounds_once(dtype: type, fma: Callable[..., np.ndarray]) -> None:
    a, b, c = _triples(dtype, 3000, 0)
    exact = [
        Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        for x, y, z in zip(a, b, c, strict=True)
    ]
    want = np.array([_rounded(v, dtype) for v in exact], dtype)
    np.testing.assert_array_equal(fma(a, b, c), want)
    assert ((a * b + c).astype(dtype) != want).any()  # the cases tell fused from two roundings


def test_fma64_of_huge_operands_is_correctly_rounded() -> None:
    """Operands above 2**995 (where Veltkamp's split overflowed and fma64 gave NaN: float64
    uniform_(-1e300, 1e300)) are split scaled down; the results are a*b+c rounded once."""
    rng = np.random.default_rng(3)
    n = 3000
    a = rng.standard_normal(n) * 10.0 ** rng.integers(290, 308, n)
    b = rng.random(n) * 10.0 ** rng.integers(-8, 1, n)
    c = rng.standard_normal(n) * 10.0 ** rng.integers(280, 307, n)
    got = fma64(a, b, c)
    exact = zip(a.tolist(), b.tolist(), c.tolist(), strict=True)
    want = [float(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in exact]
    np.testing.assert_array_equal(got, want)
