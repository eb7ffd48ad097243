"""Note [one product, one call]: on one thread a compiled 2-D float product asks MKL's prepared
call directly; its bits are the general path's, and what it declines goes the general way; at
two threads it runs split as matmul_into splits it, by the kept choice."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.runtime import executor, mkl_gemm, split_gemm

import adjit
from tests.runtime.test_split_gemm import _assert_product

needs_mkl = pytest.mark.skipif(mkl_gemm.library() is None, reason="MKL not installed")


@pytest.fixture
def one_thread():
    before = adjit.get_num_threads()
    adjit.set_num_threads(1)
    yield
    adjit.set_num_threads(before)


def _operands(dtype=np.float32):
    g = np.random.default_rng(3)
    x = g.standard_normal((37, 53)).astype(dtype)
    w = g.standard_normal((29, 53)).astype(dtype)  # read transposed, as Linear's weight
    return x, w


def _counted(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = mkl_gemm._prepared

    def counting(lib, x, y, out):
        calls.append(1)
        return real(lib, x, y, out)

    monkeypatch.setattr(mkl_gemm, "_prepared", counting)
    return calls


@needs_mkl
def test_the_step_calls_the_prepared_product_with_the_general_paths_bits(
    one_thread, monkeypatch
) -> None:
    calls = _counted(monkeypatch)
    monkeypatch.setenv("ADJIT_BLAS", "mkl")  # MKL's prepared call, not a timed choice
    monkeypatch.setattr(executor, "matmul_into", None)  # (the general path is not reached)
    x, w = _operands()
    cf = adjit.compile(lambda a, b: a @ b.t())
    got = cf(adjit.tensor(x), adjit.tensor(w)).numpy()
    assert calls
    want = np.empty((37, 29), np.float32)
    monkeypatch.undo()
    monkeypatch.setenv("ADJIT_BLAS", "mkl")
    split_gemm.matmul_into(x, w.T, want)
    assert np.array_equal(got, want)


@needs_mkl
def test_numpy_blas_and_other_dtypes_go_the_general_way(one_thread, monkeypatch) -> None:
    calls = _counted(monkeypatch)
    monkeypatch.setenv("ADJIT_BLAS", "numpy")
    x, w = _operands()
    cf = adjit.compile(lambda a, b: a @ b.t())
    got = cf(adjit.tensor(x), adjit.tensor(w)).numpy()
    assert not calls and np.array_equal(got, np.matmul(x, w.T))
    monkeypatch.delenv("ADJIT_BLAS")
    xi, wi = (np.arange(12, dtype=np.int64).reshape(3, 4), np.ones((2, 4), np.int64))
    out = adjit.compile(lambda a, b: a @ b.t())(adjit.tensor(xi), adjit.tensor(wi)).numpy()
    assert not calls and np.array_equal(out, xi @ wi.T)


def test_two_threads_keep_the_split_products(monkeypatch) -> None:
    before = adjit.get_num_threads()
    adjit.set_num_threads(2)
    seen: list[tuple] = []
    real = split_gemm.matmul_by

    def recording(lib, x, y, out):
        seen.append(out.shape)
        real(lib, x, y, out)

    try:
        x, w = _operands()
        # the geometry's choice first: where no earlier run left it on disk it is timed, by
        # calls to matmul_by this test does not count
        split_gemm.chosen(x, w.T, np.empty((37, 29), np.float32))
        monkeypatch.setattr(split_gemm, "matmul_by", recording)
        f = adjit.compile(lambda a, b: a @ b.t())
        got, again = (f(adjit.tensor(x), adjit.tensor(w)) for _ in range(2))
        assert seen == [(37, 29), (37, 29)]
        np.testing.assert_allclose(got.numpy(), x @ w.T, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(again.numpy(), got.numpy())
    finally:
        adjit.set_num_threads(before)


@needs_mkl
def test_product_into_is_the_steps_path(one_thread, monkeypatch) -> None:
    """executor.product_into (the benchmarks' GEMM floor for adjit's choice) runs a 2-D product
    by the kept call, as the compiled step does, with the general path's bits; a stack times a
    matrix and a batch go the general way, to NumPy's product within float32 summation error."""
    calls = _counted(monkeypatch)
    monkeypatch.setenv("ADJIT_BLAS", "mkl")
    x, w = _operands()
    got = np.empty((37, 29), np.float32)
    executor.product_into(x, w.T, got)
    assert calls
    want = np.empty((37, 29), np.float32)
    split_gemm.matmul_into(x, w.T, want)
    assert np.array_equal(got, want)
    g = np.random.default_rng(4)
    for a, b in (
        (g.standard_normal((3, 5, 53)), w.T),  # one GEMM over the rows
        (g.standard_normal((4, 6, 53)), g.standard_normal((4, 53, 7))),  # a batch
    ):
        a, b = a.astype(np.float32), b.astype(np.float32)
        out = np.empty((*a.shape[:-1], b.shape[-1]), np.float32)
        executor.product_into(a, b, out)
        _assert_product(out, a, b)
