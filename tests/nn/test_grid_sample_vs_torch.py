"""F.grid_sample (bilinear, nearest, bicubic; zeros, border, reflection; 4-D and 5-D) and
F.affine_grid next to PyTorch: values, gradients to input, grid and theta, errors, warnings,
compiled programs."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")
F = adjit.nn.functional

MODES = {2: ["bilinear", "nearest", "bicubic"], 3: ["bilinear", "nearest"]}
CASES = [
    (d, mode, pad, align, grid)
    for d in (2, 3)
    for mode in MODES[d]
    for pad in ("zeros", "border", "reflection")
    for align in (True, False)
    for grid in ("inside", "beyond", "lattice")
]


def _data(d: int, grid: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    spatial = (3, 4) if d == 2 else (2, 3, 4)
    out = (4, 3) if d == 2 else (2, 3, 2)
    x = rng.standard_normal((2, 3, *spatial))
    g = rng.uniform(-1, 1, (2, *out, d))
    if grid == "beyond":  # outside [-1, 1]: padding and (several) reflections
        g = g * 3.2
    elif grid == "lattice":  # on sample points, half points and the bounds exactly
        g = np.round(g * 4) / 4
    return x, g


def _run(T: Any, fn: Any, x: np.ndarray, g: np.ndarray, kw: dict) -> list[Any]:
    a, gg = T.tensor(x, requires_grad=True), T.tensor(g, requires_grad=True)
    y = fn(a, gg, **kw)
    w = np.random.default_rng(7).standard_normal(tuple(y.shape))
    (y * T.tensor(w)).sum().backward()
    grid_grad = None if gg.grad is None else gg.grad.numpy()
    return [y.detach().numpy(), a.grad.numpy(), grid_grad, type(y.grad_fn).__name__]


@pytest.mark.parametrize(("d", "mode", "pad", "align", "grid"), CASES, ids=str)
def test_grid_sample_float64(d: int, mode: str, pad: str, align: bool, grid: str) -> None:
    x, g = _data(d, grid, seed=d)
    kw = {"mode": mode, "padding_mode": pad, "align_corners": align}
    got = _run(adjit, F.grid_sample, x, g, kw)
    want = _run(torch, torch.nn.functional.grid_sample, x, g, kw)
    assert got[3] == want[3]
    np.testing.assert_allclose(got[0], want[0], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-13, atol=1e-14)
    # (the grid's gradient sums up to 16 products of input values and weight derivatives)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("mode", "pad"), list(itertools.product(MODES[2], ["zeros", "reflection"]))
)
def test_grid_sample_float32(mode: str, pad: str) -> None:
    x, g = _data(2, "beyond", seed=3)
    kw = {"mode": mode, "padding_mode": pad, "align_corners": False}
    ya = F.grid_sample(adjit.tensor(x).float(), adjit.tensor(g).float(), **kw).numpy()
    yt = torch.nn.functional.grid_sample(torch.tensor(x).float(), torch.tensor(g).float(), **kw)
    # float32 coordinates: a few ulps of |x| < 5 through weights summing to at most ~1.5
    np.testing.assert_allclose(ya, yt.numpy(), rtol=0, atol=8 * 5 * 2.0**-23)


def test_grid_sample_gradient_matches_finite_differences() -> None:
    x, g = _data(2, "inside", seed=4)
    w = np.random.default_rng(8).standard_normal((2, 3, 4, 3))

    def loss(xv: np.ndarray, gv: np.ndarray) -> float:
        y = F.grid_sample(adjit.tensor(xv), adjit.tensor(gv), mode="bicubic", align_corners=False)
        return float((y * adjit.tensor(w)).sum().item())

    gt = adjit.tensor(g, requires_grad=True)
    y = F.grid_sample(adjit.tensor(x), gt, mode="bicubic", align_corners=False)
    (y * adjit.tensor(w)).sum().backward()
    gg = gt.grad.numpy()
    eps = 1e-6
    for i in [(0, 1, 2, 0), (1, 3, 0, 1), (0, 0, 0, 1)]:
        d = np.zeros_like(g)
        d[i] = eps
        fd = (loss(x, g + d) - loss(x, g - d)) / (2 * eps)
        np.testing.assert_allclose(gg[i], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize(("mode", "pad"), [("bilinear", "reflection"), ("bicubic", "border")])
def test_grid_sample_compiled(mode: str, pad: str, backend: str) -> None:
    x, g = _data(2, "beyond", seed=5)

    def f(a: adjit.Tensor, gg: adjit.Tensor) -> adjit.Tensor:
        return F.grid_sample(a, gg, mode=mode, padding_mode=pad, align_corners=True)

    args = (adjit.tensor(x), adjit.tensor(g))
    eager = f(*args)
    np.testing.assert_array_equal(adjit.compile(f, backend=backend)(*args).numpy(), eager.numpy())
    a, gg = adjit.tensor(x, requires_grad=True), adjit.tensor(g, requires_grad=True)
    (f(a, gg) ** 2).sum().backward()
    ga, gga = adjit.grad(lambda *v: (f(*v) ** 2).sum(), argnums=(0, 1), backend=backend)(*args)
    np.testing.assert_allclose(ga.numpy(), a.grad.numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(gga.numpy(), gg.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
@pytest.mark.parametrize("mode", MODES[2])
def test_reduced_float_grid_sample_matches_torch_bitwise(dt: str, mode: str) -> None:
    """PyTorch's CPU kernel computes float16/bfloat16 in their own type, op by op; so does
    adjit's decomposition (its values are PyTorch's bit for bit; the gradients accumulate in
    another order and are not compared)."""
    x, g = _data(2, "beyond", seed=6)
    kw = {"mode": mode, "padding_mode": "reflection", "align_corners": False}
    a, gg = adjit.tensor(x).to(getattr(adjit, dt)), adjit.tensor(g).to(getattr(adjit, dt))
    got = F.grid_sample(a, gg, **kw)
    want = torch.nn.functional.grid_sample(
        torch.tensor(x).to(getattr(torch, dt)), torch.tensor(g).to(getattr(torch, dt)), **kw
    )
    assert got.dtype.name == dt
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())


GS_ERRORS = [
    ((1, 2, 3, 4), (1, 5, 6, 3), {}),
    ((1, 2, 3, 4), (2, 5, 6, 2), {}),
    ((1, 2, 3, 4, 5), (1, 5, 6, 2, 3), {"mode": "bicubic"}),
    ((2, 3, 4), (2, 3, 2), {}),
    ((1, 2, 3, 4), (1, 5, 2), {}),
    ((1, 2, 0, 4), (1, 5, 6, 2), {}),
    ((1, 2, 3, 4), (1, 5, 6, 2), {"mode": "area"}),
    ((1, 2, 3, 4), (1, 5, 6, 2), {"padding_mode": "circular"}),
]


@pytest.mark.parametrize(("shape", "gshape", "kw"), GS_ERRORS, ids=str)
def test_grid_sample_errors(shape: tuple, gshape: tuple, kw: dict) -> None:
    with pytest.raises(Exception) as want:
        torch.nn.functional.grid_sample(
            torch.ones(shape), torch.zeros(gshape), align_corners=False, **kw
        )
    with pytest.raises(type(want.value)) as got:
        F.grid_sample(adjit.ones(shape), adjit.zeros(gshape), align_corners=False, **kw)
    assert str(got.value) == str(want.value)


def test_grid_sample_dtype_errors() -> None:
    for T, G in ((torch, torch.nn.functional), (adjit, F)):
        with pytest.raises(NotImplementedError, match="grid_sampler_2d_cpu_kernel_impl"):
            G.grid_sample(
                T.ones(1, 1, 2, 2, dtype=T.int64),
                T.zeros(1, 1, 1, 2, dtype=T.int64),
                align_corners=False,
            )
        with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
            G.grid_sample(
                T.ones(1, 1, 2, 2), T.zeros(1, 1, 1, 2, dtype=T.float64), align_corners=False
            )


def test_align_corners_default_warns_as_pytorch() -> None:
    for T, G in ((torch, torch.nn.functional), (adjit, F)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            G.grid_sample(T.ones(1, 1, 2, 2), T.zeros(1, 1, 1, 2))
            G.affine_grid(T.zeros(1, 2, 3), (1, 1, 2, 2))
        assert len(caught) == 2
        assert all("align_corners=False since 1.3.0" in str(w.message) for w in caught)
        assert all(w.filename == __file__ for w in caught)


@pytest.mark.parametrize(
    "size", [(2, 3, 4, 5), (2, 3, 1, 5), (2, 3, 1, 1), (2, 1, 3, 4, 5), (2, 1, 1, 4, 2)]
)
@pytest.mark.parametrize("align", [True, False])
def test_affine_grid(size: tuple, align: bool) -> None:
    d = len(size) - 2
    th = np.random.default_rng(9).standard_normal((2, d, d + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (unit sizes with align_corners warn, in both)
        got = _run(adjit, lambda t, _: F.affine_grid(t, size, align_corners=align), th, th, {})
        want = _run(
            torch,
            lambda t, _: torch.nn.functional.affine_grid(t, size, align_corners=align),
            th,
            th,
            {},
        )
    assert got[3] == want[3] == "AffineGridGeneratorBackward0"
    np.testing.assert_allclose(got[0], want[0], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(
    ("tshape", "size"),
    [
        ((2, 2, 3), (2, 3, 4)),
        ((2, 2, 3), (2, 3, 4, 5, 6, 7)),
        ((2, 3, 4), (2, 3, 4, 5)),
        ((2, 2, 3), (2, 3, 4, 5, 6)),
        ((2, 2, 3), (2, 0, 4, 5)),
        ((1, 2, 3), (2, 3, 4, 5)),
    ],
)
def test_affine_grid_errors(tshape: tuple, size: tuple) -> None:
    with pytest.raises(Exception) as want:
        torch.nn.functional.affine_grid(torch.ones(tshape), size, align_corners=False)
    with pytest.raises(type(want.value)) as got:
        F.affine_grid(adjit.ones(tshape), size, align_corners=False)
    assert str(got.value) == str(want.value)
    with pytest.raises(ValueError, match="Expected theta to have floating point type"):
        F.affine_grid(adjit.ones(2, 2, 3, dtype=adjit.int64), (2, 3, 4, 5), align_corners=False)


def test_affine_grid_then_grid_sample_identity_keeps_the_input() -> None:
    x, _ = _data(2, "inside", seed=10)
    theta = adjit.tensor(np.tile(np.eye(2, 3), (2, 1, 1)))
    grid = F.affine_grid(theta, (2, 3, 3, 4), align_corners=True)
    np.testing.assert_allclose(
        F.grid_sample(adjit.tensor(x), grid, align_corners=True).numpy(), x, rtol=1e-15
    )
