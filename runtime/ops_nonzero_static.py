"""``nonzero_static``: the indices of nonzero elements in a result of fixed size (traceable)."""

from __future__ import annotations

import numpy as np

from ..ir import dtypes as D
from .checks import traced
from .creation import tensor
from .ops_elementwise import where
from .ops_movement import reshape
from .ops_reduce import any as any_
from .ops_reduce import cumsum
from .tensor import Tensor


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:  # noqa: A002
    """``nonzero(input)`` cut to ``size`` rows, or padded with rows of ``fill_value``: its shape
    is known before the values are, so compiled code keeps it (a one-hot selection)."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    if input.ndim == 0:  # PyTorch's: (size, 0) whatever the value
        return tensor(np.zeros((size, 0), np.int64))
    if not traced(input):
        found = np.argwhere(input._data)[:size].astype(np.int64)
        out = np.full((size, input.ndim), fill_value, np.int64)
        out[: len(found)] = found
        return tensor(out)
    # Note [nonzero_static traced]: element j (C order) is row rank[j] = (nonzeros before it)
    # when it is nonzero; the rows are a one-hot (size, n) selection of the coordinate table
    # (n, ndim) in float64 (exact below 2**53), and rows no element reached hold fill_value
    n = input.numel()
    flat = reshape(input.detach(), (n,)) != 0
    rank = cumsum(flat.to(D.int64), 0) - 1
    rows = tensor(np.arange(size, dtype=np.int64)[:, None])
    hit = (reshape(rank, (1, n)) == rows) & reshape(flat, (1, n))
    coords = tensor(np.indices(tuple(input.shape)).reshape(input.ndim, n).T.astype(np.float64))
    picked = (hit.to(D.float64) @ coords).to(D.int64)
    return where(any_(hit, 1, keepdim=True), picked, fill_value)
