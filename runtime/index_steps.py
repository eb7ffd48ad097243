"""INDEX_ADD, SCATTER_ADD and GATHER of compiled programs, into pooled buffers (Note [compiled
scatter])."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from math import prod
from typing import Any

import numpy as np

from ..codegen.addresses import address
from ..ir.graph import Eqn
from ..ir.shapes import split_index

# the executor's reader and fallback (the NumPy rule), passed in: executor imports this module
Read = Callable[[Any, dict], np.ndarray]
Fallback = Callable[[Eqn, dict], np.ndarray]


def _compiled(dtype: np.dtype) -> bool:
    from ..codegen import scatter  # imports llvmlite.ir (~10 ms): lazily

    return scatter.supported(dtype)


def _accumulate(out: np.ndarray, src: np.ndarray, dst_off: np.ndarray, run: int) -> None:
    from ..codegen import scatter

    dst_off = np.ascontiguousarray(dst_off.reshape(-1), np.int64)
    src_off = np.arange(dst_off.size, dtype=np.int64) * run
    scatter.scatter_add_(out, np.ascontiguousarray(src), dst_off, src_off, run)


def _offset_grid(view: np.ndarray, out: np.ndarray, m: int) -> np.ndarray:
    """The element offset in ``out`` of each position of ``view``'s first ``m`` axes."""
    item = out.itemsize
    base = (view.__array_interface__["data"][0] - out.__array_interface__["data"][0]) // item
    grid = np.full((1,) * m, base, np.int64)
    for d in range(m):
        shape = [1] * m
        shape[d] = view.shape[d]
        grid = grid + (
            np.arange(view.shape[d], dtype=np.int64) * (view.strides[d] // item)
        ).reshape(shape)
    return grid


def _dense_tail(view: np.ndarray, m: int) -> bool:
    """Whether ``view``'s axes from ``m`` on are one C-contiguous run."""
    step = view.itemsize
    for d in range(view.ndim - 1, m - 1, -1):
        if view.shape[d] != 1 and view.strides[d] != step:
            return False
        step *= view.shape[d]
    return True


def _zero_outside(out: np.ndarray, basic: tuple) -> None:
    """Zeros in ``out`` wherever a basic index along one axis does not write; all of ``out``
    for any other basic index (a pooled buffer holds the last call's values)."""
    cut = [(d, b) for d, b in enumerate(basic) if b != slice(None)]
    if len(cut) != 1 or any(b is None for b in basic):
        out.fill(0)
        return
    d, b = cut[0]
    if isinstance(b, slice):
        start, stop, step = b.indices(out.shape[d])
        if step != 1:
            out.fill(0)
            return
    else:
        start = b % out.shape[d] if out.shape[d] else 0
        stop = start + 1
    lead = (slice(None),) * d
    out[(*lead, slice(0, start))] = 0
    out[(*lead, slice(max(start, stop), None))] = 0


def index_add_into(e: Eqn, env: dict, bufs: Any, read: Read, fallback: Fallback) -> np.ndarray:
    """``index_add`` into ``out`` (pooled): zeros, then the cotangent written into the view a
    basic index selects, or added by the compiled loop along a tensor index (in np.add.at's
    order: the same bits)."""
    g, dtype = read(e.inputs[0], env), np.dtype(e.out.aval.dtype.np)
    if g.dtype != dtype or not _compiled(dtype):
        return fallback(e, env)
    out = bufs.get(e.out)[0]
    basic, positions = split_index(e.attrs["spec"])
    view = out[(*basic, Ellipsis)]
    if not positions:  # a zero-padded write (Note [index writes])
        _zero_outside(out, basic)
        np.add(g, np.zeros((), dtype), out=view)  # 0 + g, as the rule: -0.0 becomes 0.0
        return out
    out.fill(0)
    full: list[Any] = [slice(None)] * view.ndim
    for p, a in zip(positions, e.inputs[1:], strict=True):
        full[p] = read(a, env)
    m = max(positions) + 1
    if not _dense_tail(view, m):
        m = view.ndim
    tail = view.shape[m:]
    dst_off = _offset_grid(view, out, m)[tuple(full[:m])]  # NumPy's index errors, as the rule
    src = np.broadcast_to(g, dst_off.shape + tail)
    _accumulate(out, src, dst_off, prod(tail))
    return out


_UNSET = object()
_RAW: dict[np.dtype, Any] = {}  # dtype -> codegen.scatter.raw_function's loop (or None)


@lru_cache(maxsize=256)
def _scatter_layout(index_shape: tuple[int, ...], strides: tuple[int, ...], axis: int) -> tuple:
    """For an index of this shape into an output with these strides (in elements): the
    offset grid of the axes other than ``axis``, the source offsets (C order) and their
    address (the arrays are kept here, so the address stays valid)."""
    rest = np.zeros((1,) * len(index_shape), np.int64)
    for d, k in enumerate(index_shape):
        if d != axis:
            shape = [1] * len(index_shape)
            shape[d] = k
            rest = rest + (np.arange(k, dtype=np.int64) * strides[d]).reshape(shape)
    src_off = np.arange(prod(index_shape), dtype=np.int64)
    return rest, src_off, src_off.ctypes.data


# (dtype, index dtype, gather) -> codegen.scatter.along_function's loop (or None)
_ALONG: dict[tuple[np.dtype, np.dtype, bool], Any] = {}


def _along(dtype: np.dtype, index: np.dtype, gather: bool) -> Any:
    """The scatter's (or with ``gather`` the gather's) loop along an axis for these dtypes, or
    None: kept here by the dtypes themselves (``dtype.name`` costs microseconds a call)."""
    key = (dtype, index, gather)
    loop = _ALONG.get(key, _UNSET)
    if loop is _UNSET:
        from ..codegen.scatter import along_function  # imports llvmlite.ir: lazily

        wide = index in (np.int64, np.int32)
        loop = _ALONG[key] = along_function(dtype, index.name, gather) if wide else None
    return loop


@lru_cache(maxsize=256)
def _rest_offsets(index_shape: tuple[int, ...], strides: tuple[int, ...], axis: int) -> tuple:
    """The offsets of the axes other than ``axis`` at each index position (C order), and
    their address (kept here: the address stays valid)."""
    rest = _scatter_layout(index_shape, strides, axis)[0]
    full = np.ascontiguousarray(np.broadcast_to(rest, index_shape), dtype=np.int64)
    return full, address(full)


def _fits(index_shape: tuple[int, ...], shape: tuple[int, ...], axis: int) -> bool:
    """Whether the index's extents along the other axes are within the output's."""
    for d, k in enumerate(index_shape):  # noqa: SIM110 - a loop, not a generator (every step)
        if k > shape[d] and d != axis:
            return False
    return True


def scatter_add_into(e: Eqn, env: dict, bufs: Any, read: Read, fallback: Fallback) -> np.ndarray:
    """``scatter_add`` into ``out`` (pooled) by the compiled loop, in np.add.at's order: the
    loop that reads the index itself (Note [scatter along an axis]) for an int64 index of the
    source's shape, else the one over offsets computed here. (Written for speed: cross
    entropy's backward runs it every step.)"""
    src, index = read(e.inputs[0], env), read(e.inputs[1], env)
    axis = e.attrs["axis"]
    dtype, shape = np.dtype(e.out.aval.dtype.np), tuple(int(s) for s in e.attrs["shape"])
    # (an int32 index: a max pool's, Note [max pool by its index])
    along = _along(dtype, index.dtype, False)
    if (
        along is not None
        and src.dtype == dtype
        and src.shape == index.shape
        and index.ndim == len(shape) > 0  # (a 0-d scatter: the offsets rule)
        and index.flags.c_contiguous
        and src.flags.c_contiguous
        and _fits(index.shape, shape, axis)
    ):
        out, out_ptr = bufs.get(e.out)
        out.fill(0)
        item = out.itemsize
        strides = tuple(s // item for s in out.strides)
        rest, rest_ptr = _rest_offsets(index.shape, strides, axis)
        n = shape[axis]
        if along(out_ptr, address(src), address(index), rest_ptr, index.size, n, strides[axis]):
            return fallback(e, env)  # an index out of range: the rule's IndexError
        return out
    return _scatter_by_offsets(e, env, bufs, src, index, fallback)


def _scatter_by_offsets(
    e: Eqn, env: dict, bufs: Any, src: np.ndarray, index: np.ndarray, fallback: Fallback
) -> np.ndarray:
    """SCATTER_ADD by the loop over offsets computed with NumPy (Note [compiled scatter])."""
    axis = e.attrs["axis"]
    dtype, shape = np.dtype(e.out.aval.dtype.np), tuple(int(s) for s in e.attrs["shape"])
    fn = _RAW.get(dtype, _UNSET)
    if fn is _UNSET:
        from ..codegen.scatter import raw_function  # imports llvmlite.ir: lazily

        fn = _RAW[dtype] = raw_function(dtype)
    if src.dtype != dtype or src.ndim == 0 or index.ndim != len(shape) or fn is None:
        return fallback(e, env)
    n = shape[axis]
    fits = all(k <= s for d, (k, s) in enumerate(zip(index.shape, shape, strict=True)) if d != axis)
    lo, hi = (index.min(), index.max()) if index.size else (0, 0)
    if not fits or lo < -n or hi >= n:
        return fallback(e, env)  # the rule's IndexError
    out, out_ptr = bufs.get(e.out)
    out.fill(0)
    if index.size == 0:
        return out
    item = out.itemsize
    if lo < 0:
        index = np.where(index < 0, index + n, index)
    strides = tuple(s // item for s in out.strides)
    rest, src_off, src_off_ptr = _scatter_layout(index.shape, strides, axis)
    dst_off = index.astype(np.int64) * strides[axis]
    dst_off += rest  # a fresh C-contiguous array of the index's shape
    if src.shape != index.shape:
        src = src[tuple(slice(0, k) for k in index.shape)]
    if not src.flags.c_contiguous:
        src = np.ascontiguousarray(src)
    fn(out_ptr, address(src), address(dst_off), src_off_ptr, dst_off.size, 1)
    return out


def gather_into(a: np.ndarray, index: np.ndarray, axis: int, out: np.ndarray) -> bool:
    """``out[...] = np.take_along_axis(a, index, axis)`` (``out`` pooled, the index's shape)
    by the compiled loop (Note [gather along an axis] in codegen/scatter.py); False, with
    ``out`` unspecified, where the caller must take the NumPy rule: a layout the loop does not
    read, or an index out of range (the rule raises its IndexError)."""
    loop = _along(a.dtype, index.dtype, True)
    if (
        loop is None
        or not index.size
        or out.dtype != a.dtype
        or out.shape != index.shape
        or not 0 <= axis < a.ndim == index.ndim
        or not (a.flags.c_contiguous and index.flags.c_contiguous and out.flags.c_contiguous)
        or not _fits(index.shape, a.shape, axis)
    ):
        return False
    strides = tuple(s // a.itemsize for s in a.strides)
    rest, rest_ptr = _rest_offsets(index.shape, strides, axis)
    ptrs = address(out), address(a), address(index), rest_ptr
    return not loop(*ptrs, index.size, a.shape[axis], strides[axis])
