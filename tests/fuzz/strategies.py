"""Hypothesis strategies for whole programs: inputs, then 1-8 statements drawn by op group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from . import elementwise, movement
from .builder import Builder, shapes
from .programs import Program

OpGroup = dict[str, Callable[[Builder], None]]

ELEMENTWISE: OpGroup = {
    "unary": elementwise.unary,
    "binary": elementwise.binary,
    "where": elementwise.where,
}
REDUCTIONS: OpGroup = {"reduction": elementwise.reduction}
MOVEMENT: OpGroup = {
    "reshape": movement.reshape,
    "permute": movement.permute,
    "squeeze_unsqueeze": movement.squeeze_unsqueeze,
    "expand": movement.expand,
    "index": movement.index,
    "matmul": movement.matmul,
}
ALL: OpGroup = {**ELEMENTWISE, **REDUCTIONS, **MOVEMENT}


@st.composite
def programs(
    draw: Callable[..., Any], ops: OpGroup = ALL, max_stmts: int = 8, dtype: str | None = None
) -> Program:
    """A random program over ``ops``; its inputs come from a drawn seed."""
    b = Builder(draw, dtype or draw(st.sampled_from(["float32", "float64"])))
    for _ in range(draw(st.integers(1, 3))):
        b.new_input(draw(shapes()))
    for _ in range(draw(st.integers(1, max_stmts))):
        ops[draw(st.sampled_from(sorted(ops)))](b)
    seed = draw(st.integers(0, 2**32 - 1))
    return Program(b.dtype, b.inputs, b.stmts, seed)
