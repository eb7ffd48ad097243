"""``F.cross_entropy`` of class-index targets on plain float logits as NumPy array code,
forward and backward (Note [eager cross entropy])."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.ir.ops import Op
from adjit.ir.reference import REFERENCE
from adjit.runtime import forward_grad, saved_hooks
from adjit.runtime.array_vjp import REAL_FLOATS, array_sum, quiet_enter, quiet_exit
from adjit.runtime.autograd import ArrayNode, Node, gradient_edge, node_class, run_backward
from adjit.runtime.eager_linear import plain
from adjit.runtime.grad_mode import _state as _grad_state
from adjit.runtime.grad_mode import set_grad_enabled
from adjit.runtime.ops_reduce import _SoftmaxRule
from adjit.runtime.tensor import Tensor, eager_tensor
from adjit.runtime.trace_state import _local as _trace_local

# Note [eager cross entropy]
# ``F.cross_entropy(x, t)`` is ``nll_loss(log_softmax(x, 1), t)``: eagerly two decompositions
# through the traced-op dispatch (the log-softmax's six ops, the loss's eleven as a composite
# with its own inner graph, run again by a nested backward). On (32, 10) logits it took ~0.7 ms
# forward and ~0.7 ms backward (PyTorch 46 µs and a share of its 0.29 ms backward), most of an
# eager MLP train step. For the common case (2-D float32 / float64 logits, int64 class indices
# in range, no class weights, no label smoothing, reduction 'mean' or 'sum', outside a trace,
# without tangents or saved-tensor hooks), ``cross_entropy`` below makes the same NumPy calls
# those decompositions make (REFERENCE's, in their order) and two nodes: LogSoftmaxBackward0
# (PyTorch's formula of Note [softmax's gradient], reading the output) and NllLossBackward0
# (the loss's gradient: the cotangent divided by the kept count, sent back through the
# gather's scatter-add), each with an array backward making the same calls as the general
# path's rules, so values and gradients are bit for bit the decompositions' (tests compare
# them). Under create_graph or a node hook they run the general path: the log-softmax's rule
# and the loss's decomposition (on an alias of the log-probabilities) differentiated as
# before. Anything else (targets out of range included: the general path raises PyTorch's
# error) takes the decompositions.
_RULE = _SoftmaxRule(1, log=True)


def cross_entropy(x: Any, target: Any, weight: Any, r: str, ignore_index: int,
                  smoothing: float) -> Tensor | None:  # fmt: skip
    """The loss by array code (Note [eager cross entropy]), or None for the general path."""
    if _trace_local.trace is not None or forward_grad.ACTIVE or saved_hooks.current():
        return None
    if weight is not None or smoothing or r not in ("mean", "sum"):
        return None
    if not (plain(x) and plain(target)):
        return None
    a, t = x._data, target._data
    dt = a.dtype
    if dt not in REAL_FLOATS or a.ndim != 2 or t.dtype != np.int64 or t.shape != a.shape[:1]:
        return None
    n, c = a.shape
    if not n or not c:
        return None
    keep = REFERENCE[Op.NE](t, np.int64(ignore_index))
    if np.any(keep & ((t < 0) | (t >= c))):  # (the general path raises PyTorch's error)
        return None
    tok = quiet_enter()
    try:  # log_softmax(x, 1): s = x - amax(x, 1, keepdim), s - log(sum(exp(s), 1, keepdim))
        s = REFERENCE[Op.SUB](a, np.asarray(REFERENCE[Op.AMAX](a, axes=(1,), keepdim=True)))
        logp = REFERENCE[Op.SUB](s, REFERENCE[Op.LOG](array_sum(REFERENCE[Op.EXP](s), (1,), True)))
        w = keep.astype(dt)  # (_class_weights: the kept targets, in the logits' dtype)
        index = REFERENCE[Op.WHERE](keep, t, np.int64(0)).reshape(n, 1)
        picked = REFERENCE[Op.GATHER](logp, index, axis=1).reshape(n)
        kept = REFERENCE[Op.WHERE](keep, REFERENCE[Op.NEG](picked), dt.type(0.0))
        loss = REFERENCE[Op.MUL](kept, w)
        total = array_sum(loss, None, False)
        count = array_sum(w, None, False) if r == "mean" else None
        value = np.asarray(REFERENCE[Op.DIV](total, count) if count is not None else total)
    finally:
        quiet_exit(tok)
    out = eager_tensor(value)
    if _grad_state.enabled and x.requires_grad:
        p = eager_tensor(logp)
        p._grad_fn = node_class("LogSoftmaxBackward0", LogSoftmaxNode)(gradient_edge(x), p)
        name = "NllLossBackward0"
        out._grad_fn = node_class(name, NllNode)(p, target, w, keep, index, count, r, ignore_index)
    return out


class LogSoftmaxNode(ArrayNode):
    """``log_softmax(x, 1)``'s grad_fn (Note [eager cross entropy]): reads its output."""

    def __init__(self, edge: tuple[Node | None, int], out: Tensor) -> None:
        super().__init__()
        self._edges = (edge,)
        self._saved: np.ndarray | None = out._data  # (the output)

    def _array_apply(self, g: np.ndarray) -> list[Any] | None:
        out = self._saved
        if out is None or g.dtype != out.dtype:
            return None
        scaled = REFERENCE[Op.MUL](REFERENCE[Op.EXP](out), array_sum(g, (1,), True))
        return [REFERENCE[Op.SUB](g, scaled)]

    def _general(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        out = Tensor._make(self._saved, grad_fn=self)
        return [_RULE.vjp(grad, out, (out,), (False, True))[1]]


class NllNode(ArrayNode):
    """``nll_loss``'s grad_fn on the log-probabilities (Note [eager cross entropy])."""

    def __init__(self, logp: Tensor, target: Tensor, w: np.ndarray, keep: np.ndarray,
                 index: np.ndarray, count: np.ndarray | None, r: str,
                 ignore_index: int) -> None:  # fmt: skip
        super().__init__()
        self._edges = (gradient_edge(logp),)
        self._shape, self._r, self._ignore = logp._data.shape, r, ignore_index
        self._saved: tuple[Any, ...] | None = (logp._data, target, w, keep, index, count)

    def _array_apply(self, g: np.ndarray) -> list[Any] | None:
        if self._saved is None or g.dtype not in REAL_FLOATS:
            return None
        _, _, w, keep, index, count = self._saved
        if g.dtype != w.dtype:
            return None
        n = w.shape[0]
        if count is not None:  # (the DIV's rule: g / count)
            g = np.asarray(REFERENCE[Op.DIV](g, count))
        g = np.broadcast_to(g.reshape((1,)), (n,))  # (the SUM's rule)
        g = REFERENCE[Op.WHERE](keep, REFERENCE[Op.MUL](g, w), g.dtype.type(0.0))
        g = REFERENCE[Op.NEG](g).reshape(n, 1)
        return [REFERENCE[Op.SCATTER_ADD](g, index, axis=1, shape=self._shape)]

    def _general(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        from adjit.nn._losses import _nll  # (it imports this module)

        logp, target, w, _, _, _ = self._saved
        alias = eager_tensor(logp).requires_grad_()
        with set_grad_enabled(True):
            inner = _nll(alias, target, eager_tensor(w), self._r, self._ignore)
        return list(
            run_backward(
                [inner],
                [grad],
                inputs=[alias],
                retain_graph=create_graph,
                create_graph=create_graph,
                allow_unused=True,
            )
        )
