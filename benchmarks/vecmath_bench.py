"""Time each vecmath kernel over 1e7 float32 elements against numpy (median of 5); not a test."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "codegen"))
from adjit.codegen import vecmath  # noqa: E402
from jit_util import compile_loop  # noqa: E402

N = 10_000_000
REPEATS = 5
_erf = np.frompyfunc(math.erf, 1, 1)

# name -> (numpy equivalent writing into out, input range)
NUMPY: dict[str, tuple[Callable[..., object], tuple[float, float]]] = {
    "exp": (lambda x, out: np.exp(x, out=out), (-80.0, 80.0)),
    "log": (lambda x, out: np.log(x, out=out), (1e-3, 1e3)),
    "log1p": (lambda x, out: np.log1p(x, out=out), (-0.9, 1e3)),
    "sin": (lambda x, out: np.sin(x, out=out), (-100.0, 100.0)),
    "cos": (lambda x, out: np.cos(x, out=out), (-100.0, 100.0)),
    "tanh": (lambda x, out: np.tanh(x, out=out), (-10.0, 10.0)),
    "sigmoid": (
        lambda x, out: np.divide(
            1.0, np.add(1.0, np.exp(np.negative(x, out=out), out=out), out=out), out=out
        ),
        (-20.0, 20.0),
    ),
    "sqrt": (lambda x, out: np.sqrt(x, out=out), (0.0, 1e3)),
    "erf": (None, (-4.0, 4.0)),  # numpy has no erf
    "pow": (lambda x, y, out: np.power(x, y, out=out), (1e-2, 1e2)),
}


def median_ms(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def main() -> None:
    rng = np.random.default_rng(0)
    print(
        f"{'function':10s} {'adjit ms':>9s} {'numpy ms':>9s} {'speedup':>8s}   (n={N:.0e}, float32)"
    )
    for name, (np_fn, (lo, hi)) in NUMPY.items():
        x = rng.uniform(lo, hi, N).astype(np.float32)
        args = [x] if name != "pow" else [x, rng.uniform(-4, 4, N).astype(np.float32)]
        emitter = vecmath.BINARY_MATH.get(name) or vecmath.MATH[name]
        kernel = compile_loop(emitter, np.float32, len(args))
        out = np.empty_like(x)
        ptrs = [out.ctypes.data] + [a.ctypes.data for a in args]
        ours = median_ms(lambda k=kernel, p=ptrs: k.cfunc(*p, N))
        if np_fn is None:
            print(f"{name:10s} {ours:9.1f} {'-':>9s} {'-':>8s}")
            continue
        theirs = median_ms(lambda f=np_fn, a=args, o=out: f(*a, out=o))
        print(f"{name:10s} {ours:9.1f} {theirs:9.1f} {theirs / ours:7.1f}x")


if __name__ == "__main__":
    main()
