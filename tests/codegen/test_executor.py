"""The executor on whole programs (joint, forward, backward graphs) equals the interpreter."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from adjit.ir.graph import Graph
from adjit.ir.interpreter import interpret
from adjit.ir.ops import Op
from adjit.runtime.executor import compile_program

import adjit


def _mlp(x, w1, w2, y):
    return (((x @ w1).relu() @ w2).sigmoid() - y).pow(2).mean()


def _softmax_ce(logits, onehot):
    logp = logits - logits.exp().sum(1, keepdim=True).log()
    return -(logp * onehot).sum(1).mean()


def _layer_norm(x, g):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (((x - mu) / (var + 1e-5).sqrt()) * g).tanh().sum()


def _w1(x, y):
    return (x.sin() * y.exp() + x**2 * y - (x * y).tanh()).sum()


# name -> (function, argument shapes, arguments that require grad)
PROGRAMS: dict[str, tuple[Callable, list[tuple[int, ...]], list[bool]]] = {
    "mlp": (_mlp, [(16, 5), (5, 32), (32, 3), (16, 3)], [False, True, True, False]),
    "softmax_ce": (_softmax_ce, [(16, 10), (16, 10)], [True, False]),
    "layer_norm": (_layer_norm, [(8, 33), (33,)], [True, True]),
    "w1": (_w1, [(1000,), (1000,)], [True, True]),
}


def _graphs(name: str) -> tuple[dict[str, Graph], list[np.ndarray], object]:
    fn, shapes, grads = PROGRAMS[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    if name == "softmax_ce":
        arrays[1] = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
    args = [adjit.tensor(a, requires_grad=r) for a, r in zip(arrays, grads, strict=True)]
    ex = adjit.explain(fn, *args)
    return {"optimized": ex.optimized, "forward": ex.forward, "backward": ex.backward}, arrays, ex


def _close(got: list[np.ndarray], ref: list[np.ndarray]) -> None:
    # float32 reductions of <= 1000 terms reassociated: a few ulp of the terms' magnitude
    for a, r in zip(got, ref, strict=True):
        assert a.dtype == r.dtype and a.shape == r.shape
        scale = max(1.0, float(np.max(np.abs(r), initial=0)))
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_programs_match_the_interpreter(name: str) -> None:
    graphs, arrays, ex = _graphs(name)
    extra = graphs["optimized"].inputs[len(arrays) :]  # the output cotangent seeds
    joint_in = arrays + [np.ones(v.aval.shape, v.aval.dtype.np) for v in extra]
    _close(compile_program(graphs["optimized"])(joint_in), interpret(graphs["optimized"], joint_in))
    fwd = compile_program(graphs["forward"])
    fwd_out = fwd(arrays)
    _close(fwd_out, interpret(graphs["forward"], arrays))
    split = ex.plan.split  # type: ignore[attr-defined]
    bwd_g = graphs["backward"]
    residuals = fwd_out[len(fwd_out) - len(split.residuals) :]
    bwd_in = residuals + [arrays[i] for i in split.saved_inputs]
    bwd_in += [np.ones(v.aval.shape, v.aval.dtype.np) for v in bwd_g.inputs[len(bwd_in) :]]
    _close(compile_program(bwd_g)(bwd_in), interpret(bwd_g, bwd_in))


def test_steady_state_reuses_buffers_and_never_overwrites_held_results() -> None:
    graphs, arrays, _ = _graphs("layer_norm")
    g = graphs["forward"]
    ex = compile_program(g)
    first = ex(arrays)
    kept = [a.copy() for a in first]
    for _ in range(4):
        ex([a + 1 for a in arrays])  # results dropped at once: their buffers come back
    allocs = ex.buffers.allocations
    for _ in range(4):
        ex([a + 1 for a in arrays])
    assert ex.buffers.allocations == allocs  # steady state: no new output buffers
    for a, k in zip(first, kept, strict=True):  # held by us all along: untouched
        np.testing.assert_array_equal(a, k)


def test_noncontiguous_and_wrongly_typed_inputs() -> None:
    graphs, arrays, _ = _graphs("w1")
    g = graphs["forward"]
    ex = compile_program(g)
    wide = [np.repeat(a, 2)[::2] for a in arrays]  # strided views
    _close(ex(wide), interpret(g, arrays))
    _close(ex([a.astype(np.float64) for a in arrays]), interpret(g, arrays))


def test_externs_run_numpy_and_matmul_writes_into_a_buffer() -> None:
    graphs, arrays, _ = _graphs("mlp")
    ex = compile_program(graphs["forward"])
    ops = [s.eqn.op for s in ex.steps if hasattr(s, "eqn")]
    assert Op.MATMUL in ops
    _close(ex(arrays), interpret(graphs["forward"], arrays))


def test_stack_times_matrix_is_one_gemm_over_the_rows_and_strided_stacks_still_work() -> None:
    """Note [one GEMM over the batch]: (B, m, k) @ (k, n) runs as (B m, k) @ (k, n) when the
    stack's rows are one matrix (a view); a stack whose rows are not stays a batched matmul."""
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal((3, 4, 5))
    w0 = rng.standard_normal((6, 5))
    f = adjit.compile(lambda x, w: x @ w.T)
    np.testing.assert_allclose(f(adjit.tensor(x0), adjit.tensor(w0)).numpy(), x0 @ w0.T, 1e-13)
    # inside the program: a permuted stack (rows not one matrix) and a stack of one
    g = adjit.compile(lambda x, w: (x.transpose(0, 1) @ w.T, x[:1] @ w.T))
    xt = x0.transpose(1, 0, 2).copy()
    a, b = g(adjit.tensor(xt), adjit.tensor(w0))
    np.testing.assert_allclose(a.numpy(), x0 @ w0.T, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(b.numpy(), xt[:1] @ w0.T, rtol=1e-13, atol=1e-13)
    held = f(adjit.tensor(x0), adjit.tensor(w0))
    kept = held.numpy().copy()
    f(adjit.tensor(x0 + 1), adjit.tensor(w0))  # a later call does not write into a held result
    np.testing.assert_array_equal(held.numpy(), kept)


def test_strided_inputs_reach_blas_uncopied_and_kernels_contiguous(monkeypatch) -> None:
    """Note [strided inputs]: a strided program input read only by a matmul is not copied; one
    a kernel reads is copied contiguous for it; both agree with the interpreter."""
    import adjit.runtime.executor as executor

    rng = np.random.default_rng(3)
    base = rng.standard_normal((4, 6, 3, 2, 8)).astype(np.float32)  # (B, S, qkv, heads, dh)
    q = base[:, :, 0].transpose(0, 2, 1, 3)  # (4, 2, 6, 8), strided as attention's q
    k = base[:, :, 1].transpose(0, 2, 1, 3)
    only_blas = adjit.explain(
        lambda a, b: a @ b.transpose(-2, -1), adjit.tensor(q), adjit.tensor(k)
    )
    both = adjit.explain(
        lambda a, b: (a @ b.transpose(-2, -1)) * a.sum(), adjit.tensor(q), adjit.tensor(k)
    )
    copied: list[tuple[int, ...]] = []
    real = executor._contiguous

    def spy(a: np.ndarray) -> np.ndarray:
        if not a.flags.c_contiguous:
            copied.append(a.shape)
        return real(a)

    monkeypatch.setattr(executor, "_contiguous", spy)
    for ex, copies in ((only_blas, 0), (both, 1)):
        g = ex.inference
        prog = compile_program(g)
        for _ in range(2):  # the second call: the same arrays as the last one
            copied.clear()
            _close(prog([q, k]), interpret(g, [q.copy(), k.copy()]))
            assert len(copied) == copies
    assert not q.flags.c_contiguous and not k.flags.c_contiguous


def test_cat_writes_a_contiguous_pooled_buffer() -> None:
    """A CAT of permuted operands comes out C-contiguous (NumPy's own result would follow the
    operands' axis order), equal to NumPy's, and a held result is never written again."""
    rng = np.random.default_rng(4)
    a0, b0 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    f = adjit.compile(lambda a, b: adjit.cat([a.permute(0, 2, 1), b.permute(0, 2, 1)], 1) * 1)
    g = adjit.compile(lambda a, b: adjit.cat([a.permute(0, 2, 1), b.permute(0, 2, 1)], 1))
    want = np.concatenate([a0.transpose(0, 2, 1), b0.transpose(0, 2, 1)], 1)
    for fn in (f, g):
        held = fn(adjit.tensor(a0), adjit.tensor(b0))
        np.testing.assert_array_equal(held.numpy(), want)
        assert held.numpy().flags.c_contiguous
        fn(adjit.tensor(a0 + 1), adjit.tensor(b0 + 1))  # a later call: a different buffer
        np.testing.assert_array_equal(held.numpy(), want)
    mixed = adjit.compile(lambda a, i: adjit.cat([a, i], 2))  # int64 promoted: the rule's path
    i0 = np.arange(10).reshape(2, 5, 1)
    np.testing.assert_array_equal(
        mixed(adjit.tensor(a0), adjit.tensor(i0)).numpy(), np.concatenate([a0, i0], 2)
    )
