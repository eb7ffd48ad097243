"""The default split recomputes moves and fusing elementwise values (Note [cheap recompute]):
a conv's columns and a GELU's stages are not saved; the gradients still match PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import adjit


def _split(fn: Any, *args: Any) -> Any:
    return adjit.explain(fn, *args).plan.split


def _conv_step(lib: Any, w: Any, w2: Any) -> Any:
    F = lib.nn.functional

    def step(x: Any) -> Any:
        h = F.relu(F.conv2d(x, w, padding=1))
        return F.conv2d(F.max_pool2d(h, 2), w2, padding=1).square().mean()

    return step


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
def test_conv_columns_are_recomputed_not_saved(backend: str) -> None:
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((2, 3, 8, 8))
    ws = [rng.standard_normal(s) / 4 for s in ((4, 3, 3, 3), (5, 4, 3, 3))]
    w, w2 = (adjit.tensor(a, requires_grad=True) for a in ws)
    x = adjit.tensor(xs)
    cf = adjit.compile(_conv_step(adjit, w, w2), backend=backend)
    split = _split(cf, x)
    # the columns of conv2 alone are 4*9 x (2*4*4) doubles; what is saved: relu's output (its
    # mask), the pool's indices (int32, Note [max pool by its index]) and output (conv2's
    # input), conv2's output (the square's), nothing the size of columns
    columns = 4 * 9 * 2 * 4 * 4 * 8
    assert all(np.prod(v.aval.shape) * 8 < columns for v in split.residuals), split.residuals
    relu, index, pool, out = 2 * 4 * 8 * 8 * 8, 2 * 4 * 4 * 4 * 4, 2 * 4 * 4 * 4 * 8, 2 * 5 * 16 * 8
    assert split.saved_bytes == relu + index + pool + out
    assert any("reshape" in r or "unfold" in r for r in split.recomputed)
    cf(x).backward()
    tw, tw2 = (torch.tensor(a, requires_grad=True) for a in ws)
    _conv_step(torch, tw, tw2)(torch.tensor(xs)).backward()
    for got, want in ((w, tw), (w2, tw2)):
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-10, atol=1e-12)


def _mlp(lib: Any, w1: Any, w2: Any) -> Any:
    return lambda x: (lib.nn.functional.gelu(x @ w1) @ w2).square().mean()


def test_gelu_saves_its_input_and_output_not_its_stages() -> None:
    rng = np.random.default_rng(1)
    xs, a1, a2 = (rng.standard_normal(s) for s in ((8, 6), (6, 16), (16, 6)))
    w1, w2 = (adjit.tensor(a, requires_grad=True) for a in (a1, a2))
    x = adjit.tensor(xs)
    cf = adjit.compile(_mlp(adjit, w1, w2))
    split = _split(cf, x)
    wide = [v for v in split.residuals if v.aval.shape == (8, 16)]
    # as PyTorch: x @ w1 (the GELU's input) and the GELU's output (which the second product's
    # weight gradient reads); the stages of the decomposed GELU are recomputed (they fuse into
    # the GELU's backward kernel)
    assert len(wide) == 2, split.residuals
    assert sum(r.endswith("f64[8,16]") for r in split.recomputed) >= 2, split.recomputed
    cf(x).backward()
    t1, t2 = (torch.tensor(a, requires_grad=True) for a in (a1, a2))
    _mlp(torch, t1, t2)(torch.tensor(xs)).backward()
    for got, want in ((w1, t1), (w2, t2)):
        np.testing.assert_allclose(got.grad.numpy(), want.grad.numpy(), rtol=1e-10, atol=1e-12)
