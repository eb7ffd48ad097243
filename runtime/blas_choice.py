"""Which GEMM runs a compiled product, MKL, NumPy's OpenBLAS or adjit's own: timed once per
geometry and machine, kept on disk (ADJIT_BLAS=auto, Note [BLAS by measurement])."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import numpy as np

from ..passes import cache_folder

# Note [BLAS by measurement]
# Which library multiplies faster depends on the machine and the shape. On the AVX-512 Xeons
# these steps were first tuned on, MKL's single-threaded GEMMs ran 10-45% faster than OpenBLAS's
# (Note [MKL products]); on an AMD EPYC (Zen 4) OpenBLAS ran the transformer step's products
# 10% faster (min of 7 interleaved: 113.7 against 123.5 ms; (2048, 768) x (768, 256) 1.30x,
# (512, 128) x (128, 4095) 1.51x, and W2's small (128, 256) x (256, 10) 36 against 15 µs),
# while MKL won some of resnet18's tall-skinny ones (1.1x). So, as cuDNN's benchmark mode and
# autotuning compilers do, a product of at least FLOPS run on one thread is run both ways the
# first time its geometry (dtype, shapes, strides) is seen, each the way the runtime runs it,
# alternating which goes first (the second of a pair finds its operands in cache), ROUNDS
# times after one warm-up each; the faster minimum wins, OpenBLAS only by more than MARGIN.
# The result is written there last, by the winner, and the choice never changes: a geometry's
# product has the same bits on every call. (Not at every thread count: at one thread it may be
# OpenBLAS's and at two MKL's, as PyTorch's products differ between thread counts;
# ADJIT_BLAS=mkl keeps one library at every count.) Choices are kept in the cache folder, a
# file per machine (CPU model and features, library versions): a process pays the timing once
# per geometry per machine. Products below FLOPS (~1-3 µs) stay on MKL: too short to compare
# reliably. At more than one thread only products that either library runs on one thread
# (below split_gemm.ALONE_FLOPS) choose, by their one-thread choice: the larger ones stay on
# MKL. OpenBLAS's threads spin after a call, as MKL's OpenMP team does (KMP_BLOCKTIME), and a
# step mixing the two on two cores ran in two modes, 72-81 or 125-131 ms for the transformer,
# where MKL alone ran 80-91 (this Zen 4, processes alternating); a product timed alone does
# not see that. (Where OpenBLAS's threads sleep soon after a call, the larger products choose
# too, between OpenBLAS's threads and MKL: Note [OpenBLAS's idle threads] in blas.py.)
# (W2's small products at two threads: MKL 45-51 µs, OpenBLAS 13.)
# ADJIT_BLAS=mkl or =numpy forces a library.
# A third contender is adjit's own compiled GEMM (Note [our own GEMM] in codegen/sgemm.py),
# for float32 matrices at one thread: timed with the other two (rounds rotate the order),
# the incumbent (MKL when it is found, else OpenBLAS) kept unless another beats it by MARGIN.
# On this Zen 4 it won resnet18's small-map products by 1.2-1.45x ((512, 4608) x (4608, 32):
# 6.3 against 4.3 ms for three) and ran most others within 10% of OpenBLAS either way.
# At n threads the products split_gemm splits stay on the incumbent library. Alone, adjit's
# GEMM in two row blocks on adjit's threads ran the transformer step's products in 53.5 ms
# against MKL's 65.2 (sum of minimums, /tmp/s/ab/mm2.py), and timing the two per geometry
# picked one for some products and the other for the rest; but in a step MKL's team spins
# for BLOCKTIME_MS after each product on the core adjit's blocks need (Note [MKL's own
# threads]): W2 at batch 1024 ran 9.5 ms against 6.0 with MKL alone. A choice for the whole
# step is left to do. ADJIT_BLAS=adjit forces adjit's GEMM wherever it takes the operands, in
# blocks across the threads (tests).

FLOPS = 10**5  # 2*m*n*k (times the batch) below this: MKL, not timed (~1-3 µs)
ROUNDS = 3
MARGIN = 0.03  # a contender must be this much faster than the incumbent (the first named)
MKL, OPENBLAS, OWN = "mkl", "openblas", "adjit"  # the contenders' names
COLUMNS, WINDOWS = "columns", "windows"  # a convolution's (runtime/windows_product.py)
_NAMES = (MKL, OPENBLAS, OWN, COLUMNS, WINDOWS)

Geometry = Hashable  # dtype, shapes and strides (``geometry``)
_CHOSEN: dict[tuple[Geometry, tuple[str, ...]], str] = {}  # (geometry, contenders) -> fastest
_CALLS: dict[Hashable, Any] = {}  # (geometry, ADJIT_BLAS, threads) -> a compiled product's library
_FILE: dict[str, str] = {}  # the same by name, as the machine's file holds them
_READ: list[bool] = []  # the machine's file was read
_LOCK = threading.Lock()  # (for the file; timing runs unlocked: a worker thread may be asking)

Run = Callable[[str], None]  # runs the product by the named contender
CHOICES = "choices 2"  # the file's format (part of its name: files of MKL-or-not are not read)


def geometry(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> Geometry:
    """The key a choice is kept under (a tuple: built and hashed in well under a µs)."""
    return (out.dtype, x.shape, x.strides, y.shape, y.strides, out.shape, out.strides)


def fastest(key: Geometry, run: Run, names: tuple[str, ...]) -> str:
    """Which of ``names`` (the incumbent first) runs the product ``key`` names fastest,
    timing ``run`` the first time it is asked among these ``names``."""
    found = _CHOSEN.get((key, names))
    if found is None:
        found = _CHOSEN[key, names] = _decide(key, run, names)
    return found


def _decide(key: Geometry, run: Run, names: tuple[str, ...]) -> str:
    if not _READ:
        _read()
    name = key if isinstance(key, str) else "|".join(map(str, key))  # type: ignore[arg-type]
    name += "|" + ",".join(names)
    found = _FILE.get(name)
    if found not in names:  # (not timed yet, or a file edited by hand)
        found = _FILE[name] = _measure(run, names)
        _write(name, found)
    return found  # type: ignore[return-value]


def _measure(run: Run, names: tuple[str, ...]) -> str:
    best = dict.fromkeys(names, float("inf"))
    for who in names:
        run(who)
    for r in range(ROUNDS):
        for who in names[r % len(names) :] + names[: r % len(names)]:
            t = time.perf_counter()
            run(who)
            best[who] = min(best[who], time.perf_counter() - t)
    winner = min(names[1:], key=best.__getitem__)
    return winner if best[winner] < best[names[0]] * (1 - MARGIN) else names[0]


def choices() -> dict[tuple[Geometry, tuple[str, ...]], str]:
    """The choices this process has looked up ((geometry, contenders) -> the fastest)."""
    return dict(_CHOSEN)


def calls() -> dict[Hashable, Any]:
    """The compiled steps' 2-D products' choices by (geometry, ADJIT_BLAS, thread count), kept
    by the executor (Note [one product, one call] in executor.py); cleared by ``forget``."""
    return _CALLS


def forget() -> None:
    """Forget this process's choices (they are read from the machine's file again)."""
    _CHOSEN.clear()
    _CALLS.clear()
    _FILE.clear()
    _READ.clear()


def _machine() -> str:
    """What decides which library is faster: the CPU and the libraries' versions."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags"))]
        cpu = "".join(sorted(set(lines)))
    except OSError:
        pass
    versions = []
    for dist in ("numpy", "mkl"):
        try:
            versions.append(f"{dist}={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{dist}=none")
    return f"{platform.machine()}|{cpu}|{'|'.join(versions)}|{CHOICES}"


def _file() -> Path | None:
    if cache_folder.disabled():
        return None
    digest = hashlib.sha256(_machine().encode()).hexdigest()[:16]
    return cache_folder.cache_dir() / "blas" / f"{digest}.json"


def _load(path: Path) -> dict[str, str]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and v in _NAMES}


def _read() -> None:
    path = _file()
    with _LOCK:
        if path is not None:
            for k, v in _load(path).items():
                _FILE.setdefault(k, v)
        _READ.append(True)


def _write(key: str, winner: str) -> None:
    """Adds one choice to the machine's file (merged with what other processes wrote)."""
    path = _file()
    if path is None:
        return
    with _LOCK:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            table = _load(path)
            table[key] = winner
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(table, f, indent=0, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            pass  # (a read-only cache folder: choices stay in this process)
