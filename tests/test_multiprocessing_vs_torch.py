"""``torch.multiprocessing`` side by side with PyTorch: the names, sharing strategies, spawn and
start_processes with their errors (ProcessRaisedException, ProcessExitedException), and adjit
tensors through a multiprocessing Queue."""

from __future__ import annotations

import os
import pickle
import sys
from typing import Any

import numpy as np
import pytest

import adjit
import adjit.multiprocessing as mp

torch = pytest.importorskip("torch")
import torch.multiprocessing as tmp  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork start method")


def test_names_and_sharing_strategies() -> None:
    assert sorted(mp.__all__) == sorted(tmp.__all__)
    for name in ("spawn", "start_processes", "ProcessContext", "ProcessRaisedException",
                 "ProcessExitedException", "Queue", "Process", "get_context", "cpu_count",
                 "set_start_method", "get_start_method", "SimpleQueue", "Pool"):  # fmt: skip
        assert hasattr(mp, name), name
    assert mp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    assert mp.get_sharing_strategy() == tmp.get_sharing_strategy() == "file_descriptor"
    mp.set_sharing_strategy("file_system")
    assert mp.get_sharing_strategy() == "file_system"
    mp.set_sharing_strategy("file_descriptor")
    for M in (mp, tmp):
        with pytest.raises(AssertionError) as e:
            M.set_sharing_strategy("shm")
        assert str(e.value).startswith("invalid sharing strategy 'shm', expected one of {")
    assert mp.cpu_count() == os.cpu_count()


def _put_tensors(i: int, queue: Any) -> None:
    queue.put((i, adjit.arange(3, dtype=adjit.float64) * (i + 1),
               adjit.nn.Parameter(adjit.ones(2))))  # fmt: skip


def _fail(i: int, code: int) -> None:
    if i == 1:
        raise ValueError(f"boom in {i}")
    if code:
        os._exit(code)


@pytest.mark.parametrize(
    "start_method",
    ["fork", pytest.param("spawn", marks=pytest.mark.slow)],  # (imports adjit)
)
def test_tensors_through_a_queue(start_method: str) -> None:
    queue = mp.get_context(start_method).SimpleQueue()
    mp.start_processes(_put_tensors, args=(queue,), nprocs=2, start_method=start_method)
    got = sorted(queue.get() for _ in range(2))
    for i, t, p in got:
        assert type(t) is adjit.Tensor and t.dtype is adjit.float64
        assert t.tolist() == [0.0, i + 1.0, 2 * (i + 1.0)]
        assert isinstance(p, adjit.nn.Parameter) and p.requires_grad
    assert [i for i, _, _ in got] == [0, 1]


def test_a_child_error_as_pytorch() -> None:
    raised = []
    for M in (mp, tmp):
        with pytest.raises(M.ProcessRaisedException) as e:
            M.start_processes(_fail, args=(0,), nprocs=2, start_method="fork")
        raised.append(e.value)
    for e in raised:
        assert e.error_index == 1 and isinstance(e.error_pid, int)
        assert str(e).startswith("\n\n-- Process 1 terminated with the following error:\n")
        assert str(e).rstrip().endswith("ValueError: boom in 1")
    again = pickle.loads(pickle.dumps(raised[0]))
    assert (type(again), again.msg, again.error_index) == (type(raised[0]), raised[0].msg, 1)


def test_an_exit_code_as_pytorch() -> None:
    texts = []
    for M in (mp, tmp):
        context = M.start_processes(_fail, args=(3,), nprocs=1, join=False, start_method="fork")
        assert len(context.pids()) == 1
        with pytest.raises(M.ProcessExitedException) as e:
            while not context.join():
                pass
        texts.append((str(e.value), e.value.exit_code, e.value.signal_name))
    assert texts[0] == texts[1] == ("process 0 terminated with exit code 3", 3, None)


def test_spawn_warns_about_another_start_method() -> None:
    messages = []
    for M in (mp, tmp):
        with pytest.warns(FutureWarning) as seen:
            M.spawn(_fail, args=(0,), nprocs=0, start_method="fork")  # (no process to start)
        messages.append(str(seen[0].message))
    assert messages[0] == messages[1]


def test_spawned_values_match_numpy() -> None:
    """Values survive the trip bit for bit (a tensor is pickled by value)."""
    queue = mp.get_context("fork").SimpleQueue()
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 5)).astype(np.float32)
    queue.put(adjit.tensor(data))
    np.testing.assert_array_equal(queue.get().numpy(), data)
