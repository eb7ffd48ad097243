"""``F.linear`` on plain float tensors as NumPy array code, forward and backward (Note [eager
linear])."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.derivatives import DERIVATIVES, conform
from ..ir.ops import Op
from . import forward_grad
from .array_vjp import REAL_FLOATS, array_sum, quiet_enter, quiet_exit
from .autograd import ArrayNode, Node, SavedTensor, gradient_edge, node_class
from .dispatch import _node_class
from .grad_mode import _state as _grad_state
from .tensor import Tensor, eager_tensor
from .trace_state import _local as _trace_local

# Note [eager linear]
# ``F.linear`` is the composite ``matmul(x, t(w)) + b``: eagerly, its forward made the
# decomposition's three nodes on detached aliases plus the composite's node, and its backward
# ran a nested backward through them, the product's rule through the traced-op dispatch.
# An nn.Linear(64, 128) on a (32, 64) batch took 110 µs forward and 400-450 backward (PyTorch
# 34 and 81), and an eager MLP train step (Linear 64-128, ReLU, Linear 128-10, cross entropy,
# SGD, batch 32) 2.76 ms against PyTorch's 0.38. For float32 / float64 tensors outside a trace
# and without forward-mode tangents, ``linear`` below computes the same NumPy calls the
# decomposition makes (``np.matmul(x, w.T)``, then ``np.add`` of the bias) and records one
# node shaped as PyTorch's AddmmBackward0 (MmBackward0 without a bias): its edges are the
# bias's, the input's and a TBackward0 node's (``w.t()``, whose own edge is the weight's), each
# (None, 0) where no gradient flows. Its backward, outside create_graph and with its saved
# tensors unhooked and unchanged, is array code making the same NumPy calls as the
# decomposition's nodes (the product's rule: ``g @ w``, ``x.mT @ g`` summed over the batch's
# leading dims as ``conform`` sums, the bias's gradient summed as ``conform`` sums), so the
# gradients are bit for bit the composite's; otherwise it runs the product's and the sum's
# rules (ir/derivatives.py) on Tensors, differentiable under create_graph. It saves what the
# product's node saved: the input when the weight needs a gradient, ``w.t()`` when the input
# does (a saved-tensor hook packs those).


def plain(t: Any) -> bool:
    """Whether ``t`` is an eager tensor an array path takes (not a number, tracer, sparse
    tensor or stale view)."""
    if not isinstance(t, Tensor) or t._weak or t._is_tracer or t._sparse:
        return False
    base = t._view_base
    return base is None or base._rewrites == t._rewrites_seen


def linear(x: Any, w: Any, b: Any, name: str) -> Tensor | None:
    """``F.linear(x, w, b)`` by array code (Note [eager linear]), or None for the general
    path (a trace, tangents, another dtype or shape, a shape error to report)."""
    if _trace_local.trace is not None or forward_grad.ACTIVE:
        return None
    if not (plain(x) and plain(w) and (b is None or plain(b))):
        return None
    xa, wa = x._data, w._data
    dt = xa.dtype
    if dt not in REAL_FLOATS or wa.dtype != dt or xa.ndim < 2 or wa.ndim != 2:
        return None
    if xa.shape[-1] != wa.shape[1]:
        return None
    if b is not None and (b._data.dtype != dt or b._data.shape != wa.shape[:1]):
        return None
    tok = quiet_enter()
    try:
        data = np.matmul(xa, wa.T)
        if b is not None:
            data = np.add(data, b._data)
    finally:
        quiet_exit(tok)
    out = eager_tensor(data)
    if _grad_state.enabled and (
        x.requires_grad or w.requires_grad or (b is not None and b.requires_grad)
    ):
        out._grad_fn = node_class(name, LinearNode)(x, w, b)
    return out


def _t_node(w: Tensor, wt: Tensor) -> Node:
    """The TBackward0 node of ``wt``, ``w.t()`` (its edge the weight's)."""
    node = _node_class("TBackward0")(Op.PERMUTE, {"axes": (1, 0)}, [w], wt, (gradient_edge(w),))
    wt._grad_fn = node
    return node


class LinearNode(ArrayNode):
    """``F.linear``'s grad_fn (Note [eager linear]): edges (bias,) input, ``w.t()``."""

    def __init__(self, x: Tensor, w: Tensor, b: Tensor | None) -> None:
        super().__init__()
        need_x, need_w = x.requires_grad, w.requires_grad
        # (a view of the weight: an in-place change of it is seen)
        wt = Tensor._make(w._data.T, version_box=w._version_box)
        t_edge = _t_node(w, wt) if need_w else None
        edges = [gradient_edge(x) if need_x else (None, 0), (t_edge, 0)]
        if b is not None:
            edges.insert(0, gradient_edge(b) if b.requires_grad else (None, 0))
        self._edges = tuple(edges)  # type: ignore[arg-type]
        self._bias = None if b is None else b._data.shape
        self._x_shape, self._wt_shape, self._dtype = x._data.shape, wt._data.shape, x.dtype
        # (what the product's node saves: each operand only for the other's gradient)
        self._saved: tuple[SavedTensor | None, SavedTensor | None] | None = (
            SavedTensor(x, False) if need_w else None,
            SavedTensor(wt, False) if need_x else None,
        )

    def _array_apply(self, g: np.ndarray) -> list[Any] | None:
        """The gradients as arrays (Note [eager linear]), or None for the general path."""
        saved = self._saved
        if saved is None or g.dtype not in REAL_FLOATS:
            return None
        arrays = self._arrays(saved, g.dtype)
        if arrays is None:
            return None
        x, wt = arrays
        edges = self._edges[-2:]
        grads: list[Any] = []
        if self._bias is not None:
            grads.append(_sum_to(g, self._bias) if self._edges[0][0] is not None else None)
        grads.append(np.matmul(g, wt.T) if edges[0][0] is not None else None)
        grads.append(
            _sum_to(np.matmul(np.swapaxes(x, -1, -2), g), self._wt_shape)
            if edges[1][0] is not None
            else None
        )
        return grads

    def _general(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        sx, swt = self._saved
        # (an operand not saved is read by the rule for its rank only: a stand-in of its shape)
        x = sx.unpack(self) if sx is not None else self._stand_in(self._x_shape)
        wt = swt.unpack(self) if swt is not None else self._stand_in(self._wt_shape)
        edges = self._edges[-2:]
        needs = (edges[0][0] is not None, edges[1][0] is not None)
        dx, dwt = DERIVATIVES[Op.MATMUL](grad, x=x, y=wt, needs=needs)
        grads = [
            None if dx is None else conform(dx, self._x_shape, self._dtype),
            None if dwt is None else conform(dwt, self._wt_shape, self._dtype),
        ]
        if self._bias is not None:
            db = conform(grad, self._bias, self._dtype) if self._edges[0][0] is not None else None
            grads.insert(0, db)
        return grads

    def _stand_in(self, shape: tuple[int, ...]) -> Tensor:
        return Tensor._make(np.broadcast_to(np.zeros((), self._dtype.np), shape))


def _sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``conform``'s sum of a cotangent over its leading dims to ``shape`` (ops_linalg's
    ``_sum_to``: SUM over them, kept, then RESHAPE), as array code."""
    lead = g.ndim - len(shape)
    return array_sum(g, tuple(range(lead)), True).reshape(shape) if lead else g
