"""A compiled backward hands each gradient to its leaf (and the leaf's post-accumulate hooks) as
soon as the step finalizing it ran (Note [gradients as they are made] in runtime/streaming.py)."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.runtime import streaming
from adjit.runtime.executor import Executable

import adjit
import adjit.nn as nn


def _mlp() -> nn.Module:
    adjit.manual_seed(0)
    return nn.Sequential(
        nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4)
    )


def _cnn() -> nn.Module:
    adjit.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 3),
    )


class Recorder:
    """Counts the steps a streamed call ran (a poller runs after each) and records, per hook
    call, the parameter and that count."""

    def __init__(self, model: nn.Module) -> None:
        self.steps = 0
        self.log: list[tuple[str, int]] = []
        self.handles = [
            p.register_post_accumulate_grad_hook(lambda t, n=n: self.log.append((n, self.steps)))
            for n, p in model.named_parameters()
        ]

    def tick(self) -> None:
        self.steps += 1

    def __enter__(self) -> Recorder:
        streaming.POLLERS.append(self.tick)
        return self

    def __exit__(self, *exc: object) -> None:
        streaming.POLLERS.remove(self.tick)
        for h in self.handles:
            h.remove()


def _grads(model: nn.Module) -> dict[str, np.ndarray]:
    return {n: p.grad.numpy().copy() for n, p in model.named_parameters()}


def _zero(model: nn.Module) -> None:
    for p in model.parameters():
        p.grad = None


def _backward_program(node: object) -> Executable:
    program = type(node)._program
    assert type(program) is Executable
    return program


# (model, input shape, first parameter, last parameter)
MODELS = [(_mlp, (8, 16), "0.weight", "4.weight"), (_cnn, (2, 1, 8, 8), "0.weight", "6.weight")]


@pytest.mark.parametrize("make, shape, first, last", MODELS, ids=["mlp", "cnn"])
@pytest.mark.parametrize("how", ["engine", "seeded"])
def test_hooks_fire_mid_backward_with_hook_free_bits(make, shape, first, last, how) -> None:
    model = make()
    x = adjit.randn(*shape)
    if how == "engine":  # the compiled node is reached through the engine (an eager sum)
        cm = adjit.compile(model)
        run = lambda: cm(x).sum().backward()  # noqa: E731
    else:  # the compiled call's scalar output: its node runs the backward itself
        f = adjit.compile(lambda x: model(x).pow(2).mean())
        run = lambda: f(x).backward()  # noqa: E731
    run()  # hook-free: the whole program, then accumulation
    expected = _grads(model)
    _zero(model)
    with Recorder(model) as rec:
        run()
    total = rec.steps
    order = [n for n, _ in rec.log]
    moments = dict(rec.log)
    assert sorted(order) == sorted(expected)  # each hook exactly once
    assert [m for _, m in rec.log] == sorted(m for _, m in rec.log)  # in the order made
    assert moments[last] < total // 2 < moments[first] == total
    got = _grads(model)
    for n in expected:
        assert got[n].tobytes() == expected[n].tobytes(), n


def test_moments_are_the_programs_ready_table() -> None:
    model = _mlp()
    cm = adjit.compile(model)
    x = adjit.randn(8, 16)
    out = cm(x)
    table = streaming.ready_table(_backward_program(out.grad_fn))
    names = [n for n, _ in model.named_parameters()]
    want = {names[k]: i + 1 for i, ks in enumerate(table.after) for k in ks}
    with Recorder(model) as rec:
        out.sum().backward()
    assert dict(rec.log) == want


def test_a_leaf_fed_twice_waits_for_its_sum() -> None:
    """A parameter the compiled call and an eager op both use: its gradient is the sum of two
    nodes' contributions, accumulated (and its hook called) once, after both."""
    adjit.manual_seed(0)
    lin = nn.Linear(4, 3)
    cm = adjit.compile(lin)
    x = adjit.randn(5, 4)
    run = lambda: (cm(x).sum() + (lin.weight * 3).sum()).backward()  # noqa: E731
    run()
    expected = _grads(lin)
    _zero(lin)
    seen: list[tuple[str, np.ndarray]] = []
    for n, p in lin.named_parameters():
        p.register_post_accumulate_grad_hook(lambda t, n=n: seen.append((n, t.grad.numpy().copy())))
    run()
    assert sorted(n for n, _ in seen) == ["bias", "weight"]
    for n, g in seen:
        assert g.tobytes() == expected[n].tobytes()


def test_pre_hooks_and_accumulation_into_existing_grads() -> None:
    """A leaf with a tensor hook goes back to the engine (the hook may replace the gradient);
    a second backward adds into the .grad the first one made, as without hooks."""
    model = _mlp()
    cm = adjit.compile(model)
    x = adjit.randn(8, 16)
    w0 = model[0].weight
    for _ in range(2):
        cm(x).sum().backward()
    expected = _grads(model)
    _zero(model)
    w0.register_hook(lambda g: g * 1)
    with Recorder(model) as rec:
        for _ in range(2):
            cm(x).sum().backward()
    assert len(rec.log) == 12
    got = _grads(model)
    for n in expected:
        assert got[n].tobytes() == expected[n].tobytes(), n


def test_a_hook_writing_its_gradient_in_place_does_not_reach_later_steps() -> None:
    """DistributedDataParallel's all-reduce may write a gradient in place as soon as it is
    handed out: the steps after it must not read that memory."""
    model = _cnn()
    cm = adjit.compile(model)
    x = adjit.randn(2, 1, 8, 8)
    cm(x).sum().backward()
    expected = {n: 2 * g for n, g in _grads(model).items()}
    _zero(model)
    for p in model.parameters():
        p.register_post_accumulate_grad_hook(lambda t: t.grad.mul_(2))
    cm(x).sum().backward()
    got = _grads(model)
    for n in expected:
        assert got[n].tobytes() == expected[n].tobytes(), n


def test_retain_graph_and_non_scalar_outputs_stream_too() -> None:
    model = _mlp()
    x = adjit.randn(8, 16)
    f = adjit.compile(lambda x: model(x).pow(2).mean())
    cm = adjit.compile(model)
    g = adjit.randn(8, 4)
    runs = [
        lambda: f(x).backward(retain_graph=True),
        lambda: cm(x).backward(g),  # no seed: the engine's short path
    ]
    for run in runs:
        _zero(model)
        run()
        expected = _grads(model)
        _zero(model)
        with Recorder(model) as rec:
            run()
        assert rec.log[-1] == ("0.weight", rec.steps) and rec.log[0][1] < rec.steps
        got = _grads(model)
        for n in expected:
            assert got[n].tobytes() == expected[n].tobytes(), n


def test_interpreter_backend_hands_gradients_at_the_end() -> None:
    model = _mlp()
    x = adjit.randn(8, 16)
    cm = adjit.compile(model, backend="interpreter")
    cm(x).sum().backward()
    expected = _grads(model)
    _zero(model)
    with Recorder(model) as rec:
        cm(x).sum().backward()
    assert len(rec.log) == 6
    got = _grads(model)
    for n in expected:
        np.testing.assert_array_equal(got[n], expected[n])
