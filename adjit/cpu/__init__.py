"""``adjit.cpu``: ``torch.cpu``'s device API for the one CPU device."""

# Streams and events are immediate: CPU work is done when its call returns.

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from adjit.cpu import amp

__all__ = ["is_available", "is_initialized", "synchronize", "current_device", "current_stream"]
__all__ += ["stream", "set_device", "device_count", "Stream", "StreamContext", "Event"]
__all__ += ["amp"]


def is_available() -> bool:
    return True


def is_initialized() -> bool:
    return True


def synchronize(device: Any = None) -> None:
    """Nothing to wait for: CPU work is done when its call returns."""


def current_device() -> str:
    return "cpu"


def set_device(device: Any) -> None:
    """A no-op, as in PyTorch (there is one CPU device)."""


def device_count() -> int:
    return 1


class Stream:
    """PyTorch's CPU stream: work on it runs at once."""

    def __init__(self, priority: int = -1) -> None:
        self.priority = priority

    def wait_stream(self, stream: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def query(self) -> bool:
        return True

    def record_event(self, event: Event | None = None) -> Event:
        return Event() if event is None else event

    def __repr__(self) -> str:
        return f"<torch.cpu.Stream object at {hex(id(self))}>"


class Event:
    """PyTorch's CPU event: always complete."""

    def query(self) -> bool:
        return True

    def record(self, stream: Any = None) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def wait(self, stream: Any = None) -> None:
        pass

    def __repr__(self) -> str:
        return f"<torch.cpu.Event object at {hex(id(self))}>"


_default_stream = Stream()
_current_stream = _default_stream


def current_stream(device: Any = None) -> Stream:
    return _current_stream


class StreamContext:
    """Makes ``stream`` current inside the block."""

    def __init__(self, stream: Stream | None) -> None:
        self.stream = stream

    def __enter__(self) -> None:
        global _current_stream
        self.prev_stream = _current_stream
        if self.stream is not None:
            _current_stream = self.stream

    def __exit__(self, *exc: Any) -> None:
        global _current_stream
        _current_stream = self.prev_stream


@contextlib.contextmanager
def stream(stream: Stream | None) -> Iterator[None]:
    with StreamContext(stream):
        yield
