"""Compiled Winograd F(2x2, 3x3) tile transforms (input B^T d B, output A^T m A), float32."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

import numpy as np
from llvmlite import ir

from .counted import I64, for_range, i64
from .jit import CompiledKernel, codegen_error, compile_ir

# Note [Winograd transforms]: a 3x3 stride-1 convolution padded by 1 on an even map is, per 4x4
# input tile d (stride 2) and 2x2 output tile y, y = A^T [(G g G^T) * (B^T d B)] A (Lavin and
# Gray 2015): 16 elementwise products instead of 36, which over a batch of tiles are 16 GEMMs
# (runtime/winograd.py). These kernels are the two tile transforms and the output transform's
# adjoint, each one pass over its operands: the input transform copies one image channel into
# a zero-bordered scratch row by row (the padding), then combines a tile's rows (t = B^T d:
# d0-d2, d1+d2, d2-d1, d1-d3), then its columns the same way, and stores the 16 values to
# their 16 planes (element strides: plane, channel, image; a tile's index ti tw + tj is unit
# stride). The output transform reads a tile's 16 planes and stores its 2x2 pixels (s =
# m0+m1+m2, d = m1-m2-m3 along each axis). B^T and A^T have entries 0 and +-1 only: the
# transforms round only their additions.
#
# Note [Winograd transforms by vectors]: each lane of a vector is one tile, L tiles of a tile
# row at a time (LANES: 8 while 8 remain, then 4, then one): a tile's 16 plane values are then
# 16 stores of L consecutive floats, and its columns are the even and odd lanes of 2L
# consecutive pixels (one load and a shuffle), as the output's two pixel columns are
# interleaved into one 2L-float store. Each lane does the scalar algorithm's additions in its
# order: the same bits as a tile at a time (tests/codegen/test_winograd_transforms.py). A tile
# at a time (4-wide vectors along a tile's row, 16 scalar stores) the transforms ran 2-5x
# slower: on VGG-11 b8's shapes, one thread, planes in cache (skewed as the steps lay them
# out), the 256-channel 16x16 layer's input transform 1.92 -> 1.02 ms, output 1.22 -> 0.43,
# gradient 1.00 -> 0.68; the 512-channel 8x8 layer's 0.98 -> 0.41, 0.79 -> 0.17, 0.78 -> 0.19.
# From cold caches (in a step) they are bound by memory: 3.94 -> 2.51, 1.74 -> 1.29, 1.38 ->
# 1.26 ms on the 16x16 layer.

F32 = ir.FloatType()
LANES = (8, 4, 1)  # tiles a vector (Note [Winograd transforms by vectors])
_IN_INTS = 9  # n c h w, source strides (image, channel), destination strides (plane, c, n)
_OUT_INTS = 9  # o n h w, source strides (plane, o, n), destination strides (o, n)
_IN = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3, *[ctypes.c_int64] * _IN_INTS)
_OUT = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 2, *[ctypes.c_int64] * _OUT_INTS)


def _function(
    name: str, pointers: int, ints: int
) -> tuple[ir.Module, ir.IRBuilder, list[ir.Value]]:
    mod = ir.Module(name=name)
    fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType()] * pointers + [I64] * ints)
    fn = ir.Function(mod, fnty, name)
    fn.attributes.add("nounwind")
    for a in fn.args[:pointers]:
        a.add_attribute("noalias")
    return mod, ir.IRBuilder(fn.append_basic_block("entry")), list(fn.args)


def _at(b: ir.IRBuilder, base: ir.Value, off: ir.Value) -> ir.Value:
    return b.gep(base, [off], source_etype=F32)


def _load(b: ir.IRBuilder, base: ir.Value, off: ir.Value, lanes: int) -> ir.Value:
    return b.load(_at(b, base, off), typ=ir.VectorType(F32, lanes), align=4)


def _store(b: ir.IRBuilder, v: ir.Value, base: ir.Value, off: ir.Value) -> None:
    b.store(v, _at(b, base, off), align=4)


def _halves(b: ir.IRBuilder, v: ir.Value) -> list[ir.Value]:
    """A 2L-lane vector's even and odd lanes (the left and right columns of L tiles)."""
    return _deinterleave(b, v, 2)


def _deinterleave(b: ir.IRBuilder, v: ir.Value, k: int) -> list[ir.Value]:
    """The ``k`` vectors of L lanes whose lane j is ``v``'s lane k j + i (i = 0 .. k - 1)."""
    n = v.type.count // k
    return [b.shuffle_vector(v, v, _lanes([k * j + i for j in range(n)])) for i in range(k)]


