"""Float32 products by adjit's own compiled GEMM (Note [our own GEMM] in codegen/sgemm.py):
which operands it takes, its scratch panels, the call."""

from __future__ import annotations

import threading
from functools import cache

import numpy as np

MC = 128  # rows of A a block (its packed block: MC KC floats, in L2)
KC = 256  # k a block (B's packed block: KC n floats)
PACK_A_COLUMNS = 64  # A's block is packed when B has more columns than this
_LOCAL = threading.local()  # each thread's scratch: A's panels (a), B's panels (b)


@cache
def width() -> int:
    """Vector width in floats: 16 with AVX-512, else 8; 0 where the kernel does not compile."""
    from ..codegen import sgemm
    from ..codegen.jit import codegen_error
    from ..codegen.llvm_host import features

    try:
        w = 16 if "+avx512f" in features() else 8
        sgemm.kernel(w)
    except (codegen_error(), ImportError, RuntimeError):
        return 0
    return w


def _unit_columns(out: np.ndarray) -> bool:
    return out.shape[1] == 1 or out.strides[1] == out.itemsize


def _apart(out: np.ndarray, *operands: np.ndarray) -> bool:
    """Every stride of float32 ``out`` and ``operands`` a whole number of elements and not
    negative, and ``out`` not overlapping the operands (what both kernels need)."""
    if any(s < 0 or s % 4 for a in (out, *operands) for s in a.strides):
        return False
    return not any(np.may_share_memory(out, a) for a in operands)


def takes(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> bool:
    """Whether ``matmul_into`` can run this product: float32 matrices, ``out`` with unit
    stride along one axis and not overlapping the operands, every stride a whole number of
    elements and not negative."""
    if not (x.dtype == y.dtype == out.dtype == np.float32 and x.ndim == 2 == y.ndim == out.ndim):
        return False
    if x.size == 0 or y.size == 0 or out.size == 0:
        return False
    if not (_unit_columns(out) or _unit_columns(out.T)):
        return False
    return _apart(out, x, y) and width() > 0


def _scratch(name: str, floats: int) -> np.ndarray:
    """This thread's scratch ``name`` of at least ``floats`` floats (kept and grown)."""
    have = getattr(_LOCAL, name, None)
    if have is None or have.size < floats:
        have = np.empty(floats, np.float32)
        setattr(_LOCAL, name, have)
    return have


def matmul_into(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``np.matmul(x, y, out=out)`` by the compiled GEMM (the caller checked ``takes``); a
    result with unit stride down its columns is made as out^T = y^T x^T."""
    from ..codegen import sgemm

    if not _unit_columns(out):
        x, y, out = y.T, x.T, out.T
    w = width()
    m, k = x.shape
    n = y.shape[1]
    mr, nr = sgemm.ROWS[w], sgemm.NV * w
    a_panels, b_panels = _scratch("a", (MC + mr) * KC), _scratch("b", KC * (n + nr))
    pack_a = int(n > PACK_A_COLUMNS and x.strides[0] == 4)
    sx, sy = x.strides, y.strides
    sgemm.kernel(w)(
        x.ctypes.data, y.ctypes.data, out.ctypes.data, a_panels.ctypes.data,
        b_panels.ctypes.data, None, None, m, n, k, sx[0] // 4, sx[1] // 4, sy[0] // 4, sy[1] // 4,
        out.strides[0] // 4, MC, KC, pack_a,
    )  # fmt: skip


_TABLES: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}  # windows' geo, ktab


def takes_windows(x: np.ndarray, w: np.ndarray, out: np.ndarray) -> bool:
    """Whether ``conv_into`` can run this convolution: float32, AVX-512 (its gathers), the
    image's offsets within int32, the result with unit column stride."""
    if x.ndim != 4 or x.dtype != np.float32 or w.dtype != np.float32 or w.ndim != 2:
        return False
    if out.dtype != np.float32 or out.ndim != 2 or not _unit_columns(out) or x.size == 0:
        return False
    last = sum((d - 1) * s // 4 for d, s in zip(x.shape, x.strides, strict=True))
    return last < 2**31 - 1 and _apart(out, x, w) and windows_kernel()


@cache
def windows_kernel() -> bool:
    """Whether the GEMM reading windows compiles here (AVX-512: its gathers)."""
    from ..codegen import sgemm
    from ..codegen.jit import codegen_error

    if width() != 16:
        return False
    try:
        sgemm.kernel(16, windows=True)
    except (codegen_error(), ImportError, RuntimeError):
        return False
    return True


def _tables(
    x: np.ndarray, out_hw: tuple[int, int], kernel_size: tuple[int, int],
    dilation: tuple[int, int], padding: tuple[tuple[int, int], tuple[int, int]],
    stride: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The windows' description (Note [windows packed as B]): ``geo`` (H, W, OW, OH OW, the
    image's strides along n, h, w, the strides and the top and left padding) and ``ktab``,
    per row of the columns (channel, kernel row, kernel column) its offset in the image and
    its row and column offsets in the window."""
    key = (x.shape, x.strides, out_hw, kernel_size, dilation, padding, stride)
    found = _TABLES.get(key)
    if found is None:
        _, c, h, wd = x.shape
        s_n, s_c, s_h, s_w = (s // 4 for s in x.strides)
        oh, ow = out_hw
        geo = np.array([h, wd, ow, oh * ow, s_n, s_h, s_w, *stride, padding[0][0],
                        padding[1][0]], np.int64)  # fmt: skip
        ci, ki, kj = np.meshgrid(
            np.arange(c), np.arange(kernel_size[0]) * dilation[0],
            np.arange(kernel_size[1]) * dilation[1], indexing="ij",
        )  # fmt: skip
        ktab = np.stack([ci * s_c + ki * s_h + kj * s_w, ki, kj], axis=-1).reshape(-1, 3)
        found = _TABLES[key] = (geo, np.ascontiguousarray(ktab, np.int32))
    return found


def conv_into(
    x: np.ndarray, w: np.ndarray, out: np.ndarray, *, kernel_size: tuple[int, int],
    dilation: tuple[int, int], padding: tuple[tuple[int, int], tuple[int, int]],
    stride: tuple[int, int],
) -> None:  # fmt: skip
    """``out = w @ unfold(x)`` as (O, C kh kw) x (C kh kw, N OH OW) without the columns:
    adjit's GEMM packs B's panels from the images (the caller checked ``takes_windows``)."""
    from ..codegen import sgemm
    from ..ir.windows import blocks

    m, k = w.shape
    n = out.shape[1]
    hw = blocks(x.shape[2:], kernel_size, dilation, padding, stride)  # type: ignore[arg-type]
    geo, ktab = _tables(x, hw, kernel_size, dilation, padding, stride)
    mr, nr = sgemm.ROWS[16], sgemm.NV * 16
    # one block of rows: each panel of B is gathered once and meets all of A's rows
    a_panels, b_panels = _scratch("a", (m + mr) * KC), _scratch("b", KC * nr)
    sw = w.strides
    sgemm.kernel(16, windows=True)(
        w.ctypes.data, x.ctypes.data, out.ctypes.data, a_panels.ctypes.data,
        b_panels.ctypes.data, geo.ctypes.data, ktab.ctypes.data, m, n, k, sw[0] // 4,
        sw[1] // 4, 0, 0, out.strides[0] // 4, m, KC, int(n > PACK_A_COLUMNS and sw[0] == 4),
    )  # fmt: skip
