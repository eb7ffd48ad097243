"""A convolution's product, weight gradient and input gradient by chunks of the batch (Note
[weight gradient by chunks]): the same values as the one GEMM over the whole batch."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.runtime import column_grads

import adjit
import adjit.nn.functional as F

KINDS = {"ProductOfColumns", "ColumnsProduct", "FoldProduct"}
ALL = KINDS | {"ChannelColumnsProduct"}


def _step_kinds(cf: object, *args: object) -> set[str]:
    runs = adjit.explain(cf, *args)._executables()
    return {type(s).__name__ for _, ex in runs for s in ex.steps}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("n", "stride", "padding", "weight_grad"),
    [
        (5, 1, 1, "ChannelColumnsProduct"),
        (4, 2, 0, "ColumnsProduct"),
        (3, 1, 2, "ChannelColumnsProduct"),
    ],
)
def test_chunked_conv_step_matches_eager(
    monkeypatch: pytest.MonkeyPatch,
    dtype: type,
    n: int,
    stride: int,
    padding: int,
    weight_grad: str,
) -> None:
    # columns of one image: 3*3*4 rows x the output's cells; two images a chunk (the last one
    # short for an odd batch); the weight gradient by chunks of channels where those hold
    # less than a chunk of images and the product's buffer (5 and 3 images; 4 images at
    # stride 2 have fewer cells: the images' chunks hold less)
    cells = ((10 + 2 * padding - 3) // stride + 1) ** 2
    monkeypatch.setattr(column_grads, "CHUNK_BYTES", 2 * 36 * cells * np.dtype(dtype).itemsize)
    rng = np.random.default_rng(n)
    x = adjit.tensor(rng.standard_normal((n, 4, 10, 10)).astype(dtype), requires_grad=True)
    w = adjit.tensor(rng.standard_normal((3, 4, 3, 3)).astype(dtype), requires_grad=True)

    def f(x: adjit.Tensor, w: adjit.Tensor) -> adjit.Tensor:
        return (F.conv2d(x, w, stride=stride, padding=padding).tanh() ** 2).sum()

    f(x, w).backward()
    want = [x.grad.numpy().copy(), w.grad.numpy().copy()]
    loss = f(x, w).item()
    cf = adjit.compile(f)
    for _ in range(2):  # the second call reuses the planned chunk buffers
        x.grad = w.grad = None
        got = cf(x, w)
        got.backward()
        tol = 1e-12 if dtype == np.float64 else 2e-5
        np.testing.assert_allclose(got.item(), loss, rtol=tol)
        for a, b in zip((x.grad.numpy(), w.grad.numpy()), want, strict=True):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max())
    kinds = _step_kinds(cf, x, w)
    assert kinds >= {"ProductOfColumns", "FoldProduct", weight_grad}
    assert not kinds & {"ColumnsProduct", "ChannelColumnsProduct"} - {weight_grad}


def test_small_convolutions_keep_the_one_gemm() -> None:
    # one chunk would hold the whole batch: nothing to save, the steps stay as they were
    x = adjit.randn(2, 3, 6, 6, requires_grad=True)
    w = adjit.randn(4, 3, 3, 3, requires_grad=True)
    cf = adjit.compile(lambda x, w: F.conv2d(x, w).sum())
    cf(x, w).backward()
    assert not _step_kinds(cf, x, w) & ALL


def test_a_wide_weight_gradient_goes_by_chunks_of_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 outputs against 4x4 maps: a chunk of images' product would be as large as the
    # columns, so the weight gradient takes the input's channels 2 at a time
    monkeypatch.setattr(column_grads, "CHUNK_BYTES", 1)
    rng = np.random.default_rng(7)
    x = adjit.tensor(rng.standard_normal((4, 6, 6, 6)), requires_grad=True)
    w = adjit.tensor(rng.standard_normal((64, 6, 3, 3)), requires_grad=True)

    def f(x: adjit.Tensor, w: adjit.Tensor) -> adjit.Tensor:
        return (F.conv2d(x, w).sin() ** 2).sum()

    f(x, w).backward()
    want = [x.grad.numpy().copy(), w.grad.numpy().copy()]
    cf = adjit.compile(f)
    for _ in range(2):
        x.grad = w.grad = None
        cf(x, w).backward()
        for a, b in zip((x.grad.numpy(), w.grad.numpy()), want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())
    assert "ChannelColumnsProduct" in _step_kinds(cf, x, w)
