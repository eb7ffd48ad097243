"""What the profilers record: ``record_function`` ranges, timed per thread while one records."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

# Note [what the profiler records]
# adjit's profilers record wall-clock ranges: every ``record_function`` block (and, under a
# schedule, PyTorch's ``ProfilerStep#N`` ranges), with its thread and nesting. They do not
# record op-level events (``aten::mm`` rows), shapes, memory or devices: ``key_averages()``
# and its ``table()`` hold the recorded ranges only, with PyTorch's columns (self and total
# CPU time, their shares of the total self time, the average, the count), and
# ``export_chrome_trace`` writes them as Chrome trace "X" events. A range that is open when
# recording stops is not recorded.


class Session:
    """One recording: the finished ranges (name, thread id, start ns, end ns, order)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, int, int, int]] = []
        self.wall_ns = time.time_ns()  # the perf counter's zero as wall time, for traces
        self.base_ns = time.perf_counter_ns()
        self.recording = True


_sessions: list[Session] = []
_lock = threading.Lock()
_order = iter(range(1 << 62))


def start() -> Session:
    session = Session()
    with _lock:
        _sessions.append(session)
    return session


def stop(session: Session) -> None:
    with _lock:
        session.recording = False
        if session in _sessions:
            _sessions.remove(session)


class record_function(contextlib.ContextDecorator):
    """``with record_function("name"):`` (or as a decorator): the block is a named range in
    every recording profiler (Note [what the profiler records])."""

    def __init__(self, name: str, args: str | None = None) -> None:
        self.name = name
        self.args = args
        self._open: list[tuple[list[Session], int]] = []

    def __enter__(self) -> record_function:
        self._open.append((list(_sessions), time.perf_counter_ns()))
        return self

    def __exit__(self, *exc: Any) -> None:
        sessions, start_ns = self._open.pop()
        end_ns = time.perf_counter_ns()
        if not sessions:
            return
        event = (self.name, threading.get_native_id(), start_ns, end_ns, next(_order))
        with _lock:
            for session in sessions:
                if session.recording:
                    session.events.append(event)
