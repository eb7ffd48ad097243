"""F.interpolate (every mode, sizes and scale factors), its deprecated aliases and the Upsample
modules next to PyTorch: values, gradients, grad_fn names, errors, warnings, reprs, compiled."""

from __future__ import annotations

import itertools
import random
import warnings
from typing import Any

import numpy as np
import pytest

import adjit
from adjit.nn.functional_resample import nearest_taps

torch = pytest.importorskip("torch")

# (mode, input spatial shape, keyword arguments)
CASES: list[tuple[str, tuple[int, ...], dict[str, Any]]] = [
    ("nearest", (5,), {"size": 8}),
    ("nearest", (5,), {"scale_factor": 1.7}),
    ("nearest", (3, 4), {"size": (7, 3)}),
    ("nearest", (3, 4), {"scale_factor": 2}),
    ("nearest", (3, 4), {"scale_factor": (1.3, 2.2)}),  # 2-D shortcuts (equal, doubled sizes)
    ("nearest", (3, 4), {"scale_factor": (1.3, 2.2), "recompute_scale_factor": True}),
    ("nearest", (2, 3, 4), {"scale_factor": (1.0, 1.3, 0.6)}),
    ("nearest-exact", (5,), {"size": 3}),
    ("nearest-exact", (3, 4), {"scale_factor": (1.3, 2.5)}),
    ("nearest-exact", (2, 3, 4), {"size": (3, 5, 2)}),
    ("linear", (5,), {"size": 9, "align_corners": True}),
    ("linear", (5,), {"size": 9, "align_corners": False}),
    ("linear", (5,), {"size": 1, "align_corners": True}),
    ("linear", (6,), {"scale_factor": 0.6}),
    ("bilinear", (3, 4), {"size": (7, 3)}),
    ("bilinear", (3, 4), {"size": (3, 4)}),
    ("bilinear", (3, 4), {"scale_factor": 2.5, "align_corners": True}),
    ("bilinear", (4, 5), {"scale_factor": (1.7, 0.5)}),
    ("bilinear", (4, 5), {"scale_factor": (1.7, 0.5), "recompute_scale_factor": True}),
    ("bicubic", (4, 5), {"size": (9, 3)}),
    ("bicubic", (4, 5), {"size": (9, 3), "align_corners": True}),
    ("bicubic", (2, 2), {"scale_factor": 3}),
    ("bicubic", (5, 4), {"scale_factor": (0.5, 1.5)}),
    ("trilinear", (2, 3, 4), {"size": (3, 5, 2)}),
    ("trilinear", (2, 3, 4), {"scale_factor": 1.5, "align_corners": True}),
    ("area", (7,), {"size": 3}),
    ("area", (5, 7), {"size": (3, 4)}),
    ("area", (5, 7), {"size": (8, 9)}),
    ("area", (3, 5, 7), {"scale_factor": 0.5}),
]
IDS = [f"{m}-{s}-{kw}" for m, s, kw in CASES]


def _pair(shape: tuple[int, ...], dtype: Any, seed: int = 0) -> tuple[Any, Any]:
    x = np.random.default_rng(seed).standard_normal((2, 3, *shape))
    return adjit.tensor(x, dtype=dtype, requires_grad=True), torch.tensor(
        x, dtype=getattr(torch, dtype.name), requires_grad=True
    )


def _forward_adjoint(mode: str, shape: tuple[int, ...], kw: dict, w: np.ndarray) -> np.ndarray:
    """The exact gradient of PyTorch's forward (a linear map): its matrix, from the images of
    the basis vectors of one (N, C) slice, transposed onto ``w``."""
    size = int(np.prod(shape))
    basis = torch.eye(size, dtype=torch.float64).reshape(size, 1, *shape)
    cols = torch.nn.functional.interpolate(basis, mode=mode, **kw).reshape(size, -1).numpy()
    flat_w = w.reshape(w.shape[0] * w.shape[1], -1)
    return (flat_w @ cols.T).reshape(w.shape[0], w.shape[1], *shape)


