"""nn.LSTM / nn.GRU forward+backward: adjit compiled (a scan per layer) vs eager, torch, JAX.

Run: ``python -m adjit.benchmarks.rnn_modules [--modules LSTM GRU] [--lengths 50 200 1000]
[--threads 1] [--batch 16]``. One layer, hidden 128, input 128, batch ``--batch``; the step is
``loss = mean(out ** 2)`` of the module on a (T, batch, 128) input and the gradient of every
parameter (``loss.backward()``; JAX: ``value_and_grad`` with respect to the weights). Every
contender runs in a fresh process with the same thread count (``--threads``:
adjit.set_num_threads, torch.set_num_threads, XLA's and BLAS's env vars) and the same weights
and input, so the first call is cold: adjit's kernel cache points at a new temporary folder
(``ADJIT_CACHE_DIR``), torch.compile's inductor cache too (``TORCHINDUCTOR_CACHE_DIR``), JAX has
no persistent cache configured. Contenders:

  - ``adjit compiled``: ``adjit.compile`` of the loss (each layer's time loop one adjit.scan:
    compile time flat in T), then ``loss.backward()`` (the compiled backward program);
  - ``adjit eager``: the module called eagerly, ``loss.backward()``;
  - ``torch eager``: ``torch.nn.LSTM/GRU``, ``loss.backward()``;
  - ``torch.compile``: ``torch.compile`` of the loss (default inductor backend), then
    ``loss.backward()``; a failure is reported as such;
  - ``jax lax.scan``: the same cell in ``jax.lax.scan`` (PyTorch's gate order and formulas),
    ``jax.jit(jax.value_and_grad(...))``;
  - ``adjit compile``: only tracing and compiling adjit's forward and backward programs
    (``adjit.explain(...).kernels``), nothing run: the part of adjit's first call that must not
    grow with T (the rest of its first call is a first run, whose fresh buffers grow with T).

Per-call times are the median over the timed calls after the first (at least ``--rounds`` and
as many as fit in ``--budget`` seconds, at most 50), with the interquartile range; the first
call (the library already imported) includes tracing and compiling, and ``(compile)`` is the
first call minus the median call. ``value`` is the loss and ``|grad|`` the sum of the absolute
values of every parameter's gradient: they agree across contenders to float32 rounding.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from . import peers
from .harness import child_env, to_numpy

HIDDEN = 128
INPUT = 128
GATES = {"LSTM": 4, "GRU": 3}
NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def _data(module: str, T: int, batch: int) -> dict[str, Any]:
    """PyTorch's parameter shapes and init range; one input."""
    import numpy as np

    rng = np.random.default_rng(0)
    s = 1.0 / np.sqrt(HIDDEN)
    g = GATES[module] * HIDDEN
    shapes = {NAMES[0]: (g, INPUT), NAMES[1]: (g, HIDDEN), NAMES[2]: (g,), NAMES[3]: (g,)}
    d = {k: rng.uniform(-s, s, shape).astype(np.float32) for k, shape in shapes.items()}
    d["x"] = rng.standard_normal((T, batch, INPUT)).astype(np.float32)
    return d


def _load(lib: Any, m: Any, d: dict[str, Any]) -> None:
    with lib.no_grad():
        for k in NAMES:
            getattr(m, k).copy_(lib.tensor(d[k]))


def _module_step(lib: Any, module: str, d: dict[str, Any], wrap: Callable[..., Any]) -> Any:
    m = getattr(lib.nn, module)(INPUT, HIDDEN)
    _load(lib, m, d)
    x = lib.tensor(d["x"])
    loss = wrap(lambda x: (m(x)[0] ** 2).mean())

    def step() -> Any:
        m.zero_grad()
        value = loss(x)
        value.backward()
        return value, [getattr(m, k).grad for k in NAMES]

    return step


def _adjit(module: str, d: dict[str, Any], threads: int, compiled: bool) -> Callable[[], Any]:
    import adjit

    adjit.set_num_threads(threads)
    return _module_step(adjit, module, d, adjit.compile if compiled else lambda f: f)


def _torch(module: str, d: dict[str, Any], threads: int, compiled: bool) -> Callable[[], Any]:
    import torch

    torch.set_num_threads(threads)
    return _module_step(torch, module, d, torch.compile if compiled else lambda f: f)


