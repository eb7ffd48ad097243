"""Pooling (max/avg/LP 1-3 d, adaptive max/avg, fractional max, max unpool) vs PyTorch on
random geometries: values, indices and input gradients, eager and compiled."""

# Data: 1-3 spatial dims of 1-7 elements, kernels 1-3, strides 1-3, dilations 1-2, padding up
# to half the kernel, ceil mode or not, batched or not; normal inputs, sometimes rounded (ties
# everywhere: the first maximum wins) or with NaNs (the last NaN of a window wins). Indices are
# added to the values (exact integers), so a different index is a different result. Geometries
# whose output would be empty are redrawn: the error texts have their own table in
# tests/nn/test_pool_family_vs_torch.py. Fractional pooling reads its samples from an input.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from . import cases
from .cases import Case

KINDS = ("max", "avg", "lp", "adaptive_max", "adaptive_avg", "fractional", "unpool")


def _out(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    return out - 1 if ceil and (out - 1) * s >= n + p else out


def _filled(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> bool:
    """Whether every window along a dim holds an input element."""
    return all(
        any(0 <= o * s - p + j * d < n for j in range(k)) for o in range(_out(n, k, s, p, d, ceil))
    )


@st.composite
def pooling_cases(draw: Callable[..., Any]) -> Case:
    kind = draw(st.sampled_from(KINDS))
    dims = draw(st.integers(2, 3) if kind == "fractional" else st.integers(1, 3))
    dtype = draw(st.sampled_from(["float64", "float32"]))
    size = [draw(st.integers(1, 7)) for _ in range(dims)]
    kernel = [draw(st.integers(1, 3)) for _ in range(dims)]
    stride = [draw(st.integers(1, 3)) for _ in range(dims)]
    dilation = [draw(st.integers(1, 2)) if kind == "max" else 1 for _ in range(dims)]
    padding = [draw(st.integers(0, k // 2)) if kind != "lp" else 0 for k in kernel]
    ceil = draw(st.booleans())
    geometry = list(zip(size, kernel, stride, padding, dilation, strict=True))
    assume(all(_out(n, k, s, p, d, ceil) >= 1 for n, k, s, p, d in geometry))
    # (a dilated window of padding only: PyTorch's backward writes into the next plane; tested
    # by name in tests/nn/test_pool_family_vs_torch.py)
    assume(all(_filled(n, k, s, p, d, ceil) for n, k, s, p, d in geometry))
    channels = draw(st.integers(1, 3))
    unbatched = draw(st.booleans())
    x = (channels, *size) if unbatched else (draw(st.integers(1, 2)), channels, *size)
    seed = draw(st.integers(0, 2**20))
    data = f"np.random.default_rng({seed}).standard_normal({x})"
    nan = f"np.where(np.random.default_rng({seed + 2}).random({x}) < 0.2, np.nan, {data})"
    data = draw(st.sampled_from([data, f"np.round({data} * 2)", nan]))
    arrays = [f"{data}.astype(np.{dtype})"]
    F, nd = "T.nn.functional", f"{dims}d"
    geo = f"{tuple(kernel)}, {tuple(stride)}, {tuple(padding)}"
    if kind == "max":
        call = f"{F}.max_pool{nd}(x0, {geo}, {tuple(dilation)}, {ceil}, return_indices=True)"
    elif kind == "avg":
        include = draw(st.booleans())
        call = f"{F}.avg_pool{nd}(x0, {geo}, {ceil}, {include})"
    elif kind == "lp":
        p = draw(st.sampled_from([1.0, 2.0, 3.0, 1.5]))
        call = f"{F}.lp_pool{nd}(x0.abs() + 0.25, {p}, {tuple(kernel)}, {tuple(stride)}, {ceil})"
        if dims == 1:
            call = f"{F}.lp_pool1d(x0.abs() + 0.25, {p}, {kernel[0]}, {stride[0]}, {ceil})"
    elif kind in ("adaptive_max", "adaptive_avg"):
        out = tuple(draw(st.integers(1, 8)) for _ in range(dims))
        extra = ", True" if kind == "adaptive_max" else ""
        call = f"{F}.{kind}_pool{nd}(x0, {out}{extra})"
    elif kind == "fractional":
        out = tuple(
            draw(st.integers(1, max(1, n - k + 1))) for n, k in zip(size, kernel, strict=True)
        )
        assume(all(o + k - 1 <= n for o, k, n in zip(out, kernel, size, strict=True)))
        batch = 1 if unbatched else x[0]
        arrays.append(
            f"np.random.default_rng({seed + 1}).random(({batch}, {channels}, {dims}))"
            f".astype(np.{dtype})"
        )
        call = (
            f"{F}.fractional_max_pool{nd}(x0, {tuple(kernel)}, {out}, return_indices=True, "
            "_random_samples=x1)"
        )
    else:  # unpool: the max pool's indices put back onto the input's plane
        call = (
            f"{F}.max_unpool{nd}(*{F}.max_pool{nd}(x0, {geo}, ceil_mode={ceil}, "
            f"return_indices=True), {geo}, output_size={tuple(size)})"
        )
    body = [
        f"r = {call}",
        "y = r[0] + r[1].to(r[0].dtype) * 0.5 if isinstance(r, tuple) else r",
        "return y * T.cos(T.arange(y.numel(), dtype=y.dtype).reshape(y.shape) * 0.7)",
    ]
    grads = [True] + [False] * (len(arrays) - 1)
    return Case(f"pooling {kind}{nd} {dtype}", body, arrays, grads)


def check_pooling(case: Case) -> None:
    # maxima are input elements (exact); sums of at most 27 terms and one division (PyTorch
    # divides the sum, adaptive averages here multiply by 1/n): a few ulp
    rtol = {"float64": 1e-12, "float32": 1e-5}[case.kind.split()[2]]
    cases.check_eager_then_compiled(case, rtol)
