"""Mid-sized matrix products split by rows across the caller and adjit's worker threads."""

from __future__ import annotations

import numpy as np

from .kernels import Split, pool

# Note [split products]
# Products below blas.SMALL_FLOPS run on one BLAS thread (Note [BLAS threads]: OpenBLAS's
# workers busy-wait, and a two-thread product waited ~30 ms for a time slice when another
# process held a core). But with n threads asked for, one BLAS thread gives away the other
# cores: W2's step (784-256-10, batch 128) has two 51 MFLOP products, 0.59 ms each on one
# core, and NumPy's own step ran them on two OpenBLAS threads in 0.32 ms each (idle machine),
# so at 2 threads adjit took 1.8 ms against NumPy's 1.2 ms. A product of at least
# SPLIT_FLOPS (below which a hand-off, ~30-40 µs, eats the gain) runs instead as one
# single-threaded GEMM per block of the result's rows, claimed by whoever is free: the caller
# and adjit's workers, which block on a queue instead of spinning (Note [split threshold] in
# kernels.py). A worker that gets no core costs only its wake-up: the caller runs the block
# itself. Measured (2 threads, one other process running): 0.35 ms a product. The blocks'
# edges depend only on the row count and the thread count, so a result is the same from call
# to call; OpenBLAS's sums depend on the row count it is given (a 64-row slice's rows differ
# from the same rows of the 128-row product in the last bit, as do its own 2-thread results),
# so, as with BLAS's own threads, results at 1 and 2 threads may differ by rounding.
SPLIT_FLOPS = 10**7  # 2*m*n*k at least this (~110 µs on one core): split
ROW_ALIGN = 16  # block edges at multiples of this many rows (the GEMM kernels' row unroll)


def matmul_rows(x: np.ndarray, y: np.ndarray, out: np.ndarray, threads: int) -> bool:
    """``np.matmul(x, y, out=out)`` for 2-D ``x``, ``y`` and C-contiguous ``out``, in row
    blocks across ``threads`` threads (BLAS set to one thread by the caller); False, having
    done nothing, when the product is too small to split."""
    m, k = x.shape
    n = y.shape[1]
    blocks = min(threads, m // ROW_ALIGN)
    if blocks < 2 or 2 * m * n * k < SPLIT_FLOPS:
        return False
    edges = [m * i // blocks // ROW_ALIGN * ROW_ALIGN for i in range(blocks)] + [m]
    calls = [(x[lo:hi], y, out[lo:hi]) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    split = Split(np.matmul, calls)
    workers = pool()
    for _ in range(blocks - 1):
        workers.submit(split.work)
    split.work()
    split.wait()
    return True
