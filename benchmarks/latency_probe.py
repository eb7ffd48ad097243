"""Compile latency of W1 in fresh processes: import time and time to the first result, cold/warm.

Each sample is a new Python process (``-c`` child below) with its own ``ADJIT_CACHE_DIR``:
"cold" starts from an empty cache directory, "warm" reuses the directory a previous child
filled. The child reports ``import adjit`` time and the time from the first call of the compiled
function until the loss and both gradients are available, for ``adjit.compile`` + ``backward``
and for ``adjit.value_and_grad``. Usage: ``python benchmarks/latency_probe.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import adjit
import numpy as np
t1 = time.perf_counter()

def w1(x, y):
    return (x.sin() * y.exp() + x**2 * y - (x * y).tanh()).sum()

rng = np.random.default_rng(0)
xa = rng.standard_normal(1000).astype(np.float32)
ya = rng.standard_normal(1000).astype(np.float32)
mode = sys.argv[1]
grad = mode == "compile"  # value_and_grad: plain inputs, as in JAX
x = adjit.tensor(xa, requires_grad=grad)
y = adjit.tensor(ya, requires_grad=grad)
t2 = time.perf_counter()
if mode == "compile":
    loss = adjit.compile(w1)(x, y)
    loss.backward()
    gx, gy = x.grad.numpy(), y.grad.numpy()
else:
    loss, (gx, gy) = adjit.value_and_grad(w1, argnums=(0, 1))(x, y)
    gx, gy = gx.numpy(), gy.numpy()
t3 = time.perf_counter()
from adjit.codegen import jit
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_ms": (t3 - t2) * 1e3,
                  "binding": "llvmlite.binding" in sys.modules, "stats": dict(jit.STATS),
                  "loss": float(loss.item()), "g": float(gx.sum() + gy.sum())}))
"""


# bytecode as an installed package has it (this repo's environment sets PYTHONDONTWRITEBYTECODE,
# which would add the compile time of every imported source file), kept outside the repo
PYCACHE = os.path.join(tempfile.gettempdir(), "adjit-latency-probe-pycache")


def child(mode: str, cache: str) -> dict:
    env = {**os.environ, "ADJIT_CACHE_DIR": cache, "PYTHONPYCACHEPREFIX": PYCACHE}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    rows: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as cache:
        child("compile", cache)  # fills the bytecode cache
    for _ in range(args.runs):  # interleaved: cold and warm of both modes in every round
        for mode in ("compile", "value_and_grad"):
            with tempfile.TemporaryDirectory() as cache:
                rows.setdefault(f"{mode} cold", []).append(child(mode, cache))
                rows.setdefault(f"{mode} warm", []).append(child(mode, cache))
    print(f"{'case':24} {'import ms':>10} {'first result ms':>16}  binding  last stats")
    for case, rs in rows.items():
        imp = statistics.median(r["import_ms"] for r in rs)
        first = statistics.median(r["first_ms"] for r in rs)
        print(f"{case:24} {imp:10.1f} {first:16.1f}  {rs[-1]['binding']!s:7}  {rs[-1]['stats']}")


if __name__ == "__main__":
    main()
