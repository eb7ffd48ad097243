"""Autograd of sparse ops: dense ops on the values, and a node that maps gradients back."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import trace_state
from .autograd import FREED_MSG, Node, gradient_edge, node_class, run_backward
from .grad_mode import is_grad_enabled, set_grad_enabled
from .sparse import SparseTensor
from .tensor import Tensor
from .trace_state import TracingError

_UNSUPPORTED = (
    "adjit.compile: sparse tensors are not supported in compiled code ({name}); with "
    "fullgraph=False their ops run eagerly between compiled segments, or convert with "
    ".to_dense()"
)

# Note [sparse gradients]
# ~~~~~~~~~~~~~~~~~~~~~~~
# A sparse op is a function of dense Tensors: the values of each sparse input (or, where
# PyTorch's gradient for that input is dense, e.g. torch.mm's, its dense form) and each dense
# input, run with dense autograd on detached aliases, as a composite op's decomposition is.
# Its result is a dense Tensor or a ``SparseOut`` (indices and a values Tensor). The node
# recorded on the result maps the incoming gradient to the result's values (a dense gradient
# read at the result's indices, a sparse one coalesced and looked up there), runs the inner
# backward, and gives each sparse input a sparse gradient with that input's indices (PyTorch's
# masked gradient: ``sparse.mm``'s, ``to_dense``'s, the values of ``sparse_coo_tensor``'s) or
# the dense one asked for. Double backward through a sparse op is refused.


@dataclass
class SparseOut:
    """A sparse result of a sparse op's function: indices and a values Tensor."""

    idx: np.ndarray
    vals: Tensor
    shape: tuple[int, ...]
    coalesced: bool


