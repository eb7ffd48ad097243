"""Per-sample gradients (vmap of grad) and a Hessian: adjit.func vs torch.func and JAX.

Run: ``python -m adjit.benchmarks.func_transforms [--threads 1] [--rounds 20] [--batch 256]``.

Workloads:
  - ``per-sample``: the gradient of an MLP 784-128-10's cross-entropy loss (ReLU) for each of
    ``--batch`` examples separately, ``vmap(grad(loss), in_dims=(None, 0, 0))`` (the
    Opacus-style per-sample gradients: one (128, 784) weight gradient per example);
  - ``hessian``: the 64x64 Hessian of ``f(x) = sum(tanh(W x)^2) + sum(x^4) / 4``.

Contenders, each in a fresh process with the same thread count (``--threads``: adjit's,
torch's and XLA's/BLAS's thread settings, see harness.child_env), cold caches:
  - ``adjit compiled``: ``adjit.compile`` of the adjit.func transform (one fused program);
  - ``adjit eager``: the adjit.func transform called eagerly;
  - ``torch.func``: the torch.func transform, eager;
  - ``torch.compile``: ``torch.compile`` of the torch.func transform;
  - ``jax jit``: ``jax.jit`` of the jax transform.
Per-call times are the median over ``--rounds`` calls after the first with the interquartile
range; every contender's result is checked against NumPy float64 (max relative error printed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from .harness import child_env, first_and_median, to_numpy

SIZES = (784, 128, 10)
HESS_N = 64


def _data(batch: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    i, h, o = SIZES
    return {
        "w1": (rng.standard_normal((h, i)) / np.sqrt(i)).astype(np.float32),
        "b1": np.zeros(h, np.float32),
        "w2": (rng.standard_normal((o, h)) / np.sqrt(h)).astype(np.float32),
        "b2": np.zeros(o, np.float32),
        "x": rng.standard_normal((batch, i)).astype(np.float32),
        "y": rng.integers(0, o, batch),
        "W": (rng.standard_normal((HESS_N, HESS_N)) / 8).astype(np.float32),
        "v": rng.standard_normal(HESS_N).astype(np.float32),
    }


PARAMS = ("w1", "b1", "w2", "b2")


def _torchlike(lib: Any, d: dict[str, Any], work: str, mode: str) -> Callable[[], Any]:
    """adjit or torch: the same code, ``lib`` being the module."""
    F = lib.func
    if work == "per-sample":
        params = {k: lib.tensor(d[k]) for k in PARAMS}
        x, y = lib.tensor(d["x"]), lib.tensor(d["y"])

        def loss(p: Any, xi: Any, yi: Any) -> Any:
            h = lib.relu(xi @ p["w1"].T + p["b1"])
            logits = h @ p["w2"].T + p["b2"]
            return lib.nn.functional.cross_entropy(logits.unsqueeze(0), yi.unsqueeze(0))

        f = F.vmap(F.grad(loss), in_dims=(None, 0, 0))
        args: tuple[Any, ...] = (params, x, y)
    else:
        W, v = lib.tensor(d["W"]), lib.tensor(d["v"])

        def fx(x: Any) -> Any:
            return (lib.tanh(W @ x) ** 2).sum() + (x**4).sum() / 4

        f = F.hessian(fx)
        args = (v,)
    if mode == "compiled":
        f = lib.compile(f)
    return lambda: f(*args)


def _jax(d: dict[str, Any], work: str) -> Callable[[], Any]:
    import jax
    import jax.numpy as jnp

    if work == "per-sample":
        params = {k: jnp.asarray(d[k]) for k in PARAMS}
        x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])

        def loss(p: Any, xi: Any, yi: Any) -> Any:
            h = jax.nn.relu(xi @ p["w1"].T + p["b1"])
            logits = h @ p["w2"].T + p["b2"]
            return -jax.nn.log_softmax(logits)[yi]

        f = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)))
        return lambda: jax.block_until_ready(f(params, x, y))
    W, v = jnp.asarray(d["W"]), jnp.asarray(d["v"])
    h = jax.jit(jax.hessian(lambda x: (jnp.tanh(W @ x) ** 2).sum() + (x**4).sum() / 4))
    return lambda: jax.block_until_ready(h(v))


def _reference(d: dict[str, Any], work: str) -> Any:
    """NumPy float64: per-sample gradients of w1 (the largest), or the Hessian."""
    import numpy as np

    if work == "per-sample":
        x, y = d["x"].astype(np.float64), d["y"]
        w1, b1, w2, b2 = (d[k].astype(np.float64) for k in PARAMS)
        pre = x @ w1.T + b1
        h = np.maximum(pre, 0)
        z = h @ w2.T + b2
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        dh = (p @ w2) * (pre > 0)
        return dh[:, :, None] * x[:, None, :]
    W, v = d["W"].astype(np.float64), d["v"].astype(np.float64)
    t = np.tanh(W @ v)
    diag = (2 * (1 - t**2) ** 2 - 4 * t**2 * (1 - t**2)) * 1.0
    return (W.T * diag) @ W + np.diag(3 * v**2)


def _first(result: Any, work: str) -> Any:
    return result["w1"] if work == "per-sample" else result


def _make(name: str, d: dict[str, Any], work: str, threads: int) -> Callable[[], Any]:
    if name == "jax jit":
        return _jax(d, work)
    lib = importlib.import_module(LIBRARY[name])
    lib.set_num_threads(threads)
    mode = "compiled" if name in ("adjit compiled", "torch.compile") else "eager"
    return _torchlike(lib, d, work, mode)


LIBRARY = {
    "adjit compiled": "adjit",
    "adjit eager": "adjit",
    "torch.func": "torch",
    "torch.compile": "torch",
    "jax jit": "jax",
}


def child(name: str, work: str, batch: int, threads: int, rounds: int) -> None:
    import numpy as np

    d = _data(batch)
    importlib.import_module(LIBRARY[name])
    row = first_and_median(lambda: _make(name, d, work, threads), rounds)
    got = np.asarray(to_numpy(_first(row.pop("result"), work)), np.float64)
    want = _reference(d, work)
    err = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))
    print(json.dumps(row | {"rel_err": err}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", nargs="+", default=["per-sample", "hessian"])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--contenders", nargs="+", default=list(LIBRARY))
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child[0], a.child[1], a.batch, a.threads, a.rounds)
        return 0
    print(
        f"adjit.func vs torch.func and JAX: {a.threads} thread(s) for every contender; per "
        f"call: median [IQR] of {a.rounds}; per-sample at batch {a.batch}"
    )
    print(f"{'work':<11} {'contender':<15} {'first call':>11} {'per call':>22} {'rel err':>9}")
    for work in a.work:
        for name in a.contenders:
            with tempfile.TemporaryDirectory() as cache:
                cmd = [sys.executable, "-m", "adjit.benchmarks.func_transforms"]
                cmd += ["--child", name, work, "--batch", str(a.batch)]
                cmd += ["--threads", str(a.threads), "--rounds", str(a.rounds)]
                out = subprocess.run(
                    cmd, env=child_env(a.threads, cache), capture_output=True, text=True
                )
            if out.returncode != 0:
                tail = out.stderr.strip().splitlines()[-1:] or ["(no output)"]
                print(f"{work:<11} {name:<15} failed: {tail[0][:90]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            per = f"{r['median_ms']:.3f} ms [{r['iqr_ms']:.3f}]"
            print(f"{work:<11} {name:<15} {r['first_s']:>9.3f} s {per:>22} {r['rel_err']:>9.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
