"""Python side effects seen while a compiled function is traced: such a function runs its
Python on every call (a graph break), as eagerly and as torch.compile does.

Note [Python side effects while tracing]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A traced program replays only tensor arithmetic: ``print("step")``, ``log.append(loss)``,
``calls[0] += 1``, ``global n; n += 1``, ``logger.info(...)``, ``random.random()`` or
``time.time()`` inside the function would happen once, when tracing, and never again.
torch.compile runs them on every call (a graph break on print and calls it cannot trace,
side effects on Python objects replayed). adjit watches the tracing call (``sys.setprofile``,
the user's frames only) for:

- calls of builtins and library functions that act on the world or read changing state:
  ``print``/``input``/``open``/``next``/``setattr``/``delattr``, functions of ``time``,
  ``random``, ``os``, ``sys``, ``warnings``, ``logging``, NumPy's generators, a file's methods;
- mutating methods of lists, dicts, sets, deques, bytearrays and stores into an nn.Module's
  attributes (``self.calls += 1``), on objects that outlive the call (not locals of the
  function: a mutated object still referenced after the call, other than by its result);
- ``global``/``nonlocal`` stores in the user's code run while tracing;
- attribute and item stores into the objects the function reaches at its start (its
  arguments, closure cells and the globals its code names, a few levels deep: Note [Python
  state read while tracing] in python_state.py), compared after the call.

Any of these makes the call a graph break (Note [graph breaks] in breaks.py) at the user's
statement: the traced call's Python has run once, live (its tracers become values), and later
calls run the function's Python on every call (segment mode, or a statement-level split
whose Python statements are those with effects), compiling only its tensor parts. With
``fullgraph=True`` such a function is refused (torch.compile refuses print there too).
Mutable containers among the arguments are passed to the function as they are (not rebuilt)
when they hold no tensor, so ``fn(x, log)`` appends to the caller's ``log`` as eagerly.
Effects inside bookkeeping replayed on every call (``each_call``) are not counted. The watch
costs about as much again as the trace itself (a profile event per Python and C call), once
per traced signature; calls of a compiled entry never run it.
"""

from __future__ import annotations

import collections
import contextlib
import dis
import gc
import io
import os
import random
import sys
import sysconfig
import types
from typing import Any

from ..runtime import trace_state
from .breaks import Break
from .python_state import changed, held_in, held_now, roots, snapshots

_USER, _LIB, _OWN, _SETTER = 0, 1, 2, 3  # _SETTER: nn.Module's __setattr__/__delattr__
_LIB_DIRS = tuple(
    {os.path.realpath(p) + os.sep for p in sysconfig.get_paths().values()}
    | {os.path.dirname(os.__file__) + os.sep}
)
_KIND: dict[types.CodeType, int] = {}

# builtins that act on the world or read changing state
_BUILTINS: dict[Any, str] = {
    print: "print()",
    input: "input()",
    open: "open()",
    next: "next() on an iterator",
    setattr: "setattr()",
    delattr: "delattr()",
    breakpoint: "breakpoint()",
}
_USER_ONLY = frozenset({next, setattr, delattr})  # effects only where the user calls them
# modules whose functions act on the world or read changing state (first name part)
_STATEFUL_MODULES = frozenset(
    {"time", "random", "_random", "os", "posix", "warnings", "_warnings", "logging"}
    | {"io", "_io", "socket", "subprocess", "shutil", "faulthandler"}
)
# mutating methods of containers: the object is a candidate (a side effect if it outlives
# the call)
_MUTATORS: dict[type, frozenset[str]] = {
    list: frozenset({"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"}),
    dict: frozenset({"update", "pop", "popitem", "clear", "setdefault"}),
    set: frozenset({"add", "discard", "remove", "pop", "clear", "update"})
    | frozenset({"difference_update", "intersection_update", "symmetric_difference_update"}),
    bytearray: frozenset({"append", "extend", "insert", "pop", "remove", "clear", "reverse"}),
    collections.deque: frozenset({"append", "appendleft", "extend", "extendleft", "pop"})
    | frozenset({"popleft", "remove", "clear", "rotate", "insert", "reverse"}),
}
# functions of the watched modules that are no side effects of the call (Note [warnings
# filters while tracing]): by the name of the one the user's code calls
_HARMLESS = frozenset(
    {"__init__", "__enter__", "__exit__", "__repr__"}  # warnings.catch_warnings
    | {"simplefilter", "filterwarnings", "resetwarnings"}  # (idempotent filter changes)
    | {"getLogger", "getEffectiveLevel", "isEnabledFor"}  # logging's lookups
)
_WATCHED_FILES = tuple(
    os.path.dirname(m.__file__) + os.sep if m.__file__.endswith("__init__.py") else m.__file__
    for m in (random, __import__("logging"), __import__("warnings"))
    if m.__file__ is not None
)
_STORES = frozenset({"STORE_GLOBAL", "DELETE_GLOBAL"})
_DEREF_STORES = frozenset({"STORE_DEREF", "DELETE_DEREF"})
_ITEM_STORES = frozenset({"STORE_SUBSCR", "DELETE_SUBSCR"})
_ATTR_STORES = frozenset({"STORE_ATTR", "DELETE_ATTR"})


