"""The eager engine runs a leaf's AccumulateGrad as soon as it is ready, as PyTorch's does
(Note [leaves first]): the order of hooks matches torch's, on a fresh graph and on a kept one."""

from __future__ import annotations

import pytest

import adjit

torch = pytest.importorskip("torch")


def _events(lib, keep_graphs: bool) -> list[list[str]]:
    """Per backward, the order in which activation hooks and post-accumulate hooks ran."""
    lib.manual_seed(0)
    nn = lib.nn
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    order: list[str] = []
    for name, p in m.named_parameters():
        p.register_post_accumulate_grad_hook(lambda t, name=name: order.append(name))
    x = lib.randn(3, 4, requires_grad=True)
    kept, runs = [], []
    for _ in range(3):
        order.clear()
        h = x
        for j, layer in enumerate(m):
            h = layer(h)
            h.register_hook(lambda g, j=j: order.append(f"act{j}"))
        if keep_graphs:  # the leaves' AccumulateGrad nodes outlive the backward
            kept.append(h)
        h.sum().backward(retain_graph=keep_graphs)
        runs.append(list(order))
    return runs


@pytest.mark.parametrize("keep_graphs", [False, True])
def test_leaf_gradients_arrive_as_torch_s(keep_graphs: bool) -> None:
    ours, theirs = _events(adjit, keep_graphs), _events(torch, keep_graphs)
    assert ours == theirs
    # the last layer's gradients are in .grad before the first activations' gradients exist
    assert ours[-1].index("4.weight") < ours[-1].index("act1")
