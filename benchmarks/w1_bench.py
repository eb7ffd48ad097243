"""W1 benchmark: loss and both gradients of sum(sin(x)exp(y) + x²y - tanh(xy)), float32."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.runtime.executor import compile_program

import adjit


def _w1(x, y):
    return (x.sin() * y.exp() + x**2 * y - (x * y).tanh()).sum()


def numpy_w1(x: np.ndarray, y: np.ndarray) -> tuple:
    """Hand-written NumPy forward + backward (what a careful user would write)."""
    sx, ey, xy = np.sin(x), np.exp(y), x * y
    t = np.tanh(xy)
    loss = np.sum(sx * ey + x * x * y - t)
    dt = 1 - t * t
    return loss, np.cos(x) * ey + 2 * x * y - dt * y, sx * ey + x * x - dt * x


def torch_w1(torch):  # noqa: ANN001, ANN201
    def run(x, y):  # noqa: ANN001, ANN202
        x.grad = y.grad = None
        loss = (x.sin() * y.exp() + x**2 * y - (x * y).tanh()).sum()
        loss.backward()
        return loss, x.grad, y.grad

    return run


def bandwidth_floor(n: int) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """A 3-stream kernel (read x, read y, write x + y): the memory-bound floor."""
    x, y = Var(Aval((n,), float32)), Var(Aval((n,), float32))
    z = Var(Aval((n,), float32))
    return compile_program(Graph((x, y), (Eqn(Op.ADD, (x, y), {}, z),), (z,)))


def median_ms(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Interleaved runs (each round runs every contender once), medians in ms."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():
        f()  # warm up
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append((time.perf_counter() - t) * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1e3,1e5,1e6,1e7")
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--torch-threads", type=int, default=1, help="0: torch's default")
    args = ap.parse_args()
    try:
        import torch

        # torch's OpenMP workers spin after each op and starve our pool threads next to them
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
    except ImportError:
        torch = None
    rows = []
    for n in (int(float(s)) for s in args.sizes.split(",")):
        rng = np.random.default_rng(0)
        x, y = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
        g = adjit.explain(
            _w1, adjit.tensor(x, requires_grad=True), adjit.tensor(y, requires_grad=True)
        ).optimized
        t = time.perf_counter()
        ex = compile_program(g)
        compile_ms = (time.perf_counter() - t) * 1e3
        inputs = [x, y, np.ones((), np.float32)]
        if n <= 10**6:  # check against the interpreter where that is cheap
            for a, r in zip(ex(inputs), interpret(g, inputs), strict=True):
                np.testing.assert_allclose(a, r, rtol=1e-3, atol=1e-3 * max(1, abs(r).max()))
        floor = bandwidth_floor(n)
        fns: dict[str, Callable[[], object]] = {
            "adjit": lambda ex=ex, inputs=inputs: ex(inputs),
            "numpy": lambda x=x, y=y: numpy_w1(x, y),
            "floor(3-stream)": lambda f=floor, x=x, y=y: f([x, y]),
        }
        if torch is not None:
            tx, ty = (torch.from_numpy(a).requires_grad_() for a in (x, y))
            step = torch_w1(torch)
            fns["torch"] = lambda f=step, tx=tx, ty=ty: f(tx, ty)
        reps = args.repeats if n >= 10**6 else args.repeats * 10
        rows.append((n, compile_ms, median_ms(fns, reps)))
    names = list(rows[0][2])
    print(f"{'N':>10} {'compile ms':>11} " + " ".join(f"{k:>16}" for k in names))
    for n, c, ms in rows:
        print(f"{n:>10} {c:>11.1f} " + " ".join(f"{ms[k]:>13.3f} ms" for k in names))


if __name__ == "__main__":
    main()
