"""conv1d/2d/3d, conv_transpose1d/2d/3d, conv_tbc and their modules vs PyTorch: values, input /
weight / bias gradients (float64 and float32), finite differences, compiled on both backends,
init with the same seed, repr, padding modes, output_size and error texts."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F
from adjit import nn
from adjit.testing import assert_grads_match

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# (function, input shape, weight shape, kwargs): strides, paddings ('same' with odd and even
# spans, 'valid'), dilations, groups, output_padding below and above padding and stride, 1x1
# kernels (no UNFOLD / FOLD), unbatched inputs
Row = tuple[str, tuple[int, ...], tuple[int, ...], dict[str, Any]]
ROWS: list[Row] = [
    ("conv1d", (2, 3, 9), (4, 3, 3), {}),
    ("conv1d", (2, 3, 9), (4, 3, 3), {"stride": 2, "padding": 1}),
    ("conv1d", (2, 4, 9), (6, 2, 3), {"groups": 2, "dilation": 2, "padding": (2,)}),
    ("conv1d", (2, 3, 8), (4, 3, 4), {"padding": "same"}),
    ("conv1d", (2, 3, 8), (4, 3, 3), {"padding": "same", "dilation": 3}),
    ("conv1d", (2, 3, 8), (4, 3, 3), {"padding": "valid", "stride": 3}),
    ("conv1d", (3, 8), (4, 3, 1), {}),
    ("conv2d", (2, 3, 7, 8), (4, 3, 3, 2), {"stride": (2, 1), "padding": (1, 0)}),
    ("conv2d", (2, 4, 6, 7), (4, 1, 3, 3), {"groups": 4, "padding": "same", "dilation": 2}),
    ("conv3d", (2, 3, 5, 6, 7), (4, 3, 3, 3, 3), {}),
    ("conv3d", (2, 3, 5, 6, 7), (4, 3, 3, 2, 3), {"stride": (2, 1, 2), "padding": (1, 0, 1)}),
    ("conv3d", (1, 6, 5, 5, 6), (6, 2, 2, 3, 3), {"groups": 3, "dilation": (2, 1, 2)}),
    ("conv3d", (2, 3, 4, 5, 6), (2, 3, 2, 3, 4), {"padding": "same"}),
    ("conv3d", (2, 3, 5, 6, 7), (4, 3, 1, 3, 3), {"stride": 2, "padding": 1}),
    ("conv3d", (2, 3, 4, 5, 5), (4, 3, 1, 1, 1), {}),
    ("conv3d", (3, 4, 5, 5), (4, 3, 3, 1, 2), {"padding": (1, 0, 1)}),
    ("conv_transpose1d", (2, 3, 5), (3, 4, 3), {}),
    ("conv_transpose1d", (2, 3, 5), (3, 4, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ("conv_transpose1d", (2, 6, 5), (6, 2, 3), {"groups": 3, "dilation": 2, "padding": 2}),
    ("conv_transpose1d", (2, 3, 5), (3, 2, 3), {"dilation": 3, "output_padding": 2}),
    ("conv_transpose1d", (2, 3, 5), (3, 2, 3), {"stride": 3, "output_padding": 2}),
    ("conv_transpose1d", (3, 5), (3, 2, 1), {}),
    ("conv_transpose1d", (1, 3, 1), (3, 2, 1), {"padding": 1, "stride": 3, "output_padding": 2}),
    (
        "conv_transpose2d",
        (1, 2, 1, 4),
        (2, 2, 1, 3),
        {"padding": (1, 1), "stride": (3, 1), "output_padding": (2, 0)},
    ),
    (
        "conv_transpose2d",
        (2, 4, 4, 5),
        (4, 3, 3, 3),
        {"stride": 2, "padding": 1, "output_padding": 1},
    ),
    ("conv_transpose2d", (2, 4, 4, 5), (4, 2, 3, 2), {"groups": 2, "stride": (1, 2)}),
    (
        "conv_transpose2d",
        (1, 3, 4, 4),
        (3, 2, 2, 3),
        {"stride": (2, 3), "padding": (0, 1), "dilation": (1, 2), "output_padding": (1, 2)},
    ),
    ("conv_transpose2d", (3, 4, 4), (3, 2, 3, 3), {"padding": 1}),
    ("conv_transpose2d", (2, 3, 4, 4), (3, 5, 1, 1), {}),
    (
        "conv_transpose3d",
        (2, 3, 3, 4, 4),
        (3, 2, 3, 3, 3),
        {"stride": 2, "padding": 1, "output_padding": 1},
    ),
    (
        "conv_transpose3d",
        (1, 3, 3, 4, 3),
        (3, 1, 2, 3, 2),
        {"groups": 3, "stride": (1, 2, 2), "dilation": (2, 1, 1)},
    ),
    (
        "conv_transpose3d",
        (2, 3, 3, 4, 4),
        (3, 2, 2, 1, 2),
        {"stride": (3, 1, 2), "output_padding": (2, 0, 1)},
    ),
    ("conv_transpose3d", (3, 3, 4, 4), (3, 2, 2, 2, 2), {"padding": (1, 0, 1)}),
    ("conv_tbc", (7, 2, 3), (3, 3, 4), {"pad": 1}),
    ("conv_tbc", (7, 2, 3), (3, 3, 4), {}),
    ("conv_tbc", (7, 2, 3), (2, 3, 4), {"pad": -1}),
    ("conv_tbc", (5, 2, 3), (4, 3, 2), {"pad": -1}),  # no time step
]
IDS = [f"{r[0]}-{r[1]}-{r[3]}" for r in ROWS]
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def _out_channels(row: Row) -> int:
    name, _, ws, kw = row
    if name == "conv_tbc":
        return ws[2]
    return ws[1] * kw.get("groups", 1) if "transpose" in name else ws[0]


def _arrays(row: Row, dtype: Any, bias: bool) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(row[1]), rng.standard_normal(row[2])]
    if bias or row[0] == "conv_tbc":  # (conv_tbc's bias is required)
        arrays.append(rng.standard_normal(_out_channels(row)))
    return [a.astype(dtype) for a in arrays]


def _call(lib: Any, row: Row, *args: Any) -> Any:
    return getattr(lib, row[0])(*args, **row[3])


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_values_and_gradients_match_torch(row: Row, dtype: Any, bias: bool) -> None:
    if row[0] == "conv_tbc" and not bias:
        pytest.skip("conv_tbc takes a bias")
    arrays = _arrays(row, dtype, bias)
    xa = [adjit.tensor(a, requires_grad=True) for a in arrays]
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ya, yt = _call(F, row, *xa), _call(TF, row, *xt)
    assert tuple(ya.shape) == tuple(yt.shape)
    assert ya.dtype.name == str(yt.dtype).removeprefix("torch.")
    assert ya.grad_fn.name() == yt.grad_fn.name()
    tol = TOL[dtype]
    scale = max(1.0, float(np.abs(yt.detach().numpy()).max(initial=0.0)))
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol * scale)
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(dtype)
    ya.backward(adjit.tensor(g))
    yt.backward(torch.tensor(g))
    for a, t in zip(xa, xt, strict=True):
        want = t.grad.numpy()
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(a.grad.numpy(), want, rtol=tol, atol=tol * scale)


FD_ROWS = [ROWS[i] for i in (2, 3, 11, 17, 19, 22, 23, 26, 29, 31, 35)]


@pytest.mark.parametrize("row", FD_ROWS, ids=[f"{r[0]}-{r[3]}" for r in FD_ROWS])
def test_gradients_against_finite_differences(row: Row) -> None:
    xs = [adjit.tensor(a) for a in _arrays(row, np.float64, True)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_grads_match(lambda *v: _call(F, row, *v), *xs)


COMPILED_ROWS = [ROWS[i] for i in (1, 3, 6, 10, 12, 15, 17, 19, 22, 23, 24, 27, 29, 30, 32, 34)]


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("row", COMPILED_ROWS, ids=[f"{r[0]}-{r[3]}" for r in COMPILED_ROWS])
def test_compiled_forward_and_backward_match_eager(row: Row, backend: str) -> None:
    xs = [adjit.tensor(a) for a in _arrays(row, np.float64, True)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = _call(F, row, *xs)
        got = adjit.compile(lambda *v: _call(F, row, *v), backend=backend)(*xs)
        assert tuple(got.shape) == tuple(want.shape) and got.dtype is want.dtype
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
        ct = adjit.tensor(np.random.default_rng(1).standard_normal(tuple(want.shape)))

        def loss(*v: Any) -> Any:
            return (_call(F, row, *v) * ct).sum()

        compiled = adjit.grad(loss, argnums=tuple(range(len(xs))), backend=backend)(*xs)
        leaves = [x.detach().requires_grad_() for x in xs]
        eager = adjit.autograd.grad(loss(*leaves), leaves)
    for c, e in zip(compiled, eager, strict=True):
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=1e-11, atol=1e-11)


# ---- modules -------------------------------------------------------------------------------
MODULES: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("Conv1d", (3, 4, 3), {}),
    ("Conv1d", (4, 6, 5), {"stride": 2, "padding": 2, "groups": 2, "bias": False}),
    ("Conv1d", (3, 4, 4), {"padding": "same", "dilation": 2, "padding_mode": "reflect"}),
    ("Conv1d", (3, 4, 3), {"padding": 2, "padding_mode": "circular"}),
    ("Conv1d", (3, 4, 3), {"padding": "valid"}),
    ("Conv2d", (3, 4, (3, 2)), {"padding": (1, 2), "padding_mode": "replicate"}),
    ("Conv3d", (3, 4, 3), {}),
    ("Conv3d", (4, 4, (2, 3, 3)), {"stride": (1, 2, 2), "groups": 4, "dilation": (2, 1, 1)}),
    ("Conv3d", (3, 4, 3), {"padding": 1, "padding_mode": "reflect", "bias": False}),
    ("Conv3d", (3, 4, (2, 3, 2)), {"padding": "same", "padding_mode": "replicate"}),
    ("Conv3d", (3, 2, 3), {"padding": (1, 0, 2), "padding_mode": "circular"}),
    ("ConvTranspose1d", (3, 4, 3), {}),
    ("ConvTranspose1d", (4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    ("ConvTranspose2d", (3, 4, 3), {"stride": 2, "dilation": 2, "bias": False}),
    (
        "ConvTranspose2d",
        (3, 4, (3, 2)),
        {"stride": (2, 3), "padding": (1, 0), "output_padding": (1, 2)},
    ),
    ("ConvTranspose3d", (3, 4, 3), {}),
    ("ConvTranspose3d", (2, 4, (2, 3, 3)), {"stride": 2, "padding": 1, "groups": 2}),
]
MODULE_IDS = [f"{m[0]}-{m[1]}-{m[2]}" for m in MODULES]


@pytest.mark.parametrize("name,args,kw", MODULES, ids=MODULE_IDS)
def test_module_init_repr_and_state_dict_match_torch(name: str, args: tuple, kw: dict) -> None:
    adjit.manual_seed(0)
    a = getattr(nn, name)(*args, **kw)
    torch.manual_seed(0)
    t = getattr(torch.nn, name)(*args, **kw)
    assert repr(a) == repr(t)
    assert list(a.state_dict()) == list(t.state_dict())
    for key, va in a.state_dict().items():  # the same draws in the same order: bit for bit
        np.testing.assert_array_equal(va.numpy(), t.state_dict()[key].numpy(), err_msg=key)
    for attr in ("kernel_size", "stride", "padding", "dilation", "output_padding", "groups"):
        assert getattr(a, attr) == getattr(t, attr), attr
    assert a.transposed == t.transposed


def _batch_for(name: str, m: Any, unbatched: bool) -> np.ndarray:
    dims = int(name[-2])
    shape = (m.in_channels, *[7 - i for i in range(dims)])
    return np.random.default_rng(2).standard_normal(shape if unbatched else (2, *shape))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("unbatched", [False, True])
@pytest.mark.parametrize("name,args,kw", MODULES, ids=MODULE_IDS)
def test_module_forward_and_backward_match_torch(
    name: str, args: tuple, kw: dict, unbatched: bool
) -> None:
    t = getattr(torch.nn, name)(*args, **kw).double()
    a = getattr(nn, name)(*args, **kw).double()
    a.load_state_dict({k: adjit.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x = _batch_for(name, a, unbatched)
    xa, xt = adjit.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = a(xa), t(xt)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    (ya * ya).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    for (key, p), q in zip(a.named_parameters(), t.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, err_msg=key)


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
def test_compiled_module_stack_matches_eager(backend: str) -> None:
    model = nn.Sequential(
        nn.Conv3d(2, 4, 3, padding=1, padding_mode="replicate"),
        nn.ReLU(),
        nn.ConvTranspose3d(4, 3, 2, stride=2, groups=1),
    ).double()
    x = adjit.randn(2, 2, 3, 4, 4, dtype=adjit.float64)

    def run(fn: Any) -> list[np.ndarray]:
        model.zero_grad()
        y = fn(x)
        (y * y).sum().backward()
        return [y.detach().numpy()] + [p.grad.numpy() for p in model.parameters()]

    for c, e in zip(run(adjit.compile(model, backend=backend)), run(model), strict=True):
        np.testing.assert_allclose(c, e, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize(
    "name,args,kw,xs,size",
    [
        ("ConvTranspose1d", (3, 4, 3), {"stride": 3}, (2, 3, 5), [16]),
        ("ConvTranspose1d", (3, 4, 3), {"stride": 3}, (3, 5), (4, 17)),
        ("ConvTranspose2d", (3, 4, 3), {"stride": 2, "padding": 1}, (2, 3, 4, 5), (2, 4, 8, 10)),
        ("ConvTranspose3d", (3, 2, 2), {"stride": (2, 3, 2)}, (1, 3, 2, 3, 2), [5, 8, 4]),
    ],
)
def test_conv_transpose_output_size(name: str, args: tuple, kw: dict, xs: tuple, size: Any) -> None:
    t = getattr(torch.nn, name)(*args, **kw).double()
    a = getattr(nn, name)(*args, **kw).double()
    a.load_state_dict({k: adjit.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(3).standard_normal(xs)
    ya, yt = a(adjit.tensor(x), output_size=size), t(torch.tensor(x), output_size=size)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "name,args,kw,xs,size",
    [
        ("ConvTranspose1d", (3, 4, 3), {"stride": 3}, (2, 3, 5), [19]),
        ("ConvTranspose2d", (3, 4, 3), {}, (2, 3, 4, 5), [1, 2, 3]),
        ("ConvTranspose2d", (3, 4, 3), {"stride": 2}, (3, 4, 5), (3, 11)),
    ],
)
def test_conv_transpose_output_size_errors(
    name: str, args: tuple, kw: dict, xs: tuple, size: Any
) -> None:
    with pytest.raises(ValueError) as te:
        getattr(torch.nn, name)(*args, **kw)(torch.zeros(xs), output_size=size)
    with pytest.raises(ValueError) as ae:
        getattr(nn, name)(*args, **kw)(adjit.zeros(xs), output_size=size)
    assert str(ae.value) == str(te.value)


@pytest.mark.parametrize(
    "name,args,kw",
    [
        ("Conv1d", (3, 4, 3), {"groups": 2}),
        ("Conv3d", (4, 3, 3), {"groups": 2}),
        ("Conv3d", (4, 4, 3), {"padding": "same", "stride": 2}),
        ("Conv1d", (4, 4, 3), {"padding": "full"}),
        ("ConvTranspose2d", (4, 4, 3), {"padding_mode": "reflect"}),
        ("ConvTranspose3d", (4, 4, 3), {"groups": 0}),
    ],
)
def test_module_constructor_errors_match_torch(name: str, args: tuple, kw: dict) -> None:
    with pytest.raises(ValueError) as te:
        getattr(torch.nn, name)(*args, **kw)
    with pytest.raises(ValueError) as ae:
        getattr(nn, name)(*args, **kw)
    if kw.get("padding") == "full":  # PyTorch prints a set: its order is the string hash's
        assert "Invalid padding string 'full'" in str(ae.value)
    else:
        assert str(ae.value) == str(te.value)


# ---- errors --------------------------------------------------------------------------------
ERRORS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("conv1d", ((1, 3, 5), (4, 2, 3)), {}),
    ("conv1d", ((2, 1, 3, 5), (4, 3, 3)), {}),
    ("conv1d", ((1, 3, 5), (4, 3, 3, 3)), {}),
    ("conv1d", ((1, 3, 5), (4, 3, 7)), {}),
    ("conv1d", ((1, 3, 5), (4, 3, 3)), {"padding": (1, 1)}),
    ("conv1d", ((1, 3, 5), (4, 3, 3)), {"padding": "foo"}),
    ("conv1d", ((1, 3, 5), (4, 3, 3)), {"padding": "same", "stride": 2}),
    ("conv1d", ((1, 3, 5), (4, 3, 3)), {"padding": -1}),
    ("conv1d", ((1, 3, 5), (4, 3, 3)), {"dilation": 0}),
    ("conv1d", ((1, 3, 5), (4, 3, 3)), {"dilation": -1}),
    ("conv1d", ((1, 3, 5), (4, 3, 3)), {"groups": 0}),
    ("conv1d", ((1, 4, 5), (3, 2, 3)), {"groups": 2}),
    ("conv1d", ((2, 3, 5), (0, 3, 3)), {}),
    ("conv1d", ((1, 4, 5), (4, 2, 3), (3,)), {"groups": 2}),
    ("conv2d", ((1, 3, 5, 5), (4, 3, 3)), {}),
    ("conv2d", ((1, 3, 5, 5), (4, 3, 3, 3)), {"stride": (2, 2, 2)}),
    ("conv2d", ((1, 3, 5, 5), (4, 3, 3, 3)), {"dilation": 0}),
    ("conv3d", ((1, 3, 5, 5), (4, 3, 3, 3, 3)), {}),
    ("conv3d", ((1, 3, 5, 5, 5), (4, 3, 3, 3, 3)), {"stride": 0}),
    ("conv3d", ((1, 3, 5, 5, 5), (4, 3, 7, 3, 3)), {}),
    ("conv3d", ((1, 3, 5, 5, 5), (4, 3, 3, 3, 3)), {"padding": (1, 1)}),
    ("conv3d", ((1, 3, 5, 5, 5), (4, 3, 3, 3, 3)), {"dilation": 0}),
    ("conv_transpose1d", ((2, 1, 4, 5), (4, 2, 3)), {}),
    ("conv_transpose1d", ((3, 5), (3, 2, 3)), {"padding": -1}),
    ("conv_transpose1d", ((3, 5), (3, 2, 3)), {"output_padding": -1}),
    ("conv_transpose1d", ((1, 3, 5), (3, 2, 3)), {"stride": 0}),
    ("conv_transpose1d", ((1, 3, 5), (3, 2, 3)), {"dilation": 0}),
    ("conv_transpose1d", ((1, 3, 5), (3, 3, 3)), {"output_padding": 1}),
    ("conv_transpose1d", ((1, 4, 5), (4, 2, 3), (3,)), {"groups": 2}),
    ("conv_transpose1d", ((1, 4, 5), (4, 2, 3)), {"groups": 3}),
    ("conv_transpose1d", ((1, 3, 1), (3, 3, 1)), {"padding": 1, "stride": 3}),
    ("conv_transpose2d", ((1, 3, 5, 5), (4, 2, 3, 3)), {}),
    ("conv_transpose2d", ((1, 3, 5, 5), (3, 2, 3, 3)), {"output_padding": 2, "stride": 2}),
    ("conv_transpose2d", ((1, 3, 5, 5), (3, 2, 3, 3)), {"padding": 5}),
    ("conv_transpose2d", ((1, 3, 5, 5), (3, 3, 3, 3)), {"dilation": 0}),
    ("conv_transpose2d", ((1, 3, 5, 5), (3, 3, 3, 3)), {"groups": 0}),
    ("conv_transpose2d", ((1, 3, 5, 5), (3, 3, 3, 3)), {"output_padding": (1, 1, 1)}),
    ("conv_transpose3d", ((4, 5), (4, 2, 3, 3, 3)), {}),
    ("conv_transpose3d", ((1, 3, 5, 5, 5), (3, 3, 3, 3, 3)), {"dilation": 0}),
    ("conv_transpose3d", ((1, 3, 5, 5, 5), (3, 3, 3, 3, 3)), {"output_padding": 1}),
    ("conv_transpose3d", ((1, 3, 5, 5, 5), (3, 3, 3, 3, 3)), {"stride": (1, 1)}),
    ("conv_tbc", ((5, 2, 3), (3, 2, 4), (4,)), {}),
    ("conv_tbc", ((5, 2, 3), (3, 3, 4), (5,)), {}),
    ("conv_tbc", ((5, 2), (3, 3, 4), (4,)), {}),
    ("conv_tbc", ((5, 2, 3), (7, 3, 4), (4,)), {}),
]


@pytest.mark.parametrize("name,shapes,kw", ERRORS, ids=[f"{e[0]}-{e[1]}-{e[2]}" for e in ERRORS])
def test_errors_match_torch(name: str, shapes: tuple, kw: dict) -> None:
    with pytest.raises(Exception) as te:
        getattr(TF, name)(*[torch.zeros(s) for s in shapes], **kw)
    with pytest.raises(Exception) as ae:
        getattr(F, name)(*[adjit.zeros(s) for s in shapes], **kw)
    assert type(ae.value) is type(te.value)
    assert str(ae.value) == str(te.value)


@pytest.mark.parametrize(
    "name,dtypes",
    [
        ("conv1d", ("float64", "float32", None)),
        ("conv3d", ("float32", "float32", "float64")),
        ("conv2d", ("bool", "float32", None)),
        ("conv3d", ("bool", "bool", None)),
        ("conv_transpose1d", ("bool", "bool", None)),
        ("conv_transpose3d", ("bool", "float32", None)),
        ("conv_transpose2d", ("float32", "bool", None)),
    ],
)
def test_dtype_errors_match_torch(name: str, dtypes: tuple) -> None:
    dims = int(name[-2])
    shapes = ((1, 3, *[5] * dims), (3, 3, *[3] * dims), (3,))
    args_t = [
        None if d is None else torch.zeros(s, dtype=getattr(torch, d))
        for s, d in zip(shapes, dtypes, strict=True)
    ]
    args_a = [
        None if d is None else adjit.zeros(s, dtype=getattr(adjit, d))
        for s, d in zip(shapes, dtypes, strict=True)
    ]
    with pytest.raises(Exception) as te:
        getattr(TF, name)(*args_t)
    with pytest.raises(Exception) as ae:
        getattr(F, name)(*args_a)
    assert type(ae.value) is type(te.value)
    assert str(ae.value) == str(te.value)


def test_non_int_arguments_are_type_errors() -> None:
    x, w = adjit.zeros(1, 3, 5), adjit.zeros(4, 3, 3)
    with pytest.raises(TypeError, match="conv1d\\(\\): argument 'padding' must be tuple of ints"):
        F.conv1d(x, w, padding=1.5)
    with pytest.raises(TypeError, match="argument 'padding' must be tuple of ints, not str"):
        F.conv_transpose1d(x, adjit.zeros(3, 4, 3), padding="same")
    assert F.conv1d(x, w, stride=np.int64(2)).shape == (1, 4, 2)


CONVOLUTION = [
    ((2, 3, 7), (4, 3, 3), [2], [1], [1], False, [0], 1),
    ((2, 4, 5, 6), (4, 3, 3, 2), [2, 1], [1, 0], [1, 2], True, [1, 0], 2),
    ((1, 3, 4, 5, 5), (6, 1, 2, 3, 3), [1], [1], [2, 1, 1], False, [0], 3),
    ((1, 2, 3, 3, 4), (2, 2, 2, 2, 2), [2], [0], [1], True, [1], 1),
]


@pytest.mark.parametrize("row", CONVOLUTION, ids=str)
def test_torch_convolution_matches_torch(row: tuple) -> None:
    xs, ws, *args = row
    stride, padding, dilation, transposed, output_padding, groups = args
    out = (ws[1] * groups if transposed else ws[0],)
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in (xs, ws, out)]
    xa = [adjit.tensor(a, requires_grad=True) for a in arrays]
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ya, yt = adjit.convolution(*xa, *args), torch.convolution(*xt, *args)
    assert ya.grad_fn.name() == yt.grad_fn.name()
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    (ya * ya).sum().backward()
    (yt * yt).sum().backward()
    for a, t in zip(xa, xt, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-11, atol=1e-11)


def test_top_level_names_are_the_functional_ones() -> None:
    for name in ("conv1d", "conv2d", "conv3d", "conv_tbc", "conv_transpose1d"):
        assert getattr(adjit, name) is getattr(F, name)
    assert adjit.conv_transpose2d is F.conv_transpose2d
    assert adjit.conv_transpose3d is F.conv_transpose3d
    with pytest.raises(TypeError, match="argument 'stride' \\(position 4\\) must be tuple"):
        adjit.convolution(
            adjit.zeros(1, 3, 5), adjit.zeros(4, 3, 3), None, 1, [0], [1], False, [0], 1
        )
    with pytest.raises(RuntimeError, match="unsupported ConvNd parameters"):
        w = adjit.zeros(1, 1, 2, 2, 2, 2)
        adjit.convolution(adjit.zeros(1, 1, 3, 3, 3, 3), w, None, [1], [0], [1], False, [0], 1)


@pytest.mark.parametrize(
    "name,xs,ws,kw",
    [
        ("conv1d", (2, 3, 7), (4, 3, 3), {"stride": 2, "padding": 1}),
        ("conv3d", (1, 2, 4, 4, 4), (3, 2, 2, 2, 2), {"padding": 1}),
        ("conv_transpose2d", (1, 3, 4, 4), (3, 2, 3, 3), {"stride": 2, "output_padding": 1}),
    ],
)
def test_second_derivatives_match_torch(name: str, xs: tuple, ws: tuple, kw: dict) -> None:
    rng = np.random.default_rng(5)
    arrays = rng.standard_normal(xs), rng.standard_normal(ws)
    found = []
    for T in (adjit, torch):
        x, w = (T.tensor(a, requires_grad=True) for a in arrays)
        y = getattr(T.nn.functional, name)(x, w, **kw)
        gx, gw = T.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        found.append(T.autograd.grad((gx * gx).sum() + (gw**3).sum(), (x, w)))
    for a, t in zip(*found, strict=True):
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-10, atol=1e-10)
