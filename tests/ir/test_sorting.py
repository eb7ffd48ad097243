"""ARGSORT and SEARCHSORTED in the IR: print/parse, verify, interpret, and fusion (externs)."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir.errors import ShapeError
from adjit.ir.interpreter import interpret
from adjit.ir.parser import ParseError, parse_graph
from adjit.ir.printer import print_graph
from adjit.ir.verify import verify
from adjit.passes.fusion import Extern, fuse

TEXT = """{ lambda a:f64[2,5] b:f64[2,3] .
  let c:i64[2,5] = argsort[axis=1 descending=True stable=True] a
      d:f64[2,5] = gather[axis=1] a c
      e:i64[2,3] = searchsorted[right=False] d b
  in (c, e) }"""


def test_prints_and_parses_back() -> None:
    assert print_graph(verify(parse_graph(TEXT))) == TEXT


def test_interprets_as_pytorch_orders() -> None:
    """Descending and stable: equal elements (the NaNs too) keep their input order."""
    a = np.array([[1.0, np.nan, 1.0, 3.0, np.nan], [0.0, -0.0, 2.0, 0.0, -1.0]])
    b = np.array([[5.0, 1.0, np.nan], [0.0, 2.0, -3.0]])
    order, found = interpret(parse_graph(TEXT), [a, b])
    np.testing.assert_array_equal(order, [[1, 4, 3, 0, 2], [2, 0, 1, 3, 4]])
    # searchsorted in the descending rows: PyTorch's halvings (the rows are not ascending;
    # these are torch.searchsorted's answers)
    assert found.dtype == np.int64
    np.testing.assert_array_equal(found, [[5, 2, 5], [0, 5, 0]])


def test_sorts_are_externs_between_kernels() -> None:
    prog = fuse(parse_graph(TEXT))
    externs = [s.eqn.op.name for s in prog.steps if isinstance(s, Extern)]
    assert externs == ["ARGSORT", "GATHER", "SEARCHSORTED"]


def test_a_wrong_result_type_is_refused() -> None:
    bad = TEXT.replace("c:i64[2,5] = argsort", "c:f64[2,5] = argsort")
    with pytest.raises(ParseError, match="c is declared f64\\[2,5\\] but argsort gives i64"):
        parse_graph(bad)
    bad = TEXT.replace(
        "e:i64[2,3] = searchsorted[right=False] d b", "e:i64[2,3] = searchsorted[right=False] c b"
    )
    with pytest.raises(ShapeError, match="searchsorted: torch.int64 boundaries"):
        parse_graph(bad)
