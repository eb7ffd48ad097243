"""W1: the loss and both gradients of sum(sin(x)*exp(y) + x**2*y - tanh(x*y)), float32."""

from __future__ import annotations

from typing import Any

import numpy as np

from .contenders import standard
from .harness import Case, Step, Workload

SIZES = {"full": [10**3, 10**5, 10**6, 10**7], "quick": [10**3, 10**5], "tiny": [256]}
FLOOR = "floor (4-stream)"


def loss(x: Any, y: Any) -> Any:
    """W1 on adjit or PyTorch tensors."""
    return (x.sin() * y.exp() + x**2 * y - (x * y).tanh()).sum()


def loss_jax(jax: Any) -> Any:
    jnp = jax.numpy
    return lambda x, y: jnp.sum(jnp.sin(x) * jnp.exp(y) + x**2 * y - jnp.tanh(x * y))


def numpy_w1(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Hand-written NumPy forward + backward (what a careful user would write)."""
    sx, ey, t = np.sin(x), np.exp(y), np.tanh(x * y)
    value = np.sum(sx * ey + x * x * y - t)
    dt = 1 - t * t
    return value, np.cos(x) * ey + 2 * x * y - dt * y, sx * ey + x * x - dt * x


def abs_terms(x: np.ndarray, y: np.ndarray) -> float:
    """The sum of the summands' magnitudes: what a float32 sum's rounding error scales with."""
    return float(np.abs(np.sin(x) * np.exp(y) + x * x * y - np.tanh(x * y)).sum())


def label(n: int) -> str:
    """``N=1e6`` for a power of ten, else ``N=256``."""
    k = len(str(n)) - 1
    return f"N=1e{k}" if n == 10**k and k > 2 else f"N={n}"


def inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)


def bandwidth_floor(n: int) -> Any:
    """A fused kernel moving W1's bytes (read x and y, write two arrays): the memory floor."""

    def setup() -> Step:
        from adjit.ir.aval import Aval
        from adjit.ir.dtypes import float32
        from adjit.ir.graph import Eqn, Graph, Var
        from adjit.ir.ops import Op
        from adjit.runtime.executor import compile_program

        x, y, a, b = (Var(Aval((n,), float32)) for _ in range(4))
        eqns = (Eqn(Op.ADD, (x, y), {}, a), Eqn(Op.SUB, (x, y), {}, b))
        run = compile_program(Graph((x, y), eqns, (a, b)))
        xs, ys = inputs(n)
        for got, want in zip(run([xs, ys]), (xs + ys, xs - ys), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6, err_msg="the floor kernel is wrong")
        return lambda: tuple(run([xs, ys]))

    return setup


def build(n: int) -> Case:
    x, y = inputs(n)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    return Case(
        "W1",
        label(n),
        {"n": n},
        standard(loss, loss_jax, lambda: numpy_w1(x, y), (x, y), (0, 1)),
        reference=lambda: numpy_w1(x64, y64),
        scales={0: abs_terms(x64, y64)},
        floors={FLOOR: bandwidth_floor(n)},
    )


WORKLOAD = Workload(
    "W1", "loss and both gradients of sum(sin(x)*exp(y) + x**2*y - tanh(x*y))", SIZES, build
)
