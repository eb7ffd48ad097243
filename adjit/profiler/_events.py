"""Recorded ranges as PyTorch's FunctionEvent/EventList: averages, the table, Chrome traces."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from adjit.profiler._recorder import Session

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg"]


class FunctionEvent:
    """One recorded range: times in microseconds, as PyTorch's FunctionEvent."""

    def __init__(self, id: int, name: str, thread: int, start_us: float, end_us: float) -> None:
        # PyTorch's wildcard: the steps aggregate as one row, the trace keeps their numbers
        self.trace_name = name
        self.name = "ProfilerStep*" if name.startswith("ProfilerStep#") else name
        self.id, self.thread = id, thread
        self.start_us, self.end_us = start_us, end_us
        self.cpu_children: list[FunctionEvent] = []
        self.cpu_parent: FunctionEvent | None = None
        self.count = 1

    key = property(lambda self: self.name)
    cpu_time_total = property(lambda self: self.end_us - self.start_us)
    cpu_time = cpu_time_total
    self_cpu_time_total = property(
        lambda self: self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)
    )

    def __repr__(self) -> str:
        return (
            f"<FunctionEvent id={self.id} name={self.name} thread={self.thread} "
            f"cpu_time={_format_time(self.cpu_time_total)} "
            f"start_us={self.start_us:.3f} end_us={self.end_us:.3f}>"
        )


