"""Every primitive has a batching (vmap) rule, and the rules ask only for the op's attributes."""

from __future__ import annotations

import inspect

import pytest
from adjit.ir.batching import BATCHING
from adjit.ir.ops import Op
from adjit.ir.shapes import SHAPE_RULES


@pytest.mark.parametrize("op", list(Op), ids=lambda op: op.name)
def test_batching_rule(op: Op) -> None:
    assert op in BATCHING, f"{op!r} has no batching rule (ir/batching.py)"


def test_no_stray_entries() -> None:
    assert set(BATCHING) == set(Op)


@pytest.mark.parametrize("op", list(Op), ids=lambda op: op.name)
def test_rule_keywords_are_attributes(op: Op) -> None:
    """A rule's keyword parameters name attributes of its op (its shape rule's keywords)."""
    shape_params = inspect.signature(SHAPE_RULES[op]).parameters.values()
    attrs = {p.name for p in shape_params if p.kind is inspect.Parameter.KEYWORD_ONLY}
    params = list(inspect.signature(BATCHING[op]).parameters.values())
    assert [p.name for p in params[:3]] == ["ctx", "args", "dims"], op
    for p in params[3:]:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.name in attrs, (op, p.name)
