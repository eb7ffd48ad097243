"""Statement-level graph breaks: a function whose breaks are all in top-level statements of its
body runs those statements as Python and compiles the runs of statements between them whole."""

from __future__ import annotations

import ast
import inspect
import textwrap
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

# Note [statement-level breaks]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# Segment mode (Note [graph breaks]) re-runs the function's Python and re-records every op
# at each call, which costs about as much as eager dispatch. When every break of a function
# happened in a top-level statement of its own body (``log.append(loss.item())``,
# ``print(f"{loss.item():.3f}")``, ``total += loss.item()``), the body is split once, from its
# source, into a *driver*: the same function whose statements are
#
# - Python statements, run as they are with real values on every call: the ones that broke
#   (a break inside a function they call, or in an ``if``/``with``/``try`` statement, makes
#   the whole top-level statement Python), and the ones with Python side effects (a call used
#   as a statement other than ``backward``/``step``/``zero_grad``/in-place ``name_``, a store
#   into an attribute, an item or a ``global``/``nonlocal`` name, ``assert``, ``raise``,
#   ``import``); ``x.backward()`` of a value from before the run it is in is Python too (eager
#   autograd through the compiled backward nodes, so a later ``opt.step()`` sees the
#   gradients, as eagerly);
# - calls of *parts*: each run of the other statements made into its own function (taking the
#   locals it reads, returning the ones later statements read) and compiled whole by an
#   ordinary CompiledFunction (full graph, cached, the fast path). A run with no operation in
#   it (``return loss``) stays in the driver.
#
# The driver and the parts are compiled from the function's own AST nodes (line numbers kept:
# errors and ``explain`` point at the user's lines) with the function's globals and its own
# closure cells (``__class__`` for ``super()``): live, never copies. Values passed from a part
# to the driver must be tensors or immutable Python values; values passed from a Python
# statement to a part are checked at every call, and a Python number among them must not
# change (segment mode makes such numbers inputs: Note [numbers seen after a break]). A
# violation, a part traced more than ``TRACE_LIMIT`` times, or a part that breaks itself (a
# value the first call had already made concrete, read again: the function is split again
# with that break too, up to ``MAX_SPLITS`` times) retires the plan: that call finishes
# correctly (the part runs eagerly if needed) and later calls run in segment mode. Shapes the
# split refuses keep segment mode: ``del``, ``yield``/``await``, ``locals()``, star imports,
# nested ``def``/``class`` statements, a walrus in a comprehension, an early top-level
# ``return``, a module or a lambda, source not available, and a break inside a loop (run
# eagerly as one statement, the loop body would lose its compiled segments: measured 2110 us
# vs 1828 us in segment mode for three logged Linear+tanh layers; a break in an ``if`` test
# runs 650 us split vs 1425 us in segment mode).
#
# Note [moved logging statements]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# ``loss = f(x); log.append(loss.item()); loss.backward(); opt.step()`` would otherwise be
# two parts with an eager backward between them. A logging statement that broke moves after
# the compiled statements that follow it (up to the next Python statement), so the whole step
# is one part, when nothing it reads can change there: it is ``r.append(...)``, ``.extend``,
# ``.write`` or ``print(...)`` of an expression over locals the first part computed and
# builtins (not arguments, globals or closures, through which a parameter the step updates
# could be read), changing nothing in place; no statement it passes rebinds those locals or
# calls an in-place ``name.op_()``; and it is in the first part, before any Python statement
# (so a call can start again). A compiled part returns fresh tensors (a parameter, its view or
# its gradient read inside comes back as its value at that point, as the tests check); should
# one come back as an outside tensor itself, the trace raises Resplit before anything ran and
# the call starts again with a plan that moves nothing. What differs from eager mode: when the
# compiled part or the moved statement raises, the other has already run (the log entry is
# missing, or the step has been taken).

TRACE_LIMIT = 4  # traces of one part before the plan is retired (changing Python numbers)
_STEP_CALLS = frozenset({"backward", "step", "zero_grad"})  # traced statements with effects
_REFUSED_CALLS = frozenset({"locals", "vars", "eval", "exec", "dir", "globals"})
_COMPOUND: tuple[type, ...] = (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.Match)
_OPERATIONS: tuple[type, ...] = (
    *_COMPOUND,
    *(ast.AsyncFor, ast.AsyncWith, ast.TryStar, ast.Call, ast.BinOp, ast.UnaryOp, ast.Subscript),
    *(ast.Attribute, ast.Compare, ast.BoolOp, ast.IfExp, ast.Lambda, ast.ListComp, ast.SetComp),
    *(ast.DictComp, ast.GeneratorExp, ast.JoinedStr),
)