class FunctionEventAvg:
    """The ranges of one name, summed (``key_averages()``'s rows)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0

    def add(self, event: FunctionEvent) -> FunctionEventAvg:
        self.count += event.count
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        return self

    @property
    def cpu_time(self) -> float:
        return 0.0 if self.count == 0 else self.cpu_time_total / self.count

    def __repr__(self) -> str:
        return (
            f"<FunctionEventAvg key={self.key} "
            f"self_cpu_time={_format_time(self.self_cpu_time_total)} "
            f"cpu_time={_format_time(self.cpu_time)} count={self.count}>"
        )


# columns no recorded range has a value for (PyTorch's device and memory columns): zero
_ZERO = ("device_time_total", "self_device_time_total", "cuda_time_total", "self_cuda_time_total",
         "cpu_memory_usage", "self_cpu_memory_usage", "device_memory_usage",
         "self_device_memory_usage", "flops")  # fmt: skip
for _name in _ZERO:
    setattr(FunctionEvent, _name, 0)
    setattr(FunctionEventAvg, _name, 0)


def _format_time(time_us: float) -> str:
    if time_us >= 1e6:
        return f"{time_us / 1e6:.3f}s"
    if time_us >= 1e3:
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"


_UNITS = {"s": 1e6, "ms": 1e3, "us": 1.0}


def _time(time_us: float, unit: str | None) -> str:
    return _format_time(time_us) if unit not in _UNITS else f"{time_us / _UNITS[unit]:.3f}{unit}"


def _share(time_us: float, total_us: float) -> str:
    return "NaN" if total_us == 0 else f"{time_us * 100.0 / total_us:.2f}%"


class EventList(list):  # type: ignore[type-arg]
    """A list of events with PyTorch's summaries: ``key_averages``, ``table``, Chrome traces."""

    def __init__(self, events: Iterable[Any] = (), session: Session | None = None) -> None:
        super().__init__(events)
        self._session = session

    @property
    def self_cpu_time_total(self) -> float:
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shapes: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False) -> EventList:  # fmt: skip
        """One FunctionEventAvg per name, in order of first appearance."""
        rows: dict[str, FunctionEventAvg] = {}
        for event in self:
            rows.setdefault(event.key, FunctionEventAvg(event.key)).add(event)
        return EventList(rows.values(), self._session)

    def total_average(self) -> FunctionEventAvg:
        total = FunctionEventAvg("Total")
        for event in self:
            total.add(event)
        return total

    def table(
        self,
        sort_by: str | None = None,
        row_limit: int = 100,
        max_src_column_width: int = 75,
        max_name_column_width: int = 55,
        max_shapes_column_width: int = 80,
        header: str | None = None,
        top_level_events_only: bool = False,
        time_unit: str | None = None,
    ) -> str:
        """PyTorch's table: name, self and total CPU time and shares, average, calls."""
        return _table(self, sort_by, row_limit, max_name_column_width, header,
                      top_level_events_only, time_unit)  # fmt: skip

    def export_chrome_trace(self, path: str) -> None:
        """The ranges as a Chrome trace (chrome://tracing, Perfetto): JSON "X" events."""
        pid = os.getpid()
        wall_us = self._session.wall_ns / 1e3 if self._session else 0.0
        events: list[dict[str, Any]] = [
            {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": "python"}}
        ]
        for e in self:
            if isinstance(e, FunctionEvent):
                span = {"ph": "X", "cat": "user_annotation", "name": e.trace_name, "pid": pid}
                span |= {"tid": e.thread, "ts": wall_us + e.start_us, "dur": e.cpu_time_total}
                events.append(span | {"args": {"External id": e.id}})
        trace = {"schemaVersion": 1, "displayTimeUnit": "ms", "traceEvents": events}
        with open(path, "w") as f:
            json.dump(trace, f)


def _table(events: EventList, sort_by: str | None, row_limit: int, max_name: int | None,
           header: str | None, top_only: bool, unit: str | None) -> str:  # fmt: skip
    if len(events) == 0:
        return ""
    rows = list(events)
    if sort_by is not None:
        key = sort_by.replace("cuda", "device").replace("xpu", "device")
        rows.sort(key=lambda e: getattr(e, key), reverse=True)
    name_width = max(len(e.key) for e in rows) + 4
    if max_name is not None:
        name_width = min(name_width, max_name)
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    headers.append("# of Calls")
    widths = [name_width] + [12] * (len(headers) - 1)
    row_format = "".join("{: >" + str(w) + "}  " for w in widths)
    separator = "".join("-" * w + "  " for w in widths)
    line_length = sum(w + 2 for w in widths) - 2
    total = sum(e.self_cpu_time_total for e in rows)
    out: list[str] = []
    if header is not None:
        out += ["=" * line_length, header]
    if top_only:
        out += ["=" * line_length, "This report only display top-level ops statistics"]
    out += [separator, row_format.format(*headers), separator]
    shown = 0
    for e in rows:
        if shown == row_limit:
            break
        if top_only and getattr(e, "cpu_parent", None) is not None:
            continue
        shown += 1
        name = e.key
        if max_name is not None and len(name) >= max_name - 3:
            name = name[: max_name - 3] + "..."
        out.append(row_format.format(
            name, _share(e.self_cpu_time_total, total), _time(e.self_cpu_time_total, unit),
            _share(e.cpu_time_total, total), _time(e.cpu_time_total, unit),
            _time(e.cpu_time, unit), e.count))  # fmt: skip
    out += [separator, f"Self CPU time total: {_time(total, unit)}"]
    return "".join(line + "\n" for line in out)


def events_of(session: Session) -> EventList:
    """The session's ranges as FunctionEvents with their parents and children (by nesting on
    each thread), in order of start."""
    base = session.base_ns
    ordered = sorted(session.events, key=lambda r: (r[2], -r[3], r[4]))
    out: list[FunctionEvent] = []
    open_by_thread: dict[int, list[FunctionEvent]] = {}
    for i, (name, tid, start, end, _) in enumerate(ordered):
        event = FunctionEvent(i + 1, name, tid, (start - base) / 1e3, (end - base) / 1e3)
        stack = open_by_thread.setdefault(tid, [])
        while stack and stack[-1].end_us <= event.start_us:
            stack.pop()
        if stack and event.end_us <= stack[-1].end_us:
            event.cpu_parent = stack[-1]
            stack[-1].cpu_children.append(event)
        stack.append(event)
        out.append(event)
    return EventList(out, session)
