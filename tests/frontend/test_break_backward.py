"""backward() in a segment after a graph break, into an earlier segment's values: the eager
engine finishes the gradients before the function goes on (an optimizer step reads them)."""

from __future__ import annotations

import copy
import warnings

import numpy as np

import adjit
import adjit.nn.functional as F
from adjit import nn


@adjit.compiler.disable
def _break() -> None:
    pass


def _step(model: nn.Module, opt: adjit.optim.Optimizer):
    def step(x, y):
        out = model(x)
        _break()
        loss = F.mse_loss(out, y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    return step


def test_optimizer_step_after_backward_across_a_break_matches_eager() -> None:
    adjit.manual_seed(0)
    eager_model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    model = copy.deepcopy(eager_model)
    eager = _step(eager_model, adjit.optim.SGD(eager_model.parameters(), lr=0.1, momentum=0.9))
    compiled = adjit.compile(
        _step(model, adjit.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    )
    x, y = adjit.randn(3, 4), adjit.randn(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the graph-break warning)
        for _ in range(3):  # the first call (which finds the breaks) and later ones
            want, got = eager(x, y), compiled(x, y)
            np.testing.assert_allclose(got.item(), want.item(), rtol=1e-6)
            for p, q in zip(model.parameters(), eager_model.parameters(), strict=True):
                np.testing.assert_allclose(
                    p.detach().numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-7
                )
