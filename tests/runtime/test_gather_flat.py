"""A compiled GATHER by flat offsets (Note [a gather by flat offsets]): take_along_axis's values,
and its general path for what it does not take."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adjit.runtime import executor

import adjit

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("kind", [np.int32, np.int64])
@pytest.mark.parametrize("crop", [False, True])
def test_values_as_take_along_axis(axis: int, kind: type, crop: bool) -> None:
    a = RNG.standard_normal((4, 5, 6)).astype(np.float32)
    shape = [3, 4, 5] if crop else [4, 5, 6]
    shape[axis] = 7  # more picks than the axis holds
    i = RNG.integers(0, a.shape[axis], shape).astype(kind)
    expected = np.take_along_axis(
        a[tuple(slice(0, k) if d != axis else slice(None) for d, k in enumerate(i.shape))], i, axis
    )
    got = executor._take_flat(a, i, axis)
    assert got is not None
    np.testing.assert_array_equal(got, expected)


def test_what_it_does_not_take() -> None:
    a = RNG.standard_normal((4, 5)).astype(np.float32)
    i = np.array([[0, 4], [1, 1], [2, 3], [4, 0]])
    assert executor._take_flat(a.T, i[:, :1].T, 0) is None  # not C-contiguous
    assert executor._take_flat(a, i + 1, 1) is None  # 5: out of the axis
    assert executor._take_flat(a, i - 1, 1) is None  # -1: the general path's wrap-around
    assert executor._take_flat(a, np.zeros((5, 1), np.int64), 1) is None  # larger than a
    assert executor._take_flat(a, np.zeros((0, 1), np.int64), 1) is None  # empty


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_compiled_gather_as_torch(dim: int) -> None:
    x = RNG.standard_normal((6, 7, 8)).astype(np.float32)
    idx = RNG.integers(0, x.shape[dim], (5, 6, 7) if dim != 0 else (9, 6, 7))
    expected = torch.gather(torch.tensor(x), dim, torch.tensor(idx))
    f = adjit.compile(lambda a, i: adjit.gather(a, dim, i) * 2)
    got = f(adjit.tensor(x), adjit.tensor(idx))
    np.testing.assert_array_equal(got.numpy(), (expected * 2).numpy())


@pytest.mark.parametrize("bad", [4, -5])
def test_compiled_gather_out_of_range_refuses_as_torch(bad: int) -> None:
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    idx = np.array([[0, bad]])
    with pytest.raises(RuntimeError) as theirs:
        torch.gather(torch.tensor(x), 1, torch.tensor(idx))
    f = adjit.compile(lambda a, i: adjit.gather(a, 1, i) * 2)
    with pytest.raises(RuntimeError) as ours:
        f(adjit.tensor(x), adjit.tensor(idx))
    assert str(ours.value) == str(theirs.value)
