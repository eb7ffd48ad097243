"""Compiled matrix products through Intel MKL's CBLAS on one thread (the optional ``mkl`` extra)."""

from __future__ import annotations

import ctypes
import glob
import importlib.metadata
import os
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..codegen.addresses import address
from ..passes.pipeline import flag
from . import blas_choice, mkl_jit, mkl_threads, own_gemm
from .workers import num_threads

# Note [MKL products]
# On AVX-512 Xeons MKL's single-threaded GEMMs run 10-45% faster than NumPy's OpenBLAS on the
# shapes of our train steps (one core, GFLOP/s: (1024,1024,1024) 103 vs 90, (64,576,25088) 82
# vs 56, (256,2304,1568) 102 vs 83), and a transformer step at one thread is 85% GEMM. With
# the `mkl` distribution installed (pip install 'adjit[mkl]'), compiled products (split_gemm,
# the column steps, loops' hoisted products) call its libmkl_rt through ctypes: found by the
# distribution's file list, else sys.prefix/lib. Before any other MKL call its threading layer
# is set: SEQUENTIAL, adjit splitting products across its own threads (Note [split products]),
# or INTEL, where large 2-D products run on MKL's own team (Note [MKL's own threads] in
# mkl_threads.py); no TBB runtime is loaded. ctypes drops the GIL for the call, so the caller and
# adjit's workers run their blocks at once. Operands go to BLAS as they are: a transposed or
# sliced matrix by the transpose flag and its leading dimension, a batch whose batch strides
# collapse to one by cblas_?gemm_batch_strided (broadcast operands with stride 0), other batches
# by one such call per leading index. What BLAS cannot take (other dtypes, empty products,
# strides that are not a leading dimension, an `out` that may overlap an operand, int32
# overflow) goes to np.matmul, as everything does under ADJIT_BLAS=numpy; eager products
# (ir/reference.py) stay on np.matmul. Conditional Numerical Reproducibility is set to AUTO
# (mkl_cbwr_set): without it MKL may pick kernels by the operands' alignment, and adjit's rule
# is the same bits from call to call at a thread count (buffers move between calls).
# ADJIT_BLAS: `auto` (the default: MKL when it is found, large products by whichever library
# runs their geometry faster, Note [BLAS by measurement] in blas_choice.py), `mkl` (always MKL;
# an error when it is not found), `numpy`.
# PyTorch links its own MKL into libtorch_cpu and exports its symbols; libmkl_rt loads its layers
# (core, sequential, lp64) RTLD_GLOBAL at its first call. A torch imported before that binds to
# its own MKL and keeps it (tests/runtime/test_mkl_gemm.py); a torch imported after it binds its
# BLAS and LAPACK calls to these global symbols: sequential (its GEMMs on one thread,
# torch.get_num_threads() 1 by default). So a process running both imports torch first (the
# tests do; dlmopen, which would isolate this copy, crashes in glibc 2.36 on MKL's RTLD_GLOBAL).

_CBWR_AUTO = 2  # MKL_CBWR_AUTO
_ROW_MAJOR, _COL_MAJOR = 101, 102
_NO_TRANS, _TRANS = 111, 112
_INT_MAX = 2**31 - 1  # the LP64 interface's MKL_INT
_MODES = ("auto", "mkl", "numpy", "adjit")
Choice = Any  # a Library, blas_choice.OWN (adjit's GEMM) or None (NumPy's BLAS)
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def library_path() -> str | None:
    """libmkl_rt of the installed ``mkl`` distribution, else of sys.prefix/lib; None."""
    try:
        dist = importlib.metadata.distribution("mkl")
        names = [f for f in dist.files or () if os.path.basename(str(f)).startswith("libmkl_rt.so")]
        if names:
            return os.path.realpath(str(dist.locate_file(sorted(names, key=str)[-1])))
    except importlib.metadata.PackageNotFoundError:
        pass
    found = sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))
    return found[-1] if found else None


_XERBLA = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int)


