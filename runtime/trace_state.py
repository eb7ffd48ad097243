"""The hook through which the frontend's tracer sees every op, and its error (TracingError)."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from typing import Any


class _Local(threading.local):
    trace: Any = None  # class-level default: see grad_mode._State


_local = _Local()


def current() -> Any:
    """The active trace on this thread, or None when running eagerly."""
    return _local.trace


def set_current(trace: Any) -> Any:
    """Make ``trace`` active; returns the previous one to restore."""
    prev = _local.trace
    _local.trace = trace
    return prev


def set_grad(t: Any, value: Any) -> None:
    """``t.grad = value``; while tracing, recorded by the trace so a compiled call stores it
    (Note [traced training steps] in frontend/writes.py)."""
    trace = _local.trace
    if trace is None:
        t.grad = value
    else:
        trace.set_grad(t, value)


class paused:
    """Context manager: run eagerly (no active trace) inside a traced function, for work that
    happens once, such as creating an optimizer's state on its first step."""

    def __enter__(self) -> None:
        self._prev = set_current(None)

    def __exit__(self, *exc: object) -> None:
        set_current(self._prev)


def _own_folders() -> tuple[str, ...]:
    """The folders of adjit's own code: frames inside them are never "the user's line"."""
    names = (
        "adjit",
        "adjit.ir",
        "adjit.runtime",
        "adjit.frontend",
        "adjit.passes",
        "adjit.codegen",
    )
    specs = (importlib.util.find_spec(n) for n in names)
    return tuple(os.path.dirname(s.origin) + os.sep for s in specs if s and s.origin)


_OWN = _own_folders()


def user_location() -> str | None:
    """``file:line`` of the innermost frame outside adjit (the user's code), if any."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_OWN) and not fn.startswith("<frozen"):
            return f"{fn}:{f.f_lineno}"
        f = f.f_back
    return None


class TracingError(RuntimeError):
    """A program adjit.compile cannot trace (e.g. control flow on a tensor's value)."""

    def __init__(self, message: str, loc: str | None = None) -> None:
        self.loc = loc if loc is not None else user_location()
        where = f"{self.loc}: " if self.loc else ""
        super().__init__(where + message)
