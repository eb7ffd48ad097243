"""``F.layer_norm`` on plain float tensors as NumPy array code, its backward PyTorch's formula
(Note [eager layer norm])."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adjit.runtime import forward_grad, saved_hooks
from adjit.runtime import functional as R
from adjit.runtime.array_vjp import REAL_FLOATS, array_sum, quiet_enter, quiet_exit
from adjit.runtime.autograd import ArrayNode, SavedTensor, gradient_edge, node_class
from adjit.runtime.eager_linear import plain
from adjit.runtime.grad_mode import _state as _grad_state
from adjit.runtime.tensor import Tensor, eager_tensor
from adjit.runtime.trace_state import _local as _trace_local

# Note [eager layer norm]
# ``F.layer_norm`` is a composite of two means (each a composite itself), a reciprocal square
# root (another) and the affine ops: eagerly ~25 dispatched ops and three nested backwards. A
# LayerNorm(256) on (32, 64, 256) took 15.5 ms forward and backward against PyTorch's 2.2. For
# float32 / float64 tensors (and parameters of their dtype and the normalized shape) outside
# a trace, without tangents or saved-tensor hooks, ``layer_norm`` below makes the
# decomposition's NumPy calls for the value (its mean as SUM / count, ``1.0 / sqrt(var +
# eps)``: bit for bit the composite's) and one NativeLayerNormBackward0 node with PyTorch's
# edges (input, weight, bias; (None, 0) where none) that saves the input, the mean and the
# reciprocal deviation, as PyTorch's does. Its backward is PyTorch's formula
# (native_layer_norm_backward), with x^ = (x - mean) * rstd and g' = g * weight:
#     dx = rstd * (g' - mean(g') - x^ * mean(g' * x^)),  dw = sum(g * x^),  db = sum(g)
# (means over the normalized dims, sums over the others): as arrays outside create_graph,
# else in differentiable ops recomputing the mean and deviation from the input (so second
# derivatives see them depend on it). Its gradients round as PyTorch's formula does, not as
# the decomposition's adjoint (which compiled programs, tracing the composite, still take).


def _mean(a: np.ndarray, axes: tuple[int, ...], count: int) -> np.ndarray:
    """``R.mean(a, axes, keepdim=True)``'s value: SUM, then the lean division by the count."""
    return np.asarray(np.true_divide(array_sum(a, axes, True), a.dtype.type(count)))


def layer_norm(x: Any, n: int, w: Any, b: Any, eps: float) -> Tensor | None:
    """``F.layer_norm`` by array code (Note [eager layer norm]), or None for the composite."""
    if _trace_local.trace is not None or forward_grad.ACTIVE or saved_hooks.current():
        return None
    if not plain(x) or any(p is not None and not plain(p) for p in (w, b)):
        return None
    a = x._data
    dt, shape = a.dtype, a.shape[a.ndim - n :]
    if dt not in REAL_FLOATS or not a.size or not n:
        return None
    if any(p is not None and (p._data.dtype != dt or p._data.shape != shape) for p in (w, b)):
        return None
    axes = tuple(range(a.ndim - n, a.ndim))
    count = math.prod(shape)
    tok = quiet_enter()
    try:  # _layer_norm's calls: d = x - mean(x); d * (1.0 / sqrt(mean(d * d) + eps)) * w + b
        mu = _mean(a, axes, count)
        d = np.subtract(a, mu)
        var = _mean(np.multiply(d, d), axes, count)
        rstd = np.asarray(np.true_divide(dt.type(1.0), np.sqrt(np.add(var, dt.type(eps)))))
        y = np.multiply(d, rstd)
        if w is not None:
            y = np.multiply(y, w._data)
        if b is not None:
            y = np.add(y, b._data)
    finally:
        quiet_exit(tok)
    out = eager_tensor(y)
    if _grad_state.enabled and any(t is not None and t.requires_grad for t in (x, w, b)):
        out._grad_fn = node_class("NativeLayerNormBackward0", LayerNormNode)(
            x, w, b, mu, rstd, axes, eps
        )
    return out


class LayerNormNode(ArrayNode):
    """``F.layer_norm``'s grad_fn (Note [eager layer norm]): edges input, weight, bias."""

    def __init__(self, x: Tensor, w: Tensor | None, b: Tensor | None, mu: np.ndarray,
                 rstd: np.ndarray, axes: tuple[int, ...], eps: float) -> None:  # fmt: skip
        super().__init__()
        self._edges = tuple(
            gradient_edge(t) if t is not None and t.requires_grad else (None, 0) for t in (x, w, b)
        )
        self._axes, self._eps = axes, eps
        self._lead = tuple(range(x.ndim - len(axes)))
        keep_w = w is not None and self._edges[0][0] is not None
        self._saved: tuple[Any, ...] | None = (
            SavedTensor(x, False),
            SavedTensor(w, False) if keep_w else None,
            mu,
            rstd,
        )

    def _array_apply(self, g: np.ndarray) -> list[Any] | None:
        saved = self._saved
        if saved is None or g.dtype not in REAL_FLOATS:
            return None
        arrays = self._arrays(saved[:2], g.dtype)
        if arrays is None:
            return None
        x, w = arrays
        mu, rstd = saved[2:]
        axes, lead = self._axes, self._lead
        count = math.prod(x.shape[i] for i in axes)
        xhat = np.multiply(np.subtract(x, mu), rstd)
        grads: list[Any] = [None, None, None]
        if self._edges[0][0] is not None:
            gw = np.multiply(g, w) if w is not None else g
            mean_g = _mean(gw, axes, count)
            mean_gx = _mean(np.multiply(gw, xhat), axes, count)
            inner = np.subtract(np.subtract(gw, mean_g), np.multiply(xhat, mean_gx))
            grads[0] = np.multiply(rstd, inner)
        if self._edges[1][0] is not None:
            grads[1] = array_sum(np.multiply(g, xhat), lead, False)
        if self._edges[2][0] is not None:
            grads[2] = array_sum(g, lead, False)
        return grads

    def _general(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        sx, sw = self._saved[:2]
        x = sx.unpack(self)
        w = sw.unpack(self) if sw is not None else None
        axes, lead = self._axes, self._lead
        d = x - R.mean(x, axes, keepdim=True)  # (recomputed: differentiable in x)
        rstd = R.rsqrt(R.mean(d * d, axes, keepdim=True) + self._eps)
        xhat = d * rstd
        grads: list[Tensor | None] = [None, None, None]
        if self._edges[0][0] is not None:
            gw = grad * w if w is not None else grad
            mean_g = R.mean(gw, axes, keepdim=True)
            mean_gx = R.mean(gw * xhat, axes, keepdim=True)
            grads[0] = rstd * (gw - mean_g - xhat * mean_gx)
        if self._edges[1][0] is not None:
            grads[1] = R.sum(grad * xhat, lead) if lead else grad * xhat
        if self._edges[2][0] is not None:
            grads[2] = R.sum(grad, lead) if lead else grad
        return grads
