"""Convolutions by adjit's GEMM reading the windows (Note [convolutions by windows]): against
float64 within the rounding bound, in compiled programs against PyTorch, the timed choice, the
same bits at any thread count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from adjit.runtime import blas_choice, own_gemm, windows_product

import adjit
from tests.conftest import at_threads

torch = pytest.importorskip("torch")
U = np.finfo(np.float32).eps / 2

# (N, C, H, W), (O, kh, kw), stride, padding ((top, bottom), (left, right)), dilation
GEOMETRIES = [
    ((2, 3, 7, 9), (5, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((8, 16, 8, 8), (40, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((3, 8, 4, 4), (24, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((4, 8, 2, 2), (16, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((2, 6, 9, 8), (10, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),
    ((2, 3, 20, 18), (7, 7, 7), (2, 2), ((3, 3), (3, 3)), (1, 1)),
    ((3, 5, 11, 10), (7, 3, 3), (2, 1), ((2, 0), (1, 2)), (2, 2)),
    ((2, 12, 6, 6), (9, 1, 1), (2, 2), ((0, 0), (0, 0)), (1, 1)),
    ((1, 1, 5, 40), (3, 2, 5), (1, 3), ((0, 1), (2, 2)), (1, 1)),
]


@pytest.fixture(autouse=True)
def _own_choices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if not own_gemm.windows_kernel():
        pytest.skip("the windows GEMM needs AVX-512 (its gathers)")
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ADJIT_BLAS", raising=False)
    monkeypatch.setattr(blas_choice, "_CHOSEN", {})
    monkeypatch.setattr(blas_choice, "_CALLS", {})
    monkeypatch.setattr(blas_choice, "_FILE", {})
    monkeypatch.setattr(blas_choice, "_READ", [])


def _attrs(kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[tuple[int, int], ...],
           dilation: tuple[int, int]) -> dict[str, object]:  # fmt: skip
    return {"kernel_size": kernel, "dilation": dilation, "padding": padding, "stride": stride}


def _columns64(x: np.ndarray, attrs: dict[str, object]) -> np.ndarray:
    """float64 (C kh kw, N L) columns of ``x`` by PyTorch (padding per side by F.pad)."""
    (t, b), (left, r) = attrs["padding"]  # type: ignore[misc]
    xp = torch.nn.functional.pad(torch.tensor(x, dtype=torch.float64), (left, r, t, b))
    cols = torch.nn.functional.unfold(
        xp, attrs["kernel_size"], dilation=attrs["dilation"], stride=attrs["stride"]
    ).numpy()  # (N, C kh kw, L)
    return cols.transpose(1, 0, 2).reshape(cols.shape[1], -1)


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding", "dilation"), GEOMETRIES)
def test_within_the_rounding_bound(
    shape: tuple[int, ...], kernel: tuple[int, int, int], stride: tuple[int, int],
    padding: tuple[tuple[int, int], ...], dilation: tuple[int, int],
) -> None:  # fmt: skip
    """|out - exact| <= gamma_K (|w| |columns|) elementwise (K = C kh kw FMAs a sum), on a
    contiguous batch and on a channel-strided view of a larger one."""
    rng = np.random.default_rng(0)
    o, kh, kw = kernel
    attrs = _attrs((kh, kw), stride, padding, dilation)
    big = rng.standard_normal((shape[0], 2 * shape[1], *shape[2:])).astype(np.float32)
    w = rng.standard_normal((o, shape[1] * kh * kw)).astype(np.float32)
    for x in (np.ascontiguousarray(big[:, : shape[1]]), big[:, ::2]):
        cols = _columns64(x, attrs)
        exact = w.astype(np.float64) @ cols
        k = w.shape[1]
        bound = k * U / (1 - k * U) * (np.abs(w).astype(np.float64) @ np.abs(cols))
        out = np.full(exact.shape, np.nan, np.float32)
        assert own_gemm.takes_windows(x, w, out)
        own_gemm.conv_into(x, w, out, **attrs)  # type: ignore[arg-type]
        assert np.all(np.abs(out - exact) <= bound)


def test_refusals() -> None:
    x = np.zeros((2, 3, 5, 5), np.float32)
    w = np.zeros((4, 27), np.float32)
    out = np.zeros((4, 2 * 9), np.float32)
    assert own_gemm.takes_windows(x, w, out)
    assert not own_gemm.takes_windows(x.astype(np.float64), w, out)
    assert not own_gemm.takes_windows(x[:, ::-1], w, out)  # a negative stride
    assert not own_gemm.takes_windows(x, w, np.zeros((4, 36), np.float32)[:, ::2])
    assert not own_gemm.takes_windows(x[0], w, out)


def _step(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> tuple[np.ndarray, ...]:
    xa = adjit.tensor(x, requires_grad=True)
    wa = adjit.tensor(w, requires_grad=True)

    def loss(a: adjit.Tensor, b: adjit.Tensor) -> adjit.Tensor:
        y = adjit.nn.functional.conv2d(a, b, stride=stride, padding=padding)
        return (y.relu() * y).sum()

    out = adjit.compile(loss)(xa, wa)
    out.backward()
    return out.detach().numpy(), xa.grad.numpy(), wa.grad.numpy()


@pytest.mark.parametrize(("shape", "o", "stride"), [((8, 32, 4, 4), 48, 1), ((4, 16, 9, 9), 8, 2)])
def test_compiled_convolutions_by_windows(
    monkeypatch: pytest.MonkeyPatch, shape: tuple[int, ...], o: int, stride: int
) -> None:
    """ADJIT_BLAS=adjit: a compiled convolution's forward reads the windows (its product is
    conv_into's, called), and its value and gradients agree with PyTorch's."""
    monkeypatch.setenv("ADJIT_BLAS", "adjit")
    seen: list[tuple[int, ...]] = []
    conv_into = own_gemm.conv_into

    def spy(x: np.ndarray, *args: object, **kw: object) -> None:
        seen.append(x.shape)
        conv_into(x, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(own_gemm, "conv_into", spy)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((o, shape[1], 3, 3)) * 0.2).astype(np.float32)
    got = _step(x, w, stride, 1)
    assert seen
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    y = torch.nn.functional.conv2d(xt, wt, stride=stride, padding=1)
    value = (y.relu() * y).sum()
    value.backward()
    scale = float(torch.abs(y.detach()).max()) ** 2 * y.numel()
    np.testing.assert_allclose(got[0], value.item(), rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(got[1], xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[2], wt.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("images", "side", "by_images"), [(6, 8, False), (4, 16, True)])
def test_the_same_bits_at_any_thread_count(
    monkeypatch: pytest.MonkeyPatch, images: int, side: int, by_images: bool
) -> None:
    """At two threads the windows way cuts the images (large maps) or the output channels
    (small ones) across the threads; every output element is the same chain of FMAs
    whichever thread makes it."""
    monkeypatch.setenv("ADJIT_BLAS", "adjit")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((images, 16, side, side)).astype(np.float32)
    o = 3 * windows_product.ROWS  # (cut at two threads either way)
    w = rng.standard_normal((o, 16 * 9)).astype(np.float32)
    calls: list[tuple[int, int]] = []
    conv_into = own_gemm.conv_into

    def spy(x: np.ndarray, w: np.ndarray, *args: object, **kw: object) -> None:
        calls.append((x.shape[0], w.shape[0]))
        conv_into(x, w, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(own_gemm, "conv_into", spy)
    outs = []
    for n in (1, 2):
        out = np.empty((o, images * side * side), np.float32)
        with at_threads(n):
            windows_product.run(x, w, out, _attrs((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
                                lambda: pytest.fail("columns"))  # fmt: skip
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    assert calls[0] == (images, o) and len(calls) == 3  # one call, then two
    cut = [c[0] for c in calls[1:]] if by_images else [c[1] for c in calls[1:]]
    assert sum(cut) == (images if by_images else o) and all(c > 0 for c in cut)


@pytest.mark.parametrize("winner", [blas_choice.COLUMNS, blas_choice.WINDOWS])
def test_the_timed_choice_runs(monkeypatch: pytest.MonkeyPatch, winner: str) -> None:
    """Under ADJIT_BLAS=auto a geometry is timed once between the columns and the windows, and
    the winner makes the result (here the columns are a marker value)."""
    timed: list[tuple[str, ...]] = []

    def measure(run: blas_choice.Run, names: tuple[str, ...]) -> str:
        timed.append(names)
        return winner

    monkeypatch.setattr(blas_choice, "_measure", measure)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    w = rng.standard_normal((6, 36)).astype(np.float32)
    attrs = _attrs((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1))
    expected = np.empty((6, 50), np.float32)
    own_gemm.conv_into(x, w, expected, **attrs)  # type: ignore[arg-type]
    for _ in range(2):
        out = np.empty((6, 50), np.float32)
        windows_product.run(x, w, out, attrs, lambda: out.fill(7.0))  # noqa: B023
        np.testing.assert_array_equal(out, expected if winner == blas_choice.WINDOWS else 7.0)
    assert timed == [(blas_choice.COLUMNS, blas_choice.WINDOWS)]
