"""Layouts a later op can see (stride(), dropout's mask order) as PyTorch's: Note [PyTorch's
layouts] in adjit/nn/functional_convnd.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

LAYOUTS: dict[str, Callable[[Any], Any]] = {
    "conv1d": lambda T: T.nn.functional.conv1d(T.randn(2, 1, 5), T.randn(3, 1, 3)),
    "conv2d": lambda T: T.nn.functional.conv2d(T.randn(2, 1, 5, 5), T.randn(3, 1, 3, 3)),
    "conv3d": lambda T: T.nn.functional.conv3d(T.randn(2, 1, 4, 5, 5), T.randn(3, 1, 3, 3, 3)),
    "conv_transpose2d": lambda T: T.nn.functional.conv_transpose2d(
        T.randn(2, 1, 5, 5), T.randn(1, 3, 3, 3)
    ),
    "upsample-nearest": lambda T: T.nn.Upsample(scale_factor=2)(T.randn(2, 3, 4, 4)),
    "upsample-bilinear": lambda T: T.nn.Upsample(scale_factor=2, mode="bilinear")(
        T.randn(2, 3, 4, 4)
    ),
    "adaptive_avg_pool2d": lambda T: T.nn.functional.adaptive_avg_pool2d(T.randn(2, 3, 5, 5), 2),
    "adaptive_max_pool2d": lambda T: T.nn.functional.adaptive_max_pool2d(T.randn(2, 3, 5, 5), 2),
    "lstm-batch-first": lambda T: T.nn.LSTM(3, 4, batch_first=True)(T.randn(2, 5, 3))[0],
    "mha-batch-first": lambda T: T.nn.MultiheadAttention(4, 2, batch_first=True)(
        *[T.randn(2, 3, 4)] * 3
    )[0],
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_strides_as_torch(name: str) -> None:
    strides = []
    for T in (adjit, torch):
        T.manual_seed(0)
        strides.append(tuple(LAYOUTS[name](T).stride()))
    assert strides[0] == strides[1]


MASKED: dict[str, Callable[[Any], Any]] = {
    "transposed": lambda T: T.ones(3, 4).t(),
    "conv-then-transpose": lambda T: T.nn.functional.conv1d(
        T.ones(2, 1, 6), T.ones(3, 1, 1)
    ).transpose(1, 2),
    "lstm-output": lambda T: T.nn.LSTM(3, 4, batch_first=True)(T.ones(2, 5, 3))[0],
}


@pytest.mark.parametrize("name", list(MASKED))
def test_dropout_masks_in_memory_order_as_torch(name: str) -> None:
    masks = []
    for T in (adjit, torch):
        T.manual_seed(0)
        x = MASKED[name](T).detach()
        T.manual_seed(1)
        masks.append((T.nn.functional.dropout(x, 0.5) != 0).numpy())
    np.testing.assert_array_equal(masks[0], masks[1])
