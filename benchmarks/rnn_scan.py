"""An RNN's value_and_grad through ``adjit.scan``: first call, per call, vs JAX lax.scan and torch.

Run: ``python -m adjit.benchmarks.rnn_scan [--lengths 200 2000] [--threads 1] [--batch 16]``.
The cell is ``h = tanh(x W + h U + b)`` (hidden 128, input 128, batch ``--batch``), the loss
the sum of the squares of every step's h; each contender computes the loss and its gradient
with respect to W, U, b. Every contender runs in a fresh process with the same thread count
(``--threads``: adjit.set_num_threads, torch.set_num_threads, XLA's and BLAS's env vars), so
the first call is cold: adjit's kernel cache points at a new temporary folder
(``ADJIT_CACHE_DIR``), JAX has no persistent cache configured. Contenders:

  - ``adjit scan``: ``adjit.value_and_grad`` of the scan (the body traced once: compile time
    flat in T);
  - ``adjit loop``: the same as a Python loop through ``adjit.value_and_grad`` (unrolled: T
    copies of the body in the graph), for contrast; skipped above ``--max-unrolled`` steps;
  - ``jax lax.scan``: ``jax.jit(jax.value_and_grad(...))``;
  - ``torch eager``: a Python loop and ``backward()``.

Per-call times are the median over ``--rounds`` calls after the first, with the interquartile
range; the first call (the library already imported: ``import`` is its own column) includes
tracing and compiling, and ``(compile)`` is the first call minus the median call.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from . import peers
from .harness import child_env, first_and_median, to_numpy

HIDDEN = 128
INPUT = 128


def _data(T: int, batch: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    s = 1.0 / np.sqrt(HIDDEN)
    return {
        "W": (rng.standard_normal((INPUT, HIDDEN)) * s).astype(np.float32),
        "U": (rng.standard_normal((HIDDEN, HIDDEN)) * s).astype(np.float32),
        "b": np.zeros(HIDDEN, np.float32),
        "h0": np.zeros((batch, HIDDEN), np.float32),
        "xs": rng.standard_normal((T, batch, INPUT)).astype(np.float32),
    }


def _adjit(d: dict[str, Any], threads: int, unrolled: bool) -> Callable[[], Any]:
    import adjit

    adjit.set_num_threads(threads)
    W, U, b, h0, xs = (adjit.tensor(d[k]) for k in ("W", "U", "b", "h0", "xs"))

    def scanned(W: Any, U: Any, b: Any, h0: Any, xs: Any) -> Any:
        def cell(h: Any, x: Any) -> Any:
            h = adjit.tanh(x @ W + h @ U + b)
            return h, (h * h).sum()

        _, ys = adjit.scan(cell, h0, xs)
        return ys.sum()

    def loop(W: Any, U: Any, b: Any, h0: Any, xs: Any) -> Any:
        h, total = h0, 0.0
        for i in range(xs.shape[0]):
            h = adjit.tanh(xs[i] @ W + h @ U + b)
            total = total + (h * h).sum()
        return total

    f = adjit.value_and_grad(loop if unrolled else scanned, argnums=(0, 1, 2))
    return lambda: f(W, U, b, h0, xs)


def _jax(d: dict[str, Any], threads: int) -> Callable[[], Any]:
    jax, jnp = peers.jax(threads)  # (Note [JAX threads])

    def loss(W: Any, U: Any, b: Any, h0: Any, xs: Any) -> Any:
        def cell(h: Any, x: Any) -> Any:
            h = jnp.tanh(x @ W + h @ U + b)
            return h, (h * h).sum()

        _, ys = jax.lax.scan(cell, h0, xs)
        return ys.sum()

    f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    args = [jnp.asarray(d[k]) for k in ("W", "U", "b", "h0", "xs")]
    return lambda: jax.block_until_ready(f(*args))


def _torch(d: dict[str, Any], threads: int) -> Callable[[], Any]:
    import torch

    torch.set_num_threads(threads)
    W, U, b = (torch.tensor(d[k], requires_grad=True) for k in ("W", "U", "b"))
    h0, xs = torch.tensor(d["h0"]), torch.tensor(d["xs"])

    def step() -> Any:
        h, total = h0, 0.0
        for x in xs:
            h = torch.tanh(x @ W + h @ U + b)
            total = total + (h * h).sum()
        gW, gU, gb = torch.autograd.grad(total, (W, U, b))
        return total, (gW, gU, gb)

    return step


LIBRARY = {"adjit scan": "adjit", "adjit loop": "adjit", "jax lax.scan": "jax"}
LIBRARY["torch eager"] = "torch"
CONTENDERS: dict[str, Callable[..., Callable[[], Any]]] = {
    "adjit scan": lambda d, t: _adjit(d, t, False),
    "adjit loop": lambda d, t: _adjit(d, t, True),
    "jax lax.scan": _jax,
    "torch eager": _torch,
}


def child(name: str, T: int, batch: int, threads: int, rounds: int) -> None:
    """One fresh process: the first call, then ``rounds`` timed calls; one JSON line."""

    d = _data(T, batch)
    t0 = time.perf_counter()
    importlib.import_module(LIBRARY[name])  # the import is not part of the first call
    imported = time.perf_counter() - t0
    row = first_and_median(lambda: CONTENDERS[name](d, threads), rounds)
    value, grads = row.pop("result")
    gsum = [float(to_numpy(g).sum()) for g in grads]
    row |= {"import_s": imported, "compile_s": row["first_s"] - row["median_ms"] / 1e3}
    value = float(to_numpy(value))
    print(json.dumps(row | {"value": value, "grad_sums": gsum}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[200, 2000])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--max-unrolled", type=int, default=200)
    p.add_argument("--contenders", nargs="+", default=list(CONTENDERS))
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child[0], int(a.child[1]), a.batch, a.threads, a.rounds)
        return 0
    print(
        f"RNN value_and_grad (hidden {HIDDEN}, input {INPUT}, batch {a.batch}), "
        f"{a.threads} thread(s) for every contender; per call: median [IQR] of {a.rounds}"
    )
    print(
        f"{'T':>6} {'contender':<14} {'import':>8} {'first call':>11} {'(compile)':>10} "
        f"{'per call':>20} {'value':>12}"
    )
    for T in a.lengths:
        for name in a.contenders:
            if name == "adjit loop" and a.max_unrolled < T:
                print(f"{T:>6} {name:<14} {'(skipped: --max-unrolled)':>32}")
                continue
            with tempfile.TemporaryDirectory() as cache:
                cmd = [sys.executable, "-m", "adjit.benchmarks.rnn_scan", "--child", name, str(T)]
                cmd += ["--batch", str(a.batch), "--threads", str(a.threads)]
                cmd += ["--rounds", str(a.rounds)]
                out = subprocess.run(
                    cmd,
                    env=child_env(a.threads, cache),
                    capture_output=True,
                    text=True,
                    check=False,
                )
            if out.returncode != 0:
                print(f"{T:>6} {name:<14} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            per = f"{r['median_ms']:.2f} ms [{r['iqr_ms']:.2f}]"
            print(
                f"{T:>6} {name:<14} {r['import_s']:>6.2f} s {r['first_s']:>9.3f} s "
                f"{r['compile_s']:>8.3f} s {per:>20} {r['value']:>12.6g}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
