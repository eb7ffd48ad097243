"""A compiled float32 GEMM, C = A B: register-tiled FMA microkernels in a blocked loop nest."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

from llvmlite import ir

from .counted import I64, for_range, i64
from .jit import CompiledKernel, compile_ir

# Note [our own GEMM]
# A convolution's products have few columns per call at small maps ((512, 4608) x (4608, 32)
# at resnet18's 2x2 layer) and moderate ones elsewhere; on this Zen 4 OpenBLAS ran them at
# 78-100 GFLOP/s on one core, MKL slower, PyTorch's oneDNN convolutions at 110-130. A plain
# register-tiled kernel does as well as oneDNN on them: MR rows of A by NV vectors of B's
# columns kept in MR NV vector registers (8 x 2 zmm: 16 accumulators), each step of k one
# broadcast of A's element per row and NV loads of B's row, MR NV FMAs (/tmp prototype:
# 110-116 GFLOP/s on resnet18's shapes with a packed B, against OpenBLAS's 78-100). The loop
# nest, as GotoBLAS's: K in blocks of ``kc`` (C's tile is zeroed by the first block and read
# back by the later ones); B's block packed into NR-column panels, k-major (a vector copy where
# its rows are unit-stride, else element by element; the last panel zero-padded); M in blocks
# of ``mc`` rows, A read in place through its two strides (a transposed A costs nothing: each
# element is a broadcast) or, where B is wide and A's rows are unit-stride along M, packed
# into MR-row panels; then column tiles of NR = NV W, then row tiles of MR. The last row tile
# reads its last row again for the rows it lacks, the last column tile masks its loads and
# stores of C. Sums run over k in order within a block and blocks add in order: a C element
# is one chain of FMAs, the same for every layout and every call of a geometry.

F32 = ir.FloatType()
I1 = ir.IntType(1)
I32 = ir.IntType(32)
NV = 2  # vectors of a tile's row
ROWS = {16: 8, 8: 4}  # rows of a tile by vector width: MR NV accumulators, 2 loads, 1 splat
_INTS = 11  # m n k, A's strides (row, k), B's (k, column), ldc, mc, kc, pack A
SIGNATURE = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 7, *[ctypes.c_int64] * _INTS)


class _Builder:
    """The module's types and the intrinsics its microkernels call."""

    def __init__(self, width: int, name: str) -> None:
        self.w = width
        self.vec = ir.VectorType(F32, width)
        self.mask = ir.VectorType(I1, width)
        self.mod = ir.Module(name=name)
        ptr = ir.PointerType()
        self.fma = ir.Function(
            self.mod, ir.FunctionType(self.vec, [self.vec] * 3), f"llvm.fma.v{width}f32"
        )
        self.mload = ir.Function(
            self.mod,
            ir.FunctionType(self.vec, [ptr, I32, self.mask, self.vec]),
            f"llvm.masked.load.v{width}f32.p0",
        )
        self.mstore = ir.Function(
            self.mod,
            ir.FunctionType(ir.VoidType(), [self.vec, ptr, I32, self.mask]),
            f"llvm.masked.store.v{width}f32.p0",
        )
        self.zero = ir.Constant(self.vec, [0.0] * width)
        self.lanes = ir.Constant(ir.VectorType(I64, width), list(range(width)))

    def splat(self, b: ir.IRBuilder, x: ir.Value, scalar: ir.Type = F32) -> ir.Value:
        """``x`` (of type ``scalar``) in every lane of a ``w``-lane vector."""
        ty = ir.VectorType(scalar, self.w)
        v = b.insert_element(ir.Constant(ty, ir.Undefined), x, ir.Constant(I32, 0))
        zeros = ir.Constant(ir.VectorType(I32, self.w), [0] * self.w)
        return b.shuffle_vector(v, ir.Constant(ty, ir.Undefined), zeros)

    def lane_mask(self, b: ir.IRBuilder, v: int, valid: ir.Value) -> ir.Value:
        """Lanes of vector ``v`` of a tile row below ``valid`` columns."""
        at = b.add(self.lanes, ir.Constant(ir.VectorType(I64, self.w), [v * self.w] * self.w))
        return b.icmp_signed("<", at, self.splat(b, valid, I64))

    def function(self, name: str, pointers: int, ints: int, noalias: int) -> ir.Function:
        """An internal void function of ``pointers`` pointers (the first ``noalias`` of them
        noalias) and ``ints`` i64s."""
        fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType()] * pointers + [I64] * ints)
        fn = ir.Function(self.mod, fnty, name)
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        for arg in fn.args[:noalias]:
            arg.add_attribute("noalias")
        return fn