_REFUSED_NODES: dict[type, str] = {
    ast.FunctionDef: "a def or class statement in the body",
    ast.AsyncFunctionDef: "a def or class statement in the body",
    ast.ClassDef: "a def or class statement in the body",
    ast.Yield: "yield or await",
    ast.YieldFrom: "yield or await",
    ast.Await: "yield or await",
}


class Refused(Exception):
    """The function's shape is not split (it keeps segment mode); the text says why."""


@dataclass
class Facts:
    """What one top-level statement binds and reads (its own scope; nested scopes' free names
    count as reads), and whether it has Python side effects."""

    stores: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)
    effects: bool = False
    returns: bool = False  # a ``return`` anywhere in it
    backward: bool = False  # calls ``.backward(...)`` or ``autograd.grad(...)``
    inplace: list[str] = field(default_factory=list)  # receivers of in-place ``name.op_()``
    super_: bool = False
    declared: list[str] = field(default_factory=list)  # global / nonlocal names


class _Scan(ast.NodeVisitor):
    """Collects Facts for one statement; raises Refused on shapes that are not split."""

    def __init__(self, declared: set[str]) -> None:
        self.f = Facts()
        self.declared = declared
        self.shadow: list[set[str]] = [set()]
        self.in_comp = 0

    def _bind(self, name: str) -> None:
        if len(self.shadow) == 1:
            self.f.stores.append(name)
            if name in self.declared:
                self.f.effects = True

    def visit_Name(self, n: ast.Name) -> None:
        if isinstance(n.ctx, ast.Del):
            raise Refused("a del statement")
        if isinstance(n.ctx, ast.Store):
            self._bind(n.id)
        elif not any(n.id in s for s in self.shadow):
            self.f.loads.append(n.id)
            if n.id == "super":
                self.f.super_ = True

    def visit_Delete(self, n: ast.Delete) -> None:
        raise Refused("a del statement")

    def visit_NamedExpr(self, n: ast.NamedExpr) -> None:
        if self.in_comp:
            raise Refused("an assignment expression in a comprehension")
        self.generic_visit(n)

    def visit_Global(self, n: ast.Global) -> None:
        self.f.declared.extend(n.names)

    def visit_Nonlocal(self, n: ast.Nonlocal) -> None:
        self.f.declared.extend(n.names)

    def visit_Import(self, n: ast.Import) -> None:
        self.f.effects = True
        for a in n.names:
            self._bind(a.asname or a.name.split(".")[0])

    def visit_ImportFrom(self, n: ast.ImportFrom) -> None:
        self.f.effects = True
        for a in n.names:
            if a.name == "*":
                raise Refused("a star import")
            self._bind(a.asname or a.name)

    def visit(self, node: ast.AST) -> Any:
        why = _REFUSED_NODES.get(type(node))
        if why is not None:
            raise Refused(why)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            return self._comprehension(node)
        if isinstance(node, ast.Assert | ast.Raise):
            self.f.effects = True
        return super().visit(node)

    def visit_Return(self, n: ast.Return) -> None:
        self.f.returns = True
        self.generic_visit(n)

    def visit_ExceptHandler(self, n: ast.ExceptHandler) -> None:
        if n.name:
            self._bind(n.name)
        self.generic_visit(n)

    def visit_MatchAs(self, n: ast.MatchAs) -> None:
        if n.name:
            self._bind(n.name)
        self.generic_visit(n)

    def visit_MatchStar(self, n: ast.MatchStar) -> None:
        if n.name:
            self._bind(n.name)

    def visit_MatchMapping(self, n: ast.MatchMapping) -> None:
        if n.rest:
            self._bind(n.rest)
        self.generic_visit(n)

    def visit_Lambda(self, n: ast.Lambda) -> None:
        for d in (*n.args.defaults, *(d for d in n.args.kw_defaults if d is not None)):
            self.visit(d)
        a = n.args
        names = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
        names |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
        self.shadow.append(names)
        self.visit(n.body)
        self.shadow.pop()

    def _comprehension(self, n: Any) -> None:
        self.in_comp += 1
        targets = {
            t.id for g in n.generators for t in ast.walk(g.target) if isinstance(t, ast.Name)
        }
        self.visit(n.generators[0].iter)  # evaluated in the enclosing scope
        self.shadow.append(targets)
        for k, g in enumerate(n.generators):
            if k:
                self.visit(g.iter)
            for cond in g.ifs:
                self.visit(cond)
        for part in ("elt", "key", "value"):
            if hasattr(n, part):
                self.visit(getattr(n, part))
        self.shadow.pop()
        self.in_comp -= 1

    def visit_Call(self, n: ast.Call) -> None:
        fn = n.func
        if isinstance(fn, ast.Name) and fn.id in _REFUSED_CALLS:
            raise Refused(f"a call of {fn.id}()")
        if isinstance(fn, ast.Attribute) and (
            fn.attr == "backward" or (fn.attr == "grad" and _name_of(fn.value) == "autograd")
        ):
            self.f.backward = True
        if (
            isinstance(fn, ast.Attribute)
            and isinstance(fn.value, ast.Name)
            and fn.attr.endswith("_")
            and not fn.attr.startswith("_")
        ):
            self.f.inplace.append(fn.value.id)
        self.generic_visit(n)

    # statements with Python side effects: run as Python on every call
    def visit_Expr(self, n: ast.Expr) -> None:
        if isinstance(n.value, ast.Call) and not _traced_call(n.value):
            self.f.effects = True
        self.generic_visit(n)

    def _stores_outside(self, targets: Iterable[ast.expr]) -> None:
        for t in targets:
            for x in ast.walk(t):
                if isinstance(x, ast.Attribute | ast.Subscript) and isinstance(x.ctx, ast.Store):
                    self.f.effects = True

    def visit_Assign(self, n: ast.Assign) -> None:
        self._stores_outside(n.targets)
        self.generic_visit(n)

    def visit_AugAssign(self, n: ast.AugAssign) -> None:
        self._stores_outside([n.target])
        if isinstance(n.target, ast.Name):  # reads the name too
            self.visit_Name(ast.Name(n.target.id, ast.Load()))
        self.generic_visit(n)

    def visit_AnnAssign(self, n: ast.AnnAssign) -> None:
        self._stores_outside([n.target])
        self.visit(n.target)
        if n.value is not None:
            self.visit(n.value)

    def visit_For(self, n: ast.For) -> None:
        self._stores_outside([n.target])
        self.generic_visit(n)


