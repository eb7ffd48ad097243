"""``p.grad = value`` inside a compiled step (a plain attribute write, as DDP-style hooks and
gradient clipping code do) is stored by every call, as eagerly."""

from __future__ import annotations

import numpy as np

import adjit
import adjit.nn.functional as F
from adjit import nn


def test_assigned_grad_is_stored_after_each_call() -> None:
    adjit.manual_seed(0)
    model = nn.Linear(4, 3)
    twin = nn.Linear(4, 3)
    twin.load_state_dict(model.state_dict())

    def step_of(m):
        def step(x, y):
            loss = F.mse_loss(m(x), y)
            loss.backward()
            with adjit.no_grad():
                m.weight.grad = m.weight.grad * 0.5  # the hook-style write
            return loss

        return step

    eager, compiled = step_of(twin), adjit.compile(step_of(model))
    for _ in range(3):
        x, y = adjit.randn(5, 4), adjit.randn(5, 3)
        model.zero_grad()
        twin.zero_grad()
        eager(x, y)
        compiled(x, y)
        np.testing.assert_allclose(
            model.weight.grad.numpy(), twin.weight.grad.numpy(), rtol=1e-6, atol=1e-7
        )
        np.testing.assert_allclose(model.bias.grad.numpy(), twin.bias.grad.numpy(), rtol=1e-6)
