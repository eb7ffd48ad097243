"""A compiled MLP training-step loop with a ``loss.item()`` graph break per step, vs without it.

Run: ``python -m benchmarks.graph_breaks [--threads 1] [--steps 200] [--rounds 15]``. The loops
(a compiled forward without ``.item()``, with it inside at a top-level statement, with it after
the call; a whole compiled training step without and with it inside) run the same model, data
and optimizer at the same thread count, interleaved round by round; prints the median time per
step with the interquartile range, and the ratios (issue 15's bar: the loop with the break
within 10% of the loop without it). ``--clock thread`` (the default)
counts this thread's CPU time, which other processes on a shared machine do not inflate (with
``--threads 1`` every kernel runs on this thread); ``--clock wall`` counts elapsed time.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import adjit


def _model() -> tuple[adjit.nn.Module, adjit.optim.Optimizer, adjit.Tensor, adjit.Tensor]:
    adjit.manual_seed(0)
    model = adjit.nn.Sequential(
        adjit.nn.Linear(32, 64),
        adjit.nn.ReLU(),
        adjit.nn.Linear(64, 64),
        adjit.nn.ReLU(),
        adjit.nn.Linear(64, 1),
    )
    opt = adjit.optim.SGD(model.parameters(), lr=1e-3)
    return model, opt, adjit.randn(64, 32), adjit.randn(64, 1)


def make(where: str, backend: str) -> Callable[[], None]:
    """One training step: a compiled forward, logging ``loss.item()`` inside it (``where`` is
    "inside": a graph break at a top-level statement), after the call ("outside") or not at
    all (""), then eager backward and SGD."""
    model, opt, x, y = _model()
    losses: list[float] = []

    def forward(x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
        return adjit.nn.functional.mse_loss(model(x), y)

    def forward_logged(x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
        loss = adjit.nn.functional.mse_loss(model(x), y)
        losses.append(loss.item())  # a graph break
        return loss

    fwd = adjit.compile(forward_logged if where == "inside" else forward, backend=backend)

    def step() -> None:
        loss = fwd(x, y)
        if where == "outside":
            losses.append(loss.item())  # no break: the compiled call returned the loss
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def make_whole(with_item: bool, backend: str) -> Callable[[], None]:
    """A whole training step compiled (zero_grad, forward, backward, SGD step), with
    ``log.append(loss.item())`` between the forward and ``loss.backward()`` or without."""
    model, opt, x, y = _model()
    losses: list[float] = []

    def train_step(x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
        opt.zero_grad()
        loss = adjit.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    def train_step_logged(x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
        opt.zero_grad()
        loss = adjit.nn.functional.mse_loss(model(x), y)
        losses.append(loss.item())  # a graph break
        loss.backward()
        opt.step()
        return loss

    f = adjit.compile(train_step_logged if with_item else train_step, backend=backend)
    return lambda: f(x, y) and None


def timed(step: Callable[[], None], steps: int, clock: Callable[[], float]) -> float:
    t0 = clock()
    for _ in range(steps):
        step()
    return (clock() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--backend", default="llvm")
    ap.add_argument("--clock", choices=["thread", "wall"], default="thread")
    a = ap.parse_args()
    clock = time.thread_time if a.clock == "thread" else time.perf_counter
    adjit.set_num_threads(a.threads)
    warnings.simplefilter("ignore")  # the once-per-function graph-break warning
    loops = {
        "without .item()": make("", a.backend),
        "with .item()": make("inside", a.backend),
        ".item() outside": make("outside", a.backend),
        "whole step": make_whole(False, a.backend),
        "whole step .item()": make_whole(True, a.backend),
    }
    for step in loops.values():
        timed(step, 20, clock)  # compile and warm up
    times: dict[str, list[float]] = {k: [] for k in loops}
    for _ in range(a.rounds):
        for name, step in loops.items():
            times[name].append(timed(step, a.steps, clock))
    print(
        f"threads={a.threads} backend={a.backend} steps={a.steps} rounds={a.rounds} clock={a.clock}"
    )
    med = {}
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=4)
        med[name] = statistics.median(ts)
        iqr = f"{q[0] * 1e6:.1f}-{q[2] * 1e6:.1f}"
        print(f"{name:>18}: median {med[name] * 1e6:8.1f} us/step  IQR {iqr}")
    base = med["without .item()"]
    print(f"ratio with .item() inside / without: {med['with .item()'] / base:.3f}")
    print(f"ratio with .item() outside / without: {med['.item() outside'] / base:.3f}")
    whole = med["whole step .item()"] / med["whole step"]
    print(f"ratio whole step with .item() inside / without: {whole:.3f}")


if __name__ == "__main__":
    main()
