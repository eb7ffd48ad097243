"""nn.grad (conv input/weight gradients), nn.factory_kwargs, F.grad, F.native_channel_shuffle,
the grid-sample mode tables and the torch-function helpers under F and autograd, side by side
with PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

CONV_CASES = [
    ("1d", (2, 4, 9), (6, 2, 3), {"stride": 2, "padding": 1, "groups": 2}),
    ("1d", (1, 3, 7), (2, 3, 2), {"dilation": 2}),
    ("2d", (2, 3, 6, 5), (4, 3, 3, 2), {"stride": (2, 1), "padding": (1, 0)}),
    ("2d", (1, 4, 5, 5), (4, 1, 3, 3), {"groups": 4, "padding": 1, "dilation": 1}),
    ("3d", (1, 2, 4, 5, 3), (3, 2, 2, 3, 2), {"stride": 1, "padding": (0, 1, 1)}),
]


def _grads(T: Any, dims: str, x: np.ndarray, w: np.ndarray, kw: dict) -> list[np.ndarray]:
    conv = getattr(T.nn.functional, f"conv{dims}")
    xt, wt = T.tensor(x), T.tensor(w)
    go = T.tensor(np.random.default_rng(1).standard_normal(tuple(conv(xt, wt, **kw).shape)))
    g = T.nn.grad
    gi = getattr(g, f"conv{dims}_input")(xt.shape, wt, go, **kw)
    gw = getattr(g, f"conv{dims}_weight")(xt, wt.shape, go, **kw)
    return [gi.numpy(), gw.numpy(), np.array(gi.requires_grad or gw.requires_grad)]


@pytest.mark.parametrize(("dims", "xs", "ws", "kw"), CONV_CASES, ids=str)
def test_conv_gradients_as_pytorch(dims: str, xs: tuple, ws: tuple, kw: dict) -> None:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    got, want = _grads(adjit, dims, x, w, kw), _grads(torch, dims, x, w, kw)
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert adjit.nn.functional.grad is adjit.nn.grad


def _factory(T: Any, kwargs: Any) -> Any:
    try:
        return T.nn.factory_kwargs(kwargs)
    except TypeError as e:
        return f"TypeError: {e}"


@pytest.mark.parametrize(
    "kwargs",
    [
        None,
        {},
        {"device": "cpu", "dtype": None},
        {"memory_format": 1},
        {"factory_kwargs": {"dtype": 1}, "device": None},
        {"foo": 1},
        {"dtype": 1, "factory_kwargs": {"dtype": 2}},
    ],  # fmt: skip
    ids=str,
)
def test_factory_kwargs_as_pytorch(kwargs: Any) -> None:
    assert _factory(adjit, kwargs) == _factory(torch, kwargs)


def test_functional_names_as_pytorch() -> None:
    for name in ("GRID_SAMPLE_INTERPOLATION_MODES", "GRID_SAMPLE_PADDING_MODES"):
        assert getattr(adjit.nn.functional, name) == getattr(torch.nn.functional, name)
    x = np.arange(2 * 6 * 3.0).reshape(2, 6, 3)
    got = adjit.nn.functional.native_channel_shuffle(adjit.tensor(x), 3)
    want = torch.nn.functional.native_channel_shuffle(torch.tensor(x), 3)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    for T in (adjit, torch):
        t = T.ones(2)
        assert T.autograd.is_tensor_like(t) and not T.autograd.has_torch_function((t,))
        assert not T.nn.functional.has_torch_function_unary(t)
        assert not T.nn.functional.has_torch_function_variadic(t, t)
