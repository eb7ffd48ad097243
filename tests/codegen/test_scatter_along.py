"""SCATTER_ADD's loop that reads the index itself (Note [scatter along an axis]) gives the bits
of the loop over offsets and of the NumPy rule, and the rule's IndexError out of range."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir.aval import Aval
from adjit.ir.dtypes import from_numpy_dtype
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.runtime import index_steps
from adjit.runtime.executor import compile_program

RNG = np.random.default_rng(3)

# (name, out shape, axis, index, src shape = index shape)
CASES = [
    ("cross_entropy", (128, 10), 1, RNG.integers(0, 10, (128, 1))),
    ("duplicates_rows", (4, 6), 1, RNG.integers(-6, 6, (4, 9))),
    ("axis0", (5, 3), 0, RNG.integers(-5, 5, (7, 3))),
    ("narrower", (5, 6, 4), 2, RNG.integers(0, 4, (3, 6, 5))),
    ("middle", (3, 7, 2), 1, RNG.integers(-7, 7, (2, 9, 2))),
    ("one_d", (6,), 0, RNG.integers(-6, 6, (11,))),
    ("empty", (3, 5), 0, np.zeros((0, 5), np.int64)),
]


def _program(shape, axis, index, dtype):
    src = RNG.standard_normal(index.shape) if np.dtype(dtype).kind == "f" else None
    if src is None:
        src = RNG.integers(-50, 50, index.shape)
    src = src.astype(dtype)
    ins = [Var(Aval(a.shape, from_numpy_dtype(a.dtype))) for a in (src, index)]
    out = Var(Aval(shape, from_numpy_dtype(np.dtype(dtype))))
    eqn = Eqn(Op.SCATTER_ADD, tuple(ins), {"axis": axis, "shape": shape}, out)
    g = Graph(tuple(ins), (eqn,), (out,))
    return g, [src, np.asarray(index, np.int64)]


def _run(g, operands, along: bool, monkeypatch) -> np.ndarray:
    calls = []
    real = index_steps._scatter_by_offsets

    def spy(*args):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args)

    with monkeypatch.context() as m:
        m.setattr(index_steps, "_scatter_by_offsets", spy)
        if not along:
            key = (np.dtype(operands[0].dtype), np.dtype(operands[1].dtype), False)  # scatter
            m.setattr(index_steps, "_ALONG", {key: None})
        ex = compile_program(g)
        first = ex(operands)[0].copy()
        again = ex(operands)[0].copy()  # the pooled buffer zeroed again
    assert first.tobytes() == again.tobytes()
    assert bool(calls) is not along  # the path asked for was the one taken
    return first


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_along_equals_offsets_and_the_rule(case, dtype, monkeypatch) -> None:
    _, shape, axis, index = case
    g, operands = _program(shape, axis, index, dtype)
    ref = interpret(g, operands)[0]
    along = _run(g, operands, True, monkeypatch)
    offsets = _run(g, operands, False, monkeypatch)
    assert along.tobytes() == offsets.tobytes() == ref.tobytes()


def test_duplicates_add_in_index_order(monkeypatch) -> None:
    # (0 + 1e8) + 1 -> 1e8, then - 1e8 -> 0 in float32 (np.add.at's order); another order: 1
    src = np.array([[1e8, 1.0, -1e8]], np.float32)
    g, operands = _program((1, 4), 1, np.array([[2, 2, 2]]), "float32")
    operands[0] = src
    out = _run(g, operands, True, monkeypatch)
    assert out.tobytes() == interpret(g, operands)[0].tobytes() and out[0, 2] == 0.0


@pytest.mark.parametrize("bad", [10, -11, 2**40, -(2**62)])
def test_out_of_range_raises_the_rules_error(bad: int) -> None:
    index = np.zeros((4, 1), np.int64)
    index[2, 0] = bad
    g, operands = _program((4, 10), 1, index, "float32")
    with pytest.raises(IndexError) as ours:
        compile_program(g)(operands)
    with pytest.raises(IndexError) as rule:
        interpret(g, operands)
    assert str(ours.value) == str(rule.value)
