"""The fused in-place updates optimizers use (``lerp_``, ``addcmul_``, ``addcdiv_``), composed."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.runtime.tensor import Tensor


def lerp_(t: Tensor, end: Tensor, weight: float) -> Tensor:
    """``t + weight * (end - t)``, evaluated the way PyTorch's CPU kernel does for each weight."""
    if abs(weight) < 0.5:
        return t.add_((end - t) * weight)
    return t.copy_(end - (end - t) * (1 - weight))


def addcmul_(t: Tensor, t1: Tensor, t2: Tensor, value: float = 1.0) -> Tensor:
    """``t + value * t1 * t2`` (PyTorch multiplies the scalar in first)."""
    return t.add_(t1 * value * t2 if value != 1.0 else t1 * t2)


def addcdiv_(t: Tensor, t1: Tensor, t2: Tensor, value: float = 1.0) -> Tensor:
    """``t + value * t1 / t2`` (PyTorch multiplies the scalar in first)."""
    return t.add_(t1 * value / t2 if value != 1.0 else t1 / t2)


def zeros_state(state: dict[str, Any], p: Tensor, *names: str) -> None:
    """First-step state: a float32 ``step`` counter and zero buffers shaped like ``p``."""
    state["step"] = Tensor._make(np.zeros((), np.float32))
    for name in names:
        state[name] = Tensor._make(np.zeros_like(p._data))


def scaled(x: np.ndarray, alpha: float) -> np.ndarray:
    """``alpha * x`` as eager ``mul`` computes it (``alpha`` rounded to ``x``'s dtype first)."""
    return x if alpha == 1 else np.multiply(x, alpha)


def axpy_(t: Tensor, x: np.ndarray, alpha: float) -> None:
    """``t.add_(x, alpha=alpha)`` on the arrays, in place (Note [in-place updates] in sgd)."""
    np.add(t._data, scaled(x, alpha), out=t._data)
    t._version_box[0] += 1


def scale_(t: Tensor, alpha: float) -> None:
    """``t.mul_(alpha)`` on the array, in place."""
    np.multiply(t._data, alpha, out=t._data)
    t._version_box[0] += 1


def lerp_arrays_(t: Tensor, end: np.ndarray, weight: float) -> None:
    """:func:`lerp_` on the arrays, in place, with the same two formulas."""
    d = end - t._data
    if abs(weight) < 0.5:
        np.add(t._data, np.multiply(d, weight, out=d), out=t._data)
    else:
        np.subtract(end, np.multiply(d, 1 - weight, out=d), out=t._data)
    t._version_box[0] += 1
