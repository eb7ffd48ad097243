"""Padding modules (Zero/Constant/Reflection/Replication/CircularPad 1d-3d) and the pixel and
channel shuffle modules next to PyTorch: reprs, attributes, values, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

KINDS = ["ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad"]
PADS = {1: [2, (1, 2)], 2: [1, (1, 0, 2, 1)], 3: [1, (1, 0, 0, 1, 1, 1)]}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("batched", [True, False])
def test_padding_modules_match_torch(kind: str, dims: int, which: int, batched: bool) -> None:
    name = f"{kind}{dims}d"
    pad = PADS[dims][which]
    args = (pad, 2.5) if kind == "ConstantPad" else (pad,)
    ma, mt = getattr(adjit.nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ma) == repr(mt)
    assert ma.padding == mt.padding
    shape = (2, 3, 4, 3, 5)[5 - dims - (2 if batched else 1) :]
    x = np.random.default_rng(0).standard_normal(shape)
    a, t = adjit.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = ma(a), mt(t)
    np.testing.assert_array_equal(ya.detach().numpy(), yt.detach().numpy())
    w = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    (ya * adjit.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    # (an input element gathers up to 8 padded copies' gradients: summed in another order,
    # within 8 terms' roundings of |w| < 5)
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=0, atol=8 * 5 * 2.0**-52)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_circular_pad_checks_the_rank(dims: int) -> None:
    x = np.ones((1,) * (dims + 3))
    with pytest.raises(ValueError) as want:
        getattr(torch.nn, f"CircularPad{dims}d")(1)(torch.tensor(x))
    with pytest.raises(ValueError) as got:
        getattr(adjit.nn, f"CircularPad{dims}d")(1)(adjit.tensor(x))
    assert str(got.value) == str(want.value)


def test_constant_pad_keeps_the_value_as_given() -> None:
    for v in (0, 1.5, -3):
        assert repr(adjit.nn.ConstantPad2d(1, v)) == repr(torch.nn.ConstantPad2d(1, v))


@pytest.mark.parametrize(
    ("name", "arg", "shape"),
    [
        ("PixelShuffle", 2, (2, 8, 3, 4)),
        ("PixelShuffle", 3, (9, 2, 2)),
        ("PixelUnshuffle", 2, (2, 3, 4, 6)),
        ("ChannelShuffle", 2, (2, 6, 3, 3)),
        ("ChannelShuffle", 3, (1, 6, 4)),
    ],
)
def test_shuffle_modules_match_torch(name: str, arg: int, shape: tuple[int, ...]) -> None:
    ma, mt = getattr(adjit.nn, name)(arg), getattr(torch.nn, name)(arg)
    assert repr(ma) == repr(mt)
    x = np.random.default_rng(2).standard_normal(shape)
    a, t = adjit.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = ma(a), mt(t)
    np.testing.assert_array_equal(ya.detach().numpy(), yt.detach().numpy())
    w = np.random.default_rng(3).standard_normal(tuple(yt.shape))
    (ya * adjit.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