def _name_of(e: ast.expr) -> str | None:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Attribute):
        return e.attr
    return None


def _traced_call(call: ast.Call) -> bool:
    """A call statement the trace records with its effects: ``loss.backward()``, ``opt.step()``,
    ``opt.zero_grad()``, in-place ``name_(...)`` (``x.add_``, ``clip_grad_norm_``)."""
    name = _name_of(call.func)
    if name is None:
        return False
    return name in _STEP_CALLS or (name.endswith("_") and not name.startswith("_"))


def _trivial(stmts: list[ast.stmt]) -> bool:
    """No operation at all (``return loss``, ``pass``): not worth a compiled call."""
    return not any(isinstance(x, _OPERATIONS) for s in stmts for x in ast.walk(s))


def _aliases_input(t: Any) -> bool:
    """Whether tracer ``t`` is an input of the trace (an argument, an outside tensor) or a
    view of one, followed through its view steps."""
    trace = trace_state.current()
    if trace is None or not isinstance(t, Tensor):
        return False
    inputs = set(trace.input_vars)
    while getattr(t, "_var", None) not in inputs and getattr(t, "_view_step", None) is not None:
        t = t._view_of  # type: ignore[attr-defined]
    return getattr(t, "_var", None) in inputs


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
                self.replacement = _build(self.cf, self.breaks, sink=False)
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


MAX_SPLITS = 3  # times a function is split again for breaks found in its parts


def usable_plan(cf: CompiledFunction, entry: Any) -> Plan | None:
    """The entry's split plan, built on the second call (None: segment mode)."""
    old = entry.split
    if old and old.dead and old.replacement is not None:
        old = entry.split = old.replacement
    if old is None:
        entry.split = plan_for(cf, entry.breaks) or False
    elif old and old.dead and old.more and old.generation < MAX_SPLITS:
        entry.breaks = [*entry.breaks, *old.more]
        plan = plan_for(cf, entry.breaks)
        if plan is not None:
            plan.generation = old.generation + 1
        entry.split = plan or False
    plan = entry.split
    return plan if plan and not plan.dead else None


