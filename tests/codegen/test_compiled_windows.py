"""Compiled UNFOLD / FOLD loop nests vs the NumPy rules, and in compiled programs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.codegen import windows as compiled
from adjit.ir import windows
from adjit.ir.graph import Graph
from adjit.ir.interpreter import interpret
from adjit.ir.parser import parse_graph
from adjit.runtime.executor import compile_program

# (H, W, kernel_size, dilation, padding per side, stride)
GEOMETRIES: list[tuple[int, int, Any, Any, Any, Any]] = [
    (5, 6, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    (7, 4, (2, 3), (2, 1), ((0, 1), (2, 0)), (2, 1)),
    (6, 6, (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    (9, 8, (3, 2), (1, 3), ((1, 2), (0, 1)), (3, 2)),
    (16, 16, (3, 3), (1, 1), ((1, 1), (1, 1)), (2, 2)),
    (2, 2, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    (3, 3, (3, 3), (1, 1), ((2, 2), (2, 2)), (3, 3)),  # windows wholly in the padding
    (11, 9, (7, 7), (1, 1), ((3, 3), (3, 3)), (2, 2)),
    (1, 1, (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),
]
SHAPES = [(2, 3), (1, 1), (3, 1)]  # (N, C): batch 1 and one channel included


def _strided(a: np.ndarray) -> np.ndarray:
    """The same values as ``a`` (N, K, L), laid out as the conv's GEMM yields them."""
    return np.ascontiguousarray(a.transpose(1, 0, 2)).transpose(1, 0, 2)


def _check_against_numpy(h: int, w: int, k: Any, d: Any, p: Any, s: Any, dtype: str) -> None:
    rng = np.random.default_rng(0)
    attrs = {"kernel_size": k, "dilation": d, "padding": p, "stride": s}
    for n, c in SHAPES:
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        want = windows.unfold(x, **attrs)
        stale = np.full(want.shape, np.nan, dtype)  # stale values must not survive
        for out in (stale, _strided(stale)):
            assert compiled.strided_columns(out)
            np.testing.assert_array_equal(compiled.unfold_into(x, out, **attrs), want)
        cols = rng.standard_normal(want.shape).astype(dtype)
        back = windows.fold(cols, output_size=(h, w), **attrs)
        for layout in (cols, _strided(cols)):
            assert compiled.strided_columns(layout)
            got = np.full(back.shape, np.nan, dtype)
            compiled.fold_into(layout, got, output_size=(h, w), **attrs)
            np.testing.assert_array_equal(got, back)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("h,w,k,d,p,s", GEOMETRIES)
def test_kernels_match_the_numpy_rules_bit_for_bit(
    h: int, w: int, k: Any, d: Any, p: Any, s: Any, dtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(windows, "_DENSE_UNFOLD_LIMIT", -1)  # the strided NumPy paths
    monkeypatch.setattr(windows, "_DENSE_FOLD_LIMIT", -1)
    _check_against_numpy(h, w, k, d, p, s, dtype)


@pytest.mark.parametrize("h,w,k,d,p,s", [GEOMETRIES[i] for i in (0, 1, 6)])
def test_kernels_specialized_to_their_geometry_match_too(
    h: int, w: int, k: Any, d: Any, p: Any, s: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Note [windows specialized to their geometry] (taken here however small the op)."""
    monkeypatch.setattr(windows, "_DENSE_UNFOLD_LIMIT", -1)
    monkeypatch.setattr(windows, "_DENSE_FOLD_LIMIT", -1)
    monkeypatch.setattr(compiled, "_SPECIALIZE_WORK", 0)
    before = compiled._kernel.cache_info().currsize
    _check_against_numpy(h, w, k, d, p, s, "float32")
    assert compiled._kernel.cache_info().currsize > before  # (specialized kernels were built)


def test_strided_columns_needs_contiguous_windows() -> None:
    a = np.zeros((2, 9, 4))
    assert compiled.strided_columns(a) and compiled.strided_columns(_strided(a))
    assert not compiled.strided_columns(a[:, :, ::2])
    assert compiled.supported("fold", np.dtype("float32"))
    assert not compiled.supported("fold", np.dtype("int64"))


CONV_BACKWARD = """{ lambda a:f64[6,2,20] .
  let b:f64[2,6,20] = permute[axes=(1, 0, 2)] a
      c:f64[2,6,20] = mul b 2.0
      d:f64[2,3,4,5] = fold[output_size=(4, 5) kernel_size=(1, 2) dilation=(1, 1) padding=((0, 0), (0, 1)) stride=(1, 1)] c
      e:f64[2,6,20] = unfold[kernel_size=(1, 2) dilation=(1, 1) padding=((0, 0), (0, 1)) stride=(1, 1)] d
      f:f64[2,3,4,5] = fold[output_size=(4, 5) kernel_size=(1, 2) dilation=(1, 1) padding=((0, 0), (0, 1)) stride=(1, 1)] b
  in (d, e, f) }"""  # noqa: E501


def test_compiled_programs_use_the_kernels_and_reuse_buffers() -> None:
    g: Graph = parse_graph(CONV_BACKWARD)
    ex = compile_program(g)
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((6, 2, 20)) for _ in range(3)]
    firsts = ex([xs[0]])
    kept = [a.copy() for a in firsts]
    for x in xs:  # later calls must not overwrite results the caller still holds
        for got, want in zip(ex([x]), interpret(g, [x]), strict=True):
            np.testing.assert_array_equal(got, want)
    for a, b in zip(firsts, kept, strict=True):
        np.testing.assert_array_equal(a, b)
