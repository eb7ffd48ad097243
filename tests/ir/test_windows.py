"""UNFOLD / FOLD primitives: NumPy rules vs a plain loop, adjointness, IR text, compiled runs."""

from __future__ import annotations

from itertools import product
from typing import Any

import numpy as np
import pytest
from adjit.ir import windows
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float64
from adjit.ir.errors import ShapeError
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.ir.parser import parse_graph
from adjit.ir.printer import print_graph
from adjit.ir.pysource import load, to_python
from adjit.ir.shapes import SHAPE_RULES
from adjit.ir.windows import blocks, fold, unfold
from adjit.passes.fusion import Extern, fuse
from adjit.runtime.executor import compile_program

# (H, W, kernel_size, dilation, padding per side, stride); asymmetric padding is IR-only
GEOMETRIES: list[tuple[int, int, Any, Any, Any, Any]] = [
    (5, 6, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    (7, 4, (2, 3), (2, 1), ((0, 1), (2, 0)), (2, 1)),
    (6, 6, (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    (9, 8, (3, 2), (1, 3), ((1, 2), (0, 1)), (3, 2)),
]


def _loop_unfold(x: np.ndarray, k: Any, d: Any, p: Any, s: Any) -> np.ndarray:
    """im2col written as the definition: one element at a time."""
    n, c, h, w = x.shape
    oh, ow = blocks((h, w), k, d, p, s)
    out = np.zeros((n, c * k[0] * k[1], oh * ow), x.dtype)
    for b, ch, i, j, r, q in product(
        range(n), range(c), range(k[0]), range(k[1]), range(oh), range(ow)
    ):
        y = r * s[0] - p[0][0] + i * d[0]
        z = q * s[1] - p[1][0] + j * d[1]
        if 0 <= y < h and 0 <= z < w:
            out[b, (ch * k[0] + i) * k[1] + j, r * ow + q] = x[b, ch, y, z]
    return out


@pytest.fixture(params=["strided", "dense"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both implementations of each rule (see Note [small maps as one GEMM])."""
    limit = 0 if request.param == "strided" else 10**9
    monkeypatch.setattr(windows, "_DENSE_UNFOLD_LIMIT", limit)
    monkeypatch.setattr(windows, "_DENSE_FOLD_LIMIT", limit)
    return request.param


@pytest.mark.parametrize("h,w,k,d,p,s", GEOMETRIES)
def test_reference_rules_match_the_definition(
    h: int, w: int, k: Any, d: Any, p: Any, s: Any, path: str
) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, h, w))
    attrs = {"kernel_size": k, "dilation": d, "padding": p, "stride": s}
    cols = unfold(x, **attrs)
    np.testing.assert_array_equal(cols, _loop_unfold(x, k, d, p, s))
    assert cols.flags.c_contiguous and not np.shares_memory(cols, x)
    # FOLD is UNFOLD's adjoint: <unfold(x), c> == <x, fold(c)>
    c = rng.standard_normal(cols.shape)
    back = fold(c, output_size=(h, w), **attrs)
    assert back.shape == x.shape and back.flags.c_contiguous
    np.testing.assert_allclose(np.vdot(cols, c), np.vdot(x, back), rtol=1e-12)
    out = SHAPE_RULES[Op.UNFOLD](Aval(x.shape, float64), **attrs)
    assert out.shape == cols.shape
    assert SHAPE_RULES[Op.FOLD](out, output_size=(h, w), **attrs).shape == x.shape


@pytest.mark.parametrize("h,w,k,d,p,s", GEOMETRIES)
def test_reference_rules_write_into_out(
    h: int, w: int, k: Any, d: Any, p: Any, s: Any, path: str
) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, h, w))
    attrs = {"kernel_size": k, "dilation": d, "padding": p, "stride": s}
    want = unfold(x, **attrs)
    out = np.full(want.shape, np.nan)  # stale values must not survive
    assert windows.unfold_into(x, out, **attrs) is out
    np.testing.assert_array_equal(out, want)
    back = fold(want, output_size=(h, w), **attrs)
    got = np.full(back.shape, np.nan)
    assert windows.fold_into(want, got, output_size=(h, w), **attrs) is got
    np.testing.assert_array_equal(got, back)


def test_non_finite_values_stay_in_their_windows(path: str) -> None:
    x = np.random.default_rng(2).standard_normal((1, 2, 4, 5)).astype(np.float32)
    x[0, 0, 1, 2], x[0, 1, 3, 0] = np.inf, np.nan
    attrs = {"kernel_size": (2, 2), "dilation": (1, 1), "padding": ((1, 0), (0, 1))}
    cols = unfold(x, stride=(1, 2), **attrs)
    np.testing.assert_array_equal(cols, _loop_unfold(x, (2, 2), (1, 1), attrs["padding"], (1, 2)))
    back = fold(cols, output_size=(4, 5), stride=(1, 2), **attrs)
    assert np.isnan(back).sum() == 1 and np.isinf(back).sum() == 1


def test_shape_rules_refuse_bad_geometry() -> None:
    attrs = {"kernel_size": (5, 5), "dilation": (1, 1), "padding": ((0, 0), (0, 0))}
    with pytest.raises(ShapeError, match="must be at least one"):
        SHAPE_RULES[Op.UNFOLD](Aval((1, 2, 3, 3), float64), stride=(1, 1), **attrs)
    with pytest.raises(ShapeError, match="4-D"):
        SHAPE_RULES[Op.UNFOLD](Aval((2, 3, 3), float64), stride=(1, 1), **attrs)
    with pytest.raises(ShapeError, match="sliding blocks 1 \\* 1 = 1"):
        SHAPE_RULES[Op.FOLD](Aval((1, 50, 2), float64), output_size=(5, 5), stride=(1, 1), **attrs)
    with pytest.raises(ShapeError, match="divisible"):
        SHAPE_RULES[Op.FOLD](Aval((1, 26, 1), float64), output_size=(5, 5), stride=(1, 1), **attrs)


GRAPH = """{ lambda a:f64[2,3,7,4] .
  let b:f64[2,18,12] = unfold[kernel_size=(2, 3) dilation=(2, 1) padding=((0, 1), (2, 0)) stride=(2, 1)] a
      c:f64[2,18,12] = sin b
      d:f64[2,3,7,4] = fold[output_size=(7, 4) kernel_size=(2, 3) dilation=(2, 1) padding=((0, 1), (2, 0)) stride=(2, 1)] c
  in (d) }"""  # noqa: E501


def test_ir_text_source_and_compiled_program_agree() -> None:
    g = parse_graph(GRAPH)
    assert print_graph(g) == GRAPH
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 4))
    (want,) = interpret(g, [x])
    attrs = g.eqns[0].attrs
    np.testing.assert_allclose(
        want, fold(np.sin(unfold(x, **attrs)), output_size=(7, 4), **attrs), rtol=1e-15
    )
    (src,) = load(to_python(g))(x)
    np.testing.assert_array_equal(src, want)
    program = fuse(g)
    assert [e.eqn.op for e in program.steps if isinstance(e, Extern)] == [Op.UNFOLD, Op.FOLD]
    (got,) = compile_program(g)([x])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)
