"""Activation checkpointing and the activation-memory budget inside adjit.compile
(Note [checkpoint traced], Note [rematerialization]): what is saved, and that gradients match
eager mode and PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from adjit.ir.ops import Op

import adjit
from adjit.utils.checkpoint import checkpoint, checkpoint_sequential

D = 16
BACKENDS = ["llvm", "interpreter"]


def _params(lib: Any, dtype: Any) -> list[Any]:
    rng = np.random.default_rng(0)
    shapes = [(D, 4 * D), (4 * D,), (4 * D, D), (D,)]
    return [
        lib.tensor(rng.standard_normal(s) * 0.3, dtype=dtype, requires_grad=True) for s in shapes
    ]


def _block(lib: Any, ps: list[Any], p_drop: float = 0.0) -> Any:
    F = lib.nn.functional
    w1, b1, w2, g = ps

    def block(x: Any) -> Any:
        h = F.layer_norm(x, (D,), g)
        h = F.gelu(h @ w1 + b1)
        if p_drop:
            h = F.dropout(h, p_drop, training=True)
        return x + (h @ w2).tanh()

    return block


def _step(lib: Any, ps: list[Any], ck: bool, layers: int = 2, p_drop: float = 0.0) -> Any:
    ck_mod = lib.utils.checkpoint
    block = _block(lib, ps, p_drop)

    def step(x: Any) -> Any:
        for _ in range(layers):
            x = ck_mod.checkpoint(block, x, use_reentrant=False) if ck else block(x)
        return x.pow(2).mean()

    return step


def _x(lib: Any, dtype: Any) -> Any:
    return lib.tensor(np.random.default_rng(1).standard_normal((8, D)), dtype=dtype)


def _grads(ps: list[Any], run: Any) -> list[np.ndarray]:
    for p in ps:
        p.grad = None
    run().backward()
    return [np.asarray(p.grad.detach().numpy(), dtype=np.float64) for p in ps]


def _split(fn: Any, *args: Any) -> Any:
    return adjit.explain(fn, *args).plan.split


@pytest.mark.parametrize("backend", BACKENDS)
def test_checkpointed_step_saves_fewer_bytes_with_eager_and_torch_gradients(backend: str) -> None:
    ps, x = _params(adjit, adjit.float64), _x(adjit, adjit.float64)
    plain = adjit.compile(_step(adjit, ps, False), backend=backend)
    ck = adjit.compile(_step(adjit, ps, True), backend=backend)
    s_plain, s_ck = _split(plain, x), _split(ck, x)
    assert s_ck.saved_bytes < s_plain.saved_bytes / 4
    # nothing a region computes is kept, but the value handed from one region to the next
    assert len(s_ck.residuals) == 1 and s_ck.residuals[0].aval.shape == (8, D)
    # the backward recomputes the regions' matmuls, the plain one does not
    recomputed = set(s_ck.forward.eqns) & set(s_ck.backward.eqns)
    assert any(e.op is Op.MATMUL for e in recomputed)
    assert not any(
        e.op is Op.MATMUL for e in set(s_plain.forward.eqns) & set(s_plain.backward.eqns)
    )
    want = _grads(ps, lambda: _step(adjit, ps, True)(x))  # eager checkpoint
    for fn in (plain, ck):
        for got, exp in zip(_grads(ps, lambda fn=fn: fn(x)), want, strict=True):
            np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-12)
    tps, tx = _params(torch, torch.float64), _x(torch, torch.float64)
    for got, exp in zip(
        _grads(ps, lambda: ck(x)), _grads(tps, lambda: _step(torch, tps, True)(tx)), strict=True
    ):
        np.testing.assert_allclose(got, exp, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_sequential_and_reentrant_mark_regions(reentrant: bool) -> None:
    ps, x = _params(adjit, adjit.float64), _x(adjit, adjit.float64).requires_grad_()
    blocks = [_block(adjit, ps) for _ in range(4)]

    def seq(x: Any) -> Any:
        return checkpoint_sequential(blocks, 2, x, use_reentrant=reentrant).sum()

    def plain(x: Any) -> Any:
        for b in blocks:
            x = b(x)
        return x.sum()

    assert _split(adjit.compile(seq), x).saved_bytes < _split(adjit.compile(plain), x).saved_bytes
    want = _grads(ps, lambda: seq(x))
    for got, exp in zip(_grads(ps, lambda: adjit.compile(seq)(x)), want, strict=True):
        np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_in_a_checkpointed_region_uses_the_forward_draws(backend: str) -> None:
    ps, x = _params(adjit, adjit.float32), _x(adjit, adjit.float32)
    step = _step(adjit, ps, True, p_drop=0.3)
    cf = adjit.compile(step, backend=backend)
    adjit.manual_seed(7)
    cf(x)  # the first call traces; the generator position is eager's either way
    parts = _split(cf, x)
    assert not any(e.op is Op.RANDOM for e in parts.backward.eqns)  # never drawn again
    for seed in (3, 4):
        adjit.manual_seed(seed)
        want = _grads(ps, lambda: step(x))  # eager: the recomputation restores the RNG state
        after = adjit.get_rng_state()
        adjit.manual_seed(seed)
        got = _grads(ps, lambda: cf(x))
        assert adjit.equal(adjit.get_rng_state(), after)  # one draw per dropout, as eagerly
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
        tps, tx = _params(torch, torch.float32), _x(torch, torch.float32)
        torch.manual_seed(seed)  # PyTorch's generator: the same masks (Note [random numbers...])
        theirs = _grads(tps, lambda tps=tps, tx=tx: _step(torch, tps, True, p_drop=0.3)(tx))
        for g, w in zip(got, theirs, strict=True):
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


def test_budget_monotonically_trades_bytes_for_recomputation() -> None:
    ps, x = _params(adjit, adjit.float64), _x(adjit, adjit.float64)
    step = _step(adjit, ps, False, layers=2, p_drop=0.2)
    sizes = []
    for b in (1.0, 0.75, 0.5, 0.25, 0.0):
        cf = adjit.compile(step, options={"activation_memory_budget": b})
        parts = _split(cf, x)
        sizes.append(parts.saved_bytes)
        if b < 1:
            assert parts.memory.met, parts.memory.steps  # the target is always reached
            assert parts.saved_bytes <= parts.memory.target_bytes
        assert not any(e.op is Op.RANDOM for e in parts.backward.eqns)
        recomputed = set(parts.forward.eqns) & set(parts.backward.eqns)
        if b >= 0.5:  # cheap ops suffice: products are not recomputed
            assert not any(e.op is Op.MATMUL for e in recomputed), b
        adjit.manual_seed(0)
        want = _grads(ps, lambda: step(x))
        adjit.manual_seed(0)
        for g, w in zip(_grads(ps, lambda cf=cf: cf(x)), want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < sizes[0] / 2, sizes
    # b = 0 saves only what cannot be recomputed: the dropout masks (2 x [8, 4D] float64)
    assert sizes[-1] == 2 * 8 * 4 * D * 8


def test_budget_option_and_config_are_checked_like_torch() -> None:
    with pytest.raises(RuntimeError, match="0 <= m <= 1. The provided value is 1.5"):
        adjit.compile(lambda x: x, options={"activation_memory_budget": 1.5})
    with pytest.raises(RuntimeError, match="Unexpected optimization option max_autotune"):
        adjit.compile(lambda x: x, options={"max_autotune": True})
    ps, x = _params(adjit, adjit.float64), _x(adjit, adjit.float64)
    step = _step(adjit, ps, False)
    full = _split(adjit.compile(step), x).saved_bytes
    old = adjit.compiler.config.activation_memory_budget
    try:
        adjit.compiler.config.activation_memory_budget = 0.0
        assert _split(adjit.compile(step), x).saved_bytes < full
        with pytest.raises(RuntimeError, match="memory budget"):
            adjit.compiler.config.activation_memory_budget = -0.1
    finally:
        adjit.compiler.config.activation_memory_budget = old


def _mlp(x: Any, w1: Any, w2: Any) -> Any:
    h = (x @ w1).relu()
    y = (h @ w2).tanh()
    return y.pow(2).mean()


def test_explain_saved_names_shapes_bytes_lines_and_peak() -> None:
    w1 = adjit.randn(D, 4 * D, requires_grad=True)
    w2 = adjit.randn(4 * D, D, requires_grad=True)
    x = adjit.randn(8, D)
    saved = adjit.explain(_mlp, x, w1, w2).saved
    line = _mlp.__code__.co_firstlineno
    rows = [(r.name, r.shape, r.dtype, r.bytes, r.op, r.line) for r in saved]
    assert rows[:2] == [
        ("h", (8, 4 * D), "float32", 8 * 4 * D * 4, "relu", f"{__file__}:{line + 1}"),
        ("y", (8, D), "float32", 8 * D * 4, "tanh", f"{__file__}:{line + 2}"),
    ]
    assert saved.bytes == sum(r.bytes for r in saved)
    assert saved.inputs_read == ["x", "w2"]  # read by the backward, held by the caller
    # the backward holds the residuals, then w2's and h's gradients and the other temporaries
    assert saved.bytes < saved.peak_bytes < 10 * saved.bytes and saved.peak_at
    text = str(saved)
    assert f"h: f32[8,{4 * D}], {8 * 4 * D * 4} bytes (relu)  at {__file__}:{line + 1}" in text
    assert f"peak activation memory: {saved.peak_bytes} bytes" in text
    cf = adjit.compile(_mlp, options={"activation_memory_budget": 0.0}, backend="llvm")
    ex = adjit.explain(cf, x, w1, w2)
    assert ex.saved.pool_bytes is None  # nothing has run (or been built) yet
    assert ex.saved.bytes == 0 and ex.saved.target_bytes == 0 and "met" in str(ex.saved)
    assert "== saved for backward (0 bytes)" in str(ex)
    cf(x, w1, w2).backward()
    assert adjit.explain(cf, x, w1, w2).saved.pool_bytes > 0


def test_stacked_checkpointed_blocks_lower_the_planned_peak() -> None:
    # each region is recomputed just before its own gradient (split.late_recompute): the
    # backward never holds every block's activations at once
    # (at these sizes the gradients dominate the peak: compare how it grows with the depth)
    ps, x = _params(adjit, adjit.float32), _x(adjit, adjit.float32)

    def saved(ckpt: bool, layers: int) -> Any:
        return adjit.explain(adjit.compile(_step(adjit, ps, ckpt, layers=layers)), x).saved

    plain, ck = saved(False, 4), saved(True, 4)
    assert ck.bytes == 3 * 8 * D * 4  # the three values handed from block to block
    assert ck.peak_bytes < plain.peak_bytes, (ck.peak_bytes, plain.peak_bytes)
    plain_growth = saved(False, 8).peak_bytes - plain.peak_bytes
    ck_growth = saved(True, 8).peak_bytes - ck.peak_bytes
    assert ck_growth <= 4 * 8 * D * 4 < plain_growth / 4, (ck_growth, plain_growth)


W_OUTSIDE = adjit.randn(D, D, requires_grad=True)


def test_explain_saved_names_the_inputs_the_backward_reads() -> None:
    lin = adjit.nn.Linear(D, D)

    def fn(x: Any) -> Any:
        return lin(x @ W_OUTSIDE).tanh().sum()

    saved = adjit.explain(fn, adjit.randn(4, D, requires_grad=True)).saved
    assert set(saved.inputs_read) == {"x", "W_OUTSIDE", "weight"}
    # `return` binds no name: the op, with its operands' names where known
    assert [r.name for r in saved] == ["matmul(x, W_OUTSIDE)", "tanh"]


def test_nested_checkpoints_and_keyword_arguments() -> None:
    ps, x = _params(adjit, adjit.float64), _x(adjit, adjit.float64)
    block = _block(adjit, ps)

    def outer(x: Any, scale: float = 1.0) -> Any:
        return checkpoint(block, x, use_reentrant=False) * scale + x.sin()

    def step(x: Any) -> Any:
        return checkpoint(outer, x, use_reentrant=False, scale=0.5).pow(2).mean()

    cf = adjit.compile(step)
    assert _split(cf, x).saved_bytes == 0  # everything inside the outer region: recomputed
    want = _grads(ps, lambda: step(x))
    for g, w in zip(_grads(ps, lambda: cf(x)), want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
