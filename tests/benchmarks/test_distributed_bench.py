"""benchmarks/distributed (Note [distributed benchmark]): the link model against hand-worked
numbers and PyTorch's bucket assignment, and a quick end-to-end run on 1 and 2 processes."""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

import pytest
from adjit.benchmarks import distributed
from adjit.benchmarks import distributed_link as dl

MB = 2**20


def test_ring_cost() -> None:
    link = dl.Link("x", alpha_s=50e-6, beta_bps=1e9)
    assert link.cost(10**6, 1) == 0.0  # one process: nothing to send
    assert link.cost(10**6, 2) == pytest.approx(2 * 50e-6 + 1e-3)
    # 8 ranks: 14 ring steps, each process moves 2*7/8 of the buffer
    assert link.cost(8 * 10**6, 8) == pytest.approx(14 * 50e-6 + 14 * 10**6 / 1e9)
    assert dl.REAL.cost(10**9, 8) == 0.0


def test_bucket_limits_are_pytorch_defaults() -> None:
    assert dl.limits(None) == (MB, 25 * MB)  # 1 MiB first bucket only with the default cap
    assert dl.limits(5) == (5 * MB, 5 * MB)


def test_buckets_match_pytorch_assignment() -> None:
    torch = pytest.importorskip("torch")
    dist = pytest.importorskip("torch.distributed")
    sizes = [40, 2_560, 256, 300_000, 1_200_000, 4, 900_000, 2_000_000, 64]
    for limit in ((MB, 2 * MB), (MB, MB), (64, 500_000)):
        tensors = [torch.empty(n // 4 or 1) for n in sizes]
        want, _ = dist._compute_bucket_assignment_by_size(
            tensors, [int(limit[0]), int(limit[1])], [False] * len(sizes)
        )
        got = dl.buckets([t.numel() * 4 for t in tensors], range(len(sizes)), limit)
        assert got == [list(b) for b in want], limit


def test_predict_by_hand() -> None:
    link = dl.Link("x", alpha_s=0.0, beta_bps=1e6)  # 1 byte = 1 us at P=2
    ready = [0.009, 0.004, 0.001]  # the last layer's gradient first
    sizes = [4_000, 3_000, 2_000]
    # after backward (10 ms): one all-reduce of 9 kB, all of it exposed
    assert dl.predict(ready, sizes, 0.010, None, link, 2) == pytest.approx((0.009, 0.009))
    # a bucket per parameter: 2 ms from 1 ms, 3 ms from 4 ms, 4 ms from 9 ms -> ends at 13 ms
    exposed, total = dl.predict(ready, sizes, 0.010, (1, 1), link, 2)
    assert (exposed, total) == pytest.approx((0.003, 0.009))
    # one bucket [2 kB, 3 kB] (closes at >= 4 kB), then [4 kB]: 5 ms from 4 ms, then 9 -> 13
    exposed, _ = dl.predict(ready, sizes, 0.010, (4_000, 4_000), link, 2)
    assert exposed == pytest.approx(0.003)
    assert dl.predict(ready, sizes, 0.010, (1, 1), dl.REAL, 2) == (0.0, 0.0)


def test_clock_holds_a_wait_until_the_last_launch_plus_the_cost() -> None:
    latest = time.perf_counter() + 0.02  # the other rank launches 20 ms later
    clock = dl.Clock(2, lambda now: lambda: max(now, latest))
    clock.link = dl.Link("x", alpha_s=0.0, beta_bps=2e6)  # 10 kB: 5 ms
    pending = clock.launch(10_000)
    assert pending is not None and clock.record.modelled_s == pytest.approx(0.005)
    clock.wait(lambda: None, pending)
    assert time.perf_counter() >= latest + 0.005
    assert clock.record.slept_s >= 0.02 and len(clock.record.waits) == 1
    clock.link = dl.REAL
    assert clock.launch(10_000) is None  # the machine's own link: no model, no exchange


def test_quick_run_end_to_end(tmp_path: Path) -> None:
    why = distributed.unavailable()
    if why:
        pytest.skip(f"MPI is unavailable: {why}")
    out, path = io.StringIO(), tmp_path / "dist.json"
    with contextlib.redirect_stdout(out):
        assert distributed.main(["--quick", "--json", str(path)]) == 0
    text = out.getvalue()
    assert "1 thread per process for every contender" in text and "load average" in text, text
    rows = [ln.split() for ln in text.splitlines() if ln.startswith("mlp adjit compiled")]
    one = [r for r in rows if r[3] == "1"]
    two = [r for r in rows if r[3] == "2" and r[4:6] == ["after", "backward"]]
    assert one and two, text
    assert float(two[0][6]) > 0 and float(two[0][9]) > 0  # step ms and efficiency
    data = json.loads(path.read_text())
    by = {(r["world"], r["name"]): r for r in data["rows"]}
    assert not any(r.get("failed") for r in data["rows"]), data["rows"]
    if distributed.ddp_available():
        assert (2, "ddp default MB @shm") in by and (2, "ddp default MB @1GB/s") in by, list(by)
    # the two-process runs computed the one-process step on the concatenated batch
    for (world, _), r in by.items():
        if world == 2:
            assert r["agrees"] <= distributed.LOSS_TOLERANCE, (r["name"], r["agrees"])
    # the simulated 1 GB/s link: one all-reduce of the MLP's 17,226 float32 gradients
    sim = by[(2, "after backward @1GB/s")]
    assert sim["buckets"] == [17_226 * 4]
    assert sim["summary"]["modelled"] == pytest.approx(2 * 50e-6 + 17_226 * 4 / 1e9)
