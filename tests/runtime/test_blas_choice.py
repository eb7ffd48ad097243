"""Compiled products choose MKL, NumPy's BLAS or adjit's GEMM by timing each geometry once, kept
per machine (Note [BLAS by measurement])."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
from adjit.runtime import blas_choice, column_grads, mkl_gemm, own_gemm, split_gemm

import adjit
from tests.conftest import at_threads

with contextlib.suppress(ImportError):  # before MKL's first call (Note [MKL products])
    import torch  # noqa: F401


@pytest.fixture(autouse=True)
def _own_choices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts with no choice made, a cache folder of its own and ADJIT_BLAS unset."""
    monkeypatch.setenv("ADJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("ADJIT_BLAS", raising=False)
    monkeypatch.setattr(blas_choice, "_CHOSEN", {})
    monkeypatch.setattr(blas_choice, "_CALLS", {})
    monkeypatch.setattr(blas_choice, "_FILE", {})
    monkeypatch.setattr(blas_choice, "_READ", [])


class Clock:
    """blas_choice's clock, moved only by the fake products: timings without noise."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(blas_choice, "time", c)
    return c


MO = (blas_choice.MKL, blas_choice.OPENBLAS)
ALL = (blas_choice.MKL, blas_choice.OPENBLAS, blas_choice.OWN)


def _costs(clock: Clock, **seconds: float) -> blas_choice.Run:
    """A product taking ``seconds[name]`` by each contender; ``run.ran`` records the calls."""
    ran: list[str] = []

    def run(name: str) -> None:
        ran.append(name)
        clock.now += seconds[name]

    run.ran = ran  # type: ignore[attr-defined]
    return run


@pytest.mark.parametrize(("mkl", "openblas", "chosen"), [(2.0, 1.0, "openblas"), (1.0, 2.0, "mkl")])
def test_the_faster_library_wins(clock: Clock, mkl: float, openblas: float, chosen: str) -> None:
    run = _costs(clock, mkl=mkl, openblas=openblas)
    assert blas_choice.fastest("g", run, MO) == chosen
    assert run.ran.count("mkl") == run.ran.count("openblas") == 1 + blas_choice.ROUNDS  # type: ignore[attr-defined]
    assert blas_choice.fastest("g", lambda name: pytest.fail("timed twice"), MO) == chosen


@pytest.mark.parametrize(
    ("mkl", "openblas", "adjit", "chosen"),
    [(3.0, 2.0, 1.0, "adjit"), (1.0, 2.0, 3.0, "mkl"), (3.0, 1.0, 2.0, "openblas"),
     (1.0, 0.99, 0.985, "mkl")],
)  # fmt: skip
def test_three_contenders(
    clock: Clock, mkl: float, openblas: float, adjit: float, chosen: str
) -> None:
    """The fastest of three wins; within MARGIN of the incumbent (the first named) none do.
    Every round runs each once, rotating which goes first."""
    run = _costs(clock, mkl=mkl, openblas=openblas, adjit=adjit)
    assert blas_choice.fastest("g", run, ALL) == chosen
    ran = run.ran  # type: ignore[attr-defined]
    assert all(ran.count(n) == 1 + blas_choice.ROUNDS for n in ALL)
    firsts = {ran[3 * (1 + r)] for r in range(blas_choice.ROUNDS)}
    assert len(firsts) == min(3, blas_choice.ROUNDS)


def test_a_choice_among_other_contenders_is_made_again(clock: Clock) -> None:
    """A choice is kept with the contenders it was made among: offered others (adjit's GEMM
    taking the product, or MKL gone), the geometry is timed again."""
    assert blas_choice.fastest("g", _costs(clock, mkl=2.0, openblas=1.0), MO) == "openblas"
    run = _costs(clock, mkl=2.0, openblas=1.0, adjit=0.5)
    assert blas_choice.fastest("g", run, ALL) == "adjit"
    assert run.ran  # type: ignore[attr-defined]
    assert blas_choice.fastest("g", lambda n: pytest.fail("timed"), ALL) == "adjit"


def test_others_must_win_by_the_margin(clock: Clock) -> None:
    """A tie, or OpenBLAS faster by less than MARGIN, keeps the incumbent MKL."""
    within = 1.0 - blas_choice.MARGIN / 2
    assert blas_choice.fastest("tie", _costs(clock, mkl=1.0, openblas=1.0), MO) == "mkl"
    assert blas_choice.fastest("close", _costs(clock, mkl=1.0, openblas=within), MO) == "mkl"
    assert blas_choice.fastest("clear", _costs(clock, mkl=1.0, openblas=0.9), MO) == "openblas"


def test_the_fastest_run_counts(clock: Clock) -> None:
    """Minimums, not means: one slow outlier of the faster library does not lose it."""
    times = iter([9.0, 9.0] + [2.0, 1.0, 50.0, 2.0, 2.0, 1.5])  # (rounds rotate the order)

    def run(name: str) -> None:
        clock.now += next(times)

    assert blas_choice.fastest("g", run, MO) == "openblas"


def test_choices_are_kept_per_machine_on_disk(clock: Clock, tmp_path: Path) -> None:
    blas_choice.fastest("a", _costs(clock, mkl=2.0, openblas=1.0), MO)
    blas_choice.fastest("b", _costs(clock, mkl=1.0, openblas=2.0), MO)
    blas_choice.fastest("c", _costs(clock, mkl=2.0, openblas=3.0, adjit=1.0), ALL)
    files = list((tmp_path / "blas").glob("*.json"))
    assert len(files) == 1
    expected = {"a|mkl,openblas": "openblas", "b|mkl,openblas": "mkl"}
    assert json.loads(files[0].read_text()) == {**expected, "c|mkl,openblas,adjit": "adjit"}
    blas_choice.forget()  # a new process: read back, not timed again
    fail = lambda name: pytest.fail("timed again")  # noqa: E731
    assert blas_choice.fastest("a", fail, MO) == "openblas"
    assert blas_choice.fastest("b", fail, MO) == "mkl"
    assert blas_choice.fastest("c", fail, ALL) == "adjit"


def test_a_damaged_file_is_timed_again(clock: Clock, tmp_path: Path) -> None:
    blas_choice.fastest("a", _costs(clock, mkl=2.0, openblas=1.0), MO)
    (file,) = (tmp_path / "blas").glob("*.json")
    file.write_text("{not json")
    blas_choice.forget()
    assert blas_choice.fastest("a", _costs(clock, mkl=1.0, openblas=2.0), MO) == "mkl"
    assert json.loads(file.read_text()) == {"a|mkl,openblas": "mkl"}


def test_no_file_when_the_cache_is_off(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, tmp_path: Path
) -> None:
    monkeypatch.setenv("ADJIT_CACHE_DIR", "off")
    assert blas_choice.fastest("a", _costs(clock, mkl=2.0, openblas=1.0), MO) == "openblas"
    assert not (tmp_path / "blas").exists()


def _need_mkl() -> mkl_gemm.Library:
    lib = mkl_gemm.library()
    if lib is None:
        pytest.skip("MKL is not usable in this process")
    return lib


def _operands(m: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((m, k)).astype(np.float32),
        rng.standard_normal((k, n)).astype(np.float32),
    )


@pytest.mark.parametrize("winner", ALL)
def test_a_compiled_product_runs_on_the_chosen_library(
    monkeypatch: pytest.MonkeyPatch, winner: str
) -> None:
    """The product is the chosen library's, bit for bit, on its first call and every call;
    the step asks for its geometry's choice once (Note [one product, one call])."""
    _need_mkl()
    if winner == blas_choice.OWN and own_gemm.width() == 0:
        pytest.skip("the GEMM kernel does not compile on this host")
    monkeypatch.setattr(blas_choice, "_measure", lambda run, names: winner)
    asked: list[object] = []
    chosen = split_gemm.chosen
    monkeypatch.setattr(split_gemm, "chosen", lambda *a: asked.append(a[2].shape) or chosen(*a))
    x, y = _operands(256, 128, 192)  # 12.6 MFLOP: chosen
    assert 2 * x.shape[0] * x.shape[1] * y.shape[1] >= blas_choice.FLOPS
    expected = np.empty((256, 192), np.float32)
    with at_threads(1):
        forced = {blas_choice.OPENBLAS: "numpy"}.get(winner, winner)
        monkeypatch.setenv("ADJIT_BLAS", forced)
        split_gemm.matmul_into(x, y, expected)  # the library forced, the same path
        monkeypatch.delenv("ADJIT_BLAS")
        asked.clear()
        f = adjit.compile(lambda a, b: a @ b)
        first = f(adjit.tensor(x), adjit.tensor(y)).numpy()
        calls = [f(adjit.tensor(x), adjit.tensor(y)).numpy() for _ in range(3)]
    np.testing.assert_array_equal(first, expected)
    for again in calls:
        np.testing.assert_array_equal(again, expected)
    assert list(blas_choice.choices().values()) == [winner]
    assert asked == [(256, 192)]


def test_mkl_at_more_threads_for_products_split_there(monkeypatch: pytest.MonkeyPatch) -> None:
    """At two threads a product MKL would split or run on its team is not timed: MKL's, as
    under ADJIT_BLAS=mkl (Note [BLAS by measurement]); nor is a column step's chunk."""
    _need_mkl()
    monkeypatch.setattr(blas_choice, "_measure", lambda run, names: pytest.fail("timed"))
    x, y = _operands(512, 256, 384)  # 100 MFLOP
    assert split_gemm.ALONE_FLOPS <= 2 * 512 * 256 * 384
    expected = np.empty((512, 384), np.float32)
    with at_threads(2):
        monkeypatch.setenv("ADJIT_BLAS", "mkl")
        split_gemm.matmul_into(x, y, expected)
        monkeypatch.delenv("ADJIT_BLAS")
        got = adjit.compile(lambda a, b: a @ b)(adjit.tensor(x), adjit.tensor(y)).numpy()
        column_grads.matmul_into(x, y, np.empty_like(expected))
    np.testing.assert_array_equal(got, expected)
    assert blas_choice.choices() == {}


@pytest.mark.parametrize("mkl", [True, False])
def test_one_thread_products_choose_at_two_threads(
    monkeypatch: pytest.MonkeyPatch, mkl: bool
) -> None:
    """Below ALONE_FLOPS either library runs the product on one thread at two threads too:
    it takes its one-thread choice (the same key), bit for bit that library's."""
    _need_mkl()
    monkeypatch.setattr(blas_choice, "_measure", lambda run, names: "mkl" if mkl else "openblas")
    x, y = _operands(256, 128, 192)  # 12.6 MFLOP
    assert blas_choice.FLOPS <= 2 * 256 * 128 * 192 < split_gemm.ALONE_FLOPS
    expected = np.empty((256, 192), np.float32)
    asked: list[object] = []
    chosen = split_gemm.chosen
    with at_threads(2):
        monkeypatch.setenv("ADJIT_BLAS", "mkl" if mkl else "numpy")
        split_gemm.matmul_into(x, y, expected)
        monkeypatch.delenv("ADJIT_BLAS")
        monkeypatch.setattr(split_gemm, "chosen", lambda *a: asked.append(a[2].shape) or chosen(*a))
        f = adjit.compile(lambda a, b: a @ b)
        calls = [f(adjit.tensor(x), adjit.tensor(y)).numpy() for _ in range(3)]
    for got in calls:
        np.testing.assert_array_equal(got, expected)
    assert list(blas_choice.choices().values()) == ["mkl" if mkl else "openblas"]
    assert asked == [(256, 192)]  # (the step keeps the choice: Note [one product, one call])


def test_small_products_and_forced_libraries_are_not_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    _need_mkl()
    monkeypatch.setattr(blas_choice, "_measure", lambda run, names: pytest.fail("timed"))
    x, y = _operands(32, 32, 32)  # 65 kFLOP
    out = np.empty((32, 32), np.float32)
    split_gemm.matmul_into(x, y, out)
    column_grads.matmul_into(x, y, out)
    x, y = _operands(256, 128, 192)
    out = np.empty((256, 192), np.float32)
    for forced in ("mkl", "numpy"):
        monkeypatch.setenv("ADJIT_BLAS", forced)
        split_gemm.matmul_into(x, y, out)
        column_grads.matmul_into(x, y, out)
    assert blas_choice.choices() == {}


def test_timing_leaves_the_winners_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first call times both libraries into the result; the winner writes it last."""
    _need_mkl()
    x, y = _operands(256, 128, 192)
    out = np.full((256, 192), np.nan, np.float32)
    expected = np.empty_like(out)
    with at_threads(1):  # (a column step's chunk products choose at one thread)
        column_grads.matmul_into(x, y, out)
        (winner,) = blas_choice.choices().values()
        monkeypatch.setenv("ADJIT_BLAS", {"openblas": "numpy"}.get(winner, winner))
        column_grads.matmul_into(x, y, expected)
    np.testing.assert_array_equal(out, expected)


def test_the_flag_names_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADJIT_BLAS", "fastest")
    with pytest.raises(RuntimeError, match="ADJIT_BLAS must be one of auto, mkl, numpy, adjit"):
        mkl_gemm.active()
    monkeypatch.setenv("ADJIT_BLAS", "auto")
    assert mkl_gemm.measured()
    monkeypatch.setenv("ADJIT_BLAS", "mkl")
    assert not mkl_gemm.measured()
