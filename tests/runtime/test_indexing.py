"""Indexing against PyTorch: values, gradients and grad_fn names for many index expressions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

SHAPE = (4, 5, 3)
X = np.random.default_rng(0).uniform(-1, 1, SHAPE)
MASK = np.random.default_rng(1).random(SHAPE) < 0.5

Index = Callable[[Any], Any]  # T -> the index expression, built with T's tensors

INDICES: dict[str, Index] = {
    "int": lambda T: 1,
    "neg int": lambda T: -1,
    "two ints": lambda T: (1, 2),
    "three ints": lambda T: (1, 2, 0),
    "slice": lambda T: slice(1, 3),
    "full slice": lambda T: slice(None),
    "slice step": lambda T: (slice(None), slice(1, 4, 2)),
    "all steps": lambda T: (slice(None, None, 2), slice(None, None, 2), slice(None, None, 2)),
    "neg slice": lambda T: slice(-3, -1),
    "slice past end": lambda T: slice(1, 100),
    "empty slice": lambda T: slice(5, None),
    "reversed bounds": lambda T: slice(3, 1),
    "None": lambda T: None,
    "slice None": lambda T: (slice(None), None),
    "int None": lambda T: (1, None),
    "None int": lambda T: (None, 1),
    "ellipsis": lambda T: Ellipsis,
    "ellipsis int": lambda T: (Ellipsis, 1),
    "int ellipsis": lambda T: (1, Ellipsis),
    "None ellipsis None": lambda T: (None, Ellipsis, None),
    "ellipsis slice": lambda T: (Ellipsis, slice(1, 2), slice(None)),
    "int slice": lambda T: (1, slice(2, 4)),
    "slice int": lambda T: (slice(1, 3), 2),
    "tensor": lambda T: T.tensor([0, 2, 2]),
    "tensor neg": lambda T: T.tensor([-1, 0]),
    "tensor 2d": lambda T: T.tensor([[0, 1], [3, 3]]),
    "tensor empty": lambda T: T.tensor([], dtype=T.int64),
    "list": lambda T: [0, 3],
    "range": lambda T: range(1, 4),  # a Python sequence, as a list
    "range tensor": lambda T: (range(3), T.tensor([0, 4, 1])),  # nll in "what is torch.nn"
    "empty range": lambda T: range(0),
    "tensor dim1": lambda T: (slice(None), T.tensor([4, 0, 4])),
    "two tensors adjacent": lambda T: (T.tensor([0, 1]), T.tensor([2, 2])),
    "two tensors apart": lambda T: (T.tensor([0, 1, 3]), slice(None), T.tensor([2, 0, 1])),
    "two tensors bcast": lambda T: (T.tensor([[0], [3]]), T.tensor([1, 2, 4])),
    "tensor int": lambda T: (T.tensor([0, 2]), 1),
    "int tensor": lambda T: (1, T.tensor([0, 4])),
    "int slice tensor": lambda T: (1, slice(None), T.tensor([0, 2])),
    "tensor slice int": lambda T: (T.tensor([0, 2]), slice(1, 3), 0),
    "slice tensor None": lambda T: (slice(1, None), T.tensor([1, 3]), None),
    "None tensor": lambda T: (None, T.tensor([1, 3])),
    "ellipsis tensor": lambda T: (Ellipsis, T.tensor([0, 2])),
    "0-dim int tensor": lambda T: T.tensor(2),
    "0-dim tensor pair": lambda T: (T.tensor(1), T.tensor([0, 1])),
    "mask full": lambda T: T.from_numpy(MASK.copy()),
    "mask dim0": lambda T: T.tensor([True, False, True, True]),
    "mask dim1": lambda T: (slice(None), T.tensor([False, True, True, False, True])),
    "mask 2d": lambda T: T.from_numpy(MASK[:, :, 0].copy()),
    "mask int": lambda T: (T.tensor([True, False, True, False]), 2),
    "mask all false": lambda T: T.tensor([False] * 4),
    "mask ellipsis": lambda T: (Ellipsis, T.tensor([True, False, True])),
}


def _grad_fn_name(t: Any) -> str | None:
    return None if t.grad_fn is None else type(t.grad_fn).__name__


@pytest.mark.parametrize("name", list(INDICES))
def test_index_matches_torch(name: str) -> None:
    tx = torch.from_numpy(X.copy()).requires_grad_()
    ax = adjit.from_numpy(X.copy()).requires_grad_()
    want = tx[INDICES[name](torch)]
    got = ax[INDICES[name](adjit)]
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    assert _grad_fn_name(got) == _grad_fn_name(want)
    g = np.random.default_rng(2).uniform(0.5, 1.5, tuple(want.shape))
    (want_grad,) = torch.autograd.grad(want, tx, torch.from_numpy(g))
    (got_grad,) = adjit.autograd.grad(got, ax, adjit.from_numpy(g))
    np.testing.assert_allclose(got_grad.numpy(), want_grad.numpy(), rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", ["int", "two tensors apart", "mask 2d", "slice step"])
def test_index_second_order(name: str) -> None:
    # grad of an index is an index_put of the cotangent: linear, so differentiate it again
    ax = adjit.from_numpy(X.copy()).requires_grad_()
    out = ax[INDICES[name](adjit)]
    (g,) = adjit.autograd.grad((out * out).sum(), ax, create_graph=True)
    (h,) = adjit.autograd.grad(g.sum(), ax)
    tx = torch.from_numpy(X.copy()).requires_grad_()
    tout = tx[INDICES[name](torch)]
    (tg,) = torch.autograd.grad((tout * tout).sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad(tg.sum(), tx)
    np.testing.assert_allclose(h.numpy(), th.numpy())


BAD: dict[str, Index] = {
    "int out of range": lambda T: 4,
    "neg int out of range": lambda T: (0, -6),
    "tensor out of range": lambda T: T.tensor([0, 4]),
    "tensor neg out of range": lambda T: (slice(None), T.tensor([-6])),
    "too many indices": lambda T: (0, 0, 0, 0),
    "float index": lambda T: 1.5,
    "float tensor": lambda T: T.tensor([0.0, 1.0]),
    "mask shape": lambda T: T.tensor([True, False]),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_index_raises_like_torch(name: str) -> None:
    with pytest.raises(Exception) as want:
        torch.from_numpy(X.copy())[BAD[name](torch)]
    with pytest.raises(want.type) as got:
        adjit.from_numpy(X.copy())[BAD[name](adjit)]
    assert str(got.value).split(" (")[0] in str(want.value) or want.type is TypeError
