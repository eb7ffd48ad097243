"""3x3 stride-1 convolutions and their input and weight gradients by Winograd F(2x2, 3x3) (Note
[Winograd convolutions])."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from ..ir.aval import Aval
from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import Op
from ..passes.pipeline import flag
from . import mkl_gemm
from .buffer_plan import StepIO
from .executor import STEP_IO, Buffers, Env, ExternStep
from .kernels import run_split
from .window_steps import UnfoldColumns, sole_readers
from .workers import num_threads

# Note [Winograd convolutions]
# A convolution is UNFOLD + one GEMM (Note [convolution as UNFOLD + MATMUL]), 9 C O products per
# output pixel; for a 3x3 kernel, stride 1, padding 1 on even maps, Winograd's F(2x2, 3x3) computes
# each 2x2 output tile from its 4x4 input tile with 16 C O products (2.25x fewer): U = G w G^T per
# (output, input) channel (16 planes, O x C; Note [Winograd weight transforms] in
# codegen/winograd.py), V = B^T d B per tile (16 planes, C x tiles), M[p] = U[p] V[p] (16 GEMMs, one
# gemm_batch_strided), and the output tile A^T M A. The input gradient is the same convolution of
# the output's gradient with the kernel flipped and its channels swapped: U' = G flip(w) G^T, read
# transposed. A WinogradConv step replaces the UnfoldColumns step and the MATMUL(w, columns) of the
# forward (writing the MATMUL's (O, N H W) value), a WinogradFold step the MATMUL(w^T, g), RESHAPE,
# PERMUTE and FOLD of the input gradient (writing the FOLD's (N, C, H, W)), and a WinogradWeight
# step the weight gradient's UnfoldColumns, PERMUTE and MATMUL(g, columns^T): the products' gradient
# A g A^T (codegen's gradient transform) times the input's planes, summed over the tiles by 16
# GEMMs, gives U's gradient, and G^T (.) G the weight's (its taps, Note [Winograd weight
# transforms]).
# Measured per shape at 1 thread (/tmp prototype, im2col + GEMM against Winograd, ms, CPU
# time, load ~2-3): VGG-11 b8's 32x32 to 8x8 layers gain (64->128 at 32x32: 22.6 -> 14.7;
# 256->256 at 16x16: 19.7 -> 16.6; 512->512 at 8x8: 24.1 -> 20.2), its 4x4 layers and
# resnet18's 3x3 layers lose (the weight transform, 16 O C values per call, and the tile
# transforms do not pay for the products saved when O C H W is small: resnet18's 64->64 at
# 16x16 3.8 -> 4.7). Weight gradients alike (load ~8): 64->128 at 32x32 13.3 -> 11.4, 256->256
# at 16x16 20.6 -> 15.6, 512->512 at 8x8 20.3 -> 15.4; at 4x4 6.5 -> 9.7. ``auto`` therefore
# takes a shape when O C H W >= AUTO_WORK and the map is at least 8x8; ``all`` takes every
# eligible shape (tests), ``off`` none (ADJIT_WINOGRAD).
# The planes are AUTO_SKEW floats apart beyond their size: 16 planes a multiple of 4 KiB
# apart share L1 sets and the transforms' 16 streams thrashed them (c2's input transform
# 5.4 -> 3.0 ms). Rounding: B^T, G and A^T have entries 0, +-1/2, +-1 (scaling exact), so an
# output is the exact algorithm with every term perturbed along a path of at most 2 (input
# transform) + 9 (weight transform) + 1 + C (products and their sum, any order) + 4 (output
# transform) roundings: |error| <= gamma_{C+16} times the algorithm run on |x|, |w| with |B|,
# |G|, |A| (Higham's bound; tests/runtime/test_winograd.py checks it against float64). That
# absolute run grows the direct bound sum |w| |x| by the transforms (|B^T d B| <= 4 max|d|,
# |G w G^T| <= 9/4 max|w|, A^T sums 9 values): a few times im2col's error, measured 1-1.5x
# (max error against float64 on VGG-11 shapes 1.7e-6 .. 3.1e-6, im2col 1.6e-6 .. 3.2e-6).
# At n threads the steps' pieces run across adjit's threads (Note [Winograd steps on threads]).

AUTO_WORK = 1 << 23  # O C H W: VGG-11's 64->128 at 32x32, 128->256 at 16x16, 256->512 at 8x8
AUTO_MAP = 8  # smallest side taken by ``auto``
AUTO_WEIGHT = 1 << 30  # largest O C ``auto`` takes (no limit: Note [Winograd chunks])
AUTO_SKEW = 16  # floats between planes beyond their size (L1 set spread)
CHUNK_BYTES = 9 << 19  # input and product planes of a chunk of images (Note [Winograd blocks])
CHUNKS = 4  # at most this many chunks (smaller GEMMs run slower)
BLOCK_BYTES = 1 << 20  # the weight's planes of a block of output channels (Note [Winograd blocks])
BLOCK_ROWS = 64  # at least this many output channels a block (smaller GEMMs run slower)
_MODES = ("auto", "all", "off")
WINDOW = {
    "kernel_size": (3, 3),
    "dilation": (1, 1),
    "padding": ((1, 1), (1, 1)),
    "stride": (1, 1),
}


def mode() -> str:
    """ADJIT_WINOGRAD: ``auto`` (default), ``all`` or ``off``."""
    got = flag("ADJIT_WINOGRAD").lower() or "auto"
    if got not in _MODES:
        raise RuntimeError(f"ADJIT_WINOGRAD must be one of {', '.join(_MODES)}, not {got!r}")
    return got


def takes(n: int, c: int, o: int, h: int, w: int, how: str) -> bool:
    """Whether a 3x3 stride-1 padding-1 convolution of this shape goes by Winograd."""
    if how == "off" or h % 2 or w % 2 or min(n, c, o, h, w) < 1:
        return False
    if how == "all":
        return True
    return o * c * h * w >= AUTO_WORK and min(h, w) >= AUTO_MAP and o * c <= AUTO_WEIGHT


def planes(count: int, rows: int, cols: int, dt: Any) -> Var:
    """A scratch value for 16 planes of (rows, cols), AUTO_SKEW apart beyond their size."""
    return Var(Aval((count, rows * cols + AUTO_SKEW), dt))


def _view(buf: np.ndarray, *shape: int) -> np.ndarray:
    """The (16, *shape) planes of a ``planes`` buffer."""
    return buf[:, : int(np.prod(shape))].reshape(buf.shape[0], *shape)


def weight_transform(w2: np.ndarray, o: int, c: int, flip: bool, out: np.ndarray,
                     threads: int = 1) -> np.ndarray:  # fmt: skip
    """(16, O, C): G w G^T of the (O, C 3 3) weight (of the kernel flipped when ``flip``), cut
    by output channels across ``threads`` threads (Note [Winograd steps on threads])."""
    u = out[:, : o * c]
    on_threads(partial(_weight_rows, _unit_taps(w2), u, c, flip), o, threads)
    return u.reshape(16, o, c)


def flipped_block(w2: np.ndarray, c0: int, c1: int, out: np.ndarray, threads: int = 1
                  ) -> np.ndarray:  # fmt: skip
    """(16, C1 - C0, O, strides (O C', 1, C')): U' of the input gradient's output channels
    c0:c1, G flip(w) G^T of the (O, C 3 3) weight's columns of those channels, read
    transposed (channels swapped); the rows cut across ``threads`` threads (Note [Winograd
    steps on threads])."""
    o, cb = w2.shape[0], c1 - c0
    u = out[:, : o * cb]
    taps = _unit_taps(w2)[:, 9 * c0 : 9 * c1]
    on_threads(partial(_weight_rows, taps, u, cb, True), o, threads)
    return u.reshape(16, o, cb).transpose(0, 2, 1)


def _unit_taps(w2: np.ndarray) -> np.ndarray:
    """``w2`` (O, C 3 3), copied unless each kernel's 9 taps are consecutive floats."""
    return w2 if w2.strides[1] == w2.itemsize else np.ascontiguousarray(w2)


