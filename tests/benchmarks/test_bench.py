"""The benchmark suite on tiny sizes: its JSON, agreement checks, table, chart and CLI."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import threading
import time

import numpy as np
import pytest
from adjit.benchmarks import chart, report, run, w1
from adjit.benchmarks.harness import (
    BASELINE,
    CaseResult,
    Timing,
    Unavailable,
    disagreement,
    run_case,
)
from adjit.benchmarks.progress import Progress
from adjit.benchmarks.suite import PRESETS

from adjit import cli

STATUSES = {"ok", "disagrees", "failed", "unavailable", "skipped", "floor"}
TINY = Timing(rounds=2, min_rounds=1, min_sample_ms=0.1, budget_s=0.1)
QUIET = Progress(enabled=False)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, bytes]:
    """``adjit bench`` through the CLI on the tiny preset (W1, W4 and compile latency)."""
    import adjit

    out = tmp_path_factory.mktemp("bench")
    argv = ["bench", "--preset", "tiny", "--only", "W1,w4,latency", "--skip", "jax.jit"]
    argv += ["--json", str(out / "b.json"), "--png", str(out / "b.png"), "--threads", "1"]
    stdout = io.StringIO()
    threads, environ = adjit.get_num_threads(), dict(os.environ)
    try:
        with contextlib.redirect_stdout(stdout):
            assert cli.main(argv) == 0
        assert adjit.get_num_threads() == 1  # every contender's count, adjit's included
        if "torch" in sys.modules:
            assert sys.modules["torch"].get_num_threads() == 1
    finally:
        adjit.set_num_threads(threads)
        os.environ.clear()
        os.environ.update(environ)
    png = (out / "b.png").read_bytes() if (out / "b.png").exists() else b""
    return json.loads((out / "b.json").read_text()), stdout.getvalue(), png


def test_json_structure(tiny_run: tuple[dict, str, bytes]) -> None:
    data, _, _ = tiny_run
    assert data["preset"] == "tiny"
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    assert data["versions"]["numpy"] == np.__version__
    assert data["settings"]["threads"] == 1 and len(data["machine"]["load_average"]) == 3
    assert list(data["workloads"]) == ["W1", "W4", "latency"]
    for name, w in data["workloads"].items():
        assert w["title"] and w["cases"], name
        for case in w["cases"]:
            ms = case["contenders"]
            base = ms[BASELINE]
            assert base["status"] == "ok" and base["median_ms"] > 0 and base["ratio"] == 1.0
            for k, m in ms.items():
                assert m["status"] in STATUSES, (name, k)
                timed = m["status"] in ("ok", "floor")
                assert (m["median_ms"] is not None) == timed, (name, k)
                if m["status"] == "ok":
                    assert m["error"] <= 1e-3 and m["rounds"] >= 1
                    if name != "latency":
                        assert m["iqr_ms"] >= 0.0
                    assert m["ratio"] == pytest.approx(m["median_ms"] / base["median_ms"])
            if name != "latency":
                assert ms["numpy"]["status"] == "ok"  # numpy is never optional
                assert case["reference_error"] <= 1e-3
            assert ms["jax.jit"]["status"] == "skipped"
    (w1_case,) = data["workloads"]["W1"]["cases"]
    assert w1_case["params"] == {"n": 256}
    assert w1_case["contenders"][w1.FLOOR]["status"] == "floor"
    cold, warm = data["workloads"]["latency"]["cases"]
    assert (cold["label"], warm["label"]) == ("cold cache", "warm cache")
    assert cold["contenders"][BASELINE]["extra"]["import_ms"] > 0


def test_table_and_chart_outputs(tiny_run: tuple[dict, str, bytes]) -> None:
    _, stdout, png = tiny_run
    assert "W1: loss and both gradients" in stdout and "adjit compiled" in stdout
    assert "checked before timing" in stdout and "N=256" in stdout
    assert "1 thread for every contender" in stdout
    pytest.importorskip("matplotlib")
    assert png.startswith(b"\x89PNG")


def _case_with(extra: dict) -> object:
    """W1 on 64 elements: adjit compiled, numpy, and the given extra contenders."""
    case = w1.build(64)
    case.contenders = {k: case.contenders[k] for k in (BASELINE, "numpy")} | extra
    case.floors = {}
    return case


def test_wrong_contenders_are_reported_not_timed() -> None:
    x, y = w1.inputs(64)

    def wrong() -> tuple:  # the x**2*y term's gradient forgotten
        value, dx, dy = w1.numpy_w1(x, y)
        return value, dx - 2 * x * y, dy

    def crashes() -> tuple:
        raise RuntimeError("no kernel for you")

    def missing() -> object:
        raise Unavailable("fancylib is not installed")

    extra = {"wrong": lambda: wrong, "crashes": lambda: crashes, "missing": missing}
    result = run_case(_case_with(extra), TINY, {}, QUIET)
    ms = result.measurements
    assert ms["wrong"].status == "disagrees" and ms["wrong"].error > 1e-3
    assert "differs from adjit compiled" in ms["wrong"].note
    assert ms["crashes"].status == "failed" and "no kernel for you" in ms["crashes"].note
    assert ms["missing"].status == "unavailable"
    for k in ("wrong", "crashes", "missing"):
        assert ms[k].median_ms is None and ms[k].ratio is None and ms[k].rounds == 0
    assert ms["numpy"].status == "ok" and ms["numpy"].median_ms > 0
    text = report.table(_record({"W1": [result]}))
    assert "DISAGREES" in text and "! N=64 crashes failed: RuntimeError" in text
    assert "- missing: fancylib is not installed" in text


def test_baseline_against_float64_gates_all_timing() -> None:
    case = _case_with({})
    case.reference = lambda: tuple(2 * np.asarray(v) for v in w1.numpy_w1(*w1.inputs(64)))
    result = run_case(case, TINY, {}, QUIET)
    base = result.measurements[BASELINE]
    assert base.status == "disagrees" and "float64" in base.note
    assert all(m.median_ms is None for m in result.measurements.values())
    record = _record({"W1": [result]})
    assert run._baseline_broken(record)
    text = report.table(record)
    assert "! N=64 adjit compiled disagrees: differs from float64" in text
    assert "checked before timing" not in text


def _record(results: dict[str, list[CaseResult]]) -> dict:
    return report.build(results, {"W1": w1.WORKLOAD.title}, PRESETS["tiny"], 0.0)


def test_cores_used_are_recorded_and_overuse_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Note [cores used]: every timed contender's CPU/wall ratio is kept; one that kept more
    cores busy than the thread count is flagged as unfair, one within it is not."""
    from adjit.benchmarks import peers

    result = run_case(_case_with({}), TINY, {}, QUIET)
    for m in result.measurements.values():
        assert 0.0 < m.extra["cores"] < (os.cpu_count() or 1) + 1
    monkeypatch.setitem(peers.SETTINGS, "threads", 1)
    result.measurements["numpy"].extra["cores"] = 1.9
    result.measurements[BASELINE].extra["cores"] = 1.1
    text = report.table(_record({"W1": [result]}))
    assert "! N=64 numpy kept 1.90 cores busy (1 thread allowed)" in text
    assert "adjit compiled kept" not in text


