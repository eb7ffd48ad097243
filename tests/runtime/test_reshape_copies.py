"""Reshapes that must copy write into pooled buffers (Note [reshape copies]); the rest are views;
results held across calls and written in place stay right."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from adjit.ir.aval import Aval
from adjit.ir.dtypes import float64
from adjit.ir.graph import Eqn, Graph, Var
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.runtime.executor import ReshapeView, compile_program
from adjit.runtime.reshape_copies import PermuteCopy, ReshapeCopy, view_strides

import adjit


def _numpy_views(a: np.ndarray, shape: tuple[int, ...]) -> bool:
    try:
        np.reshape(a, shape, copy=False)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("dims", [(2, 3, 4), (1, 6, 4), (2, 1, 3, 4), (4, 1, 1)])
def test_view_strides_agree_with_numpy(dims: tuple[int, ...]) -> None:
    base = np.zeros(dims)
    n = int(np.prod(dims))
    targets = [(n,), (dims[0], n // dims[0]), (n // dims[-1], dims[-1]), (1, n, 1)]
    for axes in itertools.permutations(range(len(dims))):
        for view in (base.transpose(axes), base.transpose(axes)[..., ::1]):
            for shape in targets:
                want = _numpy_views(view, shape)
                assert (view_strides(view.shape, view.strides, shape) is not None) == want


def _var(*shape: int) -> Var:
    return Var(Aval(shape, float64))


def _columns_graph() -> Graph:
    """exp(x) (N, C, L), permuted to (C, N, L), read as the (C, N L) matrix: conv's columns."""
    x, w = _var(2, 3, 4), _var(5, 3)
    e, p, r, m, v = _var(2, 3, 4), _var(3, 2, 4), _var(3, 8), _var(5, 8), _var(6, 4)
    eqns = (
        Eqn(Op.EXP, (x,), {}, e),
        Eqn(Op.PERMUTE, (e,), {"axes": (1, 0, 2)}, p),
        Eqn(Op.RESHAPE, (p,), {"shape": (3, 8)}, r),
        Eqn(Op.MATMUL, (w, r), {}, m),
        Eqn(Op.RESHAPE, (e,), {"shape": (6, 4)}, v),  # contiguous: a view
    )
    return Graph((x, w), eqns, (m, r, v))


def test_a_reshape_that_copies_is_pooled_and_one_that_views_is_not() -> None:
    g = _columns_graph()
    ex = compile_program(g)
    kinds = {s.eqn.out.aval.shape: type(s) for s in ex.steps if hasattr(s, "eqn")}
    assert kinds[(3, 8)] is ReshapeCopy and kinds[(6, 4)] is ReshapeView
    rng = np.random.default_rng(0)
    held = []
    for _ in range(4):
        xs = [rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 3))]
        got, want = ex(xs), interpret(g, xs)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
        held.append((got, [a.copy() for a in got]))
        got[1][0, 0] = -7.0  # the caller writes into the copied result: no later call sees it
    for got, copies in held:
        for a, c in zip(got[::2], copies[::2], strict=True):  # the untouched results
            np.testing.assert_array_equal(a, c)
    allocs = ex.buffers.allocations
    del held
    for _ in range(3):
        ex([rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 3))])
    assert ex.buffers.allocations <= allocs + 2  # steady state: the copies reuse their buffers


def _view_graph() -> Graph:
    """A reshaped graph input and a reshaped kernel value, each read by a kernel after it."""
    x, y = _var(2, 3, 4), _var(4, 6)
    r, e, s, t, u = _var(6, 4), _var(6, 4), _var(4, 6), _var(4, 6), _var(6, 4)
    eqns = (
        Eqn(Op.RESHAPE, (x,), {"shape": (6, 4)}, r),  # a graph input: its address is known
        Eqn(Op.NEG, (r,), {}, e),  # a kernel reads the view by that address
        Eqn(Op.RESHAPE, (e,), {"shape": (4, 6)}, s),  # a kernel's value reshaped
        Eqn(Op.ADD, (s, y), {}, t),
        Eqn(Op.RESHAPE, (t,), {"shape": (6, 4)}, u),
    )
    return Graph((x, y), eqns, (u, r))


