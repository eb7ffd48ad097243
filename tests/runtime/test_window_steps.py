"""A conv's UNFOLD writes its GEMM's column matrix in place (Note [columns in the GEMM's layout]):
the same values as UNFOLD + PERMUTE + RESHAPE, only when nothing else reads the columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float16, float32, float64
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.runtime.executor import compile_program
from adjit.runtime.window_steps import UnfoldColumns

import adjit

# (N, C, H, W, kernel_size, padding per side, stride)
CASES: list[tuple[int, int, int, int, Any, Any, Any]] = [
    (2, 3, 5, 6, (3, 3), ((1, 1), (1, 1)), (1, 1)),
    (3, 2, 7, 7, (3, 3), ((1, 1), (1, 1)), (2, 2)),
    (1, 4, 4, 4, (1, 1), ((0, 0), (0, 0)), (2, 2)),
    (2, 1, 3, 3, (3, 3), ((2, 2), (2, 2)), (3, 3)),  # windows wholly in the padding
    (4, 2, 9, 8, (2, 3), ((0, 1), (2, 0)), (1, 2)),
]


def _conv_graph(n: int, c: int, h: int, w: int, k: Any, p: Any, s: Any, dtype: Any,
                extra_use: bool) -> Graph:  # fmt: skip
    """UNFOLD, PERMUTE (1, 0, 2), RESHAPE (C k k, N L), MATMUL by a (5, C k k) weight; with
    ``extra_use`` the columns are an output too."""
    from adjit.ir.windows import blocks

    oh, ow = blocks((h, w), k, (1, 1), p, s)
    rows, cells = c * k[0] * k[1], oh * ow
    x, wt = Var(Aval((n, c, h, w), dtype)), Var(Aval((5, rows), dtype))
    cols, perm = Var(Aval((n, rows, cells), dtype)), Var(Aval((rows, n, cells), dtype))
    mat, out = Var(Aval((rows, n * cells), dtype)), Var(Aval((5, n * cells), dtype))
    attrs = {"kernel_size": k, "dilation": (1, 1), "padding": p, "stride": s}
    eqns = (
        Eqn(Op.UNFOLD, (x,), attrs, cols),
        Eqn(Op.PERMUTE, (cols,), {"axes": (1, 0, 2)}, perm),
        Eqn(Op.RESHAPE, (perm,), {"shape": (rows, n * cells)}, mat),
        Eqn(Op.MATMUL, (wt, mat), {}, out),
    )
    return Graph((x, wt), eqns, (out, mat, cols) if extra_use else (out, mat))


@pytest.mark.parametrize("dtype", [float16, float32, float64])  # float16: the NumPy rule
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("extra_use", [False, True])
def test_the_column_matrix_matches_the_reference_bit_for_bit(
    case: tuple[Any, ...], dtype: Any, extra_use: bool
) -> None:
    g = _conv_graph(*case, dtype, extra_use)
    ex = compile_program(g)
    fused = [s for s in ex.steps if isinstance(s, UnfoldColumns)]
    assert len(fused) == (0 if extra_use else 1)
    rng = np.random.default_rng(1)
    for _ in range(3):  # reused buffers: stale values (last call's) must not survive
        xs = [rng.standard_normal(v.aval.shape).astype(dtype.np) for v in g.inputs]
        got, want = ex(xs), interpret(g, xs)
        np.testing.assert_array_equal(got[1], want[1])  # the columns: copies, exact
        if dtype is float16:  # (the product: float16 rounding, K <= 27 terms)
            scale = float(np.abs(want[0]).max())
            np.testing.assert_allclose(got[0], want[0], rtol=0, atol=2e-2 * scale)
        else:  # two float32/64 sums of K terms (BLAS's and the reference's: MKL or NumPy's)
            k, eps = want[1].shape[0], float(np.finfo(dtype.np).eps)
            bound = 2 * k * eps * (np.abs(xs[1]).astype(np.float64) @ np.abs(want[1]))
            assert (np.abs(got[0] - want[0].astype(np.float64)) <= bound).all()
        if extra_use:
            np.testing.assert_array_equal(got[2], want[2])


def test_a_compiled_conv_net_step_agrees_with_eager() -> None:
    """Convolutions of several geometries, trained: compiled gradients equal eager's."""
    adjit.manual_seed(0)
    net = adjit.nn.Sequential(
        adjit.nn.Conv2d(3, 4, 3, padding=1),
        adjit.nn.ReLU(),
        adjit.nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False),
        adjit.nn.Tanh(),
        adjit.nn.Conv2d(6, 2, 1, stride=2),
    )
    x = adjit.randn(3, 3, 9, 9)

    def loss(x):  # type: ignore[no-untyped-def]
        return net(x).pow(2).sum()

    compiled = adjit.compile(loss)
    for _ in range(2):
        net.zero_grad()
        loss(x).backward()
        want = [p.grad.numpy().copy() for p in net.parameters()]
        net.zero_grad()
        compiled(x).backward()
        for p, w in zip(net.parameters(), want, strict=True):
            np.testing.assert_allclose(p.grad.numpy(), w, rtol=1e-4, atol=1e-5)