def test_a_library_that_fails_to_import_is_not_called_missing(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A contender's library that is installed but breaks on import says why, not 'not
    installed' (a child process once reported torch missing while its import failed)."""
    from adjit.benchmarks import peers

    (tmp_path / "brokenlib").mkdir()
    (tmp_path / "brokenlib" / "__init__.py").write_text('raise ImportError("libfoo.so: gone")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(Unavailable, match="brokenlib is installed but failed to import: libfoo"):
        peers._load("brokenlib")
    with pytest.raises(Unavailable, match="^nosuchlib_xyz is not installed$"):
        peers._load("nosuchlib_xyz")


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs CPU affinity and two CPUs",
)
def test_jax_pool_starts_on_the_thread_count_and_cpus_come_back() -> None:
    """Note [JAX threads]: while JAX's backend starts, the calling thread and the threads it
    starts (XLA's pool) may run on only the thread count's CPUs; after, every thread of the
    process has all its CPUs back (the pool keeps its size, not its pinning)."""
    from adjit.benchmarks import peers

    allowed = os.sched_getaffinity(0)
    seen: dict[str, set[int]] = {}
    go, done = threading.Event(), threading.Event()

    def pool_thread() -> None:
        seen["started"] = os.sched_getaffinity(0)
        go.set()
        done.wait(10)
        seen["after"] = os.sched_getaffinity(0)

    with peers._cpus(1):
        assert len(os.sched_getaffinity(0)) == 1
        worker = threading.Thread(target=pool_thread)
        worker.start()
        go.wait(10)
    done.set()
    worker.join(10)
    assert len(seen["started"]) == 1
    assert seen["after"] == allowed and os.sched_getaffinity(0) == allowed
    with peers._cpus(len(allowed)):  # all of them: nothing is changed
        assert os.sched_getaffinity(0) == allowed


_SETTLE_CHECK = """
import threading, time
from adjit.benchmarks.harness import settle

quiet = settle()
stop = time.perf_counter() + 0.3

def spin():
    while time.perf_counter() < stop:
        pass

worker = threading.Thread(target=spin)
worker.start()
waited = settle()
worker.join()
print(quiet, waited)
"""


@pytest.mark.quiet  # a spinning thread must find a core (Note [tests in parallel])
def test_settle_waits_for_spinning_threads_only() -> None:
    """Note [quiet between contenders]: a quiet process is timed at once; one whose other
    thread still spins is timed only after it stops. (In a fresh process: threads earlier
    tests left in this one, PyTorch's or a pool's, may still be finishing.)"""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", _SETTLE_CHECK], capture_output=True, text=True, check=True
    )
    quiet, waited = map(float, out.stdout.split())
    assert quiet < 0.1  # nothing spins: one or two slices
    assert 0.2 < waited < 1.0


