"""``F.unfold`` / ``F.fold`` (im2col / col2im) over the UNFOLD and FOLD primitives."""

from __future__ import annotations

from typing import Any

from adjit.ir.ops import Op
from adjit.ir.windows import Padding, Pair
from adjit.runtime import functional as R
from adjit.runtime.dispatch import apply
from adjit.runtime.kernel_dtypes import require_float
from adjit.runtime.tensor import Tensor

__all__ = ["fold", "unfold"]


def pair(v: Any, name: str = "kernel_size") -> Pair:
    """An int or a 2-sequence of ints as a pair, with PyTorch's error for other lengths."""
    if isinstance(v, int):
        return (v, v)
    items = tuple(v)
    if len(items) != 2:
        raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(items)}")
    for i, n in enumerate(items):
        if not isinstance(n, int):
            raise TypeError(
                f"im2col(): argument '{name}' must be tuple of ints, but found element of type "
                f"{type(n).__name__} at pos {i}"
            )
    return (items[0], items[1])


def symmetric(p: Pair) -> Padding:
    """PyTorch's (ph, pw) as the primitives' per-side padding."""
    return ((p[0], p[0]), (p[1], p[1]))


def im2col(x: Tensor, kernel_size: Pair, dilation: Pair, padding: Padding, stride: Pair) -> Tensor:
    """UNFOLD on a 4-D tensor (no argument checks: for decompositions that made their own)."""
    return apply(
        Op.UNFOLD, x, kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride
    )


_POSITIVE = (("kernel size", "kernel"), ("dilation", "dilation"), ("stride", "stride"))


def _geometry(kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> tuple[Pair, ...]:
    """(kernel, dilation, padding, stride) as pairs, after PyTorch's im2col/col2im checks in
    its order."""
    k, d = pair(kernel_size), pair(dilation, "dilation")
    p, s = pair(padding, "padding"), pair(stride, "stride")
    for (what, short), v in zip(_POSITIVE, (k, d, s), strict=True):
        if v[0] <= 0 or v[1] <= 0:
            raise RuntimeError(
                f"{what} should be greater than zero, but got {short}_height: {v[0]} "
                f"{short}_width: {v[1]}"
            )
        if what == "dilation" and (p[0] < 0 or p[1] < 0):
            raise RuntimeError(
                f"padding should be non-negative, but got pad_height: {p[0]} pad_width: {p[1]}"
            )
    return k, d, p, s


def unfold(
    input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """Sliding local blocks of a (N, C, H, W) or (C, H, W) tensor as columns: (N, C*kh*kw, L)."""
    k, d, p, s = _geometry(kernel_size, dilation, padding, stride)
    if input.ndim < 3:  # PyTorch's im2col shape check reads input.size(1) and input.size(2)
        dim = 1 if input.ndim < 2 else 2
        if input.ndim == 0:
            raise IndexError("Dimension specified as 1 but tensor has no dimensions")
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-input.ndim}, "
            f"{input.ndim - 1}], but got {dim})"
        )
    if input.ndim not in (3, 4) or any(n == 0 for n in input.shape[-3:]):
        raise RuntimeError(
            "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
            f"dimensions for input, but got: {list(input.shape)}"
        )
    require_float(input, "im2col_out_cpu", bool_ok=True)
    if input.ndim == 3:
        return R.squeeze(im2col(R.unsqueeze(input, 0), k, d, symmetric(p), s), 0)
    return im2col(input, k, d, symmetric(p), s)


def fold(
    input: Tensor,
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """Sum columns (N, C*kh*kw, L) or (C*kh*kw, L) back into (N, C, *output_size) windows."""
    size = pair(output_size, "output_size")
    k, d, p, s = _geometry(kernel_size, dilation, padding, stride)
    if input.ndim not in (2, 3) or any(n == 0 for n in input.shape[-2:]):
        raise RuntimeError(
            "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
            f"non-zero dimensions for input, but got: {list(input.shape)}"
        )
    require_float(input, "col2im_out_cpu", bool_ok=True)
    x = R.unsqueeze(input, 0) if input.ndim == 2 else input
    out = apply(
        Op.FOLD,
        x,
        output_size=size,
        kernel_size=k,
        dilation=d,
        padding=symmetric(p),
        stride=s,
    )
    return R.squeeze(out, 0) if input.ndim == 2 else out
