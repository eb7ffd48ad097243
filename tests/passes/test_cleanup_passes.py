"""Golden tests of dce, cse and constant folding on graphs written as IR text."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir import dtypes as D
from adjit.ir.aval import Aval
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.ops import Op
from adjit.ir.parser import parse_graph
from adjit.ir.printer import print_graph
from adjit.passes.cse import cse, freeze
from adjit.passes.dce import dce
from adjit.passes.fold import fold
from conftest import normalize

CASES = [
    (
        "dce_drops_unused_eqns_and_consts",
        dce,
        """{ lambda a:f32[3] b:f32[3] .
  const c:f32[] = 2.0
  const d:f32[] = 3.0
  let e:f32[3] = mul a c
      f:f32[3] = exp b
      g:f32[3] = add e a
  in (g) }""",
        """{ lambda a:f32[3] b:f32[3] .
  const c:f32[] = 2.0
  let e:f32[3] = mul a c
      g:f32[3] = add e a
  in (g) }""",
    ),
    (
        "dce_keeps_unused_inputs_and_lit_outputs",
        dce,
        "{ lambda a:f32[3] b:f32[3] .\n  let c:f32[3] = exp a\n  in (b, 1.0) }",
        "{ lambda a:f32[3] b:f32[3] .\n  in (b, 1.0) }",
    ),
    (
        "cse_merges_equal_eqns_keeping_the_first",
        cse,
        """{ lambda a:f32[3] b:f32[3] .
  let c:f32[3] = mul a 2  # x.py:1
      d:f32[3] = mul a 2  # x.py:2
      e:f32[3] = add c d
      f:f32[3] = add d c
  in (e, f) }""",
        """{ lambda a:f32[3] b:f32[3] .
  let c:f32[3] = mul a 2  # x.py:1
      e:f32[3] = add c c
  in (e, e) }""",
    ),
    (
        "cse_distinguishes_literal_types_and_signed_zeros",
        cse,
        """{ lambda a:f32[3] .
  let b:f32[3] = mul a 2
      c:f32[3] = mul a 2.0
      d:f32[3] = add a 0.0
      e:f32[3] = add a -0.0
  in (b, c, d, e) }""",
        None,
    ),
    (
        "cse_compares_attrs_structurally",
        cse,
        """{ lambda a:f32[2,3] .
  let b:f32[3] = sum[axes=(0,) keepdim=False] a
      c:f32[3] = sum[axes=(0,) keepdim=False] a
      d:f32[2] = sum[axes=(1,) keepdim=False] a
      e:f64[2,3] = cast[dtype=float64] a
      f:f64[2,3] = cast[dtype=float64] a
      g:f32[2,1,3] = index[spec=(('slice', 0, 2, 1), ('none',))] a
  in (b, c, d, e, f) }""",
        """{ lambda a:f32[2,3] .
  let b:f32[3] = sum[axes=(0,) keepdim=False] a
      d:f32[2] = sum[axes=(1,) keepdim=False] a
      e:f64[2,3] = cast[dtype=float64] a
      g:f32[2,1,3] = index[spec=(('slice', 0, 2, 1), ('none',))] a
  in (b, b, d, e, e) }""",
    ),
    (
        "cse_merges_equal_consts",
        cse,
        """{ lambda a:f32[2] .
  const b:f32[2] = [1.0, 2.0]
  const c:f32[2] = [1.0, 2.0]
  let d:f32[2] = mul a b
      e:f32[2] = mul a c
  in (d, e) }""",
        """{ lambda a:f32[2] .
  const b:f32[2] = [1.0, 2.0]
  let d:f32[2] = mul a b
  in (d, d) }""",
    ),
    (
        "cse_no_grad_and_grad_copies_merge_with_grad",
        cse,
        """{ lambda a:f32[3] .
  let b:f32[3] = exp a  # no_grad
      c:f32[3] = exp a
  in (b, c) }""",
        """{ lambda a:f32[3] .
  let b:f32[3] = exp a
  in (b, b) }""",
    ),
    (
        "fold_evaluates_constant_eqns_with_exact_avals",
        fold,
        """{ lambda a:f32[3] .
  const b:f64[2] = [1.0, 4.0]
  let c:f64[2] = sqrt b
      d:bool[] = eq 2 2
      e:f32[] = div 1 3
      f:i64[] = add 2 3
      g:f32[3] = mul a e
  in (c, d, f, g) }""",
        """{ lambda a:f32[3] .
  const b:f64[2] = [1.0, 4.0]
  const c:f64[2] = [1.0, 2.0]
  const d:bool[] = True
  const e:f32[] = 0.3333333432674408
  const f:i64[] = 5
  let g:f32[3] = mul a e
  in (c, d, f, g) }""",
    ),
    (
        "fold_keeps_growing_and_raising_eqns",
        fold,
        """{ lambda a:f32[3] .
  let b:f32[1000] = expand[shape=(1000,)] 0.0
      c:i64[] = pow 2 -1
  in (b, c) }""",
        None,
    ),
]


@pytest.mark.parametrize("name,run,text,expected", CASES, ids=[c[0] for c in CASES])
def test_golden(name: str, run, text: str, expected: str | None) -> None:  # type: ignore[no-untyped-def]
    g = parse_graph(text)
    before = print_graph(g, source=True)
    out = run(g)
    assert print_graph(g, source=True) == before, f"{name}: the pass changed its input"
    want = normalize(text if expected is None else expected)
    assert print_graph(out) == want
    if expected is None:
        assert out is g, "a pass that changes nothing returns its input"


def test_cse_keeps_the_first_loc() -> None:
    text = """{ lambda a:f32[3] .
  let b:f32[3] = exp a  # f.py:1
      c:f32[3] = exp a  # f.py:2
  in (b, c) }"""
    assert "f.py:1" in print_graph(cse(parse_graph(text)), source=True)


def test_freeze_is_structural() -> None:
    assert freeze({"a": (1, (2, D.float32))}) == freeze({"a": (1, (2, D.float32))})
    assert freeze((1,)) != freeze((True,)) != freeze((1.0,))
    assert freeze(float("nan")) == freeze(float("nan"))
    assert freeze(-0.0) != freeze(0.0)
    assert freeze([1, 2]) != freeze((1, 2))
    hash(freeze({"spec": (("slice", 0, None, 1), ("none",)), "dtype": D.int64}))


def test_cse_skips_eqns_with_unhashable_attrs() -> None:
    a = Var(Aval((3,), D.float32))
    outs = [Var(Aval((3,), D.float32)) for _ in range(2)]
    eqns = tuple(Eqn(Op.EXP, (a,), {"odd": object()}, o) for o in outs)
    g = Graph((a,), eqns, tuple(outs))
    assert len(cse(g).eqns) == 2


def test_fold_result_is_a_fresh_array() -> None:
    g = parse_graph(
        "{ lambda a:f32[2] .\n  const b:f32[2] = [1.0, 2.0]\n  let c:f32[2] = detach b\n  in (c) }"
    )
    (_, b), (_, c) = fold(g).consts
    assert c is not b and not np.shares_memory(b, c)