def _torch_backward_differs(mode: str, shape: tuple[int, ...], kw: dict) -> bool:
    """Note [nearest backward]: PyTorch's 1-D and 3-D nearest forward reads floor(j / s) for
    a given scale factor s, but its backward copies (or halves the index) whenever the output
    size equals (or doubles) the input size, as its 2-D kernel does: for scale_factor=1.3 on
    size 3 (output size 3) the forward is [x0, x0, x1] and PyTorch's gradient is the
    identity's. adjit's gradient is the adjoint of the forward; such rows are compared with
    it instead."""
    sf = kw.get("scale_factor")
    if mode != "nearest" or len(shape) == 2 or sf is None or kw.get("recompute_scale_factor"):
        return False
    sfs = sf if isinstance(sf, tuple) else (sf,) * len(shape)
    return any(
        int(n * s) in (n, 2 * n) and s != int(n * s) / n for n, s in zip(shape, sfs, strict=True)
    )


@pytest.mark.parametrize(("mode", "shape", "kw"), CASES, ids=IDS)
def test_float64_values_and_gradients(mode: str, shape: tuple[int, ...], kw: dict) -> None:
    a, t = _pair(shape, adjit.float64)
    ya = adjit.nn.functional.interpolate(a, mode=mode, **kw)
    yt = torch.nn.functional.interpolate(t, mode=mode, **kw)
    assert tuple(ya.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-14, atol=1e-15)
    assert type(ya.grad_fn).__name__ == type(yt.grad_fn).__name__
    w = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    (ya * adjit.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    exact = _forward_adjoint(mode, shape, kw, w)
    np.testing.assert_allclose(a.grad.numpy(), exact, rtol=1e-13, atol=1e-14)
    if _torch_backward_differs(mode, shape, kw):
        assert not np.allclose(
            t.grad.numpy(), exact
        )  # (PyTorch's differs: Note [nearest backward])
    else:
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(("mode", "shape", "kw"), CASES, ids=IDS)
def test_float32_values(mode: str, shape: tuple[int, ...], kw: dict) -> None:
    a, t = _pair(shape, adjit.float32)
    ya = adjit.nn.functional.interpolate(a, mode=mode, **kw).detach().numpy()
    yt = torch.nn.functional.interpolate(t, mode=mode, **kw).detach().numpy()
    # the weights are PyTorch's bit for bit (computed in float32); the sum of at most 4^3 taps
    # may round in another order: a few ulps of the largest term (|x| < 5, |w| < 1.3)
    np.testing.assert_allclose(ya, yt, rtol=0, atol=8 * 5 * 1.3 * 2.0**-23)
    if mode.startswith("nearest"):  # a copy: exact
        np.testing.assert_array_equal(ya, yt)


def test_nearest_indices_match_pytorch_for_random_scales() -> None:
    """PyTorch computes nearest indices in float32: floor(j * s) (and floor((j + .5) * s))."""
    rng = random.Random(0)
    for _ in range(300):
        n, nd = rng.randint(1, 40), rng.choice([1, 2, 3])
        s = rng.choice([rng.uniform(0.2, 5.0), rng.randint(1, 20) / rng.randint(1, 20)])
        if int(n * s) < 1:
            continue
        mode = rng.choice(["nearest", "nearest-exact"])
        recompute = rng.choice([None, True])
        x = torch.arange(float(n)).reshape(1, 1, *([1] * (nd - 1)), n)
        sf = [1.0] * (nd - 1) + [s]
        want = torch.nn.functional.interpolate(
            x, scale_factor=sf, mode=mode, recompute_scale_factor=recompute
        )
        got = nearest_taps(
            n,
            int(n * s),
            None if recompute else s,
            mode == "nearest-exact",
            mode == "nearest" and nd == 2,
        )
        np.testing.assert_array_equal(got[:, 0], want.flatten().numpy().astype(np.int64))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "area"])
