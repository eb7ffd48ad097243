"""Activation memory vs time of a transformer block's training step: checkpointing and budgets.

Run: ``python -m adjit.benchmarks.checkpoint_memory [--threads 1] [--batch 16] [--seq 128]
[--dim 256] [--heads 4]``. One pre-LayerNorm transformer block (attention with ``--heads``
heads written out: qkv projection, softmax(q k^T / sqrt(d_head)) v, output projection; then a
4*dim GELU MLP; both residual), ``loss = mean(block(x) ** 2)`` and ``loss.backward()`` into
every parameter, float32. Contenders, each in a fresh process with the same thread count
(``--threads``: adjit.set_num_threads, torch.set_num_threads, BLAS/OpenMP env vars) and the
same weights and input:

  - ``adjit compiled``: ``adjit.compile`` of the loss, default split (budget 1);
  - ``adjit ckpt``: the block inside ``adjit.utils.checkpoint.checkpoint(...,
    use_reentrant=False)``, compiled (Note [checkpoint traced]);
  - ``adjit b=0.5`` / ``adjit b=0.0``: no checkpoint, ``options={"activation_memory_budget":
    b}`` (Note [rematerialization]);
  - ``torch eager`` and ``torch ckpt`` (``torch.utils.checkpoint.checkpoint(...,
    use_reentrant=False)``).

Columns: ``saved`` is the residual bytes held from the forward to the backward: adjit's
``explain().saved.bytes`` (the plan's residuals), and for torch the bytes of the distinct
tensors its autograd graph saves, seen by ``torch.autograd.graph.saved_tensors_hooks`` and not
the inputs or parameters (inside a checkpoint torch's own hooks hold nothing but the inputs, so
those count 0). ``peak (plan)`` is adjit's ``explain().saved.peak_bytes`` (Note [peak activation
memory]). ``held`` and ``peak RSS`` are measured: the process's resident memory just after the
forward minus just before it (what the forward leaves allocated until the backward), and the
peak resident memory of the whole step (``VmHWM`` after writing 5 to /proc/self/clear_refs)
minus just before it; medians over the timed steps. The child runs with
``MALLOC_MMAP_THRESHOLD_=65536`` so freed NumPy/PyTorch buffers go back to the system and RSS
tracks live memory (glibc's default threshold adapts upward and keeps freed buffers resident).
adjit's executor pools kernel buffers between calls (Note [buffer reuse]): buffers that are
reused are already resident and count in neither measured column; ``pool`` is the bytes those
pools hold after the timed steps (the arena where values with disjoint live ranges take turns,
Note [buffer planning], shared by the forward and backward programs, and a buffer per escaping
value).
``time`` is the median step (forward + backward) with its interquartile
range and the fastest step (the machine may be shared: the header gives the load average),
after a first call that compiles. ``--layers N`` runs N blocks in a row (the same
weights), each checkpointed separately in the ``ckpt`` rows.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .harness import child_env, child_json, to_numpy

NAMES = ("wqkv", "bqkv", "wo", "bo", "g1", "b1", "g2", "b2", "w1", "c1", "w2", "c2")


def _data(a: argparse.Namespace) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    d = a.dim

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) / math.sqrt(shape[0])).astype(np.float32)

    out = {"wqkv": w(d, 3 * d), "wo": w(d, d), "w1": w(d, 4 * d), "w2": w(4 * d, d)}
    out |= {k: np.zeros(n, np.float32) for k, n in (("bqkv", 3 * d), ("bo", d), ("c1", 4 * d))}
    out |= {"c2": np.zeros(d, np.float32), "b1": np.zeros(d, np.float32)}
    out |= {"b2": np.zeros(d, np.float32), "g1": np.ones(d, np.float32)}
    out |= {"g2": np.ones(d, np.float32)}
    out["x"] = rng.standard_normal((a.batch, a.seq, d)).astype(np.float32)
    return out


def _block(lib: Any, p: dict[str, Any], a: argparse.Namespace) -> Callable[[Any], Any]:
    F = lib.nn.functional
    d, heads = a.dim, a.heads
    dh = d // heads

    def block(x: Any) -> Any:
        B, S = x.shape[0], x.shape[1]
        h = F.layer_norm(x, (d,), p["g1"], p["b1"])
        qkv = h @ p["wqkv"] + p["bqkv"]
        q, k, v = (t.reshape(B, S, heads, dh).transpose(1, 2) for t in qkv.split(d, dim=-1))
        att = ((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))).softmax(dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, S, d)
        x = x + o @ p["wo"] + p["bo"]
        h = F.layer_norm(x, (d,), p["g2"], p["b2"])
        return x + F.gelu(h @ p["w1"] + p["c1"]) @ p["w2"] + p["c2"]

    return block


def _loss(lib: Any, p: dict[str, Any], a: argparse.Namespace, ckpt: bool) -> Callable[[Any], Any]:
    block = _block(lib, p, a)
    checkpoint = lib.utils.checkpoint.checkpoint

    def loss(x: Any) -> Any:
        for _ in range(a.layers):  # the same weights in every layer: one set of parameters
            x = checkpoint(block, x, use_reentrant=False) if ckpt else block(x)
        return (x**2).mean()

    return loss


# name -> (library, checkpointed, adjit's budget or None: not compiled)
CONTENDERS: dict[str, tuple[str, bool, float | None]] = {
    "adjit compiled": ("adjit", False, 1.0),
    "adjit ckpt": ("adjit", True, 1.0),
    "adjit b=0.5": ("adjit", False, 0.5),
    "adjit b=0.0": ("adjit", False, 0.0),
    "torch eager": ("torch", False, None),
    "torch ckpt": ("torch", True, None),
}


def _status() -> dict[str, int]:
    found = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(rest.split()[0]) * 1024
    return found


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _torch_saved_bytes(torch: Any, loss: Callable[[Any], Any], x: Any, params: list[Any]) -> int:
    """Bytes of the distinct tensors torch's autograd graph saves (inputs and parameters not)."""
    own = {t.untyped_storage().data_ptr() for t in [x, *params]}
    seen: dict[int, int] = {}

    def pack(t: Any) -> Any:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in own:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = loss(x)
    out.backward()
    return sum(seen.values())


