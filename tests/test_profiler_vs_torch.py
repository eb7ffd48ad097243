"""``torch.profiler`` and ``torch.autograd.profiler`` over record_function ranges (Note [what
the profiler records]), side by side with PyTorch: the table's layout, names, counts and
nesting, schedules and their trace-ready calls, Chrome traces that load."""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

import pytest

import adjit

torch = pytest.importorskip("torch")


def _work(T: Any) -> None:
    rf = T.profiler.record_function
    with rf("model_inference"):
        with rf("inner"):
            time.sleep(0.004)
        time.sleep(0.002)
    with rf("inner"):
        time.sleep(0.001)


def _profiled(T: Any) -> Any:
    with T.profiler.profile(activities=[T.profiler.ProfilerActivity.CPU]) as prof:
        _work(T)
    return prof


def _layout(table: str) -> list[Any]:
    """The table's lines as their lengths and words, the measured numbers left out."""
    number = re.compile(r"\d+\.\d+(%|ms|us|s)")
    lines = table.splitlines()
    return [(len(line) if i < len(lines) - 1 else None,  # (the total's line: its number's)
             [w for w in line.split() if not number.fullmatch(w)])
            for i, line in enumerate(lines)]  # fmt: skip


def test_table_as_pytorch() -> None:
    ours, theirs = _profiled(adjit), _profiled(torch)
    for sort_by in (None, "cpu_time_total", "self_cpu_time_total", "count"):
        a = ours.key_averages().table(sort_by=sort_by, row_limit=10)
        t = theirs.key_averages().table(sort_by=sort_by, row_limit=10)
        if sort_by in (None, "count"):  # the measured orders may differ for the others
            assert _layout(a) == _layout(t), a + t
        assert len(a.splitlines()) == len(t.splitlines())
    rows = {e.key: e for e in ours.key_averages()}
    assert {k: e.count for k, e in rows.items()} == {"model_inference": 1, "inner": 2}
    outer, inner = rows["model_inference"], rows["inner"]
    assert inner.cpu_time_total >= 5000 and outer.cpu_time_total >= 6000  # µs, from the sleeps
    events = ours.events()
    assert events[0].self_cpu_time_total == events[0].cpu_time_total - events[1].cpu_time_total
    assert outer.self_cpu_time_total == events[0].self_cpu_time_total
    assert inner.cpu_time == pytest.approx(inner.cpu_time_total / 2)
    assert [e.name for e in events] == ["model_inference", "inner", "inner"]
    assert events[1].cpu_parent is events[0] and events[2].cpu_parent is None
    shares = re.findall(r"(\d+\.\d+)%", ours.key_averages().table())[::2]
    assert sum(map(float, shares)) == pytest.approx(100.0, abs=0.02)


def test_time_unit_and_empty_table() -> None:
    table = _profiled(adjit).key_averages().table(time_unit="ms")
    assert re.search(r"Self CPU time total: \d+\.\d{3}ms\n$", table)
    for T in (adjit, torch):
        prof = T.profiler.profile()
        prof.start()
        prof.stop()
        assert prof.key_averages().table() == ""


def test_chrome_trace_loads(tmp_path: Any) -> None:
    path = tmp_path / "trace.json"
    _profiled(adjit).export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [e["name"] for e in spans] == ["model_inference", "inner", "inner"]
    outer, inner = spans[0], spans[1]
    assert outer["ts"] <= inner["ts"] and inner["ts"] + inner["dur"] <= outer["ts"] + outer["dur"]
    assert {e["pid"] for e in spans} == {os.getpid()} and inner["dur"] >= 4000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"wait": 1, "warmup": 1, "active": 2},
        {"wait": 1, "warmup": 1, "active": 2, "repeat": 1},
        {"wait": 0, "warmup": 1, "active": 1, "repeat": 2, "skip_first": 2},
        {"wait": 3, "warmup": 1, "active": 1, "skip_first": 1, "skip_first_wait": 1},
        {"wait": 0, "warmup": 0, "active": 0},
        {"wait": -1, "warmup": 0, "active": 1},
    ],
)
def test_schedule_as_pytorch(kwargs: dict[str, Any]) -> None:
    out = []
    for T in (adjit, torch):
        try:
            s = T.profiler.schedule(**kwargs)
            out.append([s(i).name for i in range(12)])
        except AssertionError as e:
            out.append(str(e))
    assert out[0] == out[1]