def _interleave(b: ir.IRBuilder, vs: list[ir.Value]) -> ir.Value:
    """``_deinterleave``'s inverse: lane k j + i of the result is lane j of ``vs[i]`` (the left
    and right columns of L tiles as one row of 2L pixels; L channels' 9 taps)."""
    k, n = len(vs), vs[0].type.count
    whole = _concat(b, vs)
    return b.shuffle_vector(whole, whole, _lanes([i * n + j for j in range(n) for i in range(k)]))


def _lanes(idx: list[int]) -> ir.Constant:
    return ir.Constant(ir.VectorType(ir.IntType(32), len(idx)), idx)


def _by_lanes(b: ir.IRBuilder, count: ir.Value, body: Callable[[ir.Value, int], None]) -> None:
    """``body(j, L)`` for items j .. j + L - 1 of ``count`` (a tile row's tiles, a weight row's
    channels): by LANES (Note [Winograd transforms by vectors])."""
    start = i64(0)
    for lanes in LANES:
        groups = b.sdiv(b.sub(count, start), i64(lanes))
        with for_range(b, i64(0), groups, f"g{lanes}") as g:
            body(b.add(start, b.mul(g, i64(lanes))), lanes)
        start = b.add(start, b.mul(groups, i64(lanes)))


def _combine(b: ir.IRBuilder, x: list[ir.Value]) -> list[ir.Value]:
    """B^T along one axis: (x0 - x2, x1 + x2, x2 - x1, x1 - x3)."""
    return [b.fsub(x[0], x[2]), b.fadd(x[1], x[2]), b.fsub(x[2], x[1]), b.fsub(x[1], x[3])]


def _input_ir() -> str:
    name = "adjit_winograd_in_float32"
    mod, b, args = _function(name, 3, _IN_INTS)
    src, dst, pad = args[:3]
    n, c, h, w, src_n, src_c, dst_p, dst_c, dst_n = args[3:]
    zero, one, two = i64(0), i64(1), i64(2)
    pw = b.add(w, two)
    th, tw = b.sdiv(h, two), b.sdiv(w, two)
    with for_range(b, zero, b.mul(b.add(h, two), pw), "z") as i:  # the border stays zero
        b.store(ir.Constant(F32, 0.0), _at(b, pad, i))
    with for_range(b, zero, n, "n") as i, for_range(b, zero, c, "c") as k:
        image = b.add(b.mul(i, src_n), b.mul(k, src_c))
        with for_range(b, zero, h, "r") as r:
            row_in, row_pad = b.add(image, b.mul(r, w)), b.add(b.mul(b.add(r, one), pw), one)
            with for_range(b, zero, w, "q") as q:
                v = b.load(_at(b, src, b.add(row_in, q)), typ=F32)
                b.store(v, _at(b, pad, b.add(row_pad, q)))
        out = b.add(b.mul(k, dst_c), b.mul(i, dst_n))
        with for_range(b, zero, th, "ti") as ti:

            def tiles(tj: ir.Value, lanes: int, ti: ir.Value = ti) -> None:
                corner = b.add(b.mul(b.mul(ti, two), pw), b.mul(tj, two))
                d = []  # d[row][col]: L tiles' values at one cell
                for row in range(4):
                    at = b.add(corner, b.mul(i64(row), pw))
                    left = _halves(b, _load(b, pad, at, 2 * lanes))
                    right = _halves(b, _load(b, pad, b.add(at, two), 2 * lanes))
                    d.append([*left, *right])
                rows = [_combine(b, [d[r][col] for r in range(4)]) for col in range(4)]
                cell = b.add(out, b.add(b.mul(ti, tw), tj))
                for a in range(4):
                    for col, v in enumerate(_combine(b, [rows[q][a] for q in range(4)])):
                        _store(b, v, dst, b.add(cell, b.mul(i64(4 * a + col), dst_p)))

            _by_lanes(b, tw, tiles)
    b.ret_void()
    return str(mod)