def plan_for(cf: CompiledFunction, breaks: list[Break]) -> Plan | None:
    """The split plan of ``cf`` for these breaks, or None (segment mode)."""
    try:
        return _build(cf, breaks)
    except Refused:
        return None


def refusal(cf: CompiledFunction, breaks: list[Break]) -> str | None:
    """Why ``cf`` is not split (None when it is)."""
    try:
        _build(cf, breaks)
    except Refused as e:
        return str(e)
    return None


def describe(cf: CompiledFunction, entry: Any) -> str:
    """``adjit.explain``'s section for a function with breaks: its parts, or why it has none."""
    if entry.split is None:
        entry.split = plan_for(cf, entry.breaks) or False
    if entry.split:
        return str(entry.split.describe())
    return f"none: segment mode ({refusal(cf, entry.breaks)})"


def _source_tree(func: types.FunctionType) -> ast.FunctionDef:
    code = func.__code__
    if code.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
        raise Refused("a generator or coroutine")
    try:
        src = textwrap.dedent(inspect.getsource(func))
        tree = ast.parse(src)
    except (OSError, TypeError, SyntaxError) as e:
        raise Refused(f"source not available ({e})") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        raise Refused("not a def statement (a lambda?)")
    fdef = tree.body[0]
    ast.increment_lineno(tree, code.co_firstlineno - 1)
    if fdef.name != func.__name__:
        raise Refused("the source found is not the function's")
    return fdef


def _params(fdef: ast.FunctionDef) -> list[str]:
    a = fdef.args
    names = [x.arg for x in (*a.posonlyargs, *a.args)]
    names += [x.arg for x in (a.vararg,) if x is not None]
    names += [x.arg for x in a.kwonlyargs]
    names += [x.arg for x in (a.kwarg,) if x is not None]
    return names


def _build(cf: CompiledFunction, breaks: list[Break], sink: bool = True) -> Plan:
    fn = cf.fn
    prefix: tuple = ()
    if inspect.ismethod(fn):
        prefix, fn = (fn.__self__,), fn.__func__
    if not isinstance(fn, types.FunctionType):
        raise Refused("not a Python function")
    # backward() of a value from before a break is a break only because of that break: where
    # the value and the backward end up in one part, it is traced (else the backward rule)
    breaks = [b for b in breaks if "computed before a graph break" not in b.reason]
    lines = [b.line for b in breaks if b.line is not None]
    if not lines or len(lines) != len(breaks):
        raise Refused("a break outside the function's own frame")
    fdef = _source_tree(fn)
    body = fdef.body
    declared: set[str] = set()
    for s in body:
        if isinstance(s, ast.Global | ast.Nonlocal):
            declared.update(s.names)
    facts = []
    for s in body:
        scan = _Scan(declared)
        scan.visit(s)
        facts.append(scan.f)
    params = _params(fdef)
    local = set(params) | {n for f in facts for n in f.stores}
    broke = {i for i, s in enumerate(body) for line in lines if _within(s, line)}
    if not all(any(_within(s, x) for s in body) for x in lines):
        raise Refused("a break outside the body's statements")
    if any(isinstance(body[i], ast.For | ast.While | ast.AsyncFor) for i in broke):
        # run eagerly as one Python statement, a loop's body would lose its compiled segments
        raise Refused("a break inside a loop")
    last = len(body) - 1
    for i, s in enumerate(body):
        if isinstance(s, ast.Return) and i != last:
            raise Refused("a return before the last statement")
    # each statement: Python (in the driver) or compiled (in a run)
    python = [
        i in broke
        or f.effects
        or isinstance(s, ast.Global | ast.Nonlocal)
        or (f.returns and i != last)
        for i, (s, f) in enumerate(zip(body, facts, strict=True))
    ]
    if not sink:
        sinkable: set[int] = set()
    else:
        fixed = set(params) - {n for f in facts for n in f.stores}
        sinkable = {i for i in broke if i != last and _sinkable(body[i], facts[i], local, fixed)}
    while True:
        try:
            order = _order(body, facts, python, sinkable, local, params)
            break
        except _NoSink as e:
            sinkable.discard(e.index)
    return _assemble(cf, fn, fdef, facts, python, order, local, params, prefix, breaks)


