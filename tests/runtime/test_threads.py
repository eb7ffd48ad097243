"""The thread knob: ADJIT_NUM_THREADS, the timed split choice, chunks claimed by whoever is free."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from adjit.runtime import kernels

import adjit


@pytest.mark.parametrize(("value", "want"), [("1", "1"), ("3", "3")])
def test_env_sets_the_starting_count(value: str, want: str) -> None:
    env = dict(os.environ, ADJIT_NUM_THREADS=value)
    code = "import adjit; print(adjit.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == want, out.stderr


def test_env_rejects_a_bad_count() -> None:
    env = dict(os.environ, ADJIT_NUM_THREADS="two")
    out = subprocess.run([sys.executable, "-c", "import adjit"], env=env, capture_output=True)
    assert b"ADJIT_NUM_THREADS must be a positive integer, not 'two'" in out.stderr


@pytest.mark.parametrize(
    ("serial", "split", "pays"),
    [(100e-6, 60e-6, True), (100e-6, 95e-6, False), (30e-6, 45e-6, False)],
)
def test_split_pays(serial: float, split: float, pays: bool) -> None:
    assert kernels.split_pays(serial, split) == pays


@pytest.mark.parametrize("pays", [False, True])
def test_probing_decides_after_timed_calls(monkeypatch, pays: bool) -> None:
    seen: list[tuple[float, float]] = []

    def decide(serial: float, split: float) -> bool:
        seen.append((serial, split))
        return pays

    monkeypatch.setattr(kernels, "split_pays", decide)
    monkeypatch.setattr(kernels, "PARALLEL_THRESHOLD", 1 << 10)
    adjit.set_num_threads(2)
    before = {id(r) for r in _runners()}  # (other tests' runners may still be probing)
    f = adjit.compile(lambda x: (x * 2.0 + 1.0).exp())
    x = adjit.ones(1 << 12)
    try:
        for _ in range(kernels.PROBES + 1):
            np.testing.assert_allclose(f(x).numpy(), np.exp(3.0), rtol=1e-6)
    finally:
        adjit.set_num_threads(kernels.THREADS)
    runners = [
        r
        for r in _runners()
        if id(r) not in before and r.lowered.work >= kernels.PARALLEL_THRESHOLD
    ]
    assert runners and not any(r._probes for r in runners)
    assert len(seen) == len(runners) and all(a < 1 and b < 1 for a, b in seen)
    assert all((len(r.ranges) > 1) == pays for r in runners)


def test_split_call_runs_every_chunk_without_workers() -> None:
    """The caller claims what no worker took: a worker that starts late finds nothing left."""
    seen: list[tuple[int, int]] = []
    split = kernels.Split(lambda lo, hi: seen.append((lo, hi)), [(0, 1), (1, 2), (2, 3)])
    split.work()
    split.wait()
    split.work()  # a late worker
    assert seen == [(0, 1), (1, 2), (2, 3)]


def test_split_call_reraises() -> None:
    def boom(lo: int, hi: int) -> None:
        raise ValueError(f"chunk {lo}")

    split = kernels.Split(boom, [(0, 1)])
    split.work()
    with pytest.raises(ValueError, match="chunk 0"):
        split.wait()


def _runners() -> list[kernels.KernelRunner]:
    import gc

    return [o for o in gc.get_objects() if type(o) is kernels.KernelRunner]  # (not a proxy's)
