"""W5: layer-norm-like y = (x - mean) / sqrt(var + eps) * w + b; gradients of sum(y * T)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .contenders import standard
from .harness import Case, Workload

SIZES = {"full": [(8192, 512)], "quick": [(1024, 512)], "tiny": [(16, 8)]}
EPS = 1e-5


def loss(x: Any, w: Any, b: Any, t: Any) -> Any:
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    return (((x - mean) / (var + EPS).sqrt() * w + b) * t).sum()


def loss_jax(jax: Any) -> Any:
    jnp = jax.numpy

    def f(x: Any, w: Any, b: Any, t: Any) -> Any:
        mean, var = x.mean(-1, keepdims=True), jnp.var(x, -1, keepdims=True)
        return (((x - mean) / jnp.sqrt(var + EPS) * w + b) * t).sum()

    return f


def normalized(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x - mean) / sqrt(var + eps) over the last axis, and 1 / sqrt(var + eps)."""
    xc = x - x.mean(-1, keepdims=True)
    rstd = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + EPS)
    return xc * rstd, rstd


def numpy_w5(x: np.ndarray, w: np.ndarray, b: np.ndarray, t: np.ndarray) -> tuple[Any, ...]:
    """Hand-written forward and the usual layer-norm backward."""
    xhat, rstd = normalized(x)
    value = ((xhat * w + b) * t).sum()
    dxhat = t * w
    proj = (dxhat * xhat).mean(-1, keepdims=True)
    dx = rstd * (dxhat - dxhat.mean(-1, keepdims=True) - xhat * proj)
    return value, dx, (t * xhat).sum(0), t.sum(0)


def build(shape: tuple[int, int]) -> Case:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w, b = (rng.standard_normal(shape[1]).astype(np.float32) for _ in range(2))
    t = rng.standard_normal(shape).astype(np.float32)
    arrays = (x, w, b, t)
    a64 = tuple(a.astype(np.float64) for a in arrays)
    xhat, _ = normalized(a64[0])
    return Case(
        "W5",
        "x".join(map(str, shape)),
        {"shape": list(shape)},
        standard(loss, loss_jax, lambda: numpy_w5(*arrays), arrays, (0, 1, 2)),
        reference=lambda: numpy_w5(*a64),
        scales={0: float(np.abs((xhat * a64[1] + a64[2]) * a64[3]).sum())},
    )


WORKLOAD = Workload("W5", "layer-norm-like: gradients of sum(y * T) wrt x, w, b", SIZES, build)
