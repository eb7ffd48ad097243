"""Compiled UNFOLD (im2col) and FOLD (col2im): one LLVM loop nest per op and float dtype."""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

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
# vectorizes for stride 1. FOLD adds each pixel's terms in the order the strided NumPy rule does
# (offset by offset): the same bits (Note [fold a row at a time]).
#
# Note [strided columns]: the columns FOLD gets in a conv's backward are a permuted view (the
# GEMM for the whole batch yields (C kh kw, N, L), Note [one GEMM for the batch]); the kernels
# address the columns by their first two strides, so the view is read in place instead of
# being copied first (a copy as large as the columns). Only L must be contiguous. UNFOLD writes
# through the same strides: a conv's UNFOLD writes the (C kh kw, N L) matrix its GEMM reads
# (runtime/window_steps.py, Note [columns in the GEMM's layout]).
#
# Note [zeros inside the windows]: UNFOLD writes every element of its columns, zeros for the
# window elements in the padding (whole rows above and below the input, the ends of the rows
# beside it), and FOLD zeroes each image channel just before adding onto it: no separate
# zero-fill pass over the whole output (for resnet18 at batch 8 those passes were ~10% of the
# windows' time), and the zeros land in cache lines about to be written anyway (FOLD by rows
# zeroes each output row before its terms). FOLD still adds onto zeros in the strided rule's
# order: the same bits.
#
# Note [fold a row at a time]: adding offset by offset (a shifted row of columns onto the
# image per kernel offset) loaded and stored each output pixel kh kw times, and the loads of
# offset j + 1 overlapped the vector stores of offset j shifted by a pixel: store-to-load
# forwarding stalls, 1.6-1.7 ns per column element vs UNFOLD's 0.25 (resnet18's 16x16 maps).
# For unit column stride FOLD now goes output row by output row: the row is zeroed, then for
# each kernel row i whose window row lands on it (in order), each pixel's kw terms are summed
# in a register (8 float32 or 4 float64 pixels a vector) onto the row's value and stored once.
# Per pixel the additions are the strided rule's, in its order (0 + a = a exactly): the same
# bits (tests/codegen/test_fold_rows.py). The vectors cover the pixels every kernel column
# reaches (precomputed after the column ranges, ``_ranges``); the pixels beside them go one at
# a time with a range test per term. FOLD of (8, 576, 256) columns onto 16x16 maps: 1.9 ->
# 0.25 ms; (8, 1152, 64) onto 8x8: 0.40 -> 0.19; resnet18 b8's train step spends 5.0-5.7 ms in
# FOLD instead of 15.4-17.9 (1 thread, both changes). Maps narrower than 8 keep the
# offset-by-offset nest (2x2 and 4x4 maps were 10-25% slower by rows: the per-row work does
# not pay for itself), chosen once per call, so that nest keeps its loop order.
# Column stride s > 1: a pixel gets only the offsets whose window column lands on it, so the
# row goes per residue r < s (pixels r, r + s, ...), each pixel's terms summed in a register
# with a range test per offset (ranges and window columns per (r, j) precomputed after the
# unit-stride span). Specialized to its geometry with kw > 1 and maps at least 16 wide this
# beats offset by offset (resnet18 b8's 3x3 stride-2 FOLD onto 32x32 maps, from
# (8, 576, 256) columns: 2.9 -> 0.53 ms; 16x16: 1.2 -> 0.53); the generic nest (runtime loops
# and table loads per term: 64x64 maps 5.2 -> 21 ms), 1x1 kernels (nothing overlaps) and
# narrower maps (8x8: 0.29 -> 0.39) keep the offset-by-offset nest.
#
# Note [loop order of the windows]: with the columns in the GEMM's layout, (C kh kw, N, L),
# images innermost (channel, kernel offset, image) walks them in memory order, and the N images
# of one channel it reads or adds onto (a few KB) stay in L1; the (N, C kh kw, L) layout takes
# images outermost, and so do large maps (one channel of all N images beyond L1: the first
# layers' 64x64 maps at batch 8). Each order is its own kernel (suffix ``_t`` for images
# innermost).
#
# Note [windows specialized to their geometry]: with the map size, kernel, stride, padding and
# the inside ranges as constants (the range tables as constant arrays), LLVM unrolls the
# kernel-offset loops, folds the ranges and the padding tests, and unrolls the short rows: for
# resnet18's 2x2 to 16x16 maps 2-4x faster than the generic nest (e.g. UNFOLD onto 4x4 maps,
# (8, 2304, 16) columns, 0.33 -> 0.11 ms; FOLD 0.40 -> 0.10), whose loop overhead dominated
# (larger maps are bound by memory traffic either way). A specialized kernel costs ~0.2-0.5 s
# to compile (then comes from the disk cache), so it is built only for maps up to 16x16 and
# ops large enough to gain more than that over a few calls; the rest share the generic nest.

