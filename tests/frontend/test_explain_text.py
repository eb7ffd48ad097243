"""``adjit.explain`` text views: per-kernel LLVM/assembly listings, named residuals, the brief
summary, and the Model Explorer export (Note [explain summary], Note [model explorer export])."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from adjit.frontend.explain_model_explorer import STYLES

import adjit


def _mlp(x: Any, w1: Any, w2: Any) -> Any:
    h = (x @ w1).relu()
    out = h @ w2
    return (out.tanh() ** 2).mean()


LINE = _mlp.__code__.co_firstlineno


@pytest.fixture(scope="module")
def ex() -> Any:
    adjit.manual_seed(0)
    x = adjit.randn(4, 3)
    w1, w2 = adjit.randn(3, 5, requires_grad=True), adjit.randn(5, 2, requires_grad=True)
    return adjit.explain(adjit.compile(_mlp, backend="llvm"), x, w1, w2)


@pytest.mark.parametrize("attr", ["llvm_ir", "llvm_ir_optimized", "asm"])
def test_llvm_and_asm_print_every_kernel_under_a_header(ex: Any, attr: str) -> None:
    texts = getattr(ex, attr)
    assert isinstance(texts, dict) and list(texts) == [f"{p}/{k.name}" for p, k in ex.kernels]
    shown = str(texts)
    headers = [line for line in shown.splitlines() if line.startswith("-- ")]
    assert headers == [f"-- {name}" for name in texts]
    for name, text in texts.items():  # indexing still gives one kernel's text, shown whole
        assert f"-- {name}\n{text.rstrip()}" in shown
    assert "define " in texts["forward/k0"] if attr != "asm" else "adjit_k0" in texts["forward/k0"]


def test_no_kernels_says_why() -> None:
    ex = adjit.explain(adjit.compile(lambda x: x.sin(), backend="interpreter"), adjit.randn(3))
    assert ex.llvm_ir == {} and "no fused kernels, so no LLVM IR" in str(ex.llvm_ir)
    assert "no fused kernels, so no assembly" in str(ex.asm)


def test_saved_names_each_residual_and_its_line(ex: Any) -> None:
    rows = [(r.name, r.op, r.line, r.source) for r in ex.saved]
    assert rows == [
        ("h", "relu", f"{__file__}:{LINE + 1}", "h = (x @ w1).relu()"),
        # `return` binds no name: the op applied to the user's name of its operand
        ("tanh(out)", "tanh", f"{__file__}:{LINE + 3}", "return (out.tanh() ** 2).mean()"),
    ]
    text = str(ex.saved)
    assert f"h: f32[4,5], 80 bytes (relu)  at {__file__}:{LINE + 1}  | h = (x @ w1).relu()" in text


def test_brief_numbers_are_the_explanations_own(ex: Any) -> None:
    s = ex.summary()
    assert s.eqns == {
        "graph": len(ex.graph.eqns),
        "adjoint": len(ex.adjoint.eqns),
        "optimized": len(ex.optimized.eqns),
        "forward": len(ex.forward.eqns),
        "backward": len(ex.backward.eqns),
    }
    assert (s.saved_count, s.saved_bytes) == (len(ex.saved), ex.saved.bytes) == (2, 112)
    assert s.peak_bytes == ex.saved.peak_bytes and s.kernel_count == len(ex.kernels)
    assert s.pruned == len(ex.pruned) == 0 and s.recomputed == len(ex.recomputed)
    assert s.rewrites == [r for r, _, _ in ex.rewrites] and s.wrt == ["w1", "w2"]
    assert s.compile_seconds == pytest.approx(sum(ex.plan.timings.values()))
    text = ex.brief
    assert text == str(s) and text.startswith("adjit.explain: _mlp")
    eqns = ", ".join(f"{k} {v}" for k, v in s.eqns.items())
    assert f"equations: {eqns}\n" in text
    assert (
        f"saved for backward: 2 residuals, 112 bytes (peak activation memory {s.peak_bytes}" in text
    )
    assert f"fused kernels: {len(ex.kernels)} (forward " in text
    assert "gradient with respect to: w1, w2\n" in text
    assert "pruned (no gradient code): 0 equations" in text
    assert f"compile time (adjoint + optimize + split): {s.compile_seconds * 1e3:.2f} ms" in text


def test_brief_counts_pruned_equations_and_rewrites() -> None:
    def fn(x: Any, y: Any) -> Any:
        with adjit.no_grad():
            s = x * 2
        return (x * y + s).sum() + adjit.log(adjit.sigmoid(y)).sum()

    x, y = adjit.randn(3, dtype=adjit.float64, requires_grad=True), adjit.randn(3).double()
    ex = adjit.explain(fn, x, y)
    s = ex.summary()
    assert s.pruned == len(ex.pruned) >= 1 and s.rewrites == [r for r, _, _ in ex.rewrites]
    assert s.rewrites and f"pruned (no gradient code): {s.pruned} equations" in ex.brief
    assert f"stability rewrites fired: {len(s.rewrites)} ({', '.join(s.rewrites)})" in ex.brief
    assert [eqn for eqn, why in ex.pruned if why == "no_grad"] == ["c:f64[3] = mul a 2"]
    # the export marks them on the graph the adjoint differentiated (the rewritten one)
    data = ex.to_model_explorer()
    _check_schema(data)
    assert [g["id"] for g in data["graphs"]] == ["traced", "differentiated", "forward", "backward"]
    nodes = data["graphs"][1]["nodes"]
    marks = [kv["value"] for n in nodes for kv in n["attrs"] if kv["key"] == "pruned"]
    assert len(marks) == s.pruned and "no gradient code: no_grad" in marks


# ---- Model Explorer export ------------------------------------------------------------------
_NODE_KEYS = {"id", "label", "namespace", "attrs", "incomingEdges"}  # outputsMetadata: optional


def _check_schema(data: dict[str, Any]) -> None:
    """Model Explorer's GraphCollection as its graph_builder.py documents it."""
    assert isinstance(data["label"], str) and isinstance(data["graphs"], list)
    for g in data["graphs"]:
        assert isinstance(g["id"], str) and g["nodes"]
        ids = [n["id"] for n in g["nodes"]]
        assert len(ids) == len(set(ids)), g["id"]  # unique within the graph
        for n in g["nodes"]:
            assert set(n) >= _NODE_KEYS and isinstance(n["label"], str)
            assert all(
                set(kv) == {"key", "value"} and isinstance(kv["value"], str) for kv in n["attrs"]
            )
            assert set(n.get("style", {})) <= {
                "backgroundColor",
                "borderColor",
                "hoveredBorderColor",
            }
            for e in n["incomingEdges"]:
                assert set(e) == {"sourceNodeId", "sourceNodeOutputId", "targetNodeInputId"}
                assert e["sourceNodeId"] in ids  # every edge resolves
        for ns, attrs in g["groupNodeAttributes"].items():
            assert any(n["namespace"] == ns for n in g["nodes"])
            assert all(isinstance(v, str) for v in attrs.values())


