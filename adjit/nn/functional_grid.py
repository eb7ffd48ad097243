"""``F.grid_sample`` and ``F.affine_grid``: sampling at grid points as gathers and weights."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from adjit.runtime import functional as R
from adjit.runtime.autocast import autocast_op
from adjit.runtime.dispatch import composite
from adjit.runtime.kernel_dtypes import not_implemented
from adjit.runtime.opmath import in_float32
from adjit.runtime.tensor import Tensor

__all__ = ["affine_grid", "grid_sample"]

_ALIGN_WARNING = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since "
    "1.3.0. Please specify align_corners=True if the old behavior is desired. See the "
    "documentation of grid_sample for details."
)
_CUBIC_A = -0.75

# Note [grid sampling]
# Grid coordinates in [-1, 1] are unnormalized to input positions, (g + 1) s (- 0.5), with
# s = (size - 1) / 2 if align_corners else size / 2, as PyTorch's CPU kernel. Border and
# reflection padding move positions into [0, size - 1]; their derivative is PyTorch's: 1
# strictly inside, 0 where clipped (also exactly at a bound, where clamp's would be 1), a sign
# flip per reflection. Each of the 2^d corners (bilinear), the nearest point (round half to
# even) or the 4 x 4 taps (bicubic) is read with one gather over the flattened spatial
# dimensions; a corner outside the input reads position 0 and its term is replaced by 0 (not
# multiplied by 0, so an inf there stays out, as PyTorch's kernel never reads it). Gradients to
# the input are the gather's (a scatter-add) and to the grid the weights' derivatives: floor()
# and round() carry none, as in PyTorch (whose nearest mode gives the grid a zero gradient).


def _unnormalize(g: Tensor, size: int, align: bool) -> Tensor:
    if align:
        return (g + 1.0) * ((size - 1) / 2)
    return (g + 1.0) * (size / 2) - 0.5


def _inside(x: Tensor, limit: int) -> Tensor:
    return R.logical_and(x > 0, x < limit)


def _clip(x: Tensor, size: int) -> Tensor:
    """clamp(x, 0, size - 1) with PyTorch's derivative: 0 at and beyond the bounds."""
    clipped = R.clamp(x.detach(), 0, size - 1)
    return R.where(_inside(x, size - 1), x, clipped)


def _reflect(x: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Reflect ``x`` into [low, high] (bounds given doubled), the sign of the derivative
    flipping with each reflection as PyTorch's ``reflect_coordinates_set_grad``."""
    if twice_low == twice_high:
        return x * 0.0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    d = x - low
    d = R.where(d < 0, -d, d)  # (PyTorch: derivative +1 at 0, not abs's 0)
    extra = R.fmod(d, span)
    flips = R.floor(d.detach() / span)
    odd = R.remainder(flips, 2.0) == 1.0
    return R.where(odd, (span + low) - extra, extra + low)


def _bound(x: Tensor, size: int, padding: str, align: bool) -> Tensor:
    if padding == "border":
        return _clip(x, size)
    if padding == "reflection":
        twice = (0, 2 * (size - 1)) if align else (-1, 2 * size - 1)
        return _clip(_reflect(x, *twice), size)
    return x


def _read(a: Tensor, spatial: tuple[int, ...], coords: list[Tensor]) -> Tensor:
    """``a[n, c, *coords[n, ...]]`` for integer-valued float coordinates (N, *out), 0 where a
    coordinate falls outside the input."""
    n, c = a.shape[:2]
    out = coords[0].shape[1:]
    ok = None
    flat = None
    for x, size in zip(coords, spatial, strict=True):
        inside = R.logical_and(x >= 0, x <= size - 1)
        ok = inside if ok is None else R.logical_and(ok, inside)
    assert ok is not None
    for x, size in zip(coords, spatial, strict=True):
        i = R.where(ok, x.detach(), 0.0).long()
        flat = i if flat is None else flat * size + i
    assert flat is not None
    total = int(np.prod(out)) if out else 1
    index = R.expand(R.reshape(flat, (n, 1, total)), (n, c, total))
    values = R.gather(R.reshape(a, (n, c, -1)), 2, index)
    values = R.reshape(values, (n, c, *out))
    return R.where(R.unsqueeze(ok, 1), values, 0.0)


def _linear(a: Tensor, spatial: tuple[int, ...], pos: list[Tensor]) -> Tensor:
    lo = [R.floor(p.detach()) for p in pos]
    frac = [p - f for p, f in zip(pos, lo, strict=True)]  # (d weight / d pos = +-1)
    total = None
    for corner in range(2 ** len(pos)):
        bits = [(corner >> (len(pos) - 1 - k)) & 1 for k in range(len(pos))]
        coords = [f + b for f, b in zip(lo, bits, strict=True)]
        weight = None
        for b, t in zip(bits, frac, strict=True):
            w = t if b else 1.0 - t
            weight = w if weight is None else weight * w
        assert weight is not None
        term = _read(a, spatial, coords) * R.unsqueeze(weight, 1)
        total = term if total is None else total + term
    assert total is not None
    return total


def _cubic_weights(t: Tensor) -> list[Tensor]:
    a = _CUBIC_A

    def near(x: Tensor) -> Tensor:
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: Tensor) -> Tensor:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]


