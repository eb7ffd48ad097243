"""``embedding(sparse=True)``: the weight's gradient as a sparse COO tensor, as PyTorch's."""

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
