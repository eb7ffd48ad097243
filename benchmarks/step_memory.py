"""Peak memory of one training step above the model's resident state: adjit compiled, adjit
eager and PyTorch eager, each in a fresh process."""

# Note [step memory]
# Run: ``python -m adjit.benchmarks.step_memory [--threads 1] [--models ...] [--rounds 5]``.
# The models are benchmarks/models.py's (the transformer block, resnet18 and VGG-11 at batch
# 8), the same weights and inputs for every contender; a step is ``loss = f(*inputs);
# loss.backward()`` with every ``.grad`` set to None before it (the optimizer is left out: its
# state is the model's, not the step's). Each contender runs in a process of its own, so one
# library's allocations, and pages freed but kept by the allocator, never count against
# another; the child runs with ``MALLOC_MMAP_THRESHOLD_=65536`` so a freed buffer (NumPy's and
# PyTorch's CPU allocator both free to malloc) goes back to the system and the resident size
# tracks live memory (checkpoint_memory's measurement). After two warm-up steps (compiling,
# filling adjit's pools), each measured step's peak is ``VmHWM`` (after writing 5 to
# /proc/self/clear_refs) minus ``VmRSS`` just before it, plus the bytes adjit's executors keep
# pooled between calls (every ``Buffers`` and the shared arena, Note [buffer reuse]): those
# are resident before the step, and the step needs them, so they count (PyTorch holds nothing
# between steps). The peak includes the gradients (the parameters' bytes, the same for every
# contender; the ``params`` column). ``arenas``: the pooled bytes that are arenas (a training
# step's one arena of residuals and planned values, Note [one arena for a training step], and
# its gradients when they pack better there, Note [gradients in the step's arena]; the rest
# are per-value buffers: gradients, outputs); peak - pooled is what the step allocated
# outside the pools (NumPy rules' results, contiguous copies of strided inputs). Medians over
# ``--rounds`` measured steps.

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
from typing import Any

from .harness import child_json, thread_env

SIZES: dict[str, dict[str, Any]] = {
    "transformer": {"model": "transformer", "dim": 256, "heads": 4, "seq": 128, "batch": 16},
    "resnet18 b8": {"model": "resnet18", "batch": 8},
    "vgg11 b8": {"model": "vgg11", "batch": 8},
}
TINY = {"tiny transformer": {"model": "transformer", "dim": 32, "heads": 4, "seq": 8, "batch": 2}}
CONTENDERS = ("adjit compiled", "adjit eager", "torch eager")


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def pooled_bytes(values: bool = False) -> int:
    """Bytes adjit's executors hold between calls: every pool and the shared arena; with
    ``values``, only the per-value buffers (values that escape a call: gradients, outputs),
    the rest being arenas (Note [one arena for a training step])."""
    if "adjit.runtime.executor" not in sys.modules:
        return 0
    executor = sys.modules["adjit.runtime.executor"]
    pools = [o for o in gc.get_objects() if type(o) is executor.Buffers]
    if values:
        return sum(a.nbytes for b in pools for spare in b.free.values() for a, _ in spare)
    return sum(b.nbytes for b in pools) + executor.SHARED.nbytes


def child(model: str, contender: str, threads: int, rounds: int) -> dict[str, Any]:
    """One fresh process: the step's peak bytes above the resident state, median of rounds."""
    from . import models, peers

    peers.set_threads(threads)
    if contender.startswith("torch"):
        lib = peers.torch()
    else:
        import adjit as lib
    size = (SIZES | TINY)[model]
    inputs, params, loss_fn = models.MODELS[size["model"]](lib, size)
    run = lib.compile(loss_fn) if contender == "adjit compiled" else loss_fn

    def step() -> float:
        for p in params:
            p.grad = None
        loss = run(*inputs)
        loss.backward()
        return float(loss.detach())

    for _ in range(2):
        step()
    peaks, pools = [], []
    for _ in range(rounds):
        for p in params:
            p.grad = None
        gc.collect()
        pool = pooled_bytes()
        before = _status("VmRSS")
        _reset_peak()
        step()
        peaks.append(_status("VmHWM") - before + pool)
        pools.append(pool)
    return {
        "peak": statistics.median(peaks),
        "spread": max(peaks) - min(peaks),
        "pool": statistics.median(pools),
        "arena": statistics.median(pools) - pooled_bytes(values=True),
        "params": sum(p.numel() * p.element_size() for p in params),
        "loss": step(),
    }


def _run(model: str, contender: str, a: argparse.Namespace) -> dict[str, Any] | str:
    cmd = [sys.executable, "-m", "adjit.benchmarks.step_memory", "--child", model, contender]
    cmd += ["--threads", str(a.threads), "--rounds", str(a.rounds)]
    env = dict(os.environ) | thread_env(a.threads) | {"MALLOC_MMAP_THRESHOLD_": "65536"}
    return child_json(cmd, env, a.timeout)


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5, help="measured steps (median)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per contender")
    p.add_argument("--models", nargs="+", default=list(SIZES), choices=[*SIZES, *TINY])
    p.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(child(*a.child, a.threads, a.rounds)))
        return 0
    print(
        f"peak memory of a training step (forward + backward, grads included) above the "
        f"resident state, {a.threads} thread(s) for every contender, median of {a.rounds} "
        f"steps [spread]; load average before: {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'model':<12} {'contender':<15} {'peak':>10} {'spread':>9} {'pooled':>10} "
        f"{'arenas':>9} {'params':>9} {'vs torch':>8} {'loss':>10}"
    )
    for model in a.models:
        rows = {c: _run(model, c, a) for c in a.contenders}
        torch_row = rows.get("torch eager")
        for c, r in rows.items():
            if isinstance(r, str):
                print(f"{model:<12} {c:<15} {r}", flush=True)
                continue
            ratio = (
                f"{r['peak'] / torch_row['peak']:.2f}x"
                if isinstance(torch_row, dict) and torch_row["peak"] > 0
                else "-"
            )
            print(
                f"{model:<12} {c:<15} {_mb(r['peak']):>10} {_mb(r['spread']):>9} "
                f"{_mb(r['pool']):>10} {_mb(r['arena']):>9} {_mb(r['params']):>9} {ratio:>8} "
                f"{r['loss']:>10.6g}",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
