"""``Explanation.to_html``: the traced, joint and fused programs as clickable Graphviz drawings.

Note [explain as a page]
~~~~~~~~~~~~~~~~~~~~~~~~
``explain(fn, *args).to_html(path)`` (and ``adjit explain ... --html out.html``) writes one
self-contained HTML file: nothing is fetched when it is opened. Each program is a *view*:

- ``traced``: the graph the tracer recorded; equations the adjoint pruned are grey, with why;
- ``joint``: the adjoint's forward+backward graph (gradient equations rose, cotangents red);
- ``forward`` / ``backward``: the split programs as the executors run them, each fused kernel a
  yellow box around the equations it computes (what is outside a box runs as an extern step:
  BLAS, NumPy), residuals saved for backward orange, values the backward recomputes violet.

explain_views.py makes the views, a view becomes DOT text here; Graphviz's ``dot`` lays it out
(``-Tsvg``) and the SVG is embedded in the page (explain_page.py; its HTML, style and script in
explain_assets.py): clicking a node shows its IR line, shape, dtype and source line (with the
text of the file around it), clicking a kernel box its formula (formulas.py), LLVM IR and
assembly. We never lay graphs out ourselves: without ``dot`` on the PATH the page shows
explain's text instead, with a message saying so (``render`` returns it).
"""

from __future__ import annotations

import linecache
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..ir.graph import Eqn, Graph, Lit, Var
from ..ir.printer import _Namer, format_eqn

# kind -> (fill, border, what the legend says)
KINDS: dict[str, tuple[str, str, str]] = {
    "input": ("#cfe8ff", "#3b7dd8", "argument"),
    "parameter": ("#d3f4d3", "#2f9e44", "parameter, buffer or captured tensor"),
    "const": ("#f1f3f5", "#868e96", "constant"),
    "op": ("#ffffff", "#495057", "operation"),
    "extern": ("#e9ecef", "#343a40", "operation run outside generated code (BLAS, NumPy)"),
    "gradient": ("#ffe3e3", "#c92a2a", "gradient operation (joint graph)"),
    "cotangent": ("#ffa8a8", "#c92a2a", "incoming gradient (cotangent)"),
    "saved": ("#ffd8a8", "#e8590c", "saved for backward (residual)"),
    "recomputed": ("#e5dbff", "#7048e8", "recomputed in backward instead of saved"),
    "pruned": ("#f8f9fa", "#adb5bd", "pruned: no gradient code (reason in the node)"),
    "output": ("#ffffff", "#212529", "program output"),
    "kernel": ("#fff9db", "#f08c00", "fused kernel (one generated loop nest)"),
    "ref": ("#ffffff", "#adb5bd", "a value drawn further up (click: go to it)"),
}
SPAN_BUDGET = 20_000  # Note [long edges]
# Note [long edges]
# ~~~~~~~~~~~~~~~~~
# dot routes an edge across every rank between its ends through a virtual node per rank, and
# a joint graph reads forward values far down in its backward: resnet18's (1,905 nodes) has
# edges spanning 433,000 positions, and dot took over two minutes. A view whose edges span
# more than SPAN_BUDGET positions in all (in the order the nodes were added, which is program
# order) draws its longest edges as a reference instead: a small dashed node ``↑ %x`` next to
# the reader; clicking it selects ``%x`` and scrolls to it. Smaller graphs keep every edge.
MAX_NODES = 3000  # a bigger view is shown as text (dot's layout time grows fast past this)
DOT_TIMEOUT = 120.0  # seconds per view
SOURCE_CONTEXT = 2  # lines of the user's file shown around a node's line


