"""Max and average pooling over 1-, 2- and 3-D windows as composites of primitives."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adjit.ir.dtypes import int64
from adjit.nn import pool_windows as W
from adjit.nn.pool_args import (
    check_geometry,
    check_half_kernel,
    check_planes,
    dims,
    is_empty_stride,
    stride_zero,
    unbatched_shape,
)
from adjit.runtime import functional as R
from adjit.runtime.autocast import autocast_op
from adjit.runtime.dispatch import composite
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.kernel_dtypes import not_implemented, require_not_bool
from adjit.runtime.opmath import in_float32
from adjit.runtime.tensor import Tensor

__all__ = [
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "max_pool1d",
    "max_pool1d_with_indices",
    "max_pool2d",
    "max_pool2d_with_indices",
    "max_pool3d",
    "max_pool3d_with_indices",
]

# Pooling reads its windows as (N, C, K, L) columns (Note [N-d pooling windows] in
# pool_windows.py) and reduces over K. 1-d pooling is 2-d pooling of (N, C, 1, L), as in PyTorch
# (whose 1-d results are a SqueezeBackward1 of the 2-d op).

_BATCHED = {2: "non-empty 3D or 4D (batch mode) tensor expected for input"}
_BATCHED[3] = "non-empty 4D or 5D (batch mode) tensor expected for input"


class _Geometry:
    """Kernel, stride, padding (symmetric and per side), dilation and output size of a pool."""

    def __init__(
        self,
        op: str,
        x: Tensor,
        input: Tensor,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        ceil_mode: bool,
        avg: bool = False,
    ) -> None:
        nd = x.ndim - 2
        self.k = dims(kernel_size, nd, op, "kernel_size", avg)
        self.s = self.k if is_empty_stride(stride) else dims(stride, nd, op, "stride", avg)
        self.p = dims(padding, nd, op, "padding", avg)
        self.d = dims(dilation, nd, op, "dilation", avg)
        stride_zero(self.s)
        check_geometry(self.k, self.s, self.p, self.d)
        function = "avg_pool3d" if avg else "max_pool3d_with_indices_out_cpu_template"
        check_planes(input, nd, function)
        self.size: W.Dims = tuple(x.shape[2:])
        if avg and nd == 3 and any(n < k for n, k in zip(self.size, self.k, strict=True)):
            t, h, w = self.size
            raise RuntimeError(
                f"input image (T: {t} H: {h} W: {w}) smaller than kernel size "
                f"(kT: {self.k[0]} kH: {self.k[1]} kW: {self.k[2]})"
            )
        check_half_kernel(self.k, self.p)
        self.out = tuple(
            W.out_size(n, k, s, p, d, ceil_mode)
            for n, k, s, p, d in zip(self.size, self.k, self.s, self.p, self.d, strict=True)
        )
        if min(self.out) < 1:
            sizes = "x".join(str(n) for n in (x.shape[1], *self.size))
            outs = "x".join(str(n) for n in (x.shape[1], *self.out))
            raise RuntimeError(
                f"Given input size: ({sizes}). Calculated output size: ({outs}). "
                "Output size is too small"
            )
        self.pads = W.side_pads(self.size, self.k, self.s, self.p, self.d, self.out)
        self.coords = W.positions(self.size, self.k, self.s, self.p, self.d, self.out)

    def windows(self, a: Tensor) -> Tensor:
        return W.windows(a, self.k, self.s, self.pads, self.d)


def _batched(input: Tensor, nd: int, message: str) -> tuple[Tensor, bool]:
    if input.ndim == nd + 1:
        return R.unsqueeze(input, 0), True
    if input.ndim != nd + 2:
        raise RuntimeError(message)
    return input, False


def _max_pool(
    op: str,
    nd: int,
    input: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
) -> tuple[Tensor, Tensor]:
    """Window maxima and PyTorch's flat per-plane indices of them (Note [N-d pooling windows]);
    the gradient goes to the chosen element only."""
    require_not_bool(input, op)
    x, unbatched = _batched(input, nd, _BATCHED[nd])
    g = _Geometry(op, x, input, kernel_size, stride, padding, dilation, ceil_mode)
    mask = W.inside(g.size, g.coords)
    empty = W.empty_windows(g.size, g.coords)
    firsts: list[Tensor] = []
    picks: list[Tensor] = []
    table = W.flat_index(g.size, g.coords)

    def decomposition(a: Tensor) -> Tensor:
        b = R.unsqueeze(a, 0) if unbatched else a
        if empty is None and b.dtype.is_floating_point:  # Note [max pool by its index]
            with no_grad():
                first = W.first_position(g.windows(b), mask)
                picks.append(W.picked_index(table, first, math.prod(g.size) < 1 << 31, g.k))
            y = W.pick(b, picks[0])
        else:
            y, first = W.first_max(g.windows(b), mask)
            firsts.append(first)
        if empty is not None:
            y = _empty_windows(b, y, *empty)
        y = R.reshape(y, (*b.shape[:2], *g.out))
        return R.squeeze(y, 0) if unbatched else y

    name = f"MaxPool{nd}DWithIndicesBackward0"
    y = composite(name, decomposition, input)
    with no_grad():
        idx = picks[0].detach().to(int64) if picks else W.picked_index(table, firsts[0].detach())
        if empty is not None:
            idx = R.where(Tensor._make(empty[0]), Tensor._make(empty[1]), idx)
        idx = R.reshape(idx, tuple(y.shape))
    return y, idx


# Note [max pool by its index]
# A floating max pool picks each window's element by its flat index in the plane (the index
# it returns, PyTorch's): a GATHER from the input, whose gradient is a SCATTER_ADD of the
# output's gradient at those indices (the compiled scatter along an axis, Note [scatter
# along an axis] in codegen/scatter.py), each input element receiving its windows' terms in
# output order, as PyTorch's max_pool2d backward adds them. It was the masked sum over the
# window columns, whose gradient was a masked (N, C, K, L) product folded back into the
# image: k*k times the output's bytes (resnet18 b8's stem: 4.5 MB near the step's end, with
# every gradient made, as high as the step's peak). The index is saved for the backward as
# int32 (as many bytes as the float32 window positions saved before; int64, PyTorch's
# indices' type, made only for the caller who asks for them), and the GATHERs write into
# pooled buffers (runtime/executor.py), so the picked elements and the index are planned in
# the step's arena. Integer pools (no gradient) and windows with no input element (only with
# dilation: their -inf and gradient come from _empty_windows's rule) keep the masked sum.


def _empty_windows(b: Tensor, y: Tensor, empty: np.ndarray, at: np.ndarray) -> Tensor:
    """PyTorch's maximum of a window with no input element: -inf (the lowest integer), its
    gradient sent to the element at its index (``at``) as PyTorch's backward does; where that
    index lies beyond the plane (PyTorch's backward writes outside it), nowhere."""
    if not b.dtype.is_floating_point:
        return R.where(Tensor._make(empty), W.lowest(b), y)
    plane = math.prod(b.shape[2:])
    inside = empty & (at < plane)
    flat = R.reshape(b, (*b.shape[:2], plane))
    read = R.index_select(flat, 2, Tensor._make(np.where(inside, at, 0).astype(np.int64)))
    ghost = read - read.detach() - math.inf  # (-inf, NaN where that element is infinite)
    y = R.where(Tensor._make(inside), ghost, y)
    return R.where(Tensor._make(empty & ~inside), -math.inf, y)


def _max_pool1d(
    input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> tuple[Tensor, Tensor]:
    """PyTorch's max_pool1d_with_indices: 2-d pooling of (N, C, 1, L)."""
    unbatched_shape(input, 1, "max_pool1d")
    args = [_as_2d(v, "max_pool1d", what) for v, what in _args_1d(kernel_size, padding, dilation)]
    s = stride if is_empty_stride(stride) else _as_2d(stride, "max_pool1d", "stride")
    y, idx = _max_pool(
        "max_pool2d", 2, R.unsqueeze(input, -2), args[0], s, args[1], args[2], ceil_mode
    )
    return R.squeeze(y, -2), R.squeeze(idx, -2)


def _args_1d(kernel_size: Any, padding: Any, dilation: Any) -> list[tuple[Any, str]]:
    return [(kernel_size, "kernel_size"), (padding, "padding"), (dilation, "dilation")]


def _as_2d(v: Any, op: str, what: str) -> tuple[int, int]:
    """A 1-d argument as the (1, v) of the 2-d op (or its padding/dilation (0, v) / (1, v))."""
    (n,) = dims(v, 1, op, what, False)
    return (0 if what == "padding" else 1, n)


def max_pool1d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    return _max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Window maximum over the last dim; the gradient goes to the chosen element."""
    if not return_indices:
        _check_max_pool1d_impl(input, kernel_size, stride, padding, dilation, ceil_mode)
    y, idx = _max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def _check_max_pool1d_impl(
    input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> None:
    """PyTorch's max_pool1d checks (whatever the path) and its own kernel's dtypes."""
    if input.ndim not in (2, 3) or any(n == 0 for n in input.shape[-2:]):
        raise RuntimeError(
            "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size "
            f"for input, but got:{list(input.shape)}"
        )
    (k,) = dims(kernel_size, 1, "max_pool1d", "kernel_size", False)
    (s,) = (k,) if is_empty_stride(stride) else dims(stride, 1, "max_pool1d", "stride", False)
    (p,) = dims(padding, 1, "max_pool1d", "padding", False)
    (d,) = dims(dilation, 1, "max_pool1d", "dilation", False)
    for what, v, bad in (("kernel_size", k, k <= 0), ("stride", s, s <= 0)):
        if bad:
            raise RuntimeError(f"max_pool1d() {what} must be greater than zero, but got {v}")
    if p < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {p}")
    if p > k // 2:
        raise RuntimeError(
            "max_pool1d() padding should be at most half of kernel size, but got "
            f"padding={p} and kernel_size={k}"
        )
    if d <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d}")
    out = W.out_size(input.shape[-1], k, s, p, d, ceil_mode)
    if out < 1:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")
    if not input.dtype.is_floating_point:  # (its kernel, which inputs needing grad skip)
        raise not_implemented("max_pool1d_impl", input.dtype)


def max_pool2d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Window maximum; the gradient goes to the first maximal element, as in PyTorch."""
    y, idx = _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def max_pool3d_with_indices(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> tuple[Tensor, Tensor]:
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode)


@autocast_op("max_pool3d")
def max_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """3-D window maximum (two UNFOLDs, Note [N-d pooling windows])."""
    y, idx = _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


# ---- average pooling ----------------------------------------------------------------------------
def _divisor(g: _Geometry, count_include_pad: bool) -> np.ndarray:
    """PyTorch's per-window divisor (windows clipped to the padded, then the real input)."""
    sizes = []
    for n, k, s, p, o in zip(g.size, g.k, g.s, g.p, g.out, strict=True):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        size = end - start
        if not count_include_pad:
            size = np.minimum(end, n) - np.maximum(start, 0)
        sizes.append(size)
    div = sizes[0]
    for size in sizes[1:]:
        div = np.multiply.outer(div, size)
    return div.astype(np.float64)


def _avg_pool(
    op: str,
    nd: int,
    input: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Tensor:
    """Window sums over zero padding divided by PyTorch's divisor (truncating for integers)."""
    if nd == 2 and input.ndim < 3:  # PyTorch reads input.size(-3) first
        if input.ndim == 0:
            raise IndexError("Dimension specified as -3 but tensor has no dimensions")
        input.size(-3)
    if nd == 3 and input.dtype.is_reduced_float:
        raise not_implemented("avg_pool3d_out_frame", input.dtype)
    require_not_bool(input, op if nd == 2 else "avg_pool3d_out_frame")
    message = (
        "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
        f"got:{list(input.shape)}"
        if nd == 2
        else _BATCHED[3]
    )
    x, unbatched = _batched(input, nd, message)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    g = _Geometry(op, x, input, kernel_size, stride, padding, 1, ceil_mode, avg=True)
    if divisor_override is not None:
        div = np.full(g.out, float(divisor_override))
    else:
        div = _divisor(g, count_include_pad)
    integer = not input.dtype.is_floating_point

    def decomposition(a: Tensor) -> Tensor:
        b = R.unsqueeze(a, 0) if unbatched else a
        total = R.reshape(R.sum(g.windows(b), 2), (*b.shape[:2], *g.out))
        total = R.squeeze(total, 0) if unbatched else total
        if integer:
            return R.div(total, Tensor._make(div.astype(np.int64)), rounding_mode="trunc")
        if np.all(div == div.flat[0]):
            return total / float(div.flat[0])
        return total / Tensor._make(div.astype(total.dtype.np))

    # (float16/bfloat16 sum in float32 and round once, as PyTorch's kernels accumulate)
    return composite(f"AvgPool{nd}DBackward0", in_float32(decomposition), input)


def avg_pool1d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Window mean over the last dim: 2-d average pooling of (N, C, 1, L), as in PyTorch."""
    unbatched_shape(input, 1, "avg_pool1d")
    k = _as_2d(kernel_size, "avg_pool1d", "kernel_size")
    s = k if is_empty_stride(stride) else _as_2d(stride, "avg_pool1d", "stride")
    p = _as_2d(padding, "avg_pool1d", "padding")
    x = R.unsqueeze(input, -2)
    y = _avg_pool("avg_pool2d", 2, x, k, s, p, ceil_mode, count_include_pad, None)
    return R.squeeze(y, -2)


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Window mean over zero padding, with PyTorch's divisor rules."""
    return _avg_pool(
        "avg_pool2d",
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


@autocast_op("avg_pool3d")
def avg_pool3d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """3-D window mean over zero padding, with PyTorch's divisor rules."""
    return _avg_pool(
        "avg_pool3d",
        3,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )
