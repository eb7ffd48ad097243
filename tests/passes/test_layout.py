"""The matmul layout pass (Note [matmul layout]): transposed products are computed as the
product of the transposes, swapped: same values, contiguous results, nothing computed twice."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float64
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.passes.layout import layout
from adjit.passes.pipeline import run_pipeline

import adjit


def _var(*shape: int) -> Var:
    return Var(Aval(shape, float64))


def _transposed_product(a: Var, b: Var, extra_use: bool = False) -> Graph:
    mm = _var(*a.aval.shape[:-1], b.aval.shape[-1])
    n = mm.aval.ndim
    t = _var(*mm.aval.shape[:-2], mm.aval.shape[-1], mm.aval.shape[-2])
    eqns = (
        Eqn(Op.MATMUL, (a, b), {}, mm),
        Eqn(Op.PERMUTE, (mm,), {"axes": (*range(n - 2), n - 1, n - 2)}, t),
    )
    return Graph((a, b), eqns, (t, mm) if extra_use else (t,), ())


@pytest.mark.parametrize("batch", [(), (3,)], ids=["matrix", "batched"])
def test_transposed_product_is_the_swapped_product_of_transposes(batch) -> None:
    g = _transposed_product(_var(*batch, 4, 5), _var(*batch, 5, 6))
    out = layout(g)
    assert [e.op for e in out.eqns] == [Op.MATMUL, Op.PERMUTE, Op.PERMUTE, Op.MATMUL]
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((*batch, 4, 5)), rng.standard_normal((*batch, 5, 6))
    (want,), (got,) = interpret(g, [a, b]), interpret(out, [a, b])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)  # same sums, BLAS's order
    assert got.flags.c_contiguous and not want.flags.c_contiguous
    cleaned = run_pipeline(g)[0]  # the original product is dead, nothing computed twice
    assert [e.op for e in cleaned.eqns].count(Op.MATMUL) == 1


def test_a_product_used_elsewhere_is_left_alone() -> None:
    g = _transposed_product(_var(4, 5), _var(5, 6), extra_use=True)
    assert layout(g) is g


def test_a_vector_operand_is_left_alone() -> None:
    a, b = _var(4, 5), _var(5)
    mm = _var(4)
    g = Graph((a, b), (Eqn(Op.MATMUL, (a, b), {}, mm),), (mm,), ())
    assert layout(g) is g


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_linear_weight_grads_have_the_parameters_layout(compiled: bool) -> None:
    lin = adjit.nn.Linear(7, 3)
    loss = lambda x: lin(x).relu().sum()  # noqa: E731
    x = adjit.randn(4, 7)
    (adjit.compile(loss) if compiled else loss)(x).backward()
    assert lin.weight.grad.is_contiguous() and lin.weight.grad.stride() == (7, 1)
    w = lin.weight.detach().numpy()
    mask = (x.numpy() @ w.T + lin.bias.detach().numpy()) > 0
    np.testing.assert_allclose(lin.weight.grad.numpy(), mask.T.astype(np.float32) @ x.numpy(),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    "shapes",
    [((4, 1), (1, 6)), ((3, 4, 1), (3, 1, 6)), ((3, 4, 1), (1, 6)), ((2, 1, 4, 1), (3, 1, 5))],
    ids=["matrix", "stacked", "broadcast", "batch-broadcast"],
)
def test_outer_products_are_broadcast_products(shapes) -> None:
    """Note [outer products]: a contraction of length one is a MUL with the same value."""
    a, b = _var(*shapes[0]), _var(*shapes[1])
    want_shape = np.broadcast_shapes(shapes[0][:-2], shapes[1][:-2])
    mm = _var(*want_shape, shapes[0][-2], shapes[1][-1])
    g = Graph((a, b), (Eqn(Op.MATMUL, (a, b), {}, mm),), (mm,), ())
    out = layout(g)
    assert [e.op for e in out.eqns] == [Op.MUL]
    rng = np.random.default_rng(1)
    xa, xb = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    (got,) = interpret(out, [xa, xb])
    np.testing.assert_array_equal(got, np.matmul(xa, xb))  # one product per element: exact


def test_per_example_weight_gradients_are_not_matmuls() -> None:
    """vmap(grad) of a linear layer: each example's weight gradient is an outer product."""
    w = adjit.randn(5, 7, dtype=adjit.float64)
    xs, gs = adjit.randn(9, 7, dtype=adjit.float64), adjit.randn(9, 5, dtype=adjit.float64)

    def per_example(x, g):
        return adjit.func.grad(lambda w: ((x @ w.T) * g).sum())(w)

    f = adjit.func.vmap(per_example)
    optimized = adjit.explain(f, xs, gs).inference
    assert "matmul" not in str(optimized) and "mul" in str(optimized)
    want = gs.numpy()[:, :, None] * xs.numpy()[:, None, :]
    np.testing.assert_allclose(adjit.compile(f)(xs, gs).numpy(), want, rtol=1e-15, atol=0)


def _merged_heads_cat(heads: list[int], d: int, extra_use: bool = False, axis: int = 2) -> Graph:
    stacks = [_var(2, 3, h, d) for h in heads]
    merged = [_var(2, 3, h * d) for h in heads]
    eqns = [
        Eqn(Op.RESHAPE, (x,), {"shape": m.aval.shape}, m)
        for x, m in zip(stacks, merged, strict=True)
    ]
    out = _var(2, 3, sum(heads) * d) if axis == 2 else _var(2 * len(heads), 3, heads[0] * d)
    eqns.append(Eqn(Op.CAT, tuple(merged), {"axis": axis}, out))
    return Graph(tuple(stacks), tuple(eqns), (out, merged[0]) if extra_use else (out,), ())


def test_concatenated_merged_heads_merge_after_one_concatenation() -> None:
    """Note [concatenated heads]: the same elements in the same places, the merge a view."""
    g = _merged_heads_cat([4, 1, 3], 5)
    out = run_pipeline(g)[0]
    assert [e.op for e in out.eqns] == [Op.CAT, Op.RESHAPE]
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(v.aval.shape) for v in g.inputs]
    (want,), (got,) = interpret(g, xs), interpret(out, xs)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "graph",
    [
        _merged_heads_cat([2, 2], 5, extra_use=True),  # a merge read elsewhere: still copied
        _merged_heads_cat([2, 2], 5, axis=0),  # not along the merged axis
    ],
    ids=["merge-used-elsewhere", "other-axis"],
)
def test_other_concatenations_are_left_alone(graph: Graph) -> None:
    from adjit.passes.layout import concatenated_heads

    assert concatenated_heads(graph) is graph


def test_different_head_sizes_are_left_alone() -> None:
    from adjit.passes.layout import concatenated_heads

    a, b = _var(2, 3, 2, 6), _var(2, 3, 3, 4)  # (2, 6) and (3, 4): both merge to 12
    ma, mb, out = _var(2, 3, 12), _var(2, 3, 12), _var(2, 3, 24)
    eqns = (
        Eqn(Op.RESHAPE, (a,), {"shape": (2, 3, 12)}, ma),
        Eqn(Op.RESHAPE, (b,), {"shape": (2, 3, 12)}, mb),
        Eqn(Op.CAT, (ma, mb), {"axis": 2}, out),
    )
    g = Graph((a, b), eqns, (out,), ())
    assert concatenated_heads(g) is g
