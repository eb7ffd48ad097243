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


def _loop_available() -> None:
    from adjit.codegen import scatter

    if scatter.along_function(np.dtype(np.float32), "int64", True) is None:
        pytest.skip("the compiled gather does not build on this host")


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("kind", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32])
def test_compiled_loop_as_take_along_axis(axis: int, kind: type, dtype: type) -> None:
    """Note [gather along an axis]: the loop's values are take_along_axis's, bit for bit, with
    negative indices wrapped and the other axes cropped to the index's extents."""
    from adjit.runtime.index_steps import gather_into

    _loop_available()
    a = (RNG.standard_normal((4, 5, 6)) * 1000).astype(dtype)
    shape = [3, 4, 5]
    shape[axis] = 7
    n = a.shape[axis]
    i = RNG.integers(-n, n, shape).astype(kind)
    out = np.full(shape, 7, dtype)
    assert gather_into(a, i, axis, out)
    cropped = a[tuple(slice(0, k) if d != axis else slice(None) for d, k in enumerate(shape))]
    np.testing.assert_array_equal(out, np.take_along_axis(cropped, i, axis))


def test_compiled_loop_declines() -> None:
    """Out of range (either side), layouts it does not read, an index larger than the array
    along another axis, or an unsupported index type: False, for the NumPy rule."""
    from adjit.runtime.index_steps import gather_into

    _loop_available()
    a = RNG.standard_normal((4, 5)).astype(np.float32)
    i = np.array([[0, 4], [1, 1], [2, 3], [4, 0]])
    out = np.empty(i.shape, np.float32)
    assert gather_into(a, i, 1, out)
    assert not gather_into(a, i + 1, 1, out)  # 5
    assert not gather_into(a, i - 6, 1, out)  # -6, below -n
    assert not gather_into(a.T.copy().T, i, 1, out)  # not C-contiguous
    assert not gather_into(a, np.zeros((5, 2), np.int64), 1, np.empty((5, 2), np.float32))
    assert not gather_into(a, i.astype(np.int16), 1, out)
    assert not gather_into(a, i, 1, np.empty(i.shape, np.float64))  # another dtype


def test_compiled_max_pool_picks_by_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compiled max pool's pick runs on the loop (not NumPy's arithmetic), and its values
    and gradient are PyTorch's."""
    from adjit.runtime import index_steps

    _loop_available()
    calls: list[tuple[int, ...]] = []
    real = index_steps.gather_into

    def spy(a: np.ndarray, i: np.ndarray, axis: int, out: np.ndarray) -> bool:
        done = real(a, i, axis, out)
        calls.append(i.shape if done else ())
        return done

    monkeypatch.setattr(executor, "gather_into", spy)
    x = RNG.standard_normal((2, 3, 9, 9)).astype(np.float32)

    def loss(t: adjit.Tensor) -> adjit.Tensor:
        return (adjit.nn.functional.max_pool2d(t, 3, 2, 1) ** 2).sum()

    xa = adjit.tensor(x, requires_grad=True)
    got = adjit.compile(loss)(xa)
    got.backward()
    xt = torch.tensor(x, requires_grad=True)
    want = (torch.nn.functional.max_pool2d(xt, 3, 2, 1) ** 2).sum()
    want.backward()
    assert (2, 3, 25) in calls
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-6)
    np.testing.assert_array_equal(xa.grad.numpy(), xt.grad.numpy())