def linear(idx: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Row-major linear positions of COO indices in the sparse dims of ``shape``."""
    if idx.shape[0] == 0:
        return np.zeros(idx.shape[1], np.int64)
    return np.ravel_multi_index(tuple(idx), shape[: idx.shape[0]]).astype(np.int64)


def unravel(lin: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """COO indices (len(dims) x n) of row-major linear positions ``lin`` (``linear``'s inverse)."""
    if not dims:
        return np.zeros((0, len(lin)), np.int64)
    return np.array(np.unravel_index(lin, dims), np.int64).reshape(len(dims), len(lin))


def at_entries(grad: Tensor, idx: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``grad`` (dense or sparse) read at the COO entries ``idx``: (nnz, *dense dims)."""
    sd = idx.shape[0]
    if not getattr(grad, "_sparse", False):
        return np.asarray(
            grad._data[tuple(idx)] if sd else grad._data[None].repeat(idx.shape[1], 0)
        )
    g = grad if grad._layout._name == "sparse_coo" else grad.to_sparse()
    glin, gvals = linear(g._idx, shape), g._vals
    uniq, inv = np.unique(glin, return_inverse=True)
    summed = np.zeros((len(uniq), *gvals.shape[1:]), gvals.dtype)
    np.add.at(summed, inv.reshape(-1), gvals)
    want = linear(idx, shape)
    pos = np.searchsorted(uniq, want)
    found = (pos < len(uniq)) & (uniq[np.minimum(pos, max(len(uniq) - 1, 0))] == want)
    out = np.zeros((len(want), *gvals.shape[1:]), gvals.dtype)
    if len(uniq):
        out[found] = summed[pos[found]]
    return out


class SparseNode(Node):
    """The grad_fn of a sparse op (Note [sparse gradients])."""

    def __init__(
        self,
        out: Tensor,
        out_sparse: SparseTensor | None,
        aliases: list[Any],
        inputs: list[Any],
        dense_grad: tuple[int, ...],
        edges: tuple[tuple[Node | None, int], ...],
    ) -> None:
        super().__init__()
        self._edges = edges
        self._inner: tuple | None = (out, out_sparse, aliases, inputs, dense_grad)
        self._back: Callable[[Tensor], Any] | None = None

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        if self._inner is None:
            raise RuntimeError(FREED_MSG)
        if create_graph:
            raise NotImplementedError(
                f"adjit: double backward through the sparse op {self.name()} is not supported"
            )
        out, out_sparse, aliases, inputs, dense_grad = self._inner
        if self._back is not None:  # a reindexing or scaling: PyTorch's formula on ``grad``
            return list(self._back(grad))
        if out_sparse is not None:
            grad = Tensor._make(at_entries(grad, out_sparse._idx, out_sparse._shape))
        wanted = [k for k, (e, _) in enumerate(self._edges) if e is not None]
        found = run_backward(
            [out],
            [grad],
            inputs=[aliases[k] for k in wanted],
            retain_graph=True,
            create_graph=False,
            allow_unused=True,
        )
        grads: list[Tensor | None] = [None] * len(self._edges)
        for k, g in zip(wanted, found, strict=True):
            x = inputs[k]
            if g is not None and x._sparse and k not in dense_grad:
                g = masked_grad(x, g._data)
            grads[k] = g
        return grads

    def release(self) -> None:
        self._inner = None


def masked_grad(x: SparseTensor, g: np.ndarray) -> SparseTensor:
    """The gradient of sparse ``x`` from its values' gradient ``g``: at x's coalesced indices
    (PyTorch's ``grad.sparse_mask(x)``); duplicates of one index share one gradient."""
    if x._coalesced:  # (PyTorch's masked gradients are not flagged coalesced)
        return SparseTensor._coo(x._idx, g, x._shape, False)
    uniq, first = np.unique(linear(x._idx, x._shape), return_index=True)
    sd = x._idx.shape[0]
    idx = unravel(uniq, x._shape[:sd])
    return SparseTensor._coo(idx, g[first], x._shape, len(uniq) <= 1)


def _alias(x: Any, dense: bool, record: bool) -> Any:
    if not isinstance(x, Tensor):
        return x
    if x._sparse:
        if record and x.requires_grad and x._layout._name != "sparse_coo":
            raise NotImplementedError(
                "adjit: gradients of sparse CSR tensors are not supported; convert with "
                ".to_sparse() (COO) first"
            )
        data = x.to_dense()._data if dense else x._vals
    else:
        data = x._data
    grad = record and x.requires_grad and data.dtype.kind in "fc"
    return Tensor._make(data, requires_grad=grad)


def sparse_op(
    name: str,
    fn: Callable[..., Any],
    *inputs: Any,
    dense_grad: tuple[int, ...] = (),
    back: Callable[[Tensor], Any] | None = None,
) -> Any:
    """``fn`` on dense aliases of ``inputs`` (values of sparse ones, dense forms of those in
    ``dense_grad``), its result made sparse if it is a SparseOut, with a SparseNode named
    ``name`` when a gradient is recorded (Note [sparse gradients]). ``back``, for ops PyTorch
    differentiates by a formula that keeps the gradient's layout (transposes, scaling,
    coalesce, sparse + sparse), maps the result's gradient to the inputs' instead."""
    if trace_state.current() is not None:
        return in_trace(name, sparse_op, name, fn, *inputs, dense_grad=dense_grad, back=back)
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    record = is_grad_enabled() and any(t.requires_grad for t in tensors)
    aliases = [_alias(x, k in dense_grad, record and back is None) for k, x in enumerate(inputs)]
    with set_grad_enabled(record and back is None):
        out = fn(*aliases)
    if isinstance(out, SparseOut):
        vals = out.vals.detach()._data if isinstance(out.vals, Tensor) else out.vals
        result: Tensor = SparseTensor._coo(out.idx, vals, out.shape, out.coalesced)
        inner, out_sparse = out.vals, result
    else:
        result, inner, out_sparse = Tensor._make(out.detach()._data), out, None
    if record and (inner.requires_grad or back is not None):
        edges = tuple(
            gradient_edge(x) if isinstance(x, Tensor) and x.requires_grad else (None, 0)
            for x in inputs
        )
        node = node_class(name, SparseNode)(
            inner, out_sparse, aliases, list(inputs), dense_grad, edges
        )
        node._back = back
        result._grad_fn = node
    return result


def in_trace(name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """A sparse op met while tracing (Note [graph breaks] in frontend/breaks.py): run eagerly
    between two segments (its tracer inputs become tensors first), or, where the function
    cannot be split, refused naming the op; never traced (nor its inputs' data read)."""
    split = getattr(trace_state.current(), "eager_call", None)
    if split is None:
        raise TracingError(_UNSUPPORTED.format(name=name))
    try:
        return split(f"sparse op {name}", fn, *args, **kwargs)
    except TracingError as e:
        raise TracingError(_UNSUPPORTED.format(name=name)) from e


def eager_only(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a sparse op that reads its inputs' data before ``sparse_op``), through
    ``in_trace`` while tracing."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        if trace_state.current() is None:
            return fn(*args, **kwargs)
        return in_trace(fn.__name__, fn, *args, **kwargs)

    return run


def accumulate(t: Tensor, g: Tensor) -> None:
    """``t.grad += g`` where either is sparse (PyTorch's AccumulateGrad for sparse grads)."""
    if t._grad is None:  # (Note [non-leaf .grad])
        t._grad = g._clone_data() if g._sparse else g
    elif not t._grad._sparse:  # dense += sparse, in place
        from .sparse_ops import add_into

        add_into(t._grad, g)
    elif not g._sparse:  # a dense gradient into a sparse .grad: dense + sparse
        t._grad = g + t._grad
    else:
        t._grad = t._grad + g
