"""A second process with a warm disk cache loads W1's kernels: no lowering, no compiling, no
``llvmlite.binding`` (when a linker made shared libraries), and the same results bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from adjit.codegen import shlib

# W1 through adjit.compile + backward, or adjit.value_and_grad; prints results and counters
CHILD = r"""
import json, sys
import numpy as np
import adjit
from adjit.codegen import jit

def w1(x, y):
    return (x.sin() * y.exp() + x**2 * y - (x * y).tanh()).sum()

def row_softmax(x, y):  # row kernels (passes.rows)
    return (x.reshape(40, 25).log_softmax(-1) * y.reshape(40, 25)).sum()

rng = np.random.default_rng(0)
xa, ya = (rng.standard_normal(1000).astype(np.float32) for _ in range(2))
if len(sys.argv) > 2:
    w1 = row_softmax
if sys.argv[1] == "compile":
    x, y = adjit.tensor(xa, requires_grad=True), adjit.tensor(ya, requires_grad=True)
    loss = adjit.compile(w1)(x, y)
    loss.backward()
    gx, gy = x.grad, y.grad
else:
    loss, (gx, gy) = adjit.value_and_grad(w1, argnums=(0, 1))(adjit.tensor(xa), adjit.tensor(ya))
print(json.dumps({
    "stats": jit.STATS,
    "binding": "llvmlite.binding" in sys.modules,
    "lower": "adjit.codegen.lower" in sys.modules,
    "unneeded": [m for m in ("sympy", "adjit.passes.rows") if m in sys.modules],
    "results": [np.asarray(t.detach().numpy()).tobytes().hex() for t in (loss, gx, gy)],
}))
"""


def run_w1(mode: str, cache: Path, *program: str) -> dict:
    env = {**os.environ, "ADJIT_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, *program], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["compile", "value_and_grad"])
def test_second_process_loads_w1_without_compiling(mode: str, tmp_path: Path) -> None:
    first = run_w1(mode, tmp_path)
    assert first["stats"]["compiles"] >= 1 and first["stats"]["disk_loads"] == 0
    assert first["stats"]["lowerings"] == first["stats"]["compiles"]
    second = run_w1(mode, tmp_path)
    assert second["stats"]["compiles"] == 0 and second["stats"]["lowerings"] == 0
    assert second["stats"]["disk_loads"] == first["stats"]["compiles"]
    assert second["stats"]["corrupt"] == 0
    assert second["results"] == first["results"]  # loss and both gradients, bit for bit
    assert not second["lower"]  # llvmlite.ir and the lowering code are never imported
    assert second["unneeded"] == []  # no sympy; no row fusion (W1 has no row reductions)
    if shlib.linker() is not None:
        assert not second["binding"]


def test_row_kernels_load_from_the_cache(tmp_path: Path) -> None:
    first = run_w1("compile", tmp_path, "row_softmax")
    second = run_w1("compile", tmp_path, "row_softmax")
    assert first["stats"]["compiles"] >= 1
    assert second["stats"]["compiles"] == 0 and second["stats"]["corrupt"] == 0
    assert second["stats"]["disk_loads"] == first["stats"]["compiles"]
    assert second["results"] == first["results"]


def test_w1_from_the_cache_matches_pytorch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import numpy as np

    run_w1("compile", tmp_path)
    warm = run_w1("compile", tmp_path)
    assert warm["stats"]["compiles"] == 0
    rng = np.random.default_rng(0)
    xa, ya = (rng.standard_normal(1000).astype(np.float32) for _ in range(2))
    x, y = torch.tensor(xa, requires_grad=True), torch.tensor(ya, requires_grad=True)
    loss = (x.sin() * y.exp() + x**2 * y - (x * y).tanh()).sum()
    loss.backward()
    got = [np.frombuffer(bytes.fromhex(h), np.float32) for h in warm["results"]]
    for g, want in zip(got, (loss, x.grad, y.grad), strict=True):
        np.testing.assert_allclose(g, want.detach().numpy().ravel(), rtol=1e-4, atol=1e-4)
