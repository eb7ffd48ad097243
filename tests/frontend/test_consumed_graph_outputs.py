"""Note [outputs of a consumed graph]: outputs of a compiled function that ran backward() itself
require grad as eager's do, and a backward through them refuses instead of leaving their part of
the gradient out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit

REFUSED = "called backward\\(\\) itself, so its outputs carry no autograd graph"


def _step(lib):  # noqa: ANN001, ANN202
    w = lib.tensor([1.0, 2.0], requires_grad=True)

    def step(x):  # noqa: ANN001, ANN202
        loss = (w * x).sum()
        loss.backward()
        with lib.no_grad():
            seen = w * 2
        return loss, w * 3, (w * x).argmax(), seen, loss.detach()

    return w, step


def test_outputs_require_grad_as_eager_and_grads_agree() -> None:
    x = [3.0, 4.0]
    wt, step_t = _step(torch)
    wa, step_a = _step(adjit)
    got = adjit.compile(step_a)(adjit.tensor(x))
    want = step_t(torch.tensor(x))
    assert [g.requires_grad for g in got] == [w.requires_grad for w in want]
    assert [g.requires_grad for g in got] == [True, True, False, False, False]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.detach().numpy(), w.detach().numpy())
    np.testing.assert_array_equal(wa.grad.numpy(), wt.grad.numpy())
    assert type(got[0].grad_fn).__name__ == "ConsumedGraphBackward"


@pytest.mark.parametrize("which", [0, 1])
def test_a_backward_through_them_refuses(which: int) -> None:
    w, step = _step(adjit)
    outs = adjit.compile(step)(adjit.tensor([3.0, 4.0]))
    other = adjit.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match=REFUSED):  # (was: other's gradient alone, no error)
        (outs[which].sum() + other).backward()
