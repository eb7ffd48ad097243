"""A fixed-stride max pool's index is computed, not gathered through a window table (Note [the
picked index as arithmetic]); indices, values and gradients as PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from adjit.ir.ops import Op

import adjit
import adjit.nn.functional as F

CASES = [  # (shape, kernel, stride, padding, dilation, ceil_mode)
    ((8, 4, 32, 32), 3, 2, 1, 1, False),
    ((2, 3, 9, 11), 3, 2, 1, 1, True),
    ((2, 3, 10, 10), (2, 3), (1, 2), (1, 0), (2, 1), False),
    ((1, 2, 7), 3, 2, 1, 1, False),
    ((3, 9), 2, 1, 0, 2, True),
    ((1, 2, 5, 6, 7), (2, 3, 2), 2, (1, 1, 0), 1, True),
    ((2, 2, 8, 8), 2, 2, 0, 1, False),
    ((2, 2, 6, 6), (1, 3), 1, (0, 1), 1, False),
]


def _x(shape: tuple[int, ...]) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x[..., 0] = x[..., 1]  # ties: the first maximum's index
    return x


@pytest.mark.parametrize("case", CASES, ids=str)
def test_index_values_and_gradient_as_torch(case: tuple) -> None:
    shape, k, s, p, d, ceil = case
    nd = len(shape) - 1 if len(shape) == 2 else len(shape) - 2
    pool_t = getattr(torch.nn.functional, f"max_pool{nd}d")
    pool_a = getattr(F, f"max_pool{nd}d")
    x = _x(shape)
    ty, ti = pool_t(torch.tensor(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
    for f in (
        lambda a: pool_a(a, k, s, p, d, ceil_mode=ceil, return_indices=True),
        adjit.compile(lambda a: pool_a(a, k, s, p, d, ceil_mode=ceil, return_indices=True)),
    ):
        ay, ai = f(adjit.tensor(x))
        assert ai.dtype == adjit.int64
        np.testing.assert_array_equal(ai.numpy(), ti.numpy())
        np.testing.assert_array_equal(ay.numpy(), ty.numpy())
    xt = torch.tensor(x, requires_grad=True)
    (pool_t(xt, k, s, p, d, ceil_mode=ceil) * 2).sum().backward()
    xa = adjit.tensor(x, requires_grad=True)
    adjit.compile(lambda a: (pool_a(a, k, s, p, d, ceil_mode=ceil) * 2).sum())(xa).backward()
    np.testing.assert_array_equal(xa.grad.numpy(), xt.grad.numpy())


def test_one_gather_the_values_pick() -> None:
    """The traced pool gathers once (the values); the index is elementwise arithmetic."""
    x = adjit.tensor(_x((2, 3, 16, 16)))
    graph = adjit.explain(lambda a: F.max_pool2d(a, 3, 2, 1), x).graph
    gathers = [e for e in graph.eqns if e.op is Op.GATHER]
    assert len(gathers) == 1
    assert gathers[0].inputs[0].aval.shape == (2, 3, 256)  # from the flattened planes
