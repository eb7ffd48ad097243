"""``explain(...).to_html`` and ``adjit explain --html``: the drawn traced, joint and fused
programs (Note [explain as a page]), the text page without Graphviz, and a real browser."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from adjit.frontend import explain_html, explain_views

import adjit
from adjit import nn
from adjit.cli import main as cli

needs_dot = pytest.mark.skipif(
    explain_html.find_dot() is None,
    reason="Graphviz's dot is not installed (apt-get install graphviz)",
)


def loss(w: Any, x: Any, y: Any) -> Any:  # README's first example
    return ((x @ w).sigmoid() - y).pow(2).mean()


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x: Any) -> Any:
        with adjit.no_grad():
            scale = x.abs().amax()
        h = adjit.relu(self.conv(x / (scale + 1)))
        return self.fc(h.flatten(1)).sum()


def _data(page: str) -> dict[str, Any]:
    """The page's node details and source lines (its JSON block)."""
    m = re.search(r'<script type="application/json" id="adjit-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m[1])


def _svg_ids(page: str) -> set[str]:
    return {html.unescape(i) for i in re.findall(r'<g id="([^"]+)" class="(?:node|cluster)"', page)}


def _kinds(data: dict[str, Any], view: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for sid, d in data["details"].items():
        if sid.startswith(view + "_"):
            found.setdefault(d["kind"], []).append(d)
    return found


def _self_contained(page: str) -> None:
    """Nothing is fetched: no external scripts, styles, images or imports."""
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page
    assert page.count("</script>") == page.count("<script")  # user text cannot close a script


@pytest.fixture(scope="module")
def readme() -> tuple[Any, str]:
    adjit.manual_seed(0)
    w = adjit.randn(8, 1, requires_grad=True)
    x, y = adjit.randn(64, 8), adjit.rand(64, 1)
    ex = adjit.explain(adjit.compile(loss, backend="llvm"), w, x, y)
    return ex, ex.to_html() if explain_html.find_dot() else ""


@needs_dot
def test_readme_example_draws_every_program(readme: tuple[Any, str], tmp_path: Path) -> None:
    ex, page = readme
    _self_contained(page)
    data, ids = _data(page), _svg_ids(page)
    assert set(data["details"]) == ids  # every drawn node and kernel box has its details
    for view in ("traced", "joint", "forward", "backward"):
        assert f'data-view="{view}"' in page
    # traced: the arguments by name, one node per equation, with IR line, shape, dtype, line
    traced = _kinds(data, "traced")
    assert sorted(d["title"] for d in traced["input"]) == ["w", "x", "y"]
    ops = {d["title"].split(" = ")[1] for d in traced["op"]}
    assert ops == {e.op.name.lower() for e in ex.graph.eqns}
    sig = next(d for d in traced["op"] if d["title"].endswith("= sigmoid"))
    assert sig["ir"] == "e:f32[64,1] = sigmoid d" and sig["ir"] in ex.graph_text
    assert (sig["shape"], sig["dtype"]) == (["64", "1"], "float32")
    line = loss.__code__.co_firstlineno + 1
    assert sig["loc"] == f"{__file__}:{line}"
    source = data["sources"][sig["loc"]]
    assert source["lines"][source["line"] - source["first"]].strip() == (
        "return ((x @ w).sigmoid() - y).pow(2).mean()"
    )
    # joint: cotangent in, gradient equations, the gradient out
    joint = _kinds(data, "joint")
    assert [d["title"] for d in joint["cotangent"]] == ["g"]
    assert len(joint["gradient"]) == len(ex.adjoint.eqns) - ex.plan.joint.n_forward_eqns
    assert "∂/∂w" in [d["title"] for d in joint["output"]]
    # forward/backward: the kernels as boxes with formula, LLVM IR and assembly; saved and
    # recomputed values marked
    for program in ("forward", "backward"):
        kernels = _kinds(data, program)["kernel"]
        assert [d["title"] for d in kernels] == [
            f"{p}/{k.name}" for p, k in ex.kernels if p == program
        ]
        for d in kernels:
            assert d["formula"] and "define" in d["llvm"] and d["asm"].strip()
            assert d["llvm"] == ex.llvm_ir[d["title"]] and d["asm"] == ex.asm[d["title"]]
    assert "σ(x@w)" in data["details"]["backward_k_k1"]["formula"]
    assert [d["title"] for d in _kinds(data, "forward")["saved"]] == ["%e = sigmoid"]
    assert _kinds(data, "backward")["recomputed"][0]["title"].endswith("= sub")
    fused = [d for d in data["details"].values() if d.get("kernel") == "backward_k_k1"]
    assert len(fused) == 7 and all(d["kind"] in ("op", "recomputed") for d in fused)
    assert data["details"]["backward_k_k1"]["ir"] == "\n".join(d["ir"] for d in fused)
    assert [d["title"] for d in _kinds(data, "backward")["extern"]][-1].endswith("= matmul")
    # the pass list with times and equation counts, the guards
    for name, seconds, g in ex.passes:
        assert f"<td>{name}</td><td>{seconds * 1e3:.2f}</td><td>{len(g.eqns)}</td>" in page
    for guard in ex.guards:
        assert f"<code>{guard}</code>" in page
    path = tmp_path / "page.html"
    assert ex.to_html(path) == path.read_text(encoding="utf-8")


@needs_dot
def test_cnn_marks_pruned_equations_with_the_reason() -> None:
    adjit.manual_seed(0)
    model = CNN()
    ex = adjit.explain(adjit.compile(model, backend="llvm"), adjit.randn(2, 3, 6, 6))
    page = ex.to_html()
    _self_contained(page)
    data = _data(page)
    traced = _kinds(data, "traced")
    assert [d["title"] for d in traced["parameter"]] == [
        "conv.weight", "conv.bias", "fc.weight", "fc.bias"
    ]  # fmt: skip
    pruned = {d["title"].split(" = ")[1]: d["note"] for d in traced["pruned"]}
    assert pruned["abs"] == pruned["amax"] == "pruned: no_grad"
    assert pruned["unfold"].startswith("pruned: inactive")  # the scaled image needs no grad
    assert len(traced["pruned"]) == len(ex.pruned)
    assert "pruned: no_grad" in page  # in the drawing, not only in the details
    joint = _kinds(data, "joint")  # (its forward half is the traced graph, equation by equation)
    assert [d["note"] for d in joint["pruned"]] == [d["note"] for d in traced["pruned"]]
    assert [d["loc"] for d in joint["pruned"]] == [d["loc"] for d in traced["pruned"]]
    forward = [d for ds in _kinds(data, "forward").values() for d in ds]
    relu = next(d for d in forward if d["title"].endswith("= relu"))
    assert relu["kind"] == "saved" and relu["note"] == "saved as h"  # the backward reads it
    kernel = data["details"][relu["kernel"]]
    assert kernel["kind"] == "kernel" and "relu" in kernel["ir"] and kernel["formula"]
    line = data["sources"][relu["loc"]]
    assert line["lines"][line["line"] - line["first"]].strip() == (
        "h = adjit.relu(self.conv(x / (scale + 1)))"
    )
    assert [d["title"] for d in _kinds(data, "backward")["extern"]].count("%x = matmul") <= 1


@needs_dot
def test_transformer_block_names_parameters_and_residuals() -> None:
    adjit.manual_seed(0)
    block = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    x = adjit.randn(2, 3, 8)

    def step(x: Any) -> Any:
        return block(x).sum()

    ex = adjit.explain(adjit.compile(step, backend="llvm"), x)
    page = ex.to_html()
    _self_contained(page)
    data = _data(page)
    params = [d["title"] for d in _kinds(data, "traced")["parameter"]]
    assert sorted(params) == sorted(n for n, _ in block.named_parameters())
    saved = _kinds(data, "backward")["saved"]
    assert [d["title"] for d in saved] == [r.name for r in ex.saved]
    grads = {d["title"] for d in _kinds(data, "backward")["output"]}
    assert grads == {f"∂/∂{n}" for n in params}
    kernels = _kinds(data, "backward")["kernel"]
    assert len(kernels) == sum(p == "backward" for p, _ in ex.kernels) >= 3
    assert all(d["locs"] == [f"{__file__}:{step.__code__.co_firstlineno + 1}"] for d in kernels)
    assert "return block(x).sum()" in json.dumps(data["sources"])


def test_without_dot_the_page_is_the_text_view(
    readme: tuple[Any, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    ex, _ = readme
    monkeypatch.setattr(explain_html, "find_dot", lambda: None)
    with pytest.warns(UserWarning, match="Graphviz's `dot` was not found"):
        page = ex.to_html(tmp_path / "text.html")
    assert html.escape(explain_html.NO_DOT) in page and "<svg" not in page
    assert "== graph IR" in page and "sigmoid" in page  # explain's text, whole
    assert 'data-first="text"' in page
    script = tmp_path / "loss.py"
    script.write_text("def loss(w, x, y):\n    return ((x @ w).sigmoid() - y).pow(2).mean()\n")
    out = tmp_path / "cli.html"
    args = ["explain", f"{script}:loss", "--arg", "w=f32[8,1]", "--arg", "x=f32[64,8]"]
    args += ["--arg", "y=f32[64,1]", "--requires-grad", "w", "--html", str(out)]
    assert cli(args) == 0
    printed = capsys.readouterr()
    assert f"wrote {out}" in printed.out
    assert "adjit explain --html: Graphviz's `dot` was not found" in printed.err
    assert html.escape(explain_html.NO_DOT) in out.read_text(encoding="utf-8")


@needs_dot
def test_cli_html_draws_the_programs(tmp_path: Path, capsys: Any) -> None:
    script = tmp_path / "fn.py"
    script.write_text("def f(x):\n    return (x.sin() * 2).sum()\n")
    out = tmp_path / "f.html"
    assert cli(["explain", f"{script}:f", "--arg", "x=f32[3,4]", "--html", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.out.strip().startswith(f"wrote {out}") and not printed.err
    page = out.read_text(encoding="utf-8")
    assert "== brief" not in printed.out  # --html alone writes the page, prints no section
    data = _data(page)
    assert 'data-first="forward"' in page and "joint_" not in json.dumps(list(data["details"]))
    sources = data["sources"][f"{script}:2"]
    assert (
        sources["lines"][sources["line"] - sources["first"]].strip() == "return (x.sin() * 2).sum()"
    )


@needs_dot
def test_user_text_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    def tricky(x: Any) -> Any:
        return x.exp().sum()  # </script><b>"&

    ex = adjit.explain(adjit.compile(tricky), adjit.randn(3, requires_grad=True))
    page = ex.to_html()
    _self_contained(page)
    assert "<b>" not in page
    lines = [line for s in _data(page)["sources"].values() for line in s["lines"]]
    assert any(line.endswith('# </script><b>"&') for line in lines)
    monkeypatch.setattr(explain_html, "find_dot", lambda: None)
    with pytest.warns(UserWarning):
        page = ex.to_html()
    _self_contained(page)
    assert "<b>" not in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@needs_dot
def test_long_edges_become_references(
    readme: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Note [long edges]: past the budget, the longest edges are drawn as a reference next to
    their reader, which stands for the value (its details, and where it is)."""
    ex, page = readme
    monkeypatch.setattr(explain_html, "SPAN_BUDGET", 3)
    views, _ = explain_views.views(ex)
    drawn = _data(page)["details"]  # (the README page keeps every edge)
    assert not any(d["kind"] == "ref" for d in drawn.values())
    for view in views:
        kept = [(a, b) for a, b in view.edges if not a.startswith("ref")]
        spans = [view.order[b] - view.order[a] for a, b in kept]
        assert sum(spans) <= 3 or max(spans) <= 1  # (an edge to the next node is kept)
        refs = [d for d in view.details.values() if d["kind"] == "ref"]
        assert refs and {b for a, b in view.edges if a.startswith("ref")}
        for d in refs:
            origin = drawn[d["ref"]]
            assert d["ir"] == origin["ir"]
            assert d["title"] == origin["title"].split(" = ")[0] + " (drawn further up)"
    traced = next(v for v in views if v.key == "traced")
    edges = {(a, b) for a, b in traced.edges}
    assert ("%a", "%d") not in edges and any(b == "%d" and a.startswith("ref") for a, b in edges)


@needs_dot
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_page_runs_in_headless_chromium(
    readme: tuple[Any, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's script initialises without errors and a click on a node and on a kernel box
    of every view shows its details, a reference the value's (the page's #selftest clicks)."""
    ex, page = readme
    monkeypatch.setattr(explain_html, "SPAN_BUDGET", 3)  # (with references, Note [long edges])
    for k, (text, clicks) in enumerate([(page, 6), (ex.to_html(), 6 + 4)]):
        _chromium(text, clicks, tmp_path / str(k))


def _chromium(page: str, clicks: int, tmp_path: Path) -> None:
    tmp_path.mkdir()
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    run = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            f"{path.as_uri()}#selftest",
        ],  # fmt: skip
        capture_output=True,
        timeout=120,
        check=True,
    )
    dom = run.stdout.decode()
    assert '<div id="adjit-status" data-state="ready"' in dom
    errors = re.search(r'<pre id="adjit-errors"[^>]*>(.*?)</pre>', dom, re.S)
    assert errors is not None and errors[1] == ""
    test = re.search(r'<div id="adjit-selftest"[^>]*data-ok="(\d+)" data-failed="([^"]*)"', dom)
    assert test is not None and test[2] == ""
    assert int(test[1]) == clicks  # a node in each of 4 views, a kernel box in 2, references