def _output_ir() -> str:
    name = "adjit_winograd_out_float32"
    mod, b, args = _function(name, 2, _OUT_INTS)
    src, dst = args[:2]
    o, n, h, w, src_p, src_o, src_n, dst_o, dst_n = args[2:]
    zero, two = i64(0), i64(2)
    th, tw = b.sdiv(h, two), b.sdiv(w, two)
    with for_range(b, zero, o, "o") as i, for_range(b, zero, n, "n") as k:
        base_in = b.add(b.mul(i, src_o), b.mul(k, src_n))
        base_out = b.add(b.mul(i, dst_o), b.mul(k, dst_n))
        with for_range(b, zero, th, "ti") as ti:

            def tiles(tj: ir.Value, lanes: int, ti: ir.Value = ti) -> None:
                cell = b.add(base_in, b.add(b.mul(ti, tw), tj))
                m = [_load(b, src, b.add(cell, b.mul(i64(p), src_p)), lanes) for p in range(16)]
                s = [b.fadd(b.fadd(m[4 * a], m[4 * a + 1]), m[4 * a + 2]) for a in range(4)]
                d = [b.fsub(b.fsub(m[4 * a + 1], m[4 * a + 2]), m[4 * a + 3]) for a in range(4)]
                top, bottom = ([b.fadd(b.fadd(t[0], t[1]), t[2]) for t in (s, d)],
                               [b.fsub(b.fsub(t[1], t[2]), t[3]) for t in (s, d)])  # fmt: skip
                pixel = b.add(base_out, b.add(b.mul(b.mul(ti, two), w), b.mul(tj, two)))
                _store(b, _interleave(b, top), dst, pixel)
                _store(b, _interleave(b, bottom), dst, b.add(pixel, w))

            _by_lanes(b, tw, tiles)
    b.ret_void()
    return str(mod)


def _adjoint(b: ir.IRBuilder, y0: ir.Value, y1: ir.Value) -> list[ir.Value]:
    """A^T's adjoint along one axis: (y0, y0 + y1, y0 - y1, -y1)."""
    return [y0, b.fadd(y0, y1), b.fsub(y0, y1), b.fneg(y1)]


def _gradient_ir() -> str:
    name = "adjit_winograd_grad_float32"
    mod, b, args = _function(name, 2, _OUT_INTS)
    src, dst = args[:2]
    o, n, h, w, dst_p, dst_o, dst_n, src_o, src_n = args[2:]
    zero, two = i64(0), i64(2)
    th, tw = b.sdiv(h, two), b.sdiv(w, two)
    with for_range(b, zero, o, "o") as i, for_range(b, zero, n, "n") as k:
        base_in = b.add(b.mul(i, src_o), b.mul(k, src_n))
        base_out = b.add(b.mul(i, dst_o), b.mul(k, dst_n))
        with for_range(b, zero, th, "ti") as ti:

            def tiles(tj: ir.Value, lanes: int, ti: ir.Value = ti) -> None:
                pixel = b.add(base_in, b.add(b.mul(b.mul(ti, two), w), b.mul(tj, two)))
                y = [_halves(b, _load(b, src, b.add(pixel, b.mul(i64(r), w)), 2 * lanes))
                     for r in range(2)]  # fmt: skip
                cols = [_adjoint(b, y[0][q], y[1][q]) for q in range(2)]  # [q][a]
                cell = b.add(base_out, b.add(b.mul(ti, tw), tj))
                for a in range(4):
                    for col, v in enumerate(_adjoint(b, cols[0][a], cols[1][a])):
                        _store(b, v, dst, b.add(cell, b.mul(i64(4 * a + col), dst_p)))

            _by_lanes(b, tw, tiles)
    b.ret_void()
    return str(mod)


# Note [Winograd weight transforms]: U = G w G^T per (output, input) channel (16 planes of O x C)
# and a weight gradient's taps G^T dU G were (16, 9) x (9, O C) and (O C, 16) x (16, 9) GEMMs:
# a depth of 9 or 16 leaves BLAS packing more than it multiplies (VGG-11 b8's step, one thread:
# 39 ms of weight transforms). These kernels apply G one axis at a time, L channels a vector
# (a channel's 9 taps are 9 consecutive floats: L channels' taps one 9L-float load or store and
# a shuffle): G x = (x0, (x0 + x1 + x2) / 2, (x0 - x1 + x2) / 2, x2) and G^T y = (y0 + s, d,
# s + y3) with s = (y1 + y2) / 2, d = (y1 - y2) / 2. A value rounds at most 4 times on its way
# (2 additions an axis; the halvings are exact), within the 9 the rounding bound of Note
# [Winograd convolutions] allows a GEMM's sum of 9 terms. VGG-11 b8's step, the Winograd steps
# of 5752eb8 (GEMMs) and these kernels in one process, interleaved, 14 rounds (Zen 3 EPYC):
# 347 -> 320 ms at 1 thread, 290 -> 250 at 2 (Note [Winograd at several threads]).
_W_INTS = 4  # o c, the taps' row stride, the planes' stride
_W = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 2, *[ctypes.c_int64] * _W_INTS)


