"""``embedding``/``embedding_bag(sparse=True)``: the weight's gradient as a sparse COO tensor."""

from __future__ import annotations

import numpy as np

from .autograd import Node, gradient_edge, node_class
from .sparse import SparseTensor
from .tensor import Tensor


class _EmbeddingSparse(Node):
    """The grad_fn: the looked-up rows' gradients at their indices, duplicates kept and the
    ``padding_idx`` rows dropped (PyTorch's ``embedding_sparse_backward``)."""

    def __init__(
        self, flat: np.ndarray, shape: tuple[int, ...], padding_idx: int | None, scaled: bool
    ) -> None:
        super().__init__()
        self._flat, self._shape, self._padding, self._scaled = flat, shape, padding_idx, scaled

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        if self._scaled:
            raise RuntimeError(
                "embedding_backward: scale_grad_by_freq not supported with sparse gradients"
            )
        rows = grad._data.reshape(-1, self._shape[1])
        keep = self._flat != self._padding if self._padding is not None else slice(None)
        idx = self._flat[keep].reshape(1, -1)
        g = SparseTensor._coo(idx, np.array(rows[keep]), self._shape, idx.shape[1] <= 1)
        node = self._edges[0][0]
        if node is not None and not hasattr(node, "variable"):  # a weight computed by an op:
            return [g.to_dense()]  # its grad_fn takes a dense gradient
        return [g]


def embedding_sparse(idx: Tensor, weight: Tensor, padding_idx: int | None, scaled: bool) -> Tensor:
    """Rows of ``weight`` at ``idx``, recording the sparse-gradient node."""
    flat = np.asarray(idx._data, np.int64).reshape(-1)
    data = weight.detach()._data[flat].reshape(*idx.shape, weight.shape[1])
    out = Tensor._make(data)
    node = node_class("EmbeddingBackward0", _EmbeddingSparse)(
        flat, tuple(weight.shape), padding_idx, scaled
    )
    node._edges = (gradient_edge(weight),)
    out._grad_fn = node
    return out


class _BagSparse(Node):
    """embedding_bag's grad_fn: each looked-up row's gradient is its bag's (times its
    per-sample weight, or over its bag's size for "mean"), skipped elements dropped (PyTorch's
    ``_embedding_bag_sparse_backward``); the per-sample weights' gradient flows on."""

    def __init__(self, idx: np.ndarray, target: np.ndarray, shape: tuple[int, ...], bags: int,
                 mode: str, psw: np.ndarray | None, scaled: bool) -> None:  # fmt: skip
        super().__init__()
        self._idx, self._target, self._shape, self._bags = idx, target, shape, bags
        self._mode, self._psw, self._scaled = mode, psw, scaled

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        if self._scaled:
            raise RuntimeError(
                "embedding_backward: scale_grad_by_freq not supported with sparse gradients"
            )
        keep = self._target < self._bags
        bag = self._target[keep]
        g = grad._data[bag]
        if self._psw is not None:
            g = g * self._psw[keep][:, None]
        if self._mode == "mean":
            recip = (1 / np.maximum(np.bincount(bag, minlength=self._bags), 1)).astype(g.dtype)
            g = g * recip[bag][:, None]  # (PyTorch's: times the reciprocal)
        idx = self._idx[keep].reshape(1, -1)
        rows = SparseTensor._coo(idx, np.ascontiguousarray(g), self._shape, idx.shape[1] <= 1)
        node = self._edges[0][0]
        if node is not None and not hasattr(node, "variable"):  # (as _EmbeddingSparse's)
            return [rows.to_dense(), grad]
        return [rows, grad]


def embedding_bag_sparse(
    out: Tensor,
    weight: Tensor,
    idx: Tensor,
    target: Tensor,
    bags: int,
    mode: str,
    psw: Tensor | None,
    scaled: bool,
) -> Tensor:
    """``out`` (the bags of the detached weight) recording the sparse-gradient node."""
    node = node_class("EmbeddingBagBackward0", _BagSparse)(
        np.asarray(idx._data, np.int64).reshape(-1),
        np.asarray(target._data, np.int64).reshape(-1),
        tuple(weight.shape),
        bags,
        mode,
        None if psw is None else psw.detach()._data.reshape(-1),
        scaled,
    )
    node._edges = (gradient_edge(weight), gradient_edge(out) if out.requires_grad else (None, 0))
    result = Tensor._make(out.detach()._data)
    result._grad_fn = node
    return result
