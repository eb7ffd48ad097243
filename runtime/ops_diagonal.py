"""Triangles and diagonals (tril, triu, diagonal, diag_embed, ...) as decompositions."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.ops import Op
from ..ir.shapes import norm_axis
from .dispatch import apply, composite
from .ops_elementwise import clone, where
from .ops_movement import flatten, getitem, permute, reshape
from .tensor import Tensor

# Note [triangle masks]
# tril/triu are where(mask, x, 0) with the (rows, cols) mask as a constant: shapes are static,
# so the mask is known when tracing, and where (unlike x * mask) keeps inf and NaN above the
# diagonal out of the result and its gradient. The constant is rows * cols bools; adjit has no
# iota primitive that would let the comparison run inside the kernel instead.


def _zero(x: Tensor) -> Tensor:
    return Tensor._make(np.zeros((), x.dtype.np))


def _triangle(name: str, lower: bool) -> Any:
    def fn(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002 - PyTorch's name
        if input.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        n, m = input.shape[-2:]
        keep = np.tri(n, m, diagonal, dtype=bool)
        mask = Tensor._make(keep if lower else ~np.tri(n, m, diagonal - 1, dtype=bool))
        backward = name.capitalize() + "Backward0"
        return composite(backward, lambda a: where(mask, a, _zero(a)), input)

    fn.__name__ = fn.__qualname__ = name
    return fn


tril = _triangle("tril", lower=True)
triu = _triangle("triu", lower=False)


def _tri_indices(lower: bool) -> Any:
    def fn(
        row: int,
        col: int,
        offset: int = 0,
        *,
        dtype: D.DType = D.int64,
        device: Any = None,
        layout: Any = None,
    ) -> Tensor:
        name = "tril_indices" if lower else "triu_indices"
        if row < 0 or col < 0:
            which = "row" if row < 0 else "col"
            raise RuntimeError(f"{which} must be non-negative, got{row if row < 0 else col}")
        if dtype not in (D.int64, D.int32):
            raise NotImplementedError(f"\"{name}\" not implemented for '{dtype.type_name}'")
        pick = np.tril_indices if lower else np.triu_indices
        rows, cols = pick(row, offset, col)
        return Tensor._make(np.stack([rows, cols]).astype(dtype.np).reshape(2, -1))

    fn.__name__ = fn.__qualname__ = "tril_indices" if lower else "triu_indices"
    return fn


tril_indices = _tri_indices(lower=True)
triu_indices = _tri_indices(lower=False)


def _diag_span(n: int, m: int, offset: int) -> tuple[int, int, int]:
    """(length, first row, first col) of the ``offset`` diagonal of an n x m matrix."""
    if offset >= 0:
        return max(min(n, m - offset), 0), 0, offset
    return max(min(n + offset, m), 0), -offset, 0


def _last_two(ndim: int, dim1: int, dim2: int, what: str) -> tuple[int, ...]:
    """The permutation moving dims ``dim1``, ``dim2`` to the end (in that order)."""
    d1, d2 = norm_axis(dim1, ndim), norm_axis(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return (*(d for d in range(ndim) if d not in (d1, d2)), d1, d2)


def _diagonal(a: Tensor, offset: int, axes: tuple[int, ...]) -> Tensor:
    """Dims ``axes[-2:]`` moved last, merged, and the diagonal taken as a strided slice: on a
    contiguous input every step is a NumPy view, so (eagerly) the result is a view as in
    PyTorch."""
    if axes != tuple(range(a.ndim)):
        a = permute(a, axes)
    n, m = a.shape[-2:]
    length, r, c = _diag_span(n, m, offset)
    flat = reshape(a, (*a.shape[:-2], n * m))
    start = r * m + c if length else 0  # (an empty diagonal starts where its input does)
    stop = start + (length - 1) * (m + 1) + 1 if length else start
    return getitem(flat, (Ellipsis, slice(start, stop, m + 1)))


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    axes = _last_two(input.ndim, dim1, dim2, "diagonal")
    out = composite("DiagonalBackward0", lambda a: _diagonal(a, offset, axes), input)
    return _viewed(out, input)


def _viewed(out: Tensor, base: Tensor) -> Tensor:
    """A result PyTorch returns as a view: eagerly it shares ``base``'s memory when the input's
    layout allows, and then counts as its view (in-place checks, version counter); when it had
    to be a copy it is read-only, so an in-place op on it fails instead of missing ``base``."""
    if base._is_tracer or out._is_tracer or base.numel() == 0:
        return out
    if np.may_share_memory(out._data, base._data):
        if out._view_base is None:
            out._view_base = base if base._view_base is None else base._view_base
            out._rewrites_seen = out._view_base._rewrites
    else:  # (its memory's owner too: views of it, expanded ones included, stay read-only)
        out._data.flags.writeable = False
        owner = out._data.base
        while isinstance(owner, np.ndarray):
            owner.flags.writeable = False
            owner = owner.base
    return out


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    ndim = input.ndim + 1
    axes = _last_two(ndim, dim1, dim2, "diag_embed")
    n = (input.shape[-1] if input.ndim else 1) + abs(offset)
    _, r, c = _diag_span(n, n, offset)
    k = n - abs(offset)
    rows = Tensor._make(np.arange(r, r + k))
    cols = Tensor._make(np.arange(c, c + k))
    lead = input.shape[:-1]
    spec = (*(("slice", 0, s, 1) for s in lead), ("tensor", 0), ("tensor", 1))
    inverse = tuple(int(i) for i in np.argsort(axes))

    def decomposition(a: Tensor) -> Tensor:
        a = reshape(a, (1,)) if a.ndim == 0 else a
        square = apply(Op.INDEX_ADD, a, rows, cols, spec=spec, shape=(*lead, n, n))
        return square if inverse == tuple(range(ndim)) else permute(square, inverse)

    return composite("DiagEmbedBackward0", decomposition, input)


def diagflat(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002
    return diag_embed(flatten(input), offset)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    return composite(
        "DiagonalBackward0_copy", lambda a: clone(_diagonal(a, diagonal, (0, 1))), input
    )