def _g(b: ir.IRBuilder, x: list[ir.Value]) -> list[ir.Value]:
    """G along one axis: 3 values -> 4."""
    half = ir.Constant(x[0].type, [0.5] * x[0].type.count)
    return [x[0], b.fmul(b.fadd(b.fadd(x[0], x[1]), x[2]), half),
            b.fmul(b.fadd(b.fsub(x[0], x[1]), x[2]), half), x[2]]  # fmt: skip


def _gt(b: ir.IRBuilder, y: list[ir.Value]) -> list[ir.Value]:
    """G^T along one axis: 4 values -> 3."""
    half = ir.Constant(y[0].type, [0.5] * y[0].type.count)
    s, d = b.fmul(b.fadd(y[1], y[2]), half), b.fmul(b.fsub(y[1], y[2]), half)
    return [b.fadd(y[0], s), d, b.fadd(s, y[3])]


def _weight_ir(flip: bool) -> str:
    name = f"adjit_winograd_{'weight_flipped' if flip else 'weight'}_float32"
    mod, b, args = _function(name, 2, _W_INTS)
    w, u = args[:2]
    o, c, w_row, u_plane = args[2:]
    with for_range(b, i64(0), o, "o") as i:

        def channels(c0: ir.Value, lanes: int, i: ir.Value = i) -> None:
            taps = _deinterleave(b, _load(b, w, b.add(b.mul(i, w_row), b.mul(c0, i64(9))),
                                          9 * lanes), 9)  # fmt: skip
            t = taps[::-1] if flip else taps  # t[3 r + q]: row r, column q of the kernel
            cols = [_g(b, [t[3 * r + q] for r in range(3)]) for q in range(3)]  # [q][a]
            cell = b.add(b.mul(i, c), c0)
            for a in range(4):
                for col, x in enumerate(_g(b, [cols[q][a] for q in range(3)])):
                    _store(b, x, u, b.add(cell, b.mul(i64(4 * a + col), u_plane)))

        _by_lanes(b, c, channels)
    b.ret_void()
    return str(mod)


def _taps_ir() -> str:
    name = "adjit_winograd_taps_float32"
    mod, b, args = _function(name, 2, _W_INTS)
    u, w = args[:2]
    o, c, w_row, u_plane = args[2:]
    with for_range(b, i64(0), o, "o") as i:

        def channels(c0: ir.Value, lanes: int, i: ir.Value = i) -> None:
            cell = b.add(b.mul(i, c), c0)
            m = [_load(b, u, b.add(cell, b.mul(i64(p), u_plane)), lanes) for p in range(16)]
            rows = [_gt(b, m[4 * a : 4 * a + 4]) for a in range(4)]  # [a][q]
            t = [_gt(b, [rows[a][q] for a in range(4)]) for q in range(3)]  # [q][r]
            flat = [t[q][r] for r in range(3) for q in range(3)]  # tap 3 r + q
            _store(b, _interleave(b, flat), w, b.add(b.mul(i, w_row), b.mul(c0, i64(9))))

        _by_lanes(b, c, channels)
    b.ret_void()
    return str(mod)


def _concat(b: ir.IRBuilder, vs: list[ir.Value]) -> ir.Value:
    """The vectors one after another (padded to a power of two of them with zeros)."""
    zero = ir.Constant(vs[0].type, [0.0] * vs[0].type.count)
    vs = vs + [zero] * ((1 << (len(vs) - 1).bit_length()) - len(vs))
    while len(vs) > 1:
        n = vs[0].type.count
        vs = [
            b.shuffle_vector(x, y, _lanes(list(range(2 * n))))
            for x, y in zip(vs[::2], vs[1::2], strict=True)
        ]
    return vs[0]


_BUILD = {
    "in": (_input_ir, _IN),
    "out": (_output_ir, _OUT),
    "grad": (_gradient_ir, _OUT),
    "weight": (lambda: _weight_ir(False), _W),
    "weight_flipped": (lambda: _weight_ir(True), _W),
    "taps": (_taps_ir, _W),
}


