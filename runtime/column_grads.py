"""A convolution's weight gradient by chunks of the batch: each chunk's columns unfolded into a
small buffer and multiplied in (Note [weight gradient by chunks])."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir.aval import Aval
from ..ir.graph import Graph, Var
from ..ir.ops import Op
from . import chunk_slots, mkl_gemm, windows_product
from .buffer_plan import StepIO, nbytes
from .chunk_slots import spans
from .executor import STEP_IO, Buffers, Env, ExternStep
from .window_steps import UnfoldColumns, replaced, sole_readers


def matmul_into(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """A chunk's product: on one thread its slot's (Note [column steps on threads]), else on
    BLAS's own threads; MKL's when active (Note [MKL products]), at one thread the faster
    library's (Note [BLAS by measurement])."""
    mkl_gemm.fastest(x, y, out)


# Note [weight gradient by chunks]
# A convolution's weight gradient multiplies the output's gradient (O, N L) by its input's
# columns unfolded again (Note [cheap recompute]), the (C kh kw, N L) matrix of the whole
# batch: k*k times the input's bytes, the largest value of the backward (VGG-11 b8: 18 MB of
# columns for a 2 MB image, the step's peak). PyTorch's CPU convolution unfolds one sample
# at a time and adds its product into the weight's gradient. A ColumnsProduct step does the
# same by chunks of ``samples`` images (columns of about CHUNK_BYTES): unfold the chunk into
# a planned (C kh kw, chunk L) buffer, one GEMM by the gradient's chunk of columns (a view),
# added into the result (the first chunk's written there). It replaces the UnfoldColumns
# step, its transposing PERMUTE and the MATMUL when the columns are read by that product
# only and at least two chunks are needed; the sum over the batch is then taken chunk by
# chunk (rounding differs from the one GEMM, as PyTorch's per-sample sums do). The input's
# gradient is the mirror image: the weight times the output's gradient gives the columns'
# gradient, as large, which FOLD sums back into images. A FoldProduct step computes it by the
# same chunks (GEMM by the gradient's chunk of columns into a planned buffer, FOLD of it into
# the chunk's images) in place of the MATMUL, its RESHAPE (C kh kw, N, L), the PERMUTE to
# (N, C kh kw, L) and the FOLD. The convolution itself, MATMUL(w, columns), is done by the
# same chunks too (ProductOfColumns), each chunk's product written by BLAS into its columns
# of the result, a row-strided view (made in a chunk buffer and copied there, resnet18
# fine-tune b8's step took 46.5 ms CPU time at 1 thread against 45.5, 50.7 against 49.4 at 2:
# in-process interleaved medians, load ~7; step peaks unchanged: resnet18 b8 55.5 MB, VGG-11
# b8 63.8). A weight gradient with more outputs than a chunk of images has cells (VGG-11's
# 512-channel 8x8 layers: 9 MB of columns) would need a chunk product as large as the weight;
# it goes by chunks of the input's channels instead (ChannelColumnsProduct: the channels'
# images copied out, unfolded, multiplied into the weight gradient's columns, BLAS writing
# through the row stride; every element still sums over the whole batch in one GEMM). Having
# no product buffer (its product had one, copied in: 2.25 MB at VGG-11 b8's step peak), it is
# also taken wherever its buffers hold less than a chunk of images and the weight-sized sum
# (resnet18's stem, three of VGG-11's convs: their weight gradients now round as one GEMM
# does, within 6e-7 of their largest element); VGG-11 b8's step arena 30.75 -> 30.5 MB.
# At most CHUNKS chunks (smaller GEMMs run slower), and only where the chunk's buffers hold
# less than the columns.
# Step peak above resident state, 1 thread (benchmarks/step_memory.py): VGG-11 b8 81 -> 66 MB
# (torch 65), resnet18 b8 61 -> 58 MB (torch 55). On n threads the chunks run n at a time,
# each thread with its own chunk buffers (Note [column steps on threads] in chunk_slots.py).
CHUNK_BYTES = 1 << 21
CHUNKS = 4  # at most this many (VGG-11 b8 in 8 one-image chunks: its step ~5% slower)


