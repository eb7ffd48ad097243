"""``F.interpolate`` and its deprecated aliases: per-dimension gathers with constant weights."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from adjit.runtime import functional as R
from adjit.runtime.device import contiguous
from adjit.runtime.dispatch import composite
from adjit.runtime.kernel_dtypes import not_implemented
from adjit.runtime.opmath import in_float32
from adjit.runtime.tensor import Tensor

__all__ = ["interpolate", "upsample", "upsample_bilinear", "upsample_nearest"]

# Note [resampling as gathers]
# Every mode but 'area' is separable: output position j along a spatial dimension reads k input
# positions (1 for nearest, 2 for linear, 4 for bicubic) with weights that depend only on the
# sizes and the scale. The taps are computed at trace time with PyTorch's coordinate rules, in
# PyTorch's "opmath" precision (float32 for float32/float16/bfloat16 inputs, float64 for
# float64), so the weights are PyTorch's bit for bit. The resample along one dimension is one
# gather of the (out, k) tap table, a multiply by the weights and a sum over k; PyTorch's CPU
# kernel also interpolates the innermost dimension first. The gradient is the gather's (an
# index-add of the weighted gradient), PyTorch's backward. 'area' is adaptive average pooling:
# windows [floor(j n / m), ceil((j + 1) n / m)) grouped by length, so no tap has weight 0
# (0 * inf would make a NaN PyTorch does not make). antialias=True (bilinear, bicubic, lanczos)
# widens the triangle, cubic (a = -0.5) or Lanczos-3 filter by the downscale factor and
# normalizes its taps, as PyTorch's ``_compute_weights_aa``; outputs are grouped by tap count
# as for 'area'. float16/bfloat16 bicubic rounds its weights to the input's type first, as
# PyTorch's kernel stores them. Two
# PyTorch 2.13 CPU behaviours are not followed (tests/nn/test_resample_vs_torch.py): its
# antialiased kernel repeats the first output row when the output width is 1, and its
# antialiased backward resamples a dimension whose size stays (the forward copies it).

_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_NO_ALIGN = ("nearest", "area", "nearest-exact")
# the mode each input rank takes, and the PyTorch node it makes
_LINEAR_MODE = {3: "linear", 4: "bilinear", 5: "trilinear"}
_NODE = {
    "nearest": "UpsampleNearest{}DBackward0",
    "nearest-exact": "UpsampleNearestExact{}DBackward0",
    "linear": "UpsampleLinear1DBackward0",
    "bilinear": "UpsampleBilinear2DBackward0",
    "trilinear": "UpsampleTrilinear3DBackward0",
    "bicubic": "UpsampleBicubic2DBackward0",
    "area": "AdaptiveAvgPool{}DBackward0",
    "lanczos": "UpsampleLanczos2DBackward0",
}
# PyTorch's CPU kernel named in its refusal of integer (and bool) inputs, by mode and rank
_INT_KERNEL = {
    ("nearest", 4): "upsample_nearest2d_channels_last",
    ("nearest-exact", 4): "upsample_nearest2d_channels_last",
    ("bilinear", 4): "upsample_bilinear2d_channels_last",
    ("nearest", 3): "compute_indices_weights_nearest",
    ("nearest", 5): "compute_indices_weights_nearest",
    ("nearest-exact", 3): "compute_indices_weights_nearest",
    ("nearest-exact", 5): "compute_indices_weights_nearest",
    ("linear", 3): "compute_indices_weights_linear",
    ("trilinear", 5): "compute_indices_weights_linear",
    ("bicubic", 4): "compute_indices_weights_cubic",
    ("area", 3): "adaptive_avg_pool2d",
    ("area", 4): "adaptive_avg_pool2d",
    ("area", 5): "adaptive_avg_pool3d_cpu",
}
_CUBIC_A = -0.75


# ---- coordinate rules (PyTorch's UpSample.h) ----------------------------------------------------
def _scale(n_in: int, n_out: int, scale: float | None, align: bool, ft: Any) -> Any:
    """``area_pixel_compute_scale`` in the opmath type ``ft``."""
    if align:
        return ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(n_in) / ft(n_out)


def _source(n_in: int, n_out: int, scale: float | None, align: bool, ft: Any, cubic: bool) -> Any:
    """``area_pixel_compute_source_index`` for every output position."""
    s = _scale(n_in, n_out, scale, align, ft)
    dst = np.arange(n_out).astype(ft)
    if align:
        return s * dst
    src = s * (dst + ft(0.5)) - ft(0.5)
    return src if cubic else np.maximum(src, ft(0))


def nearest_taps(
    n_in: int, n_out: int, scale: float | None, exact: bool, shortcut: bool = False
) -> np.ndarray:
    """(n_out, 1): PyTorch's nearest (or nearest-exact) source index, computed in float32.
    PyTorch's 2-D nearest kernel (``nearest_idx``, ``shortcut``) copies when the sizes are equal
    and halves the index when the output is twice the input, whatever the scale factor says;
    its 1-D and 3-D kernels do not."""
    j = np.arange(n_out)
    if shortcut and n_out == n_in:
        return j[:, None]
    if shortcut and n_out == 2 * n_in:
        return (j >> 1)[:, None]
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(n_in) / n_out
    # (exact: floorf((j + 0.5) * s), a double product rounded to float)
    pos = ((j + 0.5) * np.float64(s)).astype(np.float32) if exact else j.astype(np.float32) * s
    return np.minimum(np.floor(pos).astype(np.int64), n_in - 1)[:, None]


def linear_taps(
    n_in: int, n_out: int, scale: float | None, align: bool, ft: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(n_out, 2) indices and weights: ``compute_source_index_and_lambda``."""
    if n_out == n_in:
        j = np.arange(n_out)
        return np.stack([j, j], 1), np.stack([np.ones(n_out, ft), np.zeros(n_out, ft)], 1)
    src = _source(n_in, n_out, scale, align, ft, cubic=False)
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    i1 = i0 + (i0 < n_in - 1)
    lam1 = np.clip(src - i0.astype(ft), ft(0), ft(1)).astype(ft)
    lam0 = (ft(1) - lam1).astype(ft)
    return np.stack([i0, i1], 1), np.stack([lam0, lam1], 1)


