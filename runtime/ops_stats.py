"""Reductions built from the primitives: prod, nansum/nanmean, std_mean, aminmax, dist, trace..."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.shapes import norm_axis
from .autocast import autocast_op
from .dispatch import composite
from .kernel_dtypes import require_not_bool
from .ops_elementwise import div, isnan, mul, ne, where
from .ops_integer import logical_not
from .ops_movement import getitem, reshape, squeeze
from .ops_reduce import amax, amin, cat_along, mean, norm, std, sum, var
from .return_types import return_type
from .tensor import Tensor

aminmax_result = return_type("aminmax", ("min", "max"))


def _wide(x: Tensor, dtype: Any) -> Tensor:
    """The input in the dtype a product or sum accumulates in: ``dtype`` or int64 for integers."""
    if dtype is not None:
        return x.to(dtype)
    return x if x.dtype.is_floating_point else x.to(D.int64)


# ---- prod ----------------------------------------------------------------------------------
@autocast_op("prod")
def prod(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The product along ``dim`` (an int: PyTorch takes no tuple) or of every element."""
    if isinstance(dim, tuple | list):
        raise TypeError(
            "prod() received an invalid combination of arguments - got (Tensor, dim=tuple): "
            "dim must be an int"
        )
    x = _wide(x, dtype)
    if dim is None:
        return composite("ProdBackward0", lambda a: reshape(_tree_prod(reshape(a, -1), 0), ()), x)
    axis = norm_axis(dim, x.ndim)

    def decomposition(a: Tensor) -> Tensor:
        if a.ndim == 0:
            return a
        p = _tree_prod(a, axis)
        return p if keepdim else squeeze(p, axis)

    return composite("ProdBackward1", decomposition, x)


def _tree_prod(a: Tensor, axis: int) -> Tensor:
    """Note [prod as a tree]: multiply the halves until one element is left along ``axis``."""
    n = a.shape[axis]
    if n == 0:
        shape = tuple(1 if i == axis else s for i, s in enumerate(a.shape))
        return Tensor._make(np.ones(shape, a.dtype.np))
    while n > 1:
        h = n // 2
        lo, hi, rest = (_slice(a, axis, s, e) for s, e in ((0, h), (h, 2 * h), (2 * h, n)))
        a = mul(lo, hi) if n % 2 == 0 else cat_along(mul(lo, hi), rest, axis)
        n = h + n % 2
    return a


# Note [prod as a tree]
# prod is no primitive: log2(n) rounds each multiply the two halves of what is left (an odd
# element waits for the next round), n - 1 multiplies in all, as a sequential product. Its
# gradient, the chain rule through the multiplies, is the product of the other elements for
# each element: exact at zeros (one zero: only that element gets a gradient; two: none), as
# PyTorch's prod_backward, and without its division by the input. Exact for integers. One
# difference: a NaN element's own gradient is the (finite) product of the others, where
# PyTorch's division makes it NaN (cumprod alike, through the scan in runtime/ops_scan.py).


def _slice(a: Tensor, axis: int, start: int, stop: int) -> Tensor:
    index = [slice(None)] * a.ndim
    index[axis] = slice(start, stop)
    return getitem(a, tuple(index))


# ---- NaN-ignoring reductions -----------------------------------------------------------------
def nansum(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    x = _wide(x, dtype)
    if not x.dtype.is_floating_point:
        return sum(x, dim, keepdim, dtype=None if dtype is None else x.dtype)
    return composite("NansumBackward0", lambda a: sum(where(isnan(a), 0.0, a), dim, keepdim), x)


def nanmean(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            "nanmean(): expected input to have floating point or complex dtype but got "
            f"{x.dtype.type_name.removesuffix('Tensor')}"
        )
    kept = logical_not(isnan(x))
    return div(nansum(x, dim, keepdim), sum(kept, dim, keepdim))


def count_nonzero(x: Tensor, dim: Any = None) -> Tensor:
    return sum(ne(x, 0), dim)


# ---- moments -------------------------------------------------------------------------------
def var_mean(
    x: Tensor,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> tuple[Tensor, Tensor]:
    return _with_mean("VarMeanBackward0", var, x, dim, unbiased, keepdim, correction)


def std_mean(
    x: Tensor,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> tuple[Tensor, Tensor]:
    return _with_mean("StdMeanBackward0", std, x, dim, unbiased, keepdim, correction)


def _with_mean(
    name: str,
    stat: Callable[..., Tensor],
    x: Tensor,
    dim: Any,
    unbiased: Any,
    keepdim: bool,
    correction: Any,
) -> tuple[Tensor, Tensor]:
    """(stat, mean) over ``dim``, both with one grad_fn name as in PyTorch."""
    if isinstance(dim, bool):  # var_mean(x, False): the (input, unbiased) overload
        dim, unbiased = None, dim
    s = composite(name, lambda a: stat(a, dim, unbiased, keepdim, correction=correction), x)
    return s, composite(name, lambda a: mean(a, dim, keepdim), x)


# ---- extremes and norms ------------------------------------------------------------------
def aminmax(x: Tensor, *, dim: Any = None, keepdim: bool = False) -> Any:
    if dim is not None and x.ndim and x.shape[norm_axis(dim, x.ndim)] == 0:
        axis = norm_axis(dim, x.ndim)
        raise IndexError(f"aminmax: Expected reduction dim {axis} to have non-zero size.")
    if dim is None and x.numel() == 0:
        raise RuntimeError(
            "aminmax(): cannot compute aminmax over an empty dimension as the operation has "
            "no identity."
        )
    d = () if dim is None else dim
    lo = composite("AminmaxBackward0", lambda a: amin(a, d, keepdim), x)
    hi = composite("AminmaxBackward0", lambda a: amax(a, d, keepdim), x)
    return aminmax_result(lo, hi)


def dist(x: Tensor, other: Tensor, p: Any = 2) -> Tensor:
    return composite("DistBackward0", lambda a, b: norm(a - b, p), x, other)


@autocast_op("trace")
def trace(x: Tensor) -> Tensor:
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    require_not_bool(x, "trace")
    rows, cols = x.shape
    k = rows if rows < cols else cols
    x = _wide(x, None)

    def decomposition(a: Tensor) -> Tensor:
        diagonal = getitem(reshape(a, -1), slice(0, k * (cols + 1), cols + 1))
        return sum(diagonal)

    return composite("TraceBackward0", decomposition, x)