def _jax(module: str, d: dict[str, Any], threads: int) -> Callable[[], Any]:
    jax, jnp = peers.jax(threads)  # (Note [JAX threads])

    def lstm(w: Any, h: Any, x: Any) -> Any:
        h, c = h
        i, f, g, o = jnp.split(x + h @ w[1].T + w[3], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    def gru(w: Any, h: Any, x: Any) -> Any:
        ir, iz, in_ = jnp.split(x, 3, axis=-1)
        hr, hz, hn = jnp.split(h @ w[1].T + w[3], 3, axis=-1)
        r, z = jax.nn.sigmoid(ir + hr), jax.nn.sigmoid(iz + hz)
        n = jnp.tanh(in_ + r * hn)
        h = (1 - z) * n + z * h
        return h, h

    cell = lstm if module == "LSTM" else gru

    def loss(w: Any, x: Any) -> Any:
        gi = x @ w[0].T + w[2]  # the input projection of every step at once, as ATen's
        h0 = jnp.zeros((x.shape[1], HIDDEN), x.dtype)
        init = (h0, h0) if module == "LSTM" else h0
        _, out = jax.lax.scan(lambda h, g: cell(w, h, g), init, gi)
        return (out**2).mean()

    f = jax.jit(jax.value_and_grad(loss))
    w, x = [jnp.asarray(d[k]) for k in NAMES], jnp.asarray(d["x"])
    return lambda: jax.block_until_ready(f(w, x))


LIBRARY = {"adjit compiled": "adjit", "adjit eager": "adjit", "torch eager": "torch"}
LIBRARY |= {"torch.compile": "torch", "jax lax.scan": "jax", "adjit compile": "adjit"}
CONTENDERS: dict[str, Callable[[str, dict[str, Any], int], Callable[[], Any]]] = {
    "adjit compiled": lambda m, d, t: _adjit(m, d, t, True),
    "adjit compile": lambda m, d, t: _adjit(m, d, t, True),  # (timed apart: child)
    "adjit eager": lambda m, d, t: _adjit(m, d, t, False),
    "torch eager": lambda m, d, t: _torch(m, d, t, False),
    "torch.compile": lambda m, d, t: _torch(m, d, t, True),
    "jax lax.scan": _jax,
}


def _adjit_compile_only(module: str, d: dict[str, Any], threads: int) -> float:
    """Seconds to trace and compile (forward and backward programs) without running them."""
    import adjit

    adjit.set_num_threads(threads)
    m = getattr(adjit.nn, module)(INPUT, HIDDEN)
    _load(adjit, m, d)
    x = adjit.tensor(d["x"])
    t0 = time.perf_counter()
    adjit.explain(adjit.compile(lambda x: (m(x)[0] ** 2).mean()), x).kernels  # noqa: B018
    return time.perf_counter() - t0


def child(name: str, module: str, T: int, a: argparse.Namespace) -> None:
    """One fresh process: the first call, then the timed calls; one JSON line."""
    d = _data(module, T, a.batch)
    t0 = time.perf_counter()
    importlib.import_module(LIBRARY[name])  # the import is not part of the first call
    imported = time.perf_counter() - t0
    if name == "adjit compile":
        print(json.dumps({"first_s": _adjit_compile_only(module, d, a.threads)}))
        return
    t0 = time.perf_counter()
    step = CONTENDERS[name](module, d, a.threads)
    value, grads = step()
    first = time.perf_counter() - t0
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 50 and (len(times) < a.rounds or time.perf_counter() - start < a.budget):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    row = {"first_s": first, "median_ms": q[1] * 1e3, "iqr_ms": (q[2] - q[0]) * 1e3}
    row |= {"import_s": imported, "compile_s": first - q[1], "rounds": len(times)}
    row |= {
        "value": float(to_numpy(value)),
        "grad_abs": sum(float(abs(to_numpy(g)).sum()) for g in grads),
    }
    print(json.dumps(row))


def _run(name: str, module: str, T: int, a: argparse.Namespace) -> dict[str, Any] | str:
    """The child's JSON row, or why it failed."""
    with tempfile.TemporaryDirectory() as cache:
        cmd = [sys.executable, "-m", "adjit.benchmarks.rnn_modules", "--child", name, module]
        cmd += [str(T), "--batch", str(a.batch), "--threads", str(a.threads)]
        cmd += ["--rounds", str(a.rounds), "--budget", str(a.budget)]
        try:
            out = subprocess.run(
                cmd,
                env=child_env(a.threads, cache),
                capture_output=True,
                text=True,
                check=False,
                timeout=a.timeout,
            )
        except subprocess.TimeoutExpired:
            return f"failed: over --timeout {a.timeout} s"
    if out.returncode != 0:
        return f"failed: {out.stderr.strip().splitlines()[-1:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modules", nargs="+", default=["LSTM", "GRU"], choices=list(GATES))
    p.add_argument("--lengths", type=int, nargs="+", default=[50, 200, 1000])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5, help="timed calls at least")
    p.add_argument("--budget", type=float, default=5.0, help="seconds of timed calls at most")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per contender")
    p.add_argument("--contenders", nargs="+", default=list(CONTENDERS))
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child[0], a.child[1], int(a.child[2]), a)
        return 0
    print(
        f"nn.LSTM/GRU forward+backward (1 layer, hidden {HIDDEN}, input {INPUT}, batch "
        f"{a.batch}), {a.threads} thread(s) for every contender; per call: median [IQR]"
    )
    print(
        f"{'module':<6} {'T':>5} {'contender':<15} {'first call':>11} {'(compile)':>10} "
        f"{'per call':>22} {'n':>3} {'value':>12} {'|grad|':>12}"
    )
    for module in a.modules:
        for T in a.lengths:
            for name in a.contenders:
                r = _run(name, module, T, a)
                if isinstance(r, str):
                    print(f"{module:<6} {T:>5} {name:<15} {r}", flush=True)
                    continue
                if name == "adjit compile":
                    print(f"{module:<6} {T:>5} {name:<15} {r['first_s']:>9.3f} s", flush=True)
                    continue
                per = f"{r['median_ms']:.2f} ms [{r['iqr_ms']:.2f}]"
                print(
                    f"{module:<6} {T:>5} {name:<15} {r['first_s']:>9.3f} s "
                    f"{r['compile_s']:>8.3f} s {per:>22} {r['rounds']:>3} {r['value']:>12.6g} "
                    f"{r['grad_abs']:>12.6g}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
