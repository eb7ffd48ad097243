"""Compiled UNFOLD / FOLD calls split by images (or one image's channels) across adjit's
threads (Note [split windows])."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from .kernels import run_split
from .workers import num_threads

# Note [split windows]
# The compiled im2col / col2im loop nests (codegen/windows.py) run on the calling thread: at 2
# threads resnet18 b8's step spent the same ~30 ms in them as at 1, while its GEMMs went from
# 39 to 26 ms on BLAS's threads. Each image's columns and pixels are its own (an image is a
# contiguous slab of the input, its columns a view offset by the columns' image stride), and
# so is each channel of one image (a contiguous slab too, its columns a view offset by its
# rows): a call cut into pieces of whole images, or for fewer images than pieces of one
# image's channels, runs those pieces on whoever is free (``kernels.Split``: the caller and
# adjit's workers). UNFOLD copies and FOLD adds each pixel's terms in the same order whatever
# the pieces, so a split call's result is bit for bit the serial one's. A split costs a
# hand-off (30-100 µs on these 2-core VMs, Note [split threshold] in kernels.py), and the
# cost of a call does not follow its element count (FOLD onto 16x16 maps takes ~1.6 ns an
# element, UNFOLD onto 64x64 maps ~0.3), so, as compiled kernels do, the first PROBES calls of
# each geometry run serially, timed, and later ones split when the fastest took SPLIT_S. The
# column steps' own loop nests run inside their slots (Note [column steps on threads]); this
# splits the rest: UnfoldColumns and plain UNFOLD / FOLD steps. From 200 µs, resnet18 b8's
# UnfoldColumns steps (24 calls of 0.1-0.5 ms) took 4.7 ms at 1 thread and 5.7-11.6 ms at 2,
# split (hand-offs, and a core shared with the native pool's spinning workers): no step
# gained, in-process interleaved at 2 threads (resnet18 196.5 ms split against 185.8 not,
# VGG-11 431.9 against 429.2, load ~1.7). So only calls of a millisecond or more split (the
# first layer's FOLD onto (8, 64, 32, 32), 2.9 ms: 1.3 -> 0.73 ms split, quiet).
PROBES = 3
SPLIT_S = 1e-3
PIECES = 2  # pieces per thread: a worker that starts late leaves its share to the caller

_Key = tuple[Any, ...]
_BEST: dict[_Key, float] = {}  # a geometry's fastest serial call so far (seconds)
_SEEN: dict[_Key, int] = {}  # serial calls timed so far


def _pieces(n: int, c: int, count: int) -> list[tuple[int, int, int, int]]:
    """(first image, stop, first channel, stop) of about ``count`` pieces: whole images when
    there are at least ``count``, else each image cut into channel ranges."""
    if n >= count:
        edges = [n * i // count for i in range(count + 1)]
        return [(a, b, 0, c) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    per = min(c, -(-count // n))
    edges = [c * i // per for i in range(per + 1)]
    return [(i, i + 1, a, b) for i in range(n) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _run(fn: Any, image: np.ndarray, cols: np.ndarray, key: _Key, attrs: dict[str, Any],
         image_first: bool) -> None:  # fmt: skip
    """``fn`` (windows.unfold_into or fold_into) on (image, cols) or (cols, image), split when
    a serial call of this geometry took SPLIT_S (Note [split windows])."""
    threads = num_threads()
    seen = _SEEN.get(key, 0)
    if threads > 1 and seen < PROBES:  # timed serial calls first
        t0 = time.perf_counter()
        fn(*((image, cols) if image_first else (cols, image)), **attrs)
        _BEST[key] = min(_BEST.get(key, math.inf), time.perf_counter() - t0)
        _SEEN[key] = seen + 1
        return
    if threads < 2 or _BEST.get(key, 0.0) < SPLIT_S:
        fn(*((image, cols) if image_first else (cols, image)), **attrs)
        return
    n, c = image.shape[:2]
    per = cols.shape[1] // c  # kh kw rows of the columns per channel
    calls = []
    for n0, n1, c0, c1 in _pieces(n, c, threads * PIECES):
        im, co = image[n0:n1, c0:c1], cols[n0:n1, c0 * per : c1 * per]
        calls.append((im, co) if image_first else (co, im))
    run_split(lambda a, b: fn(a, b, **attrs), calls, threads)


def _key(op: str, image: np.ndarray, cols: np.ndarray, attrs: dict[str, Any]) -> _Key:
    return (op, image.shape, cols.shape, cols.strides, image.dtype.str, *attrs.items())


def unfold_into(x: np.ndarray, cols: np.ndarray, **attrs: Any) -> np.ndarray:
    """``codegen.windows.unfold_into(x, cols, **attrs)`` (``x`` C-contiguous (N, C, H, W),
    ``cols`` (N, C kh kw, L)), split across adjit's threads when it pays."""
    from ..codegen import windows  # imports llvmlite.ir: lazily

    _run(windows.unfold_into, x, cols, _key("unfold", x, cols, attrs), attrs, True)
    return cols


def fold_into(cols: np.ndarray, out: np.ndarray, **attrs: Any) -> np.ndarray:
    """``codegen.windows.fold_into(cols, out, **attrs)`` (``out`` C-contiguous (N, C, H, W)),
    split across adjit's threads when it pays."""
    from ..codegen import windows  # imports llvmlite.ir: lazily

    _run(windows.fold_into, out, cols, _key("fold", out, cols, attrs), attrs, False)
    return out
