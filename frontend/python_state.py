"""The Python state a compiled function reaches: shallow snapshots of the objects it can read
(arguments, ``self``, closure cells, the globals its code names, and what they hold a few
levels down), compared later by identity; and the guard that a traced call's state is
unchanged (Note [Python state read while tracing])."""

from __future__ import annotations

import collections
import contextlib
import types
from collections.abc import Iterable
from typing import Any

from ..runtime.tensor import Tensor
from .guards import code_names

# Note [Python state read while tracing]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# A traced program holds the Python values its trace read as constants: ``x * CFG["scale"]``,
# ``x * cfg.alpha``, ``return loss, opt.param_groups[0]["lr"]``. A later call whose state
# holds other values must not run that program. So an entry is guarded (``StateGuard``, one of
# its ``bindings``) by shallow snapshots of what the function reaches at the end of its trace:
# its arguments, ``self`` of a bound method, closure cells and the globals its code names, and
# the lists, dicts, sets and plain objects they hold, up to ``DEPTH`` levels (nn.Modules,
# tensors and adjit's own objects are not descended: a module's Python numbers and training
# flag are its own guard; an optimizer is snapshotted as its param groups' values, without the
# ones a traced ``step()`` reads at run time, ``Optimizer.RUN_TIME_HYPERS``); and the container
# and plain-object attributes of the modules the trace called. Items are compared by
# identity: a number stored again is a new object. A changed snapshot traces again; a function
# whose state changed ``CHANGES_TO_SEGMENTS`` times runs in segment mode from then on (Note
# [graph breaks] in breaks.py: its Python runs on every call, and numbers that change become
# program inputs, Note [numbers seen after a break]).

DEPTH = 3
CHANGES_TO_SEGMENTS = 3
_ITEMS = 10_000  # a larger container is compared by its length only
_TOTAL = 2_000  # snapshots past this many objects are not taken (unguarded, as before)

_STABLE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type, Tensor)
_SCALARS = (bool, int, float, complex, str, bytes, type(None))


def roots(fn: Any, args: tuple, kwargs: dict) -> list[Any]:
    """What the function reaches at its start: arguments, ``self``, closure cells' contents
    and the globals its code names."""
    found: list[Any] = [*args, *kwargs.values()]
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        found.append(owner)
    target = getattr(fn, "__func__", fn)
    code = getattr(target, "__code__", None)
    if code is not None:
        for cell in getattr(target, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                found.append(cell.cell_contents)
        scope = getattr(target, "__globals__", {})
        found += [scope[n] for n in sorted(code_names(code)) if n in scope]
    return found


Skip = frozenset[tuple[int, str]]  # (id of a param group, key) read at run time: not kept


def _state(obj: Any, skip: Skip = frozenset()) -> Any:
    """A shallow copy of what ``obj`` holds, or None when it is not watched."""
    if isinstance(obj, _STABLE):
        return None
    if isinstance(obj, list | collections.deque | bytearray):
        return ("len", len(obj)) if len(obj) > _ITEMS else list(obj)
    if isinstance(obj, dict):
        if len(obj) > _ITEMS:
            return ("len", len(obj))
        if not skip:
            return list(obj.items())
        return [(k, v) for k, v in obj.items() if (id(obj), k) not in skip]
    if isinstance(obj, set):
        return ("len", len(obj)) if len(obj) > _ITEMS else set(obj)
    d = getattr(obj, "__dict__", None)
    if type(d) is not dict or type(obj).__module__ == "builtins":
        return None
    if _is_module(obj):  # (its numbers and training flag: its own guard)
        attrs = [(k, v) for k, v in d.items() if _module_attr(k, v)]
        return ("module", attrs) if attrs else None
    if type(obj).__module__.startswith("adjit.optim"):  # (its groups, below)
        return ("optimizer", list(getattr(obj, "param_groups", None) or ()))
    if type(obj).__module__.startswith("adjit"):
        return None  # (adjit's own objects: schedulers, scalers, ... are traced or guarded)
    return ("attrs", list(d.items()))


def _module_attr(name: str, value: Any) -> bool:
    return not name.startswith("_") and not isinstance(value, _SCALARS + _STABLE)


_MODULE: list[type] = []  # nn.Module, once imported (adjit.nn sits above the frontend)


def _is_module(obj: Any) -> bool:
    if not _MODULE:
        from ..nn.module import Module

        _MODULE.append(Module)
    return isinstance(obj, _MODULE[0])


def held_in(state: Any) -> list[Any]:
    """The objects a snapshot holds (the next level down)."""
    if isinstance(state, list):
        return [v for item in state for v in (item if isinstance(item, tuple) else (item,))]
    if isinstance(state, tuple) and state[0] in ("attrs", "module"):
        return [v for _, v in state[1]]
    if isinstance(state, tuple) and state[0] == "optimizer":
        return [g for g in state[1] if isinstance(g, dict)]
    return []


def held_now(obj: Any) -> list[Any]:
    """The objects ``obj`` holds now (as its snapshot would)."""
    return held_in(_state(obj))


def snapshots(
    start: list[Any], depth: int = DEPTH, skip: Skip = frozenset(), exempt: Iterable[int] = ()
) -> list[tuple[Any, Any]]:
    """(object, shallow copy) for the objects reached from ``start``, ``depth`` levels, but
    not those whose ``id`` is in ``exempt``."""
    out: list[tuple[Any, Any]] = []
    seen: set[int] = set(exempt)
    level = start
    for _ in range(depth):
        nxt: list[Any] = []
        for obj in level:
            if id(obj) in seen or len(out) >= _TOTAL:
                continue
            seen.add(id(obj))
            state = _state(obj, skip)
            if state is None:
                continue
            out.append((obj, state))
            nxt += held_in(state)
        level = [v for v in nxt if v is not None and not isinstance(v, _SCALARS)]
    return out


def changed(
    obj: Any, before: Any, skip: Skip = frozenset(), contents: dict[int, Any] | None = None
) -> str | None:
    """What changed in ``obj`` since ``before`` was taken (None: nothing); ``contents``: the
    snapshots taken with ``before``, by id (an attribute set to a new value equal to what
    the old one held then is no change)."""
    if type(before) is list and not skip and type(obj) in (list, dict):
        if len(obj) != len(before):
            return "its items"
        if type(obj) is list:
            return None if all(a is b for a, b in zip(before, obj)) else "its items"  # noqa: B905
        same = all(k is a and v is b for (k, v), (a, b) in zip(before, obj.items()))  # noqa: B905
        return None if same else "its items"
    if isinstance(before, tuple) and before[0] == "attrs":
        old = dict(before[1])
        new = obj.__dict__
        then = contents or {}
        for k in {*old, *new}:
            if k not in old or k not in new:
                return f".{k}"
            was = old[k]
            if was is not new[k] and type(then.get(id(was))) is list:
                was = type(was)(then[id(was)]) if type(was) in (list, dict) else was
            if not _equal(was, new[k]):
                return f".{k}"
        return None
    now = _state(obj, skip)
    if isinstance(before, tuple):
        if before[0] in ("module", "optimizer"):
            return None if _same(before[1], now[1]) else "its attributes"
        return None if now == before else "its length"  # (a long container)
    if isinstance(before, set):
        return None if now == before else "its items"
    return None if _same(before, now) else "its items"


def _same(before: list[Any], now: list[Any]) -> bool:
    if len(before) != len(now):
        return False
    for a, b in zip(before, now, strict=True):
        if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) == 2:
            if not (_equal(a[0], b[0]) and _equal(a[1], b[1])):
                return False
        elif not _equal(a, b):
            return False
    return True