def _micro(g: _Builder, mr: int) -> ir.Function:
    """C[:rows, :valid] (+)= A B over ``mr`` rows of A (strides ``sa_r``, ``sa_k``: a packed
    panel's are 1, MR) and a packed NR-column panel of B (NR floats a step): (a, b, c, sa_r,
    sa_k, k, ldc, first, rows, valid), ``first`` zeroing the tile (else C's values are read
    back and added to). Rows at or past ``rows`` read A's last row again."""
    fn = g.function("micro", 3, 7, noalias=3)
    a, bp, c, sa_r, sa_k, k, ldc, first, rows, valid = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    nr = NV * g.w
    accs = [[b.alloca(g.vec) for _ in range(NV)] for _ in range(mr)]
    for r in range(mr):
        for v in range(NV):
            b.store(g.zero, accs[r][v])
    last = b.sub(rows, i64(1))  # rows past ``rows`` read the last one again (never past A)
    a_rows = [b.mul(_min(b, i64(r), last), sa_r) for r in range(mr)]
    with for_range(b, i64(0), k, "k") as i:
        row = b.gep(bp, [b.mul(i, i64(nr))], source_etype=F32)
        bv = [b.load(b.gep(row, [i64(v * g.w)], source_etype=F32), typ=g.vec, align=4)
              for v in range(NV)]  # fmt: skip
        col = b.gep(a, [b.mul(i, sa_k)], source_etype=F32)
        for r in range(mr):
            s = g.splat(b, b.load(b.gep(col, [a_rows[r]], source_etype=F32), typ=F32))
            for v in range(NV):
                b.store(b.call(g.fma, [s, bv[v], b.load(accs[r][v], typ=g.vec)]), accs[r][v])
    masks = [g.lane_mask(b, v, valid) for v in range(NV)]
    add = b.icmp_signed("==", first, i64(0))
    whole = b.icmp_signed(">=", valid, i64(nr))  # Note [whole tiles unmasked]
    for r in range(mr):
        keep = b.append_basic_block(f"row{r}")
        after = b.append_basic_block(f"row{r}.done")
        b.cbranch(b.icmp_signed("<", i64(r), rows), keep, after)
        b.position_at_end(keep)
        with b.if_else(whole) as (plain, masked):
            with plain:
                _write_row(g, b, c, r, ldc, accs[r], add, None)
            with masked:
                _write_row(g, b, c, r, ldc, accs[r], add, masks)
        b.branch(after)
        b.position_at_end(after)
    b.ret_void()
    return fn