def _weight_rows(taps: np.ndarray, u: np.ndarray, c: int, flip: bool, a: int, b: int) -> None:
    """Output channels a:b of ``weight_transform`` (Note [Winograd weight transforms])."""
    from ..codegen import winograd  # imports llvmlite.ir: lazily

    winograd.weight_planes(taps[a:b], u[:, a * c : b * c], flip)


def products(u: np.ndarray, v: np.ndarray, m: np.ndarray, threads: int = 1) -> None:
    """m[p] = u[p] @ v[p] for the 16 planes, split across ``threads`` threads by planes."""
    if threads < 2:
        mkl_gemm.fastest(u, v, m)
        return
    edges = [16 * i // threads for i in range(threads + 1)]
    calls = [(u[a:b], v[a:b], m[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    run_split(mkl_gemm.fastest, calls, threads)


# Note [Winograd steps on threads]
# At n threads the 16 GEMMs were split by planes and the transforms ran on the caller alone:
# in VGG-11 b8's step (1 thread, CPU time, load ~8) the transforms took 68 ms (input 23, the
# input gradient's weight columns 15, output 15, weight 9, gradient 6) of the Winograd steps'
# 242, a fifth of the step serial at 2 threads. Now a chunk's input transform is cut by its
# images (each piece with a padded row of its own), and a block's weight transform (the input
# gradient's: its rows, each piece copying its own columns), output transform (a weight
# gradient's gradient transform) by its output channels, a piece a thread; the products stay
# split by planes, where no piece reads another's operands. (Cut by images from input to
# output, with a piece's images' columns of V times all of U, the pieces shared no hand-off
# but each read all of U, up to 2 MB a block of the 8x8 layers, and their GEMMs had half the
# columns: VGG-11 b8's step took 10% more CPU time at 2 threads, load ~10.) Each piece writes
# only its own planes' columns or channels, and the edges depend only on the shapes and the
# thread count: the same bits from call to call; a transform's pieces give one thread's bits
# (each tile is its own), and so did the planes' products on the tests' shapes (the whole
# net's gradients at 2 threads were one thread's bits on the Xeon, not on a Zen 4:
# test_winograd.py). VGG-11 b8 at 2 threads, in-process interleaved medians at load ~9-10:
# CPU time 428 -> 436 ms (1 thread: 390 and 410 for the same code, the noise), the caller's
# wall time less its waits for a core 391 -> 360 ms.

#
# Note [Winograd at several threads]
# ``auto`` used to take no shape when the program was compiled for more than one thread: the
# transforms, a tile at a time, and the weight transforms, depth-9 GEMMs, scaled poorly across
# this machine's cores (VGG-11 b8's step at 2 threads: 268-292 ms with ADJIT_WINOGRAD=off against
# 365-400 with Winograd, a process each). With the transforms a vector of tiles at a time (Note
# [Winograd transforms by vectors]) and the weight transforms as kernels (Note [Winograd weight
# transforms], both in codegen/winograd.py), Winograd is ahead at 2 threads too: VGG-11 b8's
# step compiled both ways in one process, interleaved, 20 rounds each, 266.6 and 265.3 ms
# against 315.3 and 305.0 with ``off`` (medians of two runs, IQRs 238-303 against 287-346;
# AMD EPYC Zen 3, 2 cores). So ``auto`` takes the same shapes at any thread count.


def pieces(extent: int, threads: int) -> list[tuple[int, int]]:
    """``[0, extent)`` cut into up to ``threads`` nearly equal pieces (images or channels)."""
    count = max(1, min(threads, extent))
    edges = [extent * i // count for i in range(count + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def on_threads(fn: Callable[[int, int], None], extent: int, threads: int) -> None:
    """``fn(a, b)`` for the pieces of ``[0, extent)``, across adjit's threads when several."""
    cut = pieces(extent, threads)
    if len(cut) == 1:
        fn(0, extent)
        return
    run_split(fn, cut, threads)


def _inputs(x: np.ndarray, v: np.ndarray, pad: np.ndarray, a: int, b: int) -> None:
    """The input transform of images a:b of ``x`` into their columns of ``v`` (16, C, N', tiles)
    (a piece after the first with a padded row of its own)."""
    from ..codegen import winograd  # imports llvmlite.ir: lazily

    winograd.input_transform(x[a:b], v[:, :, a:b], pad if a == 0 else np.empty_like(pad))


def _outputs(m: np.ndarray, out: np.ndarray, a: int, b: int) -> None:
    """The output transform of output channels a:b of ``m`` (16, O', N', tiles) into ``out``
    (O', N', H, W)."""
    from ..codegen import winograd  # imports llvmlite.ir: lazily

    winograd.output_transform(m[:, a:b], out[a:b])


def _taps_rows(du: np.ndarray, taps: np.ndarray, c: int, a: int, b: int) -> None:
    """Output channels a:b of a weight gradient's taps G^T dU G (Note [Winograd weight
    transforms])."""
    from ..codegen import winograd  # imports llvmlite.ir: lazily

    winograd.plane_taps(du[:, a * c : b * c], taps[a:b])


def _gradients(g: np.ndarray, m: np.ndarray, a: int, b: int) -> None:
    """The gradient transform of output channels a:b of ``g`` (O', N', H, W) into ``m``."""
    from ..codegen import winograd  # imports llvmlite.ir: lazily

    winograd.gradient_transform(g[a:b], m[:, a:b])


# Note [Winograd chunks]: the input's and the products' planes of the whole batch are 4 times
# the input and the output (VGG-11 b8's 64->128 layer at 32x32: 8 + 16 MB). The steps go by
# chunks of images, planes of about CHUNK_BYTES, in at most CHUNKS chunks (each image's tiles
# are its own; a weight gradient adds the chunks' results, in chunk order, through ``part``).
# VGG-11 b8 at 1 thread (step peak by benchmarks/step_memory.py; in-process interleaved
# thread_time medians, load ~9): ADJIT_WINOGRAD=off 75 MB (PyTorch 65.5), 389-429 ms; whole
# batch 90.5 MB, 296-331 ms; 8 MB in 2 chunks (these constants: only the 32x32 and 16x16
# layers are cut) 88.4 MB, 344 ms; 4 MB in 4 chunks 92 MB (the weight gradients' ``part``),
# 336 ms. Most of the rise is the weight's 16 planes of the 512-channel layers (16 O C floats:
# 16 MB for 512->512); leaving out O C > 256^2 (AUTO_WEIGHT = 1 << 16) gave 79 MB and 360 ms.
# (Those were the constants before Note [Winograd blocks], which set them now.)


# Note [Winograd blocks]: the weight's 16 planes (16 O C floats: 16 MB for VGG-11's 512->512)
# were live, with the input's and products' planes, through a step's 16 GEMMs: the VGG-11 b8
# step peaked at 77.4 MB (ADJIT_WINOGRAD=off 62.0, PyTorch 65.5). The steps now go by blocks
# of output channels, BLOCK_BYTES of weight planes but at least BLOCK_ROWS channels: per chunk
# of images its input planes once, then per block the block's weight planes (G w G^T of those
# rows; the input gradient's U' = G flip(w) G^T of those input channels' columns, read
# transposed), its 16 products and its output transform into those channels (``by_block``).
# A weight gradient goes the same way: per block the gradient transform of those output
# channels, 16 products into the block's planes of U's gradient and G^T (.) G into the
# block's rows of the weight's gradient (a later chunk's through ``part``, a block's rows,
# added in chunk order). Each output is the same sum as before, so the rounding bound holds
# as it was; the weight planes are remade per chunk when there are several blocks. The chunks
# count the block's product planes (``images``), CHUNK_BYTES 4.5 MB, as even as they go: the
# step's peak is the 256-channel 16x16 layers' backward (3 chunks of 3, 3, 2 images) while the
# 8x8 layers stay whole (their steps slowed 1.4-1.7x in 2 chunks: fewer tiles a product).
# VGG-11 b8 at 1 thread (benchmarks/step_memory.py): step peak 77.3 -> 64.1 MB, arena 77.0 ->
# 63.8 (off 61.8, 61.7); the CPU time of its Winograd steps (in-process interleaved medians,
# load ~4) 145 -> 161 ms of a ~300 ms step. (By its plan, 2 MB blocks and chunks of 5 MB: a
# 65.3 MB arena; chunks of 4 MB, the 8x8 layers in 2: 190 against 148 ms.) The input
# gradient's weight planes of a block are read from the weight's columns of those channels in
# place (copied whole, the 512-channel blocks' 1.2 MB copy put the step's peak 1.1 MB above
# its arena).


def images(n: int, c: int, o: int, h: int, w: int) -> int:
    """Images per chunk (Note [Winograd chunks])."""
    per = 16 * (c + o) * (h * w // 4) * 4
    k = min(n, max(1, CHUNK_BYTES // per, -(-n // CHUNKS)))
    return -(-n // -(-n // k))  # the same number of chunks, as even as they go


def _planned(v_buf: np.ndarray, per_image: int) -> int:
    """Images per chunk the input's planes were planned for (``_scratch``)."""
    return (v_buf.shape[1] - AUTO_SKEW) // per_image


def chunks(n: int, k: int) -> list[tuple[int, int]]:
    return [(i, min(n, i + k)) for i in range(0, n, k)]


def block(o: int, c: int) -> int:
    """Output channels per block: the weight's planes of a block about BLOCK_BYTES (Note
    [Winograd blocks])."""
    return min(o, max(BLOCK_ROWS, BLOCK_BYTES // (16 * c * 4)))


def _capacity(buf: np.ndarray, per: int) -> int:
    """How many ``per``-float rows each plane of a ``planes`` buffer holds."""
    return (buf.shape[1] - AUTO_SKEW) // per


def convolve(x: np.ndarray, u: np.ndarray, out: np.ndarray, bufs: tuple[np.ndarray, ...]) -> None:
    """``out`` (O, N, H, W view) = the convolution of image ``x`` (N, C, H, W view, rows
    contiguous) by the transformed weight ``u`` (16, O, C, any strides), by chunks of images
    and blocks of output channels (Notes [Winograd chunks], [Winograd blocks])."""
    by_block(x, u.shape[1], lambda o0, o1: u[:, o0:o1], out, bufs)


def by_block(x: np.ndarray, o: int, weights: Callable[[int, int], np.ndarray], out: np.ndarray,
             bufs: tuple[np.ndarray, ...]) -> None:  # fmt: skip
    """``convolve`` with the transformed weight of output channels o0:o1 made by ``weights``
    (o0, o1) as needed: a chunk's input planes, then per block its weight's planes, their 16
    products and the block's output transform (Note [Winograd steps on threads])."""

    v_buf, m_buf, pad = bufs
    n, c, h, w = x.shape
    tiles = (h // 2) * (w // 2)
    planned = _planned(v_buf, c * tiles)
    ob = min(o, _capacity(m_buf, planned * tiles))
    if ob == o:  # one block: its weight's planes made once for all chunks
        whole = weights(0, o)
        weights = lambda o0, o1: whole  # noqa: E731
    threads = num_threads()
    for n0, n1 in chunks(n, planned):
        k = n1 - n0
        v = _view(v_buf, c, k, tiles)
        on_threads(partial(_inputs, x[n0:n1], v, pad), k, threads)
        for o0, o1 in chunks(o, ob):
            m = _view(m_buf, o1 - o0, k, tiles)
            flat = v.reshape(16, c, k * tiles)
            products(weights(o0, o1), flat, m.reshape(16, o1 - o0, -1), threads)
            on_threads(partial(_outputs, m, out[o0:o1, n0:n1]), o1 - o0, threads)


class WinogradConv(ExternStep):
    """MATMUL(w, columns) of a 3x3 stride-1 convolution (its UNFOLD's UnfoldColumns step
    dropped) by Winograd F(2x2, 3x3): ``u``, ``v``, ``m`` the planes, ``pad`` a padded
    channel."""

    __slots__ = ("unfold", "u", "v", "m", "pad")
    FIELDS = ("eqn", "unfold", "u", "v", "m", "pad")
    unfold: Eqn
    u: Var
    v: Var
    m: Var
    pad: Var

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        e = self.eqn
        x = np.ascontiguousarray(env[self.unfold.inputs[0]])  # type: ignore[index]
        w2 = np.ascontiguousarray(env[e.inputs[0]])  # type: ignore[index]
        out, p = bufs.get(e.out)
        n, c, h, w = x.shape
        o, u_buf = w2.shape[0], bufs.get(self.u)[0]

        def weights(o0: int, o1: int) -> np.ndarray:
            return weight_transform(w2[o0:o1], o1 - o0, c, False, u_buf, num_threads())

        scratch = (bufs.get(self.v)[0], bufs.get(self.m)[0], bufs.get(self.pad)[0])
        by_block(x, o, weights, out.reshape(o, n, h, w), scratch)
        env[e.out], ptrs[e.out] = out, p

    def io(self) -> StepIO:
        reads = (self.unfold.inputs[0], self.eqn.inputs[0])
        return StepIO(reads, (self.eqn.out, self.u, self.v, self.m, self.pad), ())


STEP_IO[WinogradConv] = WinogradConv.io


class WinogradFold(ExternStep):
    """FOLD(PERMUTE(RESHAPE(MATMUL(w^T, g)))), a 3x3 stride-1 convolution's input gradient, by
    Winograd F(2x2, 3x3) (``eqn`` the FOLD, ``product`` the MATMUL)."""

    __slots__ = ("product", "u", "v", "m", "pad")
    FIELDS = ("eqn", "product", "u", "v", "m", "pad")
    product: Eqn
    u: Var
    v: Var
    m: Var
    pad: Var

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        e, mm = self.eqn, self.product
        wt, g = env[mm.inputs[0]], env[mm.inputs[1]]  # type: ignore[index]
        out, p = bufs.get(e.out)
        n, c, h, w = out.shape
        o = g.shape[0]
        w2, u_buf = wt.T, bufs.get(self.u)[0]  # (O, C 3 3), any strides

        def weights(c0: int, c1: int) -> np.ndarray:
            return flipped_block(w2, c0, c1, u_buf, num_threads())

        image = np.ascontiguousarray(g).reshape(o, n, h, w).transpose(1, 0, 2, 3)
        scratch = (bufs.get(self.v)[0], bufs.get(self.m)[0], bufs.get(self.pad)[0])
        by_block(image, c, weights, out.transpose(1, 0, 2, 3), scratch)
        env[e.out], ptrs[e.out] = out, p

    def io(self) -> StepIO:
        return StepIO(self.product.inputs, (self.eqn.out, self.u, self.v, self.m, self.pad), ())


STEP_IO[WinogradFold] = WinogradFold.io


class WinogradWeight(ExternStep):
    """MATMUL(g, PERMUTE(columns)), a 3x3 stride-1 convolution's weight gradient (its
    UNFOLD's UnfoldColumns step and the PERMUTE dropped), by Winograd F(2x2, 3x3): the
    products' gradient A g A^T times the input's planes, summed over the tiles (16 GEMMs),
    then G^T (.) G."""

    __slots__ = ("unfold", "u", "v", "m", "pad", "part")
    FIELDS = ("eqn", "unfold", "u", "v", "m", "pad", "part")
    unfold: Eqn
    u: Var
    v: Var
    m: Var
    pad: Var
    part: Var  # a later chunk's weight gradient

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:

        e = self.eqn
        x = np.ascontiguousarray(env[self.unfold.inputs[0]])  # type: ignore[index]
        g = np.ascontiguousarray(env[e.inputs[0]])  # type: ignore[index]
        out, p = bufs.get(e.out)
        n, c, h, w = x.shape
        o, tiles = g.shape[0], h * w // 4
        image = g.reshape(o, n, h, w)
        u_buf, v_buf, m_buf = bufs.get(self.u)[0], bufs.get(self.v)[0], bufs.get(self.m)[0]
        part, planned = bufs.get(self.part)[0].reshape(-1), _planned(v_buf, c * tiles)
        rows = out.reshape(o, c * 9)
        ob = min(o, _capacity(m_buf, planned * tiles), _capacity(u_buf, c))
        threads = num_threads()  # Note [Winograd steps on threads]
        for i, (n0, n1) in enumerate(chunks(n, planned)):
            k = n1 - n0
            v = _view(v_buf, c, k, tiles)
            on_threads(partial(_inputs, x[n0:n1], v, bufs.get(self.pad)[0]), k, threads)
            vt = v.reshape(16, c, k * tiles).transpose(0, 2, 1)
            for o0, o1 in chunks(o, ob):
                m, du = _view(m_buf, o1 - o0, k, tiles), _view(u_buf, o1 - o0, c)
                on_threads(partial(_gradients, image[o0:o1, n0:n1], m), o1 - o0, threads)
                products(m.reshape(16, o1 - o0, k * tiles), vt, du, threads)
                into = part[: (o1 - o0) * c * 9] if i else rows[o0:o1].reshape(-1)
                on_threads(partial(_taps_rows, du.reshape(16, -1), into.reshape(-1, 9 * c), c),
                           o1 - o0, threads)  # fmt: skip
                if i:
                    np.add(rows[o0:o1], into.reshape(o1 - o0, -1), out=rows[o0:o1])
        env[e.out], ptrs[e.out] = out, p

    def io(self) -> StepIO:
        reads = (self.unfold.inputs[0], self.eqn.inputs[0])
        pooled = (self.eqn.out, self.u, self.v, self.m, self.pad, self.part)
        return StepIO(reads, pooled, ())


STEP_IO[WinogradWeight] = WinogradWeight.io


def _scratch(n: int, c: int, o: int, h: int, w: int, dt: Any) -> tuple[Var, ...]:
    """The weight's planes (O C), the input's (C tiles), the products' (O tiles), a padded
    channel."""
    ob = block(o, c)
    cells = images(n, c, ob, h, w) * h * w // 4
    pad = Var(Aval(((h + 2) * (w + 2),), dt))
    return planes(16, ob, c, dt), planes(16, c, cells, dt), planes(16, ob, cells, dt), pad


def _window(e: Eqn) -> bool:
    return all(e.attrs.get(k) == v for k, v in WINDOW.items())


def _weight(s: Any, perm: Eqn, reader: dict[Var, Eqn], plain: dict[int, Any], how: str
            ) -> tuple[WinogradWeight, Any] | None:  # fmt: skip
    """The WinogradWeight for an UnfoldColumns step ``s`` read by PERMUTE ``perm`` and the
    MATMUL(g, perm), and the PERMUTE's step, else None."""
    u = s.unfold
    mm = reader.get(perm.out)
    if tuple(perm.attrs["axes"]) != (1, 0) or id(perm) not in plain or mm is None:
        return None
    if mm.op is not Op.MATMUL or mm.inputs[1] is not perm.out or id(mm) not in plain:
        return None
    x, g = u.inputs[0], mm.inputs[0]
    if not isinstance(x, Var) or not isinstance(g, Var) or len(x.aval.shape) != 4:
        return None
    n, c, h, w = x.aval.shape
    o = g.aval.shape[0]
    if g.aval.shape != (o, n * h * w) or mm.out.aval.shape != (o, c * 9):
        return None
    if not all(_float32(v) for v in (x, g, mm.out)) or not takes(n, c, o, h, w, how):
        return None
    chunked = images(n, c, block(o, c), h, w) < n
    part = Var(Aval((block(o, c), c * 9) if chunked else (1, 9), x.aval.dtype))
    got = WinogradWeight(mm, u, *_scratch(n, c, o, h, w, x.aval.dtype), part)
    return got, plain[id(perm)]


def _forward(s: Any, reader: dict[Var, Eqn], plain: dict[int, Any], how: str) -> Any:
    """The WinogradConv for an UnfoldColumns step ``s`` and the MATMUL reading it, or the
    WinogradWeight and its PERMUTE's step for a weight gradient, else None."""
    u = s.unfold
    mm = reader.get(s.matrix.out)
    if not _window(u) or mm is None:
        return None
    if mm.op is Op.PERMUTE:
        return _weight(s, mm, reader, plain, how)
    if mm.op is not Op.MATMUL or mm.inputs[1] is not s.matrix.out:
        return None
    x, w2 = u.inputs[0], mm.inputs[0]
    if id(mm) not in plain or not isinstance(x, Var) or not isinstance(w2, Var):
        return None
    n, c, h, w = x.aval.shape
    o = mm.out.aval.shape[0]
    if w2.aval.shape != (o, c * 9) or not all(_float32(v) for v in (x, w2, mm.out)):
        return None
    if not takes(n, c, o, h, w, how):
        return None
    return WinogradConv(mm, u, *_scratch(n, c, o, h, w, x.aval.dtype))


def _fold(fold: Eqn, producer: dict[Var, Eqn], uses: Counter[Var], plain: dict[int, Any],
          how: str) -> tuple[WinogradFold, list[Any]] | None:  # fmt: skip
    """The WinogradFold replacing ``fold`` and the steps it replaces, when it applies."""
    perm = producer.get(fold.inputs[0])  # type: ignore[arg-type]
    if not _window(fold) or perm is None or perm.op is not Op.PERMUTE:
        return None
    reshape = producer.get(perm.inputs[0])  # type: ignore[arg-type]
    if tuple(perm.attrs["axes"]) != (1, 0, 2) or reshape is None or reshape.op is not Op.RESHAPE:
        return None
    mm = producer.get(reshape.inputs[0])  # type: ignore[arg-type]
    if mm is None or mm.op is not Op.MATMUL or not all(isinstance(a, Var) for a in mm.inputs):
        return None
    chain = (mm, reshape, perm)
    if any(uses[e.out] != 1 or id(e) not in plain for e in chain) or id(fold) not in plain:
        return None
    n, c, h, w = fold.out.aval.shape
    wt, g = mm.inputs
    o = g.aval.shape[0]  # type: ignore[union-attr]
    if wt.aval.shape != (c * 9, o) or g.aval.shape != (o, n * h * w):  # type: ignore[union-attr]
        return None
    if not all(_float32(v) for v in (wt, g, mm.out)):  # type: ignore[arg-type]
        return None
    if fold.attrs["output_size"] != (h, w) or not takes(n, c, o, h, w, how):
        return None
    got = WinogradFold(fold, mm, *_scratch(n, o, c, h, w, fold.out.aval.dtype))
    return got, [plain[id(e)] for e in chain]


def with_winograd(graph: Graph, steps: Sequence[Any]) -> list[Any]:
    """``steps`` with each float32 3x3 stride-1 convolution ADJIT_WINOGRAD takes, and its input
    gradient, by Winograd F(2x2, 3x3) (Note [Winograd convolutions])."""
    how = mode()  # (at any thread count: Note [Winograd at several threads])
    if how == "off" or not any(type(s) is UnfoldColumns or type(s) is ExternStep
                               and s.eqn.op is Op.FOLD for s in steps):  # fmt: skip
        return list(steps)
    from ..codegen import winograd  # imports llvmlite.ir: only for convolutions

    if not winograd.available():
        return list(steps)
    uses, reader = sole_readers(graph)
    producer = {e.out: e for e in graph.eqns}
    plain = {id(s.eqn): s for s in steps if type(s) is ExternStep}
    fused: dict[int, Any] = {}  # id of the replaced step -> its Winograd step
    dropped: set[int] = set()
    for s in steps:
        if type(s) is UnfoldColumns and _float32(s.unfold.out):
            got = _forward(s, reader, plain, how)
            if isinstance(got, tuple):  # a weight gradient: its PERMUTE's step goes too
                got, perm = got
                dropped.add(id(perm))
            if got is not None:
                fused[id(plain[id(got.eqn)])] = got
                dropped.add(id(s))
        elif type(s) is ExternStep and s.eqn.op is Op.FOLD and _float32(s.eqn.out):
            pair = _fold(s.eqn, producer, uses, plain, how)
            if pair is not None:
                fused[id(s)] = pair[0]
                dropped.update(id(x) for x in pair[1])
    return [fused.get(id(s), s) for s in steps if id(s) not in dropped]


def _float32(v: Var) -> bool:
    return np.dtype(v.aval.dtype.np) == np.float32
