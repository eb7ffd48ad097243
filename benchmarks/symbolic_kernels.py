"""Kernels compiled once for every size vs compiled per size: call time and cost of a new size.

Run: ``python -m adjit.benchmarks.symbolic_kernels [--repeat 5] [--cache]``.
Programs (Note [one compile, many sizes] in runtime/symbolic.py): an elementwise chain
``tanh(exp(x*y - 1) + x)`` over ``s0`` elements; a reduction ``sum(sin(x), 1)`` and a total over
``[s0, 64]``; an MLP's (64 -> 128 -> 10, cross-entropy) inference graph and the forward and
backward of its training step, as ``adjit.compile`` traces them once the batch size changed
(the default policy: the batch dim is the one symbol).
For each program and size: the per-call time of the static program (``compile_program`` on the
graph at that size: constant extents) and of the symbolic one (``compile_program`` once on the
symbolic graph, then ``.at(sizes)``), as the best of ``--repeat`` rounds (static and symbolic
alternate within a round); and what a new size costs: ``instantiate + compile_program`` (before:
every kernel lowered and compiled by LLVM again) vs ``instantiate + at`` (after: no LLVM work).
Last, an MLP train step called at 20 batch sizes through ``adjit.compile`` (default policy:
2 traces), its instances compiled per size (before) or made by ``at`` (after, wired into
``Entry.runner`` by ``_wire`` as the frontend's integration does): the first call of a new
size, and per-call times. The disk cache is off (``ADJIT_CACHE_DIR=off``) unless ``--cache``:
compile times are cold.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _timeit(fn: Callable[[], Any], budget: float = 0.05) -> float:
    """Seconds per call: mean over as many calls as fit in ``budget``."""
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        t = time.perf_counter() - t0
        if t >= budget:
            return t / n


def chain() -> tuple[Any, list[Any], Callable[[int], list[tuple[int, ...]]]]:
    from adjit.ir.aval import Aval
    from adjit.ir.dtypes import float32
    from adjit.ir.graph import Eqn, Graph, Lit, Var
    from adjit.ir.ops import Op
    from adjit.ir.symbolic_shapes import ShapeEnv

    env = ShapeEnv()
    s0 = env.create(1000, "n")
    env.freeze()

    def v(*shape: Any) -> Var:
        return Var(Aval(tuple(shape), float32))

    x, y, t, u, e, a, w = (v(s0) for _ in range(7))
    one = Lit(1.0, Aval((), float32, weak=True))
    eqns = (
        Eqn(Op.MUL, (x, y), {}, t),
        Eqn(Op.SUB, (t, one), {}, u),
        Eqn(Op.EXP, (u,), {}, e),
        Eqn(Op.ADD, (e, x), {}, a),
        Eqn(Op.TANH, (a,), {}, w),
    )
    return Graph((x, y), eqns, (w,)), [s0.expr], lambda n: [(n,), (n,)]


def reduction() -> tuple[Any, list[Any], Callable[[int], list[tuple[int, ...]]]]:
    from adjit.ir.aval import Aval
    from adjit.ir.dtypes import float32
    from adjit.ir.graph import Eqn, Graph, Var
    from adjit.ir.ops import Op
    from adjit.ir.symbolic_shapes import ShapeEnv

    env = ShapeEnv()
    s0 = env.create(100, "rows")
    env.freeze()
    x, e = Var(Aval((s0, 64), float32)), Var(Aval((s0, 64), float32))
    r, total = Var(Aval((s0,), float32)), Var(Aval((), float32))
    eqns = (
        Eqn(Op.SIN, (x,), {}, e),
        Eqn(Op.SUM, (e,), {"axes": (1,), "keepdim": False}, r),
        Eqn(Op.SUM, (r,), {"axes": None, "keepdim": False}, total),
    )
    return Graph((x,), eqns, (r, total)), [s0.expr], lambda n: [(n, 64)]


def mlp() -> list[tuple[str, Any, list[Any], Callable[[int], list[tuple[int, ...]]]]]:
    import adjit

    adjit.manual_seed(0)
    w1, b1 = adjit.randn(64, 128, requires_grad=True), adjit.randn(128, requires_grad=True)
    w2 = adjit.randn(128, 10, requires_grad=True)

    def f(x: Any, y: Any, w1: Any, b1: Any, w2: Any) -> Any:
        out = (x @ w1 + b1).relu() @ w2
        return adjit.nn.functional.cross_entropy(out, y)

    cf = adjit.compile(f)  # the default policy: the batch dim becomes symbolic when it changes
    cf(adjit.randn(8, 64), adjit.randint(0, 10, (8,)), w1, b1, w2)
    cf(adjit.randn(9, 64), adjit.randint(0, 10, (9,)), w1, b1, w2)
    t = cf._templates[0]
    split = t.training((2, 3, 4)).split
    where, symbols = t.symbolic.where, t.symbolic.symbols

    def leaves(n: int) -> list[tuple[int, ...]]:
        return [(n, 64), (n,), (64, 128), (128,), (128, 10)]

    def values(n: int) -> dict[Any, int]:
        ls = leaves(n)
        return {s: ls[i][d] for s, (i, d) in zip(symbols, where, strict=True)}

    graphs = [("mlp inference", t.inference()), ("mlp forward", split.forward),
              ("mlp backward", split.backward)]  # fmt: skip
    return [(name, g, symbols, values) for name, g in graphs]  # type: ignore[misc]


def _arrays(g: Any, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for v in g.inputs:
        if v.aval.dtype.np == np.int64:
            out.append(rng.integers(0, 10, v.aval.shape))
        else:
            out.append(rng.standard_normal(v.aval.shape).astype(v.aval.dtype.np))
    return out


def measure(name: str, g: Any, values: Callable[[int], dict[Any, int]], sizes: list[int],
            repeat: int) -> list[dict[str, Any]]:  # fmt: skip
    from adjit.codegen.cache_store import STATS
    from adjit.ir.instantiate import Instantiator
    from adjit.runtime.executor import compile_program

    t0 = time.perf_counter()
    c0 = STATS["compiles"]
    sx = compile_program(g)
    once = time.perf_counter() - t0
    n_kernels = STATS["compiles"] - c0
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        t0 = time.perf_counter()
        inst = Instantiator(values(n))
        ex = sx.at(inst)
        new_after = time.perf_counter() - t0
        c1 = STATS["compiles"]
        t0 = time.perf_counter()
        static = compile_program(Instantiator(values(n)).graph(g))
        new_before = time.perf_counter() - t0
        static_compiles = STATS["compiles"] - c1
        arrays = _arrays(ex.graph, rng)
        best_s, best_d = float("inf"), float("inf")
        for _ in range(repeat):
            best_s = min(best_s, _timeit(lambda: static(arrays)))  # noqa: B023
            best_d = min(best_d, _timeit(lambda: ex(arrays)))  # noqa: B023
        rows.append({
            "program": name, "size": n, "static_us": best_s * 1e6, "symbolic_us": best_d * 1e6,
            "new_size_before_ms": new_before * 1e3, "new_size_after_ms": new_after * 1e3,
            "static_compiles": static_compiles, "symbolic_compile_ms": once * 1e3,
            "symbolic_compiles": n_kernels,
        })  # fmt: skip
    return rows


_FLAG = [False]  # instances through ``at`` while set (``_wire``)


def _wire() -> None:
    """Route instances of symbolic entries through ``SymbolicExecutable.at`` while ``_FLAG[0]``
    (what the frontend's ``Entry.runner`` does once integrated); once per process."""
    from adjit.frontend import compile as C

    orig = C.Entry.runner
    if getattr(orig, "wired", False):
        return

    def templates(t: Any) -> Any:
        for k, p in list(t.plans.items()):
            if k == "inference":
                yield p
            elif isinstance(k, tuple) and k and k[0] not in ("runner", "node"):
                yield from (p.split.forward, p.split.backward)

    def runner(self: Any, graph: Any, public: int | None = None) -> Any:
        if not _FLAG[0] or self.template is None or self.backend != "llvm":
            return orig(self, graph, public)
        key = ("runner", id(graph))
        run = self.plans.get(key)
        if run is None:
            tg = next(g for g in templates(self.template) if self.inst.graphs.get(id(g)) is graph)
            run = self.plans[key] = self.template.runner(tg, public).at(self.inst)
        return run

    runner.wired = True  # type: ignore[attr-defined]
    C.Entry.runner = runner


def train_step(repeat: int, dynamic: bool | None) -> None:
    """An MLP train step (64 -> 128 -> 10, cross-entropy, forward + backward) over 20 batch
    sizes (``dynamic``: the compile policy): per-size compiled (before) vs compiled once
    (after)."""
    import adjit

    _wire()
    adjit.manual_seed(0)
    model = adjit.nn.Sequential(adjit.nn.Linear(64, 128), adjit.nn.ReLU(), adjit.nn.Linear(128, 10))

    def make() -> Any:
        return adjit.compile(
            lambda x, y: adjit.nn.functional.cross_entropy(model(x), y), dynamic=dynamic
        )

    sizes = [64, *range(63, 45, -1), 17]
    data = {n: (adjit.randn(n, 64), adjit.randint(0, 10, (n,))) for n in sizes}
    steps = {}
    policy = {None: "the default policy", True: "dynamic=True"}[dynamic]
    print(f"\nMLP train step over 20 batch sizes, {policy} (first call of each size):")
    for mode in ("before", "after"):
        _FLAG[0] = mode == "after"
        step = steps[mode] = make()
        firsts = []
        for n in sizes:
            t0 = time.perf_counter()
            step(*data[n]).backward()
            firsts.append(time.perf_counter() - t0)
        print(
            f"  {mode:<7} traces {step.trace_count}, a new size (median of the last 18) "
            f"{np.median(firsts[2:]) * 1e3:.1f} ms, all 20 sizes {sum(firsts) * 1e3:.0f} ms"
        )
    print("per call (best of rounds, static and symbolic alternating):")
    for n in (64, 55, 17):
        best = dict.fromkeys(steps, float("inf"))
        for _ in range(repeat):
            for m, step in steps.items():
                best[m] = min(best[m], _timeit(lambda s=step: s(*data[n]).backward()))  # noqa: B023
        print(
            f"  batch {n:>3}: static {best['before'] * 1e6:.0f} us, symbolic "
            f"{best['after'] * 1e6:.0f} us, ratio {best['after'] / best['before']:.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--cache", action="store_true", help="keep the disk cache (warm compiles)")
    args = p.parse_args(argv)
    if not args.cache:
        os.environ["ADJIT_CACHE_DIR"] = "off"
    rows = []
    g, _, _ = chain()
    sym = g.inputs[0].aval.shape[0].expr
    rows += measure("chain", g, lambda n: {sym: n}, [1000, 100_000, 1_000_000], args.repeat)
    g, _, _ = reduction()
    sym = g.inputs[0].aval.shape[0].expr
    rows += measure("sum rows+total", g, lambda n: {sym: n}, [16, 1563, 15625], args.repeat)
    for name, g, _, values in mlp():
        rows += measure(name, g, values, [32, 256, 4096], args.repeat)
    head = (f"{'program':<16}{'size':>9}{'static us':>11}{'symbolic us':>13}{'ratio':>7}"
            f"{'new size: before ms':>21}{'after ms':>10}")  # fmt: skip
    print(head)
    for r in rows:
        print(
            f"{r['program']:<16}{r['size']:>9}{r['static_us']:>11.1f}{r['symbolic_us']:>13.1f}"
            f"{r['symbolic_us'] / r['static_us']:>7.2f}{r['new_size_before_ms']:>21.1f}"
            f"{r['new_size_after_ms']:>10.2f}"
        )
    seen: set[str] = set()
    print("\none symbolic compile per program (ms, LLVM compiles):")
    for r in rows:
        if r["program"] not in seen:
            seen.add(r["program"])
            print(f"  {r['program']:<16}{r['symbolic_compile_ms']:>9.0f}{r['symbolic_compiles']:>4}"
                  f"   (static: {r['static_compiles']} compiles per new size)")  # fmt: skip
    train_step(args.repeat, None)
    train_step(args.repeat, True)


if __name__ == "__main__":
    main()