# Note [whole tiles unmasked]: a tile's row of C is written by masked loads and stores only
# where the tile is the last, partial one: AVX2's masked store (vmaskmovps) is microcoded on
# AMD's cores, and a tile's 8 of them cost a good part of its FMAs. One core of the Zen 3 EPYC,
# old and new kernels in one process, interleaved medians, GFLOP/s (the same bits): (2048, 1024)
# by (1024, 256) 42-52 -> 53-64, (512, 576) by (576, 64) 58-63 -> 67-68, (512, 4608) by (4608,
# 32) 45-61 -> 51-65, (128, 64) by (64, 128) 36-40 -> 43-48 (OpenBLAS 50-79 on these; a 6-row
# tile on AVX2 measured the same). AVX-512's masked stores are plain ones.
def _write_row(
    g: _Builder, b: ir.IRBuilder, c: ir.Value, r: int, ldc: ir.Value, accs: list[ir.Value],
    add: ir.Value, masks: list[ir.Value] | None,
) -> None:  # fmt: skip
    """Row ``r`` of a tile into C (added to C's values where ``add``): plain vectors, or masked
    by ``masks`` (the last tile's columns)."""
    align = ir.Constant(I32, 4)
    for v in range(NV):
        at = b.gep(c, [b.add(b.mul(i64(r), ldc), i64(v * g.w))], source_etype=F32)
        acc = b.load(accs[v], typ=g.vec)
        if masks is None:
            old = b.load(at, typ=g.vec, align=4)
            b.store(b.select(add, b.fadd(acc, old), acc), at, align=4)
        else:
            old = b.call(g.mload, [at, align, masks[v], g.zero])
            b.call(g.mstore, [b.select(add, b.fadd(acc, old), acc), at, align, masks[v]])


def _pack(g: _Builder, name: str, width: int) -> ir.Function:
    """Panels of ``width`` lines of a strided matrix, k-major and zero-padded: (src, dst, k,
    count, s_line, s_k), ``dst[t][i][j]`` = ``src[(t width + j) s_line + i s_k]`` for lines
    below ``count``, else 0."""
    fn = g.function(name, 2, 4, noalias=2)
    src, dst, k, count, s_line, s_k = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    panels = b.sdiv(b.add(count, i64(width - 1)), i64(width))
    with for_range(b, i64(0), panels, "t") as t:
        base = b.mul(t, b.mul(k, i64(width)))
        j0 = b.mul(t, i64(width))
        lines = _min(b, i64(width), b.sub(count, j0))
        whole = b.and_(b.icmp_signed("==", lines, i64(width)), b.icmp_signed("==", s_line, i64(1)))
        fast, slow, done = (b.append_basic_block(f"pack.{x}") for x in ("fast", "slow", "done"))
        b.cbranch(whole, fast, slow)
        b.position_at_end(fast)
        vec = ir.VectorType(F32, width)
        with for_range(b, i64(0), k, "i") as i:
            x = b.load(b.gep(src, [b.add(b.mul(i, s_k), j0)], source_etype=F32), typ=vec, align=4)
            b.store(x, b.gep(dst, [b.add(base, b.mul(i, i64(width)))], source_etype=F32), align=4)
        b.branch(done)
        b.position_at_end(slow)
        with for_range(b, i64(0), k, "i") as i:
            out = b.add(base, b.mul(i, i64(width)))
            at_k = b.mul(i, s_k)
            for j in range(width):
                here = b.icmp_signed("<", i64(j), lines)
                line = _min(b, b.add(j0, i64(j)), b.sub(count, i64(1)))
                x = b.load(b.gep(src, [b.add(at_k, b.mul(line, s_line))], source_etype=F32),
                           typ=F32)  # fmt: skip
                b.store(b.select(here, x, ir.Constant(F32, 0.0)),
                        b.gep(dst, [b.add(out, i64(j))], source_etype=F32))  # fmt: skip
        b.branch(done)
        b.position_at_end(done)
    b.ret_void()
    return fn


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)