def test_disagreement_measure() -> None:
    a = np.array([1.0, 2.0, 4.0])
    assert disagreement((a,), (a,), {}) == 0.0
    assert disagreement((a + 0.04,), (a,), {}) == pytest.approx(0.01)
    assert disagreement((a + 0.04,), (a,), {0: 400.0}) == pytest.approx(1e-4)
    assert disagreement((a[:2],), (a,), {}) == math.inf
    assert disagreement((a * np.nan,), (a,), {}) == math.inf
    assert disagreement((a,), (a, a), {}) == math.inf


def test_cli_parses() -> None:
    p = argparse.ArgumentParser()
    run.add_arguments(p)
    args = p.parse_args(["--quick", "--only", "w1,W3", "--skip", "TORCH.COMPILE", "--png", "c"])
    assert args.threads == os.cpu_count() and p.parse_args(["--threads", "1"]).threads == 1
    with pytest.raises(SystemExit):
        p.parse_args(["--threads", "0"])
    assert (args.quick, args.only, args.skip, args.png) == (
        True,
        ["W1", "W3"],
        ["torch.compile"],
        "c",
    )
    assert p.parse_args([]).json == "adjit-bench.json"
    with pytest.raises(SystemExit):
        p.parse_args(["--only", "W9"])
    with pytest.raises(SystemExit):
        p.parse_args(["--skip", BASELINE])  # the baseline is what everything is checked against


def test_bench_subcommand_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", "--help"])
    assert e.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_chart_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert chart.write_png({"workloads": {}}, "unused.png") == chart.NO_MATPLOTLIB


def _chart_record() -> dict:
    """One case: adjit compiled, a contender at 1.00x, a 3x one, a failed, a skipped, a floor."""

    def m(status: str, ms: float | None = None, **kw: object) -> dict:
        ratio = ms / 10.0 if ms else None
        return (
            {"status": status, "median_ms": ms, "iqr_ms": 0.5 if ms else None}
            | {"ratio": ratio}
            | kw
        )

    contenders = {
        BASELINE: m("ok", 10.0),
        "numpy": m("ok", 10.0),
        "torch eager": m("ok", 30.0),
        "torch.compile": m("failed"),
        "jax.jit": m("skipped"),
        w1.FLOOR: m("floor", 2.0),
    }
    case = {"label": "N=1", "baseline": BASELINE, "contenders": contenders}
    return {
        "preset": "tiny",
        "machine": {"cpu": "cpu", "cores": 2, "load_average": [0.5, 0.5, 0.5]},
        "settings": {"threads": 2},
        "workloads": {"W1": {"title": "t", "cases": [case]}},
    }


def test_chart_elements() -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = chart.figure(_chart_record(), plt)
    left, right = fig.axes[:2]
    texts = [t.get_text() for ax in (left, right) for t in ax.texts]
    assert "failed" in texts and "skipped" in texts  # untimed contenders marked
    assert "1.00x" in texts and "3.00x" in texts
    heights = sorted(abs(b.get_height()) for b in right.patches)  # no baseline bar
    assert len(heights) == 2 and heights[0] >= chart.MIN_BAR  # 1.00x stays visible
    assert heights[1] == pytest.approx(math.log2(3.0))
    assert len(left.patches) == 3  # medians: adjit compiled, numpy, torch eager; no floor bar
    assert any(c.get_label() == w1.FLOOR for c in left.collections)  # the floor, as a line
    assert len([c for c in left.containers if hasattr(c, "has_yerr") and c.has_yerr]) == 3
    assert "2 threads for every contender" in fig.legends[0].get_title().get_text()
    plt.close(fig)


def test_model_and_eager_workloads_agree_with_torch() -> None:
    """The tiny transformer step and the eager chain: adjit and PyTorch agree before timing."""
    pytest.importorskip("torch")
    from adjit.benchmarks import models
    from adjit.benchmarks.suite import OPT_IN, WORKLOADS, run_suite

    assert OPT_IN == ("models",) and "models" in WORKLOADS
    results = run_suite(PRESETS["tiny"], ["eager", "models"], QUIET)
    assert list(results) == ["eager", "models"]
    for name, cases in results.items():
        for case in cases:
            ms = case.measurements
            for k in (BASELINE, "adjit eager", "torch eager"):
                assert ms[k].status == "ok" and ms[k].error <= 1e-3, (name, k, ms[k].note)
                assert ms[k].median_ms > 0 and ms[k].iqr_ms is not None
            assert ms["torch.compile" if name == "models" else "torch eager"].status in (
                "skipped",
                "ok",
            )
            if name == "models":  # Note [GEMM floor]: the step's products, timed alone
                for floor in models.GEMM_FLOORS:
                    assert ms[floor].status == "floor" and ms[floor].median_ms > 0, floor
    (products,) = models._RECORDED.values()
    assert len(products) == 18  # 6 forward products, 12 backward (x needs no gradient)


