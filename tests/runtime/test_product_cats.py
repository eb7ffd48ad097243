"""Products written into their slices of a concatenation (Note [products into a cat]): the same
values as products copied in, attention's gradients as eager's and PyTorch's."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32, float64
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.runtime import mkl_gemm, product_cats
from adjit.runtime.executor import ExternStep, compile_program
from adjit.runtime.product_cats import ProductIntoCat

import adjit

try:  # before MKL's first call (Note [MKL products])
    import torch
except ImportError:  # pragma: no cover (torch is the tests' oracle, optional)
    torch = None

HEADS = (0, 2, 1, 3)


def _var(dtype: Any, *shape: int) -> Var:
    return Var(Aval(shape, dtype))


def _heads_cat(dtype: Any, extra_use: bool = False, plain: bool = False) -> Graph:
    """CAT along heads of three (B, h, S, dh) products permuted to (B, S, h, dh); with
    ``plain`` the last operand is an input, not a product."""
    b, h, s, dh = 2, 3, 5, 4
    ins, eqns, parts = [], [], []
    for i in range(3):
        if plain and i == 2:
            x = _var(dtype, b, s, h, dh)
            ins.append(x)
            parts.append(x)
            continue
        x, y = _var(dtype, b, h, s, 6), _var(dtype, b, h, 6, dh)
        mm, p = _var(dtype, b, h, s, dh), _var(dtype, b, s, h, dh)
        ins += [x, y]
        eqns += [Eqn(Op.MATMUL, (x, y), {}, mm), Eqn(Op.PERMUTE, (mm,), {"axes": HEADS}, p)]
        parts.append(p)
    out = _var(dtype, b, s, 3 * h, dh)
    eqns.append(Eqn(Op.CAT, tuple(parts), {"axis": 2}, out))
    outs = (out, eqns[0].out) if extra_use else (out,)
    return Graph(tuple(ins), tuple(eqns), outs, ())


def _rows_cat(dtype: Any) -> Graph:
    """CAT along the last axis of a stack times a matrix and a plain product."""
    x, w, a, c = _var(dtype, 2, 3, 5), _var(dtype, 5, 4), _var(dtype, 2, 3, 6), _var(dtype, 6, 7)
    p, q, out = _var(dtype, 2, 3, 4), _var(dtype, 2, 3, 7), _var(dtype, 2, 3, 11)
    eqns = (
        Eqn(Op.MATMUL, (x, w), {}, p),
        Eqn(Op.MATMUL, (a, c), {}, q),
        Eqn(Op.CAT, (p, q), {"axis": 2}, out),
    )
    return Graph((x, w, a, c), eqns, (out,), ())


def _merged_heads(dtype: Any) -> Graph:
    """A (B, h, S, dh) product permuted to (B, S, h, dh) and merged: a copying RESHAPE."""
    x, y = _var(dtype, 2, 3, 5, 6), _var(dtype, 2, 3, 6, 4)
    mm, p, out = _var(dtype, 2, 3, 5, 4), _var(dtype, 2, 5, 3, 4), _var(dtype, 2, 5, 12)
    eqns = (
        Eqn(Op.MATMUL, (x, y), {}, mm),
        Eqn(Op.PERMUTE, (mm,), {"axes": HEADS}, p),
        Eqn(Op.RESHAPE, (p,), {"shape": (2, 5, 12)}, out),
    )
    return Graph((x, y), eqns, (out,), ())


def _inputs(g: Graph) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(v.aval.shape).astype(v.aval.dtype.np) for v in g.inputs]


def _kinds(steps: list[Any]) -> list[str]:
    return [type(s).__name__ if type(s) is not ExternStep else s.eqn.op.name for s in steps]


@pytest.mark.parametrize("dtype", [float32, float64], ids=["f32", "f64"])
@pytest.mark.parametrize(
    "make", [_heads_cat, _rows_cat, _merged_heads], ids=["heads", "rows", "merge"]
)
def test_products_written_into_the_cat_equal_products_copied_in(
    monkeypatch: pytest.MonkeyPatch, make: Any, dtype: Any
) -> None:
    g = make(dtype)
    ex = compile_program(g)
    kinds = _kinds(ex.steps)
    assert not {"CAT", "PERMUTE", "ReshapeCopy"} & set(kinds) and "ProductIntoCat" in kinds
    assert [s.first for s in ex.steps if isinstance(s, ProductIntoCat)] == [True] + [False] * (
        kinds.count("ProductIntoCat") - 1
    )
    xs = _inputs(g)
    (got,) = ex(xs)
    with monkeypatch.context() as m:
        m.setattr(product_cats, "with_product_cats", lambda graph, steps: list(steps))
        copied = compile_program(g)
        assert {"CAT", "ReshapeCopy"} & set(_kinds(copied.steps))
        (want,) = copied(xs)
    np.testing.assert_array_equal(got, want)  # the same sums, only written elsewhere
    (ref,) = interpret(g, [x.astype(np.float64) for x in xs])
    np.testing.assert_allclose(got, ref, rtol=0, atol=50 * np.finfo(dtype.np).eps)
    (again,) = ex(xs)  # the buffer reused: written whole again
    np.testing.assert_array_equal(again, got)


@pytest.mark.parametrize(
    "graph",
    [_heads_cat(float32, extra_use=True), _heads_cat(float32, plain=True)],
    ids=["product-read-elsewhere", "operand-not-a-product"],
)
def test_other_concatenations_stay_copies(graph: Graph) -> None:
    ex = compile_program(graph)
    assert "CAT" in _kinds(ex.steps) and "ProductIntoCat" not in _kinds(ex.steps)
    xs = _inputs(graph)
    np.testing.assert_allclose(ex(xs)[0], interpret(graph, xs)[0], rtol=1e-5, atol=1e-5)


def test_mixed_dtypes_stay_copies() -> None:
    x, y = _var(float32, 3, 4), _var(float64, 4, 2)
    a, b = _var(float64, 3, 4), _var(float64, 4, 2)
    p, q, out = _var(float64, 3, 2), _var(float64, 3, 2), _var(float64, 3, 4)
    eqns = (
        Eqn(Op.MATMUL, (x, y), {}, p),
        Eqn(Op.MATMUL, (a, b), {}, q),
        Eqn(Op.CAT, (p, q), {"axis": 1}, out),
    )
    kinds = _kinds(
        product_cats.with_product_cats(
            Graph((x, y, a, b), eqns, (out,), ()), [ExternStep(e) for e in eqns]
        )
    )
    assert kinds == ["MATMUL", "MATMUL", "CAT"]


def test_interleaved_slices_go_to_mkl_in_batched_calls() -> None:
    """Note [batch of a call]: a result whose heads interleave (stride below one product's
    span) is written by gemm_batch_strided over the other batch dim, not a call a product."""
    lib = mkl_gemm.library()
    if lib is None:
        pytest.skip("MKL is not usable in this process")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 8, 6)).astype(np.float32)
    y = rng.standard_normal((4, 3, 6, 5)).astype(np.float32)
    whole = np.zeros((4, 8, 7, 5), np.float32)
    out = whole[:, :, 2:5].transpose(HEADS)  # (4, 3, 8, 5) with the heads' stride 5
    one, many = lib.gemm[np.dtype(np.float32)]
    calls: list[str] = []

    def spy(name: str, fn: Any) -> Any:
        return lambda *a: calls.append(name) or fn(*a)

    lib.gemm[np.dtype(np.float32)] = (spy("one", one), spy("many", many))
    try:
        errors = len(lib.errors)
        assert mkl_gemm._mkl_matmul(lib, x, y, out)
        assert len(lib.errors) == errors
    finally:
        lib.gemm[np.dtype(np.float32)] = (one, many)
    assert calls == ["many"] * 3  # a call per head, batched over the 4
    exact = np.matmul(x.astype(np.float64), y.astype(np.float64))
    np.testing.assert_allclose(out, exact, rtol=1e-5, atol=1e-5)
    assert not whole[:, :, :2].any() and not whole[:, :, 5:].any()  # nothing outside


def _attention(lib: Any, x: Any, w: Any, heads: int) -> Any:
    b, s, d = x.shape
    qkv = x @ w
    q, k, v = (t.reshape(b, s, heads, d // heads).transpose(1, 2) for t in qkv.split(d, dim=-1))
    att = ((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // heads))).softmax(dim=-1)
    return ((att @ v).transpose(1, 2).reshape(b, s, d) ** 2).mean()


def _grads(lib: Any, compiled: bool, x: np.ndarray, w: np.ndarray) -> list[np.ndarray]:
    xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
    run = lambda a, b: _attention(lib, a, b, 4)
    if compiled:
        run = adjit.compile(run)
    run(xt, wt).backward()
    return [np.asarray(xt.grad.detach().numpy()), np.asarray(wt.grad.detach().numpy())]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_attention_gradients_as_eager_and_torch(
    monkeypatch: pytest.MonkeyPatch, dtype: type
) -> None:
    ran: list[int] = []
    real = ProductIntoCat.run
    monkeypatch.setattr(ProductIntoCat, "run", lambda s, *a: ran.append(s.index) or real(s, *a))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 16)).astype(dtype)
    w = (rng.standard_normal((16, 48)) / 4).astype(dtype)
    got = _grads(adjit, True, x, w)
    assert sorted(ran) == [0, 0, 1, 2]  # the heads merged; dq, dk, dv into their concatenation
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for g, e in zip(got, _grads(adjit, False, x, w), strict=True):
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol)
    if torch is not None:
        for g, t in zip(got, _grads(torch, False, x, w), strict=True):
            np.testing.assert_allclose(g, t, rtol=tol, atol=tol)
