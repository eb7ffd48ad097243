"""``torch.grid_sampler`` (2d, 3d) and ``torch.affine_grid_generator``: ATen's spellings of
``F.grid_sample`` and ``F.affine_grid``, with integer mode codes and no default warnings."""

from __future__ import annotations

import operator
from math import prod
from typing import Any

from adjit.nn.functional_grid import _grid_sampler, generate_affine_grid
from adjit.runtime.tensor import Tensor

__all__ = ["affine_grid_generator", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d"]

# ATen's GridSamplerInterpolation and GridSamplerPadding enums, by code
_MODES = ("bilinear", "nearest", "bicubic")
_PADDINGS = ("zeros", "border", "reflection")


def _int(op: str, name: str, position: int, value: Any) -> int:
    """PyTorch's parser for an int argument: a bool or float is refused, an index accepted."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(
        f"{op}(): argument '{name}' (position {position}) must be int, not {type(value).__name__}"
    )


def _bool(op: str, position: int, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(
            f"{op}(): argument 'align_corners' (position {position}) must be bool, not "
            f"{type(value).__module__ + '.' if type(value).__module__ != 'builtins' else ''}"
            f"{type(value).__name__}"
        )
    return value


def _code(table: tuple[str, ...], what: str, code: int) -> str:
    """The mode a code names; PyTorch reads other codes as memory garbage: refused here."""
    if not 0 <= code < len(table):
        named = ", ".join(f"{i} ({m})" for i, m in enumerate(table))
        raise RuntimeError(f"grid_sampler(): {what} must be one of {named}, but got {code}")
    return table[code]


def _sampler(
    op: str,
    dims: int | None,
    input: Tensor,
    grid: Tensor,
    interpolation_mode: Any,
    padding_mode: Any,
    align_corners: Any,
) -> Tensor:
    mode = _code(
        _MODES, "interpolation_mode", _int(op, "interpolation_mode", 3, interpolation_mode)
    )
    padding = _code(_PADDINGS, "padding_mode", _int(op, "padding_mode", 4, padding_mode))
    align = _bool(op, 5, align_corners)
    if dims is not None and (input.ndim != dims + 2 or grid.ndim != dims + 2):
        raise RuntimeError(
            f"grid_sampler(): expected {dims + 2}D input and grid with same number of "
            f"dimensions, but got input with sizes {list(input.shape)} and grid with sizes "
            f"{list(grid.shape)}"
        )
    return _grid_sampler(input, grid, mode, padding, align)


def grid_sampler(
    input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int, align_corners: bool
) -> Tensor:
    """``F.grid_sample`` with ATen's codes: mode 0 bilinear, 1 nearest, 2 bicubic; padding 0
    zeros, 1 border, 2 reflection."""
    return _sampler(
        "grid_sampler", None, input, grid, interpolation_mode, padding_mode, align_corners
    )


def grid_sampler_2d(
    input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int, align_corners: bool
) -> Tensor:
    """``grid_sampler`` of a 4-D input and grid."""
    return _sampler(
        "grid_sampler_2d", 2, input, grid, interpolation_mode, padding_mode, align_corners
    )


def grid_sampler_3d(
    input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int, align_corners: bool
) -> Tensor:
    """``grid_sampler`` of a 5-D input and grid (no bicubic)."""
    return _sampler(
        "grid_sampler_3d", 3, input, grid, interpolation_mode, padding_mode, align_corners
    )


def affine_grid_generator(theta: Tensor, size: Any, align_corners: bool) -> Tensor:
    """``F.affine_grid`` with ATen's checks: ``size`` (N, C, H, W) or (N, C, D, H, W), ``theta``
    (N, 2, 3) or (N, 3, 4); the base grid times theta transposed, as its bmm and view."""
    align = _bool("affine_grid_generator", 3, align_corners)
    size = [operator.index(n) for n in size]
    if len(size) not in (4, 5):
        raise RuntimeError("AffineGridGenerator needs 4d (spatial) or 5d (volumetric) inputs.")
    spatial, k = size[2:], len(size) - 1  # k: coordinates per base point, with the 1
    if any(n < 0 for n in size):
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {min(size)}: {[size[0], *spatial, k]}"
        )
    if theta.ndim != 3:
        theta.transpose(1, 2)  # (PyTorch's error for fewer dims)
        raise RuntimeError("batch2 must be a 3D tensor")
    if (theta.shape[0], theta.shape[2]) != (size[0], k):
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{size[0]}, {k}] "
            f"but got: [{theta.shape[0]}, {theta.shape[2]}]."
        )
    if theta.shape[1] != k - 1:
        shape, total = [size[0], *spatial, k - 1], size[0] * prod(spatial) * theta.shape[1]
        raise RuntimeError(f"shape '{shape}' is invalid for input of size {total}")
    if not theta.dtype.is_floating_point:
        raise RuntimeError(
            f"affine_grid_generator: adjit computes grids of floating-point theta only, got "
            f"{theta.dtype}"
        )
    return generate_affine_grid(theta, size, align)
