"""F.unfold / F.fold and nn.Unfold / nn.Fold vs PyTorch: values, gradients, names, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F
from adjit import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# (input shape, kernel_size, kwargs): odd and non-square sizes, stride, padding, dilation
UNFOLD_TABLE: list[tuple[tuple[int, ...], Any, dict[str, Any]]] = [
    ((2, 3, 7, 8), 3, {}),
    ((2, 3, 7, 8), (2, 3), {"stride": 2, "padding": 1}),
    ((1, 2, 9, 5), (3, 2), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}),
    ((2, 1, 11, 11), 3, {"dilation": 2, "padding": 2, "stride": 3}),
    ((1, 4, 6, 6), 1, {}),  # the input itself, as a fresh array
    ((1, 4, 6, 6), 1, {"stride": 2}),
    ((3, 5, 5), 2, {"padding": 1}),  # unbatched
    ((0, 2, 4, 4), 2, {}),  # empty batch
]


def _pair(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> tuple[Any, Any]:
    a = rng.standard_normal(shape).astype(dtype)
    return adjit.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _close(a: Any, t: Any, tol: float) -> None:
    np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,k,kw", UNFOLD_TABLE, ids=[str(r[1:]) for r in UNFOLD_TABLE])
def test_unfold_and_fold_match_torch(shape: Any, k: Any, kw: dict[str, Any], dtype: Any) -> None:
    rng = np.random.default_rng(0)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    xa, xt = _pair(rng, shape, dtype)
    ya, yt = F.unfold(xa, k, **kw), TF.unfold(xt, k, **kw)
    assert tuple(ya.shape) == tuple(yt.shape) and ya.dtype.name == str(yt.dtype)[6:]
    _close(ya, yt, tol)
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    ya.backward(adjit.tensor(g))
    yt.backward(torch.tensor(g))
    _close(xa.grad, xt.grad, tol)

    # fold is unfold's adjoint: fold the same columns back, with gradients
    ca, ct = _pair(rng, tuple(yt.shape), dtype)
    za, zt = F.fold(ca, shape[-2:], k, **kw), TF.fold(ct, shape[-2:], k, **kw)
    assert tuple(za.shape) == tuple(zt.shape)
    _close(za, zt, tol)
    h = rng.standard_normal(tuple(zt.shape)).astype(dtype)
    za.backward(adjit.tensor(h))
    zt.backward(torch.tensor(h))
    _close(ca.grad, ct.grad, tol)


def test_grad_fn_names_and_double_backward() -> None:
    rng = np.random.default_rng(1)
    xa, xt = _pair(rng, (1, 2, 5, 5), np.float64)
    ya, yt = F.unfold(xa, 2, padding=1), TF.unfold(xt, 2, padding=1)
    assert ya.grad_fn.name() == yt.grad_fn.name() == "Im2ColBackward0"
    za, zt = F.fold(ya, (5, 5), 2, padding=1), TF.fold(yt, (5, 5), 2, padding=1)
    assert za.grad_fn.name() == zt.grad_fn.name() == "Col2ImBackward0"
    # second order: the gradient of <fold(unfold(x)), fold(unfold(x))> w.r.t. x, then its sum
    (ga,) = adjit.autograd.grad((za * za).sum(), xa, create_graph=True)
    (gt,) = torch.autograd.grad((zt * zt).sum(), xt, create_graph=True)
    _close(ga, gt, 1e-12)
    (gga,) = adjit.autograd.grad((ga * ga).sum(), xa)
    (ggt,) = torch.autograd.grad((gt * gt).sum(), xt)
    _close(gga, ggt, 1e-12)


@pytest.mark.parametrize(
    "kw", [{"stride": 2, "padding": 1}, {"dilation": (2, 1), "padding": (2, 0), "stride": (1, 2)}]
)
def test_finite_differences(kw: dict[str, Any]) -> None:
    x = adjit.randn(2, 2, 7, 6, dtype=adjit.float64, requires_grad=True)
    assert adjit.autograd.gradcheck(lambda a: F.unfold(a, (3, 2), **kw), (x,))
    cols = F.unfold(x.detach(), (3, 2), **kw).detach().requires_grad_()
    assert adjit.autograd.gradcheck(lambda c: F.fold(c, (7, 6), (3, 2), **kw), (cols,))


def test_compiled_matches_eager() -> None:
    x = adjit.randn(2, 3, 9, 7, dtype=adjit.float64, requires_grad=True)

    def fn(a: adjit.Tensor) -> adjit.Tensor:
        cols = F.unfold(a.sin(), (3, 2), padding=1, stride=(2, 1), dilation=(1, 2))
        back = F.fold(cols * cols, (9, 7), (3, 2), padding=1, stride=(2, 1), dilation=(1, 2))
        return (back.exp() * a).sum()

    outs = []
    for f in (fn, adjit.compile(fn)):
        x.grad = None
        y = f(x)
        y.backward()
        outs.append((y.detach().numpy(), x.grad.numpy()))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_modules_repr_and_forward() -> None:
    for args, kw in [((2,), {}), (((2, 3),), {"dilation": 2, "padding": 1, "stride": (1, 2)})]:
        assert repr(nn.Unfold(*args, **kw)) == repr(torch.nn.Unfold(*args, **kw))
        assert repr(nn.Fold((5, 6), *args, **kw)) == repr(torch.nn.Fold((5, 6), *args, **kw))
    x = np.random.default_rng(2).standard_normal((1, 2, 5, 6))
    ya = nn.Fold((5, 6), 2)(nn.Unfold(2)(adjit.tensor(x)))
    yt = torch.nn.Fold((5, 6), 2)(torch.nn.Unfold(2)(torch.tensor(x)))
    _close(ya, yt, 1e-13)


ERRORS: list[tuple[str, tuple[int, ...], dict[str, Any]]] = [
    ("unfold", (1, 2, 3, 3), {"kernel_size": 5}),
    ("unfold", (1, 2, 3, 3), {"kernel_size": 2, "stride": 0}),
    ("unfold", (1, 2, 3, 3), {"kernel_size": 2, "padding": -1}),
    ("unfold", (1, 2, 3, 3), {"kernel_size": 2, "dilation": 0}),
    ("unfold", (1, 2, 3, 3), {"kernel_size": 0}),
    ("unfold", (1, 2, 3, 3), {"kernel_size": (2, 2, 2)}),
    ("unfold", (1, 1, 2, 3, 3), {"kernel_size": 2}),
    ("unfold", (1, 0, 3, 3), {"kernel_size": 2}),
    ("unfold", (), {"kernel_size": 2}),
    ("unfold", (4,), {"kernel_size": 2}),
    ("unfold", (3, 4), {"kernel_size": 2}),
    ("fold", (1, 8, 5), {"output_size": (3, 3), "kernel_size": 2}),
    ("fold", (1, 7, 4), {"output_size": (3, 3), "kernel_size": 2}),
    ("fold", (1, 8, 4, 1), {"output_size": (3, 3), "kernel_size": 2}),
    ("fold", (1, 8, 0), {"output_size": (3, 3), "kernel_size": 2}),
    ("fold", (1, 8, 4), {"output_size": (3, 3, 3), "kernel_size": 2}),
    ("fold", (1, 8, 4), {"output_size": (3, 3), "kernel_size": 2, "stride": 0}),
]


@pytest.mark.parametrize("fn,shape,kw", ERRORS, ids=[f"{r[0]}{r[1]}{r[2]}" for r in ERRORS])
def test_errors_match_torch(fn: str, shape: tuple[int, ...], kw: dict[str, Any]) -> None:
    with pytest.raises(Exception) as te:
        getattr(TF, fn)(torch.zeros(shape), **kw)
    with pytest.raises(type(te.value)) as ae:
        getattr(F, fn)(adjit.zeros(shape), **kw)
    assert str(te.value) in str(ae.value)


def test_integer_inputs_are_refused_like_torch() -> None:
    with pytest.raises(NotImplementedError, match="im2col_out_cpu"):
        F.unfold(adjit.zeros(1, 2, 3, 3, dtype=adjit.int64), 2)
    with pytest.raises(NotImplementedError, match="col2im_out_cpu"):
        F.fold(adjit.zeros(1, 8, 4, dtype=adjit.int64), (3, 3), 2)
