"""The compiled Winograd tile transforms (codegen/winograd.py) bit for bit against NumPy float32
doing the same additions in the same order, on every tile-row width the vector groups of 8, 4
and 1 tiles take, and on strided and skewed planes as the convolution steps lay them out."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.codegen import winograd

# tiles a row (w / 2): one tile, 1 + 1 + 1, 4, 8, 8 + 1, 8 + 4 + 1, 8 + 8 + 1
WIDTHS = [2, 6, 8, 16, 18, 26, 34]


def _combine(x: list[np.ndarray]) -> list[np.ndarray]:
    return [x[0] - x[2], x[1] + x[2], x[2] - x[1], x[1] - x[3]]


def _adjoint(y0: np.ndarray, y1: np.ndarray) -> list[np.ndarray]:
    return [y0, y0 + y1, y0 - y1, -y1]


def _input_reference(x: np.ndarray) -> np.ndarray:
    """(16, C, N, tiles): B^T d B of each padded 4x4 tile, rows combined first."""
    n, c, h, w = x.shape
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    d = [[p[:, :, r : r + h : 2, q : q + w : 2] for q in range(4)] for r in range(4)]
    rows = [_combine([d[r][q] for r in range(4)]) for q in range(4)]  # [q][a]
    planes = [v for a in range(4) for v in _combine([rows[q][a] for q in range(4)])]
    return np.stack(planes).transpose(0, 2, 1, 3, 4).reshape(16, c, n, -1)


def _output_reference(m: np.ndarray, h: int, w: int) -> np.ndarray:
    """(O, N, H, W): A^T m A of each tile's 16 planes."""
    t = m.reshape(16, *m.shape[1:3], h // 2, w // 2)
    s = [t[4 * a] + t[4 * a + 1] + t[4 * a + 2] for a in range(4)]
    d = [t[4 * a + 1] - t[4 * a + 2] - t[4 * a + 3] for a in range(4)]
    out = np.empty((*m.shape[1:3], h, w), m.dtype)
    for col, v in enumerate((s, d)):
        out[..., 0::2, col::2] = v[0] + v[1] + v[2]
        out[..., 1::2, col::2] = v[1] - v[2] - v[3]
    return out


def _gradient_reference(g: np.ndarray) -> np.ndarray:
    """(16, O, N, tiles): A g A^T of each 2x2 tile (the output transform's adjoint)."""
    y = [[g[..., r::2, q::2] for q in range(2)] for r in range(2)]
    cols = [_adjoint(y[0][q], y[1][q]) for q in range(2)]
    planes = [v for a in range(4) for v in _adjoint(cols[0][a], cols[1][a])]
    return np.stack(planes).reshape(16, *g.shape[:2], -1)


def _planes(c: int, n: int, tiles: int, skew: int = 16) -> np.ndarray:
    """16 planes (16, C, N, tiles) ``skew`` floats apart beyond their size, poisoned."""
    buf = np.full((16, c * n * tiles + skew), np.nan, np.float32)
    return buf[:, : c * n * tiles].reshape(16, c, n, tiles)


@pytest.mark.parametrize("w", WIDTHS)
@pytest.mark.parametrize("h", [2, 10])
def test_input_transform_bits(h: int, w: int) -> None:
    rng = np.random.default_rng(w * h)
    x = rng.standard_normal((3, 7, h, w)).astype(np.float32)[:, 1:6]  # strided channels
    x = np.ascontiguousarray(x) if w % 4 else x  # (and a contiguous batch)
    v = _planes(5, 3, h * w // 4)
    pad = np.full((h + 2) * (w + 2), np.nan, np.float32)
    winograd.input_transform(x, v, pad)
    np.testing.assert_array_equal(v, _input_reference(x), strict=True)


@pytest.mark.parametrize("w", WIDTHS)
@pytest.mark.parametrize("h", [2, 10])
def test_output_transform_bits(h: int, w: int) -> None:
    rng = np.random.default_rng(w * h + 1)
    m = _planes(4, 3, h * w // 4)
    m[...] = rng.standard_normal(m.shape).astype(np.float32)
    out = np.full((3, 4, h, w), np.nan, np.float32).transpose(1, 0, 2, 3)  # (O, N) strided
    winograd.output_transform(m, out)
    np.testing.assert_array_equal(out, _output_reference(m, h, w), strict=True)


@pytest.mark.parametrize("w", WIDTHS)
@pytest.mark.parametrize("h", [2, 10])
def test_gradient_transform_bits(h: int, w: int) -> None:
    rng = np.random.default_rng(w * h + 2)
    g = rng.standard_normal((3, 4, h, w)).astype(np.float32).transpose(1, 0, 2, 3)
    m = _planes(4, 3, h * w // 4)
    winograd.gradient_transform(g, m)
    np.testing.assert_array_equal(m, _gradient_reference(g), strict=True)


def test_the_transforms_are_adjoint() -> None:
    """<A^T m A, g> = <m, A g A^T>: the gradient transform is the output transform's adjoint."""
    rng = np.random.default_rng(7)
    h, w = 6, 18
    m = _planes(2, 2, h * w // 4)
    m[...] = rng.standard_normal(m.shape)
    g = rng.standard_normal((2, 2, h, w)).astype(np.float32)
    y = np.empty((2, 2, h, w), np.float32)
    winograd.output_transform(m, y)
    dm = _planes(2, 2, h * w // 4)
    winograd.gradient_transform(g, dm)
    lhs = np.vdot(y.astype(np.float64), g.astype(np.float64))
    rhs = np.vdot(m.astype(np.float64), dm.astype(np.float64))
    assert lhs == pytest.approx(rhs, rel=1e-5)


def _g(x: list[np.ndarray]) -> list[np.ndarray]:
    """G along one axis, in the kernels' order of additions."""
    half = np.float32(0.5)
    return [x[0], (x[0] + x[1] + x[2]) * half, (x[0] - x[1] + x[2]) * half, x[2]]


def _gt(y: list[np.ndarray]) -> list[np.ndarray]:
    half = np.float32(0.5)
    s, d = (y[1] + y[2]) * half, (y[1] - y[2]) * half
    return [y[0] + s, d, s + y[3]]


# channels a row: one, 1 + 1 + 1, 4, 8, 8 + 4 + 1, 8 + 8 + 1
CHANNELS = [1, 3, 4, 8, 13, 17]


@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("flip", [False, True])
def test_weight_planes_bits(c: int, flip: bool) -> None:
    rng = np.random.default_rng(c)
    o = 3
    whole = rng.standard_normal((o, 9 * (c + 2))).astype(np.float32)
    w = whole[:, 9 : 9 * (c + 1)]  # a block of channels' columns, read in place
    u = np.full((16, o * c + 16), np.nan, np.float32)[:, : o * c]
    winograd.weight_planes(w, u, flip)
    k = w.reshape(o, c, 3, 3)
    k = k[:, :, ::-1, ::-1] if flip else k
    cols = [_g([k[..., r, q] for r in range(3)]) for q in range(3)]
    want = [v for a in range(4) for v in _g([cols[q][a] for q in range(3)])]
    np.testing.assert_array_equal(u, np.stack(want).reshape(16, o * c), strict=True)
    # and G k G^T as float64 arithmetic has it, within 4 roundings of its absolute run
    g = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    exact = np.einsum("ai,ocij,bj->aboc", g, k.astype(float), g).reshape(16, -1)
    run = np.einsum("ai,ocij,bj->aboc", abs(g), abs(k.astype(float)), abs(g)).reshape(16, -1)
    assert np.all(np.abs(u - exact) <= 4 * 2.0**-24 / (1 - 4 * 2.0**-24) * run)


@pytest.mark.parametrize("c", CHANNELS)
def test_plane_taps_bits_and_adjoint(c: int) -> None:
    rng = np.random.default_rng(c + 100)
    o = 3
    m = np.empty((16, o * c + 16), np.float32)[:, : o * c]
    m[...] = rng.standard_normal(m.shape)
    taps = np.full((o, 9 * (c + 1)), np.nan, np.float32)[:, : 9 * c]  # rows with a gap
    winograd.plane_taps(m, taps)
    planes = m.reshape(4, 4, o, c)
    rows = [_gt([planes[a, q] for q in range(4)]) for a in range(4)]
    t = [_gt([rows[a][q] for a in range(4)]) for q in range(3)]
    want = np.stack([t[q][r] for r in range(3) for q in range(3)], axis=-1).reshape(o, 9 * c)
    np.testing.assert_array_equal(taps, want, strict=True)
    # <G w G^T, m> = <w, G^T m G>
    w = rng.standard_normal((o, 9 * c)).astype(np.float32)
    u = np.empty((16, o * c), np.float32)
    winograd.weight_planes(w, u, False)
    lhs = np.vdot(u.astype(float), m.astype(float))
    assert lhs == pytest.approx(np.vdot(w.astype(float), taps.astype(float)), rel=1e-5)
