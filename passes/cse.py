"""Common subexpression elimination: equal equations (op, operands, attrs) computed once."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..ir.dtypes import DType
from ..ir.graph import Atom, Eqn, Graph, Var
from ..ir.ops import GroupOp
from ..ir.sizes import SymbolicSize, key_repr
from .rewrite import COMMUTATIVE

# consts up to this many elements are merged when their values are equal
CONST_MERGE_LIMIT = 1 << 16


class _Unhashable(Exception):
    """An attribute value with no structural key: the equation is never merged."""


def freeze(value: Any) -> Any:
    """A hashable key equal for structurally equal attribute values. Types are part of the key
    (``True``, ``1`` and ``1.0`` differ) and floats key by repr (``-0.0`` differs from ``0.0``,
    NaN equals NaN)."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, freeze(v)) for k, v in value.items())))
    if isinstance(value, tuple | list):
        return (type(value).__name__, tuple(freeze(v) for v in value))
    if isinstance(value, DType):
        return ("dtype", value.name)
    if isinstance(value, SymbolicSize):  # by expression (its repr is the traced value)
        return value.key()
    if isinstance(value, float | np.floating):
        return ("float", repr(float(value)))
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if value is None or isinstance(value, bool | int | str | np.integer | np.bool_):
        return (type(value).__name__, value)
    raise _Unhashable(type(value).__name__)


def _atom_key(a: Atom, order: dict[Var, int]) -> tuple:
    if isinstance(a, Var):
        return (0, order[a])
    return (1, type(a.value).__name__, key_repr(a.value), a.aval.dtype.name, a.aval.weak)


def cse(graph: Graph) -> Graph:
    """One equation per distinct (op, operands, attrs); the first keeps its place and loc, and
    is no_grad only if every merged copy was. Equal small consts merge too."""
    subst: dict[Var, Atom] = {}
    order: dict[Var, int] = {v: i for i, v in enumerate(graph.inputs)}
    consts: list[tuple[Var, np.ndarray]] = []
    seen_consts: dict[tuple, Var] = {}
    for v, arr in graph.consts:
        key = (
            (v.aval.dtype.name, arr.shape, arr.tobytes()) if arr.size <= CONST_MERGE_LIMIT else None
        )
        if key is not None and key in seen_consts:
            subst[v] = seen_consts[key]
            continue
        if key is not None:
            seen_consts[key] = v
        order[v] = len(order)
        consts.append((v, arr))

    def read(a: Atom) -> Atom:
        return subst.get(a, a) if isinstance(a, Var) else a

    eqns: list[Eqn] = []
    seen: dict[tuple, int] = {}  # key -> index in eqns
    for e in graph.eqns:
        inputs = tuple(read(a) for a in e.inputs)
        key = _key(e, inputs, order)
        if key is not None and key in seen:
            first = eqns[seen[key]]
            subst[e.out] = first.out
            if first.no_grad and not e.no_grad:  # the value is needed with grad
                eqns[seen[key]] = replace(first, no_grad=False)
            continue
        order[e.out] = len(order)
        if key is not None:
            seen[key] = len(eqns)
        eqns.append(e if inputs == e.inputs else replace(e, inputs=inputs))
    if not subst and all(a is b for a, b in zip(eqns, graph.eqns, strict=True)):
        return graph
    outputs = tuple(read(o) for o in graph.outputs)
    return graph.replace(eqns=tuple(eqns), outputs=outputs, consts=tuple(consts))


def _key(e: Eqn, inputs: tuple[Atom, ...], order: dict[Var, int]) -> tuple | None:
    if e.op in GroupOp.EFFECTS:  # two equal draws are two draws
        return None
    args = [_atom_key(a, order) for a in inputs]
    if e.op in COMMUTATIVE:
        args.sort()
    try:
        attrs = freeze(e.attrs)
    except _Unhashable:
        return None
    # the declared Aval is part of the key: equal operands give equal Avals, but a graph
    # written by hand could still disagree, and merging must never change a type
    return (e.op, tuple(args), attrs, e.out.aval)
