"""Which BLAS runs a compiled product, MKL or NumPy's OpenBLAS: timed once per geometry and
machine, kept on disk (ADJIT_BLAS=auto, Note [BLAS by measurement])."""

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
# not see that. (W2's small products at two threads: MKL 45-51 µs, OpenBLAS 13.)
# ADJIT_BLAS=mkl or =numpy forces a library.

FLOPS = 10**5  # 2*m*n*k (times the batch) below this: MKL, not timed (~1-3 µs)
ROUNDS = 3
MARGIN = 0.03  # OpenBLAS must be this much faster to be chosen (MKL is the incumbent)

Geometry = Hashable  # dtype, shapes and strides (``geometry``)
_CHOSEN: dict[Geometry, bool] = {}  # geometry -> MKL is faster, this process's lookups
_FILE: dict[str, bool] = {}  # the same by name, as the machine's file holds them
_READ: list[bool] = []  # the machine's file was read
_LOCK = threading.Lock()  # (for the file; timing runs unlocked: a worker thread may be asking)

Run = Callable[[bool], None]  # runs the product by MKL (True) or OpenBLAS (False)


def geometry(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> Geometry:
    """The key a choice is kept under (a tuple: built and hashed in well under a µs)."""
    return (out.dtype, x.shape, x.strides, y.shape, y.strides, out.shape, out.strides)


def mkl_wins(key: Geometry, run: Run) -> bool:
    """Whether MKL runs the product ``key`` names faster, timing ``run`` the first time."""
    found = _CHOSEN.get(key)
    if found is None:
        found = _CHOSEN[key] = _decide(key, run)
    return found


def _decide(key: Geometry, run: Run) -> bool:
    if not _READ:
        _read()
    name = key if isinstance(key, str) else "|".join(map(str, key))  # type: ignore[arg-type]
    found = _FILE.get(name)
    if found is None:
        found = _FILE[name] = _measure(run)
        _write(name, found)
    return found


def _measure(run: Run) -> bool:
    best = {True: float("inf"), False: float("inf")}
    run(True)
    run(False)
    for r in range(ROUNDS):
        for mkl in (True, False) if r % 2 else (False, True):
            t = time.perf_counter()
            run(mkl)
            best[mkl] = min(best[mkl], time.perf_counter() - t)
    return best[False] >= best[True] * (1 - MARGIN)


def choices() -> dict[Geometry, bool]:
    """The choices this process has looked up (geometry -> MKL)."""
    return dict(_CHOSEN)


def forget() -> None:
    """Forget this process's choices (they are read from the machine's file again)."""
    _CHOSEN.clear()
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
    return f"{platform.machine()}|{cpu}|{'|'.join(versions)}"


def _file() -> Path | None:
    if cache_folder.disabled():
        return None
    digest = hashlib.sha256(_machine().encode()).hexdigest()[:16]
    return cache_folder.cache_dir() / "blas" / f"{digest}.json"


def _load(path: Path) -> dict[str, bool]:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, bool)}


def _read() -> None:
    path = _file()
    with _LOCK:
        if path is not None:
            for k, v in _load(path).items():
                _FILE.setdefault(k, v)
        _READ.append(True)


def _write(key: str, mkl: bool) -> None:
    """Adds one choice to the machine's file (merged with what other processes wrote)."""
    path = _file()
    if path is None:
        return
    with _LOCK:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            table = _load(path)
            table[key] = mkl
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(table, f, indent=0, sort_keys=True)
            os.replace(tmp, path)
        except OSError:
            pass  # (a read-only cache folder: choices stay in this process)
