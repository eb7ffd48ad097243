"""The LINALG primitive: packed shapes, LAPACK references that never raise, IR text."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32, float64, int64
from adjit.ir.errors import ShapeError
from adjit.ir.interpreter import interpret
from adjit.ir.linalg import cholesky_info, linalg_reference, linalg_shape, lu_info, parts
from adjit.ir.parser import parse_graph


@pytest.mark.parametrize(
    "func,mode,shapes,packed",
    [
        ("det", "", [(2, 3, 3)], (2,)),
        ("slogdet", "", [(3, 3)], (2,)),
        ("inv_ex", "", [(4, 2, 2)], (4, 5)),
        ("solve_ex", "", [(2, 3, 3), (2, 3, 4)], (2, 13)),
        ("cholesky_ex", "", [(3, 3)], (10,)),
        ("eigh", "U", [(3, 3)], (12,)),
        ("svd", "full", [(4, 2)], (16 + 2 + 4,)),
        ("svd", "reduced", [(4, 2)], (8 + 2 + 4,)),
        ("qr", "complete", [(4, 2)], (16 + 8,)),
        ("qr", "r", [(4, 2)], (4,)),
        ("expm", "", [(2, 3, 3)], (2, 3, 3)),
        ("lu", "", [(4, 2)], (8 + 2 + 16 + 1,)),
    ],
)
def test_packed_shapes_match_the_reference(func, mode, shapes, packed) -> None:
    avals = [Aval(s, float32) for s in shapes]
    assert linalg_shape(*avals, func=func, mode=mode) == Aval(packed, float32)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    if shapes[0][-1] == shapes[0][-2]:  # positive-definite: every function succeeds
        spd = arrays[0] @ np.swapaxes(arrays[0], -1, -2) + 3 * np.eye(shapes[0][-1])
        arrays[0] = spd.astype(np.float32)
    out = linalg_reference(*arrays, func=func, mode=mode)
    assert out.shape == packed and out.dtype == np.float32


@pytest.mark.parametrize(
    "avals,func,mode",
    [
        ([Aval((3, 3), int64)], "det", ""),
        ([Aval((2, 3), float64)], "inv_ex", ""),
        ([Aval((3,), float64)], "svd", "full"),
        ([Aval((3, 3), float64)], "eigh", "X"),
        ([Aval((3, 3), float64)], "eig", ""),
        ([Aval((2, 3, 3), float64), Aval((3, 3), float64)], "solve_ex", ""),
        ([Aval((3, 3), float64), Aval((3, 3), float32)], "solve_ex", ""),
    ],
)
def test_bad_operands_are_shape_errors(avals, func, mode) -> None:
    with pytest.raises(ShapeError):
        linalg_shape(*avals, func=func, mode=mode)


def test_singular_matrices_give_nan_and_lapacks_info() -> None:
    a = np.stack([np.eye(3), np.zeros((3, 3)), [[1.0, 2, 3], [2, 4, 6], [1, 0, 1]]])
    out = linalg_reference(a, func="inv_ex", mode="")
    inverse, info = out[:, :9].reshape(3, 3, 3), out[:, 9]
    np.testing.assert_array_equal(inverse[0], np.eye(3))
    assert np.isnan(inverse[1:]).all()
    np.testing.assert_array_equal(info, [0, 1, 3])
    chol = linalg_reference(np.diag([1.0, -1.0, 1.0]), func="cholesky_ex", mode="")
    assert chol[-1] == 2 and np.isnan(chol[:-1]).all()


def test_infos_are_lapacks() -> None:
    assert lu_info(np.zeros((2, 2))) == 1
    assert lu_info(np.array([[1.0, 2.0], [2.0, 4.0]])) == 2
    assert lu_info(np.array([[0.0, 1.0], [1.0, 0.0]])) == 0  # pivoting swaps the rows
    assert cholesky_info(np.array([[4.0, 2.0], [2.0, 1.0]])) == 2  # 1 - 1 = 0: not > 0
    assert cholesky_info(np.array([[1.0, np.nan], [np.nan, 1.0]])) == 2
    assert cholesky_info(-np.eye(3)) == 1


def test_parts_of_a_wide_qr() -> None:
    assert parts("qr", "reduced", [(2, 5)]) == [(2, 2), (2, 5)]
    assert parts("svd", "full", [(2, 5)]) == [(2, 2), (2,), (5, 5)]


def test_ir_text_round_trips_and_interprets() -> None:
    text = """{ lambda a:f64[2,3,3] .
  let b:f64[2,12] = linalg[func='eigh' mode='L'] a
  in (b) }"""
    g = parse_graph(text)
    assert str(g) == text
    a = np.random.default_rng(1).standard_normal((2, 3, 3))
    a = a + np.swapaxes(a, -1, -2)
    (out,) = interpret(g, [a])
    np.testing.assert_allclose(out[:, :3], np.linalg.eigvalsh(a), rtol=1e-14, atol=1e-14)
