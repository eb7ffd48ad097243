"""Tracing a loop's or branch's body into a sub-graph, emitting its equation, replaying one.

The public functions (frontend/control.py) trace each body once with ``trace_body`` and record
one equation with ``emit_control`` (Note [loops in the IR] in ir/control.py); ``run_control``
replays a recorded one (frontend/replay.py: the interpreter backend and the adjoint's builder).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..ir.aval import Aval
from ..ir.control import TupleAval
from ..ir.dtypes import float32
from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import GroupOp, Op
from ..ir.shapes import infer
from ..runtime import trace_state
from ..runtime.control_flow import scan_eager, while_eager
from ..runtime.creation import zeros
from ..runtime.dispatch import apply
from ..runtime.grad_mode import is_grad_enabled
from ..runtime.tensor import Tensor
from .tracer import Trace, Tracer, tracing

Leaves = list[Tensor]


def aval_of(t: Tensor) -> Aval:
    return Aval(tuple(t.shape), t.dtype)


def trace_body(
    fn: Callable[[Leaves], Leaves], avals: Sequence[Aval], what: str
) -> tuple[Graph, Leaves]:
    """``fn`` traced once on fresh inputs of ``avals``: its graph, whose inputs are the
    tensors it closes over (returned, in order) then the given ones."""
    sub = Trace()
    with tracing(sub):
        ins = [sub.new_input(a, is_grad_enabled() and a.dtype.is_floating_point) for a in avals]
        sub.leaf_vars.difference_update(t._var for t in ins)  # values (carries), not leaves
        outs = fn(list(ins))
        atoms = [sub.atom(t) for t in outs]
    if sub.mutated:
        raise NotImplementedError(
            f"{what} modifies a tensor from outside it in place; return the new value instead"
        )
    closed = [sub._lifted_ids[id(t)]._var for t in sub.lifted]
    graph = Graph(
        (*closed, *(t._var for t in ins)), tuple(sub.eqns), tuple(atoms), tuple(sub.consts)
    )
    return graph, list(sub.lifted)


def emit_control(op: Op, args: Sequence[Tensor], attrs: dict[str, Any]) -> Tracer:
    """One loop or branch equation in the active trace; its value is a tuple tracer."""
    trace = trace_state.current()
    atoms = [trace.atom(t) for t in args]
    aval = infer(op, [a.aval for a in atoms], attrs)
    assert isinstance(aval, TupleAval)
    out = Var(aval)
    grad_on = is_grad_enabled()
    loc = trace.loc if trace.fixed_loc else trace_state.user_location()
    trace.eqns.append(Eqn(op, tuple(atoms), dict(attrs), out, loc, not grad_on, trace.remat))
    requires = grad_on and any(t.requires_grad for t in args)
    return Tracer(trace, out, requires)


def parts(tup: Tracer) -> Leaves:
    """The parts of a tuple tracer, each read by a ``get`` equation."""
    n = len(tup._var.aval.parts)  # type: ignore[attr-defined]
    return [apply(Op.GET, tup, index=k) for k in range(n)]


def call(op: Op, args: list[Any], attrs: dict[str, Any]) -> Any:
    """``op[attrs](args)`` on tensors, recorded when tracing (the builders' ``call``)."""
    if op in GroupOp.CONTROL:
        return run_control(Eqn(op, (), attrs, _PLACEHOLDER), args)
    return apply(op, *args, **attrs)


_PLACEHOLDER = Var(Aval((), float32))  # the output of an equation made only to be run


def run_control(e: Eqn, args: list[Any]) -> Any:
    """A control equation replayed (frontend/replay.py): recorded again under a trace, else
    run eagerly with each body replayed (its ops recorded by eager autograd)."""
    if e.op is Op.GET:
        tup = args[0]
        return tup[e.attrs["index"]] if isinstance(tup, tuple) else apply(Op.GET, tup, **e.attrs)
    if trace_state.current() is not None:
        return emit_control(e.op, args, e.attrs)
    from .replay import replay

    a = e.attrs
    if e.op is Op.SCAN:
        k, c = a["n_consts"], a["n_carry"]
        consts = list(args[:k])

        def step(carry: Leaves, x: Leaves) -> tuple[Leaves, Leaves]:
            outs = replay(a["body"], [*consts, *carry, *x])
            return outs[:c], outs[c:]

        if a["length"] == 0:
            ys = [zeros(0, *o.aval.shape, dtype=o.aval.dtype) for o in a["body"].outputs[c:]]
            return (*args[k : k + c], *ys)
        carry, ys = scan_eager(step, args[k : k + c], args[k + c :], a["length"], a["reverse"])
        return (*carry, *ys)
    if e.op is Op.WHILE:
        nc, nb = a["n_cond"], a["n_body"]
        return tuple(
            while_eager(
                lambda cs: replay(a["cond"], [*args[:nc], *cs])[0],
                lambda cs: replay(a["body"], [*args[nc : nc + nb], *cs]),
                list(args[nc + nb :]),
            )
        )
    branch = a["true_fn"] if bool(args[0]) else a["false_fn"]
    return tuple(replay(branch, list(args[1:])))