def _equal(a: Any, b: Any) -> bool:
    """The same object, or equal plain values: a number or string stored again, an attribute
    reset to a new empty list (``self.pending = []``) are no change."""
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b):
        return False
    if kind in _SCALARS:
        return bool(a == b)
    if kind in (list, tuple, set, frozenset) and len(a) <= 64:
        return (
            all(type(x) in _SCALARS for x in a) and all(type(x) in _SCALARS for x in b) and a == b
        )
    if kind is dict and len(a) <= 64:
        items = [*a.items(), *b.items()]
        return all(type(k) in _SCALARS and type(v) in _SCALARS for k, v in items) and a == b
    return False


class StateGuard:
    """An entry's guard that the Python state its trace read is unchanged (see the Note); a
    binding (``guards.bindings_ok`` compares ``cell_contents`` with True)."""

    def __init__(self, taken: list[tuple[Any, Any]], skip: Skip, changes: list[int]) -> None:
        self.taken, self.skip, self.changes = taken, skip, changes
        self.failed = False

    @property
    def cell_contents(self) -> bool:
        skip = self.skip
        for obj, before in self.taken:
            if changed(obj, before, skip) is not None:
                if not self.failed:  # (counted once per entry)
                    self.failed = True
                    self.changes[0] += 1
                return False
        return True


def state_guard(
    start: list[Any], modules: list[Any], trace: Any, changes: list[int], exempt: set[int]
) -> StateGuard | None:
    """The guard of a finished ``trace`` that reached ``start`` and called ``modules``; None:
    nothing to guard. An optimizer that stepped inside is guarded by the trace itself
    (``Trace.note_optimizer``); the others' param groups without their parameter lists; what
    bookkeeping replayed on every call works on (``exempt``: Note [eager on every call]) not
    at all."""
    stepped = {id(note.opt) for note in trace.optimizers.values()}
    start = [x for x in start if id(x) not in stepped]
    groups = [
        g
        for x in start
        if type(x).__module__.startswith("adjit.optim")
        for g in getattr(x, "param_groups", None) or ()
        if isinstance(g, dict)
    ]
    skip: Skip = frozenset((id(g), "params") for g in groups)
    taken = snapshots([*start, *modules], DEPTH, skip, exempt)
    return StateGuard(taken, skip, changes) if taken else None
