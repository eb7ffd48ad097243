"""F.conv2d / nn.Conv2d vs PyTorch: values, gradients, grad_fn names, init, repr, padding modes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F
from adjit import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# (input shape, weight shape, kwargs): strides, paddings, dilations, groups, 'same'/'valid'
CONV_TABLE: list[tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]] = [
    ((2, 3, 7, 8), (4, 3, 3, 3), {}),
    ((2, 3, 7, 8), (4, 3, 3, 3), {"stride": 2, "padding": 1}),
    ((1, 3, 9, 9), (5, 3, 3, 2), {"stride": (2, 1), "padding": (1, 0)}),
    ((2, 4, 9, 9), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((1, 4, 10, 10), (4, 1, 3, 3), {"groups": 4, "stride": 2}),  # depthwise
    ((2, 3, 11, 11), (2, 3, 3, 3), {"dilation": 2, "padding": 2}),
    ((1, 2, 8, 8), (3, 2, 1, 1), {}),
    ((1, 2, 8, 8), (3, 2, 1, 1), {"stride": 2}),
    ((1, 3, 16, 16), (4, 3, 7, 7), {"stride": 2, "padding": 3}),
    ((2, 3, 6, 7), (4, 3, 4, 3), {"padding": "same"}),  # asymmetric 'same' (even kernel)
    ((2, 3, 6, 7), (4, 3, 3, 3), {"padding": "same", "dilation": 2}),
    ((2, 3, 6, 7), (4, 3, 3, 3), {"padding": "valid"}),
    ((3, 7, 8), (4, 3, 3, 3), {"padding": 1}),  # unbatched
]


def _pair(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> tuple[Any, Any]:
    a = rng.standard_normal(shape).astype(dtype)
    return adjit.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,ws,kw", CONV_TABLE, ids=[str(r[2]) for r in CONV_TABLE])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(xs: Any, ws: Any, kw: dict[str, Any], dtype: Any, bias: bool) -> None:
    rng = np.random.default_rng(0)
    (xa, xt), (wa, wt) = _pair(rng, xs, dtype), _pair(rng, ws, dtype)
    ba, bt = _pair(rng, (ws[0],), dtype) if bias else (None, None)
    ya, yt = F.conv2d(xa, wa, ba, **kw), TF.conv2d(xt, wt, bt, **kw)
    assert ya.grad_fn.name() == yt.grad_fn.name()  # unbatched: SqueezeBackward1 over the conv
    assert ya.dtype.name == str(yt.dtype).removeprefix("torch.")
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    ya.backward(adjit.tensor(g))
    yt.backward(torch.tensor(g))
    pairs = [(xa, xt), (wa, wt)] + ([(ba, bt)] if bias else [])
    for a, t in pairs:
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=tol, atol=10 * tol)


@pytest.mark.parametrize(
    "kw", [{"stride": 2, "padding": 1}, {"groups": 2, "dilation": 2, "padding": 1}]
)
def test_conv2d_finite_differences(kw: dict[str, Any]) -> None:
    x = adjit.randn(1, 2, 6, 5, dtype=adjit.float64, requires_grad=True)
    w = adjit.randn(2, 2 // kw.get("groups", 1), 3, 3, dtype=adjit.float64, requires_grad=True)
    b = adjit.randn(2, dtype=adjit.float64, requires_grad=True)
    assert adjit.autograd.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), (x, w, b))


def test_conv2d_errors() -> None:
    x, w = adjit.randn(1, 3, 5, 5), adjit.randn(4, 2, 3, 3)
    with pytest.raises(RuntimeError, match="channels"):
        F.conv2d(x, w)
    with pytest.raises(RuntimeError, match="strided"):
        F.conv2d(x, adjit.randn(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible"):
        nn.Conv2d(3, 4, 3, groups=2)


@pytest.mark.parametrize(
    "args,kw",
    [
        ((3, 64, 7), {"stride": 2, "padding": 3, "bias": False}),
        ((3, 4, 3), {"padding": "same", "dilation": 2, "padding_mode": "reflect"}),
        ((4, 8, (3, 1)), {"groups": 2, "padding": (1, 0)}),
        ((2, 2, 3), {"padding": "valid"}),
    ],
)
def test_conv2d_module_repr_and_init(args: tuple, kw: dict[str, Any]) -> None:
    a, t = nn.Conv2d(*args, **kw), torch.nn.Conv2d(*args, **kw)
    assert repr(a) == repr(t)
    assert list(a.state_dict()) == list(t.state_dict())
    for (ka, va), (_, vt) in zip(a.state_dict().items(), t.state_dict().items(), strict=True):
        assert tuple(va.shape) == tuple(vt.shape), ka
    # kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    fan_in = a.weight[0].numel()
    bound = 1 / np.sqrt(fan_in)
    assert np.abs(a.weight.detach().numpy()).max() <= bound
    if a.bias is not None:
        assert np.abs(a.bias.detach().numpy()).max() <= bound


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_padding_modes(mode: str) -> None:
    t = torch.nn.Conv2d(3, 4, 3, padding=2, padding_mode=mode).double()
    a = nn.Conv2d(3, 4, 3, padding=2, padding_mode=mode).double()
    a.load_state_dict({k: adjit.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 7))
    xa, xt = adjit.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = a(xa), t(xt)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    (ya * ya).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    "xs,ws,kw",
    [
        ((1, 2, 3, 3), (1, 2, 5, 5), {}),
        ((1, 2, 3, 3), (1, 2, 2, 2), {"dilation": 3}),
        ((1, 2, 3, 3), (1, 2, 2, 2), {"stride": 0}),
        ((1, 2, 3, 3), (1, 2, 2, 2), {"padding": -1}),
    ],
)
def test_conv2d_errors_match_torch(xs: Any, ws: Any, kw: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError) as te:
        TF.conv2d(torch.zeros(xs), torch.zeros(ws), **kw)
    with pytest.raises(RuntimeError) as ae:
        F.conv2d(adjit.zeros(xs), adjit.zeros(ws), **kw)
    assert str(ae.value) == str(te.value)
