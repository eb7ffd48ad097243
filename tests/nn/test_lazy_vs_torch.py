"""Lazy modules side by side with PyTorch: reprs and state_dict before/after the first call,
the class swap, same-seed initializer draws, outputs, load_state_dict materializing, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import adjit

# (class name, constructor args, first input shape)
CASES: list[tuple[str, tuple[Any, ...], tuple[int, ...]]] = [
    ("LazyLinear", (4,), (2, 3)),
    ("LazyConv1d", (4, 3), (2, 2, 6)),
    ("LazyConv2d", (4, 2), (1, 3, 5, 5)),
    ("LazyConv3d", (2, 2), (1, 2, 3, 3, 3)),
    ("LazyConvTranspose1d", (4, 3), (2, 2, 6)),
    ("LazyConvTranspose2d", (4, 2), (3, 5, 5)),
    ("LazyConvTranspose3d", (2, 2), (1, 2, 3, 3, 3)),
    ("LazyBatchNorm1d", (), (4, 3)),
    ("LazyBatchNorm2d", (), (2, 3, 4, 4)),
    ("LazyBatchNorm3d", (), (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), (2, 3, 5)),
    ("LazyInstanceNorm2d", (1e-3, None, True, True), (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (1e-5, 0.1, False, False), (2, 2, 2, 3, 2)),
]


def _run(L: Any, name: str, args: tuple[Any, ...], shape: tuple[int, ...]) -> list[Any]:
    L.manual_seed(0)
    m = getattr(L.nn, name)(*args)
    before = [repr(m), type(m).__name__, [(k, repr(v)) for k, v in m.state_dict().items()]]
    y = m(L.randn(*shape))
    state = {k: v.numpy() for k, v in m.state_dict().items()}
    after = [repr(m), type(m).__name__, list(state)]
    return [before, after, state, y.detach().numpy(), L.rand(2).numpy()]


@pytest.mark.parametrize("name,args,shape", CASES, ids=[c[0] for c in CASES])
def test_lazy_module_vs_torch(name: str, args: tuple[Any, ...], shape: tuple[int, ...]) -> None:
    ours, theirs = _run(adjit, name, args, shape), _run(torch, name, args, shape)
    assert ours[:2] == theirs[:2]
    for key in theirs[2]:  # initializer draws: bit for bit; BatchNorm running stats: float sums
        np.testing.assert_allclose(ours[2][key], theirs[2][key], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours[4], theirs[4])  # the generator advanced equally


def test_lazy_load_state_dict_materializes() -> None:
    outs = []
    for L in (adjit, torch):
        L.manual_seed(0)
        src = L.nn.Linear(2, 3)
        m = L.nn.LazyLinear(3)
        result = m.load_state_dict(src.state_dict())
        shape = tuple(m.weight.shape)
        y = m(L.ones(1, 2))
        outs.append([repr(result), shape, type(m).__name__, (y - src(L.ones(1, 2))).abs().max()])
    assert outs[0][:3] == outs[1][:3]
    assert float(outs[0][3]) == 0.0


def test_lazy_errors() -> None:
    texts = []
    for L in (adjit, torch):
        msgs = []
        for fn in (
            lambda L: L.nn.LazyConv2d(4, 2, groups=2)(L.ones(1, 3, 4, 4)),
            lambda L: L.nn.LazyConv2d(4, 2)(L.ones(3, 4)),
            lambda L: L.nn.LazyLinear(3).weight.shape,
            lambda L: L.nn.LazyInstanceNorm1d()(L.ones(3, 5)),  # num_features from dim 1: 5
            lambda L: L.nn.LazyInstanceNorm2d()(L.ones(3, 4)),
        ):
            with pytest.raises((ValueError, RuntimeError)) as err:
                fn(L)
            msgs.append((type(err.value).__name__, str(err.value)))
        texts.append(msgs + [repr(L.nn.UninitializedParameter())])
    assert texts[0] == texts[1]
