"""Kernels writing an output over an input that dies there (Note [kernels in place]): the
same bits as the kernel writing a fresh buffer, and never where another point or operand
still reads the input."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float32, float64, int8
from adjit.ir.graph import Eqn, Graph, Lit, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.runtime import inplace_kernels
from adjit.runtime.executor import compile_program
from adjit.runtime.inplace_kernels import InPlaceKernelStep

import adjit

N = 48


def _var(shape: tuple[int, ...] = (N, N), dtype=float64) -> Var:
    return Var(Aval(shape, dtype))


@contextlib.contextmanager
def _no_pairs() -> Iterator[None]:
    """Programs compiled inside offer no pair: every kernel writes a buffer of its own."""
    offer = inplace_kernels.in_place_pairs
    inplace_kernels.in_place_pairs = lambda k: ()
    try:
        yield
    finally:
        inplace_kernels.in_place_pairs = offer


def _both(g: Graph, xs: list[np.ndarray], calls: int = 3) -> tuple[object, list[np.ndarray]]:
    """The program compiled as usual, checked bit for bit against it compiled with no pair
    (each output over ``calls`` calls, the arena reused); returns it and its outputs."""
    ex = compile_program(g)
    with _no_pairs():
        plain = compile_program(g)
    assert not plain.buffer_plan.shared
    for _ in range(calls):
        got, want = ex(xs), plain(xs)
        for a, b in zip(got, want, strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    return ex, got


def _in_place_steps(ex: object) -> list[InPlaceKernelStep]:
    return [s for s in ex.steps if isinstance(s, InPlaceKernelStep)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("dtype", [float32, float64])
def test_an_elementwise_chain_over_a_dying_gemm_result_has_the_fresh_bits(dtype) -> None:
    x, m, t, r, out = _var(dtype=dtype), *(_var(dtype=dtype) for _ in range(4))
    u, v, w = (_var(dtype=dtype) for _ in range(3))
    eqns = (
        Eqn(Op.MATMUL, (x, x), {}, m),
        Eqn(Op.MUL, (m, Lit(0.5, Aval((), dtype))), {}, u),  # a GELU's stages
        Eqn(Op.ERF, (u,), {}, v),
        Eqn(Op.ADD, (v, Lit(1.0, Aval((), dtype))), {}, w),
        Eqn(Op.MUL, (m, w), {}, t),  # one kernel: m dies here, t is written over it
        Eqn(Op.MATMUL, (t, t), {}, r),
        Eqn(Op.TANH, (r,), {}, out),
    )
    g = Graph((x,), eqns, (out,))
    xs = [np.random.default_rng(0).standard_normal((N, N)).astype(dtype.np) / 4]
    ex, (got,) = _both(g, xs)
    plan = ex.buffer_plan
    assert plan.shared == {t: m} and plan.offset_of[t] == plan.offset_of[m]
    tol = 2e-6 if dtype is float32 else 1e-13  # outputs near 1: a few ulps of 1 (erf, BLAS)
    np.testing.assert_allclose(got, interpret(g, xs)[0], rtol=tol, atol=tol)
    (step,) = [s for s in _in_place_steps(ex) if t in s.kernel.outputs]
    assert list(step.variants) == [((0, 0),)]  # the kernel compiled in place ran


def test_a_kernel_with_a_reduction_writes_its_full_output_in_place_only() -> None:
    x, m, t, s, r = _var(), _var(), _var(), _var((1, N)), _var()
    eqns = (
        Eqn(Op.MATMUL, (x, x), {}, m),
        Eqn(Op.EXP, (m,), {}, t),
        Eqn(Op.SUM, (t,), {"axes": (0,), "keepdim": True}, s),  # the same kernel reduces t
        Eqn(Op.MATMUL, (t, t), {}, r),
    )
    g = Graph((x,), eqns, (r, s))
    xs = [np.random.default_rng(1).standard_normal((N, N)) / 8]
    ex, _ = _both(g, xs)
    assert ex.buffer_plan.shared == {t: m}


def test_a_broadcast_input_is_never_written_over() -> None:
    # a (1, N) row read by every row of the (N, N) kernel: it dies there, but its elements
    # are read at many points; only the (N, N) operand that dies there may take the output
    x, y, row = _var(), _var(), _var((1, N))
    a, b, t, r = _var((1, N)), _var(), _var(), _var()
    eqns = (
        Eqn(Op.MATMUL, (row, x), {}, a),
        Eqn(Op.MATMUL, (x, y), {}, b),
        Eqn(Op.ADD, (a, b), {}, t),
        Eqn(Op.MATMUL, (t, t), {}, r),
    )
    g = Graph((x, y, row), eqns, (r,))
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal(v.aval.shape) for v in g.inputs]
    ex, _ = _both(g, xs)
    assert ex.buffer_plan.shared == {t: b}
    # with the full operand a graph input (not the program's to overwrite): nothing
    g2 = Graph((x, y, row), (eqns[0], Eqn(Op.ADD, (a, x), {}, t), eqns[3]), (r,))
    ex2, _ = _both(g2, xs)
    assert not ex2.buffer_plan.shared


def test_a_transposed_input_is_never_written_over() -> None:
    x, m, mt, t, r = _var(), _var(), _var(), _var(), _var()
    # the kernel reads m's transpose only (a view: never a pooled value of its own)
    eqns = (
        Eqn(Op.MATMUL, (x, x), {}, m),
        Eqn(Op.PERMUTE, (m,), {"axes": (1, 0)}, mt),
        Eqn(Op.SIN, (mt,), {}, t),
        Eqn(Op.MATMUL, (t, t), {}, r),
    )
    g = Graph((x,), eqns, (r,))
    xs = [np.random.default_rng(3).standard_normal((N, N))]
    ex, _ = _both(g, xs)
    assert not ex.buffer_plan.shared
    # the kernel reads m and its transpose: element (i, j) of the output would land on
    # m[i, j] before the point (j, i) reads it through the view
    both = (eqns[0], eqns[1], Eqn(Op.SUB, (m, mt), {}, t), eqns[3])
    ex2, _ = _both(Graph((x,), both, (r,)), xs)
    assert not ex2.buffer_plan.shared


def test_a_kernel_only_program_runs_in_place_through_its_prepared_call() -> None:
    # (Note [prepared calls]: every address fixed once, the in-place kernel picked then)
    x, t, s, u, v, w = _var(), _var(), _var((1, N)), _var(), _var((1, N)), _var()
    eqns = (
        Eqn(Op.EXP, (x,), {}, t),
        Eqn(Op.SUM, (x,), {"axes": (0,), "keepdim": True}, s),
        Eqn(Op.SUB, (t, s), {}, u),  # reads a reduction: the next kernel; t dies there
        Eqn(Op.SUM, (u,), {"axes": (0,), "keepdim": True}, v),
        Eqn(Op.DIV, (u, v), {}, w),
    )
    g = Graph((x,), eqns, (w,))
    xs = [np.random.default_rng(4).standard_normal((N, N))]
    ex, (got,) = _both(g, xs)
    assert ex._plan is not None and ex.buffer_plan.shared == {u: t}
    np.testing.assert_allclose(got, interpret(g, xs)[0], rtol=1e-12)


def test_int8_lcm_compiled_with_its_steps_in_place_is_exact() -> None:
    # gcd's steps (kernels between CHECKs) each write over the last one's dying values
    rng = np.random.default_rng(5)
    a, b = rng.integers(-100, 100, (2, 1000))
    a[:10], b[5:15] = 0, 0
    args = [adjit.tensor(v).to(adjit.int8) for v in (a, b)]
    want = torch.lcm(*(torch.tensor(v).to(torch.int8) for v in (a, b)))
    f = adjit.compile(adjit.lcm)
    for _ in range(2):
        np.testing.assert_array_equal(f(*args).numpy(), want.numpy())
    ((_, ex),) = adjit.explain(adjit.lcm, *args)._executables()
    shared = ex.buffer_plan.shared
    assert any(o.aval.dtype == int8 for o in shared)
    xs = [np.asarray(t.numpy()) for t in args]
    with _no_pairs():
        plain = compile_program(ex.graph)
    np.testing.assert_array_equal(ex(xs)[0], plain(xs)[0])


def test_gradient_of_norm_minus_inf_compiled_is_torchs() -> None:
    # its forward's kernel over the product's result, its backward's over dying gradients
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal((64, 64)).astype(np.float32)
    w0 = rng.standard_normal((64, 64)).astype(np.float32) / 8

    def loss(lib, x, w):
        return lib.linalg.norm((x @ w).tanh() * 2 + 1, float("-inf")) * 3

    def grads(lib, step):
        x, w = (lib.tensor(a, requires_grad=True) for a in (x0, w0))
        step(x, w).backward()
        return x.grad.numpy(), w.grad.numpy()

    f = adjit.compile(lambda x, w: loss(adjit, x, w))
    got = [grads(adjit, f) for _ in range(2)]
    want = grads(torch, lambda x, w: loss(torch, x, w))
    for g in got:
        for a, b in zip(g, want, strict=True):
            assert np.isfinite(a).all()
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    x, w = (adjit.tensor(a, requires_grad=True) for a in (x0, w0))
    runs = adjit.explain(lambda x, w: loss(adjit, x, w), x, w)._executables()
    fwd = next(ex for _, ex in runs if ex.joint is not None and ex.donor is None)
    assert fwd.joint.plan.shared
    with _no_pairs():
        plain = grads(adjit, adjit.compile(lambda x, w: loss(adjit, x, w)))
    for a, b in zip(got[-1], plain, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_training_step_writes_in_place_and_keeps_its_gradients_bits() -> None:
    # the transformer block's MLP: GELU over its GEMM's result, its backward over the
    # incoming gradient (Note [one arena for a training step]: the joint plan)
    rng = np.random.default_rng(7)
    data = {
        "x": rng.standard_normal((4, 16, 32)),
        "w1": rng.standard_normal((32, 64)) / 6,
        "c1": rng.standard_normal(64) / 6,
        "w2": rng.standard_normal((64, 32)) / 8,
    }
    F = adjit.nn.functional

    def run(pairs: bool) -> tuple[list[np.ndarray], object]:
        p = {k: adjit.tensor(v.astype(np.float32), requires_grad=k != "x") for k, v in data.items()}

        def loss(x):
            return ((x + F.gelu(x @ p["w1"] + p["c1"]) @ p["w2"]) ** 2).mean()

        with contextlib.nullcontext() if pairs else _no_pairs():
            f = adjit.compile(loss)
            out = []
            for _ in range(2):
                for k in ("w1", "c1", "w2"):
                    p[k].grad = None
                f(p["x"]).backward()
                out.append([p[k].grad.numpy().copy() for k in ("w1", "c1", "w2")])
        runs = adjit.explain(loss, p["x"])._executables()
        return out, runs

    got, runs = run(True)
    want, _ = run(False)
    for a, b in zip(got, want, strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)
    fwd = next(ex for _, ex in runs if ex.joint is not None and ex.donor is None)
    assert len(fwd.joint.plan.shared) >= 2  # the GELU's output and its gradient's
