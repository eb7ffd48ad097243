"""Compiled UNFOLD (im2col) and FOLD (col2im): one LLVM loop nest per op and float dtype."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

import numpy as np
from llvmlite import ir

from ..ir.windows import Padding, Pair, blocks, inside_span
from .counted import for_range
from .jit import CompiledKernel, codegen_error, compile_ir

# Note [compiled windows]: NumPy runs im2col / col2im as one strided copy or ``+=`` per kernel
# offset, looping in C over the innermost axis only: in resnet18's deep layers that axis is a
# row of 2-16 pixels, so per-row overhead dominated (FOLD 2.6 ms NumPy vs 0.8 ms here for
# (8, 576, 256) columns onto 16x16 maps). These kernels take the geometry as arguments, so each
# op compiles once per dtype (then comes from the kernel cache). Per (image channel, kernel
# offset, window row) they copy or add the window columns that lie inside the input, ranges
# precomputed in Python (``ir.windows.inside_span``): no bounds test in the inner loop, which
# vectorizes for stride 1. FOLD adds offset by offset in the order the strided NumPy rule does:
# the same bits.
#
# Note [strided columns]: the columns FOLD gets in a conv's backward are a permuted view (the
# GEMM for the whole batch yields (C kh kw, N, L), Note [one GEMM for the batch]); the kernels
# address the columns by their first two strides, so the view is read in place instead of
# being copied first (a copy as large as the columns). Only L must be contiguous.

I64 = ir.IntType(64)
_FLOATS = {"float32": ir.FloatType(), "float64": ir.DoubleType()}
# src, dst, row ranges, column ranges, then nc h w kh kw dh dw pad_top pad_left sh sw oh ow,
# channels and the element strides of the columns' first two axes (Note [strided columns])
_N_INTS = 16
_SIGNATURE = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 4, *[ctypes.c_int64] * _N_INTS)


class _Nest:
    """The loop nest of one op: builder, element type and named arguments."""

    def __init__(self, op: str, dtype: str) -> None:
        self.ft, self.symbol = _FLOATS[dtype], f"adjit_{op}_{dtype}"
        self.mod = ir.Module(name=self.symbol)
        fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType()] * 4 + [I64] * _N_INTS)
        fn = ir.Function(self.mod, fnty, self.symbol)
        fn.attributes.add("nounwind")
        self.src, self.dst, self.rows, self.cols = fn.args[:4]
        for a in fn.args[:4]:
            a.add_attribute("noalias")
        (self.nc, self.h, self.w, self.kh, self.kw, self.dh, self.dw) = fn.args[4:11]
        (self.pt, self.pl, self.sh, self.sw, self.oh, self.ow) = fn.args[11:17]
        self.c, self.stride_n, self.stride_k = fn.args[17:]
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))

    def at(self, base: ir.Value, off: ir.Value, ty: ir.Type | None = None) -> ir.Value:
        return self.b.gep(base, [off], source_etype=ty or self.ft)

    def bound(self, table: ir.Value, k: ir.Value, which: int) -> ir.Value:
        b = self.b
        off = b.add(b.mul(k, ir.Constant(I64, 2)), ir.Constant(I64, which))
        return b.load(self.at(table, off, I64), typ=I64)

    def emit(self, op: str) -> str:
        b, zero = self.b, ir.Constant(I64, 0)
        with for_range(b, zero, self.nc, "p") as p, for_range(b, zero, self.kh, "i") as i:
            rows = self.bound(self.rows, i, 0), self.bound(self.rows, i, 1)
            with for_range(b, zero, self.kw, "j") as j:
                cols = self.bound(self.cols, j, 0), self.bound(self.cols, j, 1)
                row = b.add(b.mul(b.add(b.mul(b.srem(p, self.c), self.kh), i), self.kw), j)
                block = b.add(  # its (oh, ow) columns: image p // C, row (p % C, i, j)
                    b.mul(b.sdiv(p, self.c), self.stride_n), b.mul(row, self.stride_k)
                )
                image = b.mul(p, b.mul(self.h, self.w))  # its (h, w) input
                col0 = b.sub(b.mul(j, self.dw), self.pl)  # input column of window column 0
                step = self.unfold_rows if op == "unfold" else self.fold_rows
                step(i, rows, cols, block, image, col0)
        b.ret_void()
        return str(self.mod)

    def input_row(self, y: ir.Value, i: ir.Value) -> ir.Value:
        b = self.b
        return b.sub(b.add(b.mul(y, self.sh), b.mul(i, self.dh)), self.pt)

    def unfold_rows(self, i: ir.Value, rows: tuple, cols: tuple, block: ir.Value,
                    image: ir.Value, col0: ir.Value) -> None:  # fmt: skip
        """Window rows [r0, r1), columns [c0, c1): copied from the input (the caller zeroed
        ``dst`` when some window reaches into the padding)."""
        b = self.b
        with for_range(b, rows[0], rows[1], "y") as y:
            out_row = b.add(block, b.mul(y, self.ow))
            in_row = b.add(image, b.add(b.mul(self.input_row(y, i), self.w), col0))
            with for_range(b, cols[0], cols[1], "x") as x:
                v = b.load(self.at(self.src, b.add(in_row, b.mul(x, self.sw))), typ=self.ft)
                b.store(v, self.at(self.dst, b.add(out_row, x)))

    def fold_rows(self, i: ir.Value, rows: tuple, cols: tuple, block: ir.Value,
                  image: ir.Value, col0: ir.Value) -> None:  # fmt: skip
        """Window rows [r0, r1), columns [c0, c1): added onto the input pixels they read."""
        b = self.b
        with for_range(b, rows[0], rows[1], "y") as y:
            col_row = b.add(block, b.mul(y, self.ow))
            out_row = b.add(image, b.add(b.mul(self.input_row(y, i), self.w), col0))
            with for_range(b, cols[0], cols[1], "x") as x:
                ptr = self.at(self.dst, b.add(out_row, b.mul(x, self.sw)))
                v = b.load(self.at(self.src, b.add(col_row, x)), typ=self.ft)
                b.store(b.fadd(b.load(ptr, typ=self.ft), v), ptr)


@cache
def _kernel(op: str, dtype: str) -> tuple[CompiledKernel, Callable[..., None]]:
    """The compiled loop nest (kept alive with its entry point)."""
    nest = _Nest(op, dtype)
    code = compile_ir(nest.emit(op), f"{op}_{dtype}", nest.symbol)
    return code, _SIGNATURE(code.address)


@cache
def _available(op: str, dtype: str) -> bool:
    try:
        _kernel(op, dtype)
    except codegen_error():  # no LLVM for this host: the caller takes the NumPy rule
        return False
    return True


def supported(op: str, dtype: np.dtype) -> bool:
    """Whether ``op`` ("unfold" or "fold") has a compiled kernel for ``dtype``."""
    return dtype.name in _FLOATS and _available(op, dtype.name)


def _ranges(size: Pair, kernel_size: Pair, dilation: Pair, padding: Padding,
            stride: Pair) -> tuple[np.ndarray, np.ndarray, Pair]:  # fmt: skip
    oh, ow = blocks(size, kernel_size, dilation, padding, stride)
    tables = [
        np.array([inside_span(k * d, pad[0], n, s, count) for k in range(kk)], np.int64)
        for kk, d, pad, n, s, count in zip(
            kernel_size, dilation, padding, size, stride, (oh, ow), strict=True
        )
    ]
    return tables[0], tables[1], (oh, ow)


def _call(op: str, src: np.ndarray, dst: np.ndarray, image: tuple[int, ...], columns: np.ndarray,
          kernel_size: Pair, dilation: Pair, padding: Padding, stride: Pair) -> None:  # fmt: skip
    """``image``: (N, C, H, W); ``columns``: whichever of src and dst holds the columns."""
    n, c, h, w = image
    rows, cols, (oh, ow) = _ranges((h, w), kernel_size, dilation, padding, stride)
    item = columns.itemsize
    fn = _kernel(op, src.dtype.name)[1]
    fn(src.ctypes.data, dst.ctypes.data, rows.ctypes.data, cols.ctypes.data, n * c, h, w,
       *kernel_size, *dilation, padding[0][0], padding[1][0], *stride, oh, ow, c,
       columns.strides[0] // item, columns.strides[1] // item)  # fmt: skip


def strided_columns(cols: np.ndarray) -> bool:
    """Whether the kernels read ``cols`` (N, C kh kw, L) in place: Note [strided columns]."""
    item = cols.itemsize
    return cols.strides[2] == item and cols.strides[0] % item == 0 and cols.strides[1] % item == 0


def unfold_into(x: np.ndarray, out: np.ndarray, *, kernel_size: Pair, dilation: Pair,
                padding: Padding, stride: Pair) -> np.ndarray:  # fmt: skip
    """``ir.windows.unfold`` of a C-contiguous float array into C-contiguous ``out``."""
    if any(padding[0]) or any(padding[1]):
        out.fill(0)
    _call("unfold", x, out, x.shape, out, kernel_size, dilation, padding, stride)
    return out


def fold_into(cols: np.ndarray, out: np.ndarray, *, output_size: Pair, kernel_size: Pair,
              dilation: Pair, padding: Padding, stride: Pair) -> np.ndarray:  # fmt: skip
    """``ir.windows.fold`` of a float array (``strided_columns``) into C-contiguous ``out``."""
    out.fill(0)
    _call("fold", cols, out, out.shape, cols, kernel_size, dilation, padding, stride)
    return out
