"""Max pools whose window holds one element (kernel size 1 along every dim, any stride),
values, indices and gradients side by side with PyTorch (the picked index as arithmetic
added no digit for them and kept its (1, 1, 1, L) shape)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

CASES = [
    ("max_pool1d", (2, 3, 5), {"kernel_size": 1}),
    ("max_pool1d", (3, 5), {"kernel_size": 1, "stride": 2}),
    ("max_pool2d", (1, 2, 3, 4), {"kernel_size": 1}),
    ("max_pool2d", (2, 3, 4), {"kernel_size": (1, 1), "stride": (2, 1)}),
    ("max_pool3d", (1, 1, 2, 3, 4), {"kernel_size": 1, "stride": 1}),
]


def _run(T: Any, name: str, shape: tuple[int, ...], kw: dict) -> list[np.ndarray]:
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x = T.tensor(data, requires_grad=True)
    out, idx = getattr(T.nn.functional, name)(x, return_indices=True, **kw)
    (out * T.arange(out.numel(), dtype=T.float32).reshape(out.shape)).sum().backward()
    plain = getattr(T.nn.functional, name)(x.detach(), **kw)
    return [out.detach().numpy(), idx.numpy(), x.grad.numpy(), plain.numpy()]


@pytest.mark.parametrize(("name", "shape", "kw"), CASES, ids=str)
def test_one_element_windows_as_pytorch(name: str, shape: tuple[int, ...], kw: dict) -> None:
    for got, want in zip(_run(adjit, name, shape, kw), _run(torch, name, shape, kw), strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