def test_reduced_float_computes_in_float32(dtype: str, mode: str) -> None:
    x = np.random.default_rng(2).standard_normal((1, 2, 4, 5))
    ya = adjit.nn.functional.interpolate(
        adjit.tensor(x).to(getattr(adjit, dtype)), size=(7, 3), mode=mode
    )
    yt = torch.nn.functional.interpolate(
        torch.tensor(x).to(getattr(torch, dtype)), size=(7, 3), mode=mode
    )
    assert ya.dtype.name == dtype
    got, want = ya.float().numpy(), yt.float().numpy()
    # adjit computes in float32 and rounds once (its float32 result, rounded); bicubic with
    # its weights rounded to the input's type first, as PyTorch's kernel stores them
    narrow = adjit.tensor(x).to(getattr(adjit, dtype))
    wide = adjit.nn.functional.interpolate(narrow.float(), size=(7, 3), mode=mode)
    if mode != "bicubic":
        np.testing.assert_array_equal(got, wide.to(getattr(adjit, dtype)).float().numpy())
    if mode in ("nearest", "area") or (dtype, mode) == ("float16", "bilinear"):
        np.testing.assert_array_equal(got, want)
    else:  # a rare element of PyTorch's vectorized sums rounds the other way: 1 ulp
        bits = 7 if dtype == "bfloat16" else 10
        spacing = 2.0 ** (np.floor(np.log2(np.maximum(np.abs(want), 2.0**-14))) - bits)
        assert np.all(np.abs(got - want) <= spacing)
        assert np.mean(got == want) > 0.95


def test_uint8_nearest_and_refusals() -> None:
    x = np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4)
    got = adjit.nn.functional.interpolate(adjit.tensor(x), scale_factor=2)
    want = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=2)
    assert got.dtype.name == "uint8"
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    for mode in ("nearest", "bilinear", "bicubic", "area"):
        xa, xt = (
            adjit.ones(2, 3, 4, 4, dtype=adjit.int64),
            torch.ones(2, 3, 4, 4, dtype=torch.int64),
        )
        with pytest.raises(NotImplementedError) as want_e:
            torch.nn.functional.interpolate(xt, size=3, mode=mode)
        with pytest.raises(NotImplementedError) as got_e:
            adjit.nn.functional.interpolate(xa, size=3, mode=mode)
        assert str(got_e.value) == str(want_e.value)
    with pytest.raises(NotImplementedError, match="adjit: .*uint8"):
        adjit.nn.functional.interpolate(adjit.tensor(x), size=3, mode="bilinear")


ERRORS = [
    ((1, 1, 2, 2), {"size": 3, "mode": "nearest", "align_corners": True}),
    ((1, 1, 2, 2), {"size": 3, "scale_factor": 2}),
    ((1, 1, 2, 2), {}),
    ((1, 1, 2, 2), {"size": (3,)}),
    ((1, 1, 2, 2), {"scale_factor": (3,)}),
    ((1, 1, 2, 2), {"size": (3.5, 2)}),
    ((1, 1, 2, 2), {"size": 3, "recompute_scale_factor": True}),
    ((1, 1, 2, 2), {"size": 0}),
    ((1, 1, 2, 2), {"scale_factor": 0.1, "mode": "bilinear"}),
    ((1, 1, 2, 2), {"size": (2, -1)}),
    ((1, 2, 2), {"scale_factor": 0.1}),
    ((1, 1, 2, 2, 2), {"size": 0, "mode": "trilinear"}),
    ((1, 1, 0, 2), {"size": 3}),
    ((1, 1, 2, 2), {"size": 3, "mode": "foo"}),
    ((1, 2, 2), {"size": 3, "mode": "bicubic"}),
    ((1, 2, 2), {"size": 3, "mode": "bilinear"}),
    ((1, 1, 2, 2), {"size": 3, "mode": "linear"}),
    ((1, 1, 2, 2, 2), {"size": 3, "mode": "bilinear"}),
    ((2, 2), {"size": 3}),
    ((2, 2), {"size": (3,)}),
    ((2,), {"scale_factor": 2}),
    ((2, 2), {"scale_factor": (2,)}),
    ((1, 1, 2, 2), {"size": 3, "mode": "nearest", "antialias": True}),
    ((1, 1, 2, 2), {"size": 3, "mode": "lanczos"}),
    ((1, 1, 2, 2), {"size": 3, "mode": "lanczos", "align_corners": True}),
    ((1, 2, 2), {"size": 3, "mode": "bilinear", "antialias": True}),
]


