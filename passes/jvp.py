"""The forward-mode pass: a graph and its Jacobian-vector product, built with ir/jvp.py's table.

The walk is the adjoint's, forwards and in one sweep: each equation runs again on the
builder's values, and when any of its inputs has a tangent its rule gives the output's tangent
(ir/jvp.py), with the builder's values, so the tangent equations are emitted right after the
equation they differentiate (a compiled program fuses them with it). Loops and branches are
differentiated here: a branch's JVP is a branch over its branches' JVPs, a scan's or a while
loop's is a loop over its body's JVP with a tangent for each carry that becomes active (a
fixed point over the body), so tangents flow through the loop step by step.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..ir.aval import Aval
from ..ir.graph import Atom, Eqn, Graph, Lit, Var
from ..ir.jvp import tangent_of
from ..ir.ops import GroupOp, Op


class JvpBuilder(Protocol):
    """Makes tensor-like values whose operations append equations to a new graph."""

    def input(self, aval: Aval) -> Any: ...

    def const(self, value: Any) -> Any: ...

    def at(self, eqn: Eqn | None) -> None: ...

    def run(self, eqn: Eqn, args: list[Any]) -> Any: ...

    def call(self, op: Op, args: list[Any], attrs: dict[str, Any]) -> Any:
        """A new equation on the builder's values (a linear op on a tangent, a loop)."""

    def zeros(self, aval: Aval) -> Any: ...

    def grad(self, outputs: Any, inputs: Any, grad_outputs: Any, **kw: Any) -> tuple[Any, ...]:
        """``autograd.grad`` on the builder's values (Note [JVP as the transpose of the VJP])."""

    def leaf(self, like: Any) -> Any:
        """Ones like ``like`` that require grad: a ``g`` to differentiate a VJP rule in."""

    def recording(self) -> AbstractContextManager[Any]:
        """Grad mode on (a VJP rule differentiated: Note [JVP as the transpose of the VJP])."""

    def quiet(self) -> AbstractContextManager[Any]:
        """Grad mode off: the tangent of a no_grad equation is recorded under no_grad too."""

    def finish(self, outputs: list[Any]) -> Graph: ...

    def jvp(
        self, graph: Graph, active: Sequence[int], force: Sequence[bool] | None
    ) -> tuple[Graph, tuple[bool, ...]]:
        """The JVP of a loop's or branch's body, with a fresh builder of this kind."""


def jvp(
    g: Graph,
    active: Sequence[int],
    builder: JvpBuilder,
    force: Sequence[bool] | None = None,
) -> tuple[Graph, tuple[bool, ...]]:
    """The graph of ``g`` and its JVP with respect to inputs ``active``.

    New inputs: g's inputs, then one tangent per active input (in order). Outputs: g's
    outputs, then one tangent per output whose ``has_tangent`` is True. ``force[k]`` asks for
    output k's tangent even when it has none (zeros: a loop's carry needs one each step).
    """
    env: dict[Var, Any] = {}
    tan: dict[Var, Any] = {}
    for v in g.inputs:
        env[v] = builder.input(v.aval)
    for i in active:
        v = g.inputs[i]
        tan[v] = builder.input(v.aval)
    for v, arr in g.consts:
        env[v] = builder.const(arr)

    def read(a: Atom) -> Any:
        return a.value if isinstance(a, Lit) else env[a]

    for e in g.eqns:
        builder.at(e)
        args = [read(a) for a in e.inputs]
        ts = [tan.get(a) if isinstance(a, Var) else None for a in e.inputs]
        if all(t is None for t in ts):
            env[e.out] = builder.run(e, args)
        elif e.op in GroupOp.TUPLED:
            env[e.out], tan[e.out] = _control(e, args, ts, builder)
        elif e.op is Op.GET:
            env[e.out] = builder.run(e, args)
            part = ts[0][e.attrs["index"]]  # type: ignore[index]
            if part is not None:
                tan[e.out] = part
        else:
            out = env[e.out] = builder.run(e, args)
            if not e.out.aval.dtype.is_floating_point:
                continue
            t = _tangent(e, ts, args, out, builder)
            if t is not None:
                tan[e.out] = t
    builder.at(None)
    outs = [read(o) for o in g.outputs]
    has = [isinstance(o, Var) and o in tan for o in g.outputs]
    tangents = []
    for k, o in enumerate(g.outputs):
        if has[k]:
            tangents.append(tan[o])  # type: ignore[index]
        elif force is not None and force[k]:
            tangents.append(builder.zeros(o.aval))
            has[k] = True
    return builder.finish(outs + tangents), tuple(has)


