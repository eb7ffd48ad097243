"""Note [split products]: mid-sized compiled products in row blocks across threads."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.runtime import blas, kernels, mkl_gemm, split_gemm
from adjit.runtime.executor import compile_program

import adjit

EPS32 = float(np.finfo(np.float32).eps)
MECHANICS_FLOPS = 10**7  # small shapes test the blocks' mechanics below the real threshold


@pytest.fixture(autouse=True)
def _small_products_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """The blocks' mechanics on small shapes (the threshold itself: its own test below)."""
    monkeypatch.setattr(split_gemm, "SPLIT_FLOPS", MECHANICS_FLOPS)
    lib = mkl_gemm.library()
    if lib is not None:  # adjit's own split, not MKL's team (Note [MKL's own threads])
        monkeypatch.setattr(lib, "threads", None)


def test_products_split_from_the_measured_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """W2 batch 128's 51 MFLOP products run whole; twice that is split (Note [split threshold
    for products])."""
    monkeypatch.undo()
    assert split_gemm.SPLIT_FLOPS == 8 * 10**7
    for (m, k, n), split in [((128, 784, 256), False), ((256, 128, 784), False),
                             ((256, 784, 256), True)]:  # fmt: skip
        x, y = _operands(m, k, n, False)
        out = np.full((m, n), np.nan, np.float32)
        assert split_gemm.matmul_rows(x, y, out, 2) is split
        if split:
            _assert_product(out, x, y)


