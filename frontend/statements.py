"""Statement-level graph breaks: a function whose breaks are all in top-level statements of its
body runs those statements as Python and compiles the runs of statements between them whole."""

from __future__ import annotations

import ast
import inspect
import types
from typing import Any

from .breaks import Break
from .compile import CompiledFunction
from .statement_parts import RET, Plan, call_stmt, const, loc, make, part_def
from .statement_scan import (
    Facts,
    Refused,
    Scan,
    may_move,
    ordered,
    params_of,
    source_tree,
    trivial,
    within,
)

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
# (so a call can start again). A compiled part returns fresh tensors (a parameter or its
# gradient read inside comes back as its value at that point, as the tests check); should one
# come back as an outside tensor itself, or a view of one the part writes in place (it shows
# the write, as eagerly), the trace raises Resplit before anything ran and the call starts
# again with a plan that moves nothing. What differs from eager mode: when the
# compiled part or the moved statement raises, the other has already run (the log entry is
# missing, or the step has been taken).

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
        return build(cf, breaks)
    except Refused:
        return None


def refusal(cf: CompiledFunction, breaks: list[Break]) -> str | None:
    """Why ``cf`` is not split (None when it is)."""
    try:
        build(cf, breaks)
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


def build(cf: CompiledFunction, breaks: list[Break], sink: bool = True) -> Plan:
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
    fdef = source_tree(fn)
    body = fdef.body
    declared: set[str] = set()
    for s in body:
        if isinstance(s, ast.Global | ast.Nonlocal):
            declared.update(s.names)
    facts = []
    for s in body:
        scan = Scan(declared)
        scan.visit(s)
        facts.append(scan.f)
    params = params_of(fdef)
    local = set(params) | {n for f in facts for n in f.stores}
    broke = {i for i, s in enumerate(body) for line in lines if within(s, line)}
    if not all(any(within(s, x) for s in body) for x in lines):
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
        sinkable = {i for i in broke if i != last and may_move(body[i], facts[i], local, fixed)}
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
    watch: dict[int, list[str]] = {}  # part -> the global and closure names it reads
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
        plain = keep and len(stmts) > 1 and trivial([ret])  # ``return loss``: in the driver
        if plain:
            stmts = stmts[:-1]
            later_items.append(last)
        elif keep:
            assert isinstance(ret, ast.Return)
            value = ret.value if ret.value is not None else const(None, ret)
            stmts[-1] = loc(ast.Assign([loc(ast.Name(RET, ast.Store()), ret)], value), ret)
        if trivial(stmts):
            driver_body.extend(stmts)
            for j in r:
                layout[j] = "inline"
                made_by_part -= set(facts[j].stores)
        else:
            before = set(params) | {n for j in done for n in facts[j].stores}
            stores = ordered(n for j in r for n in facts[j].stores)
            loads = ordered(n for j in r for n in facts[j].loads if n in local)
            args = [n for n in loads if n in before or n not in stores]
            if any(facts[j].super_ for j in r) and params and (not args or args[0] != params[0]):
                args = [params[0], *[a for a in args if a != params[0]]]
            later = {n for j in later_items for n in facts[j].loads}
            outs = [] if final else [n for n in stores if n in later]
            if keep and not plain:
                outs.append(RET)
            moved = {n for j in later_items if j < r[-1] for n in facts[j].loads if n in local}
            fresh[k] = [p for p, n in enumerate(outs) if n in moved]
            watch[k] = ordered(n for j in r for n in facts[j].loads if n not in local)
            checked = [a for a in args if a not in unchecked and a not in made_by_part]
            part_defs.append(part_def(k, fn.__name__, stmts, args, outs, final))
            driver_body.append(call_stmt(k, stmts[0], args, outs, checked, final))
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
                driver_body.append(loc(ast.Return(loc(ast.Name(RET, ast.Load()), ret)), ret))
            break
    if k == 0:
        raise Refused("nothing to compile between the breaks")
    plan = make(cf, fn, fdef, driver_body, part_defs, layout, prefix, fresh, watch)
    plan.breaks = breaks
    return plan
