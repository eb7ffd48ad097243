"""Executable._may_share: which public outputs the executor checks against the inputs' memory.
A check's or a view's result is its operand's memory: checked only when that operand may be."""

from __future__ import annotations

import numpy as np

import adjit

F = adjit.nn.functional


def _entry(cf):
    return next(iter(cf._entries.values()))


def test_a_checked_loss_made_by_a_kernel_is_not_checked_again() -> None:
    w = adjit.ones(3, 4, requires_grad=True)
    cf = adjit.compile(lambda x, y: F.cross_entropy(x @ w, y))
    x, y = adjit.ones(2, 3), adjit.tensor([1, 3])
    loss = cf(x, y)
    want = F.cross_entropy(x @ w, y)
    assert loss.item() == want.item()
    entry = _entry(cf)
    forward = entry.forward_runner(entry.training((2,)))
    assert forward._may_share() == []


def test_a_view_of_an_input_is_still_copied() -> None:
    cf = adjit.compile(lambda x: x.reshape(6).t())
    x = adjit.arange(6.0).reshape(2, 3)
    cf(x)
    entry = _entry(cf)
    program = entry.runner(entry.inference())
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    (out,) = program([a])
    assert program._may_share() == [0]
    assert not np.shares_memory(out, a) and np.array_equal(out, a.reshape(6))
