"""Finding elementwise regions in a graph, keyed by structure, and splicing rewrites back."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..ir.graph import Atom, Eqn, Graph, Lit, Var
from ..ir.ops import GroupOp, Op
from ..ir.sizes import key_repr
from .record import ValueRecord
from .sympy_bridge import has_form, symbols_for, to_sympy


class LRU:
    """A bounded cache that counts its hits and misses (tests assert on the counters)."""

    def __init__(self, size: int) -> None:
        self.size, self.hits, self.misses = size, 0, 0
        self.data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self.data:
            self.hits += 1
            self.data.move_to_end(key)
            return self.data[key]
        self.misses += 1
        value = self.data[key] = make()
        if len(self.data) > self.size:
            self.data.popitem(last=False)
        return value


def _uses(g: Graph) -> dict[Var, set[int]]:
    """Which equations read each value; graph outputs count as a use by index -1."""
    uses: dict[Var, set[int]] = {}
    for i, e in enumerate(g.eqns):
        for a in e.inputs:
            if isinstance(a, Var):
                uses.setdefault(a, set()).add(i)
    for o in g.outputs:
        if isinstance(o, Var):
            uses.setdefault(o, set()).add(-1)
    return uses


def _fits(e: Eqn, dtype: Any, no_grad: bool, differentiating: bool) -> bool:
    """Whether ``e`` may join a region computing ``dtype`` values."""
    ok_dtypes = (dtype.name, "bool")
    return (
        e.op in GroupOp.ELEMENTWISE
        and has_form(e.op)
        and e.no_grad == no_grad
        and e.out.aval.dtype.name in ok_dtypes
        and all(a.aval.dtype.name in ok_dtypes for a in e.inputs if isinstance(a, Var))
        # d x**y / dy at x = 0 follows PyTorch's special case only in the per-op rule
        and not (differentiating and e.op is Op.POW and isinstance(e.inputs[1], Var))
        # sympy decides x != x is False and x == x True: IEEE says otherwise for NaN (isnan);
        # likewise x - x is 0 and x / x is 1 to it, not NaN at inf or NaN (lerp(x, x, w))
        and not (e.op in _SAME_OPERANDS and e.inputs[0] is e.inputs[1])
        # sympy's real symbols are finite (x == inf is False to it: isinf, nan_to_num) and its
        # nan is a constant with derivative 0 (d(x / nan)/dx = 0: var of one element)
        and not any(_non_finite(a) for a in e.inputs)
    )


_SAME_OPERANDS = GroupOp.COMPARE | {Op.SUB, Op.DIV}


def _non_finite(a: Atom) -> bool:
    return isinstance(a, Lit) and isinstance(a.value, float) and not math.isfinite(a.value)


class Found(ValueRecord):
    """A single-output elementwise region: equation indices (in order), inputs, output."""

    __slots__ = FIELDS = ("idx", "inputs", "out")
    idx: tuple[int, ...]
    inputs: tuple[Var, ...]
    out: Var


def find_regions(g: Graph, *, differentiating: bool, limit: int) -> list[Found]:
    """Maximal single-output regions of elementwise equations whose inner values are used only
    inside; grown backwards from each root. Regions above ``limit`` equations are dropped."""
    uses, producer = _uses(g), {e.out: i for i, e in enumerate(g.eqns)}
    claimed: set[int] = set()
    found = []
    for r in range(len(g.eqns) - 1, -1, -1):
        root = g.eqns[r]
        dt = root.out.aval.dtype
        if r in claimed or not dt.is_floating_point:
            continue
        if differentiating and root.no_grad:
            continue
        if not _fits(root, dt, root.no_grad, differentiating):
            continue
        members, work = {r}, [a for a in root.inputs if isinstance(a, Var)]
        while work and len(members) <= limit:
            v = work.pop()
            j = producer.get(v)
            if j is None or j in members or j in claimed:
                continue
            if not _fits(g.eqns[j], dt, root.no_grad, differentiating):
                continue
            if uses[v] <= members:
                members.add(j)
                work.extend(a for a in g.eqns[j].inputs if isinstance(a, Var))
        if len(members) > limit:
            continue
        claimed |= members
        idx = tuple(sorted(members))
        inside = {g.eqns[i].out for i in idx}
        inputs: dict[Var, None] = {}
        for i in idx:
            inputs.update((a, None) for a in g.eqns[i].inputs if isinstance(a, Var))
        ins = tuple(v for v in inputs if v not in inside)
        found.append(Found(idx, ins, root.out))
    return found[::-1]


def structure_key(g: Graph, f: Found) -> tuple[Any, ...]:
    """The region's shape-free structure: ops, attributes, wiring, literals, input dtypes."""
    slot: dict[Var, tuple[str, int]] = {v: ("in", k) for k, v in enumerate(f.inputs)}
    rows = []
    for n, i in enumerate(f.idx):
        e = g.eqns[i]
        args = tuple(
            ("lit", type(a.value).__name__, key_repr(a.value)) if isinstance(a, Lit) else slot[a]
            for a in e.inputs
        )
        attrs = tuple(sorted((k, key_repr(v)) for k, v in e.attrs.items()))
        rows.append((e.op, attrs, args))
        slot[e.out] = ("eq", n)
    return (tuple(rows), tuple(v.aval.dtype.name for v in f.inputs))


def region_expr(g: Graph, f: Found) -> tuple[tuple[Any, ...], Any]:
    """The region's input symbols and the sympy expression of its output."""
    syms = symbols_for(f.inputs)
    return syms, to_sympy([g.eqns[i] for i in f.idx], f.inputs, syms)[f.out]


def inline(t: Graph, args: Sequence[Var], out: Var, loc: str | None, no_grad: bool) -> list[Eqn]:
    """The equations of template ``t`` (one output) applied to ``args``, defining ``out``."""
    env: dict[Var, Any] = dict(zip(t.inputs, args, strict=True))
    eqns = []
    for e in t.eqns:
        new_out = out if e.out is t.outputs[0] else Var(e.out.aval)
        inputs = tuple(a if isinstance(a, Lit) else env[a] for a in e.inputs)
        eqns.append(replace(e, inputs=inputs, out=new_out, loc=loc, no_grad=no_grad))
        env[e.out] = new_out
    return eqns
