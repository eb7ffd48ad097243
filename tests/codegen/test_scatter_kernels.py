"""Compiled INDEX_ADD / SCATTER_ADD (Note [compiled scatter]): the executor's pooled steps
give the NumPy rule's bits (duplicates add in np.add.at's order), for every index form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adjit.codegen import scatter
from adjit.ir.aval import Aval
from adjit.ir.dtypes import from_numpy_dtype
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.runtime.executor import compile_program

import adjit

RNG = np.random.default_rng(0)


def _var(a: np.ndarray) -> Var:
    return Var(Aval(a.shape, from_numpy_dtype(a.dtype)))


def _both(op: Op, operands: list[np.ndarray], attrs: dict, shape: tuple, dtype) -> tuple:
    ins = [_var(a) for a in operands]
    out = Var(Aval(shape, from_numpy_dtype(np.dtype(dtype))))
    g = Graph(tuple(ins), (Eqn(op, tuple(ins), attrs, out),), (out,))
    ex = compile_program(g)
    first = ex(operands)[0].copy()
    again = ex(operands)[0]  # the pooled buffer reused: zeroed again
    return interpret(g, operands)[0], first, again


def _values(shape, dtype) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return RNG.standard_normal(shape).astype(dtype)
    return RNG.integers(-50, 50, shape).astype(dtype)


# (name, out shape, spec, index arrays, cotangent shape)
INDEX_CASES = [
    ("embedding_rows_duplicates", (7, 5), [("tensor", 0)], [[[1, 3, 1], [6, 1, 0]]], (2, 3, 5)),
    ("negative", (7, 5), [("tensor", 0)], [[-1, 2, -7, 6]], (4, 5)),
    ("last_axis", (3, 6), [("slice", 0, 3, 1), ("tensor", 0)], [[5, 0, 5, -1]], (3, 4)),
    (
        "broadcast_pair",
        (4, 5, 3),
        [("tensor", 0), ("tensor", 1)],
        [[[0], [3], [0]], [1, 4]],
        (3, 2, 3),
    ),
    (
        "apart",
        (4, 5, 3),
        [("tensor", 0), ("slice", 0, 5, 1), ("tensor", 1)],
        [[0, 2, 0], [2, 2, 1]],
        (3, 5),
    ),
    ("int_then_tensor", (3, 6, 2), [("int", 1), ("tensor", 0)], [[5, 5, 0]], (3, 2)),
    ("strided_basic", (8, 6), [("slice", 1, 8, 2), ("tensor", 0)], [[1, 1, 4]], (4, 3)),
    ("broadcast_cotangent", (6, 4), [("tensor", 0)], [[2, 2, 5]], (1, 4)),
    ("empty", (6, 4), [("tensor", 0)], [np.zeros(0, np.int64)], (0, 4)),
    ("basic_only", (4, 6), [("slice", 1, 3, 1), ("int", 2)], [], (2,)),
    ("slab_int", (3, 4, 5), [("int", 1)], [], (4, 5)),
    ("slab_slice", (4, 6), [("slice", 0, 4, 1), ("slice", 2, 5, 1)], [], (4, 3)),
    ("slab_step", (4, 6), [("slice", 0, 4, 1), ("slice", 1, 6, 2)], [], (4, 3)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
@pytest.mark.parametrize("case", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_index_add_matches_the_numpy_rule_bit_for_bit(case, dtype) -> None:
    _, shape, spec, index, gshape = case
    idx = [np.asarray(i, np.int64) for i in index]
    ref, first, again = _both(
        Op.INDEX_ADD, [_values(gshape, dtype), *idx], {"spec": tuple(spec), "shape": shape},
        shape, dtype,
    )  # fmt: skip
    assert first.dtype == ref.dtype and first.shape == ref.shape
    assert first.tobytes() == ref.tobytes() and again.tobytes() == ref.tobytes()


def test_duplicates_add_in_order() -> None:
    # 1e8 + 1 - 1e8 in float32: in order (0 + 1e8) + 1 -> 1e8, then - 1e8 -> 0 (np.add.at's);
    # another order would give 1
    g = np.array([[1e8], [1.0], [-1e8]], np.float32)
    ref, first, _ = _both(
        Op.INDEX_ADD, [g, np.array([2, 2, 2])], {"spec": (("tensor", 0),), "shape": (3, 1)},
        (3, 1), "float32",
    )  # fmt: skip
    assert first.tobytes() == ref.tobytes() and first[2, 0] == 0.0


def test_basic_write_adds_to_zero_like_the_rule() -> None:
    g = np.array([[-0.0, 1.5], [2.0, -0.0]])  # 0 + -0.0 is +0.0 in the rule: the same here
    ref, first, _ = _both(
        Op.INDEX_ADD, [g], {"spec": (("slice", 0, 2, 1), ("slice", 1, 3, 1)), "shape": (2, 4)},
        (2, 4), "float64",
    )  # fmt: skip
    assert first.tobytes() == ref.tobytes()


# (name, out shape, axis, index, src shape)
SCATTER_CASES = [
    ("cross_entropy", (6, 4), 1, [[3], [0], [3], [1], [2], [0]], (6, 1)),
    ("duplicates_axis0", (3, 4), 0, [[0, 1, 2, 0], [0, 0, 2, 2], [0, 1, 1, 0]], (3, 4)),
    ("smaller_index", (5, 6, 3), 1, RNG.integers(0, 6, (2, 4, 2)).tolist(), (3, 5, 3)),
    ("negative", (3, 5), 1, [[-1, 0], [4, -5], [2, 2]], (3, 2)),
    ("empty", (3, 5), 0, np.zeros((0, 5), np.int64), (0, 5)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("case", SCATTER_CASES, ids=[c[0] for c in SCATTER_CASES])
def test_scatter_add_matches_the_numpy_rule_bit_for_bit(case, dtype) -> None:
    _, shape, axis, index, sshape = case
    ref, first, again = _both(
        Op.SCATTER_ADD, [_values(sshape, dtype), np.asarray(index, np.int64)],
        {"axis": axis, "shape": shape}, shape, dtype,
    )  # fmt: skip
    assert first.tobytes() == ref.tobytes() and again.tobytes() == ref.tobytes()


def test_unsupported_dtypes_take_the_numpy_rule() -> None:
    assert not scatter.supported(np.dtype(np.float16)) and not scatter.supported(np.dtype(bool))
    ref, first, _ = _both(
        Op.INDEX_ADD, [_values((3, 2), "float16"), np.array([0, 0, 1])],
        {"spec": (("tensor", 0),), "shape": (4, 2)}, (4, 2), "float16",
    )  # fmt: skip
    assert first.tobytes() == ref.tobytes()


def test_out_of_range_index_raises_like_the_rule() -> None:
    with pytest.raises(IndexError):
        _both(Op.INDEX_ADD, [np.ones((2, 3)), np.array([0, 9])],
              {"spec": (("tensor", 0),), "shape": (4, 3)}, (4, 3), "float64")  # fmt: skip


def _embedding_ce(lib, w, head, idx, tgt):
    x = lib.nn.functional.embedding(idx, w)
    logits = (x.tanh() @ head).reshape(-1, head.shape[1])
    # nll_loss of log_softmax: compiled cross_entropy picks by a mask, with no SCATTER_ADD
    # (Note [cross entropy rows] in adjit/nn/_onehot_nll.py)
    F = lib.nn.functional
    return F.nll_loss(F.log_softmax(logits, 1), tgt)


def test_embedding_and_cross_entropy_backward_match_eager_and_torch() -> None:
    w0 = RNG.standard_normal((50, 16))
    h0 = RNG.standard_normal((16, 7))
    idx0 = RNG.integers(0, 50, (4, 30))  # 120 tokens from 50 rows: duplicates
    tgt0 = RNG.integers(0, 7, (120,))
    results = []
    for lib, compiled in ((adjit, True), (adjit, False), (torch, False)):
        w, head = lib.tensor(w0, requires_grad=True), lib.tensor(h0, requires_grad=True)
        fn = adjit.compile(_embedding_ce) if compiled else _embedding_ce
        fn(lib, w, head, lib.tensor(idx0), lib.tensor(tgt0)).backward()
        results.append((w.grad.numpy(), head.grad.numpy()))
    w = adjit.tensor(w0, requires_grad=True)  # the compiled backward has both steps
    args = (adjit, w, adjit.tensor(h0), adjit.tensor(idx0), adjit.tensor(tgt0))
    ops = [e.op for e in adjit.explain(adjit.compile(_embedding_ce), *args).backward.eqns]
    assert Op.INDEX_ADD in ops and Op.SCATTER_ADD in ops
    for got in results[:2]:
        for a, b in zip(got, results[2], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(results[0], results[1], strict=True):  # compiled vs eager
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
