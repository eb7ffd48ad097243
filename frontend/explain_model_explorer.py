"""``Explanation.to_model_explorer``: traced, forward, backward graphs as Model Explorer JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..ir.graph import Graph, Var
from ..ir.printer import _Namer, format_eqn
from .saved import _source_line

# Note [model explorer export]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# Google's Model Explorer (pip package ``ai-edge-model-explorer``, adjit's optional extra
# ``[view]``) opens a JSON file holding one GraphCollection (its graph_builder.py and the
# viewer's loadGraphsJson): ``{"label": ..., "graphs": [Graph, ...]}``, a Graph being
# ``{"id", "nodes": [GraphNode], "groupNodeAttributes"}``, a GraphNode
# ``{"id", "label", "namespace", "attrs": [{"key", "value"}], "incomingEdges":
# [{"sourceNodeId", "sourceNodeOutputId", "targetNodeInputId"}], "outputsMetadata":
# [{"id", "attrs"}]}``. adjit writes up to four graphs:
#   traced     the graph the tracer recorded, every equation with its source line; with a
#              gradient, the equations pruned from it (no gradient code) say why
#   segment i  (a function with graph breaks, instead of the rest) each compiled segment
#   differentiated  (only when a stability rewrite changed the traced graph) the graph the
#              adjoint differentiated, with the pruned marks
#   forward    the program that runs (the llvm backend's, else fusion's grouping), each
#   backward   equation in the namespace of the fused kernel it belongs to (``k3``; extern
#              steps stay at the top level, their ``kernel`` attr says so), so the viewer
#              draws a box per kernel that expands to its equations; the group's attributes
#              give the kernel's iteration space and formula; residuals are marked in the
#              forward and named in both
# Node ids are ``in<i>`` (graph inputs), ``c<i>`` (constants), ``e<i>`` (equations) and
# ``out<i>`` (outputs), unique within their graph; every edge's source is a node of the graph.
# Each node's attrs: ``ir`` (the equation as explain prints it), ``shape``, ``dtype``,
# ``source`` (file:line) and ``source_text``, plus ``pruned``/``saved``/``kernel`` marks;
# inputs, residuals, pruned equations, constants and outputs are coloured (``style``, STYLES).


def _kv(key: str, value: Any) -> dict[str, str]:
    return {"key": key, "value": str(value)}


# node kind -> Model Explorer GraphNodeStyle (background, border): the colours the viewer draws
STYLES = {
    "input": ("#e7f5ff", "#1c7ed6"),
    "saved": ("#fff3bf", "#f08c00"),
    "pruned": ("#f1f3f5", "#adb5bd"),
    "output": ("#ebfbee", "#2f9e44"),
    "constant": ("#f8f9fa", "#868e96"),
}


def _node(nid: str, label: str, kind: str, attrs: list, edges: list, ns: str = "") -> dict:
    node: dict[str, Any] = {"id": nid, "label": label, "namespace": ns, "attrs": attrs}
    node["incomingEdges"] = edges
    if kind in STYLES:
        bg, border = STYLES[kind]
        node["style"] = {"backgroundColor": bg, "borderColor": border, "hoveredBorderColor": border}
    return node


def _outputs(v: Var, tag: str) -> list[dict[str, Any]]:
    attrs = [_kv("shape", list(v.aval.shape)), _kv("dtype", v.aval.dtype.name)]
    return [{"id": "0", "attrs": [*attrs, _kv("__tensor_tag", tag)]}]


def graph_json(
    gid: str,
    g: Graph,
    input_names: Sequence[str],
    *,
    steps: Sequence[Any] = (),
    pruned: dict[int, str] | None = None,
    saved: set[Var] | frozenset[Var] = frozenset(),
    output_labels: Sequence[str] = (),
) -> dict[str, Any]:
    """One Model Explorer Graph of ``g`` (Note [model explorer export])."""
    namer = _Namer()
    ids: dict[Var, str] = {}
    nodes: list[dict[str, Any]] = []
    for i, v in enumerate(g.inputs):
        ids[v] = f"in{i}"
        name = v.hint or (input_names[i] if i < len(input_names) else namer(v))
        kind = "saved" if v in saved else "input"
        attrs = [_kv("kind", kind), _kv("ir", namer.typed(v)), _kv("name", name)]
        attrs += [_kv("shape", list(v.aval.shape)), _kv("dtype", v.aval.dtype.name)]
        node = _node(ids[v], f"{kind} {name}", kind, attrs, [])
        nodes.append(node | {"outputsMetadata": _outputs(v, name)})
    for i, (v, value) in enumerate(g.consts):
        ids[v] = f"c{i}"
        attrs = [_kv("kind", "constant"), _kv("ir", namer.typed(v)), _kv("value", value)]
        node = _node(ids[v], "constant", "constant", attrs, [])
        nodes.append(node | {"outputsMetadata": _outputs(v, namer(v))})
    where: dict[int, str] = {}  # id(eqn) -> namespace
    groups: dict[str, dict[str, str]] = {}
    for step in steps:
        if hasattr(step, "eqns"):
            ns = step.name
            eqns = [*step.eqns, *getattr(step, "scalar_eqns", ())]
            groups[ns] = {
                "kind": "fused kernel",
                "ops": str(len(step.eqns)),
                "iteration space": str(list(step.shape)),
            }
            formula = getattr(step, "formula", None)
            if formula:
                groups[ns]["formula"] = str(formula)
        else:  # (top level: one namespace per op name would box unrelated steps together)
            ns, eqns = "", [step.eqn]
        where |= {id(e): ns for e in eqns}
    for j, e in enumerate(g.eqns):
        ids[e.out] = f"e{j}"
        ns = where.get(id(e), "")
        edges = [
            {"sourceNodeId": ids[x], "sourceNodeOutputId": "0", "targetNodeInputId": str(k)}
            for k, x in enumerate(e.inputs)
            if isinstance(x, Var) and x in ids
        ]
        attrs = [_kv("ir", format_eqn(e, namer))]
        attrs += [_kv("shape", list(e.out.aval.shape)), _kv("dtype", e.out.aval.dtype.name)]
        if e.loc:
            attrs += [_kv("source", e.loc), _kv("source_text", _source_line(e.loc).strip())]
        if id(e) in where:
            attrs.append(_kv("kernel", ns or f"extern step ({e.op.name.lower()})"))
        if pruned is not None and j in pruned:
            attrs.append(_kv("pruned", f"no gradient code: {pruned[j]}"))
        if e.out in saved:
            attrs.append(_kv("saved", "kept for backward (a residual)"))
        kind = "saved" if e.out in saved else "pruned" if pruned and j in pruned else "op"
        node = _node(ids[e.out], e.op.name.lower(), kind, attrs, edges, ns)
        nodes.append(node | {"outputsMetadata": _outputs(e.out, e.out.hint or namer(e.out))})
    for i, out in enumerate(g.outputs):
        label = output_labels[i] if i < len(output_labels) else f"output {i}"
        attrs = [_kv("kind", "output"), _kv("ir", namer(out))]
        edges = (  # a literal output (a constant gradient) has no producer to link
            [{"sourceNodeId": ids[out], "sourceNodeOutputId": "0", "targetNodeInputId": "0"}]
            if isinstance(out, Var) and out in ids
            else []
        )
        nodes.append(_node(f"out{i}", label, "output", attrs, edges))
    return {"id": gid, "nodes": nodes, "groupNodeAttributes": groups}


def to_model_explorer(ex: Any, path: str | Path | None = None) -> dict[str, Any]:
    """The GraphCollection of Note [model explorer export]; written to ``path`` if given."""
    from .formulas import programs

    graphs = []
    names = list(ex.input_names)
    if ex.graph is not None:
        graphs.append(graph_json("traced", ex.graph, names))
    graphs += [graph_json(f"segment {i + 1}", g, []) for i, g in enumerate(ex.segments)]
    if ex.plan is not None:  # what was differentiated: the traced graph after stability rewrites
        j = ex.plan.joint
        n_in = len(j.graph.inputs) - len(j.cotangent_of)
        outs = j.graph.outputs[: j.n_outputs]
        fwd = Graph(j.graph.inputs[:n_in], j.graph.eqns[: j.n_forward_eqns], outs, j.graph.consts)
        same = ex.graph is not None and [e.op for e in fwd.eqns] == [e.op for e in ex.graph.eqns]
        if same:  # no rewrite: mark the traced graph itself
            graphs[0] = graph_json("traced", ex.graph, names, pruned=dict(j.pruned))
        else:
            graphs.append(graph_json("differentiated", fwd, names, pruned=dict(j.pruned)))
    residuals: set[Var] = set()
    labels: dict[str, tuple[list[str], list[str]]] = {"forward": (names, [])}
    if ex.plan is not None:
        split = ex.plan.split
        residuals = set(split.residuals)
        kept = [f"saved {r.name}" for r in ex.saved]
        n_out = len(split.forward.outputs) - len(kept)
        labels["forward"] = (names, [f"output {i}" for i in range(n_out)] + kept)
        n_ct = len(split.backward.inputs) - len(kept) - len(split.saved_inputs)
        ins = [r.name for r in ex.saved] + [_name(names, i) for i in split.saved_inputs]
        grads = [f"grad of {_name(names, i)}" for i in ex.plan.wrt]
        labels["backward"] = (ins + [f"grad of output {k}" for k in range(n_ct)], grads)
    if ex.forward is not None:
        for which, g, _ in programs(ex):
            ins, outs = labels.get(which, ([], []))
            steps = _steps(ex, which, g)
            graphs.append(
                graph_json(which, g, ins, steps=steps, saved=residuals, output_labels=outs)
            )
    data = {"label": f"adjit {ex.name}", "graphs": graphs}
    if path is not None:
        Path(path).write_text(json.dumps(data, indent=1))
    return data


def _name(names: list[str], i: int) -> str:
    return names[i] if i < len(names) else f"input {i}"


def _steps(ex: Any, which: str, g: Graph) -> list[Any]:
    """The executed program's steps (kernels and externs) for ``g``, else fusion's."""
    for name, run in ex._executables():
        if name == which and run.program.graph is g:
            return list(run.program.steps)
    from ..passes.fusion import fuse

    return list(fuse(g).steps)
