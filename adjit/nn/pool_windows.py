"""N-d pooling windows: output sizes, UNFOLD-based window columns, index tables, first maxima."""

from __future__ import annotations

import math

import numpy as np

from adjit.ir.ops import Op
from adjit.nn.functional_fold import im2col
from adjit.runtime import functional as R
from adjit.runtime.dispatch import apply
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.tensor import Tensor

Dims = tuple[int, ...]
Pads = tuple[tuple[int, int], ...]

# Note [N-d pooling windows]: a pooling op reads its windows as one (N, C, K, L) tensor, K the
# window elements and L the output positions, both in row-major order over the spatial dims
# (PyTorch's loop order, so "first maximum" means the same thing). 1-d and 2-d windows are one
# UNFOLD (Note [convolution as UNFOLD + MATMUL] in functional_conv.py); 3-d ones are two: the
# (H, W) windows of every depth slice, then a (kd, 1) UNFOLD along depth of those columns. The
# backward is FOLD(s). Windows that are not a fixed stride (adaptive, fractional) gather their
# elements through an index table into the flattened plane instead.


def out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape: in ceil mode the last window must start inside."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def side_pads(size: Dims, k: Dims, s: Dims, p: Dims, d: Dims, out: Dims) -> Pads:
    """Per-side padding: ceil mode's last window may reach past the right padding."""
    return tuple(
        (pp, pp + max((o - 1) * ss + dd * (kk - 1) + 1 - (n + 2 * pp), 0))
        for n, kk, ss, pp, dd, o in zip(size, k, s, p, d, out, strict=True)
    )


