"""Compiled index accumulation: ``dst[dst_off[k] + j] += src[src_off[k] + j]`` in order."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

import numpy as np
from llvmlite import ir

from .counted import for_range
from .jit import CompiledKernel, codegen_error, compile_ir

# Note [compiled scatter]
# INDEX_ADD with a tensor index (an embedding's backward: rows of the cotangent added into
# the rows of the table the tokens pick) and SCATTER_ADD (the backward of gather: cross
# entropy's picked log-probabilities) ran as ``np.add.at``, which dispatches per element: 5.7
# ms for 2048 rows of 256 floats into a 4000-row table. Sorting and ``np.add.reduceat`` took
# 3.8 ms, a ``bincount`` over flat offsets 6.8 ms. This loop adds, for each index position k
# in order, a run of ``run`` contiguous source elements onto the run its offset picks: serial
# over k (duplicate indices must add, and in order), vectorized along the run. The offsets are
# computed by NumPy's own indexing on a small grid (runtime/index_steps.py), so negative and
# broadcast indices and the index-error mean exactly what they mean for the NumPy rule. Each
# output element receives its additions in the order ``np.add.at`` makes them, starting from
# zero, with plain (not fast-math) adds: the same bits as the NumPy rule.

I64 = ir.IntType(64)
_TYPES: dict[str, ir.Type] = {
    "float32": ir.FloatType(),
    "float64": ir.DoubleType(),
    "int32": ir.IntType(32),
    "int64": I64,
}
_SIGNATURE = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 4, ctypes.c_int64, ctypes.c_int64)


def _emit(dtype: str) -> tuple[str, str]:
    """LLVM IR of ``void f(ptr dst, ptr src, ptr dst_off, ptr src_off, i64 n, i64 run)``."""
    t = _TYPES[dtype]
    symbol = f"adjit_scatter_add_{dtype}"
    mod = ir.Module(name=symbol)
    fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType()] * 4 + [I64, I64])
    fn = ir.Function(mod, fnty, symbol)
    fn.attributes.add("nounwind")
    dst, src, dst_off, src_off, n, run = fn.args
    for p in fn.args[:4]:
        p.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    zero = ir.Constant(I64, 0)
    add = b.fadd if isinstance(t, ir.FloatType | ir.DoubleType) else b.add
    with for_range(b, zero, n, "k") as k:
        o = b.load(b.gep(dst_off, [k], source_etype=I64), typ=I64)
        s = b.load(b.gep(src_off, [k], source_etype=I64), typ=I64)
        with for_range(b, zero, run, "j") as j:
            at = b.gep(dst, [b.add(o, j)], source_etype=t)
            v = b.load(b.gep(src, [b.add(s, j)], source_etype=t), typ=t)
            b.store(add(b.load(at, typ=t), v), at)
    b.ret_void()
    return str(mod), symbol


@cache
def _kernel(dtype: str) -> tuple[CompiledKernel, Callable[..., None]]:
    text, symbol = _emit(dtype)
    code = compile_ir(text, symbol, symbol)
    return code, _SIGNATURE(code.address)  # the code object keeps the function alive


@cache
def _available(dtype: str) -> bool:
    try:
        _kernel(dtype)
    except codegen_error():  # no LLVM for this host: the caller takes the NumPy rule
        return False
    return True


def supported(dtype: np.dtype) -> bool:
    """Whether ``dtype`` has a compiled accumulate loop."""
    return dtype.name in _TYPES and _available(dtype.name)


def scatter_add_(dst: np.ndarray, src: np.ndarray, dst_off: np.ndarray, src_off: np.ndarray,
                 run: int) -> None:  # fmt: skip
    """For k in order: ``dst.flat[dst_off[k] : +run] += src.flat[src_off[k] : +run]``.
    ``dst`` and ``src``: C-contiguous, one ``supported`` dtype, not overlapping; the offsets:
    C-contiguous int64 of one size, every run inside its array (the caller checks)."""
    assert dst.flags.c_contiguous and src.flags.c_contiguous and dst.dtype == src.dtype
    assert dst_off.dtype == np.int64 and src_off.dtype == np.int64
    assert (
        dst_off.size == src_off.size and dst_off.flags.c_contiguous and src_off.flags.c_contiguous
    )
    if dst_off.size == 0 or run == 0:
        return
    fn = _kernel(dst.dtype.name)[1]
    fn(
        dst.ctypes.data,
        src.ctypes.data,
        dst_off.ctypes.data,
        src_off.ctypes.data,
        dst_off.size,
        run,
    )


# Note [scatter along an axis]
# SCATTER_ADD's offsets (an index array's values times the axis stride, plus the offsets of
# the other axes) took five NumPy calls a step (min, max, astype, a multiply, an add) and its
# index check two of them: with the loop's own call, ~14 µs for cross entropy's 128-row
# backward, 40 µs run between the products of a training step. This loop reads the int64
# index itself: for k in C order, ``i = index[k]`` (plus ``n`` when negative, NumPy's
# wrap-around), then ``dst[rest[k] + i * stride] += src[k]``, with ``rest`` the other axes'
# offsets (made once per layout). The additions are the ones the offset loop makes, in the
# same order: the same bits. An index outside ``[-n, n)`` stops the loop and returns its
# position + 1 (0: done); the caller then takes the NumPy rule, which raises its IndexError.
_ALONG_SIGNATURE = ctypes.CFUNCTYPE(
    ctypes.c_int64, *[ctypes.c_void_p] * 4, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64
)


def _emit_along(dtype: str, index_type: str = "int64", gather: bool = False) -> tuple[str, str]:
    """LLVM IR of ``i64 f(ptr dst, ptr src, ptr index, ptr rest, i64 count, i64 n,
    i64 stride)`` (Note [scatter along an axis]); an int32 index is widened as it is read
    (a max pool's, Note [max pool by its index] in nn/functional_pool.py). With ``gather``
    the loop reads instead: ``dst[k] = src[rest[k] + i * stride]`` (Note [gather along an
    axis])."""
    t, it = _TYPES[dtype], _TYPES[index_type]
    kind = "gather" if gather else "scatter"
    symbol = f"adjit_{kind}_along_{dtype}" + ("" if index_type == "int64" else f"_{index_type}")
    mod = ir.Module(name=symbol)
    fnty = ir.FunctionType(I64, [ir.PointerType()] * 4 + [I64, I64, I64])
    fn = ir.Function(mod, fnty, symbol)
    fn.attributes.add("nounwind")
    dst, src, index, rest, count, n, stride = fn.args
    for p in fn.args[:4]:
        p.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    zero = ir.Constant(I64, 0)
    add = b.fadd if isinstance(t, ir.FloatType | ir.DoubleType) else b.add
    with for_range(b, zero, count, "k") as k:
        i = b.load(b.gep(index, [k], source_etype=it), typ=it)
        i = i if it is I64 else b.sext(i, I64)
        i = b.select(b.icmp_signed("<", i, zero), b.add(i, n), i)
        bad = b.append_basic_block("bad")
        good = b.append_basic_block("good")
        b.cbranch(b.icmp_unsigned(">=", i, n), bad, good)  # (unsigned: negative too)
        b.position_at_end(bad)
        b.ret(b.add(k, ir.Constant(I64, 1)))
        b.position_at_end(good)
        o = b.add(b.load(b.gep(rest, [k], source_etype=I64), typ=I64), b.mul(i, stride))
        if gather:
            v = b.load(b.gep(src, [o], source_etype=t), typ=t)
            b.store(v, b.gep(dst, [k], source_etype=t))
        else:
            at = b.gep(dst, [o], source_etype=t)
            v = b.load(b.gep(src, [k], source_etype=t), typ=t)
            b.store(add(b.load(at, typ=t), v), at)
    b.ret(zero)
    return str(mod), symbol


# Note [gather along an axis]
# A GATHER (take_along_axis) ran as NumPy's index arithmetic: the index's min and max, a
# multiply, an add of the other axes' offsets, ``np.take`` into a fresh array and a copy into
# the pooled buffer, in 64 KB runs of rows: a max pool's pick of its windows' elements
# (resnet18's stem, (8, 64, 1024) by a (8, 64, 256) int32 index) took ~0.6-0.9 ms a step, six
# passes over the index. The scatter's loop read the other way round does it in one: for k in
# C order, ``i = index[k]`` (plus ``n`` when negative, NumPy's wrap-around), ``dst[k] =
# src[rest[k] + i * stride]``. Values are copied, not computed: the same bits. An index outside
# ``[-n, n)`` stops the loop and returns its position + 1; the caller then takes the NumPy
# rule, which raises its IndexError.


_ALONG: dict[tuple[np.dtype, str, bool], Callable[..., int] | None] = {}


def along_function(
    dtype: np.dtype, index_type: str = "int64", gather: bool = False
) -> Callable[..., int] | None:
    """The scatter-along-an-axis loop (with ``gather``, the gather's) for ``dtype`` (native
    byte order) and an index of ``index_type`` (int64 or int32), None where there is none
    (Notes [scatter along an axis], [gather along an axis]); cached."""
    key = (dtype, index_type, gather)
    try:
        return _ALONG[key]
    except KeyError:
        pass
    fn = None
    if dtype.isnative and dtype.name in _TYPES and index_type in ("int64", "int32"):
        try:
            text, symbol = _emit_along(dtype.name, index_type, gather)
            code = compile_ir(text, symbol, symbol)
            fn = _ALONG_SIGNATURE(code.address)
            _HELD.append(code)  # the code object keeps the function alive
        except codegen_error():
            fn = None
    _ALONG[key] = fn
    return fn


_HELD: list[CompiledKernel] = []
_RAW: dict[np.dtype, Callable[..., None] | None] = {}


def raw_function(dtype: np.dtype) -> Callable[..., None] | None:
    """The accumulate loop for ``dtype`` (native byte order), None where there is none
    (cached by dtype: ``dtype.name`` costs microseconds). Called as ``scatter_add_`` does,
    with addresses; the caller ensures what ``scatter_add_`` asserts."""
    try:
        return _RAW[dtype]
    except KeyError:
        pass
    fn = None
    if dtype.isnative and supported(dtype):
        fn = _kernel(dtype.name)[1]
    _RAW[dtype] = fn
    return fn
