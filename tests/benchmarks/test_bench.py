"""The benchmark suite on tiny sizes: its JSON, agreement checks, table, chart and CLI."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys

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
    out = tmp_path_factory.mktemp("bench")
    argv = ["bench", "--preset", "tiny", "--only", "W1,w4,latency", "--skip", "jax.jit"]
    argv += ["--json", str(out / "b.json"), "--png", str(out / "b.png")]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main(argv) == 0
    png = (out / "b.png").read_bytes() if (out / "b.png").exists() else b""
    return json.loads((out / "b.json").read_text()), stdout.getvalue(), png


def test_json_structure(tiny_run: tuple[dict, str, bytes]) -> None:
    data, _, _ = tiny_run
    assert data["preset"] == "tiny"
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    assert data["versions"]["numpy"] == np.__version__
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
