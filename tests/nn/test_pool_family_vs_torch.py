"""The pooling family (1-3 d max/avg, adaptive, LP, unpool, fractional) next to PyTorch: values,
indices, gradients, grad_fn names, errors, compiled vs eager, module reprs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import adjit
import adjit.nn.functional as F
from adjit import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SHAPES = {1: (2, 3, 13), 2: (2, 3, 9, 8), 3: (2, 2, 6, 7, 5)}


def _input(nd: int, dtype: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    x = np.random.default_rng(nd).standard_normal(shape or SHAPES[nd]).astype(dtype)
    x[:, 0] = np.round(x[:, 0])  # a channel full of ties across overlapping windows
    return x


def _tol(dtype: Any) -> float:
    return 1e-6 if dtype == np.float32 else 1e-13


def _split(r: Any) -> tuple[Any, Any]:
    return (r[0], r[1]) if isinstance(r, tuple) else (r, None)


def _compare(fa: Any, ft: Any, x: np.ndarray, grad: bool = True) -> None:
    """Value, indices (exactly), grad_fn name and input gradient of ``fa`` against ``ft``."""
    xa = adjit.tensor(x, requires_grad=grad)
    xt = torch.tensor(x, requires_grad=grad)
    (ya, ia), (yt, it) = _split(fa(xa)), _split(ft(xt))
    tol = _tol(x.dtype)
    assert tuple(ya.shape) == tuple(yt.shape)
    assert ya.dtype.name == str(yt.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    if it is not None:
        assert ia.dtype == adjit.int64
        np.testing.assert_array_equal(ia.numpy(), it.numpy())
    if not grad:
        return
    assert ya.grad_fn.name() == yt.grad_fn.name()
    g = np.random.default_rng(7).standard_normal(tuple(yt.shape)).astype(x.dtype)
    ya.backward(adjit.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


def _both(name: str, *args: Any, **kw: Any) -> tuple[Any, Any]:
    """``name`` of adjit's and of PyTorch's nn.functional, with the same arguments."""
    fa, ft = getattr(F, name), getattr(TF, name)
    return (lambda a: fa(a, *args, **kw)), (lambda t: ft(t, *args, **kw))


# ---- max pooling --------------------------------------------------------------------------------
MAX_TABLE = [
    (1, {"kernel_size": 3}),
    (1, {"kernel_size": 3, "stride": 2, "padding": 1}),
    (1, {"kernel_size": 2, "stride": 1, "dilation": 3, "ceil_mode": True}),
    (1, {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True}),
    (2, {"kernel_size": 3, "stride": 1, "padding": 1}),
    (2, {"kernel_size": (2, 4), "stride": (1, 3), "padding": (1, 2), "ceil_mode": True}),
    (3, {"kernel_size": 2}),
    (3, {"kernel_size": 3, "stride": 2, "padding": 1}),
    (3, {"kernel_size": 3, "stride": 1, "padding": 1}),  # overlapping windows
    (3, {"kernel_size": (2, 3, 2), "stride": (1, 2, 3), "padding": (1, 1, 0), "dilation": 2}),
    (3, {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}),
    (3, {"kernel_size": (3, 2, 3), "stride": 2, "dilation": (1, 2, 1), "ceil_mode": True}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,kw", MAX_TABLE, ids=str)
def test_max_pool(nd: int, kw: dict[str, Any], dtype: Any) -> None:
    name = f"max_pool{nd}d"
    _compare(*_both(name, return_indices=True, **kw), _input(nd, dtype))
    _compare(*_both(name, **kw), _input(nd, dtype))
    fa, ft = _both(f"{name}_with_indices", **kw)
    _compare(fa, ft, _input(nd, dtype))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_nan_inf_and_unbatched(nd: int) -> None:
    """PyTorch's loop: ``val > max || isnan(val)`` - the last NaN of a window wins; a window of
    -inf (and padding) picks its first element inside the input."""
    x = _input(nd, np.float64)
    flat = x.reshape(-1)
    flat[::7] = np.nan
    flat[3::11] = -np.inf
    kw = {"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True}
    _compare(*_both(f"max_pool{nd}d", **kw), x)
    neg = np.full(SHAPES[nd], -np.inf)
    _compare(*_both(f"max_pool{nd}d", **kw), neg, grad=False)
    _compare(*_both(f"max_pool{nd}d", **kw), _input(nd, np.float64)[0])  # unbatched


@pytest.mark.parametrize(
    "nd,shape,kw",
    [
        (2, (1, 6, 1), {"kernel_size": (3, 2), "stride": 1, "padding": (0, 1), "dilation": (1, 2)}),
        (3, (2, 1, 3, 1, 4), {"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 2}),
    ],
    ids=str,
)
def test_max_pool_windows_without_input_elements(nd: int, shape: tuple, kw: dict[str, Any]) -> None:
    """Dilated windows may hold only padding: PyTorch gives -inf, an index where its loop
    starts past the padding (another row's element) and sends the gradient there."""
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    _compare(*_both(f"max_pool{nd}d", return_indices=True, **kw), x)
    _compare(*_both(f"max_pool{nd}d", return_indices=True, **kw), x.astype(np.int64), grad=False)


def test_max_pool_window_without_input_elements_indexed_beyond_the_plane() -> None:
    """PyTorch's index of this empty window is past the plane: its backward writes into the
    next plane's memory (or past the tensor for the last one). The same value and index here,
    and no gradient from it."""
    kw = {"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 2, "return_indices": True}
    _compare(*_both("max_pool1d", **kw), np.ones((1, 2, 1)), grad=False)
    x = adjit.ones(1, 2, 1, requires_grad=True)
    F.max_pool1d(x, **kw)[0].sum().backward()
    assert not x.grad.numpy().any()


@pytest.mark.parametrize("nd", [2, 3])
def test_max_pool_integers(nd: int) -> None:
    x = np.random.default_rng(3).integers(-50, 0, SHAPES[nd])
    fa, ft = _both(f"max_pool{nd}d", 3, 2, 1, return_indices=True)
    _compare(fa, ft, x, grad=False)


# ---- average pooling ----------------------------------------------------------------------------
AVG_TABLE = [
    (1, {"kernel_size": 3}),
    (1, {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    (1, {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True}),
    (2, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    (3, {"kernel_size": 2}),
    (3, {"kernel_size": 3, "stride": 2, "padding": 1}),
    (3, {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    (3, {"kernel_size": (2, 3, 2), "stride": (1, 2, 3), "padding": (1, 1, 0), "ceil_mode": True}),
    (3, {"kernel_size": 2, "ceil_mode": True, "count_include_pad": False}),
    (3, {"kernel_size": 3, "stride": 1, "padding": 1, "divisor_override": 5}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,kw", AVG_TABLE, ids=str)
def test_avg_pool(nd: int, kw: dict[str, Any], dtype: Any) -> None:
    _compare(*_both(f"avg_pool{nd}d", **kw), _input(nd, dtype))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_avg_pool_integers_truncate_and_unbatched(nd: int) -> None:
    x = np.random.default_rng(4).integers(-50, 50, SHAPES[nd])
    _compare(*_both(f"avg_pool{nd}d", 3, 2, 1), x, grad=False)
    _compare(*_both(f"avg_pool{nd}d", 2, 1), _input(nd, np.float64)[0])


# ---- adaptive pooling ---------------------------------------------------------------------------
ADAPTIVE_TABLE = [
    (1, 1),
    (1, 5),
    (1, 13),
    (1, 20),  # larger than the input: overlapping windows of one element
    (2, (4, 3)),
    (2, (None, 5)),
    (2, 1),
    (3, 1),
    (3, (1, 1, 1)),
    (3, 2),
    (3, (4, 5, 3)),
    (3, (None, 3, 7)),
    (3, (4, 9, 2)),
    (2, (3, 4)),  # sizes that divide: fixed disjoint windows (one UNFOLD)
    (3, (3, 7, 5)),
    (3, (2, 7, 1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,size", ADAPTIVE_TABLE, ids=str)
def test_adaptive_pool(nd: int, size: Any, dtype: Any) -> None:
    x = _input(nd, dtype)
    _compare(*_both(f"adaptive_avg_pool{nd}d", size), x)
    _compare(*_both(f"adaptive_max_pool{nd}d", size, True), x)
    _compare(*_both(f"adaptive_max_pool{nd}d_with_indices", size), x)
    _compare(*_both(f"adaptive_max_pool{nd}d", size), x[0])  # unbatched


def test_adaptive_max_nan_and_empty_output() -> None:
    x = _input(2, np.float64)
    x.reshape(-1)[::5] = np.nan
    _compare(*_both("adaptive_max_pool2d", (4, 3), True), x)
    x[0, 0, 0, 0] = np.inf  # an infinity stays in its windows (no 0 * inf elsewhere)
    _compare(*_both("adaptive_avg_pool2d", (4, 3)), x)
    _compare(*_both("adaptive_avg_pool3d", (2, 4, 3)), x)
    _compare(*_both("adaptive_max_pool2d", (0, 2), True), x, grad=False)  # (PyTorch: no grad)
    _compare(*_both("adaptive_avg_pool3d", 0), _input(3, np.float64), grad=False)


# ---- LP pooling ---------------------------------------------------------------------------------
LP_TABLE = [
    (1, 2, {"kernel_size": 3}),
    (1, 3, {"kernel_size": 2, "stride": 1, "ceil_mode": True}),
    (2, 2, {"kernel_size": 3, "stride": 2}),
    (2, 1.5, {"kernel_size": (2, 3), "ceil_mode": True}),
    (2, float("inf"), {"kernel_size": 2}),
    (3, 2, {"kernel_size": 2}),
    (3, 4, {"kernel_size": (3, 2, 2), "stride": (1, 2, 1)}),
    (3, -float("inf"), {"kernel_size": 2}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,p,kw", LP_TABLE, ids=str)
def test_lp_pool(nd: int, p: float, kw: dict[str, Any], dtype: Any) -> None:
    x = np.abs(_input(nd, dtype)) + 0.5  # fractional powers of negatives are NaN in both
    _compare(*_both(f"lp_pool{nd}d", p, **kw), x)


# ---- max unpooling ------------------------------------------------------------------------------
UNPOOL_TABLE = [
    (1, {"kernel_size": 2}, None, (2, 3, 12)),
    (1, {"kernel_size": 3, "stride": 2, "padding": 1}, None, (2, 3, 11)),  # repeated indices
    (2, {"kernel_size": 2}, None, (2, 3, 8, 8)),
    (2, {"kernel_size": 3, "stride": 2}, (9, 9), (2, 3, 9, 9)),
    (2, {"kernel_size": 3, "stride": 1, "padding": 1}, None, (2, 3, 5, 6)),
    (3, {"kernel_size": 2}, None, (2, 2, 4, 6, 6)),
    (3, {"kernel_size": 3, "stride": 2, "padding": 1}, (1, 2, 5, 6, 7), (1, 2, 5, 6, 7)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,kw,size,shape", UNPOOL_TABLE, ids=str)
def test_max_unpool(nd: int, kw: dict[str, Any], size: Any, shape: tuple, dtype: Any) -> None:
    x = _input(nd, dtype, shape)
    y, i = getattr(TF, f"max_pool{nd}d")(torch.tensor(x), return_indices=True, **kw)
    ia = adjit.tensor(i.numpy())
    name = f"max_unpool{nd}d"
    _compare(
        lambda a: getattr(F, name)(a, ia, output_size=size, **kw),
        lambda t: getattr(TF, name)(t, i, output_size=size, **kw),
        y.numpy(),
    )
    _compare(  # unbatched
        lambda a: getattr(F, name)(a, ia[0], output_size=size, **kw),
        lambda t: getattr(TF, name)(t, i[0], output_size=size, **kw),
        y.numpy()[0],
    )


def test_max_unpool_repeated_indices_last_write_wins() -> None:
    """Repeated indices: PyTorch's loop is a race between its threads (documented as
    nondeterministic); on one thread, as here, the last write wins. Every input element still
    takes the gradient at its index."""
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    i = np.array([[[[0, 0], [0, 1]]]])
    fa = lambda a: F.max_unpool2d(a, adjit.tensor(i), 2)  # noqa: E731
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _compare(fa, lambda t: TF.max_unpool2d(t, torch.tensor(i), 2), x)
    finally:
        torch.set_num_threads(threads)


# ---- fractional max pooling ---------------------------------------------------------------------
FRACTIONAL_TABLE = [
    (2, 2, {"output_size": (4, 5)}),
    (2, 3, {"output_size": 6}),
    (2, (2, 3), {"output_ratio": (0.5, 0.5)}),
    (2, 2, {"output_size": (1, 7)}),
    (3, 2, {"output_size": (3, 4, 3)}),
    (3, (1, 2, 3), {"output_ratio": (0.5, 0.6, 0.4)}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,k,kw", FRACTIONAL_TABLE, ids=str)
def test_fractional_max_pool(nd: int, k: Any, kw: dict[str, Any], dtype: Any) -> None:
    x = _input(nd, dtype)
    u = np.random.default_rng(5).random((x.shape[0], x.shape[1], nd)).astype(dtype)
    name = f"fractional_max_pool{nd}d"
    fa, ft = getattr(F, name), getattr(TF, name)
    _compare(
        lambda a: fa(a, k, return_indices=True, _random_samples=adjit.tensor(u), **kw),
        lambda t: ft(t, k, return_indices=True, _random_samples=torch.tensor(u), **kw),
        x,
    )
    # without samples both draw torch.rand(N, C, nd) from the (identical) global generator
    adjit.manual_seed(11)
    torch.manual_seed(11)
    _compare(*_both(f"{name}_with_indices", k, **kw), x)
    adjit.manual_seed(12)
    torch.manual_seed(12)
    _compare(*_both(name, k, **kw), x[0])  # unbatched: samples (1, C, nd)


# ---- gradients against finite differences, compiled against eager ----------------------------
def test_pool_family_finite_differences() -> None:
    gradcheck = adjit.autograd.gradcheck
    x3 = adjit.tensor(_input(3, np.float64, (1, 2, 4, 5, 4)), requires_grad=True)
    x1 = adjit.tensor(_input(1, np.float64, (2, 2, 9)), requires_grad=True)
    for x in (x1, x3):  # no ties (a tie's one-sided derivatives differ)
        x.data.add_(adjit.tensor(np.linspace(0, 0.1, x.numel()).reshape(x.shape)))
    assert gradcheck(lambda a: F.max_pool3d(a, 3, 2, 1), (x3,))
    assert gradcheck(lambda a: F.avg_pool3d(a, 3, 2, 1, count_include_pad=False), (x3,))
    assert gradcheck(lambda a: F.adaptive_avg_pool3d(a, (3, 2, 3)), (x3,))
    assert gradcheck(lambda a: F.adaptive_max_pool3d(a, (3, 4, 3)), (x3,))
    assert gradcheck(lambda a: F.lp_pool1d(a.abs() + 1, 3, 2), (x1,))
    assert gradcheck(lambda a: F.adaptive_max_pool1d(a, 6), (x1,))


def _compiled_rows() -> list[tuple[str, Any, tuple[int, ...]]]:
    u2 = adjit.tensor(np.random.default_rng(6).random((2, 3, 2)))

    def unpool(a: adjit.Tensor) -> adjit.Tensor:
        return F.max_unpool2d(*F.max_pool2d(a, 3, 2, 1, return_indices=True), 3, 2, 1, (9, 8))

    return [
        ("max_pool1d", lambda a: F.max_pool1d(a, 3, 2, 1, ceil_mode=True), SHAPES[1]),
        ("max_pool3d", lambda a: F.max_pool3d(a, 3, 2, 1, ceil_mode=True), SHAPES[3]),
        ("avg_pool3d", lambda a: F.avg_pool3d(a, 3, 2, 1, count_include_pad=False), SHAPES[3]),
        ("avg_pool1d", lambda a: F.avg_pool1d(a, 3, 2, 1), SHAPES[1]),
        ("adaptive_avg_pool3d", lambda a: F.adaptive_avg_pool3d(a, (4, 5, 3)), SHAPES[3]),
        ("adaptive_max_pool3d", lambda a: F.adaptive_max_pool3d(a, (4, 5, 3)), SHAPES[3]),
        ("adaptive_max_pool1d", lambda a: F.adaptive_max_pool1d(a, 5), SHAPES[1]),
        ("lp_pool2d", lambda a: F.lp_pool2d(a, 2, 3, 2), SHAPES[2]),
        ("fractional", lambda a: F.fractional_max_pool2d(a, 2, 5, _random_samples=u2), SHAPES[2]),
        ("max_unpool2d", unpool, SHAPES[2]),
        ("adaptive_avg_pool2d fixed", lambda a: F.adaptive_avg_pool2d(a, (3, 4)), SHAPES[2]),
        ("adaptive_max_pool3d fixed", lambda a: F.adaptive_max_pool3d(a, (3, 7, 5)), SHAPES[3]),
    ]


@pytest.mark.parametrize("row", range(12))
def test_compiled_matches_eager(row: int) -> None:
    _, fn, shape = _compiled_rows()[row]
    x = adjit.tensor(_input(len(shape) - 2, np.float64, shape), requires_grad=True)
    outs = []
    for f in (fn, adjit.compile(fn)):
        x.grad = None
        y = f(x)
        (y * y).sum().backward()
        outs.append((y.detach().numpy(), x.grad.numpy()))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_compiled_indices_match_eager() -> None:
    x = adjit.tensor(_input(3, np.float64))

    def fn(a: adjit.Tensor) -> tuple[adjit.Tensor, adjit.Tensor]:
        _, i = F.max_pool3d(a, 3, 2, 1, return_indices=True)
        return i, F.adaptive_max_pool3d(a, 3, True)[1]

    for e, c in zip(fn(x), adjit.compile(fn)(x), strict=True):
        np.testing.assert_array_equal(e.numpy(), c.numpy())


# ---- errors -------------------------------------------------------------------------------------
ERROR_TABLE = [
    ("max_pool1d", (2, 3, 9), (3,), {"padding": 2}),
    ("max_pool1d", (2, 3, 9), (10,), {}),
    ("max_pool1d", (9,), (3,), {}),
    ("max_pool1d", (2, 3, 9), (3,), {"padding": 2, "return_indices": True}),
    ("max_pool1d", (2, 3, 9), (10,), {"return_indices": True}),
    ("max_pool1d", (2, 3, 9, 9), (3,), {"return_indices": True}),
    ("max_pool1d", (2, 3, 9), (3,), {"stride": 0}),
    ("max_pool1d", (2, 0, 9), (3,), {"return_indices": True}),
    ("max_pool2d", (2, 3, 9, 9), (3,), {"padding": 2, "dilation": 2}),
    ("max_pool2d", (2, 3, 9, 9), (3,), {"padding": 3, "dilation": 2}),
    ("max_pool2d", (2, 3, 9, 9), (0, 1), {}),
    ("max_pool2d", (2, 3, 9, 9), (2, -1), {}),
    ("max_pool2d", (2, 3, 9, 9), (3,), {"padding": -1}),
    ("max_pool2d", (2, 3, 9, 9), ((2, 2, 2),), {}),
    ("max_pool2d", (2, 3, 9, 9), (3, (1, 1, 1)), {}),
    ("max_pool2d", (2, 3, 9, 9), (2.5,), {}),
    ("max_pool2d", (2, 3, 9, 9), (True,), {}),
    ("max_pool2d", (2, 3, 9, 9), ((2, 2.0),), {}),
    ("max_pool2d", (2, 3, 9, 9), (2, 1.5), {}),
    ("max_pool3d", (2, 3, 5, 6, 7), ("a",), {}),
    ("avg_pool3d", (2, 3, 5, 6, 7), (2.0,), {}),
    ("max_pool1d", (2, 3, 9), (2.5,), {}),
    ("avg_pool1d", (2, 3, 9), (2.5,), {}),
    ("adaptive_max_pool2d", (2, 3, 9, 9), (2.5,), {}),
    ("max_pool3d", (2, 3, 5, 6, 7), (3,), {"padding": 2}),
    ("max_pool3d", (2, 3, 5, 6, 7), (3,), {"padding": 2, "dilation": 2}),
    ("max_pool3d", (2, 3, 5, 6, 7), ((3, 3, 1),), {"padding": (1, 1, 1)}),
    ("max_pool3d", (2, 3, 5, 6, 7), (6,), {}),
    ("max_pool3d", (3, 9, 9), (2,), {}),
    ("max_pool3d", (2, 3, 5, 6, 7), ((2, 2),), {}),
    ("max_pool3d", (2, 3, 5, 6, 7), (2, (1, 1)), {}),
    ("max_pool3d", (2, 3, 5, 6, 7), (2, 1, (1, 1)), {}),
    ("max_pool3d", (2, 3, 5, 6, 7), (2, 1, 0, (1, 1)), {}),
    ("max_pool3d", (2, 3, 5, 6, 7), (2, 0), {}),
    ("max_pool3d", (2, 3, 5, 6, 7), (0, 1), {}),
    ("max_pool3d", (2, 3, 5, 6, 7), (3, 1, 0, -1), {}),
    ("max_pool3d", (2, 0, 4, 4, 4), (2,), {}),
    ("avg_pool1d", (2, 3, 9, 9), (2,), {}),
    ("avg_pool1d", (2, 3, 9), (10,), {}),
    ("avg_pool1d", (2, 3, 9), (2, (1, 1)), {}),
    ("avg_pool2d", (2, 3, 5, 6, 7), (2,), {}),
    ("avg_pool2d", (2, 3, 9, 9), (2,), {"divisor_override": 0}),
    ("avg_pool3d", (2, 3, 5, 6, 7), (6,), {}),
    ("avg_pool3d", (2, 3, 5, 6, 7), (6,), {"padding": 3}),
    ("avg_pool3d", (2, 3, 5, 6, 7), ((2, 2),), {}),
    ("avg_pool3d", (2, 3, 5, 6, 7), (3, (3, 3)), {}),
    ("avg_pool3d", (2, 3, 5, 6, 7), (3, 3, (1, 1)), {}),
    ("avg_pool3d", (2, 3, 5, 6, 7), (3,), {"padding": -1}),
    ("avg_pool3d", (2, 3, 5, 6, 7), (2,), {"divisor_override": 0}),
    ("avg_pool3d", (2, 0, 4, 4, 4), (2,), {}),
    ("avg_pool3d", (3, 3), (2,), {}),
    ("adaptive_avg_pool1d", (2, 3, 9, 9), (2,), {}),
    ("adaptive_avg_pool1d", (2, 3, 9), ((2, 2),), {}),
    ("adaptive_avg_pool2d", (3, 4), (2,), {}),
    ("adaptive_avg_pool2d", (2, 3, 0, 4), (2,), {}),
    ("adaptive_avg_pool2d", (2, 3, 9, 9), ((2, 2, 2),), {}),
    ("adaptive_avg_pool3d", (3, 9, 9), (2,), {}),
    ("adaptive_avg_pool3d", (2, 3, 5, 6, 7), ((2, 2),), {}),
    ("adaptive_avg_pool3d", (2, 3, 5, 6, 7), (-1,), {}),
    ("adaptive_avg_pool3d", (3,), (-1,), {}),
    ("adaptive_avg_pool2d", (2, 3, 4, 4), ((2, -1),), {}),
    ("adaptive_avg_pool1d", (2, 3, 4), (-1,), {}),
    ("adaptive_avg_pool2d", (3,), (1,), {}),
    ("adaptive_avg_pool2d", (3, 4), ((1, None),), {}),
    ("adaptive_max_pool2d", (3, 4), ((1, None),), {}),
    ("avg_pool2d", (3,), (2,), {}),
    ("avg_pool2d", (), (2,), {}),
    ("adaptive_max_pool1d", (2, 3, 9, 9), (2,), {}),
    ("adaptive_max_pool1d", (2, 3, 9), ((2, 2),), {}),
    ("adaptive_max_pool2d", (3, 9), (2,), {}),
    ("adaptive_max_pool2d", (2, 3, 9, 9), ((2, 2, 2),), {}),
    ("adaptive_max_pool2d", (2, 3, 9, 9), (-1,), {}),
    ("adaptive_max_pool3d", (3, 9, 9), (2,), {}),
    ("adaptive_max_pool3d", (2, 3, 0, 4, 4), (2,), {}),
    ("adaptive_max_pool3d", (2, 3, 5, 6, 7), ((2, 2),), {}),
    ("fractional_max_pool2d", (2, 3, 9, 9), (5,), {"output_size": 6}),
    ("fractional_max_pool2d", (2, 3, 9, 9), (2,), {"output_size": 9}),
    ("fractional_max_pool2d", (2, 3, 5, 6, 7), (2,), {"output_size": 3}),
    ("fractional_max_pool2d", (2, 3, 9, 9), (2,), {}),
    ("fractional_max_pool2d", (2, 3, 9, 9), (2,), {"output_ratio": (0.5, 0.6, 0.1)}),
    ("fractional_max_pool2d", (2, 3, 9, 9), (2,), {"output_ratio": 0.5}),
    ("fractional_max_pool3d", (2, 3, 5, 6, 7), (3,), {"output_size": 4}),
    ("fractional_max_pool3d", (1, 1, 5, 5, 5), (1,), {"output_size": 5}),
    ("fractional_max_pool3d", (1, 1, 9, 9, 4), (2,), {"output_size": (3, 4, 3)}),
    ("fractional_max_pool2d", (1, 1, 9, 4), (2,), {"output_size": (3, 4)}),
    ("fractional_max_pool2d", (1, 1, 4, 4), (2,), {"output_size": (4, 4)}),
]


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("name,shape,args,kw", ERROR_TABLE, ids=str)
def test_errors_as_pytorch(
    name: str, shape: tuple, args: tuple, kw: dict[str, Any], grad: bool
) -> None:
    with pytest.raises(Exception) as te:
        getattr(TF, name)(torch.zeros(shape, requires_grad=grad), *args, **kw)
    with pytest.raises(Exception) as ae:
        getattr(F, name)(adjit.zeros(shape, requires_grad=grad), *args, **kw)
    assert type(ae.value) is type(te.value)
    assert str(ae.value) == str(te.value)


def test_unpool_and_samples_errors_as_pytorch() -> None:
    def same(fa: Any, ft: Any) -> None:
        with pytest.raises(Exception) as te:
            ft()
        with pytest.raises(Exception) as ae:
            fa()
        assert (type(ae.value), str(ae.value)) == (type(te.value), str(te.value))

    x, i = np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), np.int64)
    for size in [(7, 7), (1, 2, 3)]:
        same(
            lambda s=size: F.max_unpool2d(adjit.tensor(x), adjit.tensor(i), 2, output_size=s),
            lambda s=size: TF.max_unpool2d(torch.tensor(x), torch.tensor(i), 2, output_size=s),
        )
    bad = np.array([[[[0, 9], [-1, 2]]]])
    same(
        lambda: F.max_unpool2d(adjit.tensor(x), adjit.tensor(bad), 2),
        lambda: TF.max_unpool2d(torch.tensor(x), torch.tensor(bad), 2),
    )
    same(
        lambda: F.max_unpool1d(adjit.zeros(1, 1, 2), adjit.tensor([[[0, 9]]]), 2),
        lambda: TF.max_unpool1d(torch.zeros(1, 1, 2), torch.tensor([[[0, 9]]]), 2),
    )
    same(
        lambda: F.max_unpool2d(adjit.tensor(x), adjit.tensor(i[..., :1]), 2),
        lambda: TF.max_unpool2d(torch.tensor(x), torch.tensor(i[..., :1]), 2),
    )
    same(
        lambda: F.max_unpool2d(adjit.tensor(x), adjit.tensor(i).int(), 2),
        lambda: TF.max_unpool2d(torch.tensor(x), torch.tensor(i).int(), 2),
    )
    xs = np.zeros((2, 3, 9, 9), np.float32)
    for u in [np.random.rand(2, 3, 3), np.random.rand(1, 3, 2), np.random.rand(2, 3, 2)]:
        same(
            lambda u=u: F.fractional_max_pool2d(
                adjit.tensor(xs), 2, 3, _random_samples=adjit.tensor(u)
            ),
            lambda u=u: TF.fractional_max_pool2d(
                torch.tensor(xs), 2, 3, _random_samples=torch.tensor(u)
            ),
        )


@pytest.mark.parametrize(
    "name,dtype",
    [
        ("max_pool2d", "bool"),
        ("max_pool3d", "bool"),
        ("avg_pool2d", "bool"),
        ("max_pool1d", "int64"),
    ]
    + [("adaptive_max_pool2d", "int64"), ("adaptive_avg_pool2d", "int64")]
    + [("adaptive_max_pool3d", "int64"), ("adaptive_avg_pool3d", "int64")],
)
def test_dtype_refusals_as_pytorch(name: str, dtype: str) -> None:
    nd = 3 if name.endswith("3d") else 2 if name.endswith("2d") else 1
    shape = SHAPES[nd]
    with pytest.raises(NotImplementedError) as te:
        getattr(TF, name)(torch.ones(shape, dtype=getattr(torch, dtype)), 2)
    with pytest.raises(NotImplementedError) as ae:
        getattr(F, name)(adjit.ones(shape, dtype=getattr(adjit, dtype)), 2)
    assert str(ae.value) == str(te.value)


# ---- modules ------------------------------------------------------------------------------------
MODULES = [
    ("MaxPool1d", (3,), {}),
    ("MaxPool1d", (3, 2, 1, 2, True, True), {}),
    ("MaxPool3d", (2,), {}),
    ("MaxPool3d", ((2, 3, 1), 1), {}),
    ("AvgPool1d", (3,), {}),
    ("AvgPool1d", (3, 2, 1, True, False), {}),
    ("AvgPool3d", (2,), {}),
    ("AvgPool3d", (3, 2, 1, True, False, 2), {}),
    ("AdaptiveAvgPool1d", (3,), {}),
    ("AdaptiveAvgPool3d", ((2, None, 3),), {}),
    ("AdaptiveMaxPool1d", (3,), {}),
    ("AdaptiveMaxPool2d", ((2, None), True), {}),
    ("AdaptiveMaxPool3d", (2,), {}),
    ("MaxUnpool1d", (2,), {}),
    ("MaxUnpool2d", (3, 2, 1), {}),
    ("MaxUnpool3d", (2,), {}),
    ("LPPool1d", (2, 3), {}),
    ("LPPool2d", (1.5, 3, 2, True), {}),
    ("LPPool3d", (2, 2), {}),
    ("FractionalMaxPool2d", (3,), {"output_size": 5}),
    ("FractionalMaxPool2d", (2,), {"output_ratio": 0.5, "return_indices": True}),
    ("FractionalMaxPool3d", (2,), {"output_size": (3, 3, 3)}),
]


@pytest.mark.parametrize("cls,args,kw", MODULES, ids=str)
def test_module_repr_and_attributes(cls: str, args: tuple, kw: dict[str, Any]) -> None:
    ma, mt = getattr(nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(ma) == repr(mt)
    for attr in ("kernel_size", "stride", "padding", "output_size", "output_ratio", "norm_type"):
        assert getattr(ma, attr, None) == getattr(mt, attr, None)
    assert list(ma.state_dict()) == list(mt.state_dict())


@pytest.mark.parametrize("cls,args,kw", [r for r in MODULES if "Unpool" not in r[0]], ids=str)
def test_module_forward(cls: str, args: tuple, kw: dict[str, Any]) -> None:
    nd = 3 if cls.endswith("3d") else 2 if cls.endswith("2d") else 1
    x = np.abs(_input(nd, np.float64, (2, 3, 9, 10, 9)[: nd + 2])) + 0.1
    adjit.manual_seed(3)
    torch.manual_seed(3)
    _compare(getattr(nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw), x)


def test_max_unpool_module_inverts_max_pool() -> None:
    x = _input(2, np.float64, (2, 3, 8, 8))
    pa, pt = nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True)
    ua, ut = nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    _compare(lambda a: ua(*pa(a)), lambda t: ut(*pt(t)), x)


def test_fractional_module_errors_as_pytorch() -> None:
    for args, kw in [
        ((2,), {}),
        ((2,), {"output_size": 3, "output_ratio": 0.5}),
        ((2,), {"output_ratio": 1.5}),
    ]:
        for cls in ("FractionalMaxPool2d", "FractionalMaxPool3d"):
            with pytest.raises(ValueError) as te:
                getattr(torch.nn, cls)(*args, **kw)
            with pytest.raises(ValueError) as ae:
                getattr(nn, cls)(*args, **kw)
            assert str(ae.value) == str(te.value)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
@pytest.mark.parametrize(
    "name,shape", [("adaptive_avg_pool2d", (3, 4)), ("adaptive_avg_pool1d", (2, 3))]
)
def test_adaptive_avg_to_one_is_a_mean_as_pytorch(name: str, shape: tuple, dtype: str) -> None:
    """An all-ones output_size is PyTorch's ``mean`` shortcut, before any pooling check: a 2-D
    input runs, an empty one gives NaN, integers fail as mean does."""
    _compare(*_both(name, 1), np.zeros((0, 4)), grad=False)
    if name.endswith("2d"):
        _compare(*_both(name, 1), _input(1, np.float64, shape))
    with pytest.raises(RuntimeError) as te:
        getattr(TF, name)(torch.ones(shape, dtype=getattr(torch, dtype)), 1)
    with pytest.raises(RuntimeError) as ae:
        getattr(F, name)(adjit.ones(shape, dtype=getattr(adjit, dtype)), 1)
    assert str(ae.value) == str(te.value)


REDUCED_TABLE = [
    ("max_pool1d", (3, 2, 1)),
    ("max_pool2d", (3, 2, 1)),
    ("max_pool3d", (2,)),
    ("avg_pool1d", (3, 2, 1)),
    ("avg_pool2d", (3, 2, 1)),
    ("adaptive_avg_pool2d", ((4, 3),)),
    ("adaptive_avg_pool3d", ((2, 4, 3),)),
    ("adaptive_max_pool2d", ((4, 3),)),
    ("adaptive_max_pool3d", ((2, 4, 3),)),
    ("adaptive_avg_pool2d", ((3, 4),)),
    ("adaptive_avg_pool3d", ((3, 7, 5),)),
    ("lp_pool2d", (2, 2)),
]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name,args", REDUCED_TABLE, ids=str)
def test_reduced_floats_bit_for_bit(name: str, args: tuple, dtype: str) -> None:
    """float16/bfloat16: PyTorch's 2-d averages sum in float32 and round once, its 3-d adaptive
    average adds in the input's dtype: the same bits. Gradients too, but where PyTorch's
    backward rounds each of a few overlapping contributions (adaptive windows) or chains
    reduced-precision steps (LP: pow's backward), one rounding per step: a few ulp."""
    nd = int(name[-2])
    x = _input(nd, np.float64)
    xa = adjit.tensor(x).to(getattr(adjit, dtype)).requires_grad_()
    xt = torch.tensor(x).to(getattr(torch, dtype)).requires_grad_()
    ya, yt = getattr(F, name)(xa, *args), getattr(TF, name)(xt, *args)
    np.testing.assert_array_equal(ya.float().detach().numpy(), yt.float().detach().numpy())
    ya.sum().backward()
    yt.sum().backward()
    ga, gt = xa.grad.float().numpy(), xt.grad.float().numpy()
    if name.startswith(("adaptive_avg", "lp")):
        eps = float(torch.finfo(getattr(torch, dtype)).eps)
        np.testing.assert_allclose(ga, gt, rtol=4 * eps, atol=4 * eps * np.abs(gt).max())
    else:
        np.testing.assert_array_equal(ga, gt)


@pytest.mark.parametrize(
    "name,nd,args",
    [
        ("max_pool1d", 1, (3, 2, 1)),
        ("max_pool1d_with_indices", 1, (3, 2, 1)),
        ("max_pool2d", 2, (3, (), 1)),
        ("max_pool3d", 3, (2,)),
        ("avg_pool1d", 1, (3, 2, 1, True, False)),
        ("adaptive_avg_pool1d", 1, (5,)),
        ("adaptive_max_pool1d", 1, (5,)),
    ],
)
def test_torch_namespace_pooling(name: str, nd: int, args: tuple) -> None:
    """The pooling functions PyTorch also binds as ``torch.*``, with its signatures."""
    fa, ft = getattr(adjit, name), getattr(torch, name)
    _compare(lambda a: fa(a, *args), lambda t: ft(t, *args), _input(nd, np.float64))


def test_numpy_integer_sizes_as_pytorch() -> None:
    x = _input(2, np.float64)
    _compare(*_both("max_pool2d", np.int64(2), (np.int32(2), 1)), x)
    _compare(*_both("avg_pool2d", (np.int64(3), 2), padding=np.int64(1)), x)


@pytest.mark.parametrize(
    "name,args",
    [
        ("max_pool3d", (2,)),
        ("avg_pool3d", (3, 2, 1)),
        ("adaptive_max_pool3d", ((4, 3, 2),)),
        ("adaptive_avg_pool3d", ((4, 3, 2),)),
        ("lp_pool3d", (2, 2)),
    ],
)
def test_second_derivatives(name: str, args: tuple) -> None:
    x = np.abs(_input(3, np.float64, (1, 2, 6, 6, 5))) + 0.1
    xa, xt = adjit.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = getattr(F, name)(xa, *args), getattr(TF, name)(xt, *args)
    (ga,) = adjit.autograd.grad((ya**2).sum(), xa, create_graph=True)
    (gt,) = torch.autograd.grad((yt**2).sum(), xt, create_graph=True)
    (ha,) = adjit.autograd.grad((ga**2).sum(), xa)
    (ht,) = torch.autograd.grad((gt**2).sum(), xt)
    np.testing.assert_allclose(ga.detach().numpy(), gt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ha.numpy(), ht.numpy(), rtol=1e-12, atol=1e-12)
