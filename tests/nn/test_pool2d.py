"""max/avg/adaptive-avg pooling vs PyTorch: values, gradients (ties, overlaps), names, repr."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F
from adjit import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _input(dtype: Any, shape: tuple[int, ...] = (2, 3, 9, 9)) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    x[..., 0, :3, :3] = 1.5  # ties: the gradient must go to the first maximum only
    x[..., 2, :, :] = np.round(x[..., 2, :, :])  # many ties across overlapping windows
    return x


def _compare(fa: Any, ft: Any, x: np.ndarray, name: str) -> None:
    xa, xt = adjit.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = fa(xa), ft(xt)
    assert ya.grad_fn.name() == yt.grad_fn.name() == name
    tol = 1e-6 if x.dtype == np.float32 else 1e-13
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(x.dtype)
    ya.backward(adjit.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


MAX_TABLE = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 1, "padding": 1},  # overlapping windows
    {"kernel_size": (3, 2), "stride": (2, 1)},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 3, "dilation": 2, "padding": 1},
    {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True},  # past the right padding
    {"kernel_size": (2, 4), "stride": (1, 3), "padding": (1, 2), "ceil_mode": True},
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", MAX_TABLE, ids=str)
def test_max_pool2d(kw: dict[str, Any], dtype: Any) -> None:
    x = _input(dtype)
    _compare(
        lambda a: F.max_pool2d(a, **kw),
        lambda t: TF.max_pool2d(t, **kw),
        x,
        "MaxPool2DWithIndicesBackward0",
    )
    _, ia = F.max_pool2d(adjit.tensor(x), return_indices=True, **kw)
    _, it = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(ia.numpy(), it.numpy())


AVG_TABLE = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 2, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": 3, "stride": 1, "divisor_override": 2},
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", AVG_TABLE, ids=str)
def test_avg_pool2d(kw: dict[str, Any], dtype: Any) -> None:
    _compare(
        lambda a: F.avg_pool2d(a, **kw),
        lambda t: TF.avg_pool2d(t, **kw),
        _input(dtype),
        "AvgPool2DBackward0",
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, (1, 1), 3, (2, 4), (7, 7), (None, 2)], ids=str)
def test_adaptive_avg_pool2d(size: Any, dtype: Any) -> None:
    name = "MeanBackward1" if size in (1, (1, 1)) else "AdaptiveAvgPool2DBackward0"
    _compare(
        lambda a: F.adaptive_avg_pool2d(a, size),
        lambda t: TF.adaptive_avg_pool2d(t, size),
        _input(dtype),
        name,
    )


def test_pool_finite_differences() -> None:
    x = adjit.randn(1, 2, 6, 6, dtype=adjit.float64, requires_grad=True)
    gradcheck = adjit.autograd.gradcheck
    assert gradcheck(lambda a: F.max_pool2d(a, 3, 2, 1), (x,))
    assert gradcheck(lambda a: F.avg_pool2d(a, 3, 2, 1, count_include_pad=False), (x,))
    assert gradcheck(lambda a: F.adaptive_avg_pool2d(a, (4, 3)), (x,))


@pytest.mark.parametrize(
    "fn,args,name",
    [
        ("max_pool2d", (2,), "MaxPool2DWithIndicesBackward0"),
        ("avg_pool2d", (3, 2, 1), "AvgPool2DBackward0"),
        ("adaptive_avg_pool2d", (3,), "AdaptiveAvgPool2DBackward0"),
        ("adaptive_avg_pool2d", (1,), "MeanBackward1"),
    ],
)
def test_unbatched_pooling(fn: str, args: tuple, name: str) -> None:
    _compare(
        lambda a: getattr(F, fn)(a, *args),
        lambda t: getattr(TF, fn)(t, *args),
        _input(np.float64, (3, 8, 8)),
        name,
    )


@pytest.mark.parametrize(
    "cls,args",
    [
        ("MaxPool2d", (3, 2, 1)),
        ("MaxPool2d", (2,)),
        ("AvgPool2d", (2,)),
        ("AvgPool2d", (3, 1, 1)),
        ("AdaptiveAvgPool2d", ((1, 1),)),
        ("AdaptiveAvgPool2d", (7,)),
        ("Dropout2d", ()),
    ],
)
def test_pool_module_repr(cls: str, args: tuple) -> None:
    assert repr(getattr(nn, cls)(*args)) == repr(getattr(torch.nn, cls)(*args))


def test_dropout2d_zeroes_whole_channels() -> None:
    x = adjit.ones(4, 8, 3, 3)
    y = nn.Dropout2d(0.5)(x).numpy()
    per_channel = y.reshape(4, 8, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert nn.Dropout2d(0.5).eval()(x) is x


def test_max_pool2d_negative_border_and_integers() -> None:
    # every window at the border holds only negatives: the zero padding must never win
    x = -np.abs(_input(np.float64)) - 1.0
    _compare(
        lambda a: F.max_pool2d(a, 3, 2, 1),
        lambda t: TF.max_pool2d(t, 3, 2, 1),
        x,
        "MaxPool2DWithIndicesBackward0",
    )
    xi = np.random.default_rng(3).integers(-50, 0, (1, 2, 7, 6))
    for kw in (
        {"kernel_size": 3, "stride": 2, "padding": 1},
        {"kernel_size": 2, "ceil_mode": True},
    ):
        ya, ia = F.max_pool2d(adjit.tensor(xi), return_indices=True, **kw)
        yt, it = TF.max_pool2d(torch.tensor(xi), return_indices=True, **kw)
        assert ya.dtype == adjit.int64
        np.testing.assert_array_equal(ya.numpy(), yt.numpy())
        np.testing.assert_array_equal(ia.numpy(), it.numpy())


@pytest.mark.parametrize(
    "fn,args", [("max_pool2d", (4,)), ("avg_pool2d", (4,)), ("max_pool2d", (3, 1, 0, 2))]
)
def test_pool_output_too_small(fn: str, args: tuple) -> None:
    with pytest.raises(RuntimeError) as te:
        getattr(TF, fn)(torch.zeros(1, 2, 3, 3), *args)
    with pytest.raises(RuntimeError) as ae:
        getattr(F, fn)(adjit.zeros(1, 2, 3, 3), *args)
    assert str(ae.value) == str(te.value)
