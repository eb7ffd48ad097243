"""Note [batches on the native pool]: batches of small products split across the native pool."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from adjit.runtime import batch_blocks, mkl_gemm, mkl_jit, native_pool, split_gemm

with contextlib.suppress(ImportError):  # before MKL's first call (Note [MKL products])
    import torch  # noqa: F401

R = np.random.default_rng(11)


@pytest.fixture
def mkl(monkeypatch: pytest.MonkeyPatch) -> mkl_gemm.Library:
    if mkl_gemm.library() is None:
        pytest.skip("MKL is not usable in this process")
    if not mkl_jit.available(mkl_gemm.library().lib):  # type: ignore[union-attr]
        pytest.skip("MKL generates no kernels on this CPU (MKL_NO_JIT: not an Intel CPU)")
    if native_pool.get() is None:
        pytest.skip("no native pool here")
    monkeypatch.setenv("ADJIT_BLAS", "mkl")
    return mkl_gemm.library()  # type: ignore[return-value]


def _cases(dtype: type) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Attention's strided layouts (two batch dims that do not merge) and a plain batch."""
    qkv = R.standard_normal((6, 128, 3, 4, 64)).astype(dtype)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    p = R.standard_normal((6, 4, 128, 128)).astype(dtype)
    return {
        "q @ k^T": (q, k.mT),
        "p^T @ v": (p.mT, v),
        "plain": (
            R.standard_normal((10, 128, 64)).astype(dtype),
            R.standard_normal((10, 64, 128)).astype(dtype),
        ),
        "broadcast y": (q, np.ascontiguousarray(k[0, 0].T)),
    }


def _bound(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    eps = float(np.finfo(x.dtype).eps)
    return x.shape[-1] * eps * np.matmul(np.abs(x).astype(np.float64), np.abs(y).astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["q @ k^T", "p^T @ v", "plain", "broadcast y"])
def test_the_same_bits_as_one_thread(mkl: mkl_gemm.Library, dtype: type, case: str) -> None:
    """Each product is the generated kernel's call whatever the threads and chunks."""
    x, y = _cases(dtype)[case]
    shape = np.broadcast_shapes(x.shape[:-2], y.shape[:-2]) + (x.shape[-2], y.shape[-1])
    want = np.empty(shape, dtype)
    mkl_gemm.matmul(x, y, want)  # one thread, the generated kernel a product
    if mkl_gemm.jit_batch(mkl, x, y, want) is None:
        pytest.skip("no generated kernel for this geometry here")
    exact = np.matmul(x.astype(np.float64), y.astype(np.float64))
    assert (np.abs(want - exact) <= _bound(x, y)).all()
    pool = native_pool.get()
    assert pool is not None
    for threads in (2, 3):
        out = np.full(shape, np.nan, dtype)
        tasks = pool.counter("tasks")
        assert batch_blocks.run(mkl, x, y, out, threads)
        assert pool.counter("tasks") == tasks + 1
        np.testing.assert_array_equal(out, want)


def test_what_it_cannot_take_is_left(
    mkl: mkl_gemm.Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = R.standard_normal((3, 2, 4, 128, 64)).astype(np.float32)
    x = base.transpose(1, 0, 2, 3, 4)  # three batch dims that do not merge
    y = R.standard_normal((2, 3, 4, 64, 128)).astype(np.float32)
    out = np.full((2, 3, 4, 128, 128), np.nan, np.float32)
    assert not batch_blocks.run(mkl, x, y, out, 2)
    assert np.isnan(out).all()  # left untouched
    split_gemm.matmul_into(x, y, out)  # the Python workers' blocks instead
    np.testing.assert_allclose(out, x @ y, rtol=0, atol=float(_bound(x, y).max()))
    x, y = _cases(np.float32)["q @ k^T"]
    out = np.full((6, 4, 128, 128), np.nan, np.float32)
    assert not batch_blocks.run(mkl, x, y, out[..., ::-1], 2)  # a negative stride: not BLAS's
    assert not batch_blocks.run(mkl, x.astype(np.float16), y.astype(np.float16), out, 2)
    monkeypatch.setattr(mkl_jit, "kernel", lambda *a: None)  # no generated kernel
    assert not batch_blocks.run(mkl, x, y, out, 2)
    monkeypatch.undo()
    monkeypatch.setattr(native_pool, "get", lambda: None)  # no native pool
    assert not batch_blocks.run(mkl, x, y, out, 2)
    assert np.isnan(out).all()


def test_compiled_batches_split_on_the_pool(
    mkl: mkl_gemm.Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 2 threads split_gemm gives a large enough batch to the pool, not the Python workers."""
    monkeypatch.setattr(split_gemm, "num_threads", lambda: 2)
    monkeypatch.setattr(
        split_gemm, "matmul_batches", lambda *a: pytest.fail("took the Python workers")
    )
    x, y = _cases(np.float32)["q @ k^T"]
    assert split_gemm.BATCH_SPLIT_FLOPS <= 2 * 6 * 4 * 128 * 128 * 64
    out = np.empty((6, 4, 128, 128), np.float32)
    want = np.empty_like(out)
    mkl_gemm.matmul(x, y, want)
    split_gemm.matmul_into(x, y, out)
    np.testing.assert_array_equal(out, want)