def test_model_explorer_json(ex: Any, tmp_path: Path) -> None:
    path = tmp_path / "mlp.json"
    data = ex.to_model_explorer(path)
    assert json.loads(path.read_text()) == data
    _check_schema(data)
    graphs = {g["id"]: g for g in data["graphs"]}
    assert list(graphs) == ["traced", "forward", "backward"]
    traced = {n["id"]: n for n in graphs["traced"]["nodes"]}
    assert [traced[f"in{i}"]["label"] for i in range(3)] == ["input x", "input w1", "input w2"]
    attrs = {kv["key"]: kv["value"] for kv in traced["e1"]["attrs"]}
    assert traced["e1"]["label"] == "relu" and attrs["source"] == f"{__file__}:{LINE + 1}"
    assert attrs["source_text"] == "h = (x @ w1).relu()" and attrs["shape"] == "[4, 5]"
    assert [e["sourceNodeId"] for e in traced["e2"]["incomingEdges"]] == ["e1", "in2"]
    # the fused programs: one namespace per kernel, as many as the executors run
    for which in ("forward", "backward"):
        g = graphs[which]
        names = {k.name for p, k in ex.kernels if p == which}
        assert {n["namespace"] for n in g["nodes"]} - {""} == names == set(g["groupNodeAttributes"])
    fwd = [n["label"] for n in graphs["forward"]["nodes"]]
    bwd = [n["label"] for n in graphs["backward"]["nodes"]]
    assert fwd[-2:] == ["saved h", "saved tanh(out)"] and "grad of w1" in bwd
    assert bwd[:2] == ["saved h", "saved tanh(out)"]
    marked = [
        n for n in graphs["forward"]["nodes"] if any(kv["key"] == "saved" for kv in n["attrs"])
    ]
    assert [n["label"] for n in marked] == ["relu", "tanh"]
    assert all(n["style"]["backgroundColor"] == STYLES["saved"][0] for n in marked)


def test_model_explorer_marks_pruned_equations() -> None:
    def fn(x: Any) -> Any:
        with adjit.no_grad():
            s = x * 2
        return (x.sin() + s).sum()

    data = adjit.explain(fn, adjit.randn(3, requires_grad=True)).to_model_explorer()
    _check_schema(data)
    traced = data["graphs"][0]["nodes"]
    pruned = [n["label"] for n in traced if any(kv["key"] == "pruned" for kv in n["attrs"])]
    assert pruned == ["mul"]


def test_model_explorer_loads_it(ex: Any) -> None:
    gb = pytest.importorskip("model_explorer.graph_builder")
    dacite = pytest.importorskip("dacite")
    data = ex.to_model_explorer()
    collection = dacite.from_dict(gb.GraphCollection, data, config=dacite.Config(strict=True))
    assert [g.id for g in collection.graphs] == ["traced", "forward", "backward"]
    assert collection.graphs[1].nodes[4].namespace == "k0"


def test_graph_breaks_export_each_segment_and_brief_counts_them() -> None:
    def fn(x: Any) -> Any:
        y = x.sin()
        if y.sum().item() > 0:  # a graph break
            return y * 2
        return y * 3

    with pytest.warns(UserWarning, match="graph break"):
        ex = adjit.explain(fn, adjit.randn(3))
    data = ex.to_model_explorer()
    _check_schema(data)
    assert [g["id"] for g in data["graphs"]] == ["segment 1", "segment 2"]
    s = ex.summary()
    assert s.breaks == len(ex.breaks) == 1
    assert s.eqns == {f"segment {i + 1}": len(g.eqns) for i, g in enumerate(ex.segments)}
    assert "graph breaks: 1" in ex.brief and "(nothing)" in str(ex.saved)
