"""resnet18 training-step medians: adjit eager, adjit compiled and PyTorch eager, same weights.

A step is forward + MSE loss + backward + SGD(lr=1e-2, momentum=0.9).step(); the fine-tune step
freezes everything and trains a new 10-way head. Gradients are compared with PyTorch's before
anything is timed; variants run interleaved, one step each per round, and medians are reported.

    python benchmarks/resnet_bench.py --batch 1 8 --repeats 7
    python benchmarks/resnet_bench.py --forward-only   # eager forward (train and no_grad eval)

On a shared machine, pin both libraries to one thread each (spinning BLAS/OpenMP threads of two
libraries in one process make the medians meaningless):
``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/resnet_bench.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import adjit
from adjit import nn

F = nn.functional
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _torch_model(seed: int) -> Any:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.models.torch_reference import resnet18

    torch.manual_seed(seed)
    return resnet18()


def _adjit_copy(t: Any) -> nn.Module:
    a = adjit.models.resnet18()
    a.load_state_dict({k: adjit.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return a


def _rel(a: Any, t: Any) -> float:
    a, t = np.asarray(a, np.float64), np.asarray(t, np.float64)
    return float(np.linalg.norm(a - t) / max(np.linalg.norm(t), 1e-30))


def check_gradients(batch: int) -> None:
    """Eager and compiled adjit vs PyTorch, in float64, on one step's loss and gradients.

    (In float32 a few ReLU inputs within rounding of 0 flip sides between any two summation
    orders, and each flip moves a whole gradient by ~1/sqrt(numel): see Note [float32 through a
    ResNet] in tests/models/test_models.py. Float64 compares the arithmetic itself.)
    """
    import torch

    t = _torch_model(0).double()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 64, 64))
    y = rng.standard_normal((batch, 1000))
    lt = torch.nn.functional.mse_loss(t(torch.tensor(x)), torch.tensor(y))
    lt.backward()
    want = [p.grad.numpy() for p in t.parameters()]
    for label in ("eager", "compiled"):
        a = _adjit_copy(_torch_model(0)).double()
        fn = adjit.compile(a) if label == "compiled" else a
        la = F.mse_loss(fn(adjit.tensor(x)), adjit.tensor(y))
        la.backward()
        errs = [_rel(p.grad.numpy(), w) for p, w in zip(a.parameters(), want, strict=True)]
        loss_err = abs(float(la) - float(lt)) / abs(float(lt))
        print(
            f"  {label:8s} vs torch (float64): loss rel err {loss_err:.1e}, parameter gradients: "
            f"max relative L2 error {max(errs):.1e}"
        )
        if loss_err > 1e-10 or max(errs) > 1e-8:
            raise SystemExit(f"{label} gradients differ from PyTorch's: not timing")


def _torch_step(model: Any, params: Any, x: Any, y: Any) -> Callable[[], None]:
    import torch

    opt = torch.optim.SGD(params, lr=1e-2, momentum=0.9)

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    return step


def _adjit_step(fn: Any, params: Any, x: Any, y: Any) -> Callable[[], None]:
    opt = adjit.optim.SGD(params, lr=1e-2, momentum=0.9)

    def step() -> None:
        opt.zero_grad()
        F.mse_loss(fn(x), y).backward()
        opt.step()

    return step


def _variants(batch: int, finetune: bool) -> dict[str, Callable[[], None]]:
    import torch

    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, 3, 64, 64)).astype(np.float32)
    classes = 10 if finetune else 1000
    y = rng.standard_normal((batch, classes)).astype(np.float32)
    t = _torch_model(0)
    models: dict[str, Any] = {"torch eager": t}
    for label in ("adjit eager", "adjit compiled"):
        models[label] = _adjit_copy(t)
    if finetune:
        for label, m in models.items():
            for p in m.parameters():
                p.requires_grad_(False)
            m.fc = (torch.nn if label == "torch eager" else nn).Linear(512, 10)
    steps = {}
    for label, m in models.items():
        params = m.fc.parameters() if finetune else m.parameters()
        if label == "torch eager":
            steps[label] = _torch_step(m, params, torch.tensor(x), torch.tensor(y))
        else:
            fn = adjit.compile(m) if label == "adjit compiled" else m
            steps[label] = _adjit_step(fn, params, adjit.tensor(x), adjit.tensor(y))
    return steps


def interleaved_ms(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    for f in fns.values():  # warm up (the compiled variant traces and compiles here)
        f()
        f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def forward_ms(batch: int, repeats: int) -> dict[str, float]:
    """Eager adjit forward only (runs on any adjit version: for before/after comparisons)."""
    m = adjit.models.resnet18()
    x = adjit.tensor(np.random.default_rng(0).standard_normal((batch, 3, 64, 64)).astype("f4"))
    ev = adjit.models.resnet18().eval()

    def eval_forward() -> None:
        with adjit.no_grad():
            ev(x)

    return interleaved_ms({"train forward": lambda: m(x), "eval no_grad": eval_forward}, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--forward-only", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    threads = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in _THREAD_VARS)
    for batch in args.batch:
        print(f"resnet18, input {batch}x3x64x64, float32, medians of {args.repeats} ({threads})")
        if args.forward_only:
            for k, ms in forward_ms(batch, args.repeats).items():
                print(f"  adjit eager {k:14s} {ms:8.1f} ms")
            continue
        check_gradients(batch)
        for title, finetune in (("full step", False), ("fine-tune step (new head)", True)):
            print(f"  {title}:")
            for k, ms in interleaved_ms(_variants(batch, finetune), args.repeats).items():
                print(f"    {k:15s} {ms:8.1f} ms")


if __name__ == "__main__":
    main()
