"""Batches of small products through GEMM kernels MKL generates for their one geometry."""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np

# Note [JIT products]
# A transformer's attention is batches of small products: (16, 4) of 128 x 128 x 64 and
# 128 x 64 x 128, their operands strided views of the qkv projection (rows 768 floats apart).
# gemm_batch_strided ran them at 53-61 GF/s on one core, where the step's large products run at
# 130-140. MKL's JIT (mkl_cblas_jit_create_?gemm) generates a kernel for one geometry (layout,
# transposes, m, n, k, leading dimensions, alpha 1, beta 0) that skips the general GEMM's
# dispatch and packing decisions; called once a product from Python (~0.4 µs a call), the four
# attention geometries ran 1.67-1.97 ms against 2.19-2.50 ms batched, except the transposed
# probabilities' 2.25 against 2.37 (64 products, thread_time medians of 30, load ~7). Below
# JIT_MIN_FLOPS a product the per-call cost eats the gain (8^3 and 16^3: 0.75x of the batched
# call; 32^3 even), and MKL answers MKL_NO_JIT where it has no small kernel (128^3): those keep
# gemm_batch_strided. Each product is one call of the same generated code whatever the thread
# count or batch split, so results are the same bits from call to call and at every thread
# count (Note [split products]); a kernel reads its operands with unaligned loads, so the bits
# do not depend on the buffers' alignment either (tests/runtime/test_mkl_jit.py). Generated
# kernels are kept by geometry for the process (a few KB each, at most KEPT of them).

JIT_MIN_FLOPS = 2**19  # 2*m*n*k of one product at least this (64 x 64 x 64): a generated kernel
KEPT = 256  # geometries kept; past this, new geometries take gemm_batch_strided
_SUCCESS = 0  # MKL_JIT_SUCCESS (1: MKL_NO_JIT, a general GEMM behind the pointer; 2: error)
_KERNEL = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
_SCALARS = {
    np.dtype(np.float32): ("s", ctypes.c_float),
    np.dtype(np.float64): ("d", ctypes.c_double),
}

Plan = tuple[int, ...]  # mkl_gemm._layout's (layout, ta, tb, m, n, k, lda, ldb, ldc)
Kernel = tuple[Any, ctypes.c_void_p]  # the generated function and its jitter handle
_KERNELS: dict[tuple[Any, ...], Kernel | None] = {}
_LOCK = threading.Lock()


def kernel(lib: ctypes.CDLL, dtype: np.dtype[Any], plan: Plan) -> Kernel | None:
    """The generated kernel of ``plan`` for ``dtype``, or None: too small, no JIT kernel for
    it, or an MKL without the JIT (Note [JIT products])."""
    m, n, k = plan[3:6]
    if 2 * m * n * k < JIT_MIN_FLOPS or dtype not in _SCALARS:
        return None
    key = (dtype, plan)  # (one MKL a process: mkl_gemm.library())
    found = _KERNELS.get(key, _UNSET)
    if found is _UNSET:
        with _LOCK:
            found = _KERNELS.get(key, _UNSET)
            if found is _UNSET:
                found = _create(lib, dtype, plan) if len(_KERNELS) < KEPT else None
                _KERNELS[key] = found
    return found


def available(lib: ctypes.CDLL) -> bool:
    """Whether this MKL generates kernels on this CPU (on AMD's it answers MKL_NO_JIT to
    every geometry, and products keep gemm_batch_strided)."""
    if not _AVAILABLE:
        found = _create(lib, np.dtype(np.float32), (101, 111, 111, 32, 32, 32, 32, 32, 32))
        if found is not None:
            lib.mkl_jit_destroy(found[1])
        _AVAILABLE.append(found is not None)
    return _AVAILABLE[0]


_AVAILABLE: list[bool] = []


def _create(lib: ctypes.CDLL, dtype: np.dtype[Any], plan: Plan) -> Kernel | None:
    ch, scalar = _SCALARS[dtype]
    try:
        create = getattr(lib, f"mkl_cblas_jit_create_{ch}gemm")
        pointer = getattr(lib, f"mkl_jit_get_{ch}gemm_ptr")
    except AttributeError:
        return None
    i = ctypes.c_int
    create.argtypes = [ctypes.POINTER(ctypes.c_void_p)] + [i] * 6 + [scalar, i, i, scalar, i]
    create.restype = i
    pointer.argtypes, pointer.restype = [ctypes.c_void_p], ctypes.c_void_p
    layout, ta, tb, m, n, k, lda, ldb, ldc = plan
    jitter = ctypes.c_void_p()
    status = create(ctypes.byref(jitter), layout, ta, tb, m, n, k, 1.0, lda, ldb, 0.0, ldc)
    if status != _SUCCESS:
        if jitter.value:
            lib.mkl_jit_destroy(jitter)
        return None
    return _KERNEL(pointer(jitter)), jitter


def run(found: Kernel, starts: tuple[int, int, int], batch: list[tuple[int, list[int]]]) -> None:
    """Every product of ``batch`` (sizes with the operands' and the result's strides in
    bytes), from the addresses ``starts`` of x, y and the result, by the generated kernel."""
    fn, jitter = found
    offsets = [np.zeros(1, np.int64) for _ in range(3)]
    for size, strides in batch:
        steps = np.arange(size, dtype=np.int64)
        offsets = [(o[:, None] + steps * s).ravel() for o, s in zip(offsets, strides, strict=True)]
    xs, ys, os_ = ((o + p).tolist() for o, p in zip(offsets, starts, strict=True))
    for px, py, po in zip(xs, ys, os_, strict=True):
        fn(jitter, px, py, po)


_UNSET: Any = object()