def _kind(code: types.CodeType, frame: types.FrameType | None = None) -> int:
    k = _KIND.get(code)
    if k is None:
        name = code.co_filename
        made = frame is not None and str(frame.f_globals.get("__name__", "")).startswith("adjit")
        if name.startswith(trace_state._OWN) or (name.startswith("<") and made):
            k = _OWN  # (adjit's code made by exec: an activation's __init__)
        elif name.startswith(_LIB_DIRS) or name.startswith("<frozen"):
            k = _LIB
        else:
            k = _USER
        _KIND[code] = k
    return k


def _note_module_setters() -> None:
    from ..nn.module import Module

    for fn in (Module.__setattr__, Module.__delattr__):
        _KIND[fn.__code__] = _SETTER


class Watch:
    """Watches one tracing call of ``fn`` for Python side effects (see the Note)."""

    def __init__(self, fn: Any, args: tuple, kwargs: dict) -> None:
        self.fn = fn
        target = getattr(fn, "__func__", fn)
        self.code: types.CodeType | None = getattr(target, "__code__", None)
        self.found: list[Break] = []
        self.candidates: dict[int, tuple[Any, Break]] = {}
        self.scanned: set[types.CodeType] = set()
        _note_module_setters()
        self.prev: Any = None
        self.exempted: set[int] = set()
        self.replays: list[tuple[Any, tuple]] = []  # (fn, args) to run on every later call
        self.read: set[int] = set()  # lists the user's code may read (Note [appends replayed])
        start = roots(fn, args, kwargs)
        self.root_ids = [id(x) for x in start]
        self.snapshots = snapshots(start)

    # ---- the profile hook --------------------------------------------------------------
    def __enter__(self) -> Watch:
        self.prev = sys.getprofile()
        if self.prev is None:  # (a profiler already running: not watched)
            sys.setprofile(self._hook())
        ACTIVE.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        ACTIVE.remove(self)
        if self.prev is None:
            sys.setprofile(None)

    def _hook(self) -> Any:
        """The profile function: a closure whose common case (an event in adjit's own code)
        is one dictionary lookup; tracing with it takes about twice as long."""
        kinds, own, on_c_call, on_call = _KIND, _OWN, self._c_call, self._call

        def event(frame: types.FrameType, what: str, arg: Any) -> None:
            if what == "c_call":
                if kinds.get(frame.f_code) != own:
                    on_c_call(frame, arg)
            elif what == "call" and kinds.get(frame.f_code) != own:
                on_call(frame)

        return event

    def _call(self, frame: types.FrameType) -> None:
        try:
            code = frame.f_code
            kind = _kind(code, frame)
            if kind == _USER:
                if code not in self.scanned:
                    self._scan(frame)
                self.read.update(_lists_read(frame))
            elif kind == _SETTER:
                caller = frame.f_back  # (not a module being made: its __init__)
                if (
                    caller is not None
                    and _kind(caller.f_code, caller) == _USER
                    and caller.f_code.co_name != "__init__"
                ):
                    module = frame.f_locals.get("self")
                    name = frame.f_locals.get("name")
                    self._candidate(module, f"store into module attribute {name!r}", caller)
            elif kind == _LIB and code.co_filename.startswith(_WATCHED_FILES):
                user = _user_frame(frame.f_back)
                if user is not None and not _harmless(frame, user):
                    self._effect(f"call to {code.co_name}() of {_module_of(code)}", user)
        except Exception:  # (never disturb the traced call)
            pass

    def _c_call(self, frame: types.FrameType, fn: Any) -> None:
        try:
            kind = _kind(frame.f_code, frame)
            if kind != _OWN:
                self._classify(frame, fn, kind)
        except Exception:  # (never disturb the traced call)
            pass

    def _classify(self, frame: types.FrameType, fn: Any, kind: int) -> None:
        reason = _BUILTINS.get(fn) if isinstance(fn, types.BuiltinFunctionType) else None
        if reason is not None and fn in _USER_ONLY and kind != _USER:
            return  # (a library's own: contextlib's next() on its generator, functools' setattr)
        owner = getattr(fn, "__self__", None)
        name = getattr(fn, "__name__", "?")
        if reason is None and owner is not None:
            if isinstance(owner, types.ModuleType):
                if owner.__name__.split(".")[0] in _STATEFUL_MODULES:
                    reason = f"call to {owner.__name__}.{name}()"
            elif isinstance(owner, random.Random) or type(owner).__module__.startswith(
                "numpy.random"
            ):
                reason = f"call to {type(owner).__name__}.{name}() (random numbers)"
            elif isinstance(owner, io.IOBase):
                if kind == _USER:
                    self._candidate(owner, f"{type(owner).__name__}.{name}()", frame)
                else:
                    user = _user_frame(frame)
                    if user is not None:
                        self._candidate(owner, f"{type(owner).__name__}.{name}()", user)
                return
            elif kind == _USER:
                for cls, names in _MUTATORS.items():
                    if isinstance(owner, cls) and name in names:
                        self._candidate(owner, f"{cls.__name__}.{name}()", frame)
                        return
        if reason is not None:
            user = frame if kind == _USER else _user_frame(frame)
            if user is not None and (kind == _USER or not _harmless(frame, user)):
                self._effect(reason, user)

    def _scan(self, frame: types.FrameType) -> None:
        """``global``/``nonlocal`` stores in a user code object about to run."""
        code = frame.f_code
        self.scanned.add(code)
        free = set(code.co_freevars)
        for ins in dis.get_instructions(code):
            store = ins.opname in _STORES or (ins.opname in _DEREF_STORES and ins.argval in free)
            if store:
                what = "global" if ins.opname in _STORES else "nonlocal"
                line = ins.positions.lineno if ins.positions is not None else None
                self._effect(f"store into {what} {ins.argval!r}", frame, line)

    # ---- what was found ----------------------------------------------------------------
    def _break(self, reason: str, frame: types.FrameType, line: int | None = None) -> Break:
        lineno = line if line is not None else frame.f_lineno
        loc = f"{frame.f_code.co_filename}:{lineno}"
        own = self._own_line(frame, line)
        return Break(f"Python side effect: {reason}", loc, own)

    def _own_line(self, frame: types.FrameType | None, line: int | None) -> int | None:
        """The line the compiled function's own (outermost) frame is at."""
        found = None
        first = True
        while frame is not None and self.code is not None:
            if frame.f_code is self.code:
                found = line if first and line is not None else frame.f_lineno
            first = False
            frame = frame.f_back
        return found

    def _effect(self, reason: str, frame: types.FrameType, line: int | None = None) -> None:
        if trace_state.current() is not None:  # (not in bookkeeping run eagerly: each_call)
            self.found.append(self._break(reason, frame, line))

    def _candidate(self, obj: Any, reason: str, frame: types.FrameType) -> None:
        if obj is None or id(obj) in self.candidates or trace_state.current() is None:
            return
        self.candidates[id(obj)] = (obj, self._break(reason, frame))

    def exempt(self, fn: Any, args: tuple) -> None:
        """What bookkeeping replayed on every call (``each_call``) works on: its changes are
        no side effects of the traced call."""
        owners = [getattr(fn, "__self__", None), *args]
        for cell in getattr(fn, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                owners.append(cell.cell_contents)
        for obj in list(owners):
            d = getattr(obj, "__dict__", None)
            if type(d) is dict:
                owners += d.values()
        self.exempted.update(id(o) for o in owners if o is not None)

    def breaks(self, out: Any, replayable: bool = True) -> list[Break]:
        """The side effects of the finished call (``out`` its result): candidates that
        outlive it, and changed objects it reached at its start (``replayable``: a list it
        only appended constants to is replayed instead, Note [appends replayed])."""
        found = list(self.found)
        candidates, self.candidates = self.candidates, {}
        seen = {id(obj) for obj, _ in self.snapshots}
        found += self._changed(
            self.exempted, candidates, replayable
        )  # (first: snapshots hold candidates)
        for key in seen & set(candidates):  # (a snapshotted one: judged by its snapshot)
            del candidates[key]
        held = _held_by(out)
        outliving = _outliving(candidates, held)
        if outliving:  # (a local in a reference cycle is alive until collected)
            gc.collect()
            outliving = _outliving(candidates, held)
        return found + outliving

    def _changed(
        self, skip: set[int], candidates: dict[int, tuple[Any, Break]], replayable: bool = True
    ) -> list[Break]:
        """Breaks for the objects reached at the start that changed (a candidate's own, with
        its line); the snapshots dropped."""
        taken, self.snapshots = self.snapshots, []
        contents = {id(obj): before for obj, before in taken}
        reached = set(self.root_ids)  # what is still reached now: a container replaced in
        for obj, _ in taken:  # its owner (``self.pending = []``) is judged by the owner's
            reached.update(map(id, held_now(obj)))  # change, not its own
        inside = {id(v) for _, before in taken for v in held_in(before)}  # held by a snapshot
        found = []
        for obj, before in taken:
            if id(obj) in skip or id(obj) not in reached:
                continue
            what = changed(obj, before, contents=contents)
            if (
                what is not None
                and replayable
                and id(obj) in self.root_ids
                and id(obj) not in self.read
                and id(obj) not in inside
                and _appended_constants(obj, before)
            ):
                self.replays.append((list.extend, (obj, obj[len(before) :])))
                self.exempted.add(id(obj))  # (its growth is the replay's, not a change)
            elif what is not None:
                known = candidates.get(id(obj))
                found.append(known[1] if known is not None else self._changed_break(obj, what))
        return found

    def _changed_break(self, obj: Any, what: str) -> Break:
        """A break for a changed object: at the own code's store of that name or item."""
        line = None
        if self.code is not None:
            wanted = _ATTR_STORES if isinstance(what, str) and what.startswith(".") else None
            for ins in dis.get_instructions(self.code):
                hit = ins.opname in _ITEM_STORES if wanted is None else ins.opname in wanted
                if hit and (wanted is None or ins.argval == what[1:]):
                    line = ins.positions.lineno if ins.positions is not None else None
                    break
        loc = f"{self.code.co_filename}:{line}" if self.code is not None and line else None
        reason = f"Python side effect: {type(obj).__name__} object changed ({what})"
        return Break(reason, loc, line)


ACTIVE: list[Watch] = []  # the watched tracing calls in progress (innermost last)


def exempt(fn: Any, args: tuple) -> None:
    """``fn(*args)`` is bookkeeping replayed on every call (Note [eager on every call] in
    each_call.py): what it changes is no side effect of the call being traced."""
    if ACTIVE:
        ACTIVE[-1].exempt(fn, args)


# Note [appends replayed]
# A list the function reaches (a closure's or global ``log``, an argument) that the traced call
# only appended constants to (``log.append("step")``, ``seen.append((True, 3))``: numbers,
# strings, None and tuples of them, no tensor or symbolic size) needs no graph break: the
# append is replayed after the program on every later call (Note [eager on every call] in
# each_call.py), as torch.compile replays side effects on Python objects. What depends on
# the call (a tensor, a value read, a symbolic size) still breaks the graph.


# Appended constants are replayed only when the user's code cannot have read the list (its
# length or items would make the constant depend on the call, ``log.append(len(log))``): the
# list is reached only by a name of the compiled function (an argument, a closure's or global
# name, not an item of another container the function reaches), and every name in the user's
# frames bound to it is only ever loaded to call ``append``/``extend`` on, or passed on to a
# Python function of the user's (whose frames are checked in turn).
_WRITES = frozenset({"append", "extend"})
_SIMPLE_LOADS = frozenset({"LOAD_FAST", "LOAD_DEREF", "LOAD_CONST", "LOAD_GLOBAL", "LOAD_NAME"})
_NAME_LOADS = frozenset({"LOAD_FAST", "LOAD_DEREF", "LOAD_GLOBAL", "LOAD_NAME", "LOAD_CLOSURE"})
_LOADS: dict[types.CodeType, dict[str, list[tuple[str, str | None]]]] = {}


def _loads(code: types.CodeType) -> dict[str, list[tuple[str, str | None]]]:
    """Per name: how each load of it is used: ("write", None), ("pass", callee name) or
    ("read", None)."""
    found = _LOADS.get(code)
    if found is not None:
        return found
    found = {}
    ins = list(dis.get_instructions(code))
    for i, x in enumerate(ins):
        if x.opname not in _NAME_LOADS or not isinstance(x.argval, str):
            continue
        nxt = ins[i + 1] if i + 1 < len(ins) else None
        use: tuple[str, str | None] = ("read", None)
        if nxt is not None and nxt.opname in ("LOAD_METHOD", "LOAD_ATTR") and nxt.argval in _WRITES:
            use = ("write", None)
        else:
            j = i + 1
            while j < len(ins) and ins[j].opname in _SIMPLE_LOADS:
                j += 1
            if j < len(ins) and ins[j].opname in ("KW_NAMES", "PRECALL", "CALL"):
                k = i - 1
                while k >= 0 and ins[k].opname in _SIMPLE_LOADS:
                    if ins[k].opname == "LOAD_GLOBAL" and ins[k].argrepr.startswith("NULL + "):
                        use = ("pass", str(ins[k].argval))
                        break
                    k -= 1
        found.setdefault(x.argval, []).append(use)
    _LOADS[code] = found
    return found


def _lists_read(frame: types.FrameType) -> set[int]:
    """The lists bound to names in ``frame`` that its code may read."""
    read: set[int] = set()
    scope = frame.f_globals
    local = frame.f_locals
    for name, uses in _loads(frame.f_code).items():
        obj = local[name] if name in local else scope.get(name)
        if type(obj) is not list:
            continue
        for use, callee in uses:
            if use == "write":
                continue
            fn = None if callee is None else local.get(callee, scope.get(callee))
            code = getattr(fn, "__code__", None)
            if use == "read" or not isinstance(code, types.CodeType) or _kind(code) != _USER:
                read.add(id(obj))
    return read


def _appended_constants(obj: Any, before: Any) -> bool:
    """Whether list ``obj`` is its snapshot ``before`` with constants appended."""
    if type(obj) is not list or type(before) is not list or len(obj) <= len(before):
        return False
    if not all(a is b for a, b in zip(before, obj)):  # noqa: B905 - obj is longer
        return False
    return all(_constant(v) for v in obj[len(before) :])


def _constant(v: Any, depth: int = 0) -> bool:
    if type(v) in (bool, int, float, complex, str, bytes, type(None)):
        return True
    if type(v) in (tuple, frozenset) and depth < 4 and len(v) <= 64:
        return all(_constant(x, depth + 1) for x in v)
    return False


def _outliving(candidates: dict[int, tuple[Any, Break]], held: dict[int, int]) -> list[Break]:
    """The candidates referenced other than by their table and the call's result."""
    found = []
    for key in candidates:
        # references: the table's tuple, getrefcount's argument, the result's containers
        if sys.getrefcount(candidates[key][0]) - 2 - held.get(key, 0) > 0:
            found.append(candidates[key][1])
    return found


def _user_frame(frame: types.FrameType | None) -> types.FrameType | None:
    """The innermost frame at or above ``frame`` outside libraries, if it is the user's."""
    while frame is not None:
        kind = _kind(frame.f_code, frame)
        if kind == _USER:
            return frame
        if kind == _OWN:
            return None
        frame = frame.f_back
    return None


# Note [warnings filters while tracing]
# ``with warnings.catch_warnings(): warnings.simplefilter("ignore")`` around a call (a
# deprecated op quieted) changes the filters only for the block and restores them: no effect
# that outlives the call, so no graph break (torch.compile traces through it too). A filter
# added outside such a block stays, but adding it again on every call changes nothing more
# (the same filter moves to the front), so it is no side effect either. ``warnings.warn`` and
# the logging calls that emit are (they happen on every call, eagerly).


def _harmless(frame: types.FrameType, user: types.FrameType) -> bool:
    """Whether the library call the user's frame ``user`` made, that ``frame`` is in (or
    is), is one of the harmless ones (``_HARMLESS``)."""
    entry = None
    while frame is not None and frame is not user:
        entry = frame
        frame = frame.f_back  # type: ignore[assignment]
    return entry is not None and entry.f_code.co_name in _HARMLESS


def _module_of(code: types.CodeType) -> str:
    return os.path.splitext(os.path.basename(code.co_filename))[0]


def _held_by(out: Any, depth: int = 4) -> dict[int, int]:
    """How many references the containers of ``out`` hold to each object."""
    counts: dict[int, int] = {}
    stack = [(out, 0)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, list | tuple | set | frozenset):
            items = list(x)
        elif isinstance(x, dict):
            items = [*x.keys(), *x.values()]
        else:
            continue
        for v in items:
            counts[id(v)] = counts.get(id(v), 0) + 1
            if d < depth:
                stack.append((v, d + 1))
    # (the result itself: ``Watch.breaks``'s argument and its caller's variable)
    counts[id(out)] = counts.get(id(out), 0) + 2
    return counts
