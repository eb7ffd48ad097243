"""The driver and the compiled parts of a function split at its Python statements (Note
[statement-level breaks] in statements.py)."""

from __future__ import annotations

import ast
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..runtime import trace_state
from ..runtime.tensor import Tensor
from ..runtime.trace_state import TracingError
from .breaks import Break, Session
from .compile import CompiledFunction
from .pytree import flatten
from .statement_scan import Refused

TRACE_LIMIT = 4  # traces of one part before the plan is retired (changing Python numbers)


class Resplit(Exception):
    """A value a moved logging statement reads aliases an outside tensor (found while tracing
    the part, before anything ran): the call restarts with a plan that moves nothing."""


def _aliases_input(t: Any) -> bool:
    """Whether tracer ``t`` is an input of the trace (an argument, an outside tensor) or a
    view of one, followed through its view steps."""
    trace = trace_state.current()
    if trace is None or not isinstance(t, Tensor):
        return False
    inputs = set(trace.input_vars)
    # an outside tensor written in place (an optimizer's step) is no input any more, and its
    # views follow the write (Note [writes into earlier values] in tracer.py)
    written = {id(tr) for _, tr in trace.mutated.values()}
    while getattr(t, "_var", None) not in inputs and getattr(t, "_view_step", None) is not None:
        if id(t) in written:
            return True
        t = t._view_of  # type: ignore[attr-defined]
    return getattr(t, "_var", None) in inputs or id(t) in written


def _immutable(v: Any) -> bool:
    if isinstance(v, Tensor) or v is None:
        return True
    if type(v) in (bool, int, float, complex, str, bytes):
        return True
    if isinstance(v, tuple):
        return all(_immutable(x) for x in v)
    return type(v).__module__.startswith("adjit") and type(v).__name__ in ("dtype", "device")


@dataclass
class Plan:
    """A function split at its Python statements: call the driver."""

    driver: Callable[..., Any]
    prefix: tuple  # a bound method's ``self``
    parts: list[CompiledFunction]
    layout: list[str]  # per top-level statement: "python", "part k" or "inline"
    lines: list[int]
    dead: bool = False
    why_dead: str = ""
    traces: list[int] = field(default_factory=list)
    cf: Any = None  # the CompiledFunction split
    more: list[Break] = field(default_factory=list)  # breaks found in a part: split again
    generation: int = 0  # how many times the function was split again
    breaks: list[Break] = field(default_factory=list)
    replacement: Plan | None = None  # the plan that moves nothing, after a Resplit

    def __call__(self, args: tuple, kwargs: dict) -> Any:
        try:
            return self.driver(*self.prefix, *args, **kwargs)
        except Resplit:
            self.retire("a moved statement reads a value that aliases an outside tensor")
            try:
                from .statements import build  # (it builds Plans)

                self.replacement = build(self.cf, self.breaks, sink=False)
            except Refused:
                self.replacement = None
            if self.replacement is not None:
                return self.replacement(args, kwargs)
            return Session(self.cf).run(*flatten((args, kwargs)))

    def retire(self, why: str) -> None:
        if not self.dead:
            self.dead, self.why_dead = True, why

    def describe(self) -> str:
        """The split, statement by statement (for ``adjit.explain``)."""
        out = [
            "later calls run the Python statements as Python and each part compiled whole"
            + (f"; retired ({self.why_dead}): segment mode" if self.dead else "")
        ]
        out += [f"line {line}: {kind}" for line, kind in zip(self.lines, self.layout, strict=True)]
        return "\n".join(out)


RET = "__adjit_result"


def loc(node: ast.AST, like: ast.AST) -> Any:
    return ast.copy_location(node, like)


def tuple_of(names: list[str], ctx: ast.expr_context, like: ast.AST) -> ast.Tuple:
    return loc(ast.Tuple([loc(ast.Name(n, ctx), like) for n in names], ctx), like)