@pytest.mark.parametrize(("shape", "kw"), ERRORS, ids=[str(kw) for _, kw in ERRORS])
def test_errors_match_torch(shape: tuple[int, ...], kw: dict) -> None:
    with pytest.raises(Exception) as want:
        torch.nn.functional.interpolate(torch.ones(shape), **kw)
    with pytest.raises(type(want.value)) as got:
        adjit.nn.functional.interpolate(adjit.ones(shape), **kw)
    assert str(got.value) == str(want.value)


AA_CASES: list[tuple[str, tuple[int, int], dict[str, Any]]] = [
    ("bilinear", (9, 12), {"size": (4, 5)}),
    ("bilinear", (9, 12), {"size": (4, 5), "align_corners": True}),
    ("bilinear", (5, 6), {"size": (11, 3)}),
    ("bilinear", (16, 7), {"scale_factor": (0.25, 0.5)}),
    ("bilinear", (13, 8), {"scale_factor": (1 / 3, 0.7), "recompute_scale_factor": True}),
    ("bicubic", (9, 12), {"size": (4, 5)}),
    ("bicubic", (9, 12), {"size": (4, 5), "align_corners": True}),
    ("bicubic", (5, 6), {"size": (11, 3)}),
    ("bicubic", (20, 9), {"scale_factor": (0.3, 2.0)}),
    ("lanczos", (9, 12), {"size": (4, 5)}),
    ("lanczos", (5, 6), {"size": (11, 3)}),
    ("lanczos", (20, 9), {"scale_factor": (0.3, 2.0)}),
    # a dimension whose size stays is copied, whatever its scale factor (Note [aa backward])
    ("bilinear", (20, 9), {"scale_factor": (0.9, 1.1)}),
    ("bicubic", (4, 18), {"scale_factor": (1.1, 0.9)}),
]
AA_IDS = [f"{m}-{s}-{kw}" for m, s, kw in AA_CASES]


def _aa_backward_differs(shape: tuple[int, ...], kw: dict) -> bool:
    """Note [aa backward]: PyTorch's antialiased forward copies a dimension whose size stays
    the same, but its backward resamples it with the given scale factor (a gradient that is
    not the forward's adjoint); adjit's is the adjoint."""
    sf = kw.get("scale_factor")
    if sf is None or kw.get("recompute_scale_factor"):
        return False
    return any(int(n * s) == n and s != 1 for n, s in zip(shape, sf, strict=True))


