"""A convolution's column steps, its windows and batched products on adjit's threads (Notes
[column steps on threads], [split windows], [split products]): torch's values, the same from
call to call."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adjit.codegen import windows
from adjit.runtime import blas, chunk_slots, column_grads, split_gemm, split_windows

import adjit
import adjit.nn.functional as F


@pytest.fixture
def threads() -> object:
    """Restores adjit's thread count (and BLAS's) after the test."""
    before = adjit.get_num_threads()
    yield adjit.set_num_threads
    adjit.set_num_threads(before)


def _step_kinds(cf: object, *args: object) -> set[str]:
    runs = adjit.explain(cf, *args)._executables()
    return {type(s).__name__ for _, ex in runs for s in ex.steps}


CONVS = {  # x shape, outputs, stride, chunk bytes, the weight gradient's step
    "images": ((7, 4, 10, 10), 3, 2, 2 * 36 * 16 * 8, "ColumnsProduct"),  # 2 images a chunk
    "channels": ((7, 6, 6, 6), 64, 1, 1, "ChannelColumnsProduct"),  # 2 channels a chunk
}


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("kind", list(CONVS))
def test_column_steps_on_threads_match_torch_and_repeat(
    monkeypatch: pytest.MonkeyPatch, threads: object, count: int, kind: str
) -> None:
    # at 2 and 3 threads the 7 images (the 6 channels) are cut into slots of chunks, each
    # slot run by whichever thread is free
    shape, o, stride, chunk, weight_step = CONVS[kind]
    monkeypatch.setattr(column_grads, "CHUNK_BYTES", chunk)
    slotted: list[int] = []
    real = chunk_slots.run_slots
    monkeypatch.setattr(
        chunk_slots, "run_slots", lambda w, c, p, s: slotted.append(c) or real(w, c, p, s)
    )
    threads(count)  # type: ignore[operator]
    rng = np.random.default_rng(count)
    xs = rng.standard_normal(shape)
    ws = rng.standard_normal((o, shape[1], 3, 3))
    x = adjit.tensor(xs, requires_grad=True)
    w = adjit.tensor(ws, requires_grad=True)
    tx = torch.tensor(xs, requires_grad=True)
    tw = torch.tensor(ws, requires_grad=True)
    (torch.nn.functional.conv2d(tx, tw, stride=stride).tanh() ** 2).sum().backward()

    def f(x: adjit.Tensor, w: adjit.Tensor) -> adjit.Tensor:
        return (F.conv2d(x, w, stride=stride).tanh() ** 2).sum()

    cf = adjit.compile(f)
    first = None
    for _ in range(3):
        x.grad = w.grad = None
        cf(x, w).backward()
        got = (x.grad.numpy().copy(), w.grad.numpy().copy())
        for a, b in zip(got, (tx.grad.numpy(), tw.grad.numpy()), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())
        if first is None:
            first = got
        for a, b in zip(got, first, strict=True):  # the same bits from call to call
            assert np.array_equal(a, b)
    steps = _step_kinds(cf, x, w)
    assert steps >= {weight_step, "FoldProduct", "ProductOfColumns"}
    assert (min(slotted, default=0) == min(count, 3)) if count > 1 else not slotted
    assert len(slotted) == 3 * 3 or count == 1  # every column step of every call


def test_a_busy_scratch_runs_the_chunks_serially(
    monkeypatch: pytest.MonkeyPatch, threads: object
) -> None:
    # another program's step holds the scratch: this one runs its chunks on its own thread
    monkeypatch.setattr(column_grads, "CHUNK_BYTES", 2 * 36 * 16 * 8)
    threads(2)  # type: ignore[operator]
    rng = np.random.default_rng(3)
    xs, ws = rng.standard_normal((6, 4, 10, 10)), rng.standard_normal((3, 4, 3, 3))
    x, w = adjit.tensor(xs, requires_grad=True), adjit.tensor(ws, requires_grad=True)
    tx, tw = torch.tensor(xs, requires_grad=True), torch.tensor(ws, requires_grad=True)
    torch.nn.functional.conv2d(tx, tw, stride=2).square().sum().backward()
    cf = adjit.compile(lambda x, w: F.conv2d(x, w, stride=2).square().sum())
    with chunk_slots._BUSY:
        cf(x, w).backward()
    assert _step_kinds(cf, x, w) >= {"ColumnsProduct", "FoldProduct", "ProductOfColumns"}
    for a, b in ((x.grad, tx.grad), (w.grad, tw.grad)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-11)


def test_spans_cover_the_range_in_runs_no_longer_than_asked() -> None:
    assert chunk_slots.spans(0, 8, 3, False) == [(0, 3), (3, 6), (6, 8)]  # the serial chunks
    assert chunk_slots.spans(4, 8, 3, True) == [(4, 6), (6, 8)]
    assert chunk_slots.spans(0, 7, 7, True) == [(0, 7)]
    for lo, hi, most in [(0, 1, 1), (3, 17, 4), (0, 64, 5)]:
        got = chunk_slots.spans(lo, hi, most, True)
        assert got[0][0] == lo and got[-1][1] == hi
        assert all(b == c for (_, b), (c, _) in zip(got, got[1:], strict=False))
        sizes = [b - a for a, b in got]
        assert max(sizes) <= most and max(sizes) - min(sizes) <= 1


def test_scratch_arrays_are_aligned_apart_and_reused() -> None:
    a, b = chunk_slots._carve(1, [((3, 5), np.float32), ((7,), np.float64)])
    assert a.shape == (3, 5) and b.shape == (7,) and b.dtype == np.float64
    assert a.ctypes.data % 64 == 0 and b.ctypes.data % 64 == 0
    assert b.ctypes.data >= a.ctypes.data + a.nbytes
    c, d = chunk_slots._carve(1, [((3, 5), np.float32), ((7,), np.float64)])
    assert c.ctypes.data == a.ctypes.data and d.ctypes.data == b.ctypes.data


WINDOWS = [  # image (N, C, H, W), kernel, stride, padding, the columns' layout, pieces
    ((8, 6, 12, 12), (3, 3), (1, 1), ((1, 1), (1, 1)), "gemm", 4),  # 2 images each
    ((5, 3, 9, 11), (3, 2), (2, 1), ((0, 0), (1, 1)), "images", 4),
    ((1, 7, 8, 8), (3, 3), (1, 1), ((1, 1), (1, 1)), "gemm", 4),  # one image: by channels
    ((3, 5, 10, 10), (2, 2), (2, 2), ((0, 0), (0, 0)), "images", 6),  # 2 per image
]


def _columns(shape: tuple[int, ...], kernel: tuple[int, int], stride: tuple[int, int],
             padding: tuple[tuple[int, int], ...], layout: str) -> np.ndarray:  # fmt: skip
    n, c, h, w = shape
    oh = (h + sum(padding[0]) - kernel[0]) // stride[0] + 1
    ow = (w + sum(padding[1]) - kernel[1]) // stride[1] + 1
    rows, cells = c * kernel[0] * kernel[1], oh * ow
    if layout == "gemm":  # the (C kh kw, N L) matrix's (N, C kh kw, L) view
        return np.full((rows, n, cells), np.nan).transpose(1, 0, 2)
    return np.full((n, rows, cells), np.nan)


@pytest.mark.parametrize("case", WINDOWS)
def test_split_windows_give_the_serial_bits(
    monkeypatch: pytest.MonkeyPatch, threads: object, case: tuple[object, ...]
) -> None:
    shape, kernel, stride, padding, layout, count = case
    monkeypatch.setattr(split_windows, "PROBES", 0)
    monkeypatch.setattr(split_windows, "SPLIT_S", 0.0)  # split every call
    pieces: list[int] = []
    real = split_windows.run_split
    monkeypatch.setattr(
        split_windows, "run_split", lambda f, c, t: pieces.append(len(c)) or real(f, c, t)
    )
    threads(2)  # type: ignore[operator]
    rng = np.random.default_rng(0)
    attrs = dict(kernel_size=kernel, dilation=(1, 1), padding=padding, stride=stride)
    x = rng.standard_normal(shape)  # type: ignore[arg-type]
    want = _columns(shape, kernel, stride, padding, layout)  # type: ignore[arg-type]
    windows.unfold_into(x, want, **attrs)
    got = _columns(shape, kernel, stride, padding, layout)  # type: ignore[arg-type]
    split_windows.unfold_into(x, got, **attrs)
    assert np.array_equal(got, want)
    cols = rng.standard_normal(want.shape)
    if layout == "gemm":
        cols = np.ascontiguousarray(cols.transpose(1, 0, 2)).transpose(1, 0, 2)
    back, again = np.full(shape, np.nan), np.full(shape, np.nan)  # type: ignore[call-overload]
    windows.fold_into(cols, back, output_size=shape[2:], **attrs)  # type: ignore[index]
    split_windows.fold_into(cols, again, output_size=shape[2:], **attrs)  # type: ignore[index]
    assert np.array_equal(back, again)
    assert pieces == [count, count]


def test_windows_split_only_after_a_slow_serial_call(
    monkeypatch: pytest.MonkeyPatch, threads: object
) -> None:
    threads(2)  # type: ignore[operator]
    pieces: list[int] = []
    real = split_windows.run_split
    monkeypatch.setattr(
        split_windows, "run_split", lambda f, c, t: pieces.append(len(c)) or real(f, c, t)
    )
    monkeypatch.setattr(split_windows, "_BEST", {})
    monkeypatch.setattr(split_windows, "_SEEN", {})
    attrs = dict(kernel_size=(3, 3), dilation=(1, 1), padding=((1, 1), (1, 1)), stride=(1, 1))
    x = np.ones((2, 2, 4, 4))
    cols = np.empty((2, 18, 16))
    for _ in range(split_windows.PROBES + 3):  # a few µs a call: never split
        split_windows.unfold_into(x, cols, **attrs)
    assert pieces == []
    monkeypatch.setattr(split_windows, "SPLIT_S", 0.0)  # as if the probes had been slow
    split_windows.unfold_into(x, cols, **attrs)
    assert pieces == [4]  # 2 images: each cut in two by channels
    threads(1)  # type: ignore[operator]
    split_windows.unfold_into(x, cols, **attrs)
    assert pieces == [4]  # 2 images: each cut in two by channels


BATCHES = [  # x, y shapes; how x is laid out
    ((16, 4, 128, 64), (16, 4, 64, 128), "permuted"),  # attention's scores
    ((16, 4, 128, 128), (16, 4, 128, 64), "transposed"),
    ((1, 6, 128, 96), (1, 6, 96, 160), "plain"),  # the first batch axis is 1: the second cut
    ((5, 128, 192), (192, 128), "plain"),  # a stack times one matrix (broadcast)
    ((256, 128), (3, 128, 160), "plain"),
]


def _laid_out(rng: np.random.Generator, shape: tuple[int, ...], how: str) -> np.ndarray:
    if how == "permuted":  # (b, m, h, k) seen as (b, h, m, k)
        s = (shape[0], shape[2], shape[1], shape[3])
        return rng.standard_normal(s, dtype=np.float32).transpose(0, 2, 1, 3)
    if how == "transposed":
        return rng.standard_normal(shape, dtype=np.float32).swapaxes(-1, -2).copy().swapaxes(-1, -2)
    return rng.standard_normal(shape, dtype=np.float32)


@pytest.mark.parametrize("case", BATCHES)
def test_batched_products_split_by_whole_products(
    monkeypatch: pytest.MonkeyPatch, threads: object, case: tuple[object, ...]
) -> None:
    # each thread runs whole products on one BLAS thread: every product's bits are those of
    # NumPy's product on one BLAS thread, at any thread count, call after call
    monkeypatch.setenv("ADJIT_BLAS", "numpy")  # OpenBLAS's path (MKL's: test_mkl_gemm.py)
    xs, ys, how = case
    rng = np.random.default_rng(1)
    x = _laid_out(rng, xs, how)  # type: ignore[arg-type]
    y = rng.standard_normal(ys, dtype=np.float32)  # type: ignore[call-overload]
    if blas._openblas() is None:
        pytest.skip("NumPy's BLAS is not OpenBLAS here")
    threads(1)  # type: ignore[operator]
    want = np.matmul(x, y)
    blocks: list[int] = []
    real = split_gemm.run_split
    monkeypatch.setattr(
        split_gemm, "run_split", lambda f, c, t: blocks.append(len(c)) or real(f, c, t)
    )
    for count in (2, 3):
        threads(count)  # type: ignore[operator]
        for _ in range(2):
            out = np.full(want.shape, np.nan, np.float32)
            split_gemm.matmul_into(x, y, out)
            assert np.array_equal(out, want)
    assert blocks == [2, 2, 3, 3]


def test_small_batches_are_not_split(monkeypatch: pytest.MonkeyPatch, threads: object) -> None:
    blocks: list[int] = []
    real = split_gemm.run_split
    monkeypatch.setattr(
        split_gemm, "run_split", lambda f, c, t: blocks.append(len(c)) or real(f, c, t)
    )
    threads(2)  # type: ignore[operator]
    x = np.ones((4, 32, 32), np.float32)  # 0.26 MFLOP: one hand-off would cost more
    out = np.empty((4, 32, 32), np.float32)
    split_gemm.matmul_into(x, x, out)
    assert blocks == [] and np.array_equal(out, np.full((4, 32, 32), 32, np.float32))