def _samples(n: int, per_sample: int) -> int:
    """Images per chunk: columns of about CHUNK_BYTES, in at most CHUNKS chunks."""
    return max(1, CHUNK_BYTES // max(1, per_sample), -(-n // CHUNKS))


class _ChunkedColumns(ExternStep):
    """A product with a convolution's columns unfolded ``samples`` images at a time
    (``cols``: the chunk's buffer, ``part``: a chunk's product)."""

    __slots__ = ("unfold", "cols", "part", "samples")
    FIELDS = ("eqn", "unfold", "cols", "part", "samples")
    unfold: Any  # the UNFOLD equation
    cols: Var
    part: Var
    samples: int


class ColumnsProduct(_ChunkedColumns):
    """MATMUL(g, PERMUTE(columns)) with the columns unfolded chunk by chunk."""

    __slots__ = ()

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        from ..codegen import windows  # imports llvmlite.ir: lazily

        e, u = self.eqn, self.unfold
        x = np.ascontiguousarray(env[u.inputs[0]])
        g = env[e.inputs[0]]  # type: ignore[index]
        out, p = bufs.get(e.out)
        cols = bufs.get(self.cols)[0].reshape(-1)
        part = bufs.get(self.part)[0]
        n, rows, cells = u.out.aval.shape
        count = chunk_slots.slots(n)
        edges = [n * i // count for i in range(count + 1)]
        accs: dict[int, np.ndarray] = {}  # slot s > 0's partial sum

        def work(s: int, buffers: Sequence[np.ndarray]) -> None:
            cols, part, acc = buffers if s else (*buffers, out)
            if s:
                accs[s] = acc
            even = count > 1  # Note [column steps on threads]
            for i, (n0, n1) in enumerate(spans(edges[s], edges[s + 1], self.samples, even)):
                k = n1 - n0
                mat = cols[: rows * k * cells].reshape(rows, k * cells)
                windows.unfold_into(
                    x[n0:n1], mat.reshape(rows, k, cells).transpose(1, 0, 2), **u.attrs
                )
                matmul_into(g[:, n0 * cells : n1 * cells], mat.T, part if i else acc)
                if i:
                    np.add(acc, part, out=acc)

        specs = [(cols.shape, cols.dtype), (part.shape, part.dtype), (out.shape, out.dtype)]
        if count < 2 or not chunk_slots.run_slots(work, count, (cols, part), specs):
            count, edges = 1, [0, n]
            work(0, (cols, part))
        for s in sorted(accs):  # in slot order: the same sums from call to call
            np.add(out, accs[s], out=out)
        env[e.out], ptrs[e.out] = out, p

    def io(self) -> StepIO:
        return StepIO(
            (self.unfold.inputs[0], self.eqn.inputs[0]), (self.eqn.out, self.cols, self.part), ()
        )


STEP_IO[ColumnsProduct] = ColumnsProduct.io


class ChannelColumnsProduct(ExternStep):
    """MATMUL(g, PERMUTE(columns)) by chunks of the input's channels: each chunk's rows of the
    columns (its channels' images copied into ``image``, unfolded into ``cols``) give its
    columns of the result (BLAS writes them there: a row-strided view); for a weight gradient
    with more outputs than a chunk of images has cells, where chunks of images would need a
    product as large as the columns (Note [weight gradient by chunks])."""

    __slots__ = ("unfold", "image", "cols", "channels")
    FIELDS = ("eqn", "unfold", "image", "cols", "channels")
    unfold: Any  # the UNFOLD equation
    image: Var
    cols: Var
    channels: int

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        from ..codegen import windows  # imports llvmlite.ir: lazily

        e, u = self.eqn, self.unfold
        x = env[u.inputs[0]]
        g = env[e.inputs[0]]  # type: ignore[index]
        out, p = bufs.get(e.out)
        image = bufs.get(self.image)[0].reshape(-1)
        cols = bufs.get(self.cols)[0].reshape(-1)
        n, rows, cells = u.out.aval.shape
        c, h, w = x.shape[1:]
        per = rows // c  # kh kw rows per channel
        count = chunk_slots.slots(-(-c // self.channels))
        edges = [c * i // count for i in range(count + 1)]

        def work(s: int, buffers: Sequence[np.ndarray]) -> None:
            image, cols = buffers
            even = count > 1  # Note [column steps on threads]
            for c0, c1 in spans(edges[s], edges[s + 1], self.channels, even):
                k = c1 - c0
                xs = image[: n * k * h * w].reshape(n, k, h, w)
                np.copyto(xs, x[:, c0:c1])
                mat = cols[: k * per * n * cells].reshape(k * per, n * cells)
                windows.unfold_into(
                    xs, mat.reshape(k * per, n, cells).transpose(1, 0, 2), **u.attrs
                )
                matmul_into(g, mat.T, out[:, c0 * per : c1 * per])

        specs = [(image.shape, image.dtype), (cols.shape, cols.dtype)]
        if count < 2 or not chunk_slots.run_slots(work, count, (image, cols), specs):
            count, edges = 1, [0, c]
            work(0, (image, cols))
        env[e.out], ptrs[e.out] = out, p

    def io(self) -> StepIO:
        pooled = (self.eqn.out, self.image, self.cols)
        return StepIO((self.unfold.inputs[0], self.eqn.inputs[0]), pooled, ())


STEP_IO[ChannelColumnsProduct] = ChannelColumnsProduct.io


class ProductOfColumns(ExternStep):
    """MATMUL(w, columns) (the convolution itself) with the columns unfolded ``samples``
    images at a time into ``cols``, each chunk's product written into its columns of the
    result (BLAS writes a row-strided view: Note [weight gradient by chunks])."""

    __slots__ = ("unfold", "cols", "samples")
    FIELDS = ("eqn", "unfold", "cols", "samples")
    unfold: Any  # the UNFOLD equation
    cols: Var
    samples: int

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        from ..codegen import windows  # imports llvmlite.ir: lazily

        e, u = self.eqn, self.unfold
        x = np.ascontiguousarray(env[u.inputs[0]])
        w = env[e.inputs[0]]  # type: ignore[index]
        out, p = bufs.get(e.out)
        cols = bufs.get(self.cols)[0].reshape(-1)
        n, rows, cells = u.out.aval.shape
        count = chunk_slots.slots(n)
        edges = [n * i // count for i in range(count + 1)]

        def work(s: int, buffers: Sequence[np.ndarray]) -> None:
            (cols,) = buffers
            even = count > 1  # Note [column steps on threads]
            for n0, n1 in spans(edges[s], edges[s + 1], self.samples, even):
                k = n1 - n0
                mat = cols[: rows * k * cells].reshape(rows, k * cells)
                windows.unfold_into(
                    x[n0:n1], mat.reshape(rows, k, cells).transpose(1, 0, 2), **u.attrs
                )
                matmul_into(w, mat, out[:, n0 * cells : n1 * cells])

        def columns() -> None:
            nonlocal count, edges
            specs = [(cols.shape, cols.dtype)]
            if count < 2 or not chunk_slots.run_slots(work, count, (cols,), specs):
                count, edges = 1, [0, n]
                work(0, (cols,))

        windows_product.run(x, w, out, u.attrs, columns)  # Note [convolutions by windows]
        env[e.out], ptrs[e.out] = out, p

    def io(self) -> StepIO:
        return StepIO((self.unfold.inputs[0], self.eqn.inputs[0]), (self.eqn.out, self.cols), ())


STEP_IO[ProductOfColumns] = ProductOfColumns.io


class FoldProduct(ExternStep):
    """FOLD(PERMUTE(RESHAPE(MATMUL(w, g)))) by chunks of images (``part``: a chunk's columns'
    gradient); ``eqn`` is the FOLD, ``product`` the MATMUL."""

    __slots__ = ("product", "part", "samples")
    FIELDS = ("eqn", "product", "part", "samples")
    product: Any  # the MATMUL equation
    part: Var
    samples: int

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        from ..codegen import windows  # imports llvmlite.ir: lazily

        e, mm = self.eqn, self.product
        w, g = env[mm.inputs[0]], env[mm.inputs[1]]  # type: ignore[index]
        out, p = bufs.get(e.out)
        part = bufs.get(self.part)[0].reshape(-1)
        rows = mm.out.aval.shape[0]
        n = e.out.aval.shape[0]
        cells = mm.out.aval.shape[1] // n
        count = chunk_slots.slots(n)
        edges = [n * i // count for i in range(count + 1)]

        def work(s: int, buffers: Sequence[np.ndarray]) -> None:
            (part,) = buffers
            even = count > 1  # Note [column steps on threads]
            for n0, n1 in spans(edges[s], edges[s + 1], self.samples, even):
                k = n1 - n0
                mat = part[: rows * k * cells].reshape(rows, k * cells)
                matmul_into(w, g[:, n0 * cells : n1 * cells], mat)
                cols = mat.reshape(rows, k, cells).transpose(1, 0, 2)
                if not windows.strided_columns(cols):
                    cols = np.ascontiguousarray(cols)
                windows.fold_into(cols, out[n0:n1], **e.attrs)

        specs = [(part.shape, part.dtype)]
        if count < 2 or not chunk_slots.run_slots(work, count, (part,), specs):
            count, edges = 1, [0, n]
            work(0, (part,))
        env[e.out], ptrs[e.out] = out, p

    def io(self) -> StepIO:
        return StepIO(self.product.inputs, (self.eqn.out, self.part), ())


STEP_IO[FoldProduct] = FoldProduct.io


def _fold_product(
    fold: Any, reader: dict[Var, Any], producer: dict[Var, Any], plain: dict[int, Any],
    uses: Counter[Var], supported: Any
) -> tuple[FoldProduct, list[Any]] | None:  # fmt: skip
    """The FoldProduct replacing ``fold`` and the steps it replaces, when it applies."""
    perm = producer.get(fold.inputs[0])
    if perm is None or perm.op is not Op.PERMUTE or tuple(perm.attrs["axes"]) != (1, 0, 2):
        return None
    reshape = producer.get(perm.inputs[0])
    if reshape is None or reshape.op is not Op.RESHAPE:
        return None
    mm = producer.get(reshape.inputs[0])
    if mm is None or mm.op is not Op.MATMUL or not all(isinstance(a, Var) for a in mm.inputs):
        return None
    chain = (mm, reshape, perm)
    if any(uses[e.out] != 1 or id(e) not in plain for e in chain) or id(fold) not in plain:
        return None
    rows, nl = mm.out.aval.shape if len(mm.out.aval.shape) == 2 else (0, 0)
    n = fold.out.aval.shape[0]
    dt = fold.out.aval.dtype
    if rows == 0 or nl % max(1, n) or reshape.out.aval.shape != (rows, n, nl // max(1, n)):
        return None
    if any(v.aval.dtype != dt for v in (*mm.inputs, mm.out)) or not supported("fold", dt):
        return None
    cells = nl // n
    samples = _samples(n, rows * cells * np.dtype(dt.np).itemsize)
    if samples >= n or any(len(a.aval.shape) != 2 for a in mm.inputs):
        return None
    part = Var(Aval((rows, samples * cells), dt))
    return FoldProduct(fold, mm, part, samples), [plain[id(e)] for e in chain]


def _by_channels(mm: Any, u: Any, dt: Any) -> ChannelColumnsProduct | None:
    """The weight gradient ``mm`` by chunks of channels, when at least two are needed."""
    n, c, h, w = u.inputs[0].aval.shape if len(u.inputs[0].aval.shape) == 4 else (0,) * 4
    _, rows, cells = u.out.aval.shape
    if c < 2 or rows % c:
        return None
    per, item = rows // c, np.dtype(dt.np).itemsize
    channels = max(1, CHUNK_BYTES // max(1, per * n * cells * item), -(-c // CHUNKS))
    if channels >= c:
        return None
    if channels * (per * n * cells + n * h * w) >= rows * n * cells:
        return None  # the chunk's buffers would hold as much as the columns
    image = Var(Aval((n, channels, h, w), dt))
    cols = Var(Aval((channels * per, n * cells), dt))
    return ChannelColumnsProduct(mm, u, image, cols, channels)


def _held(s: Any) -> int:
    """Bytes of a weight gradient step's buffers other than the result."""
    return sum(nbytes(v) for v in STEP_IO[type(s)](s).pooled[1:])


def with_column_products(graph: Graph, steps: Sequence[Any]) -> list[Any]:
    """``steps`` with each weight gradient of Note [weight gradient by chunks] as one
    ColumnsProduct step (at the MATMUL's place), its UnfoldColumns and PERMUTE dropped, and
    each input gradient as one FoldProduct step (at the FOLD's place)."""
    if not any(type(s) is UnfoldColumns or getattr(s, "eqn", None) is not None
               and s.eqn.op is Op.FOLD for s in steps):  # fmt: skip
        return list(steps)
    from ..codegen import windows as compiled  # imports llvmlite.ir: only for convolutions

    uses, reader = sole_readers(graph)
    plain = {id(s.eqn): s for s in steps if type(s) is ExternStep}
    fused: dict[int, Any] = {}
    dropped: set[int] = set()
    for s in steps:
        if type(s) is not UnfoldColumns:
            continue
        u, matrix = s.unfold, s.matrix.out
        perm = reader.get(matrix)
        n, rows, cells = u.out.aval.shape
        dt = u.out.aval.dtype
        mm = perm
        if perm is not None and perm.op is Op.MATMUL and perm.inputs[1] is matrix:
            perm = None  # the convolution itself: MATMUL(w, columns)
        elif perm is None or perm.op is not Op.PERMUTE or tuple(perm.attrs["axes"]) != (1, 0):
            continue
        else:
            mm = reader.get(perm.out)
            if mm is None or mm.op is not Op.MATMUL or mm.inputs[1] is not perm.out:
                continue
        g = mm.inputs[0]
        if not isinstance(g, Var) or id(mm) not in plain or (perm and id(perm) not in plain):
            continue
        if not isinstance(u.inputs[0], Var) or any(
            v.aval.dtype != dt for v in (u.inputs[0], g, mm.out)
        ) or len(g.aval.shape) != 2:  # fmt: skip
            continue
        if perm is not None and g.aval.shape != (mm.out.aval.shape[0], n * cells):
            continue
        if perm is None and (g.aval.shape[1] != rows or mm.out.aval.shape[1] != n * cells):
            continue
        if not compiled.supported("unfold", np.dtype(dt.np)):
            continue
        samples = _samples(n, rows * cells * np.dtype(dt.np).itemsize)
        if samples >= n:
            continue
        cols = Var(Aval((rows, samples * cells), dt))
        if perm is None:
            fused[id(mm)] = ProductOfColumns(mm, u, cols, samples)
            dropped.add(id(s))
            continue
        if (n - samples) * cells <= mm.out.aval.shape[0]:  # a chunk's product, as large as
            got = _by_channels(mm, u, dt)  # the weight, would outweigh the saving
            if got is not None:
                fused[id(mm)] = got
                dropped.update((id(s), id(plain[id(perm)])))
            continue
        part = Var(Aval(mm.out.aval.shape, dt))
        chunked: ExternStep = ColumnsProduct(mm, u, cols, part, samples)
        by_channels = _by_channels(mm, u, dt)  # no product buffer: when it holds less
        if by_channels is not None and _held(by_channels) < _held(chunked):
            chunked = by_channels
        fused[id(mm)] = chunked
        dropped.update((id(s), id(plain[id(perm)])))
    producer = {e.out: e for e in graph.eqns}

    def supported(op: str, dt: Any) -> bool:
        return bool(compiled.supported(op, np.dtype(dt.np)))

    for s in steps:
        if type(s) is ExternStep and s.eqn.op is Op.FOLD:
            got = _fold_product(s.eqn, reader, producer, plain, uses, supported)
            if got is not None:
                fused[id(s.eqn)] = got[0]
                dropped.update(id(x) for x in got[1])
    if not fused:
        return list(steps)
    return replaced(steps, fused, dropped)


def chunked(step: Any) -> int:
    """Images (or channels) in a chunk of column step ``step``; 0 for any other step."""
    kind = type(step)
    if kind is ChannelColumnsProduct:
        return int(step.channels)
    return int(step.samples) if kind in (ColumnsProduct, ProductOfColumns, FoldProduct) else 0


def rechunked(step: Any, count: int) -> Any:
    """Column step ``step`` with chunks of ``count`` images (or channels; at most its own),
    new Vars for its chunk buffers (Note [chunks fitted to the peak] in chunk_fit.py)."""
    kind, was = type(step), chunked(step)
    if kind is ChannelColumnsProduct:
        n, _, h, w = step.image.aval.shape
        rows, nl = step.cols.aval.shape
        dt = step.cols.aval.dtype
        image = Var(Aval((n, count, h, w), dt))
        cols = Var(Aval((rows // was * count, nl), dt))
        return ChannelColumnsProduct(step.eqn, step.unfold, image, cols, count)

    def fewer(v: Var) -> Var:  # a chunk buffer (rows, images cells)
        rows, width = v.aval.shape
        return Var(Aval((rows, width // was * count), v.aval.dtype))

    if kind is FoldProduct:
        return FoldProduct(step.eqn, step.product, fewer(step.part), count)
    if kind is ProductOfColumns:
        return ProductOfColumns(step.eqn, step.unfold, fewer(step.cols), count)
    return kind(step.eqn, step.unfold, fewer(step.cols), step.part, count)  # (the weight's sum)
