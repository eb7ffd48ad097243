"""Programs that run eagerly compile: writes of traced values into tensors made inside the
function (Note [writes into trace constants]) and writes through advanced-index results (Note
[advanced indexing copies]), each side by side as eager adjit, compiled adjit and torch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from adjit.runtime.trace_state import TracingError

import adjit

Fn = Callable[..., Any]


def _inputs(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 4)), rng.standard_normal((2, 4))]


def _run(lib: Any, fn: Fn, arrays: list[np.ndarray], call: Fn | None = None) -> list[Any]:
    """``fn``'s outputs (or ``call``'s, a compiled ``fn``) and the gradients of a weighted sum
    of them for its two inputs."""
    args = [lib.tensor(x, requires_grad=True) for x in arrays]
    out = fn(lib, *args) if call is None else call(*args)
    outs = out if isinstance(out, tuple) else (out,)
    loss = 0
    for k, o in enumerate(outs):
        if o.requires_grad:
            w = np.arange(o.numel(), dtype=np.float64).reshape(tuple(o.shape)) / 7 + k
            loss = loss + (o * lib.tensor(w)).sum()
    if not isinstance(loss, int):
        loss.backward()
    found: list[Any] = [o.detach().numpy().copy() for o in outs]
    return found + [None if a.grad is None else a.grad.numpy() for a in args]


def _same(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, w, rtol=1e-14, atol=1e-14)


def _check(fn: Fn) -> None:
    """Eager adjit is torch; a compiled call is eager adjit, on two calls of new inputs."""
    compiled = adjit.compile(lambda *a: fn(adjit, *a), fullgraph=True)
    for seed in (0, 1):
        arrays = _inputs(seed)
        want = _run(torch, fn, arrays)
        _same(_run(adjit, fn, arrays), want)
        _same(_run(adjit, fn, arrays, compiled), want)


# ---- writes of traced values into tensors made inside the function ----------------------------


def _setitem_slice(t: Any, a: Any, b: Any) -> Any:
    h = t.zeros(3, 4, dtype=t.float64)
    h[:, 1:3] = a[:, :2] * 3
    return h


def _copy_into_empty(t: Any, a: Any, b: Any) -> Any:
    h = t.empty(3, 4, dtype=t.float64)
    h.copy_(a.exp())
    return h * b[0]


def _aliases_read_the_write(t: Any, a: Any, b: Any) -> Any:
    h = t.ones(3, 4, dtype=t.float64)
    row, col, alias = h[0], h[:, 1], h.detach()
    row.mul_(b[1])
    h[1:] = a[1:].sin()
    return h * 1, row + col.sum(), alias * 2


def _transposed_then_base(t: Any, a: Any, b: Any) -> Any:
    h = t.ones(4, 3, dtype=t.float64)
    h.t()[1].copy_(b[0])
    h.mul_(a[:, 0])
    return h


def _stacked_buffer(t: Any, a: Any, b: Any) -> Any:
    out = t.zeros(3, 3, 4, dtype=t.float64)
    out[0] = a
    out[1] = a * 2
    out[2, :2] = b
    return out.sum(0), out[2]


def _traced_mask_into_constant(t: Any, a: Any, b: Any) -> Any:
    h = t.zeros(3, 4, dtype=t.float64)
    h[a > 0] = 1.5
    return h * a


def _tensor_index_into_constant(t: Any, a: Any, b: Any) -> Any:
    h = t.zeros(5, 4, dtype=t.float64)
    h[t.tensor([0, 3, 4])] = a
    return h


def _traced_index_into_constant(t: Any, a: Any, b: Any) -> Any:
    h = t.zeros(3, 4, dtype=t.float64)
    h[a[:, 0].argsort()] = a * 2
    return h


def _no_grad_write(t: Any, a: Any, b: Any) -> Any:
    h = t.zeros(3, 4, dtype=t.float64)
    with t.no_grad():
        h[1] = a[1] * 2
    return h + a


def _relu_on_constant_view(t: Any, a: Any, b: Any) -> Any:
    h = t.zeros(3, 4, dtype=t.float64)
    v = h[:, 1:]
    v.add_(a[:, 1:] - 0.2)
    t.nn.functional.relu(v, inplace=True)
    return h


def _alias_then_write_alias(t: Any, a: Any, b: Any) -> Any:
    h = t.zeros(3, 4, dtype=t.float64)
    d = h.detach()
    d.copy_(a)
    return d * 2, h + 1


CONSTANTS: dict[str, Fn] = {
    f.__name__[1:]: f
    for f in (
        _setitem_slice,
        _copy_into_empty,
        _aliases_read_the_write,
        _transposed_then_base,
        _stacked_buffer,
        _traced_mask_into_constant,
        _tensor_index_into_constant,
        _traced_index_into_constant,
        _no_grad_write,
        _relu_on_constant_view,
        _alias_then_write_alias,
    )
}


@pytest.mark.parametrize("name", sorted(CONSTANTS))
def test_write_into_constant(name: str) -> None:
    _check(CONSTANTS[name])


def test_write_into_constant_dtype_error_as_torch() -> None:
    texts = []
    for lib in (torch, adjit, "compiled"):
        t: Any = adjit if lib == "compiled" else lib

        def f(a: Any, t: Any = t) -> Any:
            h = t.zeros(3, 4, dtype=t.long)
            h.add_(a)
            return h

        g = adjit.compile(f, fullgraph=True) if lib == "compiled" else f
        with pytest.raises(RuntimeError) as info:
            g(t.ones(3, 4, requires_grad=True))
        texts.append(str(info.value))
    assert texts[0] == texts[1]
    assert texts[1] in texts[2]


def test_write_into_constant_with_history_refuses() -> None:
    def f(a: Any) -> Any:
        h = adjit.zeros(3, 4, requires_grad=True)
        with adjit.no_grad():
            h[0] = a[0]
        return h * a

    f(adjit.ones(3, 4))  # eagerly fine (a leaf made inside, written under no_grad)
    with pytest.raises(TracingError, match="autograd history"):
        adjit.compile(f, fullgraph=True)(adjit.ones(3, 4))


def test_write_into_detached_alias_then_refuses_its_second_write() -> None:
    def f(a: Any) -> Any:
        h = adjit.zeros(3, 4)
        d = h.detach()
        h.copy_(a)
        d.mul_(2)
        return h

    with pytest.raises(TracingError, match=r"\.detach\(\) or \.data alias"):
        adjit.compile(f, fullgraph=True)(adjit.ones(3, 4, requires_grad=True))


# ---- writes through advanced-index results (copies, not views) --------------------------------


def _index_result_mul(t: Any, a: Any, b: Any) -> Any:
    h = a * 1
    y = h[t.tensor([2, 0])]
    y.mul_(2)
    return h, y


def _index_add_assign(t: Any, a: Any, b: Any) -> Any:
    h = a * 1
    h[t.tensor([2, 0])] += b
    return h


def _mask_assign_zero(t: Any, a: Any, b: Any) -> Any:
    h = a * 2
    h[a > 0.3] = 0
    return h


def _mixed_basic_advanced(t: Any, a: Any, b: Any) -> Any:
    h = a * 1
    h[1:, t.tensor([0, 3])] *= 3
    h[t.tensor([0]), 1:3] = b[0, :2]
    return h


def _view_of_index_result(t: Any, a: Any, b: Any) -> Any:
    h = a.tanh()
    y = h[t.tensor([1, 2])]
    y[0].add_(b[1])
    y[:, 1:].sigmoid_()
    return h, y


def _traced_index_add_assign(t: Any, a: Any, b: Any) -> Any:
    h = a * 1
    h[b[:, 0].argsort()] += b
    return h


def _index_then_slice_of_base(t: Any, a: Any, b: Any) -> Any:
    h = a * 2
    y = h[[0, 2], 1:]
    h[0].add_(1)  # a view of h: y (a copy) keeps the old values
    y.add_(b[:, 1:])
    return h, y


INDEXING: dict[str, Fn] = {
    f.__name__[1:]: f
    for f in (
        _index_result_mul,
        _index_add_assign,
        _mask_assign_zero,
        _mixed_basic_advanced,
        _view_of_index_result,
        _traced_index_add_assign,
        _index_then_slice_of_base,
    )
}


@pytest.mark.parametrize("name", sorted(INDEXING))
def test_write_through_advanced_index(name: str) -> None:
    _check(INDEXING[name])


def test_view_of_a_rewritten_base_requires_grad_as_torch() -> None:
    """Eagerly, a view whose base got a history in place requires grad (as PyTorch regenerates
    its grad_fn), so an in-place op on it is recorded: relu_ zeroes its gradient."""
    found = []
    for lib in (torch, adjit):
        a = lib.tensor([[1.0, -2.0, 3.0], [0.5, 2.0, -1.0]], requires_grad=True)
        h = lib.zeros(2, 3)
        v, w = h[:, 1:], h[0]
        v.add_(a[:, 1:])
        flags = (v.requires_grad, w.requires_grad, type(w.grad_fn).__name__)
        v.relu_()
        (h * lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
        found.append((flags, a.grad.numpy().tolist()))
    assert found[1] == found[0]
