"""adjit's own float32 GEMM (Note [our own GEMM] in codegen/sgemm.py): against float64 within
the dot product's rounding bound, the same bits for every operand layout, refusals, and the
compiled programs that use it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from adjit.runtime import blas_choice, own_gemm

import adjit
from tests.conftest import at_threads

torch = pytest.importorskip("torch")

SHAPES = [
    (1, 1, 1), (1, 5, 3), (9, 1, 40), (7, 13, 33), (8, 256, 32), (17, 300, 65),
    (129, 513, 97), (64, 576, 200), (3, 1000, 1), (130, 40, 130),
]  # fmt: skip
U = np.finfo(np.float32).eps / 2


@pytest.fixture(params=[16, 8], ids=["zmm", "ymm"])
def width(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Both vector widths' kernels (the 8-wide one is the kernel of CPUs without AVX-512)."""
    if own_gemm.width() == 0:
        pytest.skip("the GEMM kernel does not compile on this host")
    monkeypatch.setattr(own_gemm, "width", lambda: request.param)
    yield request.param


def _layout(a: np.ndarray, transposed: bool) -> np.ndarray:
    """``a``'s values in memory transposed (a column-major view) or as they are."""
    return np.ascontiguousarray(a.T).T if transposed else a


def _operands(m: int, k: int, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, k)).astype(np.float32)
    return x, rng.standard_normal((k, n)).astype(np.float32)


@pytest.mark.parametrize(("m", "k", "n"), SHAPES)
def test_within_the_rounding_bound_of_float64(width: int, m: int, k: int, n: int) -> None:
    """|C - C64| <= gamma_k (|A| |B|) elementwise (Higham's dot product bound, k FMAs), and
    the same bits whatever the operands' and the result's layouts (each element is one chain
    of FMAs over k in order)."""
    x, y = _operands(m, k, n)
    exact = x.astype(np.float64) @ y.astype(np.float64)
    bound = k * U / (1 - k * U) * (np.abs(x).astype(np.float64) @ np.abs(y).astype(np.float64))
    first = None
    for tx, ty, to in itertools.product((False, True), repeat=3):
        out = _layout(np.full((m, n), np.nan, np.float32), to)
        xl, yl = _layout(x, tx), _layout(y, ty)
        assert own_gemm.takes(xl, yl, out)
        own_gemm.matmul_into(xl, yl, out)
        assert np.all(np.abs(out - exact) <= bound), (tx, ty, to)
        if first is None:
            first = out.copy()
        np.testing.assert_array_equal(out, first)


def test_strided_views_and_long_k(width: int) -> None:
    """Slices with row strides past their width, a result that is a slice of a larger
    buffer (left untouched around it), and k over several blocks of KC."""
    rng = np.random.default_rng(1)
    big_x = rng.standard_normal((90, 2 * own_gemm.KC + 300)).astype(np.float32)
    big_y = rng.standard_normal((2 * own_gemm.KC + 300, 170)).astype(np.float32)
    x, y = big_x[3:80, 7 : 7 + own_gemm.KC * 2 + 50], big_y[5 : 5 + own_gemm.KC * 2 + 50, 9:150]
    buf = np.full((100, 200), -7.0, np.float32)
    out = buf[10:87, 20:161]
    own_gemm.matmul_into(x, y, out)
    exact = x.astype(np.float64) @ y.astype(np.float64)
    k = x.shape[1]
    bound = k * U / (1 - k * U) * (np.abs(x).astype(np.float64) @ np.abs(y).astype(np.float64))
    assert np.all(np.abs(out - exact) <= bound)
    outside = np.ones(buf.shape, bool)
    outside[10:87, 20:161] = False
    assert np.all(buf[outside] == -7.0)


def test_the_same_bits_from_call_to_call(width: int) -> None:
    x, y = _operands(200, 700, 150, seed=2)
    a, b = np.empty((200, 150), np.float32), np.empty((200, 150), np.float32)
    own_gemm.matmul_into(x, y, a)
    own_gemm.matmul_into(x, y, b)
    np.testing.assert_array_equal(a, b)


def test_what_it_does_not_take() -> None:
    x, y = _operands(16, 16, 16)
    out = np.empty((16, 16), np.float32)
    assert not own_gemm.takes(x.astype(np.float64), y.astype(np.float64), out.astype(np.float64))
    assert not own_gemm.takes(x[::-1], y, out)  # a negative stride
    assert not own_gemm.takes(x, y, x)  # the result over an operand
    assert not own_gemm.takes(x[None], y, out[None])  # a batch
    assert not own_gemm.takes(x[:, :0], y[:0], out)  # nothing to sum (the caller's BLAS)
    odd = np.empty((16, 32), np.float32)[:, ::2]  # the result strided along both axes
    assert not own_gemm.takes(x, y, odd)


