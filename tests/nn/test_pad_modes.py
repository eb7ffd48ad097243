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
