"""Issue 13's odds and ends (fmax/fmin, gcd/lcm, frexp, nextafter, ldexp, heaviside, deg2rad,
diff, trapezoid, cov, gradient, renorm, isin, *_scatter, histc, bincount) vs PyTorch: values and
gradients, eager and compiled."""

# Data: normal floats at a random scale, few distinct small integers as floats (ties and
# zeros: heaviside's 0, fmax's equal pairs), or those with NaN, infinities and -0.0 sprinkled
# in (fmax/fmin's NaN rules, nextafter's and frexp's specials); 1-3 dims, sizes 0-5, the
# second operand broadcast against the first. Integer programs (gcd, lcm, bincount) draw
# int64/int32 values with negatives and zeros. The output is weighted by a random tensor, so a
# gradient reaching the wrong element shows. Elementwise ops must agree exactly (both sides
# compute the same rounded formula); gradients summed over broadcast dims and sums (cov,
# trapezoid, gradient) within a few ulp per term.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case

# name -> (return expression over x0, x1 (the broadcast operand) and w (a weight), the data
# kinds it draws from, ulps per term allowed, eager only)
PROGRAMS: dict[str, tuple[str, tuple[str, ...], int, bool]] = {
    "fmax": ("T.fmax(x0, x1) * w", ("normal", "ties", "specials"), 8, False),
    "fmin": ("x0.fmin(x1) * w", ("normal", "ties", "specials"), 8, False),
    "nextafter": ("T.nextafter(x0, x1) * w", ("normal", "ties", "specials"), 8, False),
    "frexp": ("T.frexp(x0).mantissa * w + T.frexp(x0).exponent", ("normal", "specials"), 0, False),
    "ldexp": (
        # (exponents >= 0: PyTorch's gradient for a negative one is 0, an integer pow(2, e))
        "T.ldexp(x0, x1.nan_to_num().clamp(0, 60).round().long()) * w",
        ("normal",),
        0,
        False,
    ),
    "heaviside": (
        "T.heaviside(x0, x1.expand_as(x0).contiguous()) * w",
        ("ties", "specials"),
        0,
        False,
    ),
    "deg2rad": ("T.deg2rad(x0) * w", ("normal", "specials"), 0, False),
    "rad2deg": ("x0.rad2deg() * w", ("normal", "specials"), 0, False),
    "diff": ("T.diff(x0, n={n}, dim={d}) * 1", ("normal", "ties"), 0, False),
    "trapezoid": ("T.trapezoid(x0, dim={d}) * 1", ("normal", "ties"), 8, False),
    "cumulative_trapezoid": (
        "T.cumulative_trapezoid(x0, dx=0.5, dim={d}) * 1",
        ("normal",),
        8,
        False,
    ),
    "gradient": ("T.gradient(x0, dim={d}, edge_order={e})[0] * 1", ("normal", "ties"), 8, False),
    "cov": ("T.cov(x0.flatten(0, -2) if x0.ndim > 1 else x0) * 1", ("normal", "ties"), 64, False),
    "renorm": ("T.renorm(x0, 2, {d}, 1.0) * w", ("normal",), 8, False),
    "isin": ("T.isin(x0, x1)", ("ties", "specials"), 0, False),
    "slice_scatter": (
        "T.slice_scatter(x0, x0.narrow({d}, 0, 1) * 2, {d}, 0, 1) * w",
        ("normal",),
        0,
        False,
    ),
    "histc": ("T.histc(x0, {b})", ("normal", "ties"), 0, True),
    "gcd": ("T.gcd(x0, x1)", ("int",), 0, False),
    "lcm": ("T.lcm(x0, x1)", ("int",), 0, False),
    "bincount": ("T.bincount(x0.flatten().abs(), minlength={b})", ("int",), 0, True),
}
# sums that cancel: float64 only (PyTorch's float32 cumsum accumulates in double, adjit's in
# float32: their last bits differ by more than an ulp of a result that cancels)
FLOAT64_ONLY = {"trapezoid", "cumulative_trapezoid", "gradient", "cov", "renorm"}
# programs that need dims of at least 2 (or 3, edge order 2) along d, or no empty dims
MIN_SIZE = {"gradient": 3, "renorm": 1, "slice_scatter": 1, "cov": 1, "histc": 1}


def _data(draw: Callable[..., Any], kind: str, shape: tuple[int, ...], seed: int) -> str:
    rng = f"np.random.default_rng({seed})"
    if kind == "normal":
        scale = draw(st.sampled_from(["1.0", "1e-3", "1e3", "1e-30", "1e30"]))
        return f"{rng}.standard_normal({shape}) * {scale}"
    ties = f"{rng}.integers(-2, 3, {shape}).astype(float)"
    if kind == "ties":
        return ties
    if kind == "int":
        return f"{rng}.integers(-40, 41, {shape})"
    pick = f"np.random.default_rng({seed + 1}).integers(0, 10, {shape})"
    return f"np.choose(np.minimum({pick}, 4), [{ties}, np.nan, np.inf, -np.inf, -0.0])"


@st.composite
def misc_cases(draw: Callable[..., Any]) -> Case:
    name = draw(st.sampled_from(sorted(PROGRAMS)))
    template, kinds, _, _ = PROGRAMS[name]
    kind = draw(st.sampled_from(kinds))
    floats = ["float64"] if name in FLOAT64_ONLY else ["float64", "float32"]
    dtype = draw(st.sampled_from(["int64", "int32"] if kind == "int" else floats))
    ndim = draw(st.integers(1, 3))
    low = MIN_SIZE.get(name, 0)
    shape = tuple(draw(st.integers(low, 5)) for _ in range(ndim))
    d = draw(st.integers(-ndim, ndim - 1))
    edge = draw(st.integers(1, 2))
    if name == "gradient":
        shape = tuple(max(s, edge + 1) if i == d % ndim else s for i, s in enumerate(shape))
    # the broadcast operand: some leading dims dropped, some dims set to 1
    drop = draw(st.integers(0, ndim))
    shape1 = tuple(1 if draw(st.booleans()) else s for s in shape[drop:])
    seed = draw(st.integers(0, 2**20))
    arrays = [_data(draw, kind, shape, seed), _data(draw, kind, shape1, seed + 11)]
    arrays.append(f"np.random.default_rng({seed + 7}).uniform(0.5, 1.5, {shape})")
    if dtype.startswith("int"):
        arrays = [f"np.asarray({a}).astype(np.{dtype})" for a in arrays[:2]] + [arrays[2]]
    else:
        arrays = [f"np.asarray({a}).astype(np.{dtype})" for a in arrays]
    fields = {"d": d, "n": draw(st.integers(0, 3)), "e": edge, "b": draw(st.integers(1, 7))}
    body = ["w = x2", f"return {template.format(**fields)}"]
    floats = dtype.startswith("float")
    grads = [floats and name not in ("histc", "isin"), floats and draw(st.booleans()), False]
    return Case(f"misc {name} {dtype}", body, arrays, grads)


def check_misc(case: Case) -> None:

    name, dtype = case.kind.split()[1:3]
    ulps = PROGRAMS[name][2]
    rtol = ulps * float(np.finfo(dtype).eps) if dtype.startswith("float") else 0.0
    cases.check_eager_then_compiled(case, rtol, data_dependent=PROGRAMS[name][3])
