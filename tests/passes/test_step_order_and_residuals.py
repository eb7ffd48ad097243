"""A linear layer's weight gradient before its input's (Note [the weight's gradient first]) and
attention's merged heads saved as the forward's reshape (Note [reshaped residuals]): the
gradients stay PyTorch's, and the backward reads no permuted residual through a reshape."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from adjit.ir.ops import Op

import adjit


def _heads(lib: Any, wo: Any) -> Any:
    def step(q: Any, k: Any, v: Any) -> Any:
        B, H, S, D = q.shape
        att = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, S, H * D)
        return (o @ wo).square().mean()

    return step


def test_merged_heads_are_saved_as_the_forwards_reshape() -> None:
    rng = np.random.default_rng(0)
    qkv = [rng.standard_normal((2, 3, 5, 4)) for _ in range(3)]
    a = rng.standard_normal((12, 7)) / 3
    wo = adjit.tensor(a, requires_grad=True)
    args = [adjit.tensor(t, requires_grad=True) for t in qkv]
    f = adjit.compile(_heads(adjit, wo))
    split = adjit.explain(f, *args).plan.split
    made = {e.out: e for e in split.forward.eqns}
    kinds = {made[r].op for r in split.residuals if r in made}
    assert Op.PERMUTE not in kinds  # (att @ v).transpose(1, 2) is not a residual: o is
    (o,) = [r for r in split.residuals if r in made and made[r].op is Op.RESHAPE]
    assert o.aval.shape == (2, 5, 12)
    readers = [e for e in split.backward.eqns if o in e.inputs]
    assert readers and all(e.op is Op.RESHAPE for e in readers)
    f(*args).backward()
    t_args = [torch.tensor(t, requires_grad=True) for t in qkv]
    two = torch.tensor(a, requires_grad=True)
    _heads(torch, two)(*t_args).backward()
    for got, want in ((wo, two), *zip(args, t_args, strict=True)):
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_a_linear_layers_weight_gradient_is_made_before_its_inputs() -> None:
    rng = np.random.default_rng(1)
    xs, a1, a2 = (
        rng.standard_normal((4, 6, 8)),
        rng.standard_normal((8, 16)) / 3,
        rng.standard_normal((16, 8)) / 4,
    )
    w1, w2 = (adjit.tensor(a, requires_grad=True) for a in (a1, a2))

    def mlp(lib: Any, w1: Any, w2: Any) -> Any:
        return lambda x: (lib.nn.functional.gelu(x @ w1) @ w2).square().mean()

    x = adjit.tensor(xs, requires_grad=True)
    f = adjit.compile(mlp(adjit, w1, w2))
    split = adjit.explain(f, x).plan.split
    products = [e for e in split.backward.eqns if e.op is Op.MATMUL]
    # w2's gradient (16, 8), then the GELU output's (4, 6, 16); w1's (8, 16), then x's
    shapes = [e.out.aval.shape for e in products]
    assert shapes == [(16, 8), (4, 6, 16), (8, 16), (4, 6, 8)], shapes
    f(x).backward()
    tx = torch.tensor(xs, requires_grad=True)
    t1, t2 = (torch.tensor(a, requires_grad=True) for a in (a1, a2))
    mlp(torch, t1, t2)(tx).backward()
    for got, want in ((w1, t1), (w2, t2), (x, tx)):
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-10, atol=1e-13)