def _operands(m: int, k: int, n: int, transposed: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((k, m) if transposed else (m, k)).astype(np.float32)
    y = rng.standard_normal((n, k) if transposed else (k, n)).astype(np.float32)
    return (x.T, y.T) if transposed else (x, y)


def _assert_product(out: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """``out`` is ``x @ y`` to float32 summation error (k roundings of |x| @ |y| at most)."""
    exact = np.matmul(x.astype(np.float64), y.astype(np.float64))  # (a batch too)
    bound = x.shape[-1] * EPS32 * np.matmul(np.abs(x).astype(np.float64), np.abs(y))
    assert (np.abs(out - exact) <= bound).all()


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize(("m", "k", "n"), [(128, 784, 256), (100, 300, 200), (256, 128, 784)])
def test_row_blocks_compute_the_product(m: int, k: int, n: int, transposed: bool) -> None:
    x, y = _operands(m, k, n, transposed)
    out = np.full((m, n), np.nan, np.float32)
    assert split_gemm.matmul_rows(x, y, out, 2)
    _assert_product(out, x, y)
    again = np.empty_like(out)
    assert split_gemm.matmul_rows(x, y, again, 2)
    np.testing.assert_array_equal(again, out)  # the same blocks every call: the same bits


def test_blocks_start_at_row_multiples(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[int]] = []
    real = split_gemm.run_split

    def spy(fn, calls, threads):  # noqa: ANN001, ANN202
        seen.append([len(a) for a, _, _ in calls])
        return real(fn, calls, threads)

    monkeypatch.setattr(split_gemm, "run_split", spy)
    x, y = _operands(100, 300, 200, False)
    assert split_gemm.matmul_rows(x, y, np.empty((100, 200), np.float32), 3)
    assert seen == [[32, 32, 36]]


def test_small_or_short_products_are_not_split() -> None:
    x, y = _operands(128, 8, 8, False)  # 16 kFLOP: a hand-off would cost more
    assert not split_gemm.matmul_rows(x, y, np.empty((128, 8), np.float32), 2)
    x, y = _operands(20, 4096, 4096, False)  # one block of rows only
    assert not split_gemm.matmul_rows(x, y, np.empty((20, 4096), np.float32), 2)
    x, y = _operands(128, 784, 256, False)
    assert not split_gemm.matmul_rows(x, y, np.empty((128, 256), np.float32), 1)


def test_the_caller_runs_blocks_no_worker_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that gets no core costs nothing but its wake-up: the caller claims its block."""

    class Idle:
        def submit(self, fn, *args):  # noqa: ANN001, ANN202 - never runs the job
            return None

    monkeypatch.setattr(kernels, "pool", lambda: Idle())  # run_split's workers
    x, y = _operands(128, 784, 256, False)
    out = np.full((128, 256), np.nan, np.float32)
    assert split_gemm.matmul_rows(x, y, out, 2)
    _assert_product(out, x, y)


def test_compiled_product_splits_at_two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADJIT_BLAS", "numpy")  # OpenBLAS's path (MKL's: test_mkl_gemm.py)
    found = blas._openblas()
    if found is None:
        pytest.skip("NumPy's BLAS is not OpenBLAS here")
    calls: list[int] = []
    real = split_gemm.matmul_rows

    def spy(x, y, out, threads):  # noqa: ANN001, ANN202
        calls.append(threads)
        return real(x, y, out, threads)

    monkeypatch.setattr(split_gemm, "matmul_rows", spy)
    x, w = _operands(128, 784, 256, True)
    g = adjit.explain(lambda a, b: a @ b, adjit.tensor(x), adjit.tensor(w)).graph
    threads = adjit.get_num_threads()
    try:
        adjit.set_num_threads(2)
        out = compile_program(g)([x, w])[0]
    finally:
        adjit.set_num_threads(threads)
    assert calls == [2]
    _assert_product(out, x, w)


def test_products_split_with_blas_on_one_thread_and_blas_threads_come_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From SPLIT_FLOPS a 2-D product, large ones included (OpenBLAS's spinning workers took
    the core from adjit's: Note [split products]), is split with BLAS on one thread, whose
    count is restored after; a batched product is split by whole products."""
    monkeypatch.setenv("ADJIT_BLAS", "numpy")  # OpenBLAS's path (MKL's: test_mkl_gemm.py)
    found = blas._openblas()
    if found is None:
        pytest.skip("NumPy's BLAS is not OpenBLAS here")
    set_fn, default = found
    counts: list[int] = []
    monkeypatch.setattr(
        blas, "_openblas", lambda: (lambda n: counts.append(n) or set_fn(n), default)
    )
    monkeypatch.setattr(blas, "_SET", [2])
    blocks: list[int] = []
    real = split_gemm.matmul_rows
    monkeypatch.setattr(
        split_gemm,
        "matmul_rows",
        lambda *a: blocks.append(a[3]) or real(*a),  # type: ignore[func-returns-value]
    )
    x, y = _operands(512, 512, 256, False)  # 134 MFLOP: above blas.SMALL_FLOPS
    assert blas.SMALL_FLOPS <= 2 * 512 * 512 * 256
    out = np.empty((512, 256), np.float32)
    split_gemm.matmul_into(x, y, out)
    assert blocks == [2] and counts == [1, 2]
    _assert_product(out, x, y)
    mid = np.empty((128, 256), np.float32)
    split_gemm.matmul_into(x[:128], y, mid)  # 34 MFLOP: split, BLAS on one thread meanwhile
    assert blocks == [2, 2] and counts == [1, 2, 1, 2]
    _assert_product(mid, x[:128], y)
    xs = np.stack([x[:64], x[64:128]])
    ys = np.stack([y, y])
    outs = np.empty((2, 64, 256), np.float32)
    split_gemm.matmul_into(xs, ys, outs)  # batched: whole products a thread, not row blocks
    assert blocks == [2, 2] and counts == [1, 2, 1, 2, 1, 2]
    for b in range(2):
        _assert_product(outs[b], xs[b], ys[b])


@pytest.mark.parametrize(("m", "k", "n"), [(256, 2048, 96), (64, 1000, 200), (100, 400, 160)])
def test_depth_blocks_compute_the_product(m: int, k: int, n: int) -> None:
    """Note [depth blocks]: blocks of k, partials added in block order; the same bits from
    call to call."""
    x, y = _operands(m, k, n, True)
    out = np.full((m, n), np.nan, np.float32)
    assert split_gemm.matmul_depth(x, y, out, 2)
    _assert_product(out, x, y)
    again = np.empty_like(out)
    assert split_gemm.matmul_depth(x, y, again, 2)
    np.testing.assert_array_equal(again, out)


def test_depth_blocks_start_at_multiples(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[tuple[int, ...]]] = []
    real = split_gemm.run_split

    def spy(fn, calls, threads):  # noqa: ANN001, ANN202
        seen.append([(a.shape[1], b.shape[0], o.shape[0]) for a, b, o in calls])
        return real(fn, calls, threads)

    monkeypatch.setattr(split_gemm, "run_split", spy)
    x, y = _operands(64, 1000, 200, False)
    assert split_gemm.matmul_depth(x, y, np.empty((64, 200), np.float32), 3)
    assert seen == [[(320, 320, 64), (336, 336, 64), (344, 344, 64)]]
    assert not split_gemm.matmul_depth(x, y, np.empty((64, 200), np.float32), 1)
    x, y = _operands(64, 20, 4096, False)  # one block of k only
    assert not split_gemm.matmul_depth(x, y, np.empty((64, 4096), np.float32), 2)


@pytest.mark.parametrize(
    ("m", "k", "n", "kind"),
    [(256, 2048, 256, "matmul_depth"), (128, 784, 256, "matmul_depth"),
     (256, 1024, 784, "matmul_rows"), (1024, 784, 256, "matmul_rows")],
)  # fmt: skip
def test_mkl_products_with_long_k_split_by_depth(
    monkeypatch: pytest.MonkeyPatch, m: int, k: int, n: int, kind: str
) -> None:
    """Under MKL a product whose k is at least DEPTH_RATIO times its longer side is split in
    blocks of k (Note [depth blocks]), others by rows."""
    if mkl_gemm.active() is None:
        pytest.skip("MKL is not usable here")
    monkeypatch.setenv("ADJIT_BLAS", "mkl")  # MKL's path, not the timed choice's
    calls: list[str] = []
    for name in ("matmul_depth", "matmul_rows"):
        real = getattr(split_gemm, name)
        monkeypatch.setattr(
            split_gemm, name, lambda *a, n=name, f=real: calls.append(n) or f(*a)
        )  # fmt: skip
    monkeypatch.setattr(split_gemm, "num_threads", lambda: 2)
    x, y = _operands(m, k, n, True)
    out = np.empty((m, n), np.float32)
    split_gemm.matmul_into(x, y, out)
    assert calls == [kind]
    _assert_product(out, x, y)