def part_def(
    k: int, name: str, stmts: list[ast.stmt], args: list[str], outs: list[str], final: bool
) -> ast.FunctionDef:
    like = stmts[0]
    name_ = loc(ast.Name("__adjit_enter", ast.Load()), like)
    enter = loc(ast.Expr(loc(ast.Call(name_, [const(k, like)], []), like)), like)
    body: list[ast.stmt] = [enter, *stmts]
    if not final:
        check = ast.Call(
            loc(ast.Name("__adjit_check", ast.Load()), like),
            [const(k, like), tuple_of(outs, ast.Load(), like)],
            [],
        )
        body.append(loc(ast.Return(loc(check, like)), stmts[-1]))
    arguments = ast.arguments(
        posonlyargs=[],
        args=[loc(ast.arg(a), like) for a in args],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    return loc(ast.FunctionDef(f"__adjit_part{k}", arguments, body, [], None, None), like)


def const(v: Any, like: ast.AST) -> ast.Constant:
    return loc(ast.Constant(v), like)


def call_stmt(
    k: int, like: ast.stmt, args: list[str], outs: list[str], checked: list[str], final: bool
) -> ast.stmt:
    """``outs = __adjit_p{k}(args)``; with values Python statements made among the arguments,
    ``... if __adjit_ok(k, checked) else __adjit_raw{k}(args)`` (the part run eagerly)."""

    def call(fn: str) -> ast.Call:
        return loc(
            ast.Call(
                loc(ast.Name(fn, ast.Load()), like),
                [loc(ast.Name(a, ast.Load()), like) for a in args],
                [],
            ),
            like,
        )

    value: ast.expr = call(f"__adjit_p{k}")
    if checked:
        ok = ast.Call(
            loc(ast.Name("__adjit_ok", ast.Load()), like),
            [const(k, like), tuple_of(checked, ast.Load(), like)],
            [],
        )
        value = loc(ast.IfExp(loc(ok, like), value, call(f"__adjit_raw{k}")), like)
    if final:
        return loc(ast.Return(value), like)
    if not outs:
        return loc(ast.Expr(value), like)
    return loc(ast.Assign([tuple_of(outs, ast.Store(), like)], value), like)


def make(
    cf: CompiledFunction,
    fn: types.FunctionType,
    fdef: ast.FunctionDef,
    driver_body: list[ast.stmt],
    part_defs: list[ast.FunctionDef],
    layout: list[str],
    prefix: tuple,
    fresh: dict[int, list[int]],
    watch: dict[int, list[str]],
) -> Plan:
    a = fdef.args
    for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
        if x is not None:
            x.annotation = None
    driver_args = ast.arguments(
        posonlyargs=a.posonlyargs,
        args=a.args,
        vararg=a.vararg,
        kwonlyargs=a.kwonlyargs,
        kw_defaults=[None] * len(a.kwonlyargs),
        kwarg=a.kwarg,
        defaults=[],
    )
    driver = loc(ast.FunctionDef(fn.__name__, driver_args, driver_body, [], None, None), fdef)
    n = len(part_defs)
    own = [f"__adjit_p{k}" for k in range(n)] + [f"__adjit_raw{k}" for k in range(n)]
    own += ["__adjit_enter", "__adjit_check", "__adjit_ok"]
    freevars = list(fn.__code__.co_freevars)
    factory_args = ast.arguments(
        posonlyargs=[],
        args=[loc(ast.arg(x), fdef) for x in (*freevars, *own)],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    factory = loc(
        ast.FunctionDef(
            "__adjit_factory",
            factory_args,
            [*part_defs, driver, loc(ast.Return(loc(ast.Constant(None), fdef)), fdef)],
            [],
            None,
            None,
        ),
        fdef,
    )
    module = ast.Module([factory], [])
    ast.fix_missing_locations(module)
    code = compile(module, fn.__code__.co_filename, "exec", dont_inherit=True)
    fcode = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    codes = {c.co_name: c for c in fcode.co_consts if isinstance(c, types.CodeType)}
    cells: dict[str, Any] = dict(zip(freevars, fn.__closure__ or (), strict=True))

    plan = Plan(lambda *a, **k: None, prefix, [], layout, [s.lineno for s in fdef.body], cf=cf)
    plan.traces = [0] * n

    def enter(k: int) -> None:
        if trace_state.current() is not None:  # a trace of part k (once per signature)
            plan.traces[k] += 1
            if plan.traces[k] > TRACE_LIMIT:
                plan.retire(f"part {k + 1} traced {plan.traces[k]} times")

    def check(k: int, values: tuple) -> tuple:
        if any(_aliases_input(values[p]) for p in fresh.get(k, ())):
            raise Resplit  # (while tracing: nothing ran yet; Note [moved logging statements])
        if not all(_immutable(v) for v in values):
            plan.retire(f"part {k + 1} returns a Python object that is not a tensor or immutable")
        return values

    seen: dict[int, tuple] = {}

    def ok(k: int, values: tuple) -> bool:
        """Values Python statements made, passed to part k: tensors or immutable, and the
        numbers among them as at the last call (Note [numbers seen after a break]: segment
        mode makes changing numbers inputs; a part would trace again for each)."""
        if not all(_immutable(v) for v in values):
            plan.retire(f"part {k + 1} takes a Python object that is not a tensor or immutable")
            return False
        numbers = tuple(v for v in values if type(v) in (int, float, complex))
        if seen.setdefault(k, numbers) != numbers:
            plan.retire(f"a Python number passed to part {k + 1} changed")
            return False
        return True

    def function(c: types.CodeType, qualname: str, defaults: Any = None) -> types.FunctionType:
        closure = tuple(cells[v] for v in c.co_freevars)
        c = c.replace(co_qualname=qualname)
        return types.FunctionType(c, fn.__globals__, c.co_name, defaults, closure)

    raws = []
    for k in range(n):
        cells[f"__adjit_raw{k}"] = types.CellType()
        cells[f"__adjit_p{k}"] = types.CellType()
    for name, value in (("__adjit_enter", enter), ("__adjit_check", check), ("__adjit_ok", ok)):
        cells[name] = types.CellType(value)
    for k in range(n):
        raw = function(codes[f"__adjit_part{k}"], f"{fn.__qualname__}.<part {k + 1}>")
        names = watch.get(k, [])
        read: list[tuple[Any, str | None]] = [(fn.__globals__, n) for n in names if n not in cells]
        read += [(cells[n], None) for n in names if n in cells]
        part = PartFunction(plan, raw, cf, read)
        cells[f"__adjit_raw{k}"].cell_contents = raw
        cells[f"__adjit_p{k}"].cell_contents = part
        raws.append(raw)
        plan.parts.append(part)
    driver_fn = function(codes[fn.__name__], fn.__qualname__, fn.__defaults__)
    driver_fn.__kwdefaults__ = fn.__kwdefaults__
    plan.driver = driver_fn
    return plan


def _tables(entries: Iterable[Any]) -> list[dict]:
    """The parameter and buffer tables of the modules the entries' traces called."""
    return [table for e in entries for m, _ in e.modules for table in (m._parameters, m._buffers)]


def _bound(names: list[tuple[Any, str | None]]) -> list[Any]:
    """What each (globals, name) or (cell, None) holds (``_bound`` itself: unbound)."""
    out: list[Any] = []
    for where, name in names:
        if name is not None:
            out.append(where.get(name, _bound))
        else:
            try:
                out.append(where.cell_contents)
            except ValueError:  # an empty cell
                out.append(_bound)
    return out


def _same(held: list[Any], now: list[Any]) -> bool:
    return all(a is b for a, b in zip(held, now, strict=True))


def _held(tables: list[dict]) -> list[int]:
    return [id(t) for table in tables for t in table.values()]


class PartFunction(CompiledFunction):
    """One compiled part of a split function; a break inside it retires the plan."""

    def __init__(
        self,
        plan: Plan,
        fn: Callable[..., Any],
        parent: CompiledFunction,
        names: list[tuple[Any, str | None]],
    ) -> None:
        super().__init__(fn, fallback=parent.fallback, backend=parent.backend)
        self.plan = plan
        self._names = names  # (globals, name) or (closure cell, None) the part reads
        self._bound: list[Any] = []  # what they held when it was traced (kept alive)
        self._tables: list[dict] = []  # its traced modules' parameter and buffer tables
        self._held: list[int] = []  # the tensors they held

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # segment mode re-read every module's parameters at each call; a compiled part traces
        # again when a module it called holds another parameter or buffer object
        # and when a global or closure name it reads is bound to another object (a tensor
        # made anew is read afresh, as segment mode did)
        if (self._held and self._held != _held(self._tables)) or (
            self._bound and not _same(self._bound, _bound(self._names))
        ):
            self.reset()
            self._held = self._bound = []
        traces = self.trace_count
        try:
            out = super().__call__(*args, **kwargs)
        except TracingError as e:
            if self.trace_count == traces:
                raise
            # the part does not compile whole (segment mode could): eagerly this call
            self.plan.retire(f"{self._label} does not compile whole: {e}")
            return self.fn(*args, **kwargs)
        if not self._held:
            self._tables = _tables(self._entries.values())
            self._held = _held(self._tables)
        if not self._bound:
            self._bound = _bound(self._names)
        return out

    def _warn_breaks(self, session: Session) -> None:
        # a read of a value the first call had already made concrete (no break there): split
        # again with these breaks too
        self.plan.more.extend(session.record.breaks)
        self.plan.retire(f"{self._label} broke: {session.record.breaks[0]}")