class _NoSink(Exception):
    def __init__(self, index: int) -> None:
        self.index = index


class Resplit(Exception):
    """A value a moved logging statement reads aliases an outside tensor (found while tracing
    the part, before anything ran): the call restarts with a plan that moves nothing."""


def _order(
    body: list[ast.stmt],
    facts: list[Facts],
    python: list[bool],
    sinkable: set[int],
    local: set[str],
    params: list[str],
) -> list[int | list[int]]:
    """The driver's items in execution order: a Python statement's index, or a run (a list of
    indices compiled as one part). Each statement in ``sinkable`` moves after the run it is in
    (Note [moved logging statements]); raises _NoSink(i) when statement i may not move."""
    python = list(python)
    rebound = {n for f in facts for n in f.stores}
    order: list[int | list[int]] = []
    run: list[int] = []
    bound_in_run: set[str] = set()
    pending: list[tuple[int, set[str]]] = []  # moved statements and the locals they read
    for i, f in enumerate(facts):
        if i in sinkable:
            reads = {n for n in f.loads if n in local} - (set(params) - rebound)
            if order or not reads <= bound_in_run:  # only into the first part, fresh values
                raise _NoSink(i)
            pending.append((i, reads))
            continue
        if not python[i] and f.backward:
            outside = {n for n in f.loads if n in local} - bound_in_run
            if outside - (set(params) - rebound):  # backward of a value from before the run
                python[i] = True
        if not python[i] and set(f.inplace) & local - bound_in_run:
            python[i] = True  # in place on an argument of the part: eagerly
        if not python[i]:
            for j, reads in pending:  # a compiled statement the moved ones pass over
                if (
                    f.inplace
                    or reads & set(f.stores)
                    or (f.returns and i == len(body) - 1 and not isinstance(body[i], ast.Return))
                ):
                    raise _NoSink(j)
        if python[i]:
            if run:
                order.append(run)
            order += [j for j, _ in pending] + [i]
            run, bound_in_run, pending = [], set(), []
        else:
            run.append(i)
            bound_in_run |= set(f.stores)
    if run:
        order.append(run)
    order += [j for j, _ in pending]
    return order


def _sinkable(s: ast.stmt, f: Facts, local: set[str], fixed: set[str]) -> bool:
    """A logging statement that may move after the compiled statements that follow it:
    ``log.append(<expr>)``, ``print(<expr>)`` (also ``.extend``, ``.write``), whose expression
    reads only locals and builtins, changes nothing in place and returns nothing."""
    if not isinstance(s, ast.Expr) or not isinstance(s.value, ast.Call) or f.inplace:
        return False
    call = s.value
    fn = call.func
    receiver: str | None = None
    if isinstance(fn, ast.Attribute) and fn.attr in _LOG_METHODS:
        if not isinstance(fn.value, ast.Name) or fn.value.id in local - fixed:
            return False
        receiver = fn.value.id
    elif not (isinstance(fn, ast.Name) and fn.id == "print" and fn.id not in local):
        return False
    for x in ast.walk(s):
        if isinstance(x, ast.Attribute) and x.attr.endswith("_"):
            return False
        if isinstance(x, ast.Lambda | ast.NamedExpr | ast.Await | ast.Yield):
            return False
    names = {n for n in f.loads if n != receiver}  # fresh locals (not arguments) or builtins
    return all((n in local and n not in fixed) or n in _BUILTINS for n in names)


_LOG_METHODS = frozenset({"append", "extend", "write"})
_BUILTINS = frozenset({"print", "float", "int", "str", "repr", "round", "format", "len", "abs"})


def _within(s: ast.stmt, line: int) -> bool:
    end = s.end_lineno if s.end_lineno is not None else s.lineno
    return s.lineno <= line <= end