def _tangent(e: Eqn, ts: list[Any], args: list[Any], out: Any, builder: JvpBuilder) -> Any:
    def same(*operands: Any) -> Any:
        return builder.call(e.op, list(operands), e.attrs)

    if e.no_grad:
        with builder.quiet():
            return tangent_of(e.op, e.attrs, ts, args, out, same, builder)
    return tangent_of(e.op, e.attrs, ts, args, out, same, builder)


def _parts(tup: Any, n: int, builder: JvpBuilder) -> list[Any]:
    return [builder.call(Op.GET, [tup], {"index": k}) for k in range(n)]


def _control(
    e: Eqn, args: list[Any], ts: list[Any], builder: JvpBuilder
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """A loop's or branch's value and tangent, as tuples of parts (GET reads them)."""
    if e.op is Op.COND:
        return _cond(e, args, ts, builder)
    if e.op is Op.SCAN:
        return _scan(e, args, ts, builder)
    return _while(e, args, ts, builder)


def _cond(
    e: Eqn, args: list[Any], ts: list[Any], builder: JvpBuilder
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    a = e.attrs
    ops_ts = ts[1:]
    act = [i for i, t in enumerate(ops_ts) if t is not None]
    branches = [builder.jvp(a[k], act, None) for k in ("true_fn", "false_fn")]
    union = [x or y for x, y in zip(branches[0][1], branches[1][1], strict=True)]
    if any(h != tuple(union) for _, h in branches):
        branches = [builder.jvp(a[k], act, union) for k in ("true_fn", "false_fn")]
    attrs = {**a, "true_fn": branches[0][0], "false_fn": branches[1][0]}
    n = len(a["true_fn"].outputs)
    m = sum(union)
    tup = builder.call(Op.COND, [*args, *(ops_ts[i] for i in act)], attrs)
    parts = _parts(tup, n + m, builder)
    found = iter(parts[n:])
    return tuple(parts[:n]), tuple(next(found) if h else None for h in union)


def _fixed_point(
    body: Graph, fixed: list[bool], carry_at: int, n_carry: int, builder: JvpBuilder
) -> tuple[Graph, tuple[bool, ...], list[bool]]:
    """The body's JVP where a carry is active when it comes in with a tangent or the body
    gives it one (repeated until no carry turns active)."""
    act = list(fixed)
    while True:
        idx = [i for i, x in enumerate(act) if x]
        force = [act[carry_at + k] for k in range(n_carry)]
        force += [False] * (len(body.outputs) - n_carry)
        graph, has = builder.jvp(body, idx, force)
        grown = [has[k] and not act[carry_at + k] for k in range(n_carry)]
        if not any(grown):
            return graph, has, act
        for k, x in enumerate(grown):
            act[carry_at + k] = act[carry_at + k] or x


def _scan(
    e: Eqn, args: list[Any], ts: list[Any], builder: JvpBuilder
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    a = e.attrs
    body: Graph = a["body"]
    k, c = a["n_consts"], a["n_carry"]
    n_in = len(body.inputs)
    graph, has, act = _fixed_point(body, [t is not None for t in ts], k, c, builder)
    # the body's JVP takes (inputs.., tangents..) and gives (outputs.., tangents..): put each
    # tangent next to its group, as a scan's body takes and gives them
    ins, t_ins = list(graph.inputs[:n_in]), iter(graph.inputs[n_in:])
    t_by = {i: next(t_ins) for i in range(n_in) if act[i]}
    groups = [range(0, k), range(k, k + c), range(k + c, n_in)]
    new_inputs = [
        v for grp in groups for v in [*(ins[i] for i in grp), *(t_by[i] for i in grp if i in t_by)]
    ]
    n_out = len(body.outputs)
    outs, t_outs = list(graph.outputs[:n_out]), iter(graph.outputs[n_out:])
    t_out = {j: next(t_outs) for j in range(n_out) if has[j]}
    ogroups = [range(0, c), range(c, n_out)]
    new_outputs = [
        o
        for grp in ogroups
        for o in [*(outs[j] for j in grp), *(t_out[j] for j in grp if j in t_out)]
    ]
    new_body = graph.replace(inputs=tuple(new_inputs), outputs=tuple(new_outputs))

    def tangent(i: int) -> Any:
        return ts[i] if ts[i] is not None else builder.zeros(e.inputs[i].aval)

    new_args = [
        *(
            x
            for grp in groups
            for x in [*(args[i] for i in grp), *(tangent(i) for i in grp if act[i])]
        )
    ]
    n_tc = sum(act[k : k + c])
    attrs = {**a, "body": new_body, "n_consts": k + sum(act[:k]), "n_carry": c + n_tc}
    tup = builder.call(Op.SCAN, new_args, attrs)
    n_ty = sum(has[c:])
    parts = _parts(tup, c + n_tc + (n_out - c) + n_ty, builder)
    carries, t_carries = parts[:c], iter(parts[c : c + n_tc])
    ys, t_ys = parts[c + n_tc : c + n_tc + n_out - c], iter(parts[c + n_tc + n_out - c :])
    primal = (*carries, *ys)
    tangents = (
        *(next(t_carries) if act[k + j] else None for j in range(c)),
        *(next(t_ys) if has[c + j] else None for j in range(n_out - c)),
    )
    return primal, tangents


def _while(
    e: Eqn, args: list[Any], ts: list[Any], builder: JvpBuilder
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    a = e.attrs
    nc, nb = a["n_cond"], a["n_body"]
    body: Graph = a["body"]
    c = len(body.outputs)
    fixed = [t is not None for t in ts[nc:]]  # the body's inputs: its consts, then the carries
    graph, _, act = _fixed_point(body, fixed, nb, c, builder)
    n_in = len(body.inputs)
    ins, t_ins = list(graph.inputs[:n_in]), iter(graph.inputs[n_in:])
    t_by = {i: next(t_ins) for i in range(n_in) if act[i]}
    groups = [range(0, nb), range(nb, n_in)]
    new_inputs = [
        v for grp in groups for v in [*(ins[i] for i in grp), *(t_by[i] for i in grp if i in t_by)]
    ]
    body_out = list(graph.outputs)  # (carries.., their tangents..): already a while's layout
    new_body = graph.replace(inputs=tuple(new_inputs), outputs=tuple(body_out))
    t_carry_avals = [body.inputs[nb + j].aval for j in range(c) if act[nb + j]]
    cond: Graph = a["cond"]
    new_cond = cond.replace(
        inputs=(*cond.inputs, *(Var(Aval(v.shape, v.dtype)) for v in t_carry_avals))
    )

    def tangent(i: int) -> Any:  # (body input i is the equation's input nc + i)
        t = ts[nc + i]
        return t if t is not None else builder.zeros(e.inputs[nc + i].aval)

    new_args = [
        *args[:nc],
        *(
            x
            for grp in groups
            for x in [*(args[nc + i] for i in grp), *(tangent(i) for i in grp if act[i])]
        ),
    ]
    attrs = {**a, "cond": new_cond, "body": new_body, "n_body": nb + sum(act[:nb])}
    n_tc = len(t_carry_avals)
    tup = builder.call(Op.WHILE, new_args, attrs)
    parts = _parts(tup, c + n_tc, builder)
    t_carries = iter(parts[c:])
    return tuple(parts[:c]), tuple(next(t_carries) if act[nb + j] else None for j in range(c))