@pytest.mark.parametrize(("mode", "shape", "kw"), AA_CASES, ids=AA_IDS)
def test_antialias_float64(mode: str, shape: tuple[int, int], kw: dict) -> None:
    kw = {"antialias": True, **kw}
    a, t = _pair(shape, adjit.float64)
    ya = adjit.nn.functional.interpolate(a, mode=mode, **kw)
    yt = torch.nn.functional.interpolate(t, mode=mode, **kw)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-13, atol=1e-14)
    assert type(ya.grad_fn).__name__ == type(yt.grad_fn).__name__
    w = np.random.default_rng(1).standard_normal(tuple(yt.shape))
    (ya * adjit.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    exact = _forward_adjoint(mode, shape, kw, w)
    np.testing.assert_allclose(a.grad.numpy(), exact, rtol=1e-13, atol=1e-14)
    if _aa_backward_differs(shape, kw):
        assert not np.allclose(t.grad.numpy(), exact)
    else:
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(("mode", "shape", "kw"), AA_CASES[:12], ids=AA_IDS[:12])
def test_antialias_float32(mode: str, shape: tuple[int, int], kw: dict) -> None:
    a, t = _pair(shape, adjit.float32)
    ya = adjit.nn.functional.interpolate(a, mode=mode, antialias=True, **kw).detach().numpy()
    yt = torch.nn.functional.interpolate(t, mode=mode, antialias=True, **kw).detach().numpy()
    # float32 weights as PyTorch's; up to ~20 taps per dimension summed in another order
    np.testing.assert_allclose(ya, yt, rtol=0, atol=32 * 5 * 2.0**-23)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize(("shape", "size"), [((5, 12), (2, 1)), ((4, 1), (2, 1))])
def test_antialias_to_width_one(mode: str, shape: tuple, size: tuple) -> None:
    """PyTorch 2.13's antialiased CPU kernel repeats its first output row when the output
    width is 1 (4 x 1 -> 2 x 1 gives [0.714, 0.714] for [0, 1, 2, 3]); adjit resamples each
    dimension. Reference: PyTorch on the transposed input, whose output width is not 1."""
    a, t = _pair(shape, adjit.float64)
    got = adjit.nn.functional.interpolate(a, size, mode=mode, antialias=True).detach().numpy()
    ref = torch.nn.functional.interpolate(
        t.detach().transpose(-1, -2), size[::-1], mode=mode, antialias=True
    ).transpose(-1, -2)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-13, atol=1e-14)
    buggy = torch.nn.functional.interpolate(t.detach(), size, mode=mode, antialias=True)
    assert not np.allclose(buggy.numpy(), ref.numpy())  # (still PyTorch's behaviour?)


def test_antialias_dtype_errors() -> None:
    for dt, mode in itertools.product(("float16", "bfloat16", "int64"), ("bilinear", "lanczos")):
        with pytest.raises(NotImplementedError) as want:
            torch.nn.functional.interpolate(
                torch.ones(1, 1, 4, 4, dtype=getattr(torch, dt)), 2, mode=mode, antialias=True
            )
        with pytest.raises(NotImplementedError) as got:
            adjit.nn.functional.interpolate(
                adjit.ones(1, 1, 4, 4, dtype=getattr(adjit, dt)), 2, mode=mode, antialias=True
            )
        assert str(got.value) == str(want.value)
    with pytest.raises(NotImplementedError, match="adjit: .*uint8"):
        adjit.nn.functional.interpolate(
            adjit.ones(1, 1, 4, 4, dtype=adjit.uint8), 2, mode="bilinear", antialias=True
        )


@pytest.mark.parametrize(
    ("name", "kw", "same_as"),
    [
        ("upsample", {"size": 5, "mode": "bilinear"}, {"mode": "bilinear"}),
        ("upsample_nearest", {"scale_factor": 2}, {"mode": "nearest"}),
        ("upsample_bilinear", {"size": 5}, {"mode": "bilinear", "align_corners": True}),
    ],
)
def test_deprecated_aliases_warn_as_pytorch(name: str, kw: dict, same_as: dict) -> None:
    x = np.random.default_rng(3).standard_normal((1, 2, 3, 4))
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        ya = getattr(adjit.nn.functional, name)(adjit.tensor(x), **kw)
    with warnings.catch_warnings(record=True) as want:
        warnings.simplefilter("always")
        yt = getattr(torch.nn.functional, name)(torch.tensor(x), **kw)
    assert [str(w.message) for w in got] == [str(w.message) for w in want]
    assert got[0].filename == __file__  # (stacklevel: the caller's line)
    size = kw.get("size")
    ref = adjit.nn.functional.interpolate(adjit.tensor(x), size, kw.get("scale_factor"), **same_as)
    np.testing.assert_array_equal(ya.numpy(), ref.numpy())
    np.testing.assert_allclose(ya.numpy(), yt.numpy(), rtol=1e-14)