I64 = ir.IntType(64)
_FLOATS = {"float32": ir.FloatType(), "float64": ir.DoubleType()}
# src, dst, row ranges, column ranges, then n c h w kh kw dh dw pad_top pad_left sh sw oh ow
# and the element strides of the columns' first two axes (Note [strided columns])
_N_INTS = 16
_SPECIALIZE_CELLS = 256  # maps up to 16x16 (loop overhead, not memory traffic, dominates)
_SPECIALIZE_WORK = 1 << 16  # column elements: smaller ops are not worth a compile
_VECTOR_BYTES = 32  # one AVX register: 8 float32 or 4 float64 lanes
_ROWS_FROM = 8  # FOLD by rows onto maps this wide (narrower: offset by offset, a bit faster)
_STRIDED_ROWS_FROM = 16  # specialized FOLD by rows for strided columns onto maps this wide
_L1_BYTES = 32 << 10  # images innermost while one channel of every image fits in L1
_SIGNATURE = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 4, *[ctypes.c_int64] * _N_INTS)


# (h, w, kh, kw, dh, dw, pad_top, pad_left, sh, sw, oh, ow, row spans, column spans)
Geometry = tuple[Any, ...]


def _ints(values: tuple[int, ...]) -> list[ir.Constant]:
    return [ir.Constant(I64, v) for v in values]


