"""W3: the loss and gradient of sum(log_softmax(X, -1) * T) with respect to X, float32."""

from __future__ import annotations

from typing import Any

import numpy as np

from .contenders import standard
from .harness import Case, Workload

SIZES = {"full": [(4096, 1024)], "quick": [(512, 1024)], "tiny": [(8, 16)]}


def loss(x: Any, t: Any) -> Any:
    return (x.log_softmax(-1) * t).sum()


def loss_jax(jax: Any) -> Any:
    return lambda x, t: (jax.nn.log_softmax(x, axis=-1) * t).sum()


def numpy_w3(x: np.ndarray, t: np.ndarray) -> tuple[Any, ...]:
    """Hand-written: a stable log-softmax, and its gradient T - softmax(X) * rowsum(T)."""
    z = x - x.max(-1, keepdims=True)
    e = np.exp(z)
    s = e.sum(-1, keepdims=True)
    value = ((z - np.log(s)) * t).sum()
    return value, t - (e / s) * t.sum(-1, keepdims=True)


def build(shape: tuple[int, int]) -> Case:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    t = rng.random(shape).astype(np.float32)
    return Case(
        "W3",
        "x".join(map(str, shape)),
        {"shape": list(shape)},
        standard(loss, loss_jax, lambda: numpy_w3(x, t), (x, t), (0,)),
        reference=lambda: numpy_w3(x.astype(np.float64), t.astype(np.float64)),
    )


WORKLOAD = Workload("W3", "gradient of sum(log_softmax(X) * T) with respect to X", SIZES, build)
