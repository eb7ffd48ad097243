"""The compiled eager fma loop (Note [eager fma]) gives the emulation's bits (ir/fp_exact.py),
special values included, and declines operands it cannot take."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.codegen.fma_kernel import fma
from adjit.ir.fp_exact import fma32, fma64


def _operands(dtype: type, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    info = np.finfo(dtype)
    xs = [(rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)).astype(dtype) for _ in "xyz"]
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, info.tiny / 8, -info.tiny, info.max]
    for i, x in enumerate(xs):
        x[i : i + len(specials)] = specials
    return xs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 33, 1003])
def test_bits_equal_the_emulation(dtype: type, n: int) -> None:
    x, y, z = _operands(dtype, max(n, 12))
    x, y, z = x[:n], y[:n], z[:n]
    emulated = fma32 if dtype is np.float32 else fma64
    with np.errstate(all="ignore"):
        for args in [(x, y, z), (x, y[:1], z), (x[:1].reshape(()), y, z[:1])]:
            got, want = fma(*args), np.asarray(emulated(*args), dtype)
            assert got is not None and got.dtype == want.dtype and got.shape == want.shape
            nan = np.isnan(want)
            np.testing.assert_array_equal(np.isnan(got), nan)
            raw = f"u{np.dtype(dtype).itemsize}"
            np.testing.assert_array_equal(got[~nan].view(raw), want[~nan].view(raw))


def test_declines_what_it_cannot_take() -> None:
    x = np.ones((4, 6), np.float32)
    assert fma(x[:, ::2], x[:, ::2], x[:, ::2]) is None  # strided
    assert fma(x, x[0], x) is None  # a broadcast row
    assert fma(x, x.astype(np.float64), x) is None  # mixed dtypes
    assert fma(*(np.ones(3, np.int64),) * 3) is None
    assert fma(x[:0], x[:0], x[:0]).shape == (0, 6)  # type: ignore[union-attr]
