"""``adjit demo``: the tutorials eagerly, then the compiler end to end on a small model."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import adjit


def _median_seconds(fn: Callable[[], Any], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def tutorials() -> None:
    from adjit.tutorials import EXAMPLES

    for name, example in EXAMPLES.items():
        title = (example.__doc__ or name).strip().splitlines()[0]
        print(f"== {name}: {title}")
        example(adjit)
        print()


def logistic_loss(w: adjit.Tensor, x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
    return ((x @ w).sigmoid() - y).pow(2).mean()


def w1(x: adjit.Tensor, y: adjit.Tensor) -> adjit.Tensor:
    return (x.sin() * y.exp() + x**2 * y - (x * y).tanh()).sum()


def compiler() -> None:
    adjit.manual_seed(0)
    w = adjit.randn(8, 1, requires_grad=True)
    x, y = adjit.randn(64, 8), adjit.rand(64, 1)
    loss = adjit.compile(logistic_loss)
    ex = adjit.explain(loss, w, x, y)
    print("== the program as the compiler sees it (graph IR)")
    print(ex.graph)
    print("\n== its gradient, built at compile time and optimized (backward graph)")
    print(ex.backward)
    print(
        f"\nsaved for backward: {ex.saved.bytes} bytes; recomputed instead: "
        f"{', '.join(ex.recomputed) or 'nothing'}"
    )
    if ex.kernels:
        print("\n== fused LLVM kernels (each one loop; see .llvm_ir and .asm)")
        for program, k in ex.kernels:
            print(f"{program}/{k.name}: {len(k.eqns)} ops over {list(k.shape)}: {k.formula}")
    print("\n== compiled vs eager vs float64 finite differences")
    adjit.testing.assert_grads_match(logistic_loss, w.detach(), x, y)
    print("gradients match (adjit.testing.assert_grads_match)")
    print("\n== speed: loss and gradients of W1 = sum(sin(x)*exp(y) + x**2*y - tanh(x*y))")
    n = 1_000_000
    xs, ys = adjit.randn(n, requires_grad=True), adjit.randn(n, requires_grad=True)
    vg = adjit.value_and_grad(w1, argnums=(0, 1))

    def eager() -> None:
        xs.grad = ys.grad = None
        w1(xs, ys).backward()

    def compiled() -> None:
        vg(xs.detach(), ys.detach())

    compiled()  # compile once
    t_eager, t_comp = _median_seconds(eager), _median_seconds(compiled)
    print(
        f"N = {n}: eager {t_eager * 1e3:.1f} ms, compiled {t_comp * 1e3:.1f} ms "
        f"({t_eager / t_comp:.1f}x faster; backend: {adjit.compile(w1).backend})"
    )


def run() -> None:
    tutorials()
    compiler()
