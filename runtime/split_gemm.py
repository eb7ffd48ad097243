"""Mid-sized matrix products split by rows across the caller and adjit's worker threads."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from . import batch_blocks, blas_choice, mkl_gemm, own_gemm
from .blas import one_thread, single_threaded, threads_sleep_soon
from .idle_cores import WATCH
from .kernels import run_split
from .workers import num_threads

Product = Callable[[np.ndarray, np.ndarray, np.ndarray], None]

# Note [split products]
# OpenBLAS's own threads busy-wait (Note [BLAS threads]): with another process on a core, a
# two-thread product waits for time slices (W2 batch 1024 at 2 threads: 41 ms a step against 11 ms
# on one thread, load ~2.5), so products below blas.SMALL_FLOPS ran on one BLAS thread. But with n
# threads asked for, one BLAS thread gives away the other cores: W2's step (784-256-10, batch 128)
# has two 51 MFLOP products, 0.59 ms each on one core, and NumPy's own step ran them on two OpenBLAS
# threads in 0.32 ms each (idle machine), so at 2 threads adjit took 1.8 ms against NumPy's 1.2 ms.
# So a 2-D product of at least SPLIT_FLOPS (below which a hand-off, ~30-40 µs, eats the gain) runs
# as one single-threaded GEMM per block of the result's rows, claimed by whoever is free: the caller
# and adjit's workers, which block on a queue instead of spinning (Note [split threshold] in
# kernels.py). A worker that gets no core costs only its wake-up: the caller runs the block itself.
# Measured (2 threads, one other process running): 0.35 ms a product.
# Large products too: once the column steps and batched products below no longer woke OpenBLAS's
# threads, the large products were the ones left to wake them, and their workers' spinning took the
# core from adjit's (in-process interleaved steps at 2 threads, quiet: resnet18 b8 160.7 ms with
# large products on BLAS's threads against 138.1 split, 140.3 before any of this; transformer 82.1,
# 83.0, 83.1; under load ~2 resnet18 271 against 168 ms; CPU time 304 against 203 ms). An earlier
# measurement, split, found the transformer step 84 -> 152 ms.
# A batch of products (the transformer's attention, (16, 4, 128, 64) @ (16, 4, 64, 128)) is a loop
# of small GEMMs in NumPy, each split by OpenBLAS's threads (62-68 GF/s at 1 thread, 24.8 -> 19.8 ms
# a step at 2). From BATCH_SPLIT_FLOPS its first batch axis longer than one is cut into a block a
# thread, each block running whole products on one BLAS thread (the operands read through their
# strides as before: a block is a view), so every product is the same single-threaded GEMM at any
# thread count: the same bits as at 1 thread. Other products (too few rows) keep
# blas.single_threaded's choice. The blocks' edges depend only on the shapes and the thread count,
# so a result is the same from call to call; OpenBLAS's sums depend on the row count it is given (a
# 64-row slice's rows differ from the same rows of the 128-row product in the last bit, as do its
# own 2-thread results), so, as with BLAS's own threads, a 2-D product's results at 1 and 2 threads
# may differ by rounding.
# With MKL (Note [MKL products] in mkl_gemm.py) the same blocks each run one sequential MKL GEMM,
# with no OpenBLAS thread count to set; its 2-D row blocks gave the same bits as the whole
# product on the shapes tried, but only the batch split's equality is tested. Under MKL a product
# with a long k is cut in blocks of k instead (Note [depth blocks]), a batch the generated
# kernels take runs on the native pool (Note [batches on the native pool] in batch_blocks.py),
# and blocks run on the caller alone while workers get no core (Note [workers without a core]
# in idle_cores.py). Tried and not kept (2 threads, CPU medians, load 6-9): MKL's own OpenMP
# threads (libiomp5, KMP_BLOCKTIME=0, CNR on, dynamic off; products above SPLIT_FLOPS on 2 MKL
# threads, the rest on 1): the transformer step 188 against 126 ms of CPU, W2 b128 2.96 against
# 2.12 (measured on a quiet machine they won, with a 5 ms spin and no GNU OpenMP loaded: 2-D
# products from TEAM_FLOPS now go to MKL's team there, Note [MKL's own threads]); column
# blocks: slower than row blocks on every step shape but one (thread_time minima, one after the
# other: (128, 784) @ (784, 256) 542 against 396 µs, whole 362); 2-D blocks on
# the native pool through a compiled gemm call: no difference measured (each block is one long
# call that lets go of the GIL anyway).
#
# Note [depth blocks]
# A row block multiplies by the whole of y, which each block's GEMM packs again. Where y is large
# against the rows, that repacking costs more than the block saves: the transformer's weight
# gradients, (256, 2048) (transposed) @ (2048, 1024), took 8.1 ms of one core whole and 16.2 ms as
# two 128-row halves one after the other (thread_time minima; (256, 2048) @ (2048, 768) 5.8 and
# 6.3), so at 2 threads that product ran no faster than at 1 (17.2 ms of CPU against 9.0). Its
# two halves of the summed dimension k, each a product of half of x's columns by half of y's
# rows, took 8.4 ms together and need only the second half's result added to the first's (here
# 0.2 ms). So a 2-D MKL product with k at least DEPTH_RATIO times its longer side (a weight
# gradient summed over a batch of tokens) is split in blocks of k: the first block's GEMM writes
# `out`, the others their own partial results, added to `out` in block order afterwards (one
# order at a thread count: the same bits from call to call, not the whole product's). Measured
# at 2 threads, CPU medians, load ~8: (256, 2048) @ (2048, 1024) 17.2 -> 9.0 ms, (256, 2048) @
# (2048, 768) 7.8 -> 7.0, (256, 2048) @ (2048, 256) 2.9 -> 2.6, (1024, 2048) @ (2048, 256) 10.1 ->
# 9.7 (one thread: 9.0, 6.2, 2.3, 9.6). Products with k shorter keep row blocks: W2's
# (256, 1024) @ (1024, 784) took 2.62 ms in row halves and 2.87 in k halves (whole: 2.66).
# Note [split threshold for products]
# SPLIT_FLOPS was 10**7 (~110 µs on one core), from a measurement under load. On a quiet
# machine, 2 threads, in-process interleaved medians of 20 pairs (compiled ``a @ b``, MKL):
# W2 batch 128's (128, 784) @ (784, 256) and (256, 128) @ (128, 784), 51 MFLOP each, ran 0.742
# and 0.687 ms split against 0.664 and 0.548 whole (the hand-off and two half-height GEMMs
# cost more than half the work), (256, 784) @ (784, 256) (103 MFLOP) 0.958 against 1.139,
# (512, 784) @ (784, 256) 1.365 against 2.282; W2 batch 128's whole step 1.386 ms with its
# products split against 1.202 whole (batch 1024: 7.18 against 8.38). So products split from
# 8 * 10**7, between the two.
# MKL's own team (Note [MKL's own threads]) splits a product without adjit's hand-off and packs
# each operand once: W2 batch 128's step at 2 threads, its 51 MFLOP products on the team
# against whole on one thread, 0.99 and 0.94 ms against 1.19 and 1.21 (in-process interleaved
# medians of 20 rounds of 20 steps, load ~1). So the team takes products from TEAM_FLOPS.
SPLIT_FLOPS = 8 * 10**7  # 2*m*n*k at least this (~0.6 ms on one core): split
TEAM_FLOPS = 4 * 10**7  # on MKL's team from this
BATCH_SPLIT_FLOPS = 2 * 10**7  # a batch of products split by whole products from this
ROW_ALIGN = 16  # block edges at multiples of this many rows (the GEMM kernels' row unroll)
ALONE_FLOPS = min(SPLIT_FLOPS, TEAM_FLOPS, BATCH_SPLIT_FLOPS)  # one thread below, either BLAS
OWN_ROWS, OWN_COLUMNS = 16, 64  # adjit's GEMM's blocks: at least these rows (columns) each
DEPTH_RATIO = 2  # k at least this times max(m, n): blocks of k (Note [depth blocks])


def aligned_edges(extent: int, blocks: int, align: int) -> list[int]:
    """``[0, extent)`` cut into ``blocks`` near-equal runs, inner edges at multiples of
    ``align``."""
    return [extent * i // blocks // align * align for i in range(blocks)] + [extent]


def matmul_rows(
    x: np.ndarray, y: np.ndarray, out: np.ndarray, threads: int, gemm: Product = np.matmul
) -> bool:
    """``np.matmul(x, y, out=out)`` for 2-D ``x``, ``y`` and C-contiguous ``out``, in row
    blocks across ``threads`` threads, each a single-threaded ``gemm`` (BLAS set to one thread
    by the caller); False, having done nothing, when the product is too small to split."""
    m, k = x.shape
    n = y.shape[1]
    blocks = min(threads, m // ROW_ALIGN)
    if blocks < 2 or 2 * m * n * k < SPLIT_FLOPS:
        return False
    edges = aligned_edges(m, blocks, ROW_ALIGN)
    calls = [(x[lo:hi], y, out[lo:hi]) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return _run_blocks(calls, gemm)


def matmul_depth(
    x: np.ndarray, y: np.ndarray, out: np.ndarray, threads: int, gemm: Product = np.matmul
) -> bool:
    """``np.matmul(x, y, out=out)`` for 2-D ``x``, ``y`` and C-contiguous ``out`` in blocks of
    the summed dimension across ``threads`` threads, each a single-threaded ``gemm`` into its
    own partial result, added to the first block's in block order (Note [depth blocks]);
    False, having done nothing, when the product is too small to split."""
    m, k = x.shape
    n = y.shape[1]
    blocks = min(threads, k // ROW_ALIGN)
    if blocks < 2 or 2 * m * n * k < SPLIT_FLOPS:
        return False
    edges = aligned_edges(k, blocks, ROW_ALIGN)
    partials = np.empty((blocks - 1, m, n), out.dtype)
    calls = [
        (x[:, lo:hi], y[lo:hi], into)
        for lo, hi, into in zip(edges[:-1], edges[1:], [out, *partials], strict=True)
    ]
    _run_blocks(calls, gemm)
    for partial in partials:
        np.add(out, partial, out=out)
    return True


def own_blocks(x: np.ndarray, y: np.ndarray, out: np.ndarray, threads: int) -> None:
    """``np.matmul(x, y, out=out)`` by adjit's GEMM (which takes the operands: float32
    matrices), in blocks of rows, else of columns, across ``threads`` threads when it is at
    least ALONE_FLOPS; every element is the same chain of FMAs at any thread count."""
    m, n = out.shape
    if threads < 2 or 2 * out.size * x.shape[1] < ALONE_FLOPS:
        own_gemm.matmul_into(x, y, out)
        return
    rows = out.strides[1] == out.itemsize and m >= OWN_ROWS * threads
    extent, align = (m, OWN_ROWS) if rows else (n, OWN_COLUMNS)
    blocks = min(threads, extent // align)
    if blocks < 2:
        own_gemm.matmul_into(x, y, out)
        return
    edges = aligned_edges(extent, blocks, align)
    spans = zip(edges[:-1], edges[1:], strict=True)
    if rows:
        calls = [(x[lo:hi], y, out[lo:hi]) for lo, hi in spans]
    else:
        calls = [(x, y[:, lo:hi], out[:, lo:hi]) for lo, hi in spans]
    _run_blocks(calls, own_gemm.matmul_into)


def _run_blocks(calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]], gemm: Product) -> bool:
    """``gemm`` of each (x, y, out) block, claimed by the caller and adjit's workers, or the
    caller's alone while workers get no core (Note [workers without a core])."""
    WATCH.run(gemm, calls, run_split)
    return True


