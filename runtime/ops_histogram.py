"""histc, histogram, histogramdd and bincount (NumPy); histc and histogram with given bins traced.

Note [histogram bins as PyTorch]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
PyTorch bins an element in the input's dtype: histc by linear interpolation alone,
``int((x - lo) * bins / (hi - lo))``, so an element just below an edge may land in the next
bin as rounding has it; histogram with a bin count interpolates and then corrects against the
edges (``linspace(lo, hi, bins + 1)`` in the dtype), and with edges given searches them. An
element equal to the last edge is in the last bin, one outside [lo, hi] or NaN in none. Both
are reproduced here with NumPy in the same dtype. The range comes from the data when none is
given (histc also when min == max), widened by 1 (histc) or 0.5 (histogram) when empty.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from ..ir import dtypes as D
from .checks import traced, value_dependent
from .dispatch import with_rule
from .ops_math import _Rule
from .ops_stats import return_type
from .tensor import Tensor

histogram_result = return_type("histogram", ("hist", "bin_edges"))
histogramdd_result = return_type("histogramdd", ("hist", "bin_edges"))


def _not_implemented(op: str) -> _Rule:
    def grads(g: Tensor, out: Tensor, *xs: Any) -> tuple:
        raise RuntimeError(f"derivative for aten::{op} is not implemented")

    return _Rule(op, grads)


def _eager(name: str, *ts: Any, why: str) -> None:
    """A graph break before the values are read (or, unsplittable, the error naming why)."""
    value_dependent(f"{name}: {why}; call it outside adjit.compile", f"{name}: {why}", *ts)


def _float_kernel(kernel: str, x: Tensor) -> None:
    if not x.dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{x.dtype.type_name}'")


def _c_number(v: float) -> str:
    """A double as C++'s ostream prints it (6 significant digits; PyTorch's NaN is -nan)."""
    return "-nan" if np.isnan(v) else f"{v:g}"


def _linspace(lo: Any, hi: Any, n: int, dt: Any) -> np.ndarray:
    """PyTorch's linspace in dtype ``dt``: the first half from ``lo``, the rest from ``hi``."""
    wide = np.float32 if dt in (np.float16,) or dt.__name__ == "bfloat16" else dt
    lo, hi = wide(lo), wide(hi)
    if n == 1:
        return np.array([lo], dt)
    step = (hi - lo) / wide(n - 1)
    half = n // 2
    # one rounding of start + step * i (PyTorch's vectorized kernel uses a fused multiply-add)
    s, a, b = Fraction(float(step)), Fraction(float(lo)), Fraction(float(hi))
    exact = [a + s * k if k < half else b - s * (n - 1 - k) for k in range(n)]
    return np.array([float(v) for v in exact]).astype(wide).astype(dt)


def _count(pos: np.ndarray, keep: np.ndarray, bins: int, weight: np.ndarray | None) -> np.ndarray:
    w = None if weight is None else weight[keep].astype(np.float64)
    return np.bincount(pos[keep], weights=w, minlength=bins)[:bins]


def histc(input: Tensor, bins: int = 100, min: Any = 0, max: Any = 0) -> Tensor:  # noqa: A002
    """Counts in ``bins`` equal bins of [min, max] (the data's range when min == max)."""
    if min == max:
        _eager("histc", input, why="with min == max the bins' range depends on the input's values")
    _float_kernel("histogram_cpu", input)
    if min > max:
        raise RuntimeError("torch.histc: max must be larger than min")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    if traced(input):
        return _histc_traced(input, bins, min, max)
    a = input._data.ravel()
    dt = a.dtype.type
    lo, hi = dt(min), dt(max)
    if lo == hi and a.size:
        lo, hi = a.min(), a.max()
    if lo == hi:
        lo, hi = lo - dt(1), hi + dt(1)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(
            f"torch.histc: range of [{_c_number(float(lo))}, {_c_number(float(hi))}] is not finite"
        )
    with np.errstate(invalid="ignore"):
        keep = (a >= lo) & (a <= hi)
        pos = ((a - lo) * dt(bins) / (hi - lo)).astype(np.float64)
    pos = np.where(keep, pos, 0).astype(np.int64)
    pos = np.minimum(pos, bins - 1)
    out = _count(pos, keep, bins, None).astype(a.dtype)
    return Tensor._make(out)


