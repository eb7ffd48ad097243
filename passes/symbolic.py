"""Symbolic passes on elementwise regions: where-safe VJPs (Piecewise) and bounded simplify.

Note [where gradients]: PyTorch (and adjit's eager mode, which follows it) differentiates
``where(x > 0, sqrt(x), 0)`` op by op: the select sends a zero cotangent to the untaken
``sqrt``, whose rule then computes ``0 / (2 * sqrt(-1)) = 0 * inf``-style NaN (pytorch#52248,
jax#1052). ``where_regions`` instead hands the adjoint driver whole regions whose derivative is
``sympy.diff`` of a ``Piecewise``: the cotangent is pushed inside each branch and the untaken
branch's derivative is computed but *selected away* by a ``where`` (never multiplied by a mask),
so the compiled gradient at x = -1 is 0 where eager gives NaN. This is a deliberate, documented
difference: eager keeps PyTorch's answer (NaN), compiled gives the mathematically right one.
Likewise sympy's exact algebra may cancel ``x / x`` or ``x - x`` inside a region, so compiled
values can be finite where eager is NaN (at x = 0, inf or NaN); and sympy rewrites
``not (x > 0)`` as ``x <= 0``, which differs from eager only for NaN inputs.

The limits: a region is single-output and stops at any value used outside it, so an untaken
branch whose value is also used elsewhere keeps the per-op rule (and PyTorch's NaN); regions
above ``MAX_REGION_OPS`` equations fall back to the per-op rules; sympy work is cached by the
region's structure, in memory and on disk (Note [symbolic cache] in symbolic_cache.py: a warm
process replays stored host programs and never imports sympy), and only runs at compile time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..ir.aval import Aval
from ..ir.graph import Atom, Eqn, Graph, Lit, Var
from ..ir.interpreter import interpret
from ..ir.ops import GroupOp, Op
from ..ir.sizes import SymbolicSize, key_repr
from ..ir.symbolic import sp
from . import symbolic_cache
from .adjoint import Region
from .host_program import Program, ProgramError, from_text, replay, to_text
from .record import ValueRecord
from .symbolic_regions import LRU, Found, find_regions, inline, region_expr, structure_key
from .sympy_bridge import Host, LoweringError, clean_derivative, program_graph, record

MAX_REGION_OPS = 24  # larger regions keep the per-op rules (sympy cost grows with tree size)
MAX_REWRITE_OPS = 40  # sympy.count_ops above which simplify/factor/cancel are not tried
# per simplify() call, at most this many regions get the costly rewrites (~10-200 ms each):
# a count, not a time budget, so that the compiled program never depends on machine load
REWRITE_REGIONS = 4
CACHE_SIZE = 512  # entries per structural cache


VJP_CACHE = LRU(CACHE_SIZE)  # region structure -> VjpForm or None
SIMPLIFY_CACHE = LRU(CACHE_SIZE)  # region structure and avals -> template graph or None


# ---------------------------------------------------------------- where regions (VJP)


# what sympy raises on forms it cannot handle (e.g. a Piecewise used as a condition)
SYMPY_ERRORS = (TypeError, ValueError, NotImplementedError, AttributeError, RecursionError)


class VjpForm(ValueRecord):
    """A where-region's derivative: the inputs differentiated, and a host program from the
    region's inputs and the cotangent ``g`` to ``g * dF/dx_k`` for each of them."""

    __slots__ = FIELDS = ("diff_at", "program")
    diff_at: tuple[int, ...]
    program: Program


def _derivative(key: Any, g: Graph, f: Found, host: Host) -> VjpForm | None:
    """The derivative of the region (``key``: its structure), from disk or sympy; None (the
    per-op rules) when sympy cannot differentiate it or the result cannot be lowered."""
    return symbolic_cache.cached(
        "vjp",
        key,
        partial(_safe_derivative, g, f, host),
        _vjp_text,
        partial(_vjp_from_text, len(f.inputs), _floating(f)),
    )


def _floating(f: Found) -> tuple[int, ...]:
    """The region inputs that get a derivative (the floating-point ones)."""
    return tuple(k for k, v in enumerate(f.inputs) if v.aval.dtype.is_floating_point)


def _safe_derivative(g: Graph, f: Found, host: Host) -> VjpForm | None:
    try:
        return _symbolic_derivative(g, f, host)
    except SYMPY_ERRORS:
        return None


