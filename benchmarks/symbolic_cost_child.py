"""A fresh process's first compiled step with the sympy pass off or on: ``python
symbolic_cost_child.py PROGRAM DIR`` (run by path: nothing of adjit's imported before timing)."""

# Prints one JSON line: adjit's import time, the time of the first call and backward (tracing,
# the passes, the sympy work and compiling included), the part of it spent in the symbolic
# passes (where-regions and simplify, with the import of their modules; wall and this thread's
# CPU time, which a loaded machine inflates less), whether sympy was
# imported, and the loss and gradient for the parent to check. ADJIT_SYMBOLIC comes from the
# environment; DIR is the cache folder (kernels and sympy results).

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import numpy as np


def inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The README example's shapes: w [8, 1], x [64, 8], y [64, 1] (the parent rebuilds them)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 1)).astype(np.float32)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    return w, x, rng.random((64, 1)).astype(np.float32)


def readme(F: Any) -> Any:
    def loss(w: Any, x: Any, y: Any) -> Any:  # README.md's first example
        return ((x @ w).sigmoid() - y).pow(2).mean()

    return loss


def softplus(F: Any) -> Any:
    def loss(w: Any, x: Any, y: Any) -> Any:  # softplus has a where: its VJP is sympy's
        return (F.softplus(x @ w) - y).pow(2).mean()

    return loss


PROGRAMS = {"readme": readme, "softplus": softplus}


def _timed(module: Any, name: str, spent: list[float]) -> None:
    fn = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0
            spent[1] += time.thread_time() - c0

    setattr(module, name, timed)


def main(program: str, cache: str) -> None:
    os.environ["ADJIT_CACHE_DIR"] = cache
    t0 = time.perf_counter()
    import adjit
    import adjit.nn.functional as F

    t1 = time.perf_counter()
    loss = adjit.compile(PROGRAMS[program](F))
    w, x, y = (adjit.tensor(a) for a in inputs())
    w.requires_grad_()
    spent = [0.0, 0.0]  # wall and CPU seconds in the symbolic passes
    t2, c2 = time.perf_counter(), time.thread_time()
    if os.environ.get("ADJIT_SYMBOLIC") == "1" or program == "softplus":
        from adjit.passes import symbolic  # (imported by the first compile anyway)

        spent[:] = time.perf_counter() - t2, time.thread_time() - c2
        for name in ("where_regions", "simplify"):
            _timed(symbolic, name, spent)
    value = loss(w, x, y)
    value.backward()
    first = time.perf_counter() - t2
    out = [float(value.detach().numpy()), w.grad.numpy().ravel().tolist()]
    row = {
        "import_ms": (t1 - t0) * 1e3,
        "first_ms": first * 1e3,
        "symbolic_ms": spent[0] * 1e3,
        "symbolic_cpu_ms": spent[1] * 1e3,
        "sympy": "sympy" in sys.modules,
        "outputs": out,
    }
    print(json.dumps(row))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