def _bicubic(
    a: Tensor, spatial: tuple[int, ...], pos: list[Tensor], padding: str, align: bool
) -> Tensor:
    y, x = pos
    y0, x0 = R.floor(y.detach()), R.floor(x.detach())
    wy, wx = _cubic_weights(y - y0), _cubic_weights(x - x0)
    total = None
    for i in range(4):
        row = None
        yi = _bound(y0 + (i - 1), spatial[0], padding, align)
        for j in range(4):
            xj = _bound(x0 + (j - 1), spatial[1], padding, align)
            term = _read(a, spatial, [yi, xj]) * R.unsqueeze(wx[j], 1)
            row = term if row is None else row + term
        assert row is not None
        term = row * R.unsqueeze(wy[i], 1)
        total = term if total is None else total + term
    assert total is not None
    return total


def _sample(a: Tensor, grid: Tensor, mode: str, padding: str, align: bool) -> Tensor:
    spatial = tuple(a.shape[2:])
    d = len(spatial)
    # the grid's last axis lists x (width) first: position k reads axis d - 1 - k
    raw = [R.select(grid, -1, d - 1 - k) for k in range(d)]
    unnorm = [_unnormalize(g, n, align) for g, n in zip(raw, spatial, strict=True)]
    if mode == "bicubic":
        return _bicubic(a, spatial, unnorm, padding, align)
    pos = [_bound(p, n, padding, align) for p, n in zip(unnorm, spatial, strict=True)]
    if mode == "nearest":  # (the grid gets PyTorch's zero gradient, not none)
        y = _read(a, spatial, [R.round(p.detach()) for p in pos])
        return R.where(Tensor._make(np.array(False)), R.sum(grid), y)
    return _linear(a, spatial, pos)


def _check(input: Tensor, grid: Tensor, mode: str) -> None:
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(
            "grid_sampler(): expected grid and input to have same batch size, but got input "
            f"with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
        )
    if grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {input.ndim - 2} in last dimension, "
            f"but got grid with sizes {list(grid.shape)}"
        )
    for i in range(2, input.ndim):
        if input.shape[i] <= 0:
            raise RuntimeError(
                "grid_sampler(): expected input to have non-empty spatial dimensions, but "
                f"input has sizes {list(input.shape)} with dimension {i} being empty"
            )
    want = 4 if input.ndim == 4 else 5
    if input.ndim != want or grid.ndim != want:
        raise RuntimeError(
            f"grid_sampler(): expected {want}D input and grid with same number of dimensions, "
            f"but got input with sizes {list(input.shape)} and grid with sizes "
            f"{list(grid.shape)}"
        )
    if mode == "bicubic" and input.ndim == 5:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if not input.dtype.is_floating_point:
        raise not_implemented(f"grid_sampler_{input.ndim - 2}d_cpu_kernel_impl", input.dtype)
    if grid.dtype != input.dtype:
        raise RuntimeError(
            f"expected scalar type {input.dtype.type_name} but found {grid.dtype.type_name}"
        )


