"""The reverse-mode adjoint: the joint forward+backward graph, built with the one rule table.

The walk is small on purpose (see STYLE.md): replay the forward equations, then go through them
backwards, calling each op's derivative rule on the values of a builder whose operations emit IR.
Activity comes from the builder's values (a value needs a cotangent only when it depends on an
input being differentiated, outside no_grad and detach); cotangents are summed on fan-in and
brought back to each input's shape and dtype by ``conform``, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..ir.aval import Aval
from ..ir.derivatives import DERIVATIVES, conform, rule_context
from ..ir.graph import Atom, Eqn, Graph, Lit, Var
from ..ir.ops import GroupOp, Op
from .adjoint_control import WHILE_ERROR, ScanPlan, cond_vjp, scan_plan, scan_vjp


class Builder(Protocol):
    """Makes tensor-like values whose operations append equations to a new graph."""

    def input(self, aval: Aval, requires_grad: bool) -> Any: ...

    def at(self, eqn: Eqn | None) -> None:
        """Equations emitted from now on come from (the derivative of) ``eqn``'s source line."""

    def run(self, eqn: Eqn, args: list[Any]) -> Any: ...

    def zeros(self, aval: Aval) -> Any: ...

    def const(self, value: Any) -> Any: ...

    def literal(self, value: bool | int | float) -> Any: ...

    def finish(self, outputs: list[Any]) -> Graph: ...

    def joint(self, graph: Graph, wrt: Sequence[int]) -> Joint:
        """The adjoint of a loop's or branch's body, with a fresh builder of this kind."""

    def call(self, op: Any, args: list[Any], attrs: dict[str, Any]) -> Any:
        """A new equation on the builder's values (a loop's adjoint: a reverse scan)."""


@dataclass(frozen=True, eq=False)
class Region:
    """Elementwise equations differentiated as one unit (e.g. symbolically, as a Piecewise).

    ``eqns`` are in graph order, the last defines ``out``, and no value defined inside is used
    outside; ``vjp(g, input_values)`` gives one cotangent (or None) per external input, in the
    broadcast shape of ``out`` (the driver conforms them).
    """

    out: Var
    eqns: tuple[Eqn, ...]
    inputs: tuple[Var, ...]
    vjp: Callable[[Any, list[Any]], list[Any]]


@dataclass
class Joint:
    """The joint graph and how to read it.

    Inputs: the forward inputs, then one cotangent per differentiable output. Outputs: the
    forward outputs, then one gradient per input in ``wrt``.
    """

    graph: Graph
    n_forward_eqns: int
    n_outputs: int
    wrt: tuple[int, ...]
    cotangent_of: tuple[int, ...]  # forward output index of each cotangent input
    pruned: dict[int, str] = field(default_factory=dict)  # forward eqn index -> why no adjoint
    reached: tuple[bool, ...] = ()  # per wrt input: does any cotangent reach it


def adjoint(
    fwd: Graph, wrt: Sequence[int], builder: Builder, regions: Sequence[Region] = ()
) -> Joint:
    """Build the joint graph of ``fwd`` differentiated with respect to inputs ``wrt``."""
    by_out = {r.out: r for r in regions}
    inside = {id(e) for r in regions for e in r.eqns}
    env: dict[Var, Any] = {}
    for i, v in enumerate(fwd.inputs):
        env[v] = builder.input(v.aval, i in wrt)
    for v, arr in fwd.consts:
        env[v] = builder.const(arr)

    def read(a: Any) -> Any:
        return a.value if isinstance(a, Lit) else env[a]

    plans: dict[Eqn, ScanPlan] = {}  # active scans: what the forward ran (adjoint_control)
    for e in fwd.eqns:
        builder.at(e)
        args = [read(a) for a in e.inputs]
        active = [getattr(x, "requires_grad", False) for x in args]
        if e.op is Op.SCAN and not e.no_grad and any(active):
            plans[e] = scan_plan(e, active, builder.joint)
            env[e.out] = builder.run(plans[e].saving, args)
        else:
            env[e.out] = builder.run(e, args)
    builder.at(None)
    outs = [read(o) for o in fwd.outputs]
    cotangent_of = tuple(
        k for k, o in enumerate(fwd.outputs) if isinstance(o, Var) and env[o].requires_grad
    )
    cts: dict[Atom, Any] = {}  # only Vars: a literal gets no cotangent
    for k in cotangent_of:
        o = fwd.outputs[k]
        ct = builder.input(o.aval, False)
        cts[o] = cts[o] + ct if o in cts else ct  # an output listed twice gets both cotangents
    pruned = {}
    for idx in range(len(fwd.eqns) - 1, -1, -1):
        e = fwd.eqns[idx]
        g = cts.pop(e.out, None)
        if g is None or not env[e.out].requires_grad:
            if id(e) not in inside:
                pruned[idx] = _why(e, env, g is None)
            continue
        builder.at(e)
        pairs: Iterable[tuple[Atom, Any]]
        if e.op is Op.GET:  # a part's cotangent: kept by index until the loop's turn
            parts = cts.setdefault(e.inputs[0], {})
            k = e.attrs["index"]
            parts[k] = parts[k] + g if k in parts else g
            continue
        if e.op in GroupOp.TUPLED:
            needs = tuple(isinstance(a, Var) and env[a].requires_grad for a in e.inputs)
            args = [read(a) for a in e.inputs]
            if e.op is Op.SCAN:
                found = scan_vjp(e, plans[e], g, args, env[e.out], needs, builder)
            elif e.op is Op.COND:
                found = cond_vjp(e, g, args, needs, builder, builder.joint)
            else:
                raise TypeError(WHILE_ERROR)
            pairs = zip(e.inputs, found, strict=True)
        elif e.out in by_out:
            region = by_out[e.out]
            pairs = zip(region.inputs, region.vjp(g, [env[v] for v in region.inputs]), strict=True)
        else:
            shapes = [a.aval.shape for a in e.inputs]
            needs = tuple(isinstance(a, Var) and env[a].requires_grad for a in e.inputs)

            def get_input(i: int, e: Eqn = e) -> Any:
                return read(e.inputs[i])

            def get_out(e: Eqn = e) -> Any:
                return env[e.out]

            ctx = rule_context(e.op, e.attrs, shapes, get_input, get_out, needs)
            pairs = zip(e.inputs, DERIVATIVES[e.op](g, **ctx), strict=True)
        for a, gi in pairs:
            if gi is None or isinstance(a, Lit) or not env[a].requires_grad:
                continue
            gi = conform(gi, a.aval.shape, a.aval.dtype)
            cts[a] = cts[a] + gi if a in cts else gi
    builder.at(None)
    grads = [cts.get(fwd.inputs[i]) for i in wrt]
    reached = tuple(g is not None for g in grads)
    grads = [
        builder.zeros(fwd.inputs[i].aval) if g is None else g
        for i, g in zip(wrt, grads, strict=True)
    ]
    graph = builder.finish(outs + grads)
    return Joint(graph, len(fwd.eqns), len(fwd.outputs), tuple(wrt), cotangent_of, pruned, reached)


def _why(e: Eqn, env: dict[Var, Any], unreached: bool) -> str:
    if e.no_grad:
        return "no_grad"
    if e.op is Op.DETACH:
        return "detach"
    if not any(isinstance(a, Var) and env[a].requires_grad for a in e.inputs):
        return "inactive (depends on no input that requires grad)"
    if unreached:
        return "not on a path to a differentiated output"
    return "output needs no gradient"
