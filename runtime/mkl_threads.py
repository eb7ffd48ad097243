"""MKL's threading layer: Intel OpenMP for 2-D products at more than one thread, where no other
OpenMP runtime is loaded (Note [MKL's own threads])."""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any

from ..passes.pipeline import flag

# Note [MKL's own threads]
# At n threads adjit split a large 2-D product into n row (or depth) blocks, each a sequential
# MKL GEMM on one of adjit's threads (Note [split products] in split_gemm.py). MKL's own threaded
# GEMM partitions in two dimensions and packs each operand once for the team: on this 2-core
# Xeon, quiet, the transformer step's eight 2-D products (2048x256x768 ... 256x2048x1024) took
# 22.4-24.0 ms at 2 threads against 30.7-31.5 split (45.2 on one thread), and the whole
# transformer step, interleaved in one process, 71.0 against 77.5 ms. Two conditions:
# - Another OpenMP runtime in the process breaks it. PyTorch loads GNU OpenMP (libgomp) with its
#   symbols global; MKL's Intel OpenMP layer then ran the same products at 91-135 GFLOP/s (one
#   thread: ~140) and the transformer step took 90-112 ms. So the layer is INTEL only when no
#   libgomp is mapped when adjit loads MKL (Linux's /proc/self/maps; elsewhere: SEQUENTIAL), and
#   SEQUENTIAL otherwise, as before (the tests import PyTorch first: they run SEQUENTIAL).
# - OpenMP's idle workers spin (KMP_BLOCKTIME, 200 ms by default) on the core adjit's native pool
#   and workers need between products: the step took 95-114 ms. With no spin at all (0) a
#   worker sleeps after every product, and on this VM, after the process idled (0.3 s between
#   samples, as a bench's settling or a data loader's wait), the kernel woke it on the caller's
#   own CPU product after product: cores used 1.0, W2 batch 1024's step 8.9 ms against 6.2
#   (raw MKL, 1024x784x256: 3.75 ms a product against 2.3). A spin of BLOCKTIME_MS keeps the
#   worker on its core between the step's products: W2 b1024 after idling 6.95 ms (2.0 cores;
#   1 ms: 7.77, 1.91), and in a hot loop, interleaved against adjit's own split, the
#   transformer step 71.6 against 73.2 ms, resnet18 fine-tune 36.6 against 41.3, W2 b1024 4.82
#   against 5.93 (blocktime 0: 75.1/75.7, 41.3/43.6, 6.69/7.32). Each calling thread sets its
#   team's blocktime (kmp_set_blocktime) before its first threaded product.
# MKL's global thread count is set to 1 and dynamic adjustment off: every call runs on one thread
# (column steps' slots, batch blocks on the native pool, the Python workers) except the 2-D
# products split_gemm hands to ``Threads.run``, which sets the caller's local count to adjit's
# thread count for the call. With CBWR on (Note [MKL products]), dynamic off and a fixed thread
# count, a product's bits are the same from call to call; at 1 and n threads they may differ by
# rounding, as split products' did. ADJIT_MKL_THREADS=0 keeps the SEQUENTIAL layer.
INTEL, SEQUENTIAL = 0, 1  # MKL_THREADING_INTEL, MKL_THREADING_SEQUENTIAL
_MAPS = "/proc/self/maps"
BLOCKTIME_MS = 5  # how long a team's idle worker spins before it sleeps (see the Note)
_SET_UP = threading.local()


def other_openmp() -> bool | None:
    """Whether GNU OpenMP (libgomp) is loaded in this process; None where it cannot be told."""
    try:
        with open(_MAPS) as f:
            return "libgomp" in f.read()
    except OSError:
        return None


def choose_layer(lib: Any) -> int | None:
    """Set ``lib``'s threading layer (INTEL where Note [MKL's own threads] allows, else
    SEQUENTIAL) before its first call; the layer set, or None when MKL refused it."""
    want = SEQUENTIAL
    if flag("ADJIT_MKL_THREADS") != "0" and other_openmp() is False:
        want = INTEL
    got = lib.MKL_Set_Threading_Layer(want)
    if got != want and want == INTEL:
        got = lib.MKL_Set_Threading_Layer(SEQUENTIAL)  # (no Intel OpenMP runtime found)
        want = SEQUENTIAL
    if got != want:
        return None
    if want == INTEL:
        lib.MKL_Set_Dynamic(0)
        lib.MKL_Set_Num_Threads(1)
    return want


class Threads:
    """MKL's per-call thread count under the INTEL layer (Note [MKL's own threads])."""

    def __init__(self, lib: Any, folder: str) -> None:
        self.local = lib.MKL_Set_Num_Threads_Local
        self.local.argtypes, self.local.restype = [ctypes.c_int], ctypes.c_int
        self.blocktime: Any = None
        for name in ("libiomp5.so", os.path.join(folder, "libiomp5.so")):
            try:  # (MKL loaded it: the same copy)
                self.blocktime = ctypes.CDLL(name).kmp_set_blocktime
                self.blocktime.argtypes, self.blocktime.restype = [ctypes.c_int], None
                break
            except (OSError, AttributeError):
                continue

    def run(self, threads: int, call: Any, *args: Any) -> None:
        """``call(*args)`` with MKL on ``threads`` threads in this thread's calls."""
        if self.blocktime is not None and not getattr(_SET_UP, "done", False):
            self.blocktime(BLOCKTIME_MS)
            _SET_UP.done = True
        before = self.local(threads)
        try:
            call(*args)
        finally:
            self.local(before)