def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Tensor:
    """Sample (N, C, [D,] H, W) ``input`` at the (N, [D,] H, W, 2 or 3) ``grid`` points (see
    Note [grid sampling])."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
            f"'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
            f"'reflection', but got: '{padding_mode}'"
        )
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    return _grid_sampler(input, grid, mode, padding_mode, bool(align_corners))


@autocast_op("grid_sampler")
def _grid_sampler(input: Tensor, grid: Tensor, mode: str, padding_mode: str, align: bool) -> Tensor:
    """``torch.grid_sampler``: what ``grid_sample`` calls once its arguments are checked."""
    _check(input, grid, mode)
    # (float16/bfloat16: PyTorch's CPU kernel computes in the input's type, op by op as here)
    return composite(
        f"GridSampler{input.ndim - 2}DBackward0",
        lambda a, g: _sample(a, g, mode, padding_mode, align),
        input,
        grid,
    )


def _base_axis(n: int, align: bool) -> np.ndarray:
    """``linspace(-a, a, n)`` with a = 1 (align_corners) or (n - 1) / n; [0] for n = 1."""
    if n <= 1:
        return np.zeros(max(n, 1))
    a = 1.0 if align else (n - 1) / n
    return np.linspace(-a, a, n)


def affine_grid(theta: Tensor, size: Any, align_corners: bool | None = None) -> Tensor:
    """The (N, [D,] H, W, 2 or 3) sampling grid of the affine maps ``theta`` (N, 2, 3) or
    (N, 3, 4): base points [x, y, (z,) 1] times ``theta`` transposed."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    given, size = size, list(size)
    if len(size) == 4:
        if theta.ndim != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(
                "Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                f"{given}. Got {theta.shape}."
            )
    elif len(size) == 5:
        if theta.ndim != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(
                "Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                f"{given}. Got {theta.shape}."
            )
    else:
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {given}."
        )
    spatial = size[2:]
    if align_corners and min(spatial) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
            "align_corners=True. This is not an intended use case of affine_grid. See the "
            "documentation of affine_grid for details.",
            UserWarning,
            stacklevel=2,
        )
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {given}")
    if theta.shape[0] != size[0]:  # (PyTorch's bmm of the base grid and theta)
        k = len(spatial) + 1
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{size[0]}, {k}] "
            f"but got: [{theta.shape[0]}, {k}]."
        )
    return generate_affine_grid(theta, size, bool(align_corners))


def generate_affine_grid(theta: Tensor, size: list[int], align_corners: bool) -> Tensor:
    """``torch.affine_grid_generator``'s grid: base points [x, y, (z,) 1], x along the last
    spatial axis, times ``theta`` transposed (arguments checked by the callers)."""
    spatial = size[2:]
    axes = [_base_axis(n, align_corners) for n in spatial]
    mesh = np.meshgrid(*axes, indexing="ij")
    base = np.stack([*mesh[::-1], np.ones(mesh[0].shape)], -1)
    points = base.reshape(-1, len(spatial) + 1)

    def decomposition(t: Tensor) -> Tensor:
        b = Tensor._make(points.astype(t.dtype.np))
        grid = R.matmul(b, R.transpose(t, 1, 2))  # (N, points, d)
        return R.reshape(grid, (size[0], *spatial, len(spatial)))

    return composite("AffineGridGeneratorBackward0", in_float32(decomposition), theta)