# Note [windows packed as B]
# A convolution's product is w (O, C kh kw) times the columns (C kh kw, N OH OW) of its images
# (Note [UNFOLD and FOLD] in ir/windows.py), which the GEMM packs into panels anyway: each
# panel can be read from the images instead (implicit GEMM), so the columns are never
# written. A panel is NR consecutive columns, pixels (n, oh, ow); per vector of it, the
# pixels' image offsets n s_n + (oh st_h - pad_h) s_h + (ow st_w - pad_w) s_w and window
# corners are computed once; each row (c, i, j) of the panel is then one masked AVX-512
# gather per vector at those offsets plus the row's (``ktab``: c s_c + i d_h s_h + j d_w s_w,
# and i d_h, j d_w to test the window's cell against the image's edges: outside, a zero). The
# panel is gathered just before its microkernels, in L1, and meets every row of A (one block
# of rows). Offsets are int32 (the caller checks the image's extent). The sums are the GEMM's:
# over k in order, blocks of KC added in order.
def _pack_windows(g: _Builder, nr: int) -> ir.Function:
    """B's panel of column tile ``t`` for k in [k0, k0 + kb), read from an image batch through
    its windows (Note [windows packed as B]): (x, dst, geo, ktab, k0, kb, n, t)."""
    fn = g.function("pack_windows", 4, 4, noalias=2)
    x, dst, geo, ktab, k0, kb, n, t = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    w = g.w
    vi = ir.VectorType(I32, w)
    gather = ir.Function(
        g.mod, ir.FunctionType(g.vec, [g.vec, ir.PointerType(), vi, g.mask, I32]),
        f"llvm.x86.avx512.mask.gather.dps.{32 * w}",
    )  # fmt: skip

    def at(i: int) -> ir.Value:
        return b.trunc(b.load(b.gep(geo, [i64(i)], source_etype=I64), typ=I64), I32)

    h, wd, ow, ohw, s_n, s_h, s_w, st_h, st_w, pad_h, pad_w = (at(i) for i in range(11))

    def splat(v: ir.Value) -> ir.Value:
        return g.splat(b, v, I32)

    lanes = ir.Constant(vi, list(range(w)))
    n32 = splat(b.trunc(n, I32))
    lane = []  # per vector of the panel: (first row, first column, offset, valid)
    for v in range(NV):
        p = b.add(splat(b.trunc(b.add(b.mul(t, i64(nr)), i64(v * w)), I32)), lanes)
        img, r = b.udiv(p, splat(ohw)), b.urem(p, splat(ohw))
        hs = b.sub(b.mul(b.udiv(r, splat(ow)), splat(st_h)), splat(pad_h))
        ws = b.sub(b.mul(b.urem(r, splat(ow)), splat(st_w)), splat(pad_w))
        off = b.add(b.mul(img, splat(s_n)), b.add(b.mul(hs, splat(s_h)), b.mul(ws, splat(s_w))))
        lane.append((hs, ws, off, b.icmp_unsigned("<", p, n32)))
    with for_range(b, i64(0), kb, "i") as i:
        row = b.mul(b.add(k0, i), i64(3))
        koff, di, dj = (
            splat(b.load(b.gep(ktab, [b.add(row, i64(j))], source_etype=I32), typ=I32))
            for j in range(3)
        )
        out = b.mul(i, i64(nr))
        for v, (hs, ws, off, valid) in enumerate(lane):
            inside = b.and_(
                b.icmp_unsigned("<", b.add(hs, di), splat(h)),
                b.icmp_unsigned("<", b.add(ws, dj), splat(wd)),
            )
            got = b.call(gather, [g.zero, x, b.add(off, koff), b.and_(inside, valid),
                                  ir.Constant(I32, 4)])  # fmt: skip
            b.store(got, b.gep(dst, [b.add(out, i64(v * w))], source_etype=F32), align=4)
    b.ret_void()
    return fn