class Library:
    """libmkl_rt, its threading layer set and reproducible, with its ?gemm and
    ?gemm_batch_strided; ``threads`` runs a call on MKL's team under the INTEL layer."""

    def __init__(self, lib: ctypes.CDLL, threads: mkl_threads.Threads | None = None) -> None:
        self.lib = lib
        self.threads = threads  # MKL's own threads for 2-D products (Note [MKL's own threads])
        self.errors: list[tuple[bytes, int]] = []  # parameters BLAS refused (Note [MKL products])
        self.xerbla = _XERBLA(lambda name, num, n: self.errors.append((name[:n], num[0])))
        lib.MKL_SET_XERBLA.argtypes, lib.MKL_SET_XERBLA.restype = [_XERBLA], ctypes.c_void_p
        lib.MKL_SET_XERBLA(self.xerbla)
        i, p = ctypes.c_int, ctypes.c_void_p
        self.gemm: dict[np.dtype[Any], tuple[Any, Any]] = {}
        for ch, scalar, dtype in (
            ("s", ctypes.c_float, np.float32),
            ("d", ctypes.c_double, np.float64),
        ):
            one = getattr(lib, f"cblas_{ch}gemm")
            one.argtypes = [i] * 6 + [scalar, p, i, p, i, scalar, p, i]
            one.restype = None
            many = getattr(lib, f"cblas_{ch}gemm_batch_strided")
            many.argtypes = [i] * 6 + [scalar, p, i, i, p, i, i, scalar, p, i, i, i]
            many.restype = None
            self.gemm[np.dtype(dtype)] = (one, many)


_LOADED: list[Library | None] = []  # filled once, under _LOCK
_LOCK = threading.Lock()


def library() -> Library | None:
    """The loaded MKL, or None when it is not installed or its layer cannot be set. Loaded
    once under a lock: adjit's threads may ask at once, and MKL refuses a second CBWR setting
    after its first product."""
    if not _LOADED:
        with _LOCK:
            if not _LOADED:
                _LOADED.append(_load())
    return _LOADED[0]


def _load() -> Library | None:
    path = library_path()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
        layer = mkl_threads.choose_layer(lib)
        if layer is None or lib.MKL_CBWR_Set(_CBWR_AUTO):
            return None  # an MKL already started elsewhere in this process with its threads
        if layer == mkl_threads.INTEL:
            return Library(lib, mkl_threads.Threads(lib, os.path.dirname(path)))
        return Library(lib)
    except (OSError, AttributeError):
        return None


def blas_mode() -> str:
    """ADJIT_BLAS, ``auto`` when unset (checked against _MODES by ``active``)."""
    return flag("ADJIT_BLAS").lower() or "auto"


def active() -> Library | None:
    """The MKL compiled products use (ADJIT_BLAS, Note [MKL products]); None: np.matmul."""
    mode = blas_mode()
    if mode not in _MODES:
        raise RuntimeError(f"ADJIT_BLAS must be one of {', '.join(_MODES)}, not {mode!r}")
    if mode == "numpy":
        return None
    found = library()
    if found is None and mode == "mkl":
        raise RuntimeError(
            "ADJIT_BLAS=mkl needs the mkl package: pip install 'adjit[mkl]' (or mkl)"
        )
    return found


def _operand(a: np.ndarray) -> tuple[int, int] | None:
    """(transpose flag, leading dimension) of a 2-D matrix for row-major BLAS, if it has one."""
    (r, c), (s0, s1), size = a.shape, a.strides, a.itemsize
    if s0 % size or s1 % size:
        return None
    s0, s1 = s0 // size, s1 // size
    if s1 == 1 or c == 1:
        ld = s0 if r > 1 else c
        if c <= ld <= _INT_MAX:
            return _NO_TRANS, ld
    if s0 == 1 or r == 1:
        ld = s1 if c > 1 else r
        if r <= ld <= _INT_MAX:
            return _TRANS, ld
    return None


def _flip(t: int) -> int:
    return _TRANS + _NO_TRANS - t


def _layout(x: np.ndarray, y: np.ndarray, o: np.ndarray) -> tuple[int, ...] | None:
    """(layout, ta, tb, m, n, k, lda, ldb, ldc) of the product of matrices, else None."""
    xa, ya, oa = _operand(x), _operand(y), _operand(o)
    if xa is None or ya is None or oa is None:
        return None
    (m, k), n = x.shape, y.shape[1]
    if max(m, n, k) > _INT_MAX:
        return None
    if oa[0] == _NO_TRANS:
        return _ROW_MAJOR, xa[0], ya[0], m, n, k, xa[1], ya[1], oa[1]
    # a column-major out: the same operands in column-major terms (transposes swapped)
    return _COL_MAJOR, _flip(xa[0]), _flip(ya[0]), m, n, k, xa[1], ya[1], oa[1]


