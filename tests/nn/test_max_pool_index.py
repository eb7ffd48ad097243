"""A floating max pool picks by its flat index (Note [max pool by its index]): its backward a
scatter-add in output order, bit-equal to PyTorch's, with no (N, C, K, L) masked product."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from adjit.ir.ops import Op

import adjit


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 3, "stride": 2, "padding": 1},  # overlapping windows: sums of 1-4 terms
        {"kernel_size": 2},
        {"kernel_size": (2, 3), "stride": 1, "ceil_mode": True},
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_max_pool_gradient_is_torchs(kw: dict[str, Any], dtype: type) -> None:
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((2, 3, 9, 10)).astype(dtype)
    xs[0, 0, 0, :4] = xs[0, 0, 0, 0]  # ties: the first maximum wins
    xs[1, 2, 3, 3] = np.nan  # a NaN wins its windows
    tx = torch.tensor(xs, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, **kw)
    g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    ty.backward(torch.tensor(g))
    gt = adjit.tensor(g)

    def f(x: Any) -> Any:
        return (adjit.nn.functional.max_pool2d(x, **kw) * gt).sum()

    cf = adjit.compile(f)
    x = adjit.tensor(xs, requires_grad=True)
    for _ in range(2):
        x.grad = None
        cf(x).backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())  # same sums, same order
    split = adjit.explain(cf, x).plan.split
    ops = {e.op for e in split.backward.eqns}
    assert Op.SCATTER_ADD in ops and Op.FOLD not in ops, ops
    (index,) = [v for v in split.residuals if v.aval.dtype.np == np.int32]
    assert index.aval.shape[:2] == (2, 3)
    ya, ia = adjit.nn.functional.max_pool2d(adjit.tensor(xs), return_indices=True, **kw)
    yt, it = torch.nn.functional.max_pool2d(torch.tensor(xs), return_indices=True, **kw)
    assert ia.dtype == adjit.int64
    np.testing.assert_array_equal(ia.numpy(), it.numpy())
    np.testing.assert_array_equal(ya.numpy(), yt.numpy())