def _gemm_ir(width: int, windows: bool) -> tuple[str, str]:
    name = f"adjit_{'sconv' if windows else 'sgemm'}_{width}"
    g = _Builder(width, name)
    mr = ROWS[width]
    micro = _micro(g, mr)
    nr = NV * width
    pack_a = _pack(g, "pack_a", mr)
    pack_b = _pack_windows(g, nr) if windows else _pack(g, "pack_b", nr)
    ptr = ir.PointerType()
    fn = ir.Function(g.mod, ir.FunctionType(ir.VoidType(), [ptr] * 7 + [I64] * _INTS), name)
    fn.attributes.add("nounwind")
    a, bp, c, ap, bpk, geo, ktab, m, n, k, sa_m, sa_k, sb_k, sb_n, ldc, mc, kc, pack = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    blocks_k = b.sdiv(b.add(k, b.sub(kc, i64(1))), kc)
    blocks_m = b.sdiv(b.add(m, b.sub(mc, i64(1))), mc)
    tiles_n = b.sdiv(b.add(n, i64(nr - 1)), i64(nr))
    packed = b.icmp_signed("!=", pack, i64(0))
    with for_range(b, i64(0), blocks_k, "pk") as pk:
        k0 = b.mul(pk, kc)
        kb = _min(b, kc, b.sub(k, k0))
        first = b.zext(b.icmp_signed("==", pk, i64(0)), I64)
        if not windows:  # (windows: a panel at a time, below)
            b_k = b.gep(bp, [b.mul(k0, sb_k)], source_etype=F32)
            b.call(pack_b, [b_k, bpk, kb, n, sb_n, sb_k])
        with for_range(b, i64(0), blocks_m, "pm") as pm:
            m0 = b.mul(pm, mc)
            mb = _min(b, mc, b.sub(m, m0))
            a_block = b.gep(a, [b.add(b.mul(k0, sa_k), b.mul(m0, sa_m))], source_etype=F32)
            with b.if_then(packed):
                b.call(pack_a, [a_block, ap, kb, mb, sa_m, sa_k])
            tiles_m = b.sdiv(b.add(mb, i64(mr - 1)), i64(mr))
            with for_range(b, i64(0), tiles_n, "tn") as tn:
                n0 = b.mul(tn, i64(nr))
                if windows:
                    b.call(pack_b, [bp, bpk, geo, ktab, k0, kb, n, tn])
                    panel_b = bpk
                else:
                    panel_b = b.gep(bpk, [b.mul(n0, kb)], source_etype=F32)
                with for_range(b, i64(0), tiles_m, "tm") as tm:
                    i0 = b.mul(tm, i64(mr))
                    rows = b.sub(mb, i0)
                    direct = b.gep(a_block, [b.mul(i0, sa_m)], source_etype=F32)
                    tile_a = b.select(packed, b.gep(ap, [b.mul(i0, kb)], source_etype=F32), direct)
                    sr = b.select(packed, i64(1), sa_m)
                    sk = b.select(packed, i64(mr), sa_k)
                    out = b.gep(c, [b.add(b.mul(b.add(m0, i0), ldc), n0)], source_etype=F32)
                    args = [tile_a, panel_b, out, sr, sk, kb, ldc, first, rows, b.sub(n, n0)]
                    b.call(micro, args)
    b.ret_void()
    return str(g.mod), name


@cache
def _kernel(width: int, windows: bool) -> tuple[CompiledKernel, Callable[..., None]]:
    text, symbol = _gemm_ir(width, windows)
    code = compile_ir(text, symbol[len("adjit_") :], symbol)
    return code, SIGNATURE(code.address)


def kernel(width: int, windows: bool = False) -> Callable[..., None]:
    """The compiled GEMM of vectors ``width`` floats wide (compiled on first use): ``(a, b,
    c, a_packed, b_packed, geo, ktab, m, n, k, sa_m, sa_k, sb_k, sb_n, ldc, mc, kc,
    pack_a)``, strides in elements; ``a_packed`` holds mc kc floats rounded up to MR rows,
    ``b_packed`` kc n rounded up to NR columns. With ``windows`` (AVX-512 only) B is an image
    batch ``b`` read through its windows, ``geo`` and ``ktab`` describing them (Note
    [windows packed as B]; ``sb_k``, ``sb_n`` unused); else ``geo``, ``ktab`` are unused."""
    return _kernel(width, windows)[1]
