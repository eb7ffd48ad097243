"""A module's Python number attributes read while tracing are guarded (Module._compile_guard):
setting one to a new value after compiling traces again, as eager mode would read it, instead
of computing with the value seen when tracing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

X = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)


class Scaled(adjit.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = adjit.nn.Linear(4, 2)
        self.scale = 1.0
        self.power = 2

    def forward(self, x: Any) -> Any:
        return (self.lin(x) * self.scale).pow(self.power).sum()


def _value_and_grads(model: Scaled, call: Any) -> list[np.ndarray]:
    model.zero_grad()
    x = adjit.tensor(X, requires_grad=True)
    out = call(x)
    out.backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    return [out.detach().numpy(), x.grad.numpy(), *grads]


@pytest.mark.parametrize("fullgraph", [False, True])
def test_changed_number_attribute_traces_again(fullgraph: bool) -> None:
    adjit.manual_seed(0)
    model = Scaled()
    compiled = adjit.compile(model, fullgraph=fullgraph)
    for scale, power in [(1.0, 2), (1.0, 2), (3.0, 2), (3.0, 2), (3.0, 3), (0.5, 3)]:
        model.scale, model.power = scale, power
        for got, want in zip(
            _value_and_grads(model, compiled), _value_and_grads(model, model), strict=True
        ):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert compiled.trace_count == 4  # one per (scale, power) seen; a same value does not


def test_dropout_probability_set_after_compiling() -> None:
    drop = adjit.nn.Dropout(0.0)
    compiled = adjit.compile(lambda x: drop(x) * 1, fullgraph=True)
    x = adjit.tensor(X)
    assert np.array_equal(compiled(x).numpy(), X)
    drop.p = 1.0  # (a dropout schedule)
    assert not compiled(x).numpy().any()


def test_train_eval_toggles_do_not_trace_again() -> None:
    model = adjit.nn.Sequential(adjit.nn.Linear(4, 4), adjit.nn.Dropout(0.5))
    compiled = adjit.compile(model)
    x = adjit.tensor(X)
    counts = []
    for _ in range(5):
        model.train()
        compiled(x)
        model.eval()
        compiled(x)
        counts.append(compiled.trace_count)
    assert counts[-1] == counts[1] <= 3  # (no new trace per toggle: training is not counted)
