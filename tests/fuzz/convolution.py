"""Convolutions (conv1d/2d/3d, conv_transpose1d/2d/3d) vs PyTorch on random geometries: values
and the input, weight and bias gradients, eager and compiled."""

# Data: 1-3 spatial dims of 1-6 elements, kernels 1-3, strides 1-3, dilations 1-2, groups 1-3,
# symmetric padding up to the kernel's reach (or 'same' / 'valid' for plain convolutions),
# output_padding below stride or dilation, with or without bias, batched or not; normal inputs.
# Geometries whose window does not fit, or whose transposed output is empty, are redrawn: the
# error texts have their own table in tests/nn/test_conv_family_vs_torch.py.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from . import cases
from .cases import Case


@st.composite
def convolution_cases(draw: Callable[..., Any]) -> Case:
    dims = draw(st.integers(1, 3))
    transposed = draw(st.booleans())
    dtype = draw(st.sampled_from(["float64", "float32"]))
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    size = [draw(st.integers(1, 6)) for _ in range(dims)]
    kernel = [draw(st.integers(1, 3)) for _ in range(dims)]
    stride = [draw(st.integers(1, 3)) for _ in range(dims)]
    dilation = [draw(st.integers(1, 2)) for _ in range(dims)]
    reach = [d * (k - 1) for d, k in zip(dilation, kernel, strict=True)]
    kw: dict[str, Any] = {"stride": tuple(stride), "dilation": tuple(dilation), "groups": groups}
    padding: Any = tuple(draw(st.integers(0, r)) for r in reach)
    if transposed:
        out_pad = [
            draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True)
        ]
        kw["output_padding"] = tuple(out_pad)
        out = [
            (n - 1) * s - 2 * p + r + o + 1
            for n, s, p, r, o in zip(size, stride, padding, reach, out_pad, strict=True)
        ]
        assume(min(out) >= 1)
        weight = (cin, cout // groups, *kernel)
    else:
        padding = draw(
            st.sampled_from([padding, "valid", "same"] if stride == [1] * dims else [padding])
        )
        pads = (
            [0] * dims
            if padding == "valid"
            else reach
            if padding == "same"
            else [2 * p for p in padding]
        )
        assume(all(n + p > r for n, p, r in zip(size, pads, reach, strict=True)))
        weight = (cout, cin // groups, *kernel)
    kw["padding"] = padding
    unbatched = draw(st.booleans())
    x = (cin, *size) if unbatched else (draw(st.integers(1, 2)), cin, *size)
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**20))
    rng = "np.random.default_rng"
    shapes = [x, weight] + ([(cout,)] if bias else [])
    arrays = [
        f"{rng}({seed + k}).standard_normal({s}).astype(np.{dtype})" for k, s in enumerate(shapes)
    ]
    name = f"conv_transpose{dims}d" if transposed else f"conv{dims}d"
    args = ", ".join(f"x{k}" for k in range(len(shapes)))
    options = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    body = [
        f"y = T.nn.functional.{name}({args}, {options})",
        "return y * T.cos(T.arange(y.numel(), dtype=y.dtype).reshape(y.shape) * 0.7)",
    ]
    return Case(f"convolution {name} {dtype}", body, arrays, [True] * len(shapes))


def check_convolution(case: Case) -> None:
    # sums of at most 3 * 2 * 27 products: float64 ~1e-15 relative; float32 a few ulp of the
    # largest term (PyTorch's oneDNN blocks its sums in another order)
    rtol = {"float64": 1e-11, "float32": 2e-4}[case.kind.split()[2]]
    cases.check_eager_then_compiled(case, rtol)
