"""W4: per-call latency of f = x**2 + y**2 + z**2 on scalars, with its gradient."""

from __future__ import annotations

from typing import Any

import numpy as np

from .contenders import adjit_compiled, autograd_step, standard
from .harness import BASELINE, Case, Setup, Step, Workload

SIZES: dict[str, list[Any]] = {"full": [None], "quick": [None], "tiny": [None]}
VALUES = (2.0, 3.0, 4.0)


def f(x: Any, y: Any, z: Any) -> Any:
    """W4 on adjit or PyTorch tensors and on JAX arrays alike."""
    return x**2 + y**2 + z**2


def numpy_w4(x: Any, y: Any, z: Any) -> tuple[Any, ...]:
    return x * x + y * y + z * z, 2 * x, 2 * y, 2 * z


def compile_backward(arrays: tuple[np.ndarray, ...]) -> Setup:
    """``adjit.compile(f)(...)`` then ``.backward()``: the compiled graph inside eager autograd."""

    def setup() -> Step:
        import adjit

        args = [adjit.tensor(a, requires_grad=True) for a in arrays]
        return autograd_step(adjit.compile(f), args, (0, 1, 2))

    return setup


def build(_: None) -> Case:
    arrays = tuple(np.array(v, np.float32) for v in VALUES)
    scalars = tuple(np.float32(v) for v in VALUES)
    usual = standard(f, lambda jax: f, lambda: numpy_w4(*scalars), arrays, (0, 1, 2))
    contenders = {BASELINE: adjit_compiled(f, arrays, (0, 1, 2))}
    contenders["adjit compile+backward"] = compile_backward(arrays)
    contenders.update((k, v) for k, v in usual.items() if k != BASELINE)
    reference = lambda: numpy_w4(*(np.float64(v) for v in VALUES))
    return Case("W4", "scalars", {}, contenders, reference)


WORKLOAD = Workload(
    "W4", "per call: f = x**2 + y**2 + z**2 on scalars and its gradient", SIZES, build
)
