"""The pipeline driver: order, records, the verifier between passes, printing, the extra slot."""

from __future__ import annotations

import pytest
from adjit.ir.graph import Graph
from adjit.ir.parser import parse_graph
from adjit.ir.printer import print_graph
from adjit.passes.pipeline import FLAGS, PIPELINE, PassError, flag, run_pipeline
from conftest import normalize

TEXT = """{ lambda a:f32[3] .
  let b:f32[3] = pow a 2
      c:f32[3] = mul b 1
      d:f32[3] = mul a a
      e:f32[3] = exp a
      f:f32[3] = add c d
  in (f) }"""

CLEAN = """{ lambda a:f32[3] .
  let b:f32[3] = mul a a
      c:f32[3] = add b b
  in (c) }"""


def _break_ssa(g: Graph) -> Graph:
    return g.replace(eqns=tuple(reversed(g.eqns)))


def test_pipeline_order_and_records() -> None:
    names = ["rule_identities", "fold", "stability", "gemm", "layout", "algebra"]
    names += ["index_writes", "heads", "cse", "dce", "collectives"]
    assert [name for name, _ in PIPELINE] == names
    out, records = run_pipeline(parse_graph(TEXT))
    assert print_graph(out) == normalize(CLEAN)
    assert [r.name for r in records] == names
    assert records[-1].graph is out and all(r.seconds >= 0 for r in records)
    assert [len(r.graph.eqns) for r in records] == [5, 5, 5, 5, 5, 4, 4, 4, 3, 2, 2]


def test_verifier_names_the_pass_that_broke_the_graph() -> None:
    g = parse_graph(TEXT)
    with pytest.raises(PassError, match="pass 'breaker' produced an invalid graph"):
        run_pipeline(g, [("dce", PIPELINE[-1][1]), ("breaker", _break_ssa)])
    with pytest.raises(PassError, match="given an invalid graph"):
        run_pipeline(_break_ssa(g), verify=True)
    run_pipeline(g, [("breaker", _break_ssa)], verify=False)  # off when asked


def test_verify_follows_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    g = parse_graph(TEXT)
    monkeypatch.setenv("ADJIT_VERIFY", "")
    run_pipeline(g, [("breaker", _break_ssa)])
    monkeypatch.setenv("ADJIT_VERIFY", "1")
    with pytest.raises(PassError):
        run_pipeline(g, [("breaker", _break_ssa)])


def test_extra_passes_run_in_the_symbolic_slot() -> None:
    seen: list[int] = []

    def symbolic(g: Graph) -> Graph:
        seen.append(len(g.eqns))
        return g

    out, records = run_pipeline(parse_graph(TEXT), extra=[("symbolic", symbolic)])
    assert [r.name for r in records] == [*(name for name, _ in PIPELINE), "symbolic", "cse", "dce"]
    assert seen == [2]  # it sees the cleaned-up graph
    assert print_graph(out) == normalize(CLEAN)


@pytest.mark.parametrize(
    "setting,shown",
    [("cse", ["cse"]), ("all", [name for name, _ in PIPELINE]), ("", [])],
)
def test_print_after(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setting: str,
    shown: list[str],
) -> None:
    monkeypatch.setenv("ADJIT_PRINT_AFTER", setting)
    run_pipeline(parse_graph(TEXT))
    err = capsys.readouterr().err
    assert [line.split()[3] for line in err.splitlines() if line.startswith("== IR after")] == shown
    if setting == "cse":
        assert "{ lambda a:f32[3] ." in err and "3 equations" in err


def test_flags_are_documented_in_one_table() -> None:
    # every ADJIT_* environment variable the package reads is in the one table
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    used = {
        m
        for folder in ("adjit", "ir", "passes", "codegen", "runtime", "frontend")
        for path in (root / folder).rglob("*.py")
        for m in re.findall(r"ADJIT_[A-Z_]+", path.read_text())
    }
    assert used == set(FLAGS)
    with pytest.raises(AssertionError, match="undocumented"):
        flag("ADJIT_SOMETHING_ELSE")
