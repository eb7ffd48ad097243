"""The chunks of a convolution's column steps run on adjit's threads, one set of chunk
buffers per thread (Note [column steps on threads])."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .blas import one_thread
from .kernels import run_split
from .workers import num_threads

# Note [column steps on threads]
# A column step (runtime/column_grads.py) unfolds a chunk of images into a buffer, multiplies
# it, and for the input's gradient folds the product back: on one thread the im2col / col2im
# loop nests, and the GEMMs on BLAS's threads. At 2 threads resnet18 b8's step spent the same
# ~27 ms in the loop nests as at 1 and its small GEMMs (64-1152 rows) gained only 39 -> 26 ms
# on OpenBLAS's two threads, whose workers then spin for tens of ms (Note [BLAS threads]) on
# the core adjit's own workers want. So at n threads the step cuts its images (or, by
# channels, its channels) into n equal slots, each a run of chunks no larger than the
# planned one, and the slots run as a ``kernels.Split`` on the caller and adjit's workers,
# BLAS on one thread: each thread unfolds, multiplies and folds whole chunks. Slot 0 uses the
# planned buffers, slot s > 0 its own scratch (SCRATCH below: about one chunk's columns more
# per extra thread; one thread adds none). The slots' edges depend only on the shapes and the
# thread count, so results are the same from call to call; a chunk's GEMM has another column
# count than at 1 thread and a weight gradient sums its slots' partial sums in slot order, so
# as with split products (Note [split products]) results at 1 and n threads may differ by
# rounding. A slot claimed by whoever is free: a worker that does not get a core costs only
# its wake-up (the caller runs that slot too). Steps of two programs running at once in
# different threads do not share the scratch: the second runs its chunks serially.

_ALIGN = 64  # scratch arrays start at cache-line multiples
SCRATCH: list[np.ndarray] = []  # slot s's bytes at [s - 1], grown to the largest asked for
_BUSY = threading.Lock()

Spec = tuple[tuple[int, ...], Any]  # (shape, dtype)


def slots(extent: int) -> int:
    """How many slots to cut ``extent`` images or channels into (1: run serially)."""
    return max(1, min(num_threads(), extent))


def spans(lo: int, hi: int, most: int, even: bool) -> list[tuple[int, int]]:
    """``[lo, hi)`` as runs of at most ``most``: equal ones if ``even``, else ``most`` each
    and the rest last (the serial order)."""
    if not even:
        return [(a, min(a + most, hi)) for a in range(lo, hi, most)]
    count = -(-(hi - lo) // most)
    edges = [lo + (hi - lo) * i // count for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


_CARVED: dict[tuple[int, tuple[Spec, ...]], list[np.ndarray]] = {}  # views of SCRATCH


def _carve(slot: int, specs: Sequence[Spec]) -> list[np.ndarray]:
    """Arrays of ``specs`` from slot ``slot``'s scratch bytes (grown if too small); the same
    arrays again while those bytes stay (carving them took ~40 µs a column step)."""
    key = (slot, tuple(specs))
    got = _CARVED.get(key)
    if got is not None:
        return got
    out = _carved(slot, specs)
    if len(_CARVED) > 256:  # (geometries of programs long gone)
        _CARVED.clear()
    _CARVED[key] = out
    return out


def _carved(slot: int, specs: Sequence[Spec]) -> list[np.ndarray]:
    sizes = [-(-int(np.prod(s)) * np.dtype(d).itemsize // _ALIGN) * _ALIGN for s, d in specs]
    while len(SCRATCH) < slot:
        SCRATCH.append(np.empty(0, np.uint8))
    if SCRATCH[slot - 1].nbytes < sum(sizes):
        for key in [k for k in _CARVED if k[0] == slot]:  # (views that would keep it)
            del _CARVED[key]
        SCRATCH[slot - 1] = np.empty(0, np.uint8)  # free the old one first
        SCRATCH[slot - 1] = np.empty(sum(sizes) + _ALIGN, np.uint8)
    raw = SCRATCH[slot - 1]
    start = -raw.ctypes.data % _ALIGN
    out = []
    for (shape, dtype), size in zip(specs, sizes, strict=True):
        out.append(raw[start : start + size].view(dtype)[: int(np.prod(shape))].reshape(shape))
        start += size
    return out


def run_slots(
    work: Callable[[int, Sequence[np.ndarray]], None],
    count: int,
    planned: Sequence[np.ndarray],
    specs: Sequence[Spec],
) -> bool:
    """``work(s, buffers)`` for slots ``s`` in ``range(count)`` across adjit's threads with
    BLAS on one thread (slot 0 gets ``planned``, others scratch arrays of ``specs``); False,
    having done nothing, when another program's step holds the scratch."""
    if not _BUSY.acquire(blocking=False):
        return False
    try:
        calls = [(0, planned)] + [(s, _carve(s, specs)) for s in range(1, count)]
        restore = one_thread()
        try:
            run_split(work, calls, num_threads())
        finally:
            if restore is not None:
                restore[0](restore[1])
    finally:
        _BUSY.release()
    return True