def _ordered(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _assemble(
    cf: CompiledFunction,
    fn: types.FunctionType,
    fdef: ast.FunctionDef,
    facts: list[Facts],
    python: list[bool],
    order: list[int | list[int]],
    local: set[str],
    params: list[str],
    prefix: tuple,
    breaks: list[Break],
) -> Plan:
    body = fdef.body
    last = len(body) - 1
    rebound = {n for f in facts for n in f.stores}
    unchecked = set(params) - rebound  # the call's own arguments: passed as they are
    made_by_part: set[str] = set()  # locals whose current value a compiled part returned
    driver_body: list[ast.stmt] = []
    part_defs: list[ast.FunctionDef] = []
    layout = ["python" for _ in body]
    fresh: dict[int, list[int]] = {}  # part -> positions of outputs a moved statement reads
    done: set[int] = set()
    k = 0
    for pos, item in enumerate(order):
        rest = order[pos + 1 :]
        if isinstance(item, int):
            driver_body.append(body[item])
            made_by_part -= set(facts[item].stores)
            if item < max((j for x in order[:pos] if isinstance(x, list) for j in x), default=-1):
                layout[item] = "python (moved after the part before it)"
            done.add(item)
            continue
        r = item
        stmts = [body[j] for j in r]
        later_items = [j for x in rest for j in (x if isinstance(x, list) else [x])]
        final = r[-1] == last and not rest
        returned = r[-1] == last and bool(rest)  # moved statements follow the function's end
        ret = body[last]
        keep = returned and isinstance(ret, ast.Return)  # return after them: keep the value
        plain = keep and len(stmts) > 1 and _trivial([ret])  # ``return loss``: in the driver
        if plain:
            stmts = stmts[:-1]
            later_items.append(last)
        elif keep:
            assert isinstance(ret, ast.Return)
            value = ret.value if ret.value is not None else _const(None, ret)
            stmts[-1] = _loc(ast.Assign([_loc(ast.Name(_RET, ast.Store()), ret)], value), ret)
        if _trivial(stmts):
            driver_body.extend(stmts)
            for j in r:
                layout[j] = "inline"
                made_by_part -= set(facts[j].stores)
        else:
            before = set(params) | {n for j in done for n in facts[j].stores}
            stores = _ordered(n for j in r for n in facts[j].stores)
            loads = _ordered(n for j in r for n in facts[j].loads if n in local)
            args = [n for n in loads if n in before or n not in stores]
            if any(facts[j].super_ for j in r) and params and (not args or args[0] != params[0]):
                args = [params[0], *[a for a in args if a != params[0]]]
            later = {n for j in later_items for n in facts[j].loads}
            outs = [] if final else [n for n in stores if n in later]
            if keep and not plain:
                outs.append(_RET)
            moved = {n for j in later_items if j < r[-1] for n in facts[j].loads if n in local}
            fresh[k] = [p for p, n in enumerate(outs) if n in moved]
            checked = [a for a in args if a not in unchecked and a not in made_by_part]
            part_defs.append(_part_def(k, fn.__name__, stmts, args, outs, final))
            driver_body.append(_call_stmt(k, stmts[0], args, outs, checked, final))
            made_by_part = (made_by_part - set(stores)) | set(outs)
            for j in r:
                layout[j] = f"part {k + 1}"
            k += 1
        done.update(r)
        if returned:  # the moved statements, then the function's value
            for x in rest:
                assert isinstance(x, int)
                driver_body.append(body[x])
                layout[x] = "python (moved after the part before it)"
            if plain:
                driver_body.append(ret)
                layout[last] = "inline"
            elif keep:
                driver_body.append(_loc(ast.Return(_loc(ast.Name(_RET, ast.Load()), ret)), ret))
            break
    if k == 0:
        raise Refused("nothing to compile between the breaks")
    plan = _make(cf, fn, fdef, driver_body, part_defs, layout, prefix, fresh)
    plan.breaks = breaks
    return plan


_RET = "__adjit_result"


def _loc(node: ast.AST, like: ast.AST) -> Any:
    return ast.copy_location(node, like)


def _tuple(names: list[str], ctx: ast.expr_context, like: ast.AST) -> ast.Tuple:
    return _loc(ast.Tuple([_loc(ast.Name(n, ctx), like) for n in names], ctx), like)


def _part_def(
    k: int, name: str, stmts: list[ast.stmt], args: list[str], outs: list[str], final: bool
) -> ast.FunctionDef:
    like = stmts[0]
    name_ = _loc(ast.Name("__adjit_enter", ast.Load()), like)
    enter = _loc(ast.Expr(_loc(ast.Call(name_, [_const(k, like)], []), like)), like)
    body: list[ast.stmt] = [enter, *stmts]
    if not final:
        check = ast.Call(
            _loc(ast.Name("__adjit_check", ast.Load()), like),
            [_const(k, like), _tuple(outs, ast.Load(), like)],
            [],
        )
        body.append(_loc(ast.Return(_loc(check, like)), stmts[-1]))
    arguments = ast.arguments(
        posonlyargs=[],
        args=[_loc(ast.arg(a), like) for a in args],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    return _loc(ast.FunctionDef(f"__adjit_part{k}", arguments, body, [], None, None), like)


def _const(v: Any, like: ast.AST) -> ast.Constant:
    return _loc(ast.Constant(v), like)


def _call_stmt(
    k: int, like: ast.stmt, args: list[str], outs: list[str], checked: list[str], final: bool
) -> ast.stmt:
    """``outs = __adjit_p{k}(args)``; with values Python statements made among the arguments,
    ``... if __adjit_ok(k, checked) else __adjit_raw{k}(args)`` (the part run eagerly)."""

    def call(fn: str) -> ast.Call:
        return _loc(
            ast.Call(
                _loc(ast.Name(fn, ast.Load()), like),
                [_loc(ast.Name(a, ast.Load()), like) for a in args],
                [],
            ),
            like,
        )

    value: ast.expr = call(f"__adjit_p{k}")
    if checked:
        ok = ast.Call(
            _loc(ast.Name("__adjit_ok", ast.Load()), like),
            [_const(k, like), _tuple(checked, ast.Load(), like)],
            [],
        )
        value = _loc(ast.IfExp(_loc(ok, like), value, call(f"__adjit_raw{k}")), like)
    if final:
        return _loc(ast.Return(value), like)
    if not outs:
        return _loc(ast.Expr(value), like)
    return _loc(ast.Assign([_tuple(outs, ast.Store(), like)], value), like)


def _make(
    cf: CompiledFunction,
    fn: types.FunctionType,
    fdef: ast.FunctionDef,
    driver_body: list[ast.stmt],
    part_defs: list[ast.FunctionDef],
    layout: list[str],
    prefix: tuple,
    fresh: dict[int, list[int]],
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
    driver = _loc(ast.FunctionDef(fn.__name__, driver_args, driver_body, [], None, None), fdef)
    n = len(part_defs)
    own = [f"__adjit_p{k}" for k in range(n)] + [f"__adjit_raw{k}" for k in range(n)]
    own += ["__adjit_enter", "__adjit_check", "__adjit_ok"]
    freevars = list(fn.__code__.co_freevars)
    factory_args = ast.arguments(
        posonlyargs=[],
        args=[_loc(ast.arg(x), fdef) for x in (*freevars, *own)],
        vararg=None,
        kwonlyargs=[],
        kw_defaults=[],
        kwarg=None,
        defaults=[],
    )
    factory = _loc(
        ast.FunctionDef(
            "__adjit_factory",
            factory_args,
            [*part_defs, driver, _loc(ast.Return(_loc(ast.Constant(None), fdef)), fdef)],
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
        part = PartFunction(plan, raw, cf)
        cells[f"__adjit_raw{k}"].cell_contents = raw
        cells[f"__adjit_p{k}"].cell_contents = part
        raws.append(raw)
        plan.parts.append(part)
    driver_fn = function(codes[fn.__name__], fn.__qualname__, fn.__defaults__)
    driver_fn.__kwdefaults__ = fn.__kwdefaults__
    plan.driver = driver_fn
    return plan


def _held(entries: Iterable[Any]) -> tuple:
    return tuple(
        id(t)
        for e in entries
        for m, _ in e.modules
        for table in (m._parameters, m._buffers)
        for t in table.values()
    )


class PartFunction(CompiledFunction):
    """One compiled part of a split function; a break inside it retires the plan."""

    def __init__(self, plan: Plan, fn: Callable[..., Any], parent: CompiledFunction) -> None:
        super().__init__(fn, fallback=parent.fallback, backend=parent.backend)
        self.plan = plan
        self._held: tuple = ()  # the tensors the traced modules held (Note above)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # segment mode re-read every module's parameters at each call; a compiled part traces
        # again when a module it called holds another parameter or buffer object
        if self._held and self._held != _held(self._entries.values()):
            self.reset()
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
            self._held = _held(self._entries.values())
        return out

    def _warn_breaks(self, session: Session) -> None:
        # a read of a value the first call had already made concrete (no break there): split
        # again with these breaks too
        self.plan.more.extend(session.record.breaks)
        self.plan.retire(f"{self._label} broke: {session.record.breaks[0]}")