class _Nest:
    """The loop nest of one op: builder, element type and named arguments. ``batch_inner``:
    images innermost (Note [loop order of the windows])."""

    def __init__(self, op: str, dtype: str, batch_inner: bool, geometry: Geometry | None) -> None:
        self.ft, self.batch_inner = _FLOATS[dtype], batch_inner
        self.symbol = f"adjit_{op}{'_t' if batch_inner else ''}_{dtype}"
        # Note [fold a row at a time]: strided columns by rows only specialized, kw > 1, wide
        self.strided_rows = geometry is not None and geometry[3] > 1
        self.strided_rows &= geometry is not None and geometry[1] >= _STRIDED_ROWS_FROM
        if geometry is not None:  # Note [windows specialized to their geometry]
            self.symbol += "_" + "_".join(str(v) for v in geometry[:12])
        self.mod = ir.Module(name=self.symbol)
        fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType()] * 4 + [I64] * _N_INTS)
        fn = ir.Function(self.mod, fnty, self.symbol)
        fn.attributes.add("nounwind")
        self.src, self.dst, self.rows, self.cols = fn.args[:4]
        for a in fn.args[:4]:
            a.add_attribute("noalias")
        (self.n, self.c, self.h, self.w, self.kh, self.kw, self.dh, self.dw) = fn.args[4:12]
        (self.pt, self.pl, self.sh, self.sw, self.oh, self.ow) = fn.args[12:18]
        self.stride_n, self.stride_k = fn.args[18:]
        if geometry is not None:
            (self.h, self.w, self.kh, self.kw, self.dh, self.dw) = _ints(geometry[:6])
            (self.pt, self.pl, self.sh, self.sw, self.oh, self.ow) = _ints(geometry[6:12])
            self.rows, self.cols = self.table(geometry[12], "r"), self.table(geometry[13], "c")
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.zero_f = ir.Constant(self.ft, 0.0)
        self.item = 4 if dtype == "float32" else 8
        lanes = _VECTOR_BYTES // self.item
        self.widths = tuple(sorted({lanes, lanes // 2, lanes // 4, 1}, reverse=True))
        self.vectors: dict[int, tuple[ir.Type, ir.Value]] = {}
        for width in self.widths:  # accumulators (promoted to registers)
            vty = self.ft if width == 1 else ir.VectorType(self.ft, width)
            self.vectors[width] = (vty, self.b.alloca(vty, name=f"acc{width}"))

    def table(self, spans: tuple[int, ...], name: str) -> ir.GlobalVariable:
        """A range table as a constant array (its loads fold once the loops are unrolled)."""
        ty = ir.ArrayType(I64, len(spans))
        g = ir.GlobalVariable(self.mod, ty, f"{name}_spans")
        g.global_constant, g.linkage = True, "internal"
        g.initializer = ir.Constant(ty, list(spans))
        return g

    def at(self, base: ir.Value, off: ir.Value, ty: ir.Type | None = None) -> ir.Value:
        return self.b.gep(base, [off], source_etype=ty or self.ft)

    def bound(self, table: ir.Value, k: ir.Value, which: int) -> ir.Value:
        b = self.b
        off = b.add(b.mul(k, ir.Constant(I64, 2)), ir.Constant(I64, which))
        return b.load(self.at(table, off, I64), typ=I64)

    def zero(self, base: ir.Value, start: ir.Value, stop: ir.Value, name: str) -> None:
        """``base[start:stop] = 0`` (LLVM turns the loop into a memset)."""
        with for_range(self.b, start, stop, name) as t:
            self.b.store(self.zero_f, self.at(base, t))

    def image(self, n: ir.Value, c: ir.Value) -> ir.Value:
        """The offset of image ``n``'s channel ``c``: its (h, w) pixels."""
        b = self.b
        return b.mul(b.add(b.mul(n, self.c), c), b.mul(self.h, self.w))

    def zero_image(self, n: ir.Value, c: ir.Value) -> None:
        b = self.b
        start = self.image(n, c)
        self.zero(self.dst, start, b.add(start, b.mul(self.h, self.w)), "z")

    def emit(self, op: str) -> str:
        b, zero = self.b, ir.Constant(I64, 0)
        if op == "fold":  # Note [fold a row at a time]
            with b.if_else(self.by_rows()) as (rows, offsets):
                with rows:
                    outer, inner = (self.c, self.n) if self.batch_inner else (self.n, self.c)
                    with for_range(b, zero, outer, "o") as o, for_range(b, zero, inner, "p") as p:
                        self.fold_by_rows(*((p, o) if self.batch_inner else (o, p)))
                with offsets:
                    self.by_offsets(op)
        else:
            self.by_offsets(op)
        b.ret_void()
        return str(self.mod)

    def by_rows(self) -> ir.Value:
        """Whether FOLD goes row by row (Note [fold a row at a time])."""
        b = self.b
        if self.strided_rows:
            return ir.Constant(ir.IntType(1), 1)
        unit_stride = b.icmp_signed("==", self.sw, ir.Constant(I64, 1))
        return b.and_(unit_stride, b.icmp_signed(">=", self.w, ir.Constant(I64, _ROWS_FROM)))

    def by_offsets(self, op: str) -> None:
        """The nest offset by offset: per (image channel, kernel offset) a row of columns."""
        b, zero = self.b, ir.Constant(I64, 0)
        fold = op == "fold"
        if self.batch_inner:
            with for_range(b, zero, self.c, "c") as c:
                if fold:  # Note [zeros inside the windows]
                    with for_range(b, zero, self.n, "zn") as n:
                        self.zero_image(n, c)
                for i, j, rows, cols in self.offsets():
                    if not fold:
                        self.zero_edge(rows, cols, self.block(zero, c, i, j), self.n)
                    with for_range(b, zero, self.n, "n") as n:
                        self.window(op, n, c, i, j, rows, cols)
        else:
            with for_range(b, zero, self.n, "n") as n, for_range(b, zero, self.c, "c") as c:
                if fold:
                    self.zero_image(n, c)
                for i, j, rows, cols in self.offsets():
                    if not fold:
                        self.zero_edge(rows, cols, self.block(n, c, i, j), ir.Constant(I64, 1))
                    self.window(op, n, c, i, j, rows, cols)

    def fold_by_rows(self, n: ir.Value, c: ir.Value) -> None:
        """Per output row: zeroed, then per kernel row ``i`` whose window row lands on it, the
        ``kw`` terms of each pixel summed in registers (in offset order) and stored once."""
        b, zero, one = self.b, ir.Constant(I64, 0), ir.Constant(I64, 1)
        kw2 = b.mul(self.kw, ir.Constant(I64, 2))
        first = b.load(self.at(self.cols, kw2, I64), typ=I64)  # pixels every offset covers
        stop = b.load(self.at(self.cols, b.add(kw2, one), I64), typ=I64)
        image = self.image(n, c)
        with for_range(b, zero, self.h, "py") as py:
            row = b.add(image, b.mul(py, self.w))
            self.zero(self.dst, row, b.add(row, self.w), "zr")
            with for_range(b, zero, self.kh, "i") as i:
                t = b.sub(b.add(py, self.pt), b.mul(i, self.dh))
                y = b.sdiv(t, self.sh)
                lands = b.and_(
                    b.icmp_signed("==", b.mul(y, self.sh), t),
                    b.and_(
                        b.icmp_signed(">=", y, self.bound(self.rows, i, 0)),
                        b.icmp_signed("<", y, self.bound(self.rows, i, 1)),
                    ),
                )
                with b.if_then(lands):
                    k0 = b.mul(b.add(b.mul(c, self.kh), i), self.kw)
                    # offset (i, 0)'s columns of window row y, shifted by the padding
                    base = b.add(b.mul(n, self.stride_n), b.mul(k0, self.stride_k))
                    base = b.add(base, b.mul(y, self.ow))
                    unit = b.icmp_signed("==", self.sw, one)
                    with b.if_else(unit) as (unit_stride, strided):
                        with unit_stride:
                            self.fold_pixels(row, base, zero, first)
                            at = first
                            for width in self.widths:
                                at = self.fold_chunks(row, base, at, stop, width)
                            self.fold_pixels(row, base, at, self.w)
                        with strided:
                            self.fold_residues(row, base, kw2)

    def fold_residues(self, row: ir.Value, base: ir.Value, kw2: ir.Value) -> None:
        """Column stride s > 1: the pixels r, r + s, ... per residue r, each pixel's terms
        (the offsets j whose window column lands on it: ``_ranges``' residue table) summed in a
        register."""
        b, zero, one = self.b, ir.Constant(I64, 0), ir.Constant(I64, 1)
        table = b.add(kw2, ir.Constant(I64, 2))  # after the ranges and the unit-stride span
        with for_range(b, zero, self.sw, "r") as r:
            count = b.sdiv(b.add(b.sub(self.w, r), b.sub(self.sw, one)), self.sw)
            with for_range(b, zero, count, "m") as m:
                out = self.at(self.dst, b.add(row, b.add(r, b.mul(self.sw, m))))
                _, acc = self.vectors[1]
                b.store(b.load(out, typ=self.ft), acc)
                with for_range(b, zero, self.kw, "rj") as j:
                    entry = b.add(table, b.mul(b.add(b.mul(r, self.kw), j), ir.Constant(I64, 3)))
                    lo = b.load(self.at(self.cols, entry, I64), typ=I64)
                    hi = b.load(self.at(self.cols, b.add(entry, one), I64), typ=I64)
                    off = b.load(
                        self.at(self.cols, b.add(entry, ir.Constant(I64, 2)), I64), typ=I64
                    )
                    inside = b.and_(b.icmp_signed(">=", m, lo), b.icmp_signed("<", m, hi))
                    with b.if_then(inside):
                        v = b.load(
                            self.at(self.src, self.term(base, j, b.add(off, m))), typ=self.ft
                        )
                        b.store(b.fadd(b.load(acc, typ=self.ft), v), acc)
                b.store(b.load(acc, typ=self.ft), out)

    def term(self, base: ir.Value, j: ir.Value, x: ir.Value) -> ir.Value:
        """Where offset (i, j)'s window column ``x`` lies (``base``: fold_by_rows)."""
        return self.b.add(self.b.add(base, self.b.mul(j, self.stride_k)), x)

    def window_column(self, j: ir.Value, px: ir.Value) -> ir.Value:
        """``px + pad_left - j dw``: the window column of offset (i, j) that lands on output
        pixel ``px`` (unit column stride)."""
        b = self.b
        return b.sub(b.add(px, self.pl), b.mul(j, self.dw))

    def fold_chunks(self, row: ir.Value, base: ir.Value, start: ir.Value, stop: ir.Value,
                    width: int) -> ir.Value:  # fmt: skip
        """Pixels [start, start + m * width) of the inside, ``width`` at a time as a vector;
        returns where they end."""
        b, zero = self.b, ir.Constant(I64, 0)
        wc = ir.Constant(I64, width)
        count = b.sdiv(b.sub(stop, start), wc)
        count = b.select(b.icmp_signed(">", count, zero), count, zero)
        vty, acc = self.vectors[width]
        with for_range(b, zero, count, f"v{width}") as k:
            px = b.add(start, b.mul(k, wc))
            out = self.at(self.dst, b.add(row, px))
            b.store(b.load(out, typ=vty, align=self.item), acc)
            with for_range(b, zero, self.kw, f"vj{width}") as j:
                x = self.window_column(j, px)  # unit stride
                v = b.load(self.at(self.src, self.term(base, j, x)), typ=vty, align=self.item)
                b.store(b.fadd(b.load(acc, typ=vty), v), acc)
            b.store(b.load(acc, typ=vty), out, align=self.item)
        return b.add(start, b.mul(count, wc))

    def fold_pixels(self, row: ir.Value, base: ir.Value, start: ir.Value, stop: ir.Value) -> None:
        """Pixels [start, stop) one at a time, each offset's term only where its window
        column is inside (the pixels beside the inside)."""
        b = self.b
        _, acc = self.vectors[1]
        with for_range(b, start, stop, "e") as px:
            out = self.at(self.dst, b.add(row, px))
            b.store(b.load(out, typ=self.ft), acc)
            with for_range(b, ir.Constant(I64, 0), self.kw, "ej") as j:
                x = self.window_column(j, px)  # unit stride
                inside = b.and_(
                    b.icmp_signed(">=", x, self.bound(self.cols, j, 0)),
                    b.icmp_signed("<", x, self.bound(self.cols, j, 1)),
                )
                with b.if_then(inside):
                    v = b.load(self.at(self.src, self.term(base, j, x)), typ=self.ft)
                    b.store(b.fadd(b.load(acc, typ=self.ft), v), acc)
            b.store(b.load(acc, typ=self.ft), out)

    def offsets(self) -> Iterator[tuple[ir.Value, ir.Value, tuple, tuple]]:
        """The kernel offsets (i, j) as two nested loops, with the output rows and columns
        inside the image at each: the body emitted for one (i, j) goes inside both loops."""
        b, zero = self.b, ir.Constant(I64, 0)
        with for_range(b, zero, self.kh, "i") as i:
            rows = self.bound(self.rows, i, 0), self.bound(self.rows, i, 1)
            with for_range(b, zero, self.kw, "j") as j:
                cols = self.bound(self.cols, j, 0), self.bound(self.cols, j, 1)
                yield i, j, rows, cols

    def zero_edge(self, rows: tuple, cols: tuple, block: ir.Value, images: ir.Value) -> None:
        """Zeros for a kernel offset whose windows reach into the padding: its rows of
        ``images`` images from ``block`` (one span when they are adjacent, as in the GEMM's
        layout), before the inside is copied over them (Note [zeros inside the windows])."""
        b = self.b
        cells = b.mul(self.oh, self.ow)
        edge = b.or_(
            b.or_(
                b.icmp_signed(">", rows[0], ir.Constant(I64, 0)),
                b.icmp_signed("<", rows[1], self.oh),
            ),
            b.or_(
                b.icmp_signed(">", cols[0], ir.Constant(I64, 0)),
                b.icmp_signed("<", cols[1], self.ow),
            ),
        )
        with b.if_then(edge):
            one = b.or_(
                b.icmp_signed("==", self.stride_n, cells),
                b.icmp_signed("==", images, ir.Constant(I64, 1)),
            )
            with b.if_else(one) as (adjacent, apart):
                with adjacent:
                    self.zero(self.dst, block, b.add(block, b.mul(images, cells)), "ze")
                with apart, for_range(b, ir.Constant(I64, 0), images, "zi") as n:
                    start = b.add(block, b.mul(n, self.stride_n))
                    self.zero(self.dst, start, b.add(start, cells), "zf")

    def block(self, n: ir.Value, c: ir.Value, i: ir.Value, j: ir.Value) -> ir.Value:
        """Where image ``n``'s columns of channel ``c``, kernel offset (i, j) start."""
        b = self.b
        row = b.add(b.mul(b.add(b.mul(c, self.kh), i), self.kw), j)
        return b.add(b.mul(n, self.stride_n), b.mul(row, self.stride_k))

    def window(self, op: str, n: ir.Value, c: ir.Value, i: ir.Value, j: ir.Value,
               rows: tuple, cols: tuple) -> None:  # fmt: skip
        """Kernel offset (i, j) of image ``n``'s channel ``c``: its row of the columns."""
        b = self.b
        col0 = b.sub(b.mul(j, self.dw), self.pl)  # input column of window column 0
        step = self.unfold_rows if op == "unfold" else self.fold_rows
        step(i, rows, cols, self.block(n, c, i, j), self.image(n, c), col0)

    def input_row(self, y: ir.Value, i: ir.Value) -> ir.Value:
        b = self.b
        return b.sub(b.add(b.mul(y, self.sh), b.mul(i, self.dh)), self.pt)

    def unfold_rows(self, i: ir.Value, rows: tuple, cols: tuple, block: ir.Value,
                    image: ir.Value, col0: ir.Value) -> None:  # fmt: skip
        """Window rows [r0, r1), columns [c0, c1): copied from the input (``zero_edge``
        zeroed the rest)."""
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
def _kernel(
    op: str, dtype: str, batch_inner: bool, geometry: Geometry | None = None
) -> tuple[CompiledKernel, Callable[..., None]]:
    """The compiled loop nest (kept alive with its entry point)."""
    nest = _Nest(op, dtype, batch_inner, geometry)
    code = compile_ir(nest.emit(op), nest.symbol[len("adjit_") :], nest.symbol)
    return code, _SIGNATURE(code.address)


@cache
def _available(op: str, dtype: str) -> bool:
    try:
        _kernel(op, dtype, False)
    except codegen_error():  # no LLVM for this host: the caller takes the NumPy rule
        return False
    return True


def supported(op: str, dtype: np.dtype) -> bool:
    """Whether ``op`` ("unfold" or "fold") has a compiled kernel for ``dtype``."""
    return dtype.name in _FLOATS and _available(op, dtype.name)


@cache
def _ranges(size: Pair, kernel_size: Pair, dilation: Pair, padding: Padding,
            stride: Pair) -> tuple[np.ndarray, np.ndarray, Pair]:  # fmt: skip
    """Per kernel row and column, the window positions [first, stop) inside the input (both
    at most the window count: windows wholly in the padding give an empty range)."""
    oh, ow = blocks(size, kernel_size, dilation, padding, stride)
    tables = []
    for kk, d, pad, n, s, count in zip(
        kernel_size, dilation, padding, size, stride, (oh, ow), strict=True
    ):
        spans = [inside_span(k * d, pad[0], n, s, count) for k in range(kk)]
        tables.append([(min(a, count), min(b, count)) for a, b in spans])
    (kw, sw, dw, pl) = (kernel_size[1], stride[1], dilation[1], padding[1][0])
    # after the column ranges, for unit column stride: the output pixels every kernel column
    # covers (Note [fold a row at a time])
    first = max(a + j * dw - pl for j, (a, _) in enumerate(tables[1]))
    stop = min(e + j * dw - pl for j, (_, e) in enumerate(tables[1]))
    first = min(max(first, 0), size[1]) if sw == 1 else 0
    tables[1].append((first, max(first, min(stop, size[1]))) if sw == 1 else (0, 0))
    # then per residue r < sw and kernel column j: the m with pixel r + sw m inside offset j's
    # windows [lo, hi) and the window column of pixel r, (r + pad_left - j dw) / sw (empty
    # when it does not divide)
    residues = []
    for r in range(sw):
        for j, (a, e) in enumerate(tables[1][:kw]):
            off, rest = divmod(r + pl - j * dw, sw)
            residues += [max(a - off, 0), max(e - off, 0), off] if rest == 0 else [0, 0, 0]
    rows = np.array(tables[0], np.int64)
    cols = np.array([v for pair in tables[1] for v in pair] + residues, np.int64)
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols, (oh, ow)


def _call(op: str, src: np.ndarray, dst: np.ndarray, image: tuple[int, ...], columns: np.ndarray,
          kernel_size: Pair, dilation: Pair, padding: Padding, stride: Pair) -> None:  # fmt: skip
    """``image``: (N, C, H, W); ``columns``: whichever of src and dst holds the columns."""
    n, c, h, w = image
    rows, cols, (oh, ow) = _ranges((h, w), kernel_size, dilation, padding, stride)
    item = columns.itemsize
    stride_n, stride_k = columns.strides[0] // item, columns.strides[1] // item
    inner = n > 1 and stride_n < stride_k and n * h * w * item <= _L1_BYTES
    geometry: Geometry | None = None
    if (
        oh * ow <= _SPECIALIZE_CELLS
        and n * c * kernel_size[0] * kernel_size[1] * oh * ow >= _SPECIALIZE_WORK
    ):
        spans = (tuple(rows.ravel().tolist()), tuple(cols.ravel().tolist()))
        geometry = (h, w, *kernel_size, *dilation, padding[0][0], padding[1][0], *stride, oh, ow)
        geometry = (*geometry, *spans)
    fn = _kernel(op, src.dtype.name, inner, geometry)[1]
    fn(src.ctypes.data, dst.ctypes.data, rows.ctypes.data, cols.ctypes.data, n, c, h, w,
       *kernel_size, *dilation, padding[0][0], padding[1][0], *stride, oh, ow,
       stride_n, stride_k)  # fmt: skip


def strided_columns(cols: np.ndarray) -> bool:
    """Whether the kernels read or write ``cols`` (N, C kh kw, L) in place: Note [strided
    columns]."""
    item = cols.itemsize
    return cols.strides[2] == item and cols.strides[0] % item == 0 and cols.strides[1] % item == 0


def unfold_into(x: np.ndarray, out: np.ndarray, *, kernel_size: Pair, dilation: Pair,
                padding: Padding, stride: Pair) -> np.ndarray:  # fmt: skip
    """``ir.windows.unfold`` of a C-contiguous float array into ``out`` (``strided_columns``;
    every element written, Note [zeros inside the windows])."""
    _call("unfold", x, out, x.shape, out, kernel_size, dilation, padding, stride)
    return out


def fold_into(cols: np.ndarray, out: np.ndarray, *, output_size: Pair, kernel_size: Pair,
              dilation: Pair, padding: Padding, stride: Pair) -> np.ndarray:  # fmt: skip
    """``ir.windows.fold`` of a float array (``strided_columns``) into C-contiguous ``out``."""
    _call("fold", cols, out, out.shape, cols, kernel_size, dilation, padding, stride)
    return out
