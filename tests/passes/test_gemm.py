"""The gemm pass (Note [one GEMM over the batch]): a batched product summed over its whole batch
is one 2-D product of the flattened operands; the same values up to summation order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adjit.ir.aval import Aval
from adjit.ir.dtypes import DType, float16, float64
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.passes.gemm import gemm
from adjit.passes.pipeline import run_pipeline

import adjit


def _var(*shape: int, dtype: DType = float64) -> Var:
    return Var(Aval(shape, dtype))


def _summed_product(
    a_shape: tuple[int, ...],
    b_shape: tuple[int, ...],
    axes: tuple[int, ...] | None,
    keepdim: bool = False,
    dtype: DType = float64,
    extra_use: bool = False,
    then: tuple[int, ...] | None = None,
) -> Graph:
    """sum[axes, keepdim](a @ b), optionally reshaped to ``then``."""
    a, b = _var(*a_shape, dtype=dtype), _var(*b_shape, dtype=dtype)
    shape = np.broadcast_shapes(a_shape[:-2], b_shape[:-2]) + (a_shape[-2], b_shape[-1])
    mm = _var(*shape, dtype=dtype)
    kept = tuple(range(len(shape))) if axes is None else tuple(i % len(shape) for i in axes)
    if keepdim:
        out_shape = tuple(1 if i in kept else n for i, n in enumerate(shape))
    else:
        out_shape = tuple(n for i, n in enumerate(shape) if i not in kept)
    s = _var(*out_shape, dtype=dtype)
    eqns = [
        Eqn(Op.MATMUL, (a, b), {}, mm),
        Eqn(Op.SUM, (mm,), {"axes": axes, "keepdim": keepdim}, s),
    ]
    outs: tuple[Var, ...] = (s,)
    if then is not None:
        r = _var(*then, dtype=dtype)
        eqns.append(Eqn(Op.RESHAPE, (s,), {"shape": then}, r))
        outs = (r,)
    if extra_use:
        outs = (*outs, mm)
    return Graph((a, b), tuple(eqns), outs, ())


def _inputs(g: Graph, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(v.aval.shape).astype(v.aval.dtype.np) for v in g.inputs]


def _matmuls(g: Graph) -> list[tuple[int, ...]]:
    return [e.out.aval.shape for e in g.eqns if e.op is Op.MATMUL]


@pytest.mark.parametrize(
    "a_shape,b_shape,axes,keepdim,then",
    [
        ((3, 4, 5), (3, 5, 6), (0,), False, None),
        ((3, 4, 5), (3, 5, 6), (0,), True, None),
        ((3, 4, 5), (3, 5, 6), (0,), True, (4, 6)),  # the adjoint's unbroadcast: keepdim, reshape
        ((2, 3, 4, 5), (2, 3, 5, 6), (1, 0), False, None),
        ((2, 3, 4, 5), (2, 3, 5, 6), (0, 1), True, (4, 6)),
    ],
    ids=["sum", "keepdim", "keepdim-reshaped", "two-batch-axes", "two-axes-reshaped"],
)
def test_summed_batched_product_is_one_gemm(a_shape, b_shape, axes, keepdim, then) -> None:
    g = _summed_product(a_shape, b_shape, axes, keepdim, then=then)
    out = gemm(g)
    assert out is not g
    cleaned = run_pipeline(g, verify=True)[0]
    assert _matmuls(cleaned) == [(a_shape[-2], b_shape[-1])]  # one 2-D product, the batch gone
    assert not any(e.op is Op.SUM for e in cleaned.eqns)
    xs = _inputs(g)
    (want,), (got,) = interpret(g, xs), interpret(out, xs)
    (cleaned_got,) = interpret(cleaned, xs)
    assert got.shape == want.shape and cleaned_got.shape == want.shape
    # the same products a[i, k] b[k, j], added in another order: float64 rounding of ~12 terms
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(cleaned_got, want, rtol=1e-13, atol=1e-13)


def test_keepdim_value_read_elsewhere_is_a_reshape_of_the_product() -> None:
    a, b = _var(3, 4, 5), _var(3, 5, 6)
    mm, s = _var(3, 4, 6), _var(1, 4, 6)
    t, u = _var(4, 6), _var(1, 4, 6)
    g = Graph(
        (a, b),
        (
            Eqn(Op.MATMUL, (a, b), {}, mm),
            Eqn(Op.SUM, (mm,), {"axes": (0,), "keepdim": True}, s),
            Eqn(Op.RESHAPE, (s,), {"shape": (4, 6)}, t),
            Eqn(Op.NEG, (s,), {}, u),
        ),
        (t, u),
        (),
    )
    out = run_pipeline(g, verify=True)[0]
    assert _matmuls(out) == [(4, 6)]
    xs = _inputs(g)
    for want, got in zip(interpret(g, xs), interpret(out, xs), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(
    "a_shape,b_shape,axes,dtype,extra_use",
    [
        ((3, 4, 5), (3, 5, 6), (0,), float64, True),  # the stack is used too: computed once
        ((2, 3, 4, 5), (2, 3, 5, 6), (0,), float64, False),  # part of the batch kept
        ((3, 4, 5), (3, 5, 6), (0, 1), float64, False),  # rows summed too
        ((3, 4, 5), (3, 5, 6), None, float64, False),  # everything summed
        ((4, 5), (3, 5, 6), (0,), float64, False),  # a broadcast operand
        ((1, 4, 5), (3, 5, 6), (0,), float64, False),  # a broadcast batch axis
        ((3, 4, 5), (3, 5, 6), (0,), float16, False),  # rounded per product: left as it is
        ((4, 5), (5, 6), (0,), float64, False),  # no batch
    ],
    ids=["used-twice", "partial", "rows", "all", "matrix-operand", "unit-batch", "f16", "2-d"],
)
def test_other_sums_are_left_alone(a_shape, b_shape, axes, dtype, extra_use) -> None:
    g = _summed_product(a_shape, b_shape, axes, dtype=dtype, extra_use=extra_use)
    assert gemm(g) is g


def _linear_grads(lib, x, w, b):  # type: ignore[no-untyped-def]
    return lib.nn.functional.linear(x, w, b).tanh().pow(2).sum()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batched_linear_weight_gradient_is_one_gemm(dtype: str) -> None:
    """y = x @ W.T with x (B, S, in): W's gradient is one (out, B S) @ (B S, in) GEMM,
    contiguous, and agrees with PyTorch's (which computes the same GEMM)."""
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((4, 6, 5)).astype(dtype)
    ws = rng.standard_normal((3, 5)).astype(dtype)
    bs = rng.standard_normal(3).astype(dtype)
    x = adjit.tensor(xs)
    w, b = adjit.tensor(ws, requires_grad=True), adjit.tensor(bs, requires_grad=True)
    loss = adjit.compile(lambda x: _linear_grads(adjit, x, w, b))
    backward = str(adjit.explain(loss, x).backward)
    assert "f32[3,5] = matmul" in backward or "f64[3,5] = matmul" in backward
    assert "[4,3,5]" not in backward and "[4,5,3]" not in backward  # no batched stack
    loss(x).backward()
    tx = torch.tensor(xs)
    tw, tb = torch.tensor(ws, requires_grad=True), torch.tensor(bs, requires_grad=True)
    _linear_grads(torch, tx, tw, tb).backward()
    assert w.grad.is_contiguous()
    tol = 1e-5 if dtype == "float32" else 1e-12  # 24 terms summed in another order
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=tol, atol=tol)


def test_weight_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(4)
    x = adjit.tensor(rng.standard_normal((2, 3, 4)))
    w0 = rng.standard_normal((5, 4))

    def f(w):  # type: ignore[no-untyped-def]
        return (x @ w.T).sin().sum()

    grad = adjit.grad(adjit.compile(f))(adjit.tensor(w0))
    eps = 1e-6
    fd = np.zeros_like(w0)
    for i in np.ndindex(*w0.shape):
        d = np.zeros_like(w0)
        d[i] = eps
        hi, lo = float(f(adjit.tensor(w0 + d))), float(f(adjit.tensor(w0 - d)))
        fd[i] = (hi - lo) / (2 * eps)
    np.testing.assert_allclose(grad.numpy(), fd, rtol=1e-7, atol=1e-8)
