"""Loops and branches as equations: SCAN, WHILE, COND (tuple-valued) and GET (a tuple's part).

Note [loops in the IR]
~~~~~~~~~~~~~~~~~~~~~~
A loop has several carries and outputs of different dtypes, but an equation has one output.
The loop equation gives one tuple-valued Var, typed by a ``TupleAval`` (an Aval of shape ()
that lists its parts' Avals), and each part is read by a projection equation, ``get[index=k]``
(XLA's get-tuple-element):

    d:(f32[4], f32[10,4]) = scan[length=10 reverse=False n_consts=1 n_carry=1
                                 body={ lambda w:f32[4,4] h:f32[4] x:f32[4] . ... in (h', y) }]
                                 u c xs
    e:f32[4] = get[index=0] d
    f:f32[10,4] = get[index=1] d

Why a tuple and projections rather than multi-output equations: every pass keeps its one
``e.out`` per equation (fusion, CSE, DCE, split, the executor's buffers, the verifier), and a
loop needs nothing of a pass that does not care about it: it is one non-fusible equation (an
extern step of fusion), its attrs hold graphs (never equal in CSE, so never merged), and an
unused part is just a dead ``get``; LINALG's packing (Note [LINALG packs its outputs]) does not
work here, because the parts have different dtypes and a packed value would be one dtype.
Only two places know tuples: the adjoint driver (a ``get``'s cotangent goes to its part of the
tuple's cotangent, and the loop's VJP is built from the parts: passes/adjoint_control.py) and
the backends (the loop's value is a Python tuple of arrays; ``get`` picks one). The tuple's
Aval has a float dtype only so that activity flows through it as through any float value.

Bodies are sub-graphs in the equation's attrs, with explicit inputs in a fixed order:

- ``scan[body, length, reverse, n_consts, n_carry, checkpoint] consts.. init.. xs..``:
  ``body`` takes ``(consts.., carries.., x slices..)`` and gives ``(carries.., ys..)``; the
  tuple is ``(final carries.., stacked ys..)``, each y stacked on a new leading axis of
  ``length``. ``checkpoint`` only concerns the adjoint (Note [the adjoint of a scan]).
- ``while[cond, body, n_cond, n_body] cond_consts.. body_consts.. init..``: ``cond`` takes
  ``(cond_consts.., carries..)`` and gives a bool scalar, ``body`` ``(body_consts..,
  carries..)`` to carries; the tuple is the final carries.
- ``cond[true_fn, false_fn] pred operands..``: both branches take every operand (the values
  either branch closes over are operands too) and give outputs of equal Avals; the tuple is
  the chosen branch's outputs.

Values a body closes over (parameters, outer intermediates) are explicit operands (``consts``),
never frozen into the body: the body is traced once and its graph does not depend on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .aval import Aval
from .dtypes import bool_, float32
from .errors import ShapeError
from .graph import Graph
from .ops import GroupOp


@dataclass(frozen=True)
class TupleAval(Aval):
    """The Aval of a loop's or branch's value: the Avals of its parts."""

    parts: tuple[Aval, ...] = ()

    def __str__(self) -> str:
        return "(" + ", ".join(str(p) for p in self.parts) + ")"


def tuple_aval(parts: list[Aval] | tuple[Aval, ...]) -> TupleAval:
    return TupleAval((), float32, False, tuple(Aval(p.shape, p.dtype) for p in parts))


def _same(a: Aval, b: Aval) -> bool:
    return (a.shape, a.dtype) == (b.shape, b.dtype)


def _check_inputs(what: str, graph: Graph, avals: list[Aval] | tuple[Aval, ...]) -> None:
    if len(graph.inputs) != len(avals):
        raise ShapeError(f"{what} takes {len(graph.inputs)} inputs, given {len(avals)}")
    for i, (v, a) in enumerate(zip(graph.inputs, avals, strict=True)):
        if not _same(v.aval, a):
            raise ShapeError(f"{what}'s input {i} is {v.aval}, given {a}")


def _check_carry(what: str, ins: Sequence[Aval], outs: Sequence[Aval]) -> None:
    for i, (a, o) in enumerate(zip(ins, outs, strict=True)):
        if not _same(a, o):
            raise ShapeError(f"{what}'s carry {i} comes in as {a} and goes out as {o}")


def scan_shape(
    *avals: Aval,
    body: Graph,
    length: int,
    reverse: bool,
    n_consts: int,
    n_carry: int,
    checkpoint: bool,
) -> Aval:
    consts, carry = avals[:n_consts], avals[n_consts : n_consts + n_carry]
    xs = avals[n_consts + n_carry :]
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise ShapeError(f"scan over {length} steps was given xs of shape {x}")
    _check_inputs("scan body", body, [*consts, *carry, *(Aval(x.shape[1:], x.dtype) for x in xs)])
    outs = [o.aval for o in body.outputs]
    _check_carry("scan body", carry, outs[:n_carry])
    ys = [Aval((length, *y.shape), y.dtype) for y in outs[n_carry:]]
    return tuple_aval([*carry, *ys])


def while_shape(*avals: Aval, cond: Graph, body: Graph, n_cond: int, n_body: int) -> Aval:
    carry = avals[n_cond + n_body :]
    _check_inputs("while_loop cond_fn", cond, [*avals[:n_cond], *carry])
    _check_inputs("while_loop body_fn", body, avals[n_cond:])
    (c,) = (o.aval for o in cond.outputs)
    if not _same(c, Aval((), bool_)):
        raise ShapeError(f"while_loop cond_fn must give a bool scalar, not {c}")
    _check_carry("while_loop body", carry, [o.aval for o in body.outputs])
    return tuple_aval(list(carry))


def cond_shape(pred: Aval, *avals: Aval, true_fn: Graph, false_fn: Graph) -> Aval:
    if pred.shape not in ((), (1,)) or pred.dtype is not bool_:
        raise ShapeError(f"cond's predicate must be a bool scalar, not {pred}")
    _check_inputs("cond true_fn", true_fn, avals)
    _check_inputs("cond false_fn", false_fn, avals)
    outs = [o.aval for o in true_fn.outputs]
    for i, (a, b) in enumerate(zip(outs, (o.aval for o in false_fn.outputs), strict=True)):
        if not _same(a, b):
            raise ShapeError(f"cond's branches give {a} and {b} for output {i}")
    return tuple_aval(outs)


def get_shape(t: Aval, *, index: int) -> Aval:
    if not isinstance(t, TupleAval):
        raise ShapeError(f"get reads a part of a loop's or cond's value, not of {t}")
    return t.parts[index]


def _run(graph: Graph, args: list[np.ndarray]) -> list[np.ndarray]:
    from .interpreter import interpret  # (the interpreter runs these references)

    return interpret(graph, args)


def scan_reference(
    *arrays: np.ndarray,
    body: Graph,
    length: int,
    reverse: bool,
    n_consts: int,
    n_carry: int,
    checkpoint: bool,
) -> Any:
    consts = list(arrays[:n_consts])
    carry = list(arrays[n_consts : n_consts + n_carry])
    xs = arrays[n_consts + n_carry :]
    ys: list[np.ndarray] = [
        np.empty((length, *o.aval.shape), o.aval.dtype.np) for o in body.outputs[n_carry:]
    ]
    for i in range(length - 1, -1, -1) if reverse else range(length):
        outs = _run(body, [*consts, *carry, *(x[i] for x in xs)])
        carry = outs[:n_carry]
        for y, o in zip(ys, outs[n_carry:], strict=True):
            y[i] = o
    return (*carry, *ys)


def while_reference(*arrays: np.ndarray, cond: Graph, body: Graph, n_cond: int, n_body: int) -> Any:
    cond_consts, body_consts = list(arrays[:n_cond]), list(arrays[n_cond : n_cond + n_body])
    carry = list(arrays[n_cond + n_body :])
    while bool(_run(cond, [*cond_consts, *carry])[0]):
        carry = _run(body, [*body_consts, *carry])
    return tuple(carry)


def cond_reference(pred: np.ndarray, *arrays: np.ndarray, true_fn: Graph, false_fn: Graph) -> Any:
    return tuple(_run(true_fn if bool(pred.reshape(())) else false_fn, list(arrays)))


def get_reference(t: Any, *, index: int) -> np.ndarray:
    return t[index]


def bodies(attrs: dict[str, Any]) -> list[Graph]:
    """The sub-graphs of a control equation's attrs (for passes that recurse into them)."""
    return [v for v in attrs.values() if isinstance(v, Graph)]


def has_effects(attrs: dict[str, Any]) -> bool:
    """Whether a control equation's bodies draw random numbers (at any depth): it must run
    even when nothing reads its value, as a draw must (Note [random numbers in compiled
    code])."""
    return any(
        e.op in GroupOp.EFFECTS or (e.op in GroupOp.TUPLED and has_effects(e.attrs))
        for g in bodies(attrs)
        for e in g.eqns
    )
