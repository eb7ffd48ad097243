"""``t[index] = v`` with a repeated index where the write is recorded (autograd, compiled):
refused, never the sum of the writes (Note [scatter with repeated indices])."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit

REPEATS = "index_put: an index repeats"


def _write(lib, x, rows, cols, v):  # noqa: ANN001, ANN202
    y = x.clone()
    y[lib.tensor(rows), lib.tensor(cols)] = lib.tensor(v)
    return y


def test_recorded_write_with_a_repeated_pair_of_indices_is_refused() -> None:
    x = adjit.zeros(3, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=REPEATS):
        _write(adjit, x, [0, 0], [1, 1], [10.0, 20.0])  # (was 30 where PyTorch has 20)


def test_unrecorded_write_with_repeats_keeps_the_last_as_torch() -> None:
    got = _write(adjit, adjit.zeros(3, 3), [0, 0], [1, 1], [10.0, 20.0])
    want = _write(torch, torch.zeros(3, 3), [0, 0], [1, 1], [10.0, 20.0])
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_recorded_write_with_distinct_indices_as_torch() -> None:
    rows, cols, v = [0, 2, 2], [1, 1, 0], [10.0, 20.0, 30.0]
    grads = []
    for lib in (adjit, torch):
        x = lib.arange(9.0).reshape(3, 3).requires_grad_()
        y = _write(lib, x, rows, cols, v)
        (y * lib.arange(9.0).reshape(3, 3)).sum().backward()
        grads.append((y.detach().numpy(), x.grad.numpy()))
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a, b)


def test_compiled_write_with_a_traced_repeated_index_is_refused_when_it_runs() -> None:
    def f(x, idx, v):  # noqa: ANN001, ANN202
        y = x.clone()
        y[idx] = v
        return y

    g = adjit.compile(f)
    x, v = adjit.zeros(5), adjit.tensor([10.0, 20.0, 30.0])
    got = g(x, adjit.tensor([1, 2, 3]), v)
    want = f(torch.zeros(5), torch.tensor([1, 2, 3]), torch.tensor([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(RuntimeError, match=REPEATS):
        g(x, adjit.tensor([1, 1, 3]), v)  # (the compiled program summed them: 30 at 1)
