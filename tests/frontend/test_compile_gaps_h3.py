"""Programs that run eagerly compile: writes of traced values into tensors made inside the
function (Note [writes into trace constants]) and writes through advanced-index results (Note
[advanced indexing copies]), each side by side as eager adjit, compiled adjit and torch."""

from __future__ import annotations

import warnings
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


# ---- unrecorded writes, and writes into values from before a graph break ---------------------


def _no_grad_write_keeps_history(t: Any, a: Any, b: Any) -> Any:
    h = a * 1
    with t.no_grad():
        h.mul_(2)
    return h * a


def _no_grad_write_through_a_view(t: Any, a: Any, b: Any) -> Any:
    h = a.sin()
    v = h[1:]
    with t.no_grad():
        v[:, 1:].add_(b[:, 1:])
    return h * a, v


UNRECORDED: dict[str, Fn] = {
    f.__name__[1:]: f for f in (_no_grad_write_keeps_history, _no_grad_write_through_a_view)
}


@pytest.mark.parametrize("name", sorted(UNRECORDED))
def test_unrecorded_write_keeps_the_history(name: str) -> None:
    _check(UNRECORDED[name])


def _used_in_the_segment(t: Any, a: Any, b: Any) -> Any:
    h = a.new_zeros(3, 4)
    s = float(a.sum())  # a graph break when compiled
    h.add_(a * s)
    return (h * h).sum()


def _returned(t: Any, a: Any, b: Any) -> Any:
    h = a.new_zeros(3, 4)
    s = float(a.sum())
    h.add_(a * s)
    return h


def _used_after_another_break(t: Any, a: Any, b: Any) -> Any:
    h = a.new_zeros(3, 4)
    s = float(a.sum())
    h.add_(a * s)
    s2 = float(a.max())
    return h * s2


def _view_made_after_the_break(t: Any, a: Any, b: Any) -> Any:
    h = a * 1
    s = float(a.sum())
    v = h[0]
    with t.no_grad():
        h.mul_(s)
    return v * a[1] + b[0]  # (b unused: split mode gives it a zero gradient, torch None)


def _read_after_the_write(t: Any, a: Any, b: Any) -> Any:
    h = a.new_zeros(3, 4)
    s = float(a.sum())
    with t.no_grad():
        h.add_(s)
    return a * float(h[0, 0])


def _view_read_after_its_base_is_written(t: Any, a: Any, b: Any) -> Any:
    h = a * 1
    v = h[0]
    s = float(a.sum())
    with t.no_grad():
        h.mul_(s)
    return v * b[0]


def _constant_written_across_a_break(t: Any, a: Any, b: Any) -> Any:
    h = t.zeros(3, 4, dtype=t.float64)
    h[0] = a[0] * 2
    s = float(a.sum())
    h[1:] = a[1:] * s
    h[2].mul_(b[1])
    return h


