"""The pattern engine's sweeps: one sweep reaches the fixed point unless a rule emitted inner
equations (Note [one sweep] in passes/rewrite.py), and commutative matches backtrack cleanly."""

from __future__ import annotations

from typing import Any

import pytest
from adjit.ir.ops import Op
from adjit.ir.parser import parse_graph
from adjit.ir.printer import print_graph
from adjit.passes import rewrite as rw
from adjit.passes.algebra import algebra
from adjit.passes.dce import dce
from adjit.passes.rewrite import P, Pat, Rule, Term, rewrite
from conftest import normalize

X = Pat(name="x")


def _graph(inputs: str, *lines: str) -> str:
    """IR text: ``inputs``, then equations, then the outputs as the last line."""
    *eqns, outputs = lines
    body = "\n      ".join(eqns)
    return f"{{ lambda {inputs} .\n  let {body}\n  in {outputs} }}"


def _neg(x: Any) -> Term:
    return Term(Op.NEG, (x,), {})


# sin(x) -> cos(neg(neg(x))): the two negs are emitted as built, so only a second sweep can
# fold them (the rules test the engine, not mathematics)
NESTED: list[Rule] = [
    (P(Op.SIN, X), lambda m: Term(Op.COS, (_neg(_neg(m.x)),), {})),
    (P(Op.NEG, P(Op.NEG, X)), lambda m: m.x),
]


@pytest.fixture
def sweeps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the engine's sweeps: ``len(sweeps)``."""
    seen: list[int] = []
    real = rw._sweep

    def counted(*args: Any) -> Any:
        seen.append(1)
        return real(*args)

    monkeypatch.setattr(rw, "_sweep", counted)
    return seen


def test_one_sweep_when_no_rule_emits_inner_equations(sweeps: list[int]) -> None:
    g = parse_graph(
        _graph(
            "a:f32[4] b:f32[4]",
            "c:f32[4] = sin a",
            "d:f32[4] = exp b",
            "e:f32[4] = mul d 1.0",
            "f:f32[4] = mul c e",
            "g:f32[4] = pow a 2",
            "h:f32[4] = mul 1 g",
            "i:f32[4] = add f h",
            "j:f32[4] = neg i",
            "k:f32[4] = neg j",
            "l:f32[4] = mul k 1.0",
            "(l)",
        )
    )
    out = algebra(g)
    assert len(sweeps) == 1
    assert algebra(out) is out  # a fixed point: another run changes nothing
    want = _graph(
        "a:f32[4] b:f32[4]",
        "c:f32[4] = sin a",
        "d:f32[4] = exp b",
        "f:f32[4] = mul c d",
        "g:f32[4] = mul a a",
        "i:f32[4] = add f g",
        "(i)",
    )
    assert print_graph(dce(out)) == normalize(want)


def test_emitted_inner_equations_get_another_sweep(sweeps: list[int]) -> None:
    out = rewrite(parse_graph(_graph("a:f32[4]", "b:f32[4] = sin a", "(b)")), NESTED)
    assert len(sweeps) == 2  # rewrites sin (emitting), then folds the emitted negs
    assert print_graph(dce(out)) == normalize(_graph("a:f32[4]", "b:f32[4] = cos a", "(b)"))
    assert rewrite(out, NESTED) is out


def test_a_failed_commutative_order_leaves_no_bindings() -> None:
    # mul(neg a, a) against mul(x, neg(x)): the first order binds x = neg a, then fails on a;
    # the swapped order must start again from no bindings (else x = neg a would stick)
    rules: list[Rule] = [(P(Op.MUL, X, P(Op.NEG, X)), lambda m: _neg(Term(Op.MUL, (m.x, m.x), {})))]
    g = parse_graph(_graph("a:f32[4]", "b:f32[4] = neg a", "c:f32[4] = mul b a", "(c)"))
    want = _graph("a:f32[4]", "d:f32[4] = mul a a", "e:f32[4] = neg d", "(e)")
    assert print_graph(dce(rewrite(g, rules))) == normalize(want)
