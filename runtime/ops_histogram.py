"""histc, histogram and bincount: eager (NumPy); their bins or lengths depend on the data.

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
from . import trace_state
from .dispatch import with_rule
from .ops_math import _Rule
from .ops_stats import return_type
from .tensor import Tensor

histogram_result = return_type("histogram", ("hist", "bin_edges"))


def _not_implemented(op: str) -> _Rule:
    def grads(g: Tensor, out: Tensor, *xs: Any) -> tuple:
        raise RuntimeError(f"derivative for aten::{op} is not implemented")

    return _Rule(op, grads)


def _eager(name: str, *ts: Any, why: str) -> None:
    trace = trace_state.current()
    tensors = [t for t in ts if isinstance(t, Tensor)]
    if trace is not None and trace.involves(tensors):
        raise trace_state.TracingError(f"{name}: {why}; call it outside adjit.compile")


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
    _eager("histc", input, why="the bins' range depends on the input's values")
    _float_kernel("histogram_cpu", input)
    if min > max:
        raise RuntimeError("torch.histc: max must be larger than min")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
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
    _eager("histogram", input, bins, weight, why="the bins' range depends on the input's values")
    _float_kernel("histogramdd", input)
    a = input._data.ravel()
    dt = a.dtype.type
    if isinstance(bins, Tensor):
        if bins.dtype is not input.dtype:
            raise RuntimeError(
                "torch.histogramdd: input tensor and bins tensors should have the same dtype, "
                f"but got input with dtype {input.dtype.type_name.lower()} and bins for dimension "
                f"0 with dtype {_c_type(bins.dtype)}"
            )
        edges = bins._data.ravel().copy()
    else:
        if bins <= 0:
            raise RuntimeError(
                f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0"
            )
        if range is not None:
            lo, hi = dt(range[0]), dt(range[1])
            if lo > hi:
                raise RuntimeError(
                    "torch.histogramdd: min should not exceed max, but got min "
                    f"{_c_number(float(lo))} max {_c_number(float(hi))} for dimension 0"
                )
        elif a.size:
            lo, hi = a.min(), a.max()
        else:
            lo, hi = dt(0), dt(1)
        if lo == hi:
            lo, hi = lo - dt(0.5), hi + dt(0.5)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(
                f"torch.histogramdd: dimension 0's range [{float(lo):g}, {float(hi):g}] is not "
                "finite"
            )
        edges = _linspace(lo, hi, bins + 1, dt)
    w = None
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise RuntimeError(
                "torch.histogramdd: if weight tensor is provided it should have the same shape "
                "as the input tensor excluding its innermost dimension, but got input with shape "
                f"{[a.size, 1]} and weight with shape {list(weight.shape)}"
            )
        w = weight._data.ravel()
    n = edges.size - 1
    if n > 0:
        with np.errstate(invalid="ignore"):
            keep = (a >= edges[0]) & (a <= edges[-1])
        pos = np.minimum(np.searchsorted(edges, np.where(keep, a, edges[0]), "right") - 1, n - 1)
        hist = _count(np.maximum(pos, 0), keep, n, w)
    else:
        hist = np.zeros(0)
    if density:
        widths = np.diff(edges.astype(np.float64))
        with np.errstate(all="ignore"):
            hist = hist / (hist.sum() * widths)
    hist_t, edges_t = Tensor._make(hist.astype(a.dtype)), Tensor._make(edges.astype(a.dtype))
    rule = _not_implemented("histogram")
    operands = [t for t in (input, bins, weight) if isinstance(t, Tensor)]
    hist_t = with_rule(rule, lambda *ts: hist_t, *operands, name="NotImplemented")
    edges_t = with_rule(rule, lambda *ts: edges_t, *operands, name="NotImplemented")
    return histogram_result(hist_t, edges_t)


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
METHODS = ["histc", "histogram", "bincount"]