BROKEN: dict[str, Fn] = {
    f.__name__[1:]: f
    for f in (
        _used_in_the_segment,
        _returned,
        _used_after_another_break,
        _view_made_after_the_break,
        _read_after_the_write,
        _view_read_after_its_base_is_written,
        _constant_written_across_a_break,
    )
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_write_into_a_value_from_before_a_graph_break(name: str) -> None:
    fn = BROKEN[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the warning that the function was split)
        compiled = adjit.compile(lambda *a: fn(adjit, *a))
        for seed in (0, 1):
            arrays = _inputs(seed)
            want = _run(torch, fn, arrays)
            _same(_run(adjit, fn, arrays), want)
            _same(_run(adjit, fn, arrays, compiled), want)


def test_view_of_a_parameter_shows_the_step() -> None:
    """A view of a parameter read after the optimizer's in-place step shows the step, as
    eagerly (the view is made again from the written value: Note [writes into earlier
    values])."""
    x = adjit.tensor(np.linspace(-1, 1, 12).reshape(3, 4))
    y = adjit.tensor(np.linspace(0, 1, 3).reshape(3, 1))
    runs = []
    for compiled in (False, True):
        adjit.manual_seed(0)
        m = adjit.nn.Linear(4, 1).double()
        opt = adjit.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)

        def step(x: Any, y: Any, m: Any = m, opt: Any = opt) -> Any:
            w = m.weight.view(-1)
            before = w * 1
            loss = adjit.nn.functional.mse_loss(m(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return before, w * 1

        f = adjit.compile(step, fullgraph=True) if compiled else step
        runs.append([t.detach().numpy() for _ in range(3) for t in f(x, y)])
    for got, want in zip(runs[1], runs[0], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    assert not np.array_equal(runs[0][0], runs[0][1])  # (the step moved the weight)


# ---- common training-step patterns (Note [validation while tracing] in distributions) ---------


def _ppo_normal(t: Any, a: Any, b: Any) -> Any:
    d = t.distributions.Normal(a, (b[:1] * 0.5).exp().expand(3, 4), validate_args=True)
    act = a.detach() * 0.5 + 0.1
    return d.log_prob(act).sum(-1).mean() + 0.01 * d.entropy().sum(-1).mean()


def _ppo_categorical(t: Any, a: Any, b: Any) -> Any:
    d = t.distributions.Categorical(logits=a, validate_args=True)
    act = (b.detach().abs() * 3).long().clamp(max=3)[:2, 0]
    act = t.cat([act, act[:1]])
    ratio = (d.log_prob(act) - d.log_prob(act).detach()).exp()
    adv = b[0, :3]
    clipped = t.min(ratio * adv, ratio.clamp(0.8, 1.2) * adv)
    return -clipped.mean() - 0.01 * d.entropy().mean()


def _masked_fill_on_intermediate(t: Any, a: Any, b: Any) -> Any:
    h = a * b[0]
    h.masked_fill_(a > 0, -1.0)
    return h


def _where_with_scalars(t: Any, a: Any, b: Any) -> Any:
    return t.where(a > 0, a * b[1], 0.0) + t.where(b[0] < 0, 1.0, b[1])


def _gradient_penalty(t: Any, a: Any, b: Any) -> Any:
    w = a * 1
    out = (w.tanh() * b[0]).sum()
    (g,) = t.autograd.grad(out, w, create_graph=True)
    return ((g.norm(2, dim=1) - 1) ** 2).mean()


def _index_add_into_zeros(t: Any, a: Any, b: Any) -> Any:
    h = t.zeros(2, 4, dtype=t.float64)
    h.index_add_(0, t.tensor([0, 1, 0]), a * b[1])
    return h**2


def _one_hot_and_label_smoothing(t: Any, a: Any, b: Any) -> Any:
    label = (b.detach().abs() * 2).long().clamp(max=3)[:, 0]
    label = t.cat([label, label[:1]])
    hot = t.nn.functional.one_hot(label, num_classes=4).to(a.dtype)
    ce = t.nn.functional.cross_entropy(a, label, label_smoothing=0.1)
    return -(hot * t.log_softmax(a, -1)).sum() + ce


PATTERNS: dict[str, Fn] = {
    f.__name__[1:]: f
    for f in (
        _ppo_normal,
        _ppo_categorical,
        _masked_fill_on_intermediate,
        _where_with_scalars,
        _gradient_penalty,
        _index_add_into_zeros,
        _one_hot_and_label_smoothing,
    )
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_training_step_pattern(name: str) -> None:
    _check(PATTERNS[name])


def test_dropout_in_train_mode_draws_as_torch() -> None:
    def f(t: Any, a: Any, b: Any) -> Any:
        t.manual_seed(3)
        return t.nn.functional.dropout(a, 0.5, training=True) * b[0]

    _check(f)


def _invalid(t: Any, a: Any, b: Any) -> Any:
    d = t.distributions.Normal(a, b[0], validate_args=True)  # (a negative scale)
    return d.log_prob(a * 0.5).sum()


def _out_of_support(t: Any, a: Any, b: Any) -> Any:
    d = t.distributions.Categorical(logits=a, validate_args=True)
    return d.log_prob(t.tensor([0, 7, 1])).sum()


@pytest.mark.parametrize("fn", [_invalid, _out_of_support])
def test_distribution_validation_runs_in_compiled_code(fn: Fn) -> None:
    """Traced argument and sample checks raise PyTorch's ValueError at run time, on every
    call of the compiled program (not a graph break; the first invalid element named)."""
    arrays = _inputs(0)
    arrays[1] = np.abs(arrays[1]) + 0.1
    good = [adjit.tensor(x) for x in arrays]
    compiled = adjit.compile(lambda *x: fn(adjit, *x), fullgraph=True)
    if fn is _invalid:
        compiled(*good)  # fine
        bad = [good[0], good[1] * adjit.tensor([1.0, -1.0, 1.0, 1.0])]
    else:
        bad = good
    texts = []
    for lib, call in ((torch, None), (adjit, None), (adjit, compiled)):
        args = [lib.tensor(x.numpy()) for x in bad]
        with pytest.raises(ValueError) as info:
            fn(lib, *args) if call is None else call(*args)
        texts.append(str(info.value))
    head = texts[0].split("found invalid values:")[0]
    assert texts[1] == texts[0]
    assert texts[2].startswith(head + "found invalid values:\n")
    if fn is _invalid:
        first = float(bad[1][0, 1])
        assert texts[2].endswith(f"invalid values:\n{first} (the first of them)")


def _view_kept_across_a_break(t: Any, a: Any, b: Any) -> Any:
    h = a * 1
    v, w = h[0], h.t()[1:]
    s = float(a.sum())  # a graph break when compiled
    h.mul_(b[0, 0])
    return v * s, w * 1, h


def test_view_across_a_graph_break_shows_later_writes() -> None:
    """A traced view becomes a real view of its parent's value at a graph break (Note [views
    across breaks]), so a write into the parent after the break shows in it, as eagerly."""
    fn = _view_kept_across_a_break
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the warning that the function was split)
        compiled = adjit.compile(lambda *a: fn(adjit, *a))
        for seed in (0, 1):
            arrays = _inputs(seed)
            want = _run(torch, fn, arrays)
            _same(_run(adjit, fn, arrays, compiled), want)
