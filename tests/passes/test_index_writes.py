"""The index-writes pass (Note [index writes]): summed gradients of disjoint basic-index slabs
(qkv[0], qkv[1], qkv[2]; split pieces; slices with gaps) are one CAT, values unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit


def _backward_ops(fn, *args) -> list[str]:
    return [e.op.name for e in adjit.explain(adjit.compile(fn), *args).backward.eqns]


def _qkv_index(lib, x):
    qkv = x.reshape(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    return ((q @ k.transpose(-2, -1)).softmax(-1) @ v).square().sum()


def _qkv_split(lib, x):
    q, k, v = x.split(8, dim=-1)
    return ((q @ k.transpose(-2, -1)).softmax(-1) @ v).square().sum()


def _unbind(lib, x):
    a, b, c = x.reshape(2, 5, 3, 8).unbind(2)
    return (a * b.exp() + c.sin()).sum()


def _gaps(lib, x):  # two slabs of axis 2 with zeros between and after them
    return (x[:, :, 1:3].exp() * x[:, :, 5:7]).sum() + x[:, :, 10].sum()


def _mixed(lib, x):  # the pieces' sum also holds a whole-tensor term
    a, b = x.chunk(2, dim=1)
    return (a.sin() * b).sum() + (x * x).sum()


CASES = {
    "qkv_index": (_qkv_index, (2, 5, 24)),
    "qkv_split": (_qkv_split, (2, 5, 24)),
    "unbind": (_unbind, (2, 5, 24)),
    "gaps": (_gaps, (2, 5, 24)),
    "mixed": (_mixed, (2, 6, 24)),
}


def _grads(lib, fn, data):
    x = lib.tensor(data, requires_grad=True)
    fn(lib, x).backward()
    return x.grad.numpy()


@pytest.mark.parametrize("name", list(CASES))
def test_rewrite_fires_and_gradients_match_eager_and_torch(name) -> None:
    fn, shape = CASES[name]
    data = np.random.default_rng(0).standard_normal(shape)
    x = adjit.tensor(data, requires_grad=True)
    ops = _backward_ops(lambda t: fn(adjit, t), x)
    assert "INDEX_ADD" not in ops and "CAT" in ops, ops
    compiled = adjit.compile(lambda t: fn(adjit, t))
    y = adjit.tensor(data, requires_grad=True)
    compiled(y).backward()
    eager = _grads(adjit, fn, data)
    expected = _grads(torch, fn, data)
    np.testing.assert_allclose(y.grad.numpy(), eager, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(eager, expected, rtol=1e-12, atol=1e-12)


def test_qkv_split_adjoint_has_no_zeros_and_no_adds() -> None:
    x = adjit.tensor(np.ones((2, 5, 24)), requires_grad=True)
    eqns = adjit.explain(adjit.compile(lambda t: _qkv_split(adjit, t)), x).backward.eqns
    full = [e.op.name for e in eqns if e.out.aval.shape == (2, 5, 24)]
    assert full == ["CAT"]  # the three pieces concatenated: no zeros, no full-size sums


def test_overlapping_slices_keep_index_add() -> None:
    def fn(t):
        return (t[:, :5].exp() * t[:, 3:]).sum()

    data = np.random.default_rng(1).standard_normal((3, 8))
    x = adjit.tensor(data, requires_grad=True)
    assert "INDEX_ADD" in _backward_ops(fn, x)  # slabs 0:5 and 3:8 overlap: summed as before
    adjit.compile(fn)(x).backward()
    t = torch.tensor(data, requires_grad=True)
    fn(t).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_float32_transformer_qkv_matches_torch() -> None:
    data = np.random.default_rng(2).standard_normal((2, 5, 24)).astype(np.float32)
    x = adjit.tensor(data, requires_grad=True)
    adjit.compile(lambda t: _qkv_index(adjit, t))(x).backward()
    expected = _grads(torch, _qkv_index, data)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-5)
