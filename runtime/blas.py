"""How many threads NumPy's BLAS may use for a compiled program's matrix products."""

from __future__ import annotations

import ctypes
import os
import re
import sys
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

# Note [OpenBLAS's idle threads]
# After a threaded call OpenBLAS's workers wait for the next one by spinning (nops, no yield,
# on x86-64) for 2**OPENBLAS_THREAD_TIMEOUT cycles, 2**28 by default (~0.1 s), a setting read
# once, when the library loads. Spinning that long, a worker holds the core adjit's own threads
# need next (kernels split across them, products in row blocks), which is why large products
# ran as row blocks on adjit's threads or on MKL's team (Note [split products]), never on
# OpenBLAS's threads. Where the workers sleep soon, OpenBLAS's own threaded GEMM, which packs
# each operand once for all its threads, can be the better way: on an AMD EPYC (Zen 3, AVX2, 2
# cores), where MKL's team was slower than on the Xeons it was chosen on, the transformer
# step's products at 2 threads took 93-101 ms on OpenBLAS's threads against 113-118 as adjit
# ran them (MKL's team, batch blocks; sums of per-product medians of 15), and the training
# steps at 2 threads, in-process, rounds alternating between the two ways (both with the short
# spin): transformer 113 against 130 ms, resnet18 fine-tune 35.3 against 41.3, resnet18 133
# against 139, VGG-11 324 against 332, W2 b1024 9.1 against 10.1, W2 b128 1.76 against 1.85
# (medians). So ``import adjit`` sets OPENBLAS_THREAD_TIMEOUT to SPIN_EXPONENT when NumPy (so
# its OpenBLAS) is not loaded yet and the variable is unset (a user's value stands; with NumPy
# imported first it is too late, and nothing changes): 2**20 cycles (~0.3 ms) keep the workers
# awake between products that follow each other and give the core back soon after. Where the
# variable was in effect at most SHORT_SPIN, ``threads_sleep_soon`` says so, and at n threads
# a 2-D product or a batch of at least split_gemm.SPLIT_FLOPS (split_gemm.on_blas_threads)
# runs on OpenBLAS's own threads, or on MKL where, timed once per geometry and thread count,
# MKL ran it faster by blas_choice.MARGIN (mkl_gemm.chosen_threaded: OpenBLAS is the incumbent
# because MKL's team spins BLOCKTIME_MS after a call, Note [MKL's own threads], which a product
# timed alone does not see). On this EPYC every such product of the four models and W2 stayed
# on OpenBLAS. Smaller ones keep their ways: from TEAM_FLOPS (W2 batch 128's 51 MFLOP
# products) on OpenBLAS's threads, W2 b128's step in the bench ran in two modes, 1.8-2.6 ms or
# 4.5-8.9 (IQRs of 4-7 ms), the other contenders' processes beside it (a worker asleep after
# its short spin, woken, waits for a core while the caller spins for it); on MKL's team as
# before, 2.56 ms (IQR 0.55).
SPIN_EXPONENT = 20  # OPENBLAS_THREAD_TIMEOUT import adjit sets: 2**20 cycles (~0.3 ms)
SHORT_SPIN = 22  # at most this: OpenBLAS's threads sleep soon after a call (~1.5 ms)
_SPIN = "OPENBLAS_THREAD_TIMEOUT"
if "numpy" not in sys.modules:  # (adjit/__init__.py imports this module first: see the Note)
    os.environ.setdefault(_SPIN, str(SPIN_EXPONENT))  # (a user's value stands)
_TIMEOUT = os.environ.get(_SPIN)  # its value when OpenBLAS loaded, as far as can be told
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


@cache
def threads_sleep_soon() -> bool:
    """Whether OpenBLAS is loaded and its idle threads sleep soon after a threaded call (Note
    [OpenBLAS's idle threads])."""
    try:
        exponent = int(_TIMEOUT or "0")
    except ValueError:
        return False
    return 0 < exponent <= SHORT_SPIN and _openblas() is not None


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
