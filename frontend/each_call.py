"""Python a traced function runs on every call: recorded while tracing, replayed around the
compiled program on every later call.

Note [eager on every call]
~~~~~~~~~~~~~~~~~~~~~~~~~~
Some library code inside a compiled function is Python bookkeeping with side effects that
must happen on every call, not once when tracing: DistributedDataParallel's checks and state
before and after the module's forward (Note [DDP under adjit.compile]), its reducer's
readiness bookkeeping when the gradient hooks run inside a traced backward. Such code runs
live while tracing, as any Python does (the trace call is a real call), and registers a
*replay* with ``on_each_call(fn, *args, before=...)`` (``each_call`` runs ``fn`` eagerly
now, outside the trace, and registers it): the compiled entry keeps the list and,
on every later call, runs ``fn(*args)`` eagerly, the ``before=True`` ones in order before
the program runs and the others in order after it (the trace's own call replays nothing:
its Python already ran). The replay must do, on Python state, what the live code did; the
tensor work the live code traced is the program's. (On the trace's call the live code runs
while tracing, before that call's program: it must be bookkeeping that reads no tensor value
the program writes.) A replay's ``args`` are fixed when
tracing (a property of the specialization, e.g. which parameters the traced graph reaches).

What the live code decided from Python state at tracing time is guarded: ``key`` (a
zero-argument callable) is evaluated when the replay is registered and again before every
later call; a different value traces again (an ``Entry.bindings`` guard). The key must be a
value that state has at the start of a call, when the entry is chosen (e.g. "the bucket plan
the next forward will use"), so that a call on which the bookkeeping would decide otherwise
never runs a program traced for the other decision.

Outside tracing ``on_each_call`` does nothing (the caller's live code is the eager call). In
segment mode (Note [graph breaks]) the function's Python runs on every call, so a session's
replays are never used; a transform with a trace of its own (``vmap``) hands its replays over to
the enclosing trace when it is done (``hand_over``); a trace that keeps none refuses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..runtime import trace_state
from .effects import exempt

_NOW = object()


@dataclass(frozen=True)
class Replay:
    """One registered replay: ``fn(*args)``, before or after the compiled program."""

    fn: Callable[..., Any]
    args: tuple
    before: bool


class _Key:
    """A guard binding (``guards.bindings_ok`` compares ``cell_contents`` by identity): True
    while ``key()`` still equals the value it had when tracing."""

    def __init__(self, key: Callable[[], Any], value: Any) -> None:
        self.key, self.value = key, value

    @property
    def cell_contents(self) -> bool:
        return bool(self.key() == self.value)


def on_each_call(
    fn: Callable[..., Any],
    *args: Any,
    before: bool = False,
    key: Callable[[], Any] | None = None,
) -> None:
    """While ``adjit.compile`` traces: run ``fn(*args)`` eagerly on every later call of the
    compiled program (see the Note). Outside tracing: nothing."""
    trace = trace_state.current()
    if trace is None:
        return
    replays = getattr(trace, "replays", None)
    if replays is None:
        name = getattr(fn, "__qualname__", repr(fn))
        raise trace_state.TracingError(
            f"{name} must run on every call of the compiled function, which this transform "
            "inside it cannot replay; call it outside the transform"
        )
    if key is not None:
        guard(key)
    exempt(fn, args)  # (Note [Python side effects while tracing] in effects.py)
    replays.append(Replay(fn, args, before))


def guard(key: Callable[[], Any], value: Any = _NOW) -> None:
    """While ``adjit.compile`` traces: a later call runs this trace's program only while
    ``key()`` equals ``value`` (default: ``key()`` now), else it traces again."""
    trace = trace_state.current()
    if trace is not None:
        found = key() if value is _NOW else value
        trace.bindings.append((_Key(key, found), "on_each_call", True))


def each_call(
    fn: Callable[..., Any],
    *args: Any,
    before: bool = False,
    key: Callable[[], Any] | None = None,
) -> Any:
    """``fn(*args)`` eagerly now (outside any trace: pure Python bookkeeping), and while
    ``adjit.compile`` traces also on every later call (``on_each_call``)."""
    prev = trace_state.set_current(None)
    try:
        result = fn(*args)
    finally:
        trace_state.set_current(prev)
    if prev is not None:
        on_each_call(fn, *args, before=before, key=key)
    return result


def hand_over(inner: Any) -> None:
    """The replays (and their guards) an inner transform's own trace recorded (vmap's: its
    function ran once, live) registered in the enclosing trace, if any."""
    adopt(getattr(inner, "replays", None) or [], inner.bindings)


def adopt(replays: list[Replay], bindings: list[tuple[Any, str, Any]]) -> None:
    """``replays`` and the guards among ``bindings`` registered in the current trace (a
    compiled function's or a transform's, run inside it), if one is active."""
    outer = trace_state.current()
    if outer is None or not replays:
        return
    outer.bindings.extend(b for b in bindings if isinstance(b[0], _Key))
    for r in replays:
        on_each_call(r.fn, *r.args, before=r.before)


def run_replays(replays: list[Replay], before: bool) -> None:
    """The registered replays of one phase, in order, eagerly."""
    prev = trace_state.set_current(None)
    try:
        for r in replays:
            if r.before == before:
                r.fn(*r.args)
    finally:
        trace_state.set_current(prev)
