"""A convolution's product read straight from its images by adjit's GEMM where that is faster
than unfolding the columns first (Note [windows packed as B] in codegen/sgemm.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..ir.graph import Graph, Var
from ..ir.ops import Op
from . import blas_choice, chunk_slots, mkl_gemm, own_gemm, split_gemm
from .buffer_plan import StepIO
from .executor import STEP_IO, Buffers, Env, ExternStep
from .window_steps import UnfoldColumns, replaced, sole_readers
from .workers import num_threads

# Note [convolutions by windows]
# A convolution is MATMUL(w, columns) of its UNFOLD (Note [columns in the GEMM's layout]):
# the columns are written once (C kh kw times the image) and read back by the GEMM, which
# packs them again into its panels. adjit's GEMM can pack its panels from the images
# themselves (Note [windows packed as B]): no columns at all. Which way is faster depends on
# the shape (the panels' gathers cost about what 8-16 rows of FMAs do per step of k, so a
# convolution with few output channels loses, /tmp/s/ab/t_conv.py: 64 -> 64 at 16x16 64
# GFLOP/s, 256 -> 256 at 4x4 99), so as for the libraries (Note [BLAS by measurement]) each
# geometry is timed both ways on its first call, kept per machine, and the faster runs from
# then on (the columns way is the incumbent). At n threads the images are cut into n slots
# where each keeps enough output pixels, else the output channels into n blocks of rows, each
# run on its own thread (Note [column steps on threads]): every output element is the same
# chain of FMAs at any thread count. ADJIT_BLAS=adjit takes the windows
# wherever they can be read (tests), =mkl and =numpy never.

Attrs = dict[str, Any]
ROWS = 32  # at least this many output channels a thread (cut by channels)
IMAGE_COLUMNS = 256  # at least this many output pixels a thread (cut by images)


def _windows(x: np.ndarray, w: np.ndarray, out: np.ndarray, attrs: Attrs) -> None:
    """``out = w @ unfold(x)`` across adjit's threads: the images cut into slots where each
    keeps IMAGE_COLUMNS output pixels or more, else the output channels cut into row blocks
    (each thread then gathers the same panels: cheap next to 64 rows of products or more,
    while small maps' image slots would leave their column tiles part empty)."""
    m, n = w.shape[0], x.shape[0]
    cells = out.shape[1] // max(1, n)
    threads = num_threads()
    by_images = threads > 1 and n >= threads and n // threads * cells >= IMAGE_COLUMNS
    extent, align = (n, 1) if by_images else (m, ROWS)
    count = min(chunk_slots.slots(extent // align), threads)
    edges = split_gemm.aligned_edges(extent, count, align)

    def work(s: int, _: Sequence[np.ndarray]) -> None:
        a, b = edges[s], edges[s + 1]
        if by_images:
            own_gemm.conv_into(x[a:b], w, out[:, a * cells : b * cells], **attrs)
        else:
            own_gemm.conv_into(x, w[a:b], out[a:b], **attrs)

    if count < 2 or not chunk_slots.run_slots(work, count, (), ()):
        own_gemm.conv_into(x, w, out, **attrs)


def run(x: np.ndarray, w: np.ndarray, out: np.ndarray, attrs: Attrs, columns: Callable[[], None]
        ) -> None:  # fmt: skip
    """The convolution ``out = w @ unfold(x)`` by whichever way is faster for its geometry:
    ``columns()`` (the caller's), or adjit's GEMM reading the windows."""
    mode = mkl_gemm.blas_mode()
    if mode in ("mkl", "numpy") or not own_gemm.takes_windows(x, w, out):
        columns()
        return
    if mode == "adjit":
        _windows(x, w, out, attrs)
        return
    key = ("windows", num_threads(), x.shape, x.strides, w.shape, w.strides, out.shape,
           out.strides, tuple(sorted(attrs.items())))  # fmt: skip

    def by(name: str) -> None:
        if name == blas_choice.WINDOWS:
            _windows(x, w, out, attrs)
        else:
            columns()

    by(blas_choice.fastest(key, by, (blas_choice.COLUMNS, blas_choice.WINDOWS)))


class WindowsProduct(ExternStep):
    """An UnfoldColumns step and the MATMUL(w, columns) reading it, as one step that runs
    them (the columns way) or adjit's GEMM on the windows (Note [convolutions by windows])."""

    __slots__ = ("columns",)
    FIELDS = ("eqn", "columns")
    columns: UnfoldColumns

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        e, u = self.eqn, self.columns.unfold
        x = env[u.inputs[0]]  # type: ignore[index]
        w = env[e.inputs[0]]  # type: ignore[index]
        out, p = bufs.get(e.out)

        def columns() -> None:
            self.columns.run(env, ptrs, bufs)
            ExternStep(e).run(env, ptrs, bufs)

        run(x, w, out, u.attrs, columns)
        env[e.out], ptrs[e.out] = out, p

    def io(self) -> StepIO:
        x, matrix = self.columns.unfold.inputs[0], self.columns.matrix.out
        return StepIO((x, self.eqn.inputs[0]), (self.eqn.out, matrix), ())


STEP_IO[WindowsProduct] = WindowsProduct.io


def with_windows_products(graph: Graph, steps: Sequence[Any]) -> list[Any]:
    """``steps`` with each float32 UnfoldColumns step read only by its convolution's
    MATMUL(w, columns) and that MATMUL as one WindowsProduct step (at the MATMUL's place)."""
    found = [s for s in steps if type(s) is UnfoldColumns]
    if not found or not own_gemm.windows_kernel():
        return list(steps)
    uses, reader = sole_readers(graph)
    by_eqn = {id(s.eqn): s for s in steps if type(s) is ExternStep}
    fused: dict[int, WindowsProduct] = {}
    for s in found:
        matrix = s.matrix.out
        if uses[matrix] != 1 or matrix.aval.dtype.np != np.float32:
            continue
        mm = reader.get(matrix)
        if mm is None or mm.op is not Op.MATMUL or mm.inputs[1] is not matrix:
            continue
        if id(mm) not in by_eqn or len(mm.inputs[0].aval.shape) != 2:
            continue
        if not isinstance(mm.inputs[0], Var) or mm.out.aval.dtype.np != np.float32:
            continue
        fused[id(mm)] = WindowsProduct(mm, s)
    if not fused:
        return list(steps)
    return replaced(steps, fused, {id(f.columns) for f in fused.values()})
