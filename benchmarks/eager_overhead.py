"""Eager per-op overhead: a 20-op elementwise chain on 100 float32 values, and an eager MLP
train step (Linear 64-128, ReLU, Linear 128-10, cross entropy, SGD, batch 32), adjit vs
PyTorch.

Run: ``python -m adjit.benchmarks.eager_overhead [--profile]``. Prints µs per op (forward only
and forward + ``.backward()``) and µs per train step, medians over rounds with the 10th-90th
percentile spread, one thread each, the load average, and with ``--profile`` adjit's cProfile
breakdown of the chain.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

N_OPS = 20  # the chain below: 5 x (sin, mul, add, tanh); the final sum is not counted


def chain(x: Any, w: Any) -> Any:
    y = x
    for _ in range(5):
        y = (y.sin() * w + w).tanh()
    return y


def steps(lib: Any) -> tuple[Callable[[], Any], Callable[[], Any], Callable[[], Any]]:
    """(forward, forward + backward, the gradients) for ``lib`` (adjit or torch)."""
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal(100).astype(np.float32), requires_grad=True)
    w = lib.tensor(rng.standard_normal(100).astype(np.float32), requires_grad=True)

    def forward() -> Any:
        return chain(x, w)

    def both() -> Any:
        chain(x, w).sum().backward()

    def grads() -> Any:
        x.grad = w.grad = None
        both()
        return x.grad.detach().numpy().copy(), w.grad.detach().numpy().copy()

    return forward, both, grads


def mlp_step(lib: Any, state: dict[str, np.ndarray]) -> tuple[Callable[[], Any], Any]:
    """(one eager train step, the model) of the MLP for ``lib``, its weights ``state``."""
    model = lib.nn.Sequential(lib.nn.Linear(64, 128), lib.nn.ReLU(), lib.nn.Linear(128, 10))
    model.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(1)
    x = lib.tensor(rng.standard_normal((32, 64)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 32))

    def step() -> Any:
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, model


def mlp_steps(torch: Any, adjit: Any) -> dict[str, Callable[[], Any]]:
    """The MLP step of each library from PyTorch's seeded weights, checked to agree."""
    torch.manual_seed(0)
    init = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    state = {k: v.detach().numpy().copy() for k, v in init.state_dict().items()}
    out = {}
    models = []
    for name, lib in (("adjit", adjit), ("torch", torch)):
        step, model = mlp_step(lib, state)
        for _ in range(3):
            step()
        out[name] = step
        models.append({k: v.detach().numpy() for k, v in model.state_dict().items()})
    for k in state:
        np.testing.assert_allclose(models[0][k], models[1][k], rtol=1e-4, atol=1e-6)
    return out


def per_op_us(fn: Callable[[], Any], rounds: int, inner: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        out.append((time.perf_counter() - t0) / inner / N_OPS * 1e6)
    return out


def summary(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=10)
    return f"{statistics.median(samples):6.2f} µs/op  [{q[0]:.2f}, {q[-1]:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--inner", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import torch

    import adjit

    torch.set_num_threads(1)
    adjit.set_num_threads(1)
    contenders = {"adjit": steps(adjit), "torch": steps(torch)}
    ga, gt = contenders["adjit"][2](), contenders["torch"][2]()
    for a, t in zip(ga, gt, strict=True):  # agreement before timing
        np.testing.assert_allclose(a, t, rtol=1e-5, atol=1e-6)
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(3):  # interleaved thirds, so load changes hit every contender alike
        for name, (fwd, both, _) in contenders.items():
            for kind, fn in (("forward", fwd), ("forward+backward", both)):
                fn()
                results.setdefault((name, kind), []).extend(
                    per_op_us(fn, args.rounds // 3, args.inner)
                )
    print(f"load average {os.getloadavg()[0]:.2f}; 1 thread each; {N_OPS}-op chain, 100 float32")
    for kind in ("forward", "forward+backward"):
        a = statistics.median(results[("adjit", kind)])
        t = statistics.median(results[("torch", kind)])
        for name in ("adjit", "torch"):
            print(f"{kind:17s} {name:6s} {summary(results[(name, kind)])}")
        print(f"{kind:17s} adjit / torch = {a / t:.2f}x")
    steps_ = mlp_steps(torch, adjit)
    per_step: dict[str, list[float]] = {name: [] for name in steps_}
    for _ in range(3):
        for name, fn in steps_.items():
            for _ in range(args.rounds // 3):
                t0 = time.perf_counter()
                for _ in range(10):
                    fn()
                per_step[name].append((time.perf_counter() - t0) / 10 * 1e6)
    for name, samples in per_step.items():
        q = statistics.quantiles(samples, n=10)
        print(f"MLP train step    {name:6s} {statistics.median(samples):7.1f} µs  "
              f"[{q[0]:.1f}, {q[-1]:.1f}]")  # fmt: skip
    ratio = statistics.median(per_step["adjit"]) / statistics.median(per_step["torch"])
    print(f"MLP train step    adjit / torch = {ratio:.2f}x")
    if args.profile:
        fwd, both, _ = contenders["adjit"]
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(2000):
            both()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
