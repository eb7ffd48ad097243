"""F.pad in every mode: values, gradients and grad_fn names equal PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (1, 2, 2, 1), (0, 1, 1, 0)])
def test_pad_matches_torch(mode: str, pad: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).random((1, 2, 4, 5))
    a = adjit.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    if mode != "constant" and len(pad) == 2:  # PyTorch refuses 2 pads on 4-D input here
        for F, v in ((torch.nn.functional, t), (adjit.nn.functional, a)):
            with pytest.raises(NotImplementedError, match="Padding size 2 is not supported"):
                F.pad(v, pad, mode=mode)
        return
    ya = adjit.nn.functional.pad(a, pad, mode=mode)
    yt = torch.nn.functional.pad(t, pad, mode=mode)
    np.testing.assert_array_equal(ya.detach().numpy(), yt.detach().numpy())
    assert type(ya.grad_fn).__name__ == type(yt.grad_fn).__name__
    w = np.random.default_rng(1).random(tuple(yt.shape))
    (ya * adjit.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)


# negative pads crop (Note [negative padding] in adjit/nn/functional_pad.py); 1-3 padded dims
PAD_TABLE = [
    (1, -2),
    (-2, 1),
    (-1, -1),
    (2, -3),
    (-3, 2),
    (-2, 4),
    (4, -4),
    (-4, 4),
    (-5, 0),
    (-6, 1),
    (1, -6),
    (-6, 0),
    (-3, -3),
    (5, 0),
    (6, 0),
    (1, -2, 2, -1),
    (-1, 2, -2, 1),
    (0, 0, -4, 0),
    (0, 0, -5, 0),
    (-5, 0, -4, 0),
    (2, -1, 0, 0, -1, 1),
    (-1, -1, 1, -2, 1, 0),
    (-5, 0, -4, 0, -2, 0),
]
SHAPES = {1: (2, 5), 2: (1, 2, 4, 5), 3: (1, 1, 3, 4, 5)}


def _circular_overlap(shape: tuple[int, ...], pad: tuple[int, ...]) -> bool:
    """A circular strip longer than what the crop leaves (PyTorch copies it from itself)."""
    dims = len(pad) // 2
    sizes = [shape[-1 - k] + pad[2 * k] + pad[2 * k + 1] for k in range(dims)]
    if any(s <= 0 for s in sizes):
        return False
    for k in range(dims):
        n, b, a = shape[-1 - k], pad[2 * k], pad[2 * k + 1]
        m = n - max(-b, 0) - max(-a, 0)
        if b > m or a > m:
            return True
    return False


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", PAD_TABLE, ids=str)
def test_negative_pads_match_torch(mode: str, pad: tuple[int, ...]) -> None:
    shape = SHAPES[len(pad) // 2]
    x = np.random.default_rng(2).random(shape)
    t = torch.tensor(x, requires_grad=True)
    try:
        yt = torch.nn.functional.pad(t, pad, mode=mode)
    except RuntimeError as e:
        if "size of tensor a" in str(e):  # PyTorch fails inside: the result would be empty
            assert adjit.nn.functional.pad(adjit.tensor(x), pad, mode=mode).numel() == 0
            return
        # same error type; the same text where PyTorch's names the problem
        with pytest.raises(RuntimeError) as got:
            adjit.nn.functional.pad(adjit.tensor(x), pad, mode=mode)
        if "integer multiplication overflow" not in str(e):
            assert str(got.value) == str(e)
        return
    if mode == "circular" and _circular_overlap(shape, pad):
        # PyTorch's result reads elements it is overwriting (it raises for 1 padded dim)
        with pytest.raises(RuntimeError, match="single memory location"):
            adjit.nn.functional.pad(adjit.tensor(x), pad, mode=mode)
        return
    a = adjit.tensor(x, requires_grad=True)
    ya = adjit.nn.functional.pad(a, pad, mode=mode)
    assert tuple(ya.shape) == tuple(yt.shape)
    np.testing.assert_array_equal(ya.detach().numpy(), yt.detach().numpy())
    w = np.random.default_rng(3).random(tuple(yt.shape))
    (ya * adjit.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    # (PyTorch 2.13's reflect/replicate gradient of an empty result is uninitialized memory)
    want = t.grad.numpy() if yt.numel() else np.zeros_like(x)
    np.testing.assert_allclose(a.grad.numpy(), want, rtol=1e-15)

    def loss(v: adjit.Tensor) -> adjit.Tensor:
        return (adjit.nn.functional.pad(v, pad, mode=mode) * adjit.tensor(w)).sum()

    compiled = adjit.compile(lambda v: adjit.nn.functional.pad(v, pad, mode=mode))
    np.testing.assert_array_equal(compiled(adjit.tensor(x)).numpy(), yt.detach().numpy())
    np.testing.assert_allclose(adjit.grad(loss)(adjit.tensor(x)).numpy(), want, rtol=1e-15)