def _along(a: np.ndarray, axis: int, ndim: int, lo: int, hi: int) -> np.ndarray:
    """``a`` (batch dims aligned right against an ``ndim``-dim result) sliced to [lo, hi)
    along the result's ``axis``; whole where it broadcasts there."""
    own = axis - (ndim - a.ndim)
    if own < 0 or a.shape[own] == 1:
        return a
    return a[(slice(None),) * own + (slice(lo, hi),)]


def matmul_batches(
    x: np.ndarray, y: np.ndarray, out: np.ndarray, threads: int, gemm: Product = np.matmul
) -> bool:
    """``np.matmul(x, y, out=out)`` for a batch of products, the batch cut into blocks across
    ``threads`` threads, each running whole products on one BLAS thread (set by the caller;
    Note [split products]); False, having done nothing, when there is too little to split."""
    axis = next((a for a in range(out.ndim - 2) if out.shape[a] > 1), None)
    if axis is None or threads < 2 or 2 * out.size * x.shape[-1] < BATCH_SPLIT_FLOPS:
        return False
    blocks = min(threads, out.shape[axis])
    extent = out.shape[axis]
    edges = [extent * i // blocks for i in range(blocks + 1)]
    calls = [
        (_along(x, axis, out.ndim, lo, hi), _along(y, axis, out.ndim, lo, hi),
         out[(slice(None),) * axis + (slice(lo, hi),)])
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]  # fmt: skip
    return _run_blocks(calls, gemm)


def matmul_into(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``np.matmul(x, y, out=out)`` (``out`` C-contiguous) in row blocks or blocks of the
    batch across adjit's threads (Note [split products]), else on the BLAS threads Note
    [BLAS threads] chooses."""
    matmul_by(chosen(x, y, out), x, y, out)


def chosen(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> mkl_gemm.Choice:
    """The library ``matmul_into`` runs this product by at this thread count, timed the first
    time its geometry is seen (Note [BLAS by measurement])."""
    # (below ALONE_FLOPS either library runs it on one thread at any thread count)
    threads = num_threads()
    flops = 2 * out.size * x.shape[-1]
    alone = threads == 1 or flops < ALONE_FLOPS
    run = functools.partial(matmul_by, x=x, y=y, out=out)
    if not alone and mkl_gemm.blas_mode() == "auto" and on_blas_threads(x, y, out, flops):
        return mkl_gemm.chosen_threaded(x, y, out, threads, run)
    return mkl_gemm.chosen(x, y, out, alone, run)


def on_blas_threads(x: np.ndarray, y: np.ndarray, out: np.ndarray, flops: int) -> bool:
    """Whether NumPy's BLAS may run this product (``flops`` of it) on its own threads at more
    than one thread: a 2-D product or a batch of at least SPLIT_FLOPS, where OpenBLAS's idle
    threads sleep soon (Note [OpenBLAS's idle threads] in blas.py)."""
    if flops < SPLIT_FLOPS:
        return False
    return (_row_split(x, y) or _batched(x, y, out)) and threads_sleep_soon()


def _row_split(x: np.ndarray, y: np.ndarray) -> bool:
    """A 2-D product with rows enough to split between threads by ROW_ALIGN blocks."""
    return x.ndim == 2 == y.ndim and x.shape[0] >= 2 * ROW_ALIGN


def _batched(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> bool:
    """A batch of matrix products (not a matrix by a vector)."""
    return out.ndim > 2 and min(x.ndim, y.ndim) > 1


def matmul_by(lib: mkl_gemm.Choice, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``matmul_into`` by MKL (``lib``), adjit's GEMM (blas_choice.OWN) or NumPy's BLAS (None)."""
    if lib is blas_choice.OWN:
        own_blocks(x, y, out, num_threads())
        return
    m, k = x.shape[-2:] if x.ndim > 1 else (1, x.shape[-1])
    n = y.shape[-1] if y.ndim > 1 else 1
    flops = 2 * m * n * k
    if lib is not None:
        _mkl_into(lib, x, y, out, m, k, flops)  # (others on NumPy's BLAS, threads set below)
        return
    if num_threads() > 1 and on_blas_threads(x, y, out, 2 * out.size * k):
        np.matmul(x, y, out=out)  # on OpenBLAS's own threads (adjit's count: blas.set_threads)
        return
    if _row_split(x, y) and flops >= SPLIT_FLOPS:
        restore = one_thread()
        if restore is None:  # on one thread already (or not OpenBLAS: its own setting)
            np.matmul(x, y, out=out)
            return
        try:
            if not matmul_rows(x, y, out, restore[1]):
                np.matmul(x, y, out=out)
            return
        finally:
            restore[0](restore[1])
    if _batched(x, y, out) and 2 * out.size * k >= BATCH_SPLIT_FLOPS:
        restore = one_thread()  # whole products of the batch on each thread (see the Note)
        if restore is not None:
            try:
                if matmul_batches(x, y, out, restore[1]):
                    return
            finally:
                restore[0](restore[1])
    restore = single_threaded(out.size // max(1, m * n) * m, n, k)
    try:
        np.matmul(x, y, out=out)
    finally:
        if restore is not None:
            restore[0](restore[1])


def _mkl_into(
    lib: mkl_gemm.Library, x: np.ndarray, y: np.ndarray, out: np.ndarray, m: int, k: int,
    flops: int,
) -> None:  # fmt: skip
    """``matmul_into`` by MKL on one thread a block (Note [MKL products] in mkl_gemm.py): the
    same row and batch blocks, blocks of k where k is long (Note [depth blocks]), no OpenBLAS
    thread count to set."""
    threads = num_threads()
    plain = _row_split(x, y)
    rows = plain and flops >= SPLIT_FLOPS
    batch = _batched(x, y, out) and 2 * out.size * k >= BATCH_SPLIT_FLOPS
    if threads > 1 and plain and flops >= TEAM_FLOPS and lib.threads is not None:
        lib.threads.run(threads, mkl_gemm.matmul_by, lib, x, y, out)  # Note [MKL's own threads]
        return
    if threads > 1 and rows:
        deep = k >= DEPTH_RATIO * max(m, out.shape[1])  # Note [depth blocks]
        if (matmul_depth if deep else matmul_rows)(x, y, out, threads, mkl_gemm.matmul):
            return
    if threads > 1 and batch and batch_blocks.run(lib, x, y, out, threads):
        return  # (Note [batches on the native pool])
    if threads > 1 and batch and matmul_batches(x, y, out, threads, mkl_gemm.matmul):
        return
    mkl_gemm.matmul_by(lib, x, y, out)
