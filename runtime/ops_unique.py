"""unique and unique_consecutive: data-dependent output shapes, so eager only."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.shapes import norm_axis
from .autograd import Node, gradient_edge, node_class
from .checks import shape_from_values
from .grad_mode import is_grad_enabled
from .tensor import Tensor


class _NoDerivative(Node):
    """PyTorch's grad_fn of an op without a derivative: backward raises its error."""

    def __init__(self, op: str, edges: tuple[tuple[Node | None, int], ...]) -> None:
        super().__init__()
        self._op, self._edges = op, edges

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        raise NotImplementedError(f"the derivative for '{self._op}' is not implemented.")


def _eager(x: Tensor, name: str) -> None:
    shape_from_values(f"{name}()", "as many elements as the input has distinct values", x)


def _result(
    x: Tensor,
    values: np.ndarray,
    inverse: np.ndarray,
    counts: np.ndarray,
    flags: tuple[bool, bool],
    node: tuple[str, str],
) -> Any:
    out = Tensor._make(np.ascontiguousarray(values))
    if x.requires_grad and is_grad_enabled() and x.dtype.is_floating_point:
        out._grad_fn = node_class(node[0], _NoDerivative)(node[1], (gradient_edge(x),))
    extra = [
        Tensor._make(a.astype(np.int64))
        for a, keep in zip((inverse, counts), flags, strict=True)
        if keep
    ]
    return (out, *extra) if extra else out


def _runs(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run ids of each position and the run lengths, from the run-start flags."""
    ids = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    return ids, np.diff(np.append(first, starts.size))


def _rows(x: Tensor, dim: int, name: str) -> tuple[np.ndarray, int]:
    """``x`` as (size along dim, rest) rows, and the normalized dim."""
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = norm_axis(dim, x.ndim)
    if x.numel() == 0 and x.shape[d] != 0:
        raise RuntimeError(
            "There are 0 sized dimensions, and they aren't selected, so unique cannot be applied"
        )
    moved = np.moveaxis(x._data, d, 0)
    return moved.reshape(moved.shape[0], -1), d


def _from_rows(x: Tensor, rows: np.ndarray, d: int) -> np.ndarray:
    shape = list(np.moveaxis(x._data, d, 0).shape)
    shape[0] = rows.shape[0]
    return np.moveaxis(rows.reshape(shape), 0, d)


def _differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows (or elements) that are not equal (NaN equals nothing, as in PyTorch)."""
    ne = a != b
    return ne.any(axis=tuple(range(1, ne.ndim))) if ne.ndim > 1 else ne


def unique(
    x: Tensor,
    sorted: bool = True,  # noqa: A002 - PyTorch's name
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """Note [unique]: the distinct values (slices along ``dim``) in ascending order."""
    _eager(x, "unique")
    flags = (return_inverse, return_counts)
    if dim is None:
        flat = x._data.reshape(-1)
        order = np.argsort(flat, kind="stable")
        s = flat[order]
        starts = np.ones(s.size, bool)
        starts[1:] = _differ(s[1:], s[:-1])
        ids, counts = _runs(starts)
        inverse = np.empty(s.size, np.int64)
        inverse[order] = ids
        node = ("Unique2Backward0", "_unique2")
        return _result(x, s[starts], inverse.reshape(x.shape), counts, flags, node)
    rows, d = _rows(x, dim, "unique")
    order = np.lexsort(rows.T[::-1]) if rows.shape[1] else np.arange(rows.shape[0])
    s = rows[order]
    starts = np.ones(s.shape[0], bool)
    starts[1:] = _differ(s[1:], s[:-1])
    ids, counts = _runs(starts)
    inverse = np.empty(s.shape[0], np.int64)
    inverse[order] = ids
    values = _from_rows(x, s[starts], d)
    return _result(x, values, inverse, counts, flags, ("UniqueDimBackward0", "unique_dim"))


def unique_consecutive(
    x: Tensor,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The first of every run of equal consecutive values (slices along ``dim``)."""
    _eager(x, "unique_consecutive")
    flags = (return_inverse, return_counts)
    node = ("UniqueConsecutiveBackward0", "unique_consecutive")
    if dim is None:
        flat = x._data.reshape(-1)
        starts = np.ones(flat.size, bool)
        starts[1:] = _differ(flat[1:], flat[:-1])
        ids, counts = _runs(starts)
        return _result(x, flat[starts], ids.reshape(x.shape), counts, flags, node)
    rows, d = _rows(x, dim, "unique_consecutive")
    starts = np.ones(rows.shape[0], bool)
    starts[1:] = _differ(rows[1:], rows[:-1])
    ids, counts = _runs(starts)
    return _result(x, _from_rows(x, rows[starts], d), ids, counts, flags, node)


# Note [unique]
# PyTorch's CPU unique sorts whatever ``sorted`` says (adjit too), keeps each NaN apart (NaN
# equals nothing) and sorts NaN last; with ``dim``, the slices in lexicographic order. Which of
# several NaNs gets which inverse index is its sort's accident (not input order on larger
# inputs); adjit numbers them in input order. The
# first output carries a grad_fn whose backward raises PyTorch's NotImplementedError, as
# PyTorch's does. The number of outputs depends on the data, so a traced call is refused:
# nonzero's rule, with the op named.