def test_a_scheduled_profile_as_pytorch() -> None:
    ready = []
    for T in (adjit, torch):
        seen: list[Any] = []

        def on_ready(prof: Any, seen: list[Any] = seen) -> None:
            keys = sorted(e.key for e in prof.key_averages() if not e.key.startswith("aten::"))
            seen.append((prof.step_num, keys))

        schedule = T.profiler.schedule(wait=1, warmup=1, active=2, repeat=2)
        with T.profiler.profile(schedule=schedule, on_trace_ready=on_ready) as prof:
            for step in range(9):
                with T.profiler.record_function(f"work{step}"):
                    pass
                prof.step()
        ready.append(seen)
    assert ready[0] == ready[1] and len(ready[0]) == 2  # (each warns once: cycles clear)
    assert ready[0][0] == (4, ["ProfilerStep*", "work2", "work3"])


def test_tensorboard_trace_handler(tmp_path: Any) -> None:
    handler = adjit.profiler.tensorboard_trace_handler(str(tmp_path / "tb"), worker_name="w0")
    with adjit.profiler.profile(on_trace_ready=handler):
        _work(adjit)
    (path,) = (tmp_path / "tb").iterdir()
    assert re.fullmatch(r"w0\.\d+\.pt\.trace\.json", path.name)
    assert len([e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"]) == 3


def test_record_function_as_a_decorator_and_unprofiled() -> None:
    @adjit.profiler.record_function("decorated")
    def f(x: int) -> int:
        return x + 1

    assert f(1) == 2  # no profiler: nothing recorded, nothing to fail
    with adjit.profiler.profile() as prof:
        f(2)
    assert [e.key for e in prof.key_averages()] == ["decorated"]


def test_autograd_profiler_as_pytorch() -> None:
    tables = []
    for T in (adjit, torch):
        with T.autograd.profiler.profile() as prof, T.autograd.profiler.record_function("a"):
            time.sleep(0.001)
        tables.append(_layout(prof.key_averages().table()))
        assert _layout(prof.table()) == tables[-1]
        nvtx = T.autograd.profiler.emit_nvtx()
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            nvtx.__enter__()
        with T.autograd.profiler.profile(enabled=False) as off:
            assert off is None
    assert tables[0] == tables[1]
    for T in (adjit, torch):
        activity = T.profiler.ProfilerActivity
        both = T.profiler.profile(activities=[activity.CPU, activity.CUDA])
        with pytest.warns(UserWarning, match="CUDA is not available, disabling CUDA profiling"):
            both.start()
        both.stop()
        cuda = T.profiler.profile(activities=[activity.CUDA])
        with pytest.warns(UserWarning), pytest.raises(AssertionError, match="No activities"):
            cuda.start()
    assert [a.name for a in adjit.profiler.ProfilerActivity] == [
        a.name for a in torch.profiler.ProfilerActivity.__members__.values()
    ]
    assert adjit.profiler.supported_activities() == {adjit.profiler.ProfilerActivity.CPU}


def test_acc_events_keeps_earlier_cycles() -> None:
    counts = []
    for T in (adjit, torch):
        schedule = T.profiler.schedule(wait=0, warmup=1, active=1, repeat=3)
        with T.profiler.profile(schedule=schedule, acc_events=True) as prof:
            for _ in range(6):
                with T.profiler.record_function("work"):
                    pass
                prof.step()
        counts.append({e.key: e.count for e in prof.key_averages() if e.key == "work"})
    assert counts[0] == counts[1] == {"work": 3}
