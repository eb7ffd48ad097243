"""Worker processes (``torch.utils.data._utils.worker``): ``get_worker_info``, PyTorch's
per-worker seeding, and the loop that fetches batches for the index queue."""

from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fetch import ITERABLE, create_fetcher

MP_STATUS_CHECK_INTERVAL = 5.0  # seconds between liveness checks while waiting on a queue


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What a worker process knows about itself (``get_worker_info()`` inside a worker)."""

    id: int
    num_workers: int
    seed: int
    dataset: Any
    rng: Any = None
    worker_method: str | None = "multiprocessing"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """This worker's ``WorkerInfo`` inside a DataLoader worker process, ``None`` in the main
    process (use it to shard an ``IterableDataset`` or seed per-worker state)."""
    return _worker_info


@dataclass(frozen=True)
class IterableDatasetStopIteration:
    worker_id: int


@dataclass(frozen=True)
class ResumeIteration:
    seed: int | None = None


class KeyErrorMessage(str):
    """A KeyError's message printed as is (KeyError would repr() it)."""

    def __repr__(self) -> str:
        return self


# Note [no cycle through the re-raised exception]
# A local holding the exception being raised makes a cycle (exception -> traceback -> this
# frame -> exception), and the failed iterator in a traceback frame then lives until the cycle
# collector runs. Its ``__del__`` then comes after the collector has run the queues' weakref
# finalizers, which stop their feeder threads: the ``None`` that tells a worker to exit is never
# sent and shutting down waits out the join timeouts (10 s with PyTorch's code, which has the
# cycle). Dropping the local frees the iterator, and stops its workers, when the caller drops
# the exception.


class ExceptionWrapper:
    """An exception and its formatted traceback, carried across processes and re-raised with
    PyTorch's "Caught X in DataLoader worker process N. Original Traceback ..." text."""

    def __init__(self, exc_info: Any = None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self) -> None:
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:  # Note [no cycle through the re-raised exception]
            del exception


def _generate_state(base_seed: int, worker_id: int) -> list[int]:
    """NumPy's SeedSequence hash of ``[worker_id, base_seed]`` as PyTorch computes it (the
    128-bit NumPy seed of a worker), so workers' ``np.random`` streams match PyTorch's."""
    init_a, mult_a, init_b, mult_b = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
    mix_l, mix_r, xshift, mask = 0xCA01F9DD, 0x4973F715, 16, 0xFFFFFFFF
    entropy = [worker_id, base_seed & mask, base_seed >> 32, 0]
    const_a = init_a

    def hash_(value: int) -> int:
        nonlocal const_a
        value = (value ^ const_a) & mask
        const_a = (const_a * mult_a) & mask
        value = (value * const_a) & mask
        return (value ^ (value >> xshift)) & mask

    def mix(x: int, y: int) -> int:
        result = ((mix_l * x) - (mix_r * y)) & mask
        return (result ^ (result >> xshift)) & mask

    pool = [hash_(e) for e in entropy]
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hash_(pool[i_src]))
    const_b, state = init_b, []
    for value in pool:
        value = (value ^ const_b) & mask
        const_b = (const_b * mult_b) & mask
        value = (value * const_b) & mask
        state.append((value ^ (value >> xshift)) & mask)
    return state


def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed ``random``, adjit's global generator and NumPy as PyTorch seeds a worker (one
    thread for kernels and BLAS, as PyTorch)."""
    from adjit.runtime.generator import manual_seed
    from adjit.runtime.settings import set_num_threads

    set_num_threads(1)  # as PyTorch: workers do not oversubscribe the cores with BLAS threads
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(_generate_state(base_seed, worker_id))
    return seed


def worker_loop(
    dataset_kind: int,
    dataset: Any,
    index_queue: Any,
    data_queue: Any,
    done_event: Any,
    auto_collation: bool,
    collate_fn: Any,
    drop_last: bool,
    base_seed: int,
    init_fn: Any,
    worker_id: int,
    num_workers: int,
) -> None:
    """Fetch ``(idx, index)`` tasks until told to stop (``None``); a ``ResumeIteration``
    restarts the fetcher (persistent workers, new epoch)."""
    global _worker_info
    try:
        seed = seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(dataset_kind, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        iteration_end = False
        manager_pid = os.getppid()
        while os.getppid() == manager_pid:
            try:
                r = index_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
            if isinstance(r, ResumeIteration):
                data_queue.put((r, None))
                iteration_end = False
                fetcher = create_fetcher(
                    dataset_kind, dataset, auto_collation, collate_fn, drop_last
                )
                continue
            if r is None:
                break
            if done_event.is_set() or iteration_end:
                continue
            idx, index = r
            data: Any
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if isinstance(e, StopIteration) and dataset_kind == ITERABLE:
                        data = IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            data_queue.put((idx, data))
            del data, idx, index, r
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