@pytest.mark.parametrize(
    ("cls", "args", "kw"),
    [
        ("Upsample", (), {"scale_factor": 2}),
        ("Upsample", (), {"scale_factor": (2, 1.5), "mode": "bilinear"}),
        ("Upsample", ((5, 3),), {"mode": "bicubic", "align_corners": True}),
        ("Upsample", (), {"size": 4, "mode": "nearest-exact"}),
        ("Upsample", (), {"scale_factor": 1.5, "mode": "bilinear", "recompute_scale_factor": True}),
        ("UpsamplingNearest2d", (), {"scale_factor": 2}),
        ("UpsamplingNearest2d", ((5, 6),), {}),
        ("UpsamplingBilinear2d", (), {"size": 3}),
        ("UpsamplingBilinear2d", (), {"scale_factor": 2.5}),
    ],
)
def test_upsample_modules(cls: str, args: tuple, kw: dict) -> None:
    ma, mt = getattr(adjit.nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(ma) == repr(mt)
    assert (ma.size, ma.scale_factor, ma.mode, ma.align_corners, ma.name) == (
        mt.size,
        mt.scale_factor,
        mt.mode,
        mt.align_corners,
        mt.name,
    )
    x = np.random.default_rng(4).standard_normal((1, 2, 3, 4))
    np.testing.assert_allclose(
        ma(adjit.tensor(x)).numpy(), mt(torch.tensor(x)).numpy(), rtol=1e-14, atol=1e-15
    )


COMPILED = [CASES[i] for i in (2, 5, 9, 11, 16, 19, 23, 26, 28)]


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize(
    ("mode", "shape", "kw"), COMPILED, ids=[f"{m}-{s}-{kw}" for m, s, kw in COMPILED]
)
def test_compiled_matches_eager(mode: str, shape: tuple[int, ...], kw: dict, backend: str) -> None:
    x = np.random.default_rng(5).standard_normal((2, 3, *shape))

    def f(v: adjit.Tensor) -> adjit.Tensor:
        return adjit.nn.functional.interpolate(v, mode=mode, **kw)

    eager = f(adjit.tensor(x))
    w = adjit.tensor(np.random.default_rng(6).standard_normal(tuple(eager.shape)))

    def loss(v: adjit.Tensor) -> adjit.Tensor:
        return (f(v) * w).sum()

    np.testing.assert_allclose(
        adjit.compile(f, backend=backend)(adjit.tensor(x)).numpy(),
        eager.numpy(),
        rtol=1e-14,
        atol=1e-15,
    )
    a = adjit.tensor(x, requires_grad=True)
    loss(a).backward()
    got = adjit.grad(loss, backend=backend)(adjit.tensor(x))
    np.testing.assert_allclose(got.numpy(), a.grad.numpy(), rtol=1e-13, atol=1e-14)


def test_gradient_matches_finite_differences() -> None:
    x = np.random.default_rng(7).standard_normal((1, 1, 3, 4))
    w = np.random.default_rng(8).standard_normal((1, 1, 5, 6))

    def loss(v: np.ndarray) -> float:
        y = adjit.nn.functional.interpolate(adjit.tensor(v), size=(5, 6), mode="bicubic")
        return float((y * adjit.tensor(w)).sum().item())

    a = adjit.tensor(x, requires_grad=True)
    (
        adjit.nn.functional.interpolate(a, size=(5, 6), mode="bicubic") * adjit.tensor(w)
    ).sum().backward()
    eps = 1e-6
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        fd[i] = (loss(x + d) - loss(x - d)) / (2 * eps)
    np.testing.assert_allclose(a.grad.numpy(), fd, rtol=1e-7, atol=1e-9)