def test_compiled_products_forced_onto_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """ADJIT_BLAS=adjit: a compiled linear layer's forward and gradients run on it, bit for bit
    its product, and agree with PyTorch's."""
    if own_gemm.width() == 0:
        pytest.skip("the GEMM kernel does not compile on this host")
    monkeypatch.setenv("ADJIT_BLAS", "adjit")
    monkeypatch.setattr(blas_choice, "_measure", lambda run, names: pytest.fail("timed"))
    x, w = _operands(96, 160, 72, seed=3)
    f = adjit.compile(lambda a, b: a @ b)
    got = f(adjit.tensor(x), adjit.tensor(w)).numpy()
    expected = np.empty((96, 72), np.float32)
    own_gemm.matmul_into(x, w, expected)
    np.testing.assert_array_equal(got, expected)

    def loss(a: adjit.Tensor, b: adjit.Tensor) -> adjit.Tensor:
        return (a @ b).tanh().sum()

    xa = adjit.tensor(x, requires_grad=True)
    wa = adjit.tensor(w, requires_grad=True)
    adjit.compile(loss)(xa, wa).backward()
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    (xt @ wt).tanh().sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(wa.grad.numpy(), wt.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_timed_as_a_third_contender(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """At one thread a float32 product it takes is timed against the libraries; when it wins,
    the compiled product is its bits."""
    if own_gemm.width() == 0:
        pytest.skip("the GEMM kernel does not compile on this host")
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))  # (no choice kept for the machine)
    monkeypatch.setattr(blas_choice, "_CHOSEN", {})
    monkeypatch.setattr(blas_choice, "_CALLS", {})
    monkeypatch.setattr(blas_choice, "_FILE", {})
    monkeypatch.setattr(blas_choice, "_READ", [])
    seen: list[tuple[str, ...]] = []

    def measure(run: blas_choice.Run, names: tuple[str, ...]) -> str:
        seen.append(names)
        return blas_choice.OWN

    monkeypatch.setattr(blas_choice, "_measure", measure)
    monkeypatch.delenv("ADJIT_BLAS", raising=False)
    with at_threads(1):
        x, y = _operands(256, 128, 192, seed=4)
        got = adjit.compile(lambda a, b: a @ b)(adjit.tensor(x), adjit.tensor(y)).numpy()
    assert seen and seen[0][-1] == blas_choice.OWN
    expected = np.empty((256, 192), np.float32)
    own_gemm.matmul_into(x, y, expected)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("m", "k", "n"), [(512, 256, 384), (40, 300, 2000), (8, 70, 50)])
def test_blocks_across_threads_are_one_threads_bits(m: int, k: int, n: int) -> None:
    """At two threads a large product runs in blocks of rows (else columns) on adjit's threads;
    each element is still one chain of FMAs over k in order: one thread's bits."""
    from adjit.runtime import split_gemm

    if own_gemm.width() == 0:
        pytest.skip("the GEMM kernel does not compile on this host")
    x, y = _operands(m, k, n, seed=5)
    whole = np.empty((m, n), np.float32)
    own_gemm.matmul_into(x, y, whole)
    for out in (np.empty((m, n), np.float32), np.empty((n, m), np.float32).T):
        split_gemm.own_blocks(x, y, out, 2)
        np.testing.assert_array_equal(out, whole)


def test_forced_at_two_threads_it_runs_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """ADJIT_BLAS=adjit at two threads: a product split_gemm would split runs in blocks on
    adjit's threads (one thread's bits); under auto it is not timed there (Note [BLAS by
    measurement]: MKL's spinning team and adjit's blocks fought)."""
    from adjit.runtime import split_gemm

    if own_gemm.width() == 0:
        pytest.skip("the GEMM kernel does not compile on this host")
    calls: list[tuple[int, ...]] = []
    matmul_into = own_gemm.matmul_into

    def spy(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
        calls.append(out.shape)
        matmul_into(x, y, out)

    monkeypatch.setattr(own_gemm, "matmul_into", spy)
    monkeypatch.setattr(blas_choice, "_measure", lambda run, names: pytest.fail("timed"))
    x, y = _operands(512, 256, 384, seed=6)  # 100 MFLOP: split at two threads
    assert split_gemm.ALONE_FLOPS <= 2 * 512 * 256 * 384
    out = np.empty((512, 384), np.float32)
    with at_threads(2):
        monkeypatch.setenv("ADJIT_BLAS", "adjit")
        split_gemm.matmul_into(x, y, out)
        assert sorted(calls) == [(256, 384), (256, 384)]
        monkeypatch.setenv("ADJIT_BLAS", "auto")
        split_gemm.matmul_into(x, y, np.empty_like(out))
    whole = np.empty_like(out)
    matmul_into(x, y, whole)
    np.testing.assert_array_equal(out, whole)
