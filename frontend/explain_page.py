"""The HTML page of ``Explanation.to_html``: views, summary tables and a small click script."""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from . import explain_html
from .explain_assets import PAGE, SCRIPT, STYLE
from .explain_html import KINDS, NO_DOT, View, layout
from .explain_views import views


def render(ex: Any) -> tuple[str, str | None]:
    """The page for an Explanation (Note [explain as a page] in explain_html.py), and the
    message saying why it shows text instead of graphs (None when they are drawn)."""
    dot = explain_html.find_dot()
    if ex.graph is None and not ex.segments:  # the whole call runs eagerly: nothing to draw
        found: list[View] = []
        sources: dict[str, Any] = {}
        message = None
    else:
        found, sources = views(ex)
        message = None if dot is not None else NO_DOT
    if dot is not None and found:
        layout(found, dot)
    details = {k: v for view in found for k, v in view.details.items()}
    data = json.dumps({"details": details, "sources": sources}, ensure_ascii=False)
    data = data.replace("<", "\\u003c")  # (inside <script>: no "</script>", no "<!--")
    text = str(ex)
    tabs, panes = [], []
    if message is None:
        for view in found:
            tabs.append(_tab(view.key, view.title))
            panes.append(_view_pane(view))
    tabs += [_tab("summary", "Passes, guards, saved"), _tab("text", "Text")]
    panes += [
        _summary_pane(ex),
        f'<div class="pane" data-view="text"><pre>{escape(text)}</pre></div>',
    ]
    keys = [v.key for v in found] if message is None else []
    first = next((k for k in ("backward", "forward") if k in keys), keys[0] if keys else "text")
    banner = f'<div class="banner" id="adjit-message">{escape(message)}</div>' if message else ""
    if ex.eager_reason:
        banner += f'<div class="banner">runs eagerly (fallback): {escape(ex.eager_reason)}</div>'
    parts = {
        "TITLE": escape(f"adjit.explain: {_short(ex.name)}"),
        "STYLE": STYLE + _kind_css(),
        "HEADER": _header(ex, found),
        "BANNER": banner,
        "LEGEND": "" if message else _legend(found),
        "TABS": "".join(tabs),
        "PANES": "\n".join(panes),
        "FIRST": first,
        "DATA": data,
        "SCRIPT": SCRIPT,
    }  # (one pass: what is filled in is never read again)
    return re.sub(r"%([A-Z]+)%", lambda m: parts[m[1]], PAGE), message


def _short(name: str, width: int = 90) -> str:
    """A module's multi-line repr as one line, at most ``width`` characters."""
    name = " ".join(name.split())
    return name if len(name) <= width else name[: width - 1] + "…"


def _tab(key: str, title: str) -> str:
    return f'<button class="tab" data-view="{key}">{escape(title)}</button>'


def _view_pane(view: View) -> str:
    if view.svg is not None:
        body = f'<div class="graph">{view.svg}</div>'
    else:
        body = (
            f'<div class="banner">{escape(view.problem or "")}</div><pre>{escape(view.text)}</pre>'
        )
    return (
        f'<div class="pane" data-view="{view.key}"><div class="bar">'
        '<button class="zoom" data-z="0.8">−</button><button class="zoom" data-z="1.25">+</button>'
        '<button class="zoom" data-z="fit">fit</button><button class="zoom" data-z="1">1:1</button>'
        f'<span class="caption">{escape(view.caption)}</span></div>{body}</div>'
    )


def _header(ex: Any, found: list[View]) -> str:
    chips = [ex.share]
    kernels = [
        f"{v.key}: {len(v.cluster_attrs)}" for v in found if v.key in ("forward", "backward")
    ]
    if kernels:
        chips.append("fused kernels " + ", ".join(kernels))
    if ex.plan is not None:
        saved = ex.saved
        chips.append(f"saved for backward {len(saved)} values, {saved.bytes} bytes")
        chips.append(f"peak activations {saved.peak_bytes} bytes")
    seconds = sum(v for k, v in ex.timings.items() if not k.startswith("pass "))
    if seconds:
        chips.append(f"compile {seconds * 1e3:.1f} ms")
    return "".join(f'<span class="chip">{escape(c)}</span>' for c in chips)


def _legend(found: list[View]) -> str:
    used = {d["kind"] for v in found for d in v.details.values()}
    return "".join(
        f'<span class="key"><i class="k-{k}"></i>{escape(text)}</span>'
        for k, (_, _, text) in KINDS.items()
        if k in used
    )


def _kind_css() -> str:
    return "".join(
        f".k-{k}{{background:{fill};border-color:{border}}}"
        for k, (fill, border, _) in KINDS.items()
    )


def _table(head: list[str], rows: list[list[Any]]) -> str:
    top = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{top}</tr>{body}</table>"


def _summary_pane(ex: Any) -> str:
    parts = ['<div class="pane summary" data-view="summary">']
    if ex.plan is not None:
        rows, before = [], str(ex.adjoint)
        for name, seconds, g in ex.passes:
            text = str(g)
            rows.append(
                [name, f"{seconds * 1e3:.2f}", len(g.eqns), "" if text == before else "yes"]
            )
            before = text
        parts.append("<h3>Passes</h3>" + _table(["pass", "ms", "equations after", "changed"], rows))
        parts.append(f"<p>joint graph from the adjoint: {len(ex.adjoint.eqns)} equations</p>")
    timings = [[k, f"{v * 1e3:.2f}"] for k, v in ex.timings.items() if not k.startswith("pass ")]
    if timings:
        parts.append("<h3>Compile time</h3>" + _table(["stage", "ms"], timings))
    parts.append(
        "<h3>Guards</h3><ul>"
        + "".join(f"<li><code>{escape(g)}</code></li>" for g in ex.guards)
        + "</ul>"
    )
    if ex.lifted:
        items = "".join(f"<li><code>{escape(t)}</code></li>" for t in ex.lifted)
        parts.append(f"<h3>Lifted tensors (read afresh at every call)</h3><ul>{items}</ul>")
    if ex.plan is not None:
        saved = ex.saved
        rows = [[r.name, r.aval, r.bytes, r.op, r.line or ""] for r in saved]
        parts.append(
            f"<h3>Saved for backward ({saved.bytes} bytes)</h3>"
            + _table(["name", "value", "bytes", "op", "source line"], rows)
            + f"<pre>{escape(str(saved))}</pre>"
        )
        pruned = [[eqn, why] for eqn, why in ex.pruned]
        parts.append(
            "<h3>Pruned (no gradient code)</h3>"
            + (_table(["equation", "why"], pruned) if pruned else "<p>(nothing)</p>")
        )
    if ex.rewrites:
        rows = [[r, loc or "", w] for r, loc, w in ex.rewrites]
        parts.append("<h3>Stability rewrites</h3>" + _table(["rule", "source line", "in"], rows))
    if ex.breaks:
        items = "".join(f"<li>{escape(str(b))}</li>" for b in ex.breaks)
        parts.append(f"<h3>Graph breaks</h3><ol>{items}</ol>")
    parts.append("</div>")
    return "\n".join(parts)