def _symbolic_derivative(g: Graph, f: Found, host: Host) -> VjpForm | None:
    syms, expr = region_expr(g, f)
    gsym = sp.Symbol("g", real=True)
    diff_at = _floating(f)
    parts = [clean_derivative(gsym * sp.diff(expr, syms[k])) for k in diff_at]
    program = record(sp.cse(parts), [*syms, gsym])  # (LoweringError: a ValueError)
    # lower once now (compile time), so that the VJP can never fail inside the adjoint
    avals = [Aval(v.aval.shape, v.aval.dtype) for v in f.inputs] + [f.out.aval]
    outs = [Aval(f.out.aval.shape, v.aval.dtype) for v in (f.inputs[k] for k in diff_at)]
    if diff_at and program_graph(program, avals, outs, host, numbers=True) is None:
        return None
    return VjpForm(diff_at, program)


def _vjp_text(form: VjpForm) -> str:
    return " ".join(["diff_at", *map(str, form.diff_at)]) + "\n" + to_text(form.program)


def _vjp_from_text(n_inputs: int, diff_at: tuple[int, ...], text: str) -> VjpForm:
    """A stored derivative, checked against the region it is for (ProgramError if not)."""
    head, _, rest = text.partition("\n")
    if head != " ".join(["diff_at", *map(str, diff_at)]):
        raise ProgramError("a stored derivative for other inputs")
    program = from_text(rest)
    if program.n_inputs != n_inputs + 1 or len(program.outputs) != len(diff_at):
        raise ProgramError("a stored derivative for another region")
    return VjpForm(diff_at, program)


def _differentiable_inputs(eqns: tuple[Eqn, ...], inputs: tuple[Var, ...], out: Var) -> set[int]:
    """Region inputs with a differentiable path to ``out`` (not only through a comparison or
    a where's condition): the ones the per-op rules would give a cotangent, even a zero one."""
    reach: dict[Any, set[int]] = {v: {k} for k, v in enumerate(inputs)}
    for e in eqns:
        if e.op in GroupOp.COMPARE or e.op in GroupOp.BITWISE:
            reach[e.out] = set()
            continue
        data = e.inputs[1:] if e.op is Op.WHERE else e.inputs
        reach[e.out] = set().union(*(reach.get(a, set()) for a in data if isinstance(a, Var)))
    return reach.get(out, set())


def _make_vjp(
    form: VjpForm, n_inputs: int, connected: set[int], ops: Any
) -> Callable[[Any, list[Any]], list[Any]]:
    diff_at, program = form.diff_at, form.program

    def vjp(g: Any, values: list[Any]) -> list[Any]:
        wanted = [k for k in diff_at if getattr(values[k], "requires_grad", True)]
        outs = replay(program, [*values, g], ops, [diff_at.index(k) for k in wanted])
        cts: list[Any] = [None] * n_inputs
        for k, d in zip(wanted, outs, strict=True):
            if k not in connected:
                continue  # only reaches the output through conditions: no gradient at all
            # every part has the factor g, so a number here is a zero derivative: still a
            # cotangent (zeros), as the per-op rules give, so .grad is zeros and not None
            cts[k] = g.new_zeros(g.shape) if isinstance(d, int | float) else d
        return cts

    return vjp


def where_regions(fwd: Graph, *, host: Host, limit: int = MAX_REGION_OPS) -> list[Region]:
    """Regions of ``fwd`` containing a ``where``, with a VJP from ``sympy.diff`` of their
    Piecewise form (see Note [where gradients]); pass them to ``joint_graph(fwd, wrt, ...)``.
    ``host`` gives the trace and ops to lower into (sympy_bridge.Host)."""
    regions = []
    for f in find_regions(fwd, differentiating=True, limit=limit):
        if not any(fwd.eqns[i].op is Op.WHERE for i in f.idx):
            continue
        if any(  # a symbolic size as an operand: the per-op rules (sympy sees no such number)
            isinstance(a, Lit) and isinstance(a.value, SymbolicSize)
            for i in f.idx
            for a in fwd.eqns[i].inputs
        ):
            continue
        key = structure_key(fwd, f)
        entry = VJP_CACHE.get(key, partial(_derivative, key, fwd, f, host))
        if entry is None:
            continue
        eqns = tuple(fwd.eqns[i] for i in f.idx)
        connected = _differentiable_inputs(eqns, f.inputs, f.out)
        regions.append(
            Region(f.out, eqns, f.inputs, _make_vjp(entry, len(f.inputs), connected, host.ops))
        )
    return regions


