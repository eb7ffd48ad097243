"""Note [workers without a core]: split products run on the caller alone while workers miss."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from adjit.runtime import idle_cores, mkl_gemm, split_gemm

READ_PRESSURE = idle_cores.cpu_pressure  # (the fixture below stands in for it)


@pytest.fixture(autouse=True)
def _small_products_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """W2-sized products split here, below the real threshold (Note [split threshold for
    products]): these tests are about who runs the blocks."""
    monkeypatch.setattr(split_gemm, "SPLIT_FLOPS", 10**7)
    lib = mkl_gemm.library()
    if lib is not None:  # adjit's own split, not MKL's team (Note [MKL's own threads])
        monkeypatch.setattr(lib, "threads", None)


Split = Callable[[Callable[..., None], list[tuple[Any, ...]], int], None]


def _caller_only(threads: list[int]) -> Split:
    """A split whose workers never come: the caller runs every block."""

    def split(fn: Callable[..., None], calls: list[tuple[Any, ...]], n: int) -> None:
        threads.append(n)
        for call in calls:
            fn(*call)

    return split


def _helped(threads: list[int]) -> Split:
    """A split whose worker takes the second block at once, the caller the first."""

    def split(fn: Callable[..., None], calls: list[tuple[Any, ...]], n: int) -> None:
        threads.append(n)
        worker = threading.Thread(target=fn, args=calls[1])
        worker.start()
        worker.join()
        fn(*calls[0])

    return split


def _block(ran: list[int]) -> Callable[[int], None]:
    """A block that takes a while (a caller's block time against its wait)."""

    def block(i: int) -> None:
        time.sleep(0.002)
        ran.append(i)

    return block


@pytest.fixture(autouse=True)
def calm(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CPU pressure unless a test says so (Note [CPU pressure])."""
    monkeypatch.setattr(idle_cores, "cpu_pressure", lambda: 0.0)


def test_cpu_pressure_sends_splits_to_the_caller_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    watch, threads = idle_cores.Watch(), []
    calls = [(1,), (2,)]
    monkeypatch.setattr(idle_cores, "cpu_pressure", lambda: idle_cores.PRESSURE)
    watch.run(_block([]), calls, _helped(threads))
    assert threads == [1] and watch.alone == 0
    watch.read_at = -idle_cores.PRESSURE_EVERY  # (read again)
    monkeypatch.setattr(idle_cores, "cpu_pressure", lambda: None)  # no PSI here: misses decide
    watch.run(_block([]), calls, _helped(threads))
    assert threads == [1, 2]


def test_the_pressure_is_read_from_psi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    psi = tmp_path / "cpu"
    psi.write_text("some avg10=12.50 avg60=3.00 avg300=1.00 total=5\nfull avg10=0.00\n")
    monkeypatch.setattr(idle_cores, "PSI", str(psi))
    assert READ_PRESSURE() == 12.5
    psi.write_text("garbled\n")
    assert READ_PRESSURE() is None
    monkeypatch.setattr(idle_cores, "PSI", str(tmp_path / "missing"))
    assert READ_PRESSURE() is None


def test_misses_in_a_row_send_splits_to_the_caller_alone() -> None:
    watch, threads, ran = idle_cores.Watch(), [], []
    calls = [(1,), (2,)]
    for _ in range(idle_cores.MISSES):
        watch.run(_block(ran), calls, _caller_only(threads))
    assert threads == [2] * idle_cores.MISSES and watch.alone == idle_cores.ALONE
    watch.run(_block(ran), calls, _helped(threads))  # alone: no worker asked for
    assert threads[-1] == 1 and watch.alone == idle_cores.ALONE - 1
    watch.alone = 0
    watch.run(_block(ran), calls, _helped(threads))  # tried again: a worker helped
    assert threads[-1] == 2 and watch.misses == 0
    assert sorted(ran) == [1] * (idle_cores.MISSES + 2) + [2] * (idle_cores.MISSES + 2)


def test_a_hit_resets_the_misses() -> None:
    watch, threads = idle_cores.Watch(), []
    calls = [(1,), (2,)]
    for _ in range(2 * idle_cores.MISSES):
        watch.run(_block([]), calls, _caller_only(threads))
        watch.run(_block([]), calls, _caller_only(threads))
        watch.run(_block([]), calls, _helped(threads))
    assert watch.alone == 0 and set(threads) == {2}


@pytest.mark.parametrize(("m", "k", "n"), [(128, 784, 256), (256, 128, 784)])
def test_the_same_bits_alone_or_split(
    monkeypatch: pytest.MonkeyPatch, m: int, k: int, n: int
) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((m, k)).astype(np.float32)
    y = rng.standard_normal((n, k)).astype(np.float32).T
    monkeypatch.setattr(split_gemm, "num_threads", lambda: 2)
    watch = idle_cores.Watch()
    monkeypatch.setattr(split_gemm, "WATCH", watch)
    split = np.empty((m, n), np.float32)
    split_gemm.matmul_into(x, y, split)
    watch.alone = 1
    alone = np.full((m, n), np.nan, np.float32)
    split_gemm.matmul_into(x, y, alone)
    assert watch.alone == 0  # (the blocks ran on the caller)
    np.testing.assert_array_equal(alone, split)