def _histc_traced(input: Tensor, bins: int, min: Any, max: Any) -> Tensor:  # noqa: A002
    """histc over a given range as ops, each in the input's dtype as eagerly (NumPy's): the
    bin ``int((x - lo) * bins / (hi - lo))``, counted exactly (float64) and then rounded."""
    from . import functional as F
    from .creation import zeros

    dt = input.dtype.np
    lo, hi = dt(min), dt(max)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(
            f"torch.histc: range of [{_c_number(float(lo))}, {_c_number(float(hi))}] is not finite"
        )
    x = F.flatten(input.detach())
    keep = F.logical_and(F.ge(x, float(lo)), F.le(x, float(hi)))
    width = float(dt(hi - lo))  # (hi - lo) in the dtype, as NumPy subtracts
    pos = F.where(keep, F.div(F.mul(F.sub(x, float(lo)), bins), width), 0).to(D.int64)
    pos = F.clamp_max(pos, bins - 1)
    ones = keep.to(D.float64)
    counts = zeros(bins, dtype=D.float64).index_add(0, pos, ones)
    return counts.to(input.dtype)


def _dim_edges(a: np.ndarray, bins: Any, rng: Any, d: int, input_dtype: D.DType) -> np.ndarray:
    """Dimension ``d``'s bin edges: the given tensor's, or ``linspace`` over the range (the
    data's when none is given, widened by 0.5 when empty)."""
    dt = a.dtype.type
    if isinstance(bins, Tensor):
        if bins.dtype is not input_dtype:
            raise RuntimeError(
                "torch.histogramdd: input tensor and bins tensors should have the same dtype, "
                f"but got input with dtype {input_dtype.type_name.lower()} and bins for dimension "
                f"{d} with dtype {_c_type(bins.dtype)}"
            )
        _check_edges(bins, d)
        return bins._data.ravel().copy()
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension {d}")
    if rng is not None:
        lo, hi = dt(rng[0]), dt(rng[1])
        if lo > hi:
            raise RuntimeError(
                "torch.histogramdd: min should not exceed max, but got min "
                f"{_c_number(float(lo))} max {_c_number(float(hi))} for dimension {d}"
            )
    elif a.size:
        lo, hi = a.min(), a.max()
    else:
        lo, hi = dt(0), dt(1)
    if lo == hi:
        lo, hi = lo - dt(0.5), hi + dt(0.5)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(
            f"torch.histogramdd: dimension {d}'s range [{float(lo):g}, {float(hi):g}] is not finite"
        )
    return _linspace(lo, hi, bins + 1, dt)


def _check_edges(bins: Tensor, d: int) -> None:
    """PyTorch's checks of a dimension's given bin edges (after their dtype's)."""
    if bins.ndim != 1:
        raise RuntimeError(
            f"torch.histogramdd: bins tensor should have one dimension, but got {bins.ndim} "
            f"dimensions in the bins tensor for dimension {d}"
        )
    if bins.numel() == 0:
        raise RuntimeError(
            "torch.histogramdd: bins tensor should have at least 1 element, but got 0 elements "
            f"in the bins tensor for dimension {d}"
        )
    if bins.numel() == 1:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got 0 for dimension {d}")


