"""adjit.func.rearrange side by side with torch.func.rearrange: shapes, values, error texts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit

X = np.random.default_rng(0).standard_normal((4, 6, 8, 3)).astype(np.float32)
Y = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)

CASES = [
    (X, "b h w c -> b h w c", {}),
    (X, "b h w c -> (b h) w c", {}),
    (X, "b h w c -> h (b w) c", {}),
    (X, "b h w c -> b c h w", {}),
    (X, "b h w c -> b (c h w)", {}),
    (X, "b (h1 h) (w1 w) c -> (b h1 w1) h w c", {"h1": 2, "w1": 2}),
    (X, "b (h h1) (w w1) c -> b h w (c h1 w1)", {"h1": 2, "w1": 2}),
    (X, "... c -> c ...", {}),
    (X, "b ... c -> (b c) ...", {}),
    (X, "b h w c -> b h w c 1", {}),
    (X, "b h w c -> b 1 h w () c", {}),
    (Y, "(a b) c -> a b c", {"a": 2, "b": 2}),
    (Y, "a () -> a", {}),
    (Y, "a 1 -> a", {}),
    (Y, "a b -> (b a)", {}),
    (Y, "... -> ...", {}),
    (Y, "a b ... -> ... b a", {}),
]
ERRORS = [
    (X, "(b b2) h w c -> b b2 h w c", {"b": 3}),
    (Y, "(a b) c -> a b c", {}),
    (Y, "(a b) c -> a b c", {"a": 3, "b": 3}),
    (X, "b h w c -> b h w", {}),
    (Y, "a b c -> c b a", {}),
    (X, "b h w c -> b h w c", {"d": 3}),
    (X, "b h w (c", {}),
    (X, "b h w c -> b h w c -> x", {}),
    (X, "b h w c -> b h w 2c", {}),
    (X, "b h w c -> b h w 2", {}),
    (X, "b h w c -> b h w c", {"b": 2.0}),
    (X, "b h h c -> b h c", {}),
    (X, "b h w c -> ... b h w c", {}),
    (X, "b h w c.. -> b h w c", {}),
]


@pytest.mark.parametrize("array,pattern,lengths", CASES, ids=[c[1] for c in CASES])
def test_rearrange_matches_torch(array, pattern, lengths):
    got = adjit.func.rearrange(adjit.tensor(array), pattern, **lengths)
    want = torch.func.rearrange(torch.tensor(array), pattern, **lengths)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("array,pattern,lengths", ERRORS, ids=[c[1] for c in ERRORS])
def test_rearrange_errors_match_torch(array, pattern, lengths):
    with pytest.raises(Exception) as theirs:
        torch.func.rearrange(torch.tensor(array), pattern, **lengths)
    with pytest.raises(Exception) as ours:
        adjit.func.rearrange(adjit.tensor(array), pattern, **lengths)
    assert type(ours.value).__name__ == type(theirs.value).__name__
    assert str(ours.value) == str(theirs.value)


def test_rearrange_stacks_a_list_and_differentiates_and_compiles():
    parts = [adjit.randn(2, 3, requires_grad=True) for _ in range(4)]
    out = adjit.func.rearrange(parts, "n a b -> a (n b)")
    assert tuple(out.shape) == (2, 12)
    (out * adjit.arange(12.0)).sum().backward()
    np.testing.assert_array_equal(parts[1].grad.numpy(), np.tile(np.arange(3.0, 6.0), (2, 1)))
    x = adjit.randn(4, 6, 8)
    f = adjit.compile(lambda t: adjit.func.rearrange(t, "b (h h2) w -> b h (w h2)", h2=2))
    np.testing.assert_array_equal(
        f(x).numpy(), adjit.func.rearrange(x, "b (h h2) w -> b h (w h2)", h2=2).numpy()
    )
