"""Note [OpenBLAS's idle threads]: large products on OpenBLAS's threads where they sleep soon."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from adjit.runtime import blas, blas_choice, mkl_gemm, split_gemm

import adjit
from tests.runtime.test_split_gemm import EPS32, _assert_product

_PROBE = (
    "import os; {first}from adjit.runtime import blas; "
    "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'), blas.threads_sleep_soon())"
)


def _probe(first: str, timeout: str | None) -> str:
    """What a fresh process importing ``first`` and then adjit sees (the variable, the test)."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if timeout is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = timeout
    code = _PROBE.format(first=first)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("first", "timeout", "seen"),
    [
        ("import adjit; ", None, f"{blas.SPIN_EXPONENT} True"),  # adjit before NumPy: set
        ("import numpy; import adjit; ", None, "None False"),  # NumPy first: too late to set
        ("import adjit; ", "28", "28 False"),  # the user's value stands: spins long
        ("import numpy; import adjit; ", "4", "4 True"),  # the user's, in effect from the start
        ("import adjit; ", "many", "many False"),  # (not a number: OpenBLAS's default)
    ],
)
def test_import_sets_a_short_spin_only_before_numpy(
    first: str, timeout: str | None, seen: str
) -> None:
    assert _probe(first, timeout) == seen


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two threads, OpenBLAS's threads taken to sleep soon (this process loaded NumPy before
    adjit: tests/conftest.py), no choice remembered from elsewhere."""
    if blas._openblas() is None:
        pytest.skip("NumPy's BLAS is not OpenBLAS")
    monkeypatch.setattr(split_gemm, "threads_sleep_soon", lambda: True)
    monkeypatch.setattr(blas_choice, "_CHOSEN", {})
    monkeypatch.setattr(blas_choice, "_FILE", {})
    monkeypatch.setattr(blas_choice, "_READ", [True])  # (and nothing read from the disk)
    monkeypatch.setattr(blas_choice, "_write", lambda key, winner: None)
    before = adjit.get_num_threads()
    adjit.set_num_threads(2)
    try:
        yield
    finally:
        adjit.set_num_threads(before)


SHAPES = [
    ((512, 256), (256, 384)),  # 2-D, 101 MFLOP: MKL's team or OpenBLAS's threads
    ((16, 4, 128, 64), (16, 4, 64, 128)),  # a batch (attention's scores), 134 MFLOP
]


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize(("xs", "ys"), SHAPES)
def test_openblas_threads_run_large_products(xs: tuple, ys: tuple, monkeypatch) -> None:
    """No MKL: the product runs as one NumPy call on OpenBLAS's threads, not in adjit's blocks."""
    monkeypatch.setattr(mkl_gemm, "active", lambda: None)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    y = rng.standard_normal(ys).astype(np.float32)
    out = np.full(np.broadcast_shapes(xs[:-2], ys[:-2]) + (xs[-2], ys[-1]), np.nan, np.float32)
    blocks: list[object] = []
    monkeypatch.setattr(split_gemm, "_run_blocks", lambda calls, gemm: blocks.append(calls))
    assert split_gemm.chosen(x, y, out) is None
    split_gemm.matmul_into(x, y, out)
    assert blocks == []
    _assert_product(out, x, y)


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize(("xs", "ys"), SHAPES)
def test_threaded_choice_is_timed_per_thread_count(xs: tuple, ys: tuple, monkeypatch) -> None:
    """With MKL, the choice is timed between OpenBLAS's threads (the incumbent) and MKL, under
    a key of its own for this thread count; each contender computes the product."""
    lib = mkl_gemm.active()
    if lib is None:
        pytest.skip("MKL is not installed")
    asked: list[tuple] = []
    real = blas_choice.fastest

    def spy(key, run, names):  # noqa: ANN001, ANN202
        asked.append((key, names))
        return real(key, run, names)

    monkeypatch.setattr(blas_choice, "fastest", spy)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xs).astype(np.float32)
    y = rng.standard_normal(ys).astype(np.float32)
    out = np.full(np.broadcast_shapes(xs[:-2], ys[:-2]) + (xs[-2], ys[-1]), np.nan, np.float32)
    choice = split_gemm.chosen(x, y, out)
    assert choice is None or choice is lib
    [(key, names)] = asked
    assert names == (blas_choice.OPENBLAS, blas_choice.MKL)
    assert key[-1] == "2 threads" and key[:-1] == blas_choice.geometry(x, y, out)
    for lib_or_none in (None, lib):
        out[...] = np.nan
        split_gemm.matmul_by(lib_or_none, x, y, out)
        _assert_product(out, x, y)


@pytest.mark.usefixtures("two_threads")
def test_small_products_keep_their_one_thread_choice(monkeypatch) -> None:
    """Below SPLIT_FLOPS nothing changes: W2 batch 128's 51 MFLOP products stay on MKL's team
    (on OpenBLAS's threads its step ran in two modes, the Note), smaller ones on one thread."""
    asked: list[object] = []
    monkeypatch.setattr(mkl_gemm, "chosen_threaded", lambda *a: asked.append(a))
    for m, k, n in [(128, 64, 128), (128, 784, 256)]:  # 2 and 51 MFLOP
        x = np.ones((m, k), np.float32)
        y = np.ones((k, n), np.float32)
        split_gemm.chosen(x, y, np.empty((m, n), np.float32))
    assert asked == []


def test_long_spin_keeps_adjits_splits(monkeypatch) -> None:
    """Where OpenBLAS's threads spin long (the default), large products never go to them."""
    monkeypatch.setattr(split_gemm, "threads_sleep_soon", lambda: False)
    x = np.ones((512, 256), np.float32)
    y = np.ones((256, 384), np.float32)
    assert not split_gemm.on_blas_threads(x, y, np.empty((512, 384), np.float32), 10**8)


def test_a_compiled_training_step_on_openblas_threads(monkeypatch) -> None:
    """A compiled MLP step whose products run on OpenBLAS's threads gives eager's gradients to
    float32 rounding (its products: 2 x 512 x 256 x 512 flops each)."""
    if blas._openblas() is None:
        pytest.skip("NumPy's BLAS is not OpenBLAS")
    monkeypatch.setattr(split_gemm, "threads_sleep_soon", lambda: True)
    monkeypatch.setattr(mkl_gemm, "active", lambda: None)  # (OpenBLAS's threads, not a choice)
    monkeypatch.setattr(blas_choice, "_CALLS", {})  # (no geometry's call kept from before)
    taken: list[bool] = []
    real = split_gemm.on_blas_threads
    monkeypatch.setattr(
        split_gemm, "on_blas_threads", lambda *a: taken.append(real(*a)) or taken[-1]
    )
    before = adjit.get_num_threads()
    adjit.set_num_threads(2)
    try:
        adjit.manual_seed(0)
        model = adjit.nn.Sequential(
            adjit.nn.Linear(256, 512), adjit.nn.GELU(), adjit.nn.Linear(512, 256)
        )
        x = adjit.randn(512, 256)

        def loss_fn(x: adjit.Tensor) -> adjit.Tensor:
            return (model(x) ** 2).mean()

        compiled = adjit.compile(loss_fn)
        grads = []
        for fn in (loss_fn, compiled):
            model.zero_grad()
            loss = fn(x)
            loss.backward()
            grads.append([p.grad.numpy().copy() for p in model.parameters()] + [loss.item()])
        assert any(taken)
        for eager, comp in zip(*grads, strict=True):
            scale = np.abs(eager).max()
            # (k roundings of the gradient's scale: the longest sum has k = 512 terms)
            np.testing.assert_allclose(comp, eager, rtol=0, atol=512 * EPS32 * scale)
    finally:
        adjit.set_num_threads(before)