@dataclass
class View:
    """One drawn program: DOT statements, and the details a click shows, by SVG id."""

    key: str
    title: str
    caption: str
    text: str  # the program as IR text (shown when it cannot be drawn)
    nodes: list[str] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    order: dict[str, int] = field(default_factory=dict)  # node -> when it was added
    clusters: dict[str, list[str]] = field(default_factory=dict)  # cluster id -> its nodes
    cluster_attrs: dict[str, str] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    svg: str | None = None
    problem: str | None = None  # why it is not drawn

    def node(self, nid: str, label: str, kind: str, detail: dict[str, Any], in_: str = "") -> str:
        sid = self.sid(nid)  # (no '-' or '%' in ids: dot would escape them)
        fill, border, _ = KINDS[kind]
        style = "filled,dashed" if kind in ("pruned", "recomputed", "ref") else "filled"
        style += ",rounded" if kind not in ("extern", "output") else ""
        extra = ' fontcolor="#868e96"' if kind == "pruned" else ""
        extra += " penwidth=2" if kind in ("saved", "output") else ""
        extra += ' fontsize=9 fontcolor="#495057"' if kind == "ref" else ""
        shape = "ellipse" if kind == "output" else "box"
        line = (
            f"{_q(nid)} [id={_q(sid)} label={_q(label)} shape={shape} style={_q(style)} "
            f'fillcolor="{fill}" color="{border}"{extra}]'
        )
        (self.clusters.setdefault(in_, []) if in_ else self.nodes).append(line)
        self.details[sid] = {"kind": kind, **detail}
        self.order[nid] = len(self.order)
        return nid

    def sid(self, nid: str) -> str:
        return f"{self.key}_{'v_' + nid[1:] if nid.startswith('%') else nid}"

    def shorten(self) -> None:
        """Draw the longest edges as references next to their reader (Note [long edges])."""
        span = {e: self.order[e[1]] - self.order[e[0]] for e in self.edges}
        total = sum(span.values())
        cut: set[tuple[str, str]] = set()
        for e in sorted(self.edges, key=lambda e: -span[e]):
            if total <= SPAN_BUDGET or span[e] <= 1:
                break
            cut.add(e)
            total -= span[e]
        kept = []
        for k, (a, b) in enumerate(self.edges):
            if (a, b) not in cut:
                kept.append((a, b))
                continue
            origin = self.details[self.sid(a)]
            name = origin["title"].split(" = ")[0]
            detail = {**origin, "title": f"{name} (drawn further up)", "ref": self.sid(a)}
            ref = self.node(f"ref{k}", f"↑ {name}", "ref", detail)
            self.details[self.sid(ref)]["kind"] = "ref"
            kept.append((ref, b))
        self.edges = kept

    def kernel(self, cid: str, label: str, detail: dict[str, Any]) -> str:
        sid = f"{self.key}_k_{cid}"
        fill, border, _ = KINDS["kernel"]
        self.cluster_attrs[cid] = (
            f'id={_q(sid)} label={_q(label)} style="filled,rounded" fillcolor="{fill}" '
            f'color="{border}" penwidth=1.5 fontname="Helvetica-Bold" fontsize=11 labeljust=l'
        )
        self.clusters.setdefault(cid, [])
        self.details[sid] = {"kind": "kernel", **detail}
        return sid

    @property
    def size(self) -> int:
        return len(self.nodes) + sum(len(v) for v in self.clusters.values())

    def dot(self) -> str:
        lines = [
            "digraph G {",
            '  graph [rankdir=TB nodesep=0.18 ranksep=0.32 bgcolor="transparent" '
            'fontname="Helvetica"]',
            '  node [fontname="Helvetica" fontsize=10 height=0.3 margin="0.08,0.03"]',
            '  edge [color="#868e96" arrowsize=0.6]',
        ]
        lines += [f"  {n}" for n in self.nodes]
        for cid, members in self.clusters.items():
            lines.append(f"  subgraph {_q('cluster_' + cid)} {{ {self.cluster_attrs[cid]}")
            lines += [f"    {n}" for n in members]
            lines.append("  }")
        lines += [f"  {_q(a)} -> {_q(b)}" for a, b in self.edges]
        lines.append("}")
        return "\n".join(lines)


