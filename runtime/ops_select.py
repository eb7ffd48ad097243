"""Selection by rank (eager only: they sort): median, nanmedian, kthvalue, mode, quantile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.ops import Op
from ..ir.shapes import norm_axis
from .dispatch import apply, composite
from .ops_elementwise import add, div, lerp, sub, where
from .ops_movement import permute, reshape, transpose
from .ops_reduce import sum
from .ops_stats import return_type
from .tensor import Tensor
from .trace_state import TracingError

RESULTS = {
    name: return_type(name, ("values", "indices"))
    for name in ("median", "nanmedian", "kthvalue", "mode")
}

Pick = Callable[[np.ndarray, int], np.ndarray]  # sorted rows, axis -> positions (axis kept)


def _eager(x: Tensor, name: str) -> None:
    if x._is_tracer:
        raise TracingError(
            f"{name}() selects elements by their values (it sorts), which are unknown while "
            "tracing; call it outside adjit.compile"
        )


# ---- median and nanmedian of every element ----------------------------------------------
def _full(x: Tensor, name: str, skip_nan: bool) -> Tensor:
    """The lower median of every element; see Note [median's gradient]."""
    _eager(x, name)
    flat = np.sort(x._data.reshape(-1))  # NaN sorts last
    n = int(np.count_nonzero(~np.isnan(flat))) if skip_nan and flat.dtype.kind == "f" else flat.size
    if flat.size == 0:
        return Tensor._make(np.asarray(np.nan, x.dtype.np))
    if not skip_nan and flat.dtype.kind == "f" and np.isnan(flat[-1]):
        n = 1  # any NaN: the median is NaN (sorted last)
        flat = flat[-1:]
    m = flat[(n - 1) // 2 if n else 0]
    if not x.dtype.is_floating_point:
        return Tensor._make(np.asarray(m))
    mask = np.isnan(x._data) if np.isnan(m) else x._data == m
    keep = Tensor._make(mask)
    count = int(np.count_nonzero(mask))
    grad_name = "NanmedianBackward0" if skip_nan else "MedianBackward0"
    return composite(grad_name, lambda a: add(m, div(sum(where(keep, sub(a, m), 0.0)), count)), x)


# Note [median's gradient]
# median() and nanmedian() over every element share the gradient among the elements equal to
# the result (among the NaNs when it is NaN), as PyTorch's evenly_distribute_backward: the
# value is m + sum(x - m over those elements) / count, which is m exactly. With dim, the
# gradient goes to the element at the returned index (value_selecting_reduction_backward).
# Which of several equal elements that index names is unspecified in PyTorch (an nth_element
# on the CPU); adjit returns the first in the input's order, so indices may differ at ties.


# ---- selections along a dim -----------------------------------------------------------------
def _select(x: Tensor, dim: Any, keepdim: bool, name: str, grad_name: str, pick: Pick) -> Any:
    """Values and indices at the sorted positions ``pick`` chooses along ``dim``."""
    _eager(x, name)
    data = x._data.reshape(1) if x.ndim == 0 else x._data
    axis = norm_axis(dim, data.ndim)
    if data.shape[axis] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {axis} to have non-zero size.")
    order = np.argsort(data, axis=axis, kind="stable")
    positions = pick(np.take_along_axis(data, order, axis), axis)
    index = Tensor._make(np.take_along_axis(order, positions, axis).astype(np.int64))
    shape = (
        ()
        if x.ndim == 0
        else index.shape
        if keepdim
        else index.shape[:axis] + index.shape[axis + 1 :]
    )

    def decomposition(a: Tensor) -> Tensor:
        return reshape(apply(Op.GATHER, reshape(a, data.shape), index, axis=axis), shape)

    return RESULTS[name.removesuffix("()")](
        composite(grad_name, decomposition, x), reshape(index, shape)
    )


def _nan_count(s: np.ndarray, axis: int) -> np.ndarray:
    """How many elements of each sorted row come before its NaNs."""
    if s.dtype.kind != "f":
        return np.full(s.shape[:axis] + (1,) + s.shape[axis + 1 :], s.shape[axis])
    return np.sum(~np.isnan(s), axis=axis, keepdims=True)


def _median_pick(s: np.ndarray, axis: int) -> np.ndarray:
    valid = _nan_count(s, axis)
    # a NaN in the row: the first NaN (sorted after the numbers, first in input order)
    return np.where(valid < s.shape[axis], valid, (s.shape[axis] - 1) // 2)


def _nanmedian_pick(s: np.ndarray, axis: int) -> np.ndarray:
    return np.maximum((_nan_count(s, axis) - 1) // 2, 0)


def median(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    if dim is None:
        return _full(x, "median", skip_nan=False)
    return _select(x, dim, keepdim, "median", "MedianBackward1", _median_pick)


def nanmedian(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    if dim is None:
        return _full(x, "nanmedian", skip_nan=True)
    # (PyTorch names median in this op's empty-dim error too)
    try:
        return _select(x, dim, keepdim, "nanmedian", "NanmedianBackward1", _nanmedian_pick)
    except IndexError as e:
        raise IndexError(str(e).replace("nanmedian()", "median()")) from None


def kthvalue(x: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    axis = norm_axis(dim, x.ndim) if x.ndim else 0
    n = x.shape[axis] if x.ndim else 1
    if n and not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {axis}")
    return _select(x, dim, keepdim, "kthvalue", "KthvalueBackward0", lambda s, a: _at(s, a, k - 1))


def _at(s: np.ndarray, axis: int, position: int) -> np.ndarray:
    return np.full(s.shape[:axis] + (1,) + s.shape[axis + 1 :], position)


def mode(x: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    return _select(x, dim, keepdim, "mode", "ModeBackward0", _mode_pick)


def _mode_pick(s: np.ndarray, axis: int) -> np.ndarray:
    """Note [mode's choice]: the end of the longest run of equal sorted values, the first such."""
    s = np.moveaxis(s, axis, -1)
    n = s.shape[-1]
    steps = np.arange(n)
    starts = np.ones(s.shape, bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]
    ends = np.ones(s.shape, bool)
    ends[..., :-1] = starts[..., 1:]
    run_start = np.maximum.accumulate(np.where(starts, steps, 0), axis=-1)
    length = np.where(ends, steps - run_start + 1, 0)
    best = np.argmax(length, axis=-1)[..., None]
    return np.moveaxis(best, -1, axis)


# Note [mode's choice]
# PyTorch's mode returns the most frequent value, the smallest of several equally frequent
# ones, and the index of its last occurrence in the input. Over a stable sort the runs of equal
# values keep the input order, so the end of the first longest run is that value and index.
# NaN equals nothing: each NaN is a run of one, as in PyTorch.


# ---- quantiles ------------------------------------------------------------------------------
INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")
ROUNDINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "lower": np.floor,
    "higher": np.ceil,
    "nearest": np.round,  # half to even, as PyTorch's round
}


def quantile(
    x: Tensor, q: Any, dim: Any = None, keepdim: bool = False, *, interpolation: str = "linear"
) -> Tensor:
    return _quantile(x, q, dim, keepdim, interpolation, "quantile", skip_nan=False)


def nanquantile(
    x: Tensor, q: Any, dim: Any = None, keepdim: bool = False, *, interpolation: str = "linear"
) -> Tensor:
    return _quantile(x, q, dim, keepdim, interpolation, "nanquantile", skip_nan=True)


def _quantile(
    x: Tensor, q: Any, dim: Any, keepdim: bool, interpolation: str, name: str, skip_nan: bool
) -> Tensor:
    qs = _check_quantile(x, q, interpolation, name)
    _eager(x, name)
    if dim is None:
        rows, axis, out_shape = reshape(x, (1, -1)), 1, (1,) * x.ndim if keepdim else ()
    else:
        axis = norm_axis(dim, x.ndim) if x.ndim else 0
        rows = reshape(x, 1) if x.ndim == 0 else x
        kept = rows.shape[:axis] + (1,) + rows.shape[axis + 1 :]
        out_shape = kept if keepdim and x.ndim else kept[:axis] + kept[axis + 1 :]
    rows = transpose(rows, axis, -1) if axis != rows.ndim - 1 else rows
    order = Tensor._make(np.argsort(rows._data, axis=-1, kind="stable"))
    n = rows.shape[-1]
    sorted_data = np.take_along_axis(rows._data, order._data, -1)
    if skip_nan:
        last = np.sum(~np.isnan(sorted_data), axis=-1, keepdims=True) - 1
    else:
        last = np.where(np.isnan(sorted_data).any(-1, keepdims=True), -1, n - 1)
    ranks = (qs.astype(x.dtype.np) * np.maximum(last, 0)).astype(x.dtype.np)
    ranks = np.where(last < 0, n - 1 if not skip_nan else 0, ranks)  # NaN rows: a NaN's rank
    below, above, weights = _interpolation(ranks, interpolation)

    def decomposition(a: Tensor) -> Tensor:
        s = apply(Op.GATHER, a, order, axis=a.ndim - 1)
        lo = apply(Op.GATHER, s, Tensor._make(below), axis=s.ndim - 1)
        if weights is None:
            return lo
        hi = apply(Op.GATHER, s, Tensor._make(above), axis=s.ndim - 1)
        return lerp(lo, hi, Tensor._make(weights))

    values = decomposition(rows)  # (..., len(q)): q's dim goes first
    if values.ndim > 1:
        values = permute(values, (values.ndim - 1, *range(values.ndim - 1)))
    if np.ndim(q) == 0 and not isinstance(q, Tensor) or isinstance(q, Tensor) and q.ndim == 0:
        return reshape(values, out_shape)
    return reshape(values, (qs.size, *out_shape))


def _interpolation(ranks: np.ndarray, mode: str) -> tuple[np.ndarray, Any, Any]:
    """Indices below and above each rank and the weight between (None: no interpolation)."""
    if mode in ("lower", "higher", "nearest"):
        rounded = ROUNDINGS[mode](ranks)
        return rounded.astype(np.int64), None, None
    below = np.floor(ranks)
    weights = np.full_like(ranks, 0.5) if mode == "midpoint" else ranks - below
    return below.astype(np.int64), np.ceil(ranks).astype(np.int64), weights


def _check_quantile(x: Tensor, q: Any, interpolation: str, name: str) -> np.ndarray:
    if x.dtype.name not in ("float32", "float64"):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.dtype is not x.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        qs = q._data.reshape(-1)
        if not ((qs >= 0) & (qs <= 1)).all():
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        qs = np.asarray([q], np.float64)
    if x.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if interpolation not in INTERPOLATIONS:
        raise RuntimeError(
            f"{name}() interpolation must be one of linear, lower, higher, midpoint or "
            f"nearest, but got {interpolation}"
        )
    return qs