def _histogram_traced(
    input: Tensor,  # noqa: A002
    bins: Any,
    rng: Any,
    weight: Tensor | None,
    density: bool,
) -> Any:
    """histogram with given edges or a given range as ops (Note [histogram bins as PyTorch]:
    an element is in the bin whose edges hold it, the last edge in the last bin): searched in
    the edges, counted (or weighted) exactly in float64, then rounded to the dtype."""
    from . import functional as F
    from .creation import tensor, zeros

    dt = input.dtype
    if isinstance(bins, Tensor):
        if bins.dtype is not dt:  # (the eager text)
            _dim_edges(np.zeros(0, dt.np), bins, None, 0, dt)
        _check_edges(bins, 0)
        edges = F.flatten(bins.detach())
    else:
        low, high = rng  # (given: without one, histogram refused, as the data's is unknown)
        edges = tensor(_dim_edges(np.zeros(0, dt.np), bins, [low, high], 0, dt))
    n = edges.shape[0] - 1
    x = F.flatten(input.detach())
    first, last = edges[0], edges[n]
    keep = F.logical_and(F.ge(x, first), F.le(x, last))
    found = F.sub(F.searchsorted(edges, F.where(keep, x, first), right=True), 1)
    pos = F.clamp(found, 0, n - 1)
    w = keep.to(D.float64) if weight is None else F.flatten(weight.detach()).to(D.float64)
    hist = zeros(n, dtype=D.float64).index_add(0, pos, F.where(keep, w, 0.0))
    if density:
        hist = F.div(hist, F.mul(hist.sum(), F.diff(edges.to(D.float64))))
    hist, edges = hist.to(dt), F.clone(edges)
    # no derivative, as eagerly: a backward through either raises PyTorch's error
    rule = _not_implemented("histogram")
    operands = [t for t in (input, bins, weight) if isinstance(t, Tensor)]
    hist = with_rule(rule, lambda *ts: hist, *operands, name="NotImplemented")
    edges = with_rule(rule, lambda *ts: edges, *operands, name="NotImplemented")
    return histogram_result(hist, edges)


def _histogramdd(
    input: Tensor,  # noqa: A002
    points: np.ndarray,
    bins: list[Any],
    rng: Any,
    weight: Tensor | None,
    density: bool,
    rules: tuple[str, str],
) -> tuple[Tensor, list[Tensor]]:
    """Counts of the rows of ``points`` (N, D) in the grid of bins: Note [histogram bins as
    PyTorch]. ``weight`` has N elements (checked by the callers, whose texts differ); ``rules``
    name the ATen ops whose missing derivatives backward reports (hist's, then the edges')."""
    dims = points.shape[1]
    ranges = [None] * dims if rng is None else [rng[2 * k : 2 * k + 2] for k in range(dims)]
    edges = [_dim_edges(points[:, k], bins[k], ranges[k], k, input.dtype) for k in range(dims)]
    sizes = tuple(e.size - 1 for e in edges)
    keep = np.ones(points.shape[0], bool)
    pos = []
    for k, e in enumerate(edges):
        col = points[:, k]
        with np.errstate(invalid="ignore"):
            keep &= (col >= e[0]) & (col <= e[-1]) if e.size else False
        n = max(e.size - 1, 1)
        where = np.searchsorted(e, np.where(keep, col, e[0] if e.size else 0), "right") - 1
        pos.append(np.clip(where, 0, n - 1))
    w = None if weight is None else weight._data.ravel()
    if all(sizes):
        flat = np.ravel_multi_index(tuple(pos), sizes) if dims else np.zeros_like(keep, np.int64)
        hist = _count(flat, keep, int(np.prod(sizes)), w).reshape(sizes)
    else:
        hist = np.zeros(sizes)
    if density:
        volume = np.ones(sizes)
        for k, e in enumerate(edges):
            shape = [1] * dims
            shape[k] = sizes[k]
            volume = volume * np.diff(e.astype(np.float64)).reshape(shape)
        with np.errstate(all="ignore"):
            hist = hist / (hist.sum() * volume)
    dt = points.dtype
    hist_t = Tensor._make(np.asarray(hist).astype(dt))
    edges_t = [Tensor._make(e.astype(dt)) for e in edges]
    hist_rule, edges_rule = (_not_implemented(r) for r in rules)
    operands = [t for t in (input, *bins, weight) if isinstance(t, Tensor)]
    hist_t = with_rule(hist_rule, lambda *ts: hist_t, *operands, name="NotImplemented")
    edges_t = [
        with_rule(edges_rule, lambda *ts, e=e: e, *operands, name="NotImplemented") for e in edges_t
    ]
    return hist_t, edges_t