def _unfold_depth(a: Tensor, k: int, s: int, pads: tuple[int, int], d: int) -> Tensor:
    """(N, C, D, X) -> (N, C, k, OD, X): windows along D of every column X."""
    n, c, _, x = a.shape
    cols = im2col(a, (k, 1), (d, 1), (pads, (0, 0)), (s, 1))
    return R.reshape(cols, (n, c, k, cols.shape[2] // x, x))


def windows(a: Tensor, k: Dims, s: Dims, pads: Pads, d: Dims) -> Tensor:
    """(N, C, *spatial) -> the windows as (N, C, K, L), zero outside the input."""
    n, c = a.shape[:2]
    if len(k) == 1:
        flat = R.reshape(a, (n, c, 1, a.shape[2]))
        cols = im2col(flat, (1, k[0]), (1, d[0]), ((0, 0), pads[0]), (1, s[0]))
        return R.reshape(cols, (n, c, k[0], cols.shape[2]))
    if len(k) == 2:
        cols = im2col(a, (k[0], k[1]), (d[0], d[1]), (pads[0], pads[1]), (s[0], s[1]))
        return R.reshape(cols, (n, c, k[0] * k[1], cols.shape[2]))
    depth, h, w = a.shape[2:]
    plane = R.reshape(a, (n, c * depth, h, w))
    cols = im2col(plane, (k[1], k[2]), (d[1], d[2]), (pads[1], pads[2]), (s[1], s[2]))
    khw, lhw = k[1] * k[2], cols.shape[2]
    cols = R.reshape(cols, (n, c, depth, khw * lhw))
    cols = _unfold_depth(cols, k[0], s[0], pads[0], d[0])  # (N, C, kd, OD, khw * lhw)
    od = cols.shape[3]
    cols = R.permute(R.reshape(cols, (n, c, k[0], od, khw, lhw)), (0, 1, 2, 4, 3, 5))
    return R.reshape(cols, (n, c, k[0] * khw, od * lhw))


def combine(tables: list[np.ndarray], how: str) -> np.ndarray:
    """Per-dim (k_i, o_i) tables combined into (K, L), row-major over the dims."""
    out = np.zeros((1, 1), np.int64) if how == "add" else np.ones((1, 1), tables[0].dtype)
    for t in tables:
        a, b = out[:, None, :, None], t[None, :, None, :]
        out = {"add": np.add, "and": np.logical_and, "mul": np.multiply}[how](a, b).reshape(
            a.shape[0] * t.shape[0], a.shape[2] * t.shape[1]
        )
    return out


def positions(size: Dims, k: Dims, s: Dims, p: Dims, d: Dims, out: Dims) -> list[np.ndarray]:
    """Per dim, (k_i, o_i): the input coordinate window element k reads at output o."""
    return [
        np.arange(o)[None, :] * ss - pp + np.arange(kk)[:, None] * dd
        for kk, ss, pp, dd, o in zip(k, s, p, d, out, strict=True)
    ]


def inside(size: Dims, coords: list[np.ndarray]) -> np.ndarray | None:
    """(K, L): which window elements lie in the input (None when all do)."""
    masks = [(c >= 0) & (c < n) for c, n in zip(coords, size, strict=True)]
    if all(m.all() for m in masks):
        return None
    return combine(masks, "and")


def flat_index(size: Dims, coords: list[np.ndarray]) -> np.ndarray:
    """(K, L): PyTorch's flattened per-plane input index of each window element."""
    strides = [math.prod(size[i + 1 :]) for i in range(len(size))]
    return combine([c * st for c, st in zip(coords, strides, strict=True)], "add")


def empty_windows(size: Dims, coords: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """(L,) which windows hold no input element (only with dilation: every element lands in
    the padding or beyond the input), and PyTorch's index for them: its loops start each dim at
    the first element past the left padding, wherever that is (None when no window is empty)."""
    has = [((c >= 0) & (c < n)).any(0)[None] for c, n in zip(coords, size, strict=True)]
    full = combine(has, "and")[0]
    if full.all():
        return None
    strides = [math.prod(size[i + 1 :]) for i in range(len(size))]
    starts = [c[np.argmax(c >= 0, axis=0), np.arange(c.shape[1])][None] for c in coords]
    at = combine([st * m for st, m in zip(starts, strides, strict=True)], "add")[0]
    return ~full, at


def lowest(x: Tensor) -> float | int:
    if x.dtype.is_floating_point:
        return -math.inf
    return int(np.iinfo(x.dtype.np).min)


def first_max(cols: Tensor, mask: np.ndarray | None) -> tuple[Tensor, Tensor]:
    """Window maxima (N, C, L) and each one's window position (N, C, 1, L), as PyTorch's CPU
    loops pick it: the first maximum, or the last NaN (``val > max || isnan(val)``); elements
    outside the input never win. The value flows from that one element only (AMAX would share
    the gradient among ties)."""
    top, first, pos = _first_position(cols, mask)
    if cols.dtype.is_floating_point:
        return R.sum(R.where(pos == first, cols, 0.0), 2), first
    return R.squeeze(top, 2), first


def first_position(cols: Tensor, mask: np.ndarray | None) -> Tensor:
    """first_max's window positions (N, C, 1, L) alone, with no gradient through them."""
    with no_grad():
        return _first_position(cols, mask)[1]


def _first_position(cols: Tensor, mask: np.ndarray | None) -> tuple[Tensor, Tensor, Tensor]:
    """The window maxima (N, C, 1, L), first_max's positions of them, and the positions."""
    k = cols.shape[2]
    pos = Tensor._make(np.arange(k, dtype=_position_dtype(k)).reshape(1, 1, k, 1))
    ok = None if mask is None else Tensor._make(mask[None, None])
    if ok is not None:
        cols = R.where(ok, cols, lowest(cols))
    top = R.amax(cols, 2, keepdim=True)
    hit = cols == top
    if ok is not None:
        hit = R.logical_and(hit, ok)
    first = R.amin(R.where(hit, pos, k), 2, keepdim=True)
    if cols.dtype.is_floating_point:
        last_nan = R.amax(R.where(R.isnan(cols), pos, -1), 2, keepdim=True)
        first = R.where(last_nan >= 0, last_nan, first)
    return top, first, pos


def pick(x: Tensor, index: Tensor) -> Tensor:
    """(N, C, L): the elements of ``x`` (N, C, *spatial) at the flat per-plane ``index``
    (N, C, L) (picked_index's, in range by construction), its gradient a scatter-add back
    (Note [max pool by its index])."""
    n, c = x.shape[:2]
    flat = R.reshape(x, (n, c, math.prod(x.shape[2:])))
    return apply(Op.GATHER, flat, index, axis=2)


def _position_dtype(k: int) -> type:
    """Window positions as floats (Note [window positions as floats]), exact below 2**24."""
    return np.float32 if k < 1 << 24 else np.float64


# Note [window positions as floats]: first_max picks the first maximum's position with
# elementwise selects and a min over the window, as large as the columns (resnet18's max pool:
# 1.2M elements). With int64 positions that kernel ran 4 lanes to a vector and converted
# between float compares and integer selects; float32 positions (exact: a window has fewer
# than 2**24 elements) run it 8 lanes wide (~2x faster). The (N, C, 1, L) result is converted
# to int64 once, where it indexes (picked_index).


def picked_index(
    table: np.ndarray | Tensor, first: Tensor, narrow: bool = False, dims: Dims | None = None
) -> Tensor:
    """(N, C, L): the flat input index (``table``, (K, L) or (N, C, K, L)) at ``first`` (a
    window position, Note [window positions as floats]); int64, or int32 when ``narrow``
    (a plane of fewer than 2**31 elements: Note [max pool by its index]). With the windows'
    per-dim sizes ``dims``, a fixed-stride table is not read but computed (Note [the picked
    index as arithmetic])."""
    from adjit.ir.dtypes import int32, int64

    first = first.to(int32 if narrow else int64)
    n, c, _, l_ = first.shape
    kind = np.int32 if narrow else np.int64
    if dims is not None and not isinstance(table, Tensor) and _additive(table):
        return _window_index(table, first, dims, kind)
    t = table if isinstance(table, Tensor) else Tensor._make(table.astype(kind)[None, None])
    t = R.expand(t, (n, c, *t.shape[2:]))
    first = R.clamp(first, max=t.shape[2] - 1)  # (a window with no element: see empty_windows)
    # (in range by construction: no CHECK, whose mask would live as long as the index does)
    return R.reshape(apply(Op.GATHER, t, first, axis=2), (n, c, l_))


# Note [the picked index as arithmetic]
# A fixed-stride window's table is a sum: element k = (k_1, ..., k_d) (row-major, radices the
# window's sizes) of output l reads flat index table[0, l] + sum_i k_i d_i S_i (dilation d_i,
# plane stride S_i). So the picked index is that sum of ``first``'s digits (a floor division
# and a remainder by constants per dim) plus the (L,) row of window element 0: elementwise work
# fused into first_max's kernel. The GATHER through the (K, L) table expanded to (N, C, K, L)
# it replaces made that table a 4.7 MB array and ran as NumPy fancy indexing: 3 ms of
# resnet18 b8's 43 ms fine-tune step (its one max pool, (8, 64, 9, 256) windows). Adaptive
# windows (not a sum) keep the GATHER.


def _additive(table: np.ndarray) -> bool:
    """Whether ``table`` (K, L) is table[k, 0] + table[0, l] - table[0, 0] throughout."""
    return bool((table == table[:, :1] + table[:1, :] - table[0, 0]).all())


def _window_index(table: np.ndarray, first: Tensor, dims: Dims, kind: type) -> Tensor:
    """picked_index of an additive table (Note [the picked index as arithmetic])."""
    n, c, _, l_ = first.shape
    k = table.shape[0]
    first = R.clamp(first, max=k - 1)  # (a window with no element: see empty_windows)
    index = Tensor._make(table[0].astype(kind)[None, None, None, :])  # window element 0
    radix = k
    for size in dims:
        radix //= size
        step = int(table[radix, 0] - table[0, 0]) if size > 1 else 0
        if step:
            digit = R.floor_divide(first, radix) if radix > 1 else first
            digit = R.remainder(digit, size) if radix * size < k else digit
            index = index + digit * step
    index = R.expand(index, (n, c, 1, l_))  # (a window of one element adds no digit)
    return R.reshape(index, (n, c, l_))
