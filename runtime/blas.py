"""How many threads NumPy's BLAS may use for a compiled program's matrix products."""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable
from functools import cache

# Note [BLAS threads]
# OpenBLAS's worker threads busy-wait for work. When another process holds one of the cores,
# a two-thread product waits for a time slice: the W2 train step (784-256-10, batch 128) took
# 3 ms with one BLAS thread and 32 ms with two on these 2-core machines while one other
# process ran, and a product this small gains little from a second thread even when the
# machine is idle. So products below SMALL_FLOPS run on one BLAS thread and larger ones with
# BLAS's own setting. NumPy's OpenBLAS is found as threadpoolctl finds it: the loaded library
# and its thread-count symbols (plain, ``64_`` and ``scipy_openblas`` spellings). With any
# other BLAS (MKL, Accelerate, none found) nothing changes. A compiled 2-D product of at least
# split_gemm.SPLIT_FLOPS runs instead as single-threaded row blocks across adjit's own threads
# (Note [split products]), large ones included. Under ADJIT_BLAS=mkl compiled float products
# skip NumPy's BLAS (Note [MKL products]): this is for the others and for the numpy setting.

SMALL_FLOPS = 10**8  # 2*m*n*k below this: one thread (~2-3 ms of single-core work)
_PREFIXES = ("openblas", "scipy_openblas")
_SUFFIXES = ("", "64_")

Setter = Callable[[int], None]


@cache
def _openblas() -> tuple[Setter, int] | None:
    """(set_num_threads, the default thread count) of the loaded OpenBLAS, if any."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", f.read())))
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                set_fn = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                get_fn = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if set_fn is not None and get_fn is not None:
                    set_fn.argtypes, get_fn.restype = [ctypes.c_int], ctypes.c_int
                    return set_fn, int(get_fn())
    return None


def single_threaded(m: int, n: int, k: int) -> tuple[Setter, int] | None:
    """For a product this small, (set_num_threads, the count to restore) after setting one
    thread; None when BLAS keeps its own setting (large product, or not OpenBLAS)."""
    if 2 * m * n * k >= SMALL_FLOPS:
        return None
    return one_thread()


def one_thread() -> tuple[Setter, int] | None:
    """(set_num_threads, the count to restore) after setting OpenBLAS to one thread; None when
    it runs on one already, or is not OpenBLAS."""
    found = _openblas()
    if found is None:
        return None
    count = found[1] if _SET[0] is None else _SET[0]
    if count <= 1:
        return None
    found[0](1)
    return found[0], count


_SET: list[int | None] = [None]  # adjit.set_num_threads's count (Note [thread count])


def set_threads(n: int) -> None:
    """BLAS's thread count (OpenBLAS's; other libraries keep their own)."""
    found = _openblas()
    if found is not None:
        _SET[0] = n
        found[0](n)
