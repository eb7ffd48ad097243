"""Note [MKL's own threads]: MKL's Intel OpenMP layer for large 2-D products at n threads, only
where no other OpenMP runtime is loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from adjit.runtime import mkl_gemm, mkl_threads

pytestmark = pytest.mark.skipif(mkl_gemm.library_path() is None, reason="needs the mkl extra")

# A fresh interpreter (this one may have PyTorch, and MKL loads once a process): products of
# 268 MFLOP (above split_gemm.SPLIT_FLOPS) at 2 threads; which layer, who ran them, the bits.
CHILD = r"""
import json, sys
import numpy as np
if sys.argv[1] == "torch":
    import torch  # (GNU OpenMP loaded first)
import adjit
from adjit.runtime import mkl_gemm
adjit.set_num_threads(2)
rng = np.random.default_rng(0)
x = rng.standard_normal((512, 256)).astype(np.float32)
w = rng.standard_normal((256, 1024)).astype(np.float32)
mm = adjit.compile(lambda a, b: a @ b)
lib = mkl_gemm.library()
teams = []
if lib.threads is not None:
    run = lib.threads.run
    lib.threads.run = lambda n, *a: teams.append(n) or run(n, *a)
outs = [mm(adjit.tensor(x), adjit.tensor(w)).numpy() for _ in range(4)]
shifted = np.empty(x.size + 1, np.float32)[1:].reshape(x.shape)  # another alignment
shifted[...] = x
outs.append(mm(adjit.tensor(shifted), adjit.tensor(w)).numpy())
exact = x.astype(np.float64) @ w.astype(np.float64)
bound = 256 * np.finfo(np.float32).eps * (np.abs(x).astype(np.float64) @ np.abs(w))
print(json.dumps({
    "team": lib.threads is not None,
    "teams": teams,
    "same_bits": all((o == outs[0]).all() for o in outs),
    "within": bool((np.abs(outs[0] - exact) <= bound).all()),
}))
"""


def _child(mode: str, **env: str) -> dict:
    """The child's record, MKL forced (under ``auto`` a product this large at two threads is
    timed against adjit's own GEMM in blocks, Note [BLAS by measurement])."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        env=dict(os.environ) | {"ADJIT_BLAS": "mkl"} | env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_large_products_run_on_mkls_team_where_no_other_openmp_is_loaded() -> None:
    if mkl_threads.other_openmp() is None:
        pytest.skip("no /proc/self/maps: SEQUENTIAL everywhere")
    got = _child("plain")
    assert got["team"] and got["teams"] == [2] * 5  # every call on a team of adjit's 2 threads
    assert got["same_bits"] and got["within"]  # call to call, whatever the alignment


def test_sequential_where_gnu_openmp_is_loaded_or_asked() -> None:
    pytest.importorskip("torch")
    got = _child("torch")  # PyTorch's libgomp first: its symbols would take MKL's team apart
    assert not got["team"] and not got["teams"] and got["same_bits"] and got["within"]
    got = _child("plain", ADJIT_MKL_THREADS="0")
    assert not got["team"] and not got["teams"] and got["same_bits"] and got["within"]


def test_other_openmp_reads_the_maps(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/libgomp.so.1\n")
    monkeypatch.setattr(mkl_threads, "_MAPS", str(maps))
    assert mkl_threads.other_openmp() is True
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/libc.so.6\n")
    assert mkl_threads.other_openmp() is False
    monkeypatch.setattr(mkl_threads, "_MAPS", str(tmp_path / "missing"))
    assert mkl_threads.other_openmp() is None