def child(name: str, a: argparse.Namespace) -> None:
    """One fresh process: the first call, the memory columns, then the timed steps."""
    lib_name, ckpt, budget = CONTENDERS[name]
    data = _data(a)
    lib = importlib.import_module(lib_name)
    importlib.import_module(f"{lib_name}.utils.checkpoint")
    lib.set_num_threads(a.threads)
    p = {k: lib.tensor(data[k], requires_grad=True) for k in NAMES}
    params = [p[k] for k in NAMES]
    x = lib.tensor(data["x"])
    loss = _loss(lib, p, a, ckpt)
    row: dict[str, Any] = {}
    if budget is not None:
        loss = lib.compile(loss, options={"activation_memory_budget": budget})
        saved = lib.explain(loss, x).saved
        row |= {"saved": saved.bytes, "plan_peak": saved.peak_bytes}
    else:
        row["saved"] = _torch_saved_bytes(lib, loss, x, params)

    def step() -> tuple[float, int, int, Any]:
        for t in params:
            t.grad = None
        before = _status()["VmRSS"]
        _reset_peak()
        t0 = time.perf_counter()
        value = loss(x)
        held = _status()["VmRSS"] - before
        value.backward()
        seconds = time.perf_counter() - t0
        return seconds, held, _status()["VmHWM"] - before, value

    t0 = time.perf_counter()
    _, _, _, value = step()
    row["first_s"] = time.perf_counter() - t0
    samples = []
    start = time.perf_counter()
    while len(samples) < 50 and (len(samples) < a.rounds or time.perf_counter() - start < a.budget):
        samples.append(step()[:3])
    times = [s[0] for s in samples]
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    row |= {"median_ms": q[1] * 1e3, "iqr_ms": (q[2] - q[0]) * 1e3, "rounds": len(times)}
    row["min_ms"] = min(times) * 1e3
    row["held"] = statistics.median(s[1] for s in samples)
    row["peak_rss"] = statistics.median(s[2] for s in samples)
    row["value"] = float(to_numpy(value))
    row["grad_abs"] = sum(float(abs(to_numpy(t.grad)).sum()) for t in params)
    if budget is not None:  # what adjit's executors keep pooled (Note [buffer reuse])
        runs = lib.explain(loss, x)._executables()
        shared = importlib.import_module("adjit.runtime.executor").SHARED
        row["pool"] = sum(r.buffers.nbytes for _, r in runs) + shared.nbytes
    print(json.dumps(row))


def _run(name: str, a: argparse.Namespace) -> dict[str, Any] | str:
    with tempfile.TemporaryDirectory() as cache:
        cmd = [sys.executable, "-m", "adjit.benchmarks.checkpoint_memory", "--child", name]
        for flag in ("threads", "batch", "seq", "dim", "heads", "layers", "rounds", "budget"):
            cmd += [f"--{flag}", str(getattr(a, flag))]
        env = child_env(a.threads, cache) | {"MALLOC_MMAP_THRESHOLD_": "65536"}
        return child_json(cmd, env, a.timeout)


def _mb(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:.2f} MB"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=1, help="blocks in a row (shared weights)")
    p.add_argument("--rounds", type=int, default=7, help="timed steps at least")
    p.add_argument("--budget", type=float, default=10.0, help="seconds of timed steps at most")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per contender")
    p.add_argument("--contenders", nargs="+", default=list(CONTENDERS))
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child, a)
        return 0
    print(
        f"transformer block training step ({a.layers} block(s), d={a.dim}, {a.heads} heads, "
        f"seq {a.seq}, batch {a.batch}, float32), {a.threads} thread(s) for every contender; "
        f"time: median [IQR], min; load average before: {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'contender':<15} {'saved':>10} {'peak (plan)':>12} {'held':>10} {'peak RSS':>10} "
        f"{'pool':>10} {'time per step':>22} {'min':>9} {'n':>3} {'first call':>10} {'loss':>10} "
        f"{'|grad|':>10}"
    )
    for name in a.contenders:
        r = _run(name, a)
        if isinstance(r, str):
            print(f"{name:<15} {r}", flush=True)
            continue
        per = f"{r['median_ms']:.1f} ms [{r['iqr_ms']:.1f}]"
        print(
            f"{name:<15} {_mb(r['saved']):>10} {_mb(r.get('plan_peak')):>12} "
            f"{_mb(r['held']):>10} {_mb(r['peak_rss']):>10} {_mb(r.get('pool')):>10} "
            f"{per:>22} {r['min_ms']:>6.1f} ms {r['rounds']:>3} "
            f"{r['first_s']:>8.2f} s {r['value']:>10.6g} {r['grad_abs']:>10.6g}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
