"""Resampling vs PyTorch on random geometries: F.interpolate (every mode, sizes and scale
factors), F.grid_sample (every mode and padding, 4-D and 5-D), F.affine_grid and
F.embedding_bag; values and gradients, eager and compiled."""

# Data: 1-3 spatial dims of 1-6 elements; output sizes 1-9 or scale factors from a list of
# exact and inexact ratios (with or without recompute_scale_factor); grids uniform in
# [-1.6, 1.6], sometimes snapped to quarter steps (sample points and bounds exactly); bags
# from sorted offsets (empty bags included). Not drawn: 1-D/3-D nearest with a scale factor
# whose output size equals or doubles the input (PyTorch's backward disagrees with its own
# forward there: Note [nearest backward] in tests/nn/test_resample_vs_torch.py) and
# embedding_bag's scale_grad_by_freq (PyTorch's CPU gradient divides by the wrong counts;
# documented in tests/nn/test_embedding_vs_torch.py); antialias with a scale factor or an
# output width of 1 (PyTorch's backward and forward misbehave there: Note [aa backward]).

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from . import cases
from .cases import Case

_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
_SCALES = [0.5, 0.7, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0, 1 / 3]


def _normal(seed: int, shape: tuple[int, ...], dtype: str) -> str:
    return f"np.random.default_rng({seed}).standard_normal({shape}).astype(np.{dtype})"


@st.composite
def _interpolate(draw: Callable[..., Any], dtype: str, seed: int) -> Case:
    dims = draw(st.integers(1, 3))
    mode = draw(
        st.sampled_from(
            ["nearest", "nearest-exact", "area", _LINEAR[dims]] + (["bicubic"] if dims == 2 else [])
        )
    )
    size = tuple(draw(st.integers(1, 6)) for _ in range(dims))
    kw: dict[str, Any] = {"mode": mode}
    if draw(st.booleans()):
        kw["size"] = tuple(draw(st.integers(1, 9)) for _ in range(dims))
    else:
        factors = tuple(draw(st.sampled_from(_SCALES)) for _ in range(dims))
        assume(all(int(n * s) >= 1 for n, s in zip(size, factors, strict=True)))
        kw["scale_factor"] = factors
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, True]))
        if mode == "nearest" and dims != 2 and not kw["recompute_scale_factor"]:
            outs = [int(n * s) for n, s in zip(size, factors, strict=True)]
            assume(
                all(
                    o not in (n, 2 * n) or o == n * s
                    for o, n, s in zip(outs, size, factors, strict=True)
                )
            )
    if mode not in ("nearest", "nearest-exact", "area"):
        kw["align_corners"] = draw(st.booleans())
    if mode in ("bilinear", "bicubic") and "size" in kw and kw["size"][-1] > 1:
        kw["antialias"] = draw(st.booleans())
    options = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    body = [
        f"y = T.nn.functional.interpolate(x0, {options})",
        "return y * T.cos(T.arange(y.numel(), dtype=y.dtype).reshape(y.shape) * 0.7)",
    ]
    x = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *size)
    return Case(f"resample interpolate {dtype}", body, [_normal(seed, x, dtype)], [True])


@st.composite
def _grid_sample(draw: Callable[..., Any], dtype: str, seed: int) -> Case:
    dims = draw(st.integers(2, 3))
    mode = draw(st.sampled_from(["bilinear", "nearest"] + (["bicubic"] if dims == 2 else [])))
    pad = draw(st.sampled_from(["zeros", "border", "reflection"]))
    align = draw(st.booleans())
    size = tuple(draw(st.integers(1, 5)) for _ in range(dims))
    out = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    grid = f"np.random.default_rng({seed + 1}).uniform(-1.6, 1.6, {(n, *out, dims)})"
    if draw(st.booleans()):
        grid = f"np.round({grid} * 4) / 4"
    arrays = [_normal(seed, (n, c, *size), dtype), f"({grid}).astype(np.{dtype})"]
    body = [
        f"y = T.nn.functional.grid_sample(x0, x1, mode={mode!r}, padding_mode={pad!r}, "
        f"align_corners={align})",
        "return y * T.cos(T.arange(y.numel(), dtype=y.dtype).reshape(y.shape) * 0.7)",
    ]
    return Case(f"resample grid_sample {dtype}", body, arrays, [True, True])


@st.composite
def _affine_grid(draw: Callable[..., Any], dtype: str, seed: int) -> Case:
    dims = draw(st.integers(2, 3))
    n = draw(st.integers(1, 2))
    size = (n, 1, *(draw(st.integers(2, 5)) for _ in range(dims)))
    align = draw(st.booleans())
    body = [
        f"y = T.nn.functional.affine_grid(x0, {size}, align_corners={align})",
        "return y * T.cos(T.arange(y.numel(), dtype=y.dtype).reshape(y.shape) * 0.7)",
    ]
    theta = _normal(seed, (n, dims, dims + 1), dtype)
    return Case(f"resample affine_grid {dtype}", body, [theta], [True])


@st.composite
def _embedding_bag(draw: Callable[..., Any], dtype: str, seed: int) -> Case:
    rows, width = draw(st.integers(2, 6)), draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["sum", "mean", "max"]))
    length = draw(st.integers(0, 7))
    cuts = sorted(draw(st.lists(st.integers(0, length), min_size=1, max_size=4)))
    last = draw(st.booleans())
    offsets = [0, *cuts[1:]] + ([length] if last else [])
    pad = draw(st.sampled_from([None, 0, rows - 1]))
    weighted = mode == "sum" and draw(st.booleans())
    arrays = [
        _normal(seed, (rows, width), dtype),
        f"np.random.default_rng({seed + 1}).integers(0, {rows}, {length})",
        f"np.array({offsets}, dtype=np.int64)",
    ]
    extra = ""
    if weighted:
        arrays.append(_normal(seed + 2, (length,), dtype))
        extra = ", per_sample_weights=x3"
    body = [
        f"y = T.nn.functional.embedding_bag(x1, x0, x2, mode={mode!r}, "
        f"include_last_offset={last}, padding_idx={pad}{extra})",
        "return y * T.cos(T.arange(y.numel(), dtype=y.dtype).reshape(y.shape) * 0.7)",
    ]
    flags = [True, False, False] + ([True] if weighted else [])
    return Case(f"resample embedding_bag {dtype}", body, arrays, flags)


@st.composite
def resample_cases(draw: Callable[..., Any]) -> Case:
    dtype = draw(st.sampled_from(["float64", "float32"]))
    seed = draw(st.integers(0, 2**20))
    kind = draw(st.sampled_from([_interpolate, _grid_sample, _affine_grid, _embedding_bag]))
    return draw(kind(dtype, seed))


def check_resample(case: Case) -> None:
    # float64: sums of at most 64 taps; float32: a few ulps of the largest term (PyTorch's
    # kernels sum taps and corners in another order)
    rtol = {"float64": 1e-11, "float32": 2e-4}[case.kind.split()[2]]
    cases.check_eager_then_compiled(case, rtol)
