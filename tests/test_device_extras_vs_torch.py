"""torch.accelerator, Stream/Event, get_device_module, GradScaler's alias, from_file,
is_distributed, Tensor.storage_type/module_load, side by side with PyTorch."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit


def _outcome(fn: Callable[[Any], Any], T: Any) -> Any:
    try:
        return ("ok", fn(T))
    except Exception as e:  # noqa: BLE001 - compared with torch's
        return (type(e).__name__, str(e))


def _same(fn: Callable[[Any], Any]) -> None:
    assert _outcome(fn, adjit) == _outcome(fn, torch)


ACCELERATOR = [
    "current_accelerator",
    "device_count",
    "is_available",
    "current_device_index",
    "current_device_idx",
    "current_stream",
    "synchronize",
    "empty_cache",
    "empty_host_cache",
    "memory_allocated",
    "max_memory_allocated",
    "memory_reserved",
    "max_memory_reserved",
    "memory_stats",
    "reset_peak_memory_stats",
    "reset_accumulated_memory_stats",
    "get_memory_info",
    "get_device_capability",
]


@pytest.mark.parametrize("name", ACCELERATOR)
def test_accelerator_without_one(name: str) -> None:
    _same(lambda T: getattr(T.accelerator, name)())


def test_accelerator_device_switches() -> None:
    _same(lambda T: T.accelerator.current_accelerator(True))
    _same(lambda T: T.accelerator.set_device_index(0))
    _same(lambda T: T.accelerator.set_stream(T.Stream()))
    _same(lambda T: T.accelerator.device_index(0).__enter__())
    for T in (adjit, torch):
        with T.accelerator.device_index(None):
            pass


STREAMS: dict[str, Callable[[Any], Any]] = {
    "repr": lambda T: repr(T.Stream()),
    "str-device": lambda T: repr(T.Stream("cpu:0")),
    "meta": lambda T: repr(T.Stream("meta")),
    "priority": lambda T: repr(T.Stream(priority=-1)),
    "attrs": lambda T: (T.Stream().device_type, T.Stream().device_index, T.Stream().stream_id),
    "device": lambda T: str(T.Stream().device),
    "query": lambda T: T.Stream().query(),
    "synchronize": lambda T: T.Stream().synchronize(),
    "capturing": lambda T: T.Stream().is_capturing(),
    "eq": lambda T: (T.Stream() == T.Stream(), hash(T.Stream()) == hash(T.Stream())),
    "with": lambda T: repr(T.Stream().__enter__()),
    "record": lambda T: T.Stream().record_event(),
    "wait-stream": lambda T: T.Stream().wait_stream(T.Stream()),
    "wait-event": lambda T: T.Stream().wait_event(T.Event()),
    "cuda": lambda T: T.Stream("cuda"),
    "index": lambda T: T.Stream(1),
    "handle": lambda T: T.Stream().native_handle,
    "event-repr": lambda T: repr(T.Event()),
    "event-timing": lambda T: repr(T.Event(enable_timing=True)),
    "event-flags": lambda T: repr(T.Event(blocking=True, interprocess=True)),
    "event-query": lambda T: (T.Event().query(), T.Event().synchronize(), T.Event().wait()),
    "event-record": lambda T: T.Event().record(),
    "event-id": lambda T: (T.Event().event_id, str(T.Event().device)),
    "elapsed": lambda T: T.Event().elapsed_time(T.Event()),
    "elapsed-timing": lambda T: T.Event(enable_timing=True).elapsed_time(
        T.Event(enable_timing=True)
    ),
    "ipc": lambda T: T.Event().ipc_handle(),
    "event-eq": lambda T: T.Event() == T.Event(),
}


@pytest.mark.parametrize("name", list(STREAMS))
def test_stream_and_event_as_torch(name: str) -> None:
    _same(STREAMS[name])


DEVICE_MODULES: dict[str, Callable[[Any], Any]] = {
    "none": lambda T: T.get_device_module() is T.cpu,
    "cpu": lambda T: T.get_device_module("cpu") is T.cpu,
    "device": lambda T: T.get_device_module(T.device("cpu")) is T.cpu,
    "cuda": lambda T: T.get_device_module("cuda") is T.cuda,
    "meta": lambda T: T.get_device_module("meta"),
    "bad": lambda T: T.get_device_module("foo"),
}


@pytest.mark.parametrize("name", list(DEVICE_MODULES))
def test_get_device_module(name: str) -> None:
    _same(DEVICE_MODULES[name])


def test_grad_scaler_alias_and_is_distributed() -> None:
    assert adjit.GradScaler is adjit.amp.GradScaler
    for T in (adjit, torch):
        assert T.is_distributed(T.ones(2)) is False
        assert T.ones(2).is_distributed() is False


@pytest.mark.parametrize("shared", [None, False, True])
def test_from_file(tmp_path: Any, shared: bool | None) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(24)))
    ours = adjit.from_file(str(path), shared, 4, dtype=adjit.int32)
    theirs = torch.from_file(str(path), shared, 4, dtype=torch.int32)
    assert ours.tolist() == theirs.tolist() and ours.dtype is adjit.int32
    ours[0] = 7  # shared: the file's memory; else a private copy
    assert path.read_bytes()[:4] == (bytes([7, 0, 0, 0]) if shared else bytes(range(4)))
    del ours, theirs
    _same(lambda T: T.from_file(str(path), size=7, dtype=T.int32))
    _same(lambda T: T.from_file(str(path), size=3, dtype=T.float64).tolist())
    _same(lambda T: T.from_file(str(path)).tolist())
    _same(lambda T: T.from_file(str(path), size=2, requires_grad=True).requires_grad)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool", "complex64", "uint8"])
def test_storage_type(dtype: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = adjit.ones(2).to(getattr(adjit, dtype)).storage_type()
        theirs = torch.ones(2).to(getattr(torch, dtype)).storage_type()
    assert ours.__name__ == theirs.__name__
    assert ours is getattr(adjit, theirs.__name__)
    assert pickle.loads(pickle.dumps(ours)) is ours


def test_module_load() -> None:
    for T in (adjit, torch):
        p = T.nn.Parameter(T.ones(3))
        with T.no_grad():  # (as load_state_dict calls it)
            loaded = p.module_load(T.full((3,), 2.0))
        assert loaded is not p and not loaded.requires_grad and p.tolist() == [2.0] * 3
        other = T.full((3,), 5.0, requires_grad=True)
        assigned = p.module_load(other, assign=True)
        assert assigned is not other and not assigned.requires_grad
        assert assigned.tolist() == [5.0] * 3


def test_unsafe_split_with_sizes_method() -> None:
    x = np.arange(10.0).reshape(5, 2)
    ours = adjit.tensor(x).unsafe_split_with_sizes([2, 3])
    theirs = torch.tensor(x).unsafe_split_with_sizes([2, 3])
    assert [o.tolist() for o in ours] == [t.tolist() for t in theirs]