# ---------------------------------------------------------------- simplify


class SimplifyStats:
    """What one simplify() call did and what it cost (the "symbolic pass cost"). (A plain
    class: a dataclass costs a warm start ~1 ms to create, Note [records] in record.py.)"""

    def __init__(self) -> None:
        self.regions = self.rewritten = self.ops_before = self.ops_after = 0
        self.cache_hits = self.cache_misses = 0
        self.sympy_seconds = self.seconds = 0.0
        self.notes: list[str] = []

    def __repr__(self) -> str:
        return f"SimplifyStats({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def _rewrites(expr: Any, allowed: bool) -> list[Any]:
    """Bounded algebraic rewrites of ``expr``: tried only for small expressions, and only while
    the call's region count allows. A Piecewise is rewritten branch by branch (simplifying its
    conditions costs seconds)."""
    if not allowed or sp.count_ops(expr) > MAX_REWRITE_OPS:
        return []
    out = []
    for rewrite in (sp.cancel, sp.factor, sp.simplify):
        try:
            out.append(_per_branch(rewrite, expr))
        except (*SYMPY_ERRORS, sp.PolynomialError):
            continue
    return out


def _per_branch(rewrite: Callable[[Any], Any], expr: Any) -> Any:
    if not expr.has(sp.Piecewise):
        return rewrite(expr)
    return expr.replace(
        lambda e: isinstance(e, sp.Piecewise),
        lambda e: sp.Piecewise(*[(_per_branch(rewrite, p.expr), p.cond) for p in e.args]),
    )


def _template(structure: Any, g: Graph, f: Found, allowed: bool, host: Host) -> Graph | None:
    """The region's cheapest lowering (``_best_program``), from disk or sympy, as a graph."""
    avals = [Aval(v.aval.shape, v.aval.dtype) for v in f.inputs]
    key = (structure, tuple(_aval_key(v.aval) for v in f.inputs), allowed)
    program = symbolic_cache.cached(
        "simplify",
        key,
        partial(_safe_best_program, g, f, allowed, host),
        to_text,
        partial(_checked_program, len(f.inputs)),
    )
    return None if program is None else program_graph(program, avals, [f.out.aval], host)


def _aval_key(a: Aval) -> tuple[str, tuple[str, ...], bool]:
    return (a.dtype.name, tuple(key_repr(d) for d in a.shape), a.weak)


def _checked_program(n_inputs: int, text: str) -> Program:
    program = from_text(text)
    if program.n_inputs != n_inputs or len(program.outputs) != 1:
        raise ProgramError("a stored form for another region")
    return program


def _safe_best_program(g: Graph, f: Found, allowed: bool, host: Host) -> Program | None:
    try:
        return _best_program(g, f, allowed, host)
    except SYMPY_ERRORS:
        return None


def _best_program(g: Graph, f: Found, allowed: bool, host: Host) -> Program | None:
    """The cheapest lowering of the region (cse first, then bounded rewrites), if it has
    fewer equations than the region itself."""
    syms, expr = region_expr(g, f)
    avals = [Aval(v.aval.shape, v.aval.dtype) for v in f.inputs]
    best, best_n = None, len(f.idx)
    original = Graph(tuple(f.inputs), tuple(g.eqns[i] for i in f.idx), (f.out,))
    for candidate in [expr, *_rewrites(expr, allowed)]:
        try:
            program = record(sp.cse([candidate]), syms)
        except (LoweringError, TypeError):
            continue
        t = program_graph(program, avals, [f.out.aval], host)
        if t is not None and len(t.eqns) < best_n and _agrees(original, t):
            best, best_n = program, len(t.eqns)
    return best