def test_reshape_views_read_their_operands_memory_at_every_layout() -> None:
    """Note [reshape views]: a view of its operand, whose address the next kernel reads; a
    strided input (the reshape copies) or one of another dtype (converted first) is read right."""
    g = _view_graph()
    ex = compile_program(g)
    assert sum(type(s) is ReshapeView for s in ex.steps) == 3
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 6))
    strided = np.asfortranarray(x)
    for args in ([x, y], [strided, y], [x.astype(np.float32), y], [x, y]):
        got, want = ex(args), interpret(g, [np.asarray(a, np.float64) for a in args])
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_convolution_gradients_and_in_place_updates_after_views() -> None:
    """A compiled conv step (its columns and output gradient go through copying reshapes)
    agrees with eager, and parameters updated in place between calls are read afresh."""
    conv = adjit.nn.Conv2d(3, 4, 3, padding=1)
    x = adjit.randn(2, 3, 5, 5)

    def loss(x):  # type: ignore[no-untyped-def]
        return conv(x).tanh().pow(2).sum()

    compiled = adjit.compile(loss)
    for _ in range(3):
        conv.zero_grad()
        loss(x).backward()
        want = [p.grad.numpy().copy() for p in conv.parameters()]
        conv.zero_grad()
        out = compiled(x)
        out.backward()
        for p, w in zip(conv.parameters(), want, strict=True):
            np.testing.assert_allclose(p.grad.numpy(), w, rtol=1e-4, atol=1e-5)
        with adjit.no_grad():
            conv.weight.mul_(0.5)  # in place, after the program read it through views


def test_a_permute_read_by_a_kernel_is_copied_into_a_pooled_buffer() -> None:
    """Note [permute copies]: a GEMM's (O, N, L) result read as (N, O, L) by a kernel (and
    returned: the caller gets the values)."""
    w, x = _var(5, 3), _var(3, 8)
    m, r, p, e, e2 = _var(5, 8), _var(5, 2, 4), _var(2, 5, 4), _var(2, 5, 4), _var(2, 5, 4)
    eqns = (
        Eqn(Op.MATMUL, (w, x), {}, m),
        Eqn(Op.RESHAPE, (m,), {"shape": (5, 2, 4)}, r),
        Eqn(Op.PERMUTE, (r,), {"axes": (1, 0, 2)}, p),
        Eqn(Op.EXP, (p,), {}, e),
        Eqn(Op.NEG, (e,), {}, e2),
    )
    g = Graph((w, x), eqns, (e2, p))
    ex = compile_program(g)
    assert any(isinstance(s, PermuteCopy) for s in ex.steps)
    rng = np.random.default_rng(2)
    for _ in range(3):
        xs = [rng.standard_normal((5, 3)), rng.standard_normal((3, 8))]
        for a, b in zip(ex(xs), interpret(g, xs), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    allocs = ex.buffers.allocations
    for _ in range(3):
        ex([rng.standard_normal((5, 3)), rng.standard_normal((3, 8))])
    assert ex.buffers.allocations == allocs


def test_a_contiguous_permute_stays_a_view() -> None:
    x = _var(1, 3, 4)
    p, e = _var(3, 1, 4), _var(3, 1, 4)
    eqns = (Eqn(Op.PERMUTE, (x,), {"axes": (1, 0, 2)}, p), Eqn(Op.EXP, (p,), {}, e))
    g = Graph((x,), eqns, (e,))
    ex = compile_program(g)
    (step,) = [s for s in ex.steps if isinstance(s, PermuteCopy)]
    a = np.random.default_rng(0).standard_normal((1, 3, 4))
    env: dict = {x: a}
    step.run(env, {}, ex.buffers)
    assert np.shares_memory(env[p], a)
    np.testing.assert_array_equal(ex([a])[0], np.exp(a.transpose(1, 0, 2)))


def test_a_reshape_copy_ends_its_operand_s_life_and_copies_even_where_a_view_would_do() -> None:
    # Note [reshape copies]: the copy never aliases its operand, so exp(x)'s buffer is free
    # once the copy is made (it was planned live until the copy's last reader: the MATMUL)
    x, w = _var(2, 3, 4), _var(5, 3)
    e, p, r, m = _var(2, 3, 4), _var(3, 2, 4), _var(3, 8), _var(5, 8)
    eqns = (
        Eqn(Op.EXP, (x,), {}, e),
        Eqn(Op.PERMUTE, (e,), {"axes": (1, 0, 2)}, p),
        Eqn(Op.RESHAPE, (p,), {"shape": (3, 8)}, r),
        Eqn(Op.MATMUL, (w, r), {}, m),
    )
    g = Graph((x, w), eqns, (m,))
    ex = compile_program(g)
    (i,) = [k for k, s in enumerate(ex.steps) if isinstance(s, ReshapeCopy)]
    assert ex.buffer_plan.live[e][1] == i
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 3))]
    np.testing.assert_allclose(ex(xs)[0], interpret(g, xs)[0], rtol=1e-13)
    # run on an operand whose reshape could be a view: still a copy of the same values
    a = rng.standard_normal((3, 2, 4))  # contiguous
    env = {p: a}
    ex.steps[i].run(env, {}, ex.buffers)
    assert not np.shares_memory(env[r], a)
    np.testing.assert_array_equal(env[r], a.reshape(3, 8))