def histogram(
    input: Tensor,  # noqa: A002
    bins: Any = 100,
    *,
    range: Any = None,  # noqa: A002
    weight: Tensor | None = None,
    density: bool = False,
) -> Any:
    """(hist, bin_edges): counts (or weights, or a density) in each bin: Note [histogram bins
    as PyTorch]."""
    if range is None and not isinstance(bins, Tensor):
        _eager("histogram", input, weight, why="the bins' range depends on the input's values")
    _float_kernel("histogramdd", input)
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise RuntimeError(
            "torch.histogramdd: if weight tensor is provided it should have the same shape "
            "as the input tensor excluding its innermost dimension, but got input with shape "
            f"{[input.numel(), 1]} and weight with shape {list(weight.shape)}"
        )
    if any(traced(t) for t in (input, bins, weight)):
        return _histogram_traced(input, bins, range, weight, density)
    points = input._data.reshape(-1, 1)
    rng = None if range is None else list(range)
    rules = ("histogram", "histogram")
    hist, edges = _histogramdd(input, points, [bins], rng, weight, density, rules)
    return histogram_result(hist, edges[0])


def histogramdd(
    input: Tensor,  # noqa: A002
    bins: Any = 10,
    *,
    range: Any = None,  # noqa: A002
    weight: Tensor | None = None,
    density: bool = False,
) -> Any:
    """(hist, bin_edges): counts of the input's rows (its innermost dimension holds the
    coordinates) in a D-dimensional grid of bins."""
    _eager("histogramdd", input, weight, why="the bins' range depends on the input's values")
    if input.ndim == 0:  # PyTorch reads input.size(-1) first
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    if input.ndim < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    _float_kernel("histogramdd", input)
    dims = input.shape[-1]
    points = input._data.reshape(-1, dims)
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        bins = [int(bins)] * dims
    bins = list(bins)
    if bins and isinstance(bins[0], Tensor):
        if len(bins) != dims:
            raise RuntimeError(
                f"torch.histogramdd: expected {dims} sequences of bin edges for a {dims}-"
                f"dimensional histogram but got {len(bins)}"
            )
    elif len(bins) != dims:
        raise RuntimeError(
            "histogramdd: The size of bins must be equal to the innermost dimension of the input."
        )
    if range is not None and len(range) != 2 * dims:
        raise RuntimeError(
            f"torch.histogramdd: for a {dims}-dimensional histogram range should have "
            f"{2 * dims} elements, but got {len(range)}"
        )
    if weight is not None and tuple(weight.shape) != tuple(input.shape[:-1]):
        raise RuntimeError(
            "torch.histogramdd: if weight tensor is provided it should have the same shape "
            "as the input tensor excluding its innermost dimension, but got input with shape "
            f"{list(input.shape)} and weight with shape {list(weight.shape)}"
        )
    rules = ("_histogramdd_from_bin_cts", "_histogramdd_bin_edges")
    hist, edges = _histogramdd(input, points, bins, range, weight, density, rules)
    # given edges come back as the very tensors passed in (PyTorch's histogramdd; not histogram)
    edges = [b if isinstance(b, Tensor) else e for b, e in zip(bins, edges, strict=True)]
    return histogramdd_result(hist, tuple(edges))


def _c_type(dtype: D.DType) -> str:
    return {"float64": "double", "float32": "float", "float16": "c10::Half"}.get(
        dtype.name, dtype.name
    )


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:  # noqa: A002
    """How often each value 0, 1, ... occurs in a 1-d non-negative integer tensor (weighted)."""
    _eager(
        "bincount",
        input,
        weights,
        why="the result's length (max(input) + 1) depends on the input's values",
    )
    if input.dtype.is_floating_point or input.dtype is D.bool_:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{input.dtype.type_name}'")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    a = input._data
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.ndim != 1 or weights.shape[0] != a.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    length = max(int(a.max()) + 1 if a.size else 0, minlength)
    if weights is None:
        return Tensor._make(np.bincount(a, minlength=length).astype(np.int64))
    w = weights._data
    out_dt = w.dtype if weights.dtype in (D.float32, D.float64) else np.float64
    counts = np.bincount(a, weights=w.astype(np.float64), minlength=length).astype(out_dt)
    value = Tensor._make(counts)
    rule = _not_implemented("bincount")
    return with_rule(rule, lambda *ts: value, input, weights, name="NotImplemented")


# Tensor methods (runtime/methods.py)
METHODS = ["histc", "histogram", "bincount"]  # no Tensor.histogramdd in PyTorch
