"""The process-wide worker threads that run the chunks of kernels split across cores."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

try:  # the C queue that ``queue`` re-exports, without the rest of ``queue`` (~0.5 ms to import)
    from _queue import SimpleQueue
except ImportError:  # pragma: no cover (not CPython)
    from queue import SimpleQueue

# Note [worker threads]
# concurrent.futures would do, but importing it pulls in logging (~20 ms of a warm process's
# first call, against a 30 ms budget). A job here is a function, its arguments and a one-shot
# latch (a lock the worker releases); errors are re-raised in the caller. Workers are daemon
# threads blocked on a queue (no spinning, so they never compete with BLAS or the caller for
# a core). After fork() the child starts its own workers (the parent's do not exist there).


class Job:
    __slots__ = ("fn", "args", "latch", "error")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args, self.error = fn, args, None
        self.latch = threading.Lock()
        self.latch.acquire()

    def result(self) -> None:
        """Wait for the job; re-raise what it raised."""
        self.latch.acquire()
        if self.error is not None:
            raise self.error


# Note [idle workers hold nothing]
# A compiled training step's forward writes into its arena only when nothing it handed out of
# that arena is still alive (Note [one arena for a training step]), else it takes another. A
# worker blocked on the queue still held its last job in a local, and a split's job that no
# worker had claimed yet sat in the queue: both held the split's calls, views of the arena, so
# at 2 threads every step's forward took a second arena (the step memory of resnet18 b8 at 2
# threads 111.0 MB against 55.5 at 1, VGG-11 b8 127.6 against 63.8; benchmarks/step_memory.py).
# A worker now drops its job once it has run it, and a split forgets its function and calls
# once they are done (``Split.wait`` in kernels.py): both steps back at 55.5 and 63.8 MB.


class Workers:
    """``n`` threads taking jobs from one queue."""

    def __init__(self, n: int) -> None:
        self.jobs: SimpleQueue[Job] = SimpleQueue()
        self.size = 0
        self.grow(n)

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                job.fn(*job.args)
            except BaseException as e:  # noqa: BLE001 -- handed to the caller
                job.error = e
            finally:
                job.latch.release()
                del job  # Note [idle workers hold nothing]

    def submit(self, fn: Callable[..., Any], *args: Any) -> Job:
        job = Job(fn, args)
        self.jobs.put(job)
        return job

    def grow(self, n: int) -> None:
        """At least ``n`` threads (idle ones block on the queue: never shrunk)."""
        for i in range(self.size, n):
            threading.Thread(target=self._loop, name=f"adjit-{i}", daemon=True).start()
        self.size = max(self.size, n)


_WORKERS: list[Workers] = []
# Note [thread count]
# ``adjit.set_num_threads(n)`` (PyTorch's name) sets how many threads a kernel is split
# across: the calling thread and n - 1 workers. Kernel runners read it when they run, so a
# change applies to kernels already compiled; BLAS (runtime/blas.py) is set to n as well.
# ``ADJIT_NUM_THREADS=n`` in the environment sets the starting count (runtime/settings.py).


def _starting_count() -> int:
    """ADJIT_NUM_THREADS if set (a positive integer), else the machine's cores."""
    text = os.environ.get("ADJIT_NUM_THREADS", "").strip()
    if not text:
        return os.cpu_count() or 1
    if not text.isdigit() or int(text) <= 0:
        raise RuntimeError(f"ADJIT_NUM_THREADS must be a positive integer, not {text!r}")
    return int(text)


_THREADS = [_starting_count()]


def num_threads() -> int:
    return _THREADS[0]


def set_num_threads(n: int) -> None:
    _THREADS[0] = n
    if _WORKERS:
        _WORKERS[0].grow(n - 1)


def workers(n: int) -> Workers:
    """The process's pool of at least ``n`` workers (made on first use)."""
    if not _WORKERS:
        _WORKERS.append(Workers(n))
    elif _WORKERS[0].size < n:
        _WORKERS[0].grow(n)
    return _WORKERS[0]


os.register_at_fork(after_in_child=_WORKERS.clear)
