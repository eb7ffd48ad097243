"""The engine's array-level VJPs (runtime/array_vjp.py) give the general rules' gradients bit
for bit, and the general path still runs where they do not apply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from adjit.ir.ops import Op
from adjit.runtime import autograd as engine
from adjit.runtime.array_vjp import ARRAY_VJPS

import adjit

SPECIAL = [0.0, -0.0, 1.0, -2.5, np.inf, -np.inf, np.nan, 1e-30, 3e38, -1e-45]


def _values(shape: tuple[int, ...], dtype: Any, seed: int, special: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape).astype(dtype)
    if special and a.size:
        flat = a.reshape(-1)
        picks = rng.choice(len(SPECIAL), size=flat.size)
        mask = rng.random(flat.size) < 0.5
        flat[mask] = np.asarray(SPECIAL, dtype)[picks[mask]]
    return a


# (name, function of the leaves, shapes of the leaves, the op the fast path must cover or None)
CASES: list[tuple[str, Callable[..., Any], list[tuple[int, ...]], Op | None]] = [
    ("neg", lambda x: -x, [(3, 4)], Op.NEG),
    ("exp", lambda x: x.exp(), [(3, 4)], Op.EXP),
    ("log", lambda x: x.log(), [(3, 4)], Op.LOG),
    ("sqrt", lambda x: x.sqrt(), [(3, 4)], Op.SQRT),
    ("sin", lambda x: x.sin(), [(3, 4)], Op.SIN),
    ("cos", lambda x: x.cos(), [(3, 4)], Op.COS),
    ("tanh", lambda x: x.tanh(), [(3, 4)], Op.TANH),
    ("sigmoid", lambda x: x.sigmoid(), [(3, 4)], Op.SIGMOID),
    ("relu", lambda x: x.relu(), [(3, 4)], Op.RELU),
    ("add", lambda x, y: x + y, [(3, 4), (3, 4)], Op.ADD),
    ("add bcast", lambda x, y: x + y, [(3, 4), (4,)], Op.ADD),
    ("add outer", lambda x, y: x + y, [(3, 1), (1, 4)], Op.ADD),
    ("add same", lambda x: x + x, [(3, 4)], Op.ADD),
    ("add number", lambda x: x + 2.5, [(3, 4)], Op.ADD),
    ("sub", lambda x, y: x - y, [(3, 4), (3, 4)], Op.SUB),
    ("rsub number", lambda x: 1.5 - x, [(3, 4)], Op.SUB),
    ("sub bcast", lambda x, y: x - y, [(2, 3, 4), (3, 1)], Op.SUB),
    ("mul", lambda x, y: x * y, [(3, 4), (3, 4)], Op.MUL),
    ("mul bcast", lambda x, y: x * y, [(3, 4), (4,)], Op.MUL),
    ("mul 0-dim", lambda x, y: x * y, [(3, 4), ()], Op.MUL),
    ("mul number", lambda x: x * 1e30, [(3, 4)], Op.MUL),
    ("mul int number", lambda x: 3 * x, [(3, 4)], Op.MUL),
    ("mul square", lambda x: x * x, [(3, 4)], Op.MUL),
    ("div", lambda x, y: x / y, [(3, 4), (3, 4)], Op.DIV),
    ("div bcast", lambda x, y: x / y, [(3, 4), (3, 1)], Op.DIV),
    ("div number", lambda x: x / 3.0, [(3, 4)], Op.DIV),
    ("rdiv number", lambda x: 2.0 / x, [(3, 4)], Op.DIV),
    ("sum", lambda x: x.sum(), [(3, 4)], Op.SUM),
    ("sum dim", lambda x: x.sum(1), [(3, 4)], Op.SUM),
    ("sum keepdim", lambda x: x.sum((0, 2), keepdim=True), [(2, 3, 4)], Op.SUM),
    ("chain", lambda x, w: ((x.sin() * w + w).tanh() / w).exp().sum(0), [(3, 4), (4,)], Op.MUL),
    ("bmm (general)", lambda x, y: x @ y, [(3, 4), (4, 2)], None),
]


def _grads(fn: Callable[..., Any], arrays: list[np.ndarray], seed: int) -> list[np.ndarray]:
    leaves = [adjit.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    g = _values(tuple(out.shape), arrays[0].dtype, seed + 100, special=False)
    out.backward(adjit.tensor(g))
    return [t.grad.numpy().copy() for t in leaves]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("name, fn, shapes, op", CASES, ids=[c[0] for c in CASES])
def test_bit_identical_to_general_rules(
    name: str,
    fn: Callable[..., Any],
    shapes: list[tuple[int, ...]],
    op: Op | None,
    dtype: Any,
    special: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arrays = [_values(s, dtype, i, special) for i, s in enumerate(shapes)]
    taken: list[Op] = []
    real = engine.OpNode._array_apply

    def spy(self: Any, grad: Any) -> Any:
        r = real(self, grad)
        if r is not None:
            taken.append(self.op)
        return r

    monkeypatch.setattr(engine.OpNode, "_array_apply", spy)
    with np.errstate(all="raise"):  # the fast path must not leak NumPy warnings either
        fast = _grads(fn, arrays, 0)
    assert (op in taken) if op is not None else not taken
    monkeypatch.setattr(engine, "ARRAY_VJPS", {})
    general = _grads(fn, arrays, 0)
    for f, g in zip(fast, general, strict=True):
        assert f.dtype == g.dtype and f.shape == g.shape
        assert f.tobytes() == g.tobytes()  # bit for bit, NaN payloads and signed zeros too


def test_values_match_torch() -> None:
    x = _values((3, 4), np.float32, 1, special=False)
    w = _values((4,), np.float32, 2, special=False)
    fn = CASES[-2][1]
    ours = _grads(fn, [x, w], 0)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    out = fn(tx, tw)
    out.backward(torch.tensor(_values(tuple(out.shape), np.float32, 100, special=False)))
    for a, t in zip(ours, [tx.grad, tw.grad], strict=True):
        np.testing.assert_allclose(a, t.numpy(), rtol=1e-5, atol=1e-6)


def test_mixed_dtypes_take_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[Op] = []
    real = engine.OpNode._array_apply
    monkeypatch.setattr(
        engine.OpNode,
        "_array_apply",
        lambda self, grad: taken.append(self.op) or real(self, grad),
    )
    x = adjit.ones(3, requires_grad=True)
    y = adjit.ones(3, dtype=adjit.float64, requires_grad=True)
    (x * y).sum().backward()
    assert x.grad.dtype == adjit.float32 and y.grad.dtype == adjit.float64
    h = adjit.ones(3, dtype=adjit.float16, requires_grad=True)
    (h * 3.0).sum().backward()
    assert h.grad.dtype == adjit.float16


def test_rule_table_covers_only_ops_with_general_rules() -> None:
    from adjit.ir.derivatives import DERIVATIVES, rule_params

    for op, rule in ARRAY_VJPS.items():
        code = rule.__code__
        assert code.co_varnames[1 : code.co_argcount] == rule_params(op), op
        assert op in DERIVATIVES


def test_saved_tensor_modified_in_place_still_raises() -> None:
    x = adjit.ones(3, requires_grad=True)
    y = x * 2
    z = y.sin()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_saved_tensor_hooks_still_run() -> None:
    seen: list[str] = []
    x = adjit.ones(3, requires_grad=True)
    with adjit.autograd.graph.saved_tensors_hooks(
        lambda t: seen.append("pack") or t, lambda t: seen.append("unpack") or t
    ):
        y = x.sin()
    y.sum().backward()
    assert "unpack" in seen
    np.testing.assert_array_equal(x.grad.numpy(), np.cos(np.ones(3, np.float32)))


def test_freed_graph_raises_and_retain_graph_works() -> None:
    x = adjit.ones(3, requires_grad=True)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.exp(np.ones(3, np.float32)))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def _hooked_chain(lib: Any, seen: list[Any]) -> tuple[Any, ...]:
    # float64: float32 sin/tanh differ between NumPy and PyTorch in the last bits
    x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([1.5, 0.25, -3.0], dtype=lib.float64, requires_grad=True)
    a = x.sin() * w
    a.retain_grad()
    b = (a + w).tanh()
    b.register_hook(lambda g: seen.append((g.detach().numpy().copy(), np.geterr())) or g * 2)
    b.grad_fn.register_hook(lambda gi, go: seen.append(len(gi)))
    (b * b).sum().backward()
    return x.grad, w.grad, a.grad


def test_hooks_and_retain_grad_between_array_nodes_match_torch() -> None:
    import torch

    ours: list[Any] = []
    theirs: list[Any] = []
    with np.errstate(over="raise", invalid="warn"):  # a user's state: hooks see it, as it was
        got = _hooked_chain(adjit, ours)
        state = np.geterr()
    expected = _hooked_chain(torch, theirs)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours[0][0], theirs[0][0], rtol=1e-12)
    assert ours[0][1] == state and state["over"] == "raise"  # the hook ran in the user's state
    assert ours[1] == theirs[1] == 1


def test_numpy_error_state_restored_after_a_failing_hook() -> None:
    before = np.geterr()
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    y = (x.sin() * x).tanh()

    def boom(g: Any) -> Any:
        raise ValueError("hook failed")

    y.register_hook(boom)
    with pytest.raises(ValueError, match="hook failed"):
        (y * y).sum().backward()
    assert np.geterr() == before


def _autograd_grad(arrays: list[np.ndarray]) -> list[np.ndarray]:
    x, w = (adjit.tensor(a, requires_grad=True) for a in arrays)
    h = x.sin() * w  # an intermediate: its cotangent is captured at its own node
    out = (h + w).tanh().log_softmax(1).sum()  # (a composite's backward is an autograd.grad)
    return [g.numpy().copy() for g in adjit.autograd.grad(out, [x, h, w])]


def test_autograd_grad_takes_the_array_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Note [array cotangents]: autograd.grad (and so a composite's backward) runs the array
    steps except at the nodes whose cotangents it captures, bit for bit the general rules."""
    arrays = [_values((3, 4), np.float32, i, special=False) for i in range(2)]
    general_steps: list[Any] = []
    real = engine._general_step
    monkeypatch.setattr(
        engine, "_general_step", lambda node, *a: general_steps.append(node) or real(node, *a)
    )
    with np.errstate(all="raise"):
        fast = _autograd_grad(arrays)
    ops = [getattr(n, "op", None) for n in general_steps]
    assert Op.TANH not in ops and Op.EXP not in ops  # (exp: inside log_softmax's backward)
    assert Op.MUL in ops  # h's node: its cotangent is captured, a general step
    monkeypatch.setattr(engine, "ARRAY_VJPS", {})
    general = _autograd_grad(arrays)
    for f, g in zip(fast, general, strict=True):
        assert f.shape == g.shape and f.tobytes() == g.tobytes()
    xt, wt = (torch.tensor(a, requires_grad=True) for a in arrays)
    ht = xt.sin() * wt
    outt = (ht + wt).tanh().log_softmax(1).sum()
    for f, t in zip(fast, torch.autograd.grad(outt, [xt, ht, wt]), strict=True):
        np.testing.assert_allclose(f, t.numpy(), rtol=1e-5, atol=1e-6)