@cache
def _kernel(which: str) -> tuple[CompiledKernel, Callable[..., None]]:
    build, sig = _BUILD[which]
    text = build()
    symbol = f"adjit_winograd_{which}_float32"
    code = compile_ir(text, symbol[len("adjit_") :], symbol)
    return code, sig(code.address)


@cache
def available() -> bool:
    """Whether the transforms compile on this host (else the caller keeps im2col)."""
    try:
        for which in _BUILD:
            _kernel(which)
    except codegen_error():
        return False
    return True


def _strides(a: np.ndarray) -> list[int]:
    return [s // a.itemsize for s in a.strides]


def input_transform(x: np.ndarray, out: np.ndarray, pad: np.ndarray) -> None:
    """``out[p, c, n, ti tw + tj]`` = (B^T d B)[p] of tile (ti, tj) of image ``x[n, c]``
    (padded by 1). ``x``: float32 (N, C, H, W), H and W even, rows contiguous; ``out``: a
    float32 (16, C, N, H W / 4) view with unit last stride; ``pad``: (H + 2) (W + 2) float32
    scratch."""
    n, c, h, w = x.shape
    sn, sc, sh, sw = _strides(x)
    assert sh == w and sw == 1 and out.strides[3] == 4 and pad.size >= (h + 2) * (w + 2)
    p, oc, on, _ = _strides(out)
    _kernel("in")[1](x.ctypes.data, out.ctypes.data, pad.ctypes.data, n, c, h, w, sn, sc, p, oc, on)


def output_transform(m: np.ndarray, out: np.ndarray) -> None:
    """``out[o, n]``'s 2x2 tiles = A^T m A of ``m[:, o, n, tile]``. ``m``: float32
    (16, O, N, H W / 4) with unit last stride; ``out``: a float32 (O, N, H, W) view with
    contiguous rows."""
    _, o, n, _ = m.shape
    h, w = out.shape[2:]
    sp, so, sn, _ = _strides(m)
    do, dn, dh, dw = _strides(out)
    assert m.strides[3] == 4 and dh == w and dw == 1
    _kernel("out")[1](m.ctypes.data, out.ctypes.data, o, n, h, w, sp, so, sn, do, dn)


def gradient_transform(g: np.ndarray, out: np.ndarray) -> None:
    """``out[:, o, n, tile]`` = A g A^T of the 2x2 tile of ``g[o, n]`` (the output transform's
    adjoint). ``g``: a float32 (O, N, H, W) view with contiguous rows; ``out``: float32
    (16, O, N, H W / 4) with unit last stride."""
    o, n, h, w = g.shape
    so, sn, sh, sw = _strides(g)
    dp, do, dn, _ = _strides(out)
    assert out.strides[3] == 4 and sh == w and sw == 1
    _kernel("grad")[1](g.ctypes.data, out.ctypes.data, o, n, h, w, dp, do, dn, so, sn)


def weight_planes(w: np.ndarray, u: np.ndarray, flip: bool) -> None:
    """``u[p, o C + c]`` = (G k G^T)[p] of the kernel k = ``w[o, 9 c : 9 c + 9]`` (flipped
    when ``flip``), Note [Winograd weight transforms]. ``w``: float32 (O, 9 C) with unit column
    stride; ``u``: a float32 (16, O C) view with unit column stride."""
    _kernel("weight_flipped" if flip else "weight")[1](w.ctypes.data, u.ctypes.data, *_taps(w, u))


def plane_taps(u: np.ndarray, w: np.ndarray) -> None:
    """``w[o, 9 c : 9 c + 9]`` = G^T m G of the planes ``m = u[:, o C + c]`` (the weight
    transform's adjoint, Note [Winograd weight transforms]). ``u``: a float32 (16, O C) view
    with unit column stride; ``w``: float32 (O, 9 C) with unit column stride."""
    _kernel("taps")[1](u.ctypes.data, w.ctypes.data, *_taps(w, u))


def _taps(w: np.ndarray, u: np.ndarray) -> tuple[int, int, int, int]:
    """The weight kernels' integers for taps ``w`` and planes ``u``: O, C, w's row stride and
    u's plane stride (elements), the layouts checked."""
    o, c = w.shape[0], w.shape[1] // 9
    assert w.strides[1] == 4 and u.strides[1] == 4 and u.shape == (16, o * c)
    return o, c, w.strides[0] // 4, u.strides[0] // 4
