"""Note [prepared products]: a 2-D product's MKL call kept by geometry, checked per call."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pytest
from adjit.runtime import mkl_gemm, split_gemm

with contextlib.suppress(ImportError):  # before MKL's first call (Note [MKL products])
    import torch  # noqa: F401

FOUND = mkl_gemm.library_path() is not None
pytestmark = pytest.mark.skipif(not FOUND, reason="the mkl extra is not installed")

R = np.random.default_rng(1)


@pytest.fixture
def mkl(monkeypatch: pytest.MonkeyPatch) -> mkl_gemm.Library:
    if mkl_gemm.library() is None:
        pytest.skip("MKL is not usable in this process")
    monkeypatch.setenv("ADJIT_BLAS", "mkl")
    monkeypatch.setattr(mkl_gemm, "_PREPARED", {})
    return mkl_gemm.library()  # type: ignore[return-value]


@pytest.fixture
def prepared(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each 2-D product took its prepared call (True) or the general path."""
    seen: list[bool] = []
    real = mkl_gemm._prepared
    monkeypatch.setattr(mkl_gemm, "_prepared", lambda *a: seen.append(real(*a)) or seen[-1])
    return seen


def _m(r: int, c: int, dtype: type, how: str = "plain") -> np.ndarray:
    if how == "transposed":
        return R.standard_normal((c, r)).astype(dtype).T
    if how == "padded":
        return R.standard_normal((r, c + 7)).astype(dtype)[:, 2 : c + 2]
    return R.standard_normal((r, c)).astype(dtype)


def _out(r: int, c: int, dtype: type, how: str) -> np.ndarray:
    if how == "transposed":
        return np.full((c, r), np.nan, dtype).T
    if how == "padded":
        return np.full((r, c + 3), np.nan, dtype)[:, :c]
    return np.full((r, c), np.nan, dtype)


# (m, k, n), x's layout, y's layout, out's layout: W2's products and odd ones
GEOMETRIES = [
    ((128, 784, 256), "plain", "transposed", "plain"),
    ((128, 256, 10), "plain", "transposed", "plain"),
    ((10, 128, 256), "transposed", "plain", "plain"),
    ((37, 23, 19), "padded", "plain", "transposed"),
    ((1, 23, 19), "plain", "padded", "plain"),
    ((37, 1, 19), "transposed", "plain", "padded"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(GEOMETRIES)))
def test_prepared_calls_give_the_general_paths_bits(
    mkl: object, monkeypatch: pytest.MonkeyPatch, prepared: list[bool], dtype: type, case: int
) -> None:
    (m, k, n), hx, hy, ho = GEOMETRIES[case]
    x, y = _m(m, k, dtype, hx), _m(k, n, dtype, hy)
    general = _out(m, n, dtype, ho)
    with monkeypatch.context() as p:
        p.setattr(mkl_gemm, "_prepared", lambda *a: False)
        mkl_gemm.matmul(x, y, general)
    for _ in range(3):  # the first call prepares, the others reuse: fresh arrays each time
        out = _out(m, n, dtype, ho)
        mkl_gemm.matmul(x.copy(order="K"), y, out)
        np.testing.assert_array_equal(out, general)
    assert prepared == [True] * 3 and len(mkl_gemm._PREPARED) == 1
    exact = x.astype(np.float64) @ y.astype(np.float64)
    bound = k * float(np.finfo(dtype).eps) * (np.abs(x).astype(np.float64) @ np.abs(y))
    assert (np.abs(general - exact) <= bound).all()


def _unaligned(shape: tuple[int, int], dtype: type) -> np.ndarray:
    """A C-contiguous array one byte past an aligned address (NumPy's aligned flag off)."""
    size = np.dtype(dtype).itemsize
    raw = np.zeros(shape[0] * shape[1] * size + 1, np.uint8)
    return np.ndarray(shape, dtype, raw, 1)


Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]
# a geometry prepared first, then arrays of the same geometry that its call must not take
SAME_GEOMETRY: dict[str, Callable[[np.ndarray], Arrays]] = {
    "out is y": lambda b: (b[:4, :4], b[:4, 4:], b[:4, 4:]),
    "out overlaps x": lambda b: (b[:4, 4:], b[4:, :4], b[2:6, 2:6]),
    "unaligned x": lambda b: (_copy_to(_unaligned((4, 4), b.dtype.type), b[:4, :4]), b[4:, :4],
                              np.empty((8, 8), b.dtype)[:4, 4:]),
}  # fmt: skip


def _copy_to(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    dst[...] = src
    return dst


def _twin(a: np.ndarray) -> np.ndarray:
    """An array of ``a``'s geometry (shape, strides) and values in memory of its own."""
    twin = np.lib.stride_tricks.as_strided(np.empty(64, a.dtype), a.shape, a.strides)
    twin[...] = a
    return twin


@pytest.mark.parametrize("name", SAME_GEOMETRY)
def test_each_call_checks_its_own_arrays(mkl: object, prepared: list[bool], name: str) -> None:
    x, y, out = SAME_GEOMETRY[name](R.standard_normal((8, 8)))
    want = np.matmul(x.copy(), y.copy())
    twins = [_twin(a) for a in (x, y, out)]
    mkl_gemm.matmul(*twins)
    assert prepared == [True]
    np.testing.assert_allclose(twins[2], want, rtol=1e-12, atol=1e-12)
    mkl_gemm.matmul(x, y, out)
    assert prepared == [True, False]  # the general path's np.matmul (Note [MKL products])
    np.testing.assert_array_equal(out, want)


def test_a_read_only_out_raises_numpys_error(mkl: object) -> None:
    x, y = R.standard_normal((4, 3)), R.standard_normal((3, 2))
    mkl_gemm.matmul(x, y, np.empty((4, 2)))  # prepared
    out = np.empty((4, 2))
    out.flags.writeable = False
    with pytest.raises(ValueError) as want:
        np.matmul(x, y, out=out)
    with pytest.raises(ValueError) as got:
        mkl_gemm.matmul(x, y, out)
    assert str(got.value) == str(want.value)


def test_the_cache_is_bounded(mkl: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mkl_gemm, "_PREPARED_MAX", 2)
    for m in range(1, 6):
        x, y = R.standard_normal((m, 3)), R.standard_normal((3, 2))
        out = np.empty((m, 2))
        mkl_gemm.matmul(x, y, out)
        np.testing.assert_allclose(out, x @ y, rtol=1e-12, atol=1e-12)
        assert len(mkl_gemm._PREPARED) <= 2


def test_a_compiled_product_reads_the_flag_once(
    mkl: object, monkeypatch: pytest.MonkeyPatch, prepared: list[bool]
) -> None:
    # split_gemm hands its active() to MKL: one ADJIT_BLAS read a product (unsplit)
    reads: list[object] = []
    real = mkl_gemm.active
    monkeypatch.setattr(mkl_gemm, "active", lambda: reads.append(1) or real())
    x, y = R.standard_normal((128, 256)).astype(np.float32), R.standard_normal((256, 10))
    out = np.empty((128, 10), np.float32)
    split_gemm.matmul_into(x, y.astype(np.float32), out)
    assert reads == [1] and prepared == [True]
    np.testing.assert_allclose(out, x @ y.astype(np.float32), rtol=1e-5, atol=1e-4)
