"""adjit.compile(module, fallback="eager") warns naming the module class (no __qualname__)."""

from __future__ import annotations

import pytest

import adjit


class _Noise(adjit.nn.Module):
    def forward(self, x):
        return x.detach().clone().apply_(lambda v: v * 2) + adjit.rand(x.shape)  # not traced


def test_compiled_module_falls_back_with_a_named_warning() -> None:
    adjit.manual_seed(0)
    model = adjit.nn.Sequential(adjit.nn.Linear(3, 4), _Noise())
    compiled = adjit.compile(model, fallback="eager")
    x = adjit.randn(2, 3)
    with pytest.warns(UserWarning, match="running Sequential eagerly for this signature"):
        adjit.manual_seed(1)
        got = compiled(x)
    adjit.manual_seed(1)
    assert adjit.equal(got, model(x))  # the eager run, same draws


def test_compiled_function_warning_keeps_its_qualname() -> None:
    def noisy(x):
        return x.clone().apply_(lambda v: v + 1) + adjit.rand(2)

    with pytest.warns(UserWarning, match="running .*noisy eagerly"):
        adjit.compile(noisy, fallback="eager")(adjit.zeros(2))
