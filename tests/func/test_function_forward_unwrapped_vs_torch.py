"""A custom Function's forward under torch.func sees its inputs unwrapped, as in PyTorch: it may
read them with .numpy() (the "extending torch.func" tutorial's NumPy sort)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


def _numpy_square(lib: Any) -> Any:
    seen: list[bool] = []

    class NumpySquare(lib.autograd.Function):
        @staticmethod
        def forward(x):
            seen.append(x.requires_grad)
            return lib.tensor(x.numpy() ** 2) if not x.requires_grad else x**2

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    return NumpySquare, seen


@pytest.mark.parametrize("transform", ["grad", "vjp", "jacrev"])
def test_forward_reads_numpy_under_transforms(transform: str) -> None:
    x = np.array([1.0, -2.0, 3.0], dtype=np.float32)
    results = []
    for lib in (torch, adjit):
        fn, seen = _numpy_square(lib)
        t = lib.tensor(x)
        if transform == "grad":
            r = lib.func.grad(lambda a, fn=fn: fn.apply(a).sum())(t)
        elif transform == "vjp":
            r = lib.func.vjp(fn.apply, t)[1](lib.ones(3))[0]
        else:
            r = lib.func.jacrev(fn.apply)(t)
        results.append((r.numpy(), seen))
    np.testing.assert_allclose(results[1][0], results[0][0])
    assert results[1][1] == results[0][1]


def test_forward_outside_transforms_sees_requires_grad() -> None:
    """Without a transform the forward gets the caller's tensor itself (requires_grad), and the
    outputs are connected to it."""
    fn, seen = _numpy_square(adjit)
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    fn.apply(x).sum().backward()
    assert seen == [True]
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
