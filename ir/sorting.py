"""ARGSORT's shape and NumPy rules: a stable sort along one axis, NaN largest (PyTorch's order)."""

from __future__ import annotations

import numpy as np

from .aval import Aval
from .dtypes import int64
from .errors import ShapeError


def argsort_shape(x: Aval, *, axis: int, descending: bool, stable: bool) -> Aval:
    if not (-max(x.ndim, 1) <= axis < max(x.ndim, 1)):
        raise ShapeError(f"argsort: axis {axis} out of range for {x.ndim} dims")
    return Aval(x.shape, int64)


def argsort_reference(x: np.ndarray, *, axis: int, descending: bool, stable: bool) -> np.ndarray:
    """Note [ARGSORT's order]: indices along ``axis`` that sort ``x``, always stable."""
    if x.ndim == 0:
        return np.zeros((), np.int64)
    if not descending:
        return np.argsort(x, axis=axis, kind="stable").astype(np.int64, copy=False)
    n = x.shape[axis]
    flipped = np.flip(x, axis)
    order = np.flip(np.argsort(flipped, axis=axis, kind="stable"), axis)
    return (n - 1 - order).astype(np.int64)


# Note [ARGSORT's order]
# PyTorch sorts NaN above every number (NumPy's order too) and, with stable=True, keeps equal
# elements in their input order in both directions. A descending stable sort is an ascending
# stable sort of the reversed row, reversed: equal elements (the NaNs among them) come out in
# input order, and no value is negated (that would overflow the most negative integer and swap
# -0.0 with 0.0). ``stable`` is recorded but every sort here is stable: PyTorch's unstable CPU
# sort may order ties differently, which its documentation allows.