def test_w2_gemm_floor_is_the_compiled_steps_products() -> None:
    """Note [GEMM floor] for W2: the five products of the compiled train step, timed alone."""
    from adjit.benchmarks import models, w2

    params, x, y = w2.init(8)
    products = models.recorded_products(w2._adjit(params, x, y, compiled=True))
    shapes = sorted((a.shape, b.shape) for a, b in products)
    assert shapes == sorted(
        [
            ((8, 784), (784, 256)),  # forward
            ((8, 256), (256, 10)),
            ((8, 10), (10, 256)),  # backward: the hidden layer's gradient, the weights'
            ((10, 8), (8, 256)),
            ((256, 8), (8, 784)),
        ]
    )
    case = w2.build(8)
    assert set(case.floors) == set(models.GEMM_FLOORS)
    for floor in ("GEMMs alone (OpenBLAS)", "GEMMs alone (adjit's choice)"):
        assert case.floors[floor]()() == ()  # (adjit's: executor.product_into, the step's path)


def test_gemm_floor_records_a_convolutions_chunked_products() -> None:
    """Note [GEMM floor]: a compiled convolution's GEMMs run chunk by chunk outside the
    executor's MATMUL steps (Note [weight gradient by chunks]); the floor records them all:
    their FLOPs are the conv's forward, weight-gradient and input-gradient products."""
    from adjit.benchmarks import models

    import adjit
    import adjit.nn as nn

    n, c, k, hw = 8, 8, 16, 32  # big enough to go by chunks of images
    conv = nn.Conv2d(c, k, 3, padding=1, bias=False)
    x = adjit.randn(n, c, hw, hw, requires_grad=True)
    step = adjit.compile(lambda t: conv(t).square().sum())

    def setup():
        def run():
            x.grad = conv.weight.grad = None
            step(x).backward()

        return run

    products = models.recorded_products(setup)
    flops = sum(2 * a.size * b.shape[-1] for a, b in products)
    assert len(products) > 3  # chunks, not one product each
    assert flops == 3 * 2 * n * k * c * 9 * hw * hw  # forward, dW, dx: each N*K*C*9*H*W MACs


def test_calibration_is_not_fixed_by_a_slow_second_call() -> None:
    """A step whose early calls are slow (one-time work) still gets the calls a sample its
    warm speed needs (Note [warm calibration])."""
    from adjit.benchmarks.harness import WARM_CALLS, _calibrate

    calls = [0]

    def step() -> None:
        calls[0] += 1
        time.sleep(0.02 if calls[0] <= 2 else 0.001)

    number, ms = _calibrate(step, min_sample_ms=5.0)
    assert number >= 4 and ms < 5.0  # (a slow first batch would have given number 1, 20 ms)
    assert calls[0] >= WARM_CALLS + number


def test_contenders_in_processes_of_their_own() -> None:
    """At more than one thread each contender runs, and is timed, in a process of its own
    (Note [one process a contender]); the processes are gone afterwards."""
    import multiprocessing

    from adjit.benchmarks.harness import Settings
    from adjit.benchmarks.suite import WORKLOADS

    skip = {n: "not in this test" for n in ("adjit eager", "torch eager", "torch.compile",
                                            "jax.jit", "GEMMs alone (MKL)")}  # fmt: skip
    # (samples of 40 ms: the CPU time other threads ran is billed at scheduler ticks, so the
    # cores of a 0.1 ms sample, TINY's, came out at 3.04 of 2 once)
    timing = Timing(rounds=2, min_rounds=2, min_sample_ms=40.0, budget_s=1.0)
    settings = Settings("tiny", timing, skip, threads=2, isolate=True)
    (result,) = WORKLOADS["W2"].results(settings, QUIET)
    m = result.measurements
    assert m["adjit compiled"].status == "ok" and m["numpy"].status == "ok"
    assert m["GEMMs alone (OpenBLAS)"].status == "floor"
    for name in ("adjit compiled", "numpy", "GEMMs alone (OpenBLAS)"):
        assert m[name].median_ms is not None and m[name].median_ms > 0
        assert 0 < m[name].extra["cores"] <= 2 + 0.25  # measured in the child (Note [cores used])
    assert m["numpy"].error is not None and m["numpy"].error < 1e-5  # checked in the parent
    assert m["torch eager"].status == "skipped"
    assert not multiprocessing.active_children()
