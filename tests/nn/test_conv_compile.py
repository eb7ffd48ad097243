"""adjit.compile of conv nets vs eager: same values and gradients (a small CNN, a basic block)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F
from adjit import nn
from adjit.models.resnet import BasicBlock, conv1x1


def _run(fn: object, model: nn.Module, x: adjit.Tensor) -> tuple[np.ndarray, list[np.ndarray]]:
    model.zero_grad()
    y = fn(x)  # type: ignore[operator]
    (y * y).sum().backward()
    return y.detach().numpy(), [p.grad.numpy() for p in model.parameters()]


def _assert_same(model: nn.Module, x: adjit.Tensor, tol: float = 1e-5) -> None:
    ye, ge = _run(model, model, x)
    yc, gc = _run(adjit.compile(model), model, x)
    np.testing.assert_allclose(yc, ye, rtol=tol, atol=tol)
    for a, b in zip(gc, ge, strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, np.abs(b).max()))


def small_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2, bias=False),
        nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
        nn.Conv2d(8, 6, 1),
        nn.AdaptiveAvgPool2d((2, 2)),
        nn.Flatten(),
        nn.Linear(24, 4),
    )


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_compiled_small_cnn_matches_eager(mode: str) -> None:
    model = small_cnn()
    getattr(model, mode)()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # train mode: running stats are not traced (see report)
        _assert_same(model, adjit.randn(2, 3, 11, 11))


def test_compiled_basic_block_matches_eager() -> None:
    down = nn.Sequential(conv1x1(4, 8, 2), nn.BatchNorm2d(8))
    block = BasicBlock(4, 8, stride=2, downsample=down).eval()
    _assert_same(block, adjit.randn(2, 4, 8, 8))


def test_compiled_functional_ops_match_eager() -> None:
    x = adjit.randn(1, 4, 7, 7, dtype=adjit.float64, requires_grad=True)
    w = adjit.randn(4, 2, 3, 3, dtype=adjit.float64, requires_grad=True)

    def fn(x: adjit.Tensor, w: adjit.Tensor) -> adjit.Tensor:
        y = F.conv2d(x, w, stride=2, padding="valid", dilation=1, groups=2)
        y = F.max_pool2d(y, 2, ceil_mode=True) + F.avg_pool2d(y, 2, ceil_mode=True)
        y = F.batch_norm(y, None, None, training=True)
        return F.adaptive_avg_pool2d(F.conv2d(x, w, padding="same", groups=2), 3).sum() + y.sum()

    outs = []
    for f in (fn, adjit.compile(fn)):
        x.grad = w.grad = None
        y = f(x, w)
        y.backward()
        outs.append((y.detach().numpy(), x.grad.numpy(), w.grad.numpy()))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_compiled_batchnorm_train_updates_running_stats_like_eager() -> None:
    bn, ref = nn.BatchNorm2d(3), nn.BatchNorm2d(3)
    cf = adjit.compile(bn)
    for _ in range(3):
        x = adjit.randn(4, 3, 2, 2)
        np.testing.assert_allclose(
            cf(x).detach().numpy(), ref(x).detach().numpy(), rtol=1e-5, atol=1e-6
        )
    # buffers written back after every compiled call, as eager mode updates them
    np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), ref.running_var.numpy(), rtol=1e-6)
    assert int(bn.num_batches_tracked) == int(ref.num_batches_tracked) == 3
    assert cf.trace_count == 1
    bn.eval()
    ref.eval()
    x = adjit.randn(4, 3, 2, 2)
    np.testing.assert_allclose(
        cf(x).detach().numpy(), ref(x).detach().numpy(), rtol=1e-5, atol=1e-6
    )
    assert cf.trace_count == 2  # the training flag is a guard: eval mode traced again
