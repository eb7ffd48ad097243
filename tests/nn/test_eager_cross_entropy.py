"""F.cross_entropy's eager array path (Note [eager cross entropy]): bit for bit the
decompositions' values and gradients, PyTorch's nodes, errors and second derivatives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import adjit
import adjit.nn._losses as losses
import adjit.nn.functional as F
from adjit.nn import _eager_cross_entropy as eager

CASES = [  # (logits shape, ignored positions)
    ((6, 5), ()),
    ((6, 5), (1, 4)),
    ((1, 1), ()),
    ((3, 4), (0, 1, 2)),  # every target ignored: 0/0
    ((40, 7), (3,)),
]


def _run(shape: tuple[int, int], ignored: tuple[int, ...], dtype: str, reduction: str,
         fast: bool, monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:  # fmt: skip
    if not fast:
        monkeypatch.setattr(losses, "_eager_cross_entropy", lambda *a: None)
    rng = np.random.default_rng(0)
    x = adjit.tensor(rng.standard_normal(shape).astype(dtype) * 3, requires_grad=True)
    t = rng.integers(0, shape[1], shape[0])
    t[list(ignored)] = -100
    h = x * 2  # (a non-leaf input)
    loss = F.cross_entropy(h, adjit.tensor(t), reduction=reduction)
    loss.backward(adjit.tensor(np.asarray(0.75, dtype)))
    monkeypatch.undo()
    return [loss.detach().numpy(), x.grad.numpy()]


@pytest.mark.parametrize(("shape", "ignored"), CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bit_for_bit_the_decompositions(monkeypatch: pytest.MonkeyPatch,
                                        shape: tuple[int, int], ignored: tuple[int, ...],
                                        dtype: str, reduction: str) -> None:  # fmt: skip
    fast = _run(shape, ignored, dtype, reduction, True, monkeypatch)
    slow = _run(shape, ignored, dtype, reduction, False, monkeypatch)
    for a, b in zip(fast, slow, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)  # (NaN where both are)


@pytest.mark.parametrize(("shape", "ignored"), CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matches_torch(shape: tuple[int, int], ignored: tuple[int, ...], reduction: str) -> None:
    rng = np.random.default_rng(1)
    xn = rng.standard_normal(shape).astype(np.float32) * 3
    tn = rng.integers(0, shape[1], shape[0])
    tn[list(ignored)] = -100
    found = []
    for lib in (adjit, torch):
        x = lib.tensor(xn, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x, lib.tensor(tn), reduction=reduction)
        loss.backward()
        found.append((loss.detach().numpy(), x.grad.numpy(), loss.grad_fn.name()))
    (a, ga, na), (b, gb, nb) = found
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-7)
    assert na == nb == "NllLossBackward0"


def test_nodes_as_pytorch_makes_them() -> None:
    found = []
    for lib in (adjit, torch):
        x = lib.zeros(3, 4, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x * 1, lib.tensor([0, 1, 2]))
        node = loss.grad_fn.next_functions[0][0]
        found.append((loss.grad_fn.name(), node.name(), node.next_functions[0][0].name()))
    assert found[0] == found[1] == ("NllLossBackward0", "LogSoftmaxBackward0", "MulBackward0")


def test_double_backward_matches_torch() -> None:
    rng = np.random.default_rng(2)
    xn, tn = rng.standard_normal((5, 4)), np.array([0, 3, 1, -100, 2])
    found = []
    for lib in (adjit, torch):
        x = lib.tensor(xn, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(x, lib.tensor(tn))
        (g,) = lib.autograd.grad(loss, x, create_graph=True)
        (g * g).sum().backward()
        found.append((g.detach().numpy(), x.grad.numpy()))
    for a, b in zip(*found, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_node_hooks_and_retained_graphs() -> None:
    seen = []
    x = adjit.zeros(2, 3, requires_grad=True)
    loss = F.cross_entropy(x, adjit.tensor([0, 2]))
    loss.grad_fn.register_hook(lambda gi, go: seen.append(gi[0].shape))  # the general path
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    assert seen == [(2, 3), (2, 3)]
    np.testing.assert_array_equal(x.grad.numpy(), 2 * first)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        loss.backward()


def test_bad_targets_and_other_cases_take_the_decompositions() -> None:
    taken = []
    real = eager.cross_entropy

    def spy(*args: object) -> object:
        got = real(*args)  # type: ignore[arg-type]
        taken.append(got is not None)
        return got

    x = adjit.zeros(2, 3, requires_grad=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(losses, "_eager_cross_entropy", spy)
        with pytest.raises(IndexError, match="Target 3 is out of bounds."):
            F.cross_entropy(x, adjit.tensor([0, 3]))
        F.cross_entropy(x, adjit.tensor([0, 1]), reduction="none")
        F.cross_entropy(x, adjit.tensor([0, 1]), label_smoothing=0.1)
        F.cross_entropy(x, adjit.tensor([0, 1]), weight=adjit.ones(3))
        F.cross_entropy(x.half(), adjit.tensor([0, 1]))
        F.cross_entropy(x, adjit.tensor([0, 1], dtype=adjit.uint8))
        F.cross_entropy(x, adjit.tensor([0, 1]))
    assert taken == [False] * 6 + [True]
    with adjit.no_grad():
        loss = F.cross_entropy(x, adjit.tensor([0, 1]))
    assert loss.grad_fn is None
    np.testing.assert_allclose(loss.item(), np.log(3), rtol=1e-6)
