"""Dead code elimination: drop equations and consts whose values reach no graph output."""

from __future__ import annotations

from dataclasses import replace

from ..ir.control import has_effects, tuple_aval
from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import GroupOp, Op


def dce(graph: Graph) -> Graph:
    """``graph`` without the equations and consts no output depends on (inputs all stay: the
    signature is fixed). Every op but the effects is pure, so an unused result is never needed;
    an effect (a draw: Note [random numbers in compiled code]) always stays, and so does a loop
    or branch whose body draws. A scan's stacked ys nobody reads are dropped from its body
    (Note [dead ys of a scan])."""
    live: set[Var] = {o for o in graph.outputs if isinstance(o, Var)}
    parts: dict[Var, set[int]] = {}  # a tuple's parts read by live ``get``s
    kept = []
    for e in reversed(graph.eqns):
        effect = e.op in GroupOp.EFFECTS or (e.op in GroupOp.TUPLED and has_effects(e.attrs))
        if e.out in live or effect:
            kept.append(e)
            live.update(a for a in e.inputs if isinstance(a, Var))
            if e.op is Op.GET:
                parts.setdefault(e.inputs[0], set()).add(e.attrs["index"])  # type: ignore[arg-type]
    consts = tuple((v, arr) for v, arr in graph.consts if v in live)
    kept.reverse()
    kept = _drop_dead_ys(kept, parts)
    same = len(kept) == len(graph.eqns) and len(consts) == len(graph.consts)
    if same and all(a is b for a, b in zip(kept, graph.eqns, strict=True)):
        return graph
    return graph.replace(eqns=tuple(kept), consts=consts)


# Note [dead ys of a scan]: a stacked y that no ``get`` reads is still computed and copied into
# its stack every iteration; dropping it from the body's outputs (and the body's equations
# only it needed) changes the tuple's parts, so the ``get``s of the scan are renumbered.
# Carries stay (each iteration reads the last), as do a body that draws (an effect).
def _drop_dead_ys(eqns: list[Eqn], parts: dict[Var, set[int]]) -> list[Eqn]:
    renamed: dict[Var, tuple[Var, dict[int, int]]] = {}
    out = []
    for e in eqns:
        if e.op is Op.GET and e.inputs[0] in renamed:
            new_tuple, index = renamed[e.inputs[0]]  # type: ignore[index]
            out.append(replace(e, inputs=(new_tuple,), attrs={"index": index[e.attrs["index"]]}))
            continue
        if e.op is Op.SCAN and not has_effects(e.attrs):
            body: Graph = e.attrs["body"]
            c, used = e.attrs["n_carry"], parts.get(e.out, set())
            keep = [k for k in range(len(body.outputs)) if k < c or k in used]
            if len(keep) < len(body.outputs):
                body = dce(body.replace(outputs=tuple(body.outputs[k] for k in keep)))
                aval = tuple_aval([e.out.aval.parts[k] for k in keep])  # type: ignore[attr-defined]
                new = replace(e, attrs={**e.attrs, "body": body}, out=Var(aval))
                renamed[e.out] = (new.out, {k: n for n, k in enumerate(keep)})
                e = new
        out.append(e)
    return out
