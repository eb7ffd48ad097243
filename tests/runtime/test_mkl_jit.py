"""Note [JIT products]: batches of small products by MKL's generated kernels, one a geometry."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pytest
from adjit.runtime import mkl_gemm, mkl_jit, native_pool, split_gemm

import adjit

with contextlib.suppress(ImportError):  # before MKL's first call (Note [MKL products])
    import torch  # noqa: F401

R = np.random.default_rng(7)


@pytest.fixture
def mkl(monkeypatch: pytest.MonkeyPatch) -> mkl_gemm.Library:
    if mkl_gemm.library() is None:
        pytest.skip("MKL is not usable in this process")
    if not mkl_jit.available(mkl_gemm.library().lib):  # type: ignore[union-attr]
        pytest.skip("MKL generates no kernels on this CPU (MKL_NO_JIT: not an Intel CPU)")
    monkeypatch.setenv("ADJIT_BLAS", "mkl")
    return mkl_gemm.library()  # type: ignore[return-value]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many products each batched product ran by a generated kernel."""
    seen: list[int] = []
    real = mkl_jit.run

    def counted(found: mkl_jit.Kernel, starts: tuple[int, int, int], batch: list) -> None:
        seen.append(int(np.prod([b for b, _ in batch])))
        real(found, starts, batch)

    monkeypatch.setattr(mkl_jit, "run", counted)
    return seen


def _attention(dtype: type) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The attention's four product layouts, q, k, v strided views of one qkv projection."""
    qkv = R.standard_normal((4, 128, 3, 2, 64)).astype(dtype)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    p = R.standard_normal((4, 2, 128, 128)).astype(dtype)
    return {
        "q @ k^T": (q, k.mT),
        "p @ v": (p, v),
        "p^T @ q": (p.mT, q),
        "dO @ v^T": (np.ascontiguousarray(q), v.mT),
        "broadcast": (q, np.ascontiguousarray(k[0, 0].T)),
    }


def _bound(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k roundings of |x| @ |y|: float summation's error bound for k terms."""
    eps = float(np.finfo(x.dtype).eps)
    return x.shape[-1] * eps * np.matmul(np.abs(x).astype(np.float64), np.abs(y).astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_products_by_generated_kernels(
    mkl: mkl_gemm.Library, calls: list[int], dtype: type
) -> None:
    for name, (x, y) in _attention(dtype).items():
        out = np.full(np.broadcast_shapes(x.shape[:-1] + (1,), y.shape[:-2] + (1, y.shape[-1])),
                      np.nan, dtype)  # fmt: skip
        mkl_gemm.matmul(x, y, out)
        assert calls[-1] == 8, name  # every product of the (4, 2) batch by the generated kernel
        exact = np.matmul(x.astype(np.float64), y.astype(np.float64))
        assert (np.abs(out - exact) <= _bound(x, y)).all(), name


def test_a_column_major_result(mkl: mkl_gemm.Library, calls: list[int]) -> None:
    x, y = _attention(np.float32)["q @ k^T"]
    out = np.full((4, 2, 128, 128), np.nan, np.float32).mT  # each product's columns contiguous
    mkl_gemm.matmul(x, y, out)
    assert calls == [8]
    exact = np.matmul(x.astype(np.float64), y.astype(np.float64))
    assert (np.abs(out - exact) <= _bound(x, y)).all()


def test_small_or_unsupported_products_keep_the_batched_call(
    mkl: mkl_gemm.Library, calls: list[int]
) -> None:
    # 16^3 a product: the call would cost more than it saves; 128^3: MKL has no JIT kernel
    for m, n, k in [(16, 16, 16), (128, 128, 128)]:
        x, y = R.standard_normal((3, m, k)), R.standard_normal((3, k, n))
        out = np.empty((3, m, n))
        mkl_gemm.matmul(x, y, out)
        np.testing.assert_allclose(out, np.matmul(x, y), rtol=1e-12, atol=1e-12)
    assert calls == []


def _unaligned(a: np.ndarray, offset: int) -> np.ndarray:
    """A copy of ``a`` ``offset`` elements past a 64-byte boundary."""
    raw = np.empty(a.size + 64, a.dtype)
    start = (-raw.ctypes.data // a.itemsize) % (64 // a.itemsize) + offset
    out = raw[start : start + a.size].reshape(a.shape)
    out[...] = a
    return out


@pytest.fixture
def threads() -> object:
    before = adjit.get_num_threads()
    yield adjit.set_num_threads
    adjit.set_num_threads(before)


def test_the_same_bits_whatever_the_alignment_and_threads(
    mkl: mkl_gemm.Library, calls: list[int], threads: Callable[[int], None]
) -> None:
    x = R.standard_normal((8, 2, 128, 64)).astype(np.float32)
    y = R.standard_normal((8, 2, 64, 128)).astype(np.float32)
    threads(1)
    want = np.empty((8, 2, 128, 128), np.float32)
    split_gemm.matmul_into(x, y, want)
    for offset in (1, 3):
        out = _unaligned(np.zeros_like(want), offset)
        mkl_gemm.matmul(_unaligned(x, offset), _unaligned(y, 4 - offset), out)
        np.testing.assert_array_equal(out, want)
    threads(2)  # the batch cut into blocks a thread (Note [split products])
    out = np.full_like(want, np.nan)
    pool = native_pool.get()
    tasks = pool.counter("tasks") if pool is not None else 0
    split_gemm.matmul_into(x, y, out)
    np.testing.assert_array_equal(out, want)
    # one block a thread, or the batch on the native pool's threads, each product the same
    # generated kernel's call (Note [batches on the native pool] in runtime/batch_blocks.py)
    pooled = pool is not None and pool.counter("tasks") == tasks + 1
    assert calls == [16, 16, 16] + ([] if pooled else [8, 8])
