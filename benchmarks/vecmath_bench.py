"""Each vecmath function vs numpy: serial ns/element (L2-resident and 1e7) and max ulp error."""

from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from adjit.codegen.jit import compile_ir
from adjit.codegen.lower import lower_kernel
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32, float64
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.ops import Op
from adjit.passes.fusion import Kernel, fuse

# name -> (op, numpy function writing into out (None: numpy has none), input range)
FUNCTIONS: dict[str, tuple[Op, Callable[..., Any] | None, tuple[float, float]]] = {
    "exp": (Op.EXP, np.exp, (-80.0, 80.0)),
    "log": (Op.LOG, np.log, (1e-3, 1e3)),
    "log1p": (Op.LOG1P, np.log1p, (-0.9, 1e3)),
    "sin": (Op.SIN, np.sin, (-100.0, 100.0)),
    "cos": (Op.COS, np.cos, (-100.0, 100.0)),
    "tanh": (Op.TANH, np.tanh, (-10.0, 10.0)),
    "sigmoid": (Op.SIGMOID, None, (-20.0, 20.0)),
    "erf": (Op.ERF, None, (-4.0, 4.0)),
    "sqrt": (Op.SQRT, np.sqrt, (0.0, 1e3)),
    "pow": (Op.POW, np.power, (1e-2, 1e2)),
}
POW_Y = (-4.0, 4.0)
DTYPES = {"float32": float32, "float64": float64}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def reference(name: str, args: list[np.ndarray]) -> np.ndarray:
    """float64 (for float32) or long double (for float64) evaluation, rounded once."""
    wide = [a.astype(np.float64 if a.dtype == np.float32 else np.longdouble) for a in args]
    if name == "erf":
        wide = [a.astype(np.float64) for a in wide]  # math.erf is double only
        return np.vectorize(__import__("math").erf)(wide[0]).astype(args[0].dtype)
    fn = _sigmoid if name == "sigmoid" else FUNCTIONS[name][1]
    assert fn is not None
    with np.errstate(all="ignore"):
        return np.asarray(fn(*wide)).astype(args[0].dtype)


def ulp_distance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Ulps between two arrays of one float type (0 where both are NaN)."""
    ity = {4: np.int32, 8: np.int64}[got.dtype.itemsize]

    def ordered(a: np.ndarray) -> np.ndarray:
        bits = a.view(ity).astype(np.int64)
        return np.where(bits < 0, np.iinfo(ity).min - bits, bits)

    d = np.abs(ordered(got) - ordered(want))
    return np.where(np.isnan(got) & np.isnan(want), 0, d)


class Compiled:
    """One function as a production kernel (lowered + JIT-compiled), called serially."""

    def __init__(self, name: str, dtype: Any, n: int) -> None:
        op = FUNCTIONS[name][0]
        ins = [Var(Aval((n,), dtype)) for _ in range(2 if name == "pow" else 1)]
        out = Var(Aval((n,), dtype))
        (k,) = [s for s in fuse(Graph(tuple(ins), (Eqn(op, tuple(ins), {}, out),), (out,))).steps]
        assert isinstance(k, Kernel)
        low = lower_kernel(k)
        self.code = compile_ir(low.ir, f"bench_{name}", low.name)  # keeps the code alive
        proto = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * (1 + len(ins)), *[ctypes.c_int64] * 2)
        self.fn, self.n = proto(self.code.address), n

    def __call__(self, out: np.ndarray, *args: np.ndarray) -> None:
        self.fn(out.ctypes.data, *(a.ctypes.data for a in args), 0, self.n)


def median_ns(fns: list[Callable[[], object]], n: int, repeats: int) -> list[float]:
    """Interleaved runs, median ns per element of each."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for t, f in zip(times, fns, strict=True):
            start = time.perf_counter()
            f()
            t.append(time.perf_counter() - start)
    return [1e9 * statistics.median(t) / n for t in times]


def row(name: str, dtype_name: str, n: int, repeats: int) -> str:
    dtype = DTYPES[dtype_name]
    rng = np.random.default_rng(0)
    lo, hi = FUNCTIONS[name][2]
    args = [rng.uniform(lo, hi, n).astype(dtype.np)]
    if name == "pow":
        args.append(rng.uniform(*POW_Y, n).astype(dtype.np))
    kernel, np_fn = Compiled(name, dtype, n), FUNCTIONS[name][1]
    out, out_np = np.empty_like(args[0]), np.empty_like(args[0])
    fns: list[Callable[[], object]] = [lambda: kernel(out, *args)]
    if np_fn is not None:
        fns.append(lambda: np_fn(*args, out=out_np))
    ns = median_ns(fns, n, repeats)
    ulp = int(ulp_distance(out, reference(name, args)).max())
    theirs = f"{ns[1]:9.3f} {ns[1] / ns[0]:7.2f}x" if len(ns) > 1 else f"{'-':>9} {'-':>8}"
    return f"{name:8s} {dtype_name:8s} {ns[0]:9.3f} {theirs} {ulp:8d}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=float, default=65536, help="elements (65536: data stays in L2)")
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("functions", nargs="*", default=list(FUNCTIONS))
    args = ap.parse_args()
    n = int(args.n)
    print(f"serial, n={n}; ns/element (median of {args.repeats} interleaved runs)")
    print(f"{'function':8s} {'dtype':8s} {'adjit':>9} {'numpy':>9} {'speedup':>8} {'max ulp':>8}")
    for name in args.functions:
        for dtype_name in args.dtypes.split(","):
            print(row(name, dtype_name, n, args.repeats), flush=True)


if __name__ == "__main__":
    main()