def _cubic1(x: Any, a: Any) -> Any:
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic2(x: Any, a: Any) -> Any:
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def cubic_taps(
    n_in: int, n_out: int, scale: float | None, align: bool, ft: Any
) -> tuple[np.ndarray, np.ndarray]:
    """(n_out, 4) indices clamped to the border and Keys' weights with A = -0.75."""
    src = _source(n_in, n_out, scale, align, ft, cubic=True)
    i = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n_in - 1)
    t = np.clip(src - i.astype(ft), ft(0), ft(1)).astype(ft)
    a, one = ft(_CUBIC_A), ft(1)
    w = [_cubic2(t + one, a), _cubic1(t, a), _cubic1(one - t, a), _cubic2(one - t + one, a)]
    idx = np.clip(i[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
    return idx, np.stack(w, 1).astype(ft)


def area_groups(n_in: int, n_out: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Adaptive-average windows grouped by length: (output positions, (count, length) taps)."""
    j = np.arange(n_out)
    lo, hi = (j * n_in) // n_out, -(-((j + 1) * n_in) // n_out)
    groups = []
    for length in np.unique(hi - lo):
        sel = np.nonzero(hi - lo == length)[0]
        groups.append((sel, lo[sel][:, None] + np.arange(length)[None, :]))
    return groups


def _sinc(x: np.ndarray, ft: Any) -> np.ndarray:
    t = (ft(np.pi) * x).astype(ft)
    return np.where(x == 0, ft(1), np.sin(t) / np.where(x == 0, ft(1), t)).astype(ft)


def _aa_filter(x: np.ndarray, mode: str, ft: Any) -> np.ndarray:
    """PyTorch's antialiasing filters: the triangle, Keys' cubic with a = -0.5 (Pillow's) or
    Lanczos-3, sinc(x) sinc(x / 3)."""
    x = np.abs(x)
    if mode == "bilinear":
        return np.where(x < 1, ft(1) - x, ft(0)).astype(ft)
    if mode == "lanczos":
        return np.where(x < 3, _sinc(x, ft) * _sinc((x / ft(3)).astype(ft), ft), ft(0)).astype(ft)
    a = ft(-0.5)
    return np.where(x < 1, _cubic1(x, a), np.where(x < 2, _cubic2(x, a), ft(0))).astype(ft)


_AA_HALF_WIDTH = {"bilinear": 1, "bicubic": 2, "lanczos": 3}


def aa_groups(
    n_in: int, n_out: int, scale: float | None, align: bool, ft: Any, mode: str
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Antialiased taps (``_compute_weights_aa``): a filter widened by the downscale factor,
    normalized to sum 1; outputs grouped by tap count (positions, indices, weights)."""
    s = _scale(n_in, n_out, scale, align, ft)
    half = ft(_AA_HALF_WIDTH[mode])
    support = half * s if s >= 1 else half
    invscale = ft(1) / s if s >= 1 else ft(1)
    center = (s * (np.arange(n_out).astype(ft) + ft(0.5))).astype(ft)
    lo = np.maximum((center - support + ft(0.5)).astype(np.int64), 0)
    size = np.minimum((center + support + ft(0.5)).astype(np.int64), n_in) - lo
    groups = []
    for length in np.unique(size):
        sel = np.nonzero(size == length)[0]
        idx = lo[sel][:, None] + np.arange(length)[None, :]
        x = ((idx - center[sel][:, None]).astype(ft) + ft(0.5)) * invscale
        w = _aa_filter(x.astype(ft), mode, ft)
        total = w.sum(1, keepdims=True, dtype=ft)
        w = np.where(total != 0, w / np.where(total != 0, total, ft(1)), w).astype(ft)
        groups.append((sel, idx, w))
    return groups


# ---- the decomposition -------------------------------------------------------------------------
def _gather(a: Tensor, axis: int, idx: np.ndarray) -> Tensor:
    """``a`` indexed along ``axis`` by the (m, k) table, as shape (..., m, k, ...)."""
    flat = R.getitem(a, (slice(None),) * axis + (Tensor._make(idx.reshape(-1)),))
    return R.reshape(flat, (*a.shape[:axis], *idx.shape, *a.shape[axis + 1 :]))


def _weighted(a: Tensor, axis: int, idx: np.ndarray, w: np.ndarray | None) -> Tensor:
    if w is None:  # one tap of weight 1 (nearest)
        return R.getitem(a, (slice(None),) * axis + (Tensor._make(idx[:, 0]),))
    taps = _gather(a, axis, idx)
    shape = w.shape + (1,) * (a.ndim - axis - 1)
    return R.sum(taps * Tensor._make(w.reshape(shape).astype(a.dtype.np)), axis + 1)


def _grouped(a: Tensor, axis: int, groups: list[tuple[np.ndarray, Any, Any]]) -> Tensor:
    """Outputs computed per group of equal tap counts (means when the weights are None),
    then put back in order."""

    def part(idx: np.ndarray, w: np.ndarray | None) -> Tensor:
        if w is None:
            return R.mean(_gather(a, axis, idx), axis + 1)
        return _weighted(a, axis, idx, w)

    parts = [part(idx, w) for _, idx, w in groups]
    if len(parts) == 1:
        return parts[0]
    order = np.argsort(np.concatenate([sel for sel, _, _ in groups]), kind="stable")
    return R.getitem(R.cat(parts, axis), (slice(None),) * axis + (Tensor._make(order),))


def _resample(
    a: Tensor,
    mode: str,
    sizes: list[int],
    scales: list[float | None],
    align: bool,
    antialias: bool = False,
    narrow: Any = None,
) -> Tensor:
    """``narrow``: the float16/bfloat16 dtype of an input computed in float32, whose type
    PyTorch's bicubic kernel stores its weights in (they are rounded to it here too)."""
    ft = np.float64 if a.dtype.name == "float64" else np.float32
    for k in reversed(range(len(sizes))):  # innermost first, as PyTorch's kernel
        axis, n_in, n_out, s = 2 + k, a.shape[2 + k], sizes[k], scales[k]
        if mode == "area":
            a = _grouped(a, axis, [(sel, idx, None) for sel, idx in area_groups(n_in, n_out)])
        elif antialias:  # (PyTorch's antialiased kernel copies a dimension whose size stays)
            if n_in == n_out:
                continue
            taps = aa_groups(n_in, n_out, s, align, ft, mode)
            a = _grouped(a, axis, list(taps))
        elif mode in ("nearest", "nearest-exact"):
            exact, shortcut = mode == "nearest-exact", mode == "nearest" and len(sizes) == 2
            a = _weighted(a, axis, nearest_taps(n_in, n_out, s, exact, shortcut), None)
        elif mode == "bicubic":
            idx, w = cubic_taps(n_in, n_out, s, align, ft)
            if narrow is not None:
                w = Tensor._make(w).to(narrow).float()._data
            a = _weighted(a, axis, idx, w)
        else:
            a = _weighted(a, axis, *linear_taps(n_in, n_out, s, align, ft))
    return a


# ---- arguments, checks and errors (PyTorch's F.interpolate) -----------------------------------
def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return True
    if isinstance(x, int | np.integer):
        return True
    return isinstance(x, Tensor) and not x.dtype.is_floating_point


def _sizes(
    input: Tensor, size: Any, scale_factor: Any, recompute: bool | None
) -> tuple[list[int], list[float | None]]:
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, list | tuple):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {list(input.shape[2:])} and output size "
                    f"of {size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                    "and output size in (o1, o2, ...,oK) format."
                )
            if not all(_is_integer(x) for x in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                    f"Tuple[int, int, int], but got size with types {[type(x) for x in size]}"
                )
            out = [int(x) for x in size]
        else:
            if not _is_integer(size):
                raise TypeError(
                    f"interpolate(): size must be an int or a tuple of ints, but got "
                    f"{type(size).__name__}"
                )
            out = [int(size)] * dim
        if recompute:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        return out, [None] * dim
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if isinstance(scale_factor, list | tuple):
        if len(scale_factor) != dim:
            raise ValueError(
                "Input and scale_factor must have the same number of spatial dimensions, but "
                f"got input with spatial dimensions of {list(input.shape[2:])} and "
                f"scale_factor of shape {scale_factor}. Please provide input tensor in (N, C, "
                "d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format."
            )
        factors = [float(s) for s in scale_factor]
    else:
        factors = [float(scale_factor)] * dim
    out = [int(n * s) for n, s in zip(input.shape[2:], factors, strict=True)]
    return out, [None] * dim if recompute else list(factors)


def _check_sizes(input: Tensor, out: list[int]) -> None:
    ins = list(input.shape[2:])
    if all(n > 0 for n in ins) and all(o > 0 for o in out):
        return
    names = "DHW"[3 - len(ins) :]
    got_in = ", ".join(f"{c}: {n}" for c, n in zip(names, ins, strict=True))
    got_out = ", ".join(f"{c}: {n}" for c, n in zip(names, out, strict=True))
    sep = " and" if len(ins) == 1 else ""
    raise RuntimeError(
        "Input and output sizes should be greater than 0, but got input "
        f"({got_in}){sep} output ({got_out})"
    )


def _unsupported(input: Tensor, mode: str) -> NotImplementedError:
    return NotImplementedError(
        "Input Error: Only 3D, 4D and 5D input Tensors supported"
        f" (got {input.ndim}D) for the modes: nearest | linear | bilinear | bicubic | trilinear "
        f"| lanczos | area | nearest-exact (got {mode})"
    )


def _check_mode(input: Tensor, mode: str, antialias: bool, align_corners: bool | None) -> None:
    if input.ndim not in (3, 4, 5) or mode not in _MODES + ("lanczos",):
        raise _unsupported(input, mode)
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.ndim == 4):
        raise ValueError(
            "Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and "
            "requires a 4-D tensor as input"
        )
    if mode == "lanczos":
        if input.ndim != 4:
            raise _unsupported(input, mode)
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if mode == "bicubic" and input.ndim != 4:
        raise _unsupported(input, mode)
    linear = _LINEAR_MODE[input.ndim]
    if mode in ("linear", "bilinear", "trilinear") and mode != linear:
        wanted = {"linear": "3D", "bilinear": "4D", "trilinear": "5D"}[mode]
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {wanted} input")


def _check_dtype(input: Tensor, mode: str, antialias: bool) -> None:
    dt = input.dtype
    if antialias and dt.name != "uint8" and dt.name not in ("float32", "float64"):
        raise not_implemented("compute_index_ranges_weights", dt)
    if dt.is_floating_point:
        return
    if dt.name == "uint8" and mode in ("nearest", "nearest-exact"):
        return
    if dt.name == "uint8" and mode != "area":  # PyTorch rounds uint8 its own way
        raise NotImplementedError(
            f"adjit: F.interpolate(mode='{mode}') of uint8 tensors is not implemented"
        )
    raise not_implemented(_INT_KERNEL[(mode, input.ndim)], dt)


def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resample the spatial dimensions of a (N, C, [D, [H,]] W) tensor (see Note [resampling as
    gathers])."""
    if mode in _NO_ALIGN:
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    out, scales = _sizes(input, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        scales = [None] * len(out)
    _check_mode(input, mode, antialias, align_corners)
    _check_dtype(input, mode, antialias)
    _check_sizes(input, out)
    dims = input.ndim - 2
    name = _NODE[mode].format(dims)
    if mode == "area" and dims == 1:
        name = "SqueezeBackward1"
    if antialias:
        name = name.replace("2DBackward0", "2DAaBackward0")
    align = bool(align_corners)
    narrow = input.dtype if input.dtype.is_reduced_float else None
    fn = in_float32(lambda a: _resample(a, mode, out, scales, align, antialias, narrow))
    # PyTorch's result is contiguous (Note [PyTorch's layouts] in functional_convnd.py)
    return composite(name, lambda a: contiguous(fn(a)), input)


def upsample(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    warnings.warn(
        "`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
        UserWarning,
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    warnings.warn(
        "`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
        UserWarning,
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    warnings.warn(
        "`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
        UserWarning,
        stacklevel=2,
    )
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
