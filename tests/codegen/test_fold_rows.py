"""The compiled FOLD (row by row, terms summed in registers) vs the strided NumPy rule, bit for
bit, over random geometries, layouts and both dtypes (Note [fold a row at a time])."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.codegen import windows as compiled
from adjit.ir import windows

# several kernel rows on each output row: resnet18's 3x3 convs onto 16x16
# and 2x2 maps, and odd sizes (vectors of 8, 4, 2 and 1 pixels, dilation, uneven padding)
OVERLAPPING: list[tuple[Any, ...]] = [
    (16, 16, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    (2, 2, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    (9, 15, (5, 4), (1, 2), ((2, 2), (1, 1)), (1, 1)),
    (11, 7, (3, 5), (2, 1), ((0, 0), (2, 2)), (2, 1)),
    # column stride 2 and 3 onto maps at least 16 wide: by rows, per residue (specialized only)
    (32, 32, (3, 3), (1, 1), ((1, 1), (1, 1)), (2, 2)),
    (9, 17, (3, 4), (1, 2), ((1, 1), (2, 2)), (1, 3)),
    (6, 19, (2, 5), (1, 1), ((0, 0), (1, 1)), (2, 2)),
]


def _geometry(rng: np.random.Generator) -> tuple[Any, ...]:
    """A random valid FOLD geometry: (h, w, kernel_size, dilation, padding, stride)."""
    while True:
        h, w = int(rng.integers(1, 21)), int(rng.integers(1, 18))
        k = tuple(int(v) for v in rng.integers(1, 6, 2))
        d = tuple(int(v) for v in rng.integers(1, 3, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        p = tuple((int(v), int(v)) for v in rng.integers(0, 3, 2))
        oh, ow = windows.blocks((h, w), k, d, p, s)
        if oh >= 1 and ow >= 1:
            return h, w, k, d, p, s


def _layouts(cols: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """``cols`` (N, K, L) as is, as the conv's GEMM lays it out (K, N, L) and as a slice of a
    wider array (rows apart)."""
    n, k, ell = cols.shape
    gemm = np.ascontiguousarray(cols.transpose(1, 0, 2)).transpose(1, 0, 2)
    wide = np.full((n, k + int(rng.integers(1, 4)), ell), np.nan, cols.dtype)
    wide[:, :k] = cols
    return [cols, gemm, wide[:, :k]]


def _check(rng: np.random.Generator, dtype: str, geometry: tuple[Any, ...] | None = None) -> None:
    h, w, k, d, p, s = geometry or _geometry(rng)
    n, c = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    attrs = {"kernel_size": k, "dilation": d, "padding": p, "stride": s}
    oh, ow = windows.blocks((h, w), k, d, p, s)
    shape = (n, c * k[0] * k[1], oh * ow)
    # magnitudes over six decades: any change in the order of the additions shows in the bits
    cols = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3, shape)).astype(dtype)
    want = windows.fold(cols, output_size=(h, w), **attrs)
    for layout in _layouts(cols, rng):
        assert compiled.strided_columns(layout)
        got = np.full(want.shape, np.nan, dtype)  # stale values must not survive
        compiled.fold_into(layout, got, output_size=(h, w), **attrs)
        assert np.array_equal(got, want), (n, c, h, w, attrs, layout.strides)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fold_matches_the_strided_rule_bit_for_bit(
    dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(windows, "_DENSE_FOLD_LIMIT", -1)  # the strided NumPy rule
    monkeypatch.setattr(compiled, "_SPECIALIZE_WORK", 1 << 62)  # the generic nest
    rng = np.random.default_rng(20261206)
    for _ in range(150):
        _check(rng, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fold_specialized_to_its_geometry_matches_too(
    dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(windows, "_DENSE_FOLD_LIMIT", -1)
    monkeypatch.setattr(compiled, "_SPECIALIZE_WORK", 0)  # every map up to 16x16 specialized
    rng = np.random.default_rng(6)
    for geometry in OVERLAPPING:
        _check(rng, dtype, geometry)
    for _ in range(6):  # each geometry compiles its own kernels (~0.3 s)
        _check(rng, dtype)
