"""CHECK, the run-time assertion op, in the IR: rules, printing, and what the passes do to it."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir import dtypes as D
from adjit.ir.aval import Aval
from adjit.ir.errors import ShapeError
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.ir.parser import parse_graph
from adjit.ir.printer import print_graph
from adjit.ir.shapes import infer
from adjit.passes.fusion import Extern, fuse
from adjit.passes.pipeline import run_pipeline

# a target checked in [0, 4), then doubled; the result is the only output
TEXT = """{ lambda a:i64[3] .
  let b:bool[3] = ge a 0
      c:bool[3] = lt a 4
      d:bool[3] = and b c
      e:i64[3] = check[error='IndexError' message='Target {} is out of bounds.'] a d a
      f:i64[3] = mul e 2
  in (f) }"""


def test_prints_and_parses_back() -> None:
    g = parse_graph(TEXT)
    assert print_graph(g) == TEXT
    assert [e.op for e in g.eqns][3] is Op.CHECK


def test_identity_when_the_condition_holds() -> None:
    (out,) = interpret(parse_graph(TEXT), [np.array([0, 3, 2])])
    np.testing.assert_array_equal(out, [0, 6, 4])


@pytest.mark.parametrize(
    ("values", "message"), [([0, -1, 9], "Target -1 is out of bounds."), ([4, 0, 0], "Target 4 ")]
)
def test_raises_with_the_first_failing_element(values: list[int], message: str) -> None:
    with pytest.raises(IndexError, match=f"^{message}"):
        interpret(parse_graph(TEXT), [np.array(values)])


def test_detail_broadcasts_and_the_first_failure_is_in_c_order() -> None:
    g = parse_graph("""{ lambda a:i64[2,3] b:bool[2,3] .
  let c:i64[2,3] = check[error='RuntimeError' message='index {} bad'] a b a
  in (c) }""")
    ok = np.array([[True, True, True], [True, False, False]])
    with pytest.raises(RuntimeError, match="^index 5 bad$"):
        interpret(g, [np.array([[0, 1, 2], [3, 5, 7]]), ok])
    plain = parse_graph("""{ lambda a:f32[2] b:bool[] .
  let c:f32[2] = check[error='ValueError' message='no'] a b
  in (c) }""")
    with pytest.raises(ValueError, match="^no$"):
        interpret(plain, [np.zeros(2, np.float32), np.array(False)])


def test_shape_rule_refusals() -> None:
    x, ok = Aval((3,), D.float32), Aval((3,), D.bool_)
    assert infer(Op.CHECK, [x, ok], {"error": "IndexError", "message": "m"}) == x
    with pytest.raises(ShapeError, match="condition must be bool"):
        infer(Op.CHECK, [x, x], {"error": "IndexError", "message": "m"})
    with pytest.raises(ShapeError, match="unknown error class 'KeyError'"):
        infer(Op.CHECK, [x, ok], {"error": "KeyError", "message": "m"})
    with pytest.raises(ShapeError, match="must match the size"):
        infer(Op.CHECK, [x, ok, Aval((4,), D.int64)], {"error": "IndexError", "message": "m"})


def test_pipeline_keeps_a_used_check_and_merges_equal_ones() -> None:
    g = parse_graph("""{ lambda a:i64[3] b:bool[3] .
  let c:i64[3] = check[error='IndexError' message='m'] a b
      d:i64[3] = check[error='IndexError' message='m'] a b
      e:i64[3] = add c d
  in (e) }""")
    out, _ = run_pipeline(g)
    assert [e.op for e in out.eqns].count(Op.CHECK) == 1


def test_constant_folding_leaves_a_failing_check_to_run_time() -> None:
    g = parse_graph("""{ lambda a:i64[1] .
  let b:i64[] = check[error='IndexError' message='m'] 5 False
      c:i64[1] = add a b
  in (c) }""")
    out, _ = run_pipeline(g)
    assert Op.CHECK in [e.op for e in out.eqns]
    with pytest.raises(IndexError, match="^m$"):
        interpret(out, [np.array([1])])


def test_fusion_runs_it_outside_generated_kernels() -> None:
    prog = fuse(parse_graph(TEXT))
    assert [s.eqn.op for s in prog.steps if isinstance(s, Extern)] == [Op.CHECK]
    assert all(e.op is not Op.CHECK for k in prog.kernels for e in k.eqns)
