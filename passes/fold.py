"""Constant folding: equations whose operands are all constants become graph consts."""

from __future__ import annotations

from math import prod

import numpy as np

from ..ir.graph import Atom, Eqn, Graph, Lit, Var
from ..ir.interpreter import eval_eqn_arrays, lit_array
from ..ir.ops import GroupOp
from ..ir.sizes import SymbolicSize, has_symbols


def _value(a: Atom, consts: dict[Var, np.ndarray]) -> np.ndarray | None:
    if isinstance(a, Lit):
        if isinstance(a.value, SymbolicSize):  # a size: known per call, not now
            return None
        return lit_array(a)  # as the interpreter reads it (a weak float stays double)
    return consts.get(a)


def fold(graph: Graph) -> Graph:
    """Evaluate constant equations with the interpreter's rule (the semantic oracle).

    The folded value keeps the equation's output Var, so it has exactly the declared Aval and
    no use needs rewriting. (Traced outputs are never weak, so results become consts rather
    than Lits: a Lit would change how a later op promotes.) Not folded: results larger than
    their largest operand (folding ``expand(0.0, (1000, 1000))`` would store a million zeros
    that a kernel makes for free), and equations whose rule raises (the error belongs to run
    time, e.g. an integer to a negative power).
    """
    consts = dict(graph.consts)
    folded: list[tuple[Var, np.ndarray]] = []
    eqns = []
    for e in graph.eqns:
        values = [_value(a, consts) for a in e.inputs]
        known = [v for v in values if v is not None]
        arr = None
        # a draw is not constant; a loop is not run at compile time (nor its tuple stored)
        if len(known) == len(values) and e.op not in GroupOp.EFFECTS | GroupOp.CONTROL:
            limit = max([1, *(v.size for v in known)])
            if not has_symbols(e.out.aval.shape) and prod(e.out.aval.shape) <= limit:
                arr = _evaluate(e, known)
        if arr is None:
            eqns.append(e)
        else:
            consts[e.out] = arr
            folded.append((e.out, arr))
    if not folded:
        return graph
    return graph.replace(eqns=tuple(eqns), consts=(*graph.consts, *folded))


def _evaluate(e: Eqn, values: list[np.ndarray]) -> np.ndarray | None:
    avals = [a.aval for a in e.inputs]
    try:
        arr = eval_eqn_arrays(e.op, e.attrs, list(values), avals, e.out.aval)
    except (ArithmeticError, ValueError, IndexError, RuntimeError, TypeError):
        return None
    arr = np.array(arr, dtype=e.out.aval.dtype.np, copy=True)  # never a view of an operand
    return arr if arr.shape == e.out.aval.shape else None