def _q(text: str) -> str:
    """A DOT string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def find_dot() -> str | None:
    """The Graphviz ``dot`` executable, or None."""
    return shutil.which("dot")


NO_DOT = (
    "Graphviz's `dot` was not found on the PATH, so the graphs are not drawn: install Graphviz "
    "(apt-get install graphviz, brew install graphviz, conda install graphviz) and write the "
    "page again. Below is explain's text view."
)


def layout(views: list[View], dot: str) -> None:
    """Fill each view's ``svg`` with dot's layout (or ``problem`` when it cannot be drawn)."""

    def one(v: View) -> None:
        if v.size > MAX_NODES:
            v.problem = f"{v.size} nodes: too many to draw (at most {MAX_NODES}); the IR text:"
            return
        try:
            run = subprocess.run(
                [dot, "-Tsvg"],
                input=v.dot().encode(),
                capture_output=True,
                timeout=DOT_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            v.problem = f"dot failed ({e}); the IR text:"
            return
        if run.returncode != 0:
            v.problem = f"dot failed: {run.stderr.decode(errors='replace').strip()}; the IR text:"
            return
        svg = run.stdout.decode()
        v.svg = svg[svg.index("<svg") :]  # without the XML prolog and DOCTYPE

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, views))


# ---- what each view shows ---------------------------------------------------------------------
@dataclass
class Roles:
    """How one program's values are drawn: kinds and names of inputs and outputs, the kind of
    each equation (by index) with a note, and which kernel computes it."""

    inputs: list[tuple[str, str]]  # (kind, name) per graph input
    outputs: list[str]  # name per graph output
    eqn_kind: Callable[[int, Eqn], tuple[str, str]]  # -> (kind, note for the label)
    kernel_of: dict[Eqn, str] = field(default_factory=dict)  # eqn -> cluster id


def draw(view: View, g: Graph, roles: Roles, sources: dict[str, Any]) -> View:
    """Add ``g``'s values and equations to ``view`` as nodes (named as ``str(g)`` names them)."""
    namer = _Namer()
    node_of: dict[Var, str] = {}
    for i, v in enumerate(g.inputs):
        kind, name = roles.inputs[i] if i < len(roles.inputs) else ("input", f"input {i}")
        ir = namer.typed(v)
        label = f"{name}\n{ir}" if name else ir
        detail = {"title": name or ir, "ir": f"input {ir}", **_aval(v)}
        node_of[v] = view.node("%" + namer(v), label, kind, detail)
    for v, _ in g.consts:
        ir = namer.typed(v)
        node_of[v] = view.node("%" + namer(v), f"const\n{ir}", "const", {"title": ir, **_aval(v)})
    for i, e in enumerate(g.eqns):
        ir = format_eqn(e, namer)
        kind, note = roles.eqn_kind(i, e)
        if kind == "op" and roles.kernel_of and e not in roles.kernel_of:
            kind = "extern"
        op = e.op.name.lower()
        short = note.split(" (")[0][:40]  # (the whole reason is in the details)
        label = f"{op}\n{namer.typed(e.out)}" + (f"\n{short}" if short else "")
        detail = {"title": f"%{namer(e.out)} = {op}", "ir": ir, "loc": e.loc, **_aval(e.out)}
        if note:
            detail["note"] = note
        if e.no_grad:
            detail["no_grad"] = True
        cluster = roles.kernel_of.get(e, "")
        if cluster:  # (its IR in the names of the drawing, as the formulas name values)
            detail["kernel"] = f"{view.key}_k_{cluster}"
            lines = view.details[detail["kernel"]].setdefault("ir", "")
            view.details[detail["kernel"]]["ir"] = f"{lines}\n{ir}" if lines else ir
        _source(e.loc, sources)
        nid = view.node("%" + namer(e.out), label, kind, detail, cluster)
        for a in dict.fromkeys(a for a in e.inputs if isinstance(a, Var)):
            if a in node_of:  # (a body's own values are inside its attrs, not drawn)
                view.edges.append((node_of[a], nid))
        node_of[e.out] = nid
    for k, o in enumerate(g.outputs):
        name = roles.outputs[k] if k < len(roles.outputs) else f"output {k}"
        if not name:
            continue
        value = repr(o.value) if isinstance(o, Lit) else namer.typed(o)
        oid = view.node(f"out{k}", name, "output", {"title": name, "ir": f"output {value}"})
        if isinstance(o, Var) and o in node_of:
            view.edges.append((node_of[o], oid))
    view.shorten()
    return view


def _aval(v: Var) -> dict[str, Any]:
    aval = v.aval
    return {"aval": str(aval), "shape": [str(d) for d in aval.shape], "dtype": aval.dtype.name}


def _source(loc: str | None, sources: dict[str, Any]) -> None:
    """Record the user's lines around ``loc`` (``file:line``) once per location."""
    if not loc or loc in sources:
        return
    path, _, number = loc.rpartition(":")
    if not number.isdigit():
        return
    line = int(number)
    first = max(1, line - SOURCE_CONTEXT)
    text = [
        linecache.getline(path, n).rstrip("\n") for n in range(first, line + SOURCE_CONTEXT + 1)
    ]
    while text and not text[-1]:
        text.pop()
    if text:
        sources[loc] = {"file": path, "line": line, "first": first, "lines": text}