def _agrees(original: Graph, rewritten: Graph) -> bool:
    """A rewrite must compute what the region computes: checked on random inputs (a guard
    against translation slips, e.g. a Piecewise inside a comparison, never a proof), about
    4096 points in all, so that branch boundaries are crossed many times."""
    rng = np.random.default_rng(0)
    numel = max((int(np.prod(v.aval.shape)) for v in original.inputs), default=1)
    for _ in range(max(1, min(64, 4096 // max(numel, 1)))):
        args = [_sample(rng, v.aval) for v in original.inputs]
        (want,) = interpret(original, args)
        (got,) = interpret(rewritten, args)
        if got.dtype != want.dtype or got.shape != want.shape:
            return False
        tol = 1e-4 if want.dtype == np.float32 else 1e-9
        if want.dtype.kind == "f":
            if not np.allclose(got, want, rtol=tol, atol=tol, equal_nan=True):
                return False
        elif not np.array_equal(got, want):
            return False
    return True


def _sample(rng: np.random.Generator, aval: Aval) -> np.ndarray:
    kind = np.dtype(aval.dtype.np).kind
    if kind == "b":
        return rng.random(aval.shape) < 0.5
    if kind in "iu":
        return rng.integers(-3, 4, aval.shape).astype(aval.dtype.np)
    x = rng.standard_normal(aval.shape) * 2
    special = rng.random(aval.shape)  # a few NaN/inf/0: IEEE cases sympy's algebra ignores
    x = np.where(special < 0.03, np.nan, np.where(special < 0.06, np.inf, x))
    x = np.where((special >= 0.06) & (special < 0.08), 0.0, x)
    return np.asarray(x).astype(aval.dtype.np)


def simplify_with_stats(
    graph: Graph, *, host: Host, limit: int = MAX_REGION_OPS
) -> tuple[Graph, SimplifyStats]:
    """``simplify`` and what it did."""
    t0 = time.perf_counter()
    stats = SimplifyStats()
    hits0, misses0 = SIMPLIFY_CACHE.hits, SIMPLIFY_CACHE.misses
    rewrites_left = REWRITE_REGIONS
    replaced: dict[int, list[Eqn]] = {}  # root index -> new equations
    dropped: set[int] = set()
    rename: dict[Var, Atom] = {}
    for f in find_regions(graph, differentiating=False, limit=limit):
        if len(f.idx) < 2:
            continue
        stats.regions += 1
        allowed = rewrites_left > 0
        rewrites_left -= allowed
        structure = structure_key(graph, f)
        key = (structure, tuple(v.aval for v in f.inputs), allowed)
        ts = time.perf_counter()
        t = SIMPLIFY_CACHE.get(key, partial(_template, structure, graph, f, allowed, host))
        stats.sympy_seconds += time.perf_counter() - ts
        stats.ops_before += len(f.idx)
        if t is None:
            stats.ops_after += len(f.idx)
            continue
        root = graph.eqns[f.idx[-1]]
        stats.rewritten += 1
        stats.ops_after += len(t.eqns)
        dropped.update(f.idx)
        if t.outputs[0] in t.inputs:  # the region is one of its inputs
            rename[f.out] = f.inputs[t.inputs.index(t.outputs[0])]  # type: ignore[arg-type]
        replaced[f.idx[-1]] = inline(t, f.inputs, f.out, root.loc, root.no_grad)
    eqns: list[Eqn] = []
    for i, e in enumerate(graph.eqns):
        if i in replaced:
            eqns.extend(_renamed(x, rename) for x in replaced[i])
        elif i not in dropped:
            eqns.append(_renamed(e, rename))
    outputs = tuple(rename.get(o, o) if isinstance(o, Var) else o for o in graph.outputs)
    stats.cache_hits = SIMPLIFY_CACHE.hits - hits0
    stats.cache_misses = SIMPLIFY_CACHE.misses - misses0
    stats.seconds = time.perf_counter() - t0
    return graph.replace(eqns=tuple(eqns), outputs=outputs), stats


def _renamed(e: Eqn, rename: dict[Var, Atom]) -> Eqn:
    if not rename or not any(isinstance(a, Var) and a in rename for a in e.inputs):
        return e
    from dataclasses import replace

    inputs = tuple(rename.get(a, a) if isinstance(a, Var) else a for a in e.inputs)
    return replace(e, inputs=inputs)


def simplify(graph: Graph, *, host: Host) -> Graph:
    """Elementwise regions rewritten with sympy (cse, then bounded simplify/factor/cancel),
    each kept only when it lowers the equation count; Avals are preserved exactly. The cost
    of the last call is in ``simplify.last_stats``; ``host`` as in ``where_regions``."""
    out, stats = simplify_with_stats(graph, host=host)
    simplify.last_stats = stats  # type: ignore[attr-defined]
    return out


simplify.last_stats = SimplifyStats()  # type: ignore[attr-defined]


def cache_info() -> dict[str, tuple[int, int, int]]:
    """(hits, misses, entries) of the structural caches."""
    return {
        name: (c.hits, c.misses, len(c.data))
        for name, c in (("vjp", VJP_CACHE), ("simplify", SIMPLIFY_CACHE))
    }