_ptr = address  # an array's data address, read off NumPy's struct (Note [data addresses])


def _usable(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> bool:
    """Same real float dtype, aligned, writable, no overlap of out with an operand."""
    return (
        x.dtype == y.dtype == out.dtype
        and x.flags.aligned
        and y.flags.aligned
        and out.flags.aligned
        and out.flags.writeable
        and not np.may_share_memory(out, x)
        and not np.may_share_memory(out, y)
    )


def measured() -> bool:
    """Whether large products choose their library by timing (ADJIT_BLAS=auto, the default)."""
    return blas_mode() == "auto"


def matmul(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``np.matmul(x, y, out=out)``: through MKL when active and BLAS can take the operands."""
    lib = active()
    if lib is None:
        np.matmul(x, y, out=out)
        return
    matmul_by(lib, x, y, out)


def chosen(
    x: np.ndarray, y: np.ndarray, out: np.ndarray, alone: bool, run: Callable[[Choice], None]
) -> Choice:
    """The MKL ``active()`` gives for this product, blas_choice.OWN (adjit's GEMM) or None
    (NumPy's BLAS): where ADJIT_BLAS=auto, whichever ran it fastest (Note [BLAS by
    measurement] in blas_choice.py). ``alone``: the product runs on one thread whichever
    library runs it; ``run(choice)`` makes it as the caller does, for the timing."""
    lib = active() if x.dtype == y.dtype == out.dtype in FLOATS else None
    mode = blas_mode()
    if mode == "adjit" and own_gemm.takes(x, y, out):
        return blas_choice.OWN
    # (not alone: Note [BLAS by measurement], thread pools that fought)
    if mode != "auto" or not alone or 2 * out.size * x.shape[-1] < blas_choice.FLOPS:
        return lib
    names = ((blas_choice.MKL,) if lib is not None else ()) + (blas_choice.OPENBLAS,)
    names += (blas_choice.OWN,) if own_gemm.takes(x, y, out) else ()
    if len(names) < 2:
        return lib
    return _fastest(blas_choice.geometry(x, y, out), lib, names, run)


def chosen_threaded(
    x: np.ndarray, y: np.ndarray, out: np.ndarray, threads: int, run: Callable[[Choice], None]
) -> Choice:
    """At ``threads`` threads, a product both libraries split: None (OpenBLAS's own threads)
    or MKL (``active()``: its team or adjit's blocks) where it ran faster by blas_choice.MARGIN,
    timed once per geometry and thread count (Note [OpenBLAS's idle threads] in blas.py: MKL's
    team spins longer after a call, which a product timed alone does not see)."""
    lib = active() if x.dtype == y.dtype == out.dtype in FLOATS else None
    if lib is None:
        return None
    names = (blas_choice.OPENBLAS, blas_choice.MKL)  # (the incumbent first)
    return _fastest((*blas_choice.geometry(x, y, out), f"{threads} threads"), lib, names, run)


def _fastest(
    key: tuple, lib: Library, names: tuple[str, ...], run: Callable[[Choice], None]
) -> Choice:
    """The choice among ``names`` that ran ``run`` fastest under ``key`` (MKL is ``lib``)."""
    by_name = {blas_choice.MKL: lib, blas_choice.OPENBLAS: None, blas_choice.OWN: blas_choice.OWN}
    return by_name[blas_choice.fastest(key, lambda name: run(by_name[name]), names)]


def fastest(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``matmul``, at one thread by whichever library runs this geometry faster (``chosen``):
    a product run as one call (a column step's chunk, a Winograd step's batch), not split."""
    run = partial(_by, x=x, y=y, out=out)
    run(chosen(x, y, out, num_threads() == 1, run))


def _by(lib: Choice, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    if lib is None:
        np.matmul(x, y, out=out)
    elif lib is blas_choice.OWN:
        own_gemm.matmul_into(x, y, out)
    else:
        matmul_by(lib, x, y, out)


def matmul_by(lib: Library, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``matmul`` through ``lib``, the caller's ``active()`` (ADJIT_BLAS read once a product)."""
    errors = len(lib.errors)
    if not _mkl_matmul(lib, x, y, out) or len(lib.errors) != errors:
        np.matmul(x, y, out=out)  # (a refused parameter: a gap in _layout's checks)


# Note [prepared products]
# A compiled step makes the same products, with the same shapes and strides, on every call, and
# working out each one's BLAS parameters (_usable's overlap tests, _layout) and converting its 14
# ctypes arguments cost ~7-10 µs a product over the GEMM call itself: at W2's batch 128, three
# of its five products are 0.6 MFLOP GEMMs of ~10-20 µs. So a 2-D product's parameters are kept by
# its geometry (dtypes, shapes, strides), with the C values of the ones that never change, and a
# call with a known geometry checks only what depends on the arrays themselves: the addresses'
# alignment, a writeable ``out`` and, by byte ranges, that ``out`` overlaps neither operand (the
# bounds test np.may_share_memory makes). A call that fails one of them takes the general path.
# The same GEMM call with the same parameters: the same bits. (W2's three small products through
# matmul, warm: 29.4/18.7/16.4 -> 26.0/15.4/13.5 µs; its step's CPU time 2-6% less, interleaved
# medians at load 7-10.)
_PREPARED: dict[tuple[Any, ...], tuple[Any, ...] | None] = {}  # geometry -> call, or None
_PREPARED_MAX = 1024  # geometries kept (forgotten all at once past this: a cache, not a leak)


def _span(a: np.ndarray) -> int:
    """Bytes from ``a``'s first element to past its last (non-negative strides)."""
    return a.itemsize + sum((n - 1) * abs(s) for n, s in zip(a.shape, a.strides, strict=True))


def _prepare(lib: Library, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> tuple[Any, ...] | None:
    """A 2-D product's call by geometry (Note [prepared products]), or None: the general path."""
    fns = lib.gemm.get(out.dtype)
    if fns is None or not x.dtype == y.dtype == out.dtype or not out.size or not x.shape[1]:
        return None
    if x.shape[1] != y.shape[0] or out.shape != (x.shape[0], y.shape[1]):
        return None
    plan = _layout(x, y, out)
    if plan is None:
        return None
    layout, ta, tb, m, n, k, lda, ldb, ldc = plan
    i, scalar = ctypes.c_int, fns[0].argtypes[6]
    head = (i(layout), i(ta), i(tb), i(m), i(n), i(k), scalar(1.0))
    tail = (i(lda), i(ldb), scalar(0.0), i(ldc), _span(x), _span(y), _span(out))
    return fns[0], head, tail, out.itemsize


def _prepared(lib: Library, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> bool:
    """The 2-D product by its prepared call; False, having done nothing, when its geometry
    has none or these arrays fail its checks (Note [prepared products])."""
    key = (x.dtype, y.dtype, out.dtype, x.shape, y.shape, out.shape, x.strides, y.strides,
           out.strides)  # fmt: skip
    call = _PREPARED.get(key, _UNSET)
    if call is _UNSET:
        if len(_PREPARED) >= _PREPARED_MAX:
            _PREPARED.clear()
        call = _PREPARED[key] = _prepare(lib, x, y, out)
    if call is None or not out.flags.writeable:
        return False
    fn, head, (lda, ldb, beta, ldc, sx, sy, so), size = call
    px, py, po = _ptr(x), _ptr(y), _ptr(out)
    if px % size or py % size or po % size:
        return False  # (not aligned: the general path's np.matmul)
    if po < px + sx and px < po + so or po < py + sy and py < po + so:
        return False  # (may overlap: the same bounds test as _usable's)
    fn(*head, ctypes.c_void_p(px), lda, ctypes.c_void_p(py), ldb, beta, ctypes.c_void_p(po), ldc)
    return True


_UNSET: Any = object()


def product(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``np.matmul(x, y)`` into a new array, through MKL when it can."""
    if x.dtype != y.dtype or x.dtype not in FLOATS or min(x.ndim, y.ndim) < 2 or active() is None:
        return np.matmul(x, y)
    try:
        batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        return np.matmul(x, y)  # np.matmul's own error
    if x.shape[-1] != y.shape[-2]:
        return np.matmul(x, y)
    out = np.empty((*batch, x.shape[-2], y.shape[-1]), x.dtype)
    matmul(x, y, out)
    return out


def _mkl_matmul(lib: Library, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> bool:
    """The product by MKL; False, having done nothing, where BLAS cannot take it."""
    if x.ndim == 2 == y.ndim == out.ndim and _prepared(lib, x, y, out):
        return True
    fns = lib.gemm.get(out.dtype)
    if fns is None or not _usable(x, y, out) or x.ndim == 0 or y.ndim == 0:
        return False
    if x.ndim == 1 and y.ndim == 1:
        return False  # a dot product
    o = out
    if x.ndim == 1:
        x, o = x[None, :], o[..., None, :]
    if y.ndim == 1:
        y, o = y[:, None], o[..., None]
    if x.shape[-1] != y.shape[-2] or o.shape[-2:] != (x.shape[-2], y.shape[-1]) or not o.size:
        return False
    if not x.shape[-1]:
        return False  # an empty sum: zeros, NumPy's
    if o.ndim == 2 == x.ndim == y.ndim:
        plan = _layout(x, y, o)
        if plan is None:
            return False
        _one(fns[0], plan, x, y, o)
        return True
    return _batched(fns, x, y, o, lib)


def _one(fn: Any, plan: tuple[int, ...], x: np.ndarray, y: np.ndarray, o: np.ndarray) -> None:
    layout, ta, tb, m, n, k, lda, ldb, ldc = plan
    fn(layout, ta, tb, m, n, k, 1.0, _ptr(x), lda, _ptr(y), ldb, 0.0, _ptr(o), ldc)


def _batch_strides(a: np.ndarray, batch: tuple[int, ...]) -> list[int] | None:
    """``a``'s strides (elements) along the result's batch dims, 0 where it broadcasts."""
    lead = len(batch) - (a.ndim - 2)
    out = [0] * lead
    for size, s, b in zip(a.shape[:-2], a.strides[:-2], batch[lead:], strict=True):
        if size == 1:
            out.append(0)
        elif size != b or s % a.itemsize or s < 0:
            return None
        else:
            out.append(s // a.itemsize)
    return out


# Note [batch of a call]
# gemm_batch_strided refuses a result stride below one product's span (ldc times its rows), as
# in products written into interleaved slices of a larger array ((B, heads, S, dh) products
# each into a (B, S, heads, dh) array's heads slice, the heads' stride dh). The call's batch is
# then another dim it takes (there B: 4 calls of 16 products each instead of 64 calls, three
# such 16 x 4 x 128 x 128 x 64 products min of 40 interleaved 6.5 against 8.1 ms), not one gemm
# call a product. Where the innermost dim is taken it stays the call's batch: (B, heads)
# products as 16 calls of 4 ran as fast as 4 calls of 16.
# (Writing attention's dq/dk/dv that way into their concatenation, and its output into the
# heads' merge, took the transformer step's 1.4 + 0.35 ms copies away but made those four
# products 2.2 ms slower, min of 24 in-process interleaved steps, load ~9: the results' rows
# 1-3 KB apart; not kept.)


Batch = list[tuple[int, list[int]]]  # (size, the x, y and result strides) of each batch dim


def _batch_plan(
    x: np.ndarray, y: np.ndarray, o: np.ndarray
) -> tuple[tuple[int, ...], Batch] | None:
    """One product's ``_layout`` and the batch dims (strides in elements, those that collapse
    into one merged), or None where BLAS cannot take the batch."""
    batch = o.shape[:-2]
    try:
        if np.broadcast_shapes(x.shape[:-2], y.shape[:-2]) != batch:
            return None
    except ValueError:
        return None
    plan = _layout(x[(0,) * (x.ndim - 2)], y[(0,) * (y.ndim - 2)], o[(0,) * (o.ndim - 2)])
    strides = [_batch_strides(a, batch) for a in (x, y, o)]
    if plan is None or strides[0] is None or strides[1] is None or strides[2] is None:
        return None
    dims = [(b, [s[i] for s in strides]) for i, b in enumerate(batch) if b > 1]  # type: ignore[index]
    merged: Batch = []
    for b, st in dims:
        if merged and all(p == q * b for p, q in zip(merged[-1][1], st, strict=True)):
            merged[-1] = (merged[-1][0] * b, st)
        else:
            merged.append((b, st))
    if not merged:
        merged = [(1, [0, 0, 0])]
    if not _disjoint(o, plan, merged) or max(b for b, _ in merged) > _INT_MAX:
        return None
    return plan, merged


def jit_batch(
    lib: Library, x: np.ndarray, y: np.ndarray, out: np.ndarray
) -> tuple[mkl_jit.Kernel, tuple[int, int, int], Batch] | None:
    """(generated kernel, x's, y's and the result's addresses, batch dims with strides in
    bytes) of a batch of products ``matmul`` makes by MKL's generated kernel, one call a
    product (Note [JIT products]); None where it would not."""
    if min(x.ndim, y.ndim) < 2 or out.ndim < 3 or not out.size or not x.shape[-1]:
        return None
    if x.shape[-1] != y.shape[-2] or out.shape[-2:] != (x.shape[-2], y.shape[-1]):
        return None
    if out.dtype not in lib.gemm or not _usable(x, y, out):
        return None
    found = _batch_plan(x, y, out)
    jit = mkl_jit.kernel(lib.lib, out.dtype, found[0]) if found is not None else None
    if found is None or jit is None:
        return None
    size = out.itemsize
    starts = (_ptr(x), _ptr(y), _ptr(out))
    return jit, starts, [(b, [s * size for s in st]) for b, st in found[1]]


def _batched(
    fns: tuple[Any, Any], x: np.ndarray, y: np.ndarray, o: np.ndarray, lib: Library | None = None
) -> bool:
    """A batch of products: one gemm_batch_strided per index of the batch dims that do not
    collapse into one stride (Note [MKL products])."""
    found = _batch_plan(x, y, o)
    if found is None:
        return False
    plan, merged = found
    jit = mkl_jit.kernel(lib.lib, o.dtype, plan) if lib is not None else None
    if jit is not None:  # a generated kernel a product (Note [JIT products] in mkl_jit.py)
        starts, size = (_ptr(x), _ptr(y), _ptr(o)), o.itemsize
        mkl_jit.run(jit, starts, [(b, [s * size for s in st]) for b, st in merged])
        return True
    layout, ta, tb, m, n, k, lda, ldb, ldc = plan
    # the batch of each call: the innermost batch dim gemm_batch_strided takes (Note [batch
    # of a call]); the others looped over, one gemm a product when none is taken
    span = ldc * (m if layout == _ROW_MAJOR else n)
    taken = [i for i, (b, st) in enumerate(merged) if st[2] >= span and max(st) <= _INT_MAX]
    if taken:
        count, (sx, sy, so) = merged[taken[-1]]
        loops = merged[: taken[-1]] + merged[taken[-1] + 1 :]
    else:
        loops, count, (sx, sy, so) = merged, 1, (0, 0, 0)
    one, many, size = *fns, o.itemsize
    for index in np.ndindex(*(b for b, _ in loops)):
        px, py, po = (
            _ptr(a) + size * sum(i * st[j] for i, (_, st) in zip(index, loops, strict=True))
            for j, a in enumerate((x, y, o))
        )
        if count == 1:
            one(layout, ta, tb, m, n, k, 1.0, px, lda, py, ldb, 0.0, po, ldc)
        else:
            many(layout, ta, tb, m, n, k, 1.0, px, lda, sx, py, ldb, sy, 0.0, po, ldc, so, count)
    return True


def _disjoint(o: np.ndarray, plan: tuple[int, ...], batch: list[tuple[int, list[int]]]) -> bool:
    """Whether no two of the result's elements share memory (a sufficient test: each dim's
    stride, smallest first, is past everything the smaller ones span)."""
    ldc, (m, n) = plan[-1], plan[3:5]
    rows, cols = (m, n) if plan[0] == _ROW_MAJOR else (n, m)
    dims = sorted([(ldc, rows), (1, cols)] + [(st[2], b) for b, st in batch if b > 1])
    span = 0
    for stride, size in dims:
        if size > 1:
            if stride <= span:
                return False
            span += stride * (size - 1)
    return True
