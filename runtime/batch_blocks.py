"""Batches of small products split across the native pool, one generated GEMM call each."""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from ..codegen.batch_call import DESCRIPTOR_WORDS, SYMBOL, batch_call_ir
from ..codegen.jit import CompiledKernel, compile_ir
from . import mkl_gemm, native_pool

# Note [batches on the native pool]
# A batch of products split across threads (Note [split products] in split_gemm.py) ran its
# blocks on adjit's Python workers, and each block's products as MKL's generated kernels, one
# ctypes call each from a Python loop (Note [JIT products] in mkl_jit.py): at 2 threads the
# two loops took turns holding the GIL between calls (the transformer's attention, (16, 4) of
# 128 x 128 x 64: the caller ran ~60% of the products, the whole product's CPU 2.1 -> 2.3 ms,
# load ~7). So such a batch, when the generated kernel takes it (mkl_gemm.jit_batch: at most
# two batch dims left after merging), runs on the native pool: one descriptor, the pool's
# chunks ranges of the batch's products, each product the same generated-kernel call as on
# one thread (the same bits at every thread count and chunking), the loop compiled (Note
# [batch call kernel] in codegen/batch_call.py) and the GIL let go for the whole batch.
# Chunks: PIECES a thread, claimed by whoever is free, so a worker that starts late leaves
# the caller less to wait for. Where the pool is off or cannot be built, or the generated
# kernel does not take the batch, the blocks run as before. Measured at 2 threads against the
# Python workers (CPU medians, load ~7; one thread in brackets): the four attention layouts'
# (16, 4) products 2.43 vs 3.03 ms (2.59), 2.67 vs 3.24 (2.85), 2.99 vs 3.50 (3.02), the same
# bits as one thread; the transformer step's CPU 153.2 -> 136.9 ms (one thread 136.4),
# in-process interleaved medians.
PIECES = 4

_KERNEL: list[CompiledKernel | None] = []
_LOCK = threading.Lock()


def _kernel() -> CompiledKernel | None:
    """The batch call kernel (compiled once; None where it cannot be)."""
    if not _KERNEL:
        with _LOCK:
            if not _KERNEL:
                try:
                    _KERNEL.append(compile_ir(batch_call_ir(), "batch_call", SYMBOL))
                except Exception:  # noqa: BLE001 -- no JIT here: the Python workers run it
                    _KERNEL.append(None)
    return _KERNEL[0]


def run(lib: mkl_gemm.Library, x: np.ndarray, y: np.ndarray, out: np.ndarray, threads: int) -> bool:
    """``np.matmul(x, y, out=out)`` for a batch of products on up to ``threads`` threads of
    the native pool (Note [batches on the native pool]); False, having done nothing, when it
    cannot take them."""
    pool = native_pool.get()
    found = mkl_gemm.jit_batch(lib, x, y, out) if pool is not None else None
    if pool is None or found is None or len(found[2]) > 2:
        return False
    kernel = _kernel()
    if kernel is None:
        return False
    (fn, jitter), starts, dims = found
    (inner, last), (outer, first) = dims[-1], dims[0] if len(dims) == 2 else (1, [0, 0, 0])
    words = [
        ctypes.cast(fn, ctypes.c_void_p).value or 0, jitter.value or 0, *starts, inner,
        *first, *last,
    ]  # fmt: skip
    descriptor = (ctypes.c_int64 * DESCRIPTOR_WORDS)(*words)
    row = (ctypes.c_void_p * 1)(ctypes.addressof(descriptor))  # every chunk's one argument
    count = inner * outer
    pool.run(
        1, kernel.address, ctypes.addressof(row), 0, count, min(count, threads * PIECES), threads
    )
    return True
