"""Math functions over the whole exponent range, compiled and eager, within a ulp bound."""

# One function per case on ~2000 values: |x| log-uniform from the smallest subnormal to the
# largest finite value (2**-149 .. 2**128 for float32, 2**-1074 .. 2**1024 for float64), both
# signs, optionally confined to a band of exponents (so the ordinary range is dense too), plus
# NaN, ±inf, ±0 and the extreme finite values. The reference is float64 for float32 inputs and
# long double (80-bit on x86-64) for float64 ones, rounded to the input's type; the error is
# the distance in ulp between adjit's result and that rounded reference (the two's-complement
# order of the bit patterns, so ±0 are 0 apart, the largest finite value and inf 1 apart).
# Bounds: Note [vecmath accuracy] in codegen/vecmath.py promises <= 4 ulp; one more for the
# reference's own rounding. A result that is NaN where the reference is not (or the reverse),
# or the wrong sign of a zero result, fails whatever the bound. Gradients (eager and compiled
# backward) are compared with PyTorch's backward in the same dtype and in float64 (rounded):
# the same formula, so they agree with one of them within 64 ulp or 8 eps absolute (1 - tanh**2
# near 1 cancels in float32) -- a wrong range reduction or a NaN is off by far more.

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case

ULP_BOUND = 5
GRAD_ULP, GRAD_EPS = 64, 8


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """PyTorch's 1 / (1 + e**-x): the exact value, but 0 where e**-x overflows the result's
    format (x below about -88.7 in float32), as PyTorch computes it."""
    narrow = np.float32 if x.dtype == np.float64 else np.float64  # (reference() widens)
    with np.errstate(over="ignore"):
        overflows = np.isinf(np.exp(-x.astype(narrow)))
        return np.where(overflows, 0.0, 1 / (1 + np.exp(-x)))


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: math.erf(float(v)), otypes=[np.float64])(x)


# name -> (template over {0}, reference on float64/long-double arrays)
FUNCTIONS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "sin": ("T.sin({0})", np.sin),
    "cos": ("{0}.cos()", np.cos),
    "exp": ("T.exp({0})", np.exp),
    "log": ("T.log({0})", np.log),
    "log1p": ("T.log1p({0})", np.log1p),
    "tanh": ("T.tanh({0})", np.tanh),
    "sigmoid": ("{0}.sigmoid()", _sigmoid),
    "erf": ("T.erf({0})", _erf),
    "sqrt": ("T.sqrt({0})", np.sqrt),
    "rsqrt": ("T.rsqrt({0})", lambda x: 1 / np.sqrt(x)),
    "reciprocal": ("T.reciprocal({0})", lambda x: 1 / x),
    "square": ("{0} * {0}", lambda x: x * x),
    "pow2": ("{0} ** 2", lambda x: x**2),
    "pow3": ("{0} ** 3", lambda x: x**3),
    "pow-half": ("{0} ** 0.5", np.sqrt),
    "pow1.5": ("{0} ** 1.5", lambda x: np.power(x, 1.5)),
    "pow-1": ("{0} ** -1", lambda x: 1 / x),
    "pow-2.5": ("{0}.pow(-2.5)", lambda x: np.power(x, -2.5)),
    "pow-xy": ("{0}.pow({1})", np.power),  # y: see EXPONENT_SOURCE
}
# exponents for pow-xy: small integers and halves (exact special cases), ordinary values,
# NaN, ±inf, ±0
EXPONENT_SOURCE = (
    "np.concatenate([np.random.default_rng({seed}).choice([-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, "
    "2.0, 3.0, np.nan, np.inf, -np.inf, -0.0], {n}), np.random.default_rng({seed} + 2)."
    "uniform(-6.0, 6.0, {n} + {extra})]).astype(np.{dtype})"
)
EXPONENTS = {"float32": (-149, 128), "float64": (-1074, 1024)}
SPECIALS = {
    dtype: [0.0, -0.0, np.inf, -np.inf, np.nan, float(np.finfo(dtype).max), 1.0, -1.0]
    + [float(np.finfo(dtype).smallest_subnormal), float(np.finfo(dtype).tiny)]
    for dtype in cases.FLOAT_DTYPES
}


def values_source(dtype: str, seed: int, lo: int, hi: int, n: int) -> str:
    """NumPy source: n values ±2**uniform(lo, hi) from ``seed``, then the special values."""
    specials = ", ".join(map(cases.literal_scalar, SPECIALS[dtype]))
    return (
        f"np.concatenate([np.random.default_rng({seed}).choice([-1.0, 1.0], {n}) * "
        f"np.exp2(np.random.default_rng({seed + 1}).uniform({lo}, {hi}, {n})), "
        f"[{specials}]]).astype(np.{dtype})"
    )


@st.composite
def math_cases(draw: Callable[..., Any], name: str | None = None) -> Case:
    """Values of function ``name`` (a key of FUNCTIONS), or of any function."""
    dtype = draw(st.sampled_from(cases.FLOAT_DTYPES))
    name = name or draw(st.sampled_from(sorted(FUNCTIONS)))
    lo, hi = EXPONENTS[dtype]
    if draw(st.booleans()):  # a band of exponents, so each region is sampled densely
        width = draw(st.sampled_from([4, 16, 64]))
        start = draw(st.integers(lo, hi - width))
        lo, hi = start, start + width
    seed = draw(st.integers(0, 2**31 - 1))
    n = 2048
    arrays = [values_source(dtype, seed, lo, hi, n)]
    if "{1}" in FUNCTIONS[name][0]:  # as many exponents as values: n//2 drawn, the rest uniform
        extra = n - 2 * (n // 2) + len(SPECIALS[dtype])
        arrays.append(EXPONENT_SOURCE.format(seed=seed, n=n // 2, extra=extra, dtype=dtype))
    body = [f"return {FUNCTIONS[name][0].format('x0', 'x1')}"]
    return Case(f"math {name} {dtype}", body, arrays, [True] * len(arrays))


def ordered(a: np.ndarray) -> np.ndarray:
    """Bit patterns as integers increasing with the value (±0 both 0); NaN is not ordered."""
    itype = np.int32 if a.dtype == np.float32 else np.int64
    bits = a.view(itype).astype(np.int64)
    return np.where(bits < 0, np.int64(np.iinfo(itype).min) - bits, bits)


def ulp_distance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(ordered(got) - ordered(want))


def reference(name: str, xs: list[np.ndarray]) -> np.ndarray:
    wide = [x.astype(np.float64 if x.dtype == np.float32 else np.longdouble) for x in xs]
    with np.errstate(all="ignore"):
        return np.asarray(FUNCTIONS[name][1](*wide)).astype(xs[0].dtype)


def at(xs: list[np.ndarray], i: int) -> str:
    """The inputs at flat index i, for a message."""
    return ", ".join(f"{'xy'[k]}={x.flat[i]!r}" for k, x in enumerate(xs))


def assert_ulp(
    got: np.ndarray, want: np.ndarray, xs: list[np.ndarray], bound: int, what: str
) -> None:
    nan = np.flatnonzero(np.isnan(got) != np.isnan(want))
    assert not nan.size, f"{what}: at {at(xs, nan[0])} got {got[nan[0]]!r}, want {want[nan[0]]!r}"
    zero = np.flatnonzero(~np.isnan(want) & (want == 0) & (np.signbit(got) != np.signbit(want)))
    assert not zero.size, f"{what}: wrong sign of zero at {at(xs, zero[0])}: {got[zero[0]]!r}"
    dist = np.where(np.isnan(want), 0, ulp_distance(got, want))
    i = int(np.argmax(dist))
    assert dist[i] <= bound, (
        f"{what}: {dist[i]} ulp at {at(xs, i)}: got {got[i]!r}, want {want[i]!r} "
        f"(bound {bound} ulp)"
    )


def check_math(case: Case) -> None:
    name, dtype = case.kind.split()[1:]
    xs = case.numpy_inputs()
    want = reference(name, xs)
    for what, fn in (("eager", case.bind(cases.adjit)), ("compiled", cases.compiled(case))):
        got = cases.to_numpy(fn(*case.inputs(cases.adjit)))
        assert got.dtype == want.dtype, f"{what} {name}: dtype {got.dtype} != {want.dtype}"
        assert_ulp(got, want, xs, ULP_BOUND, f"{what} {name} {dtype}")
    _check_gradient(case, xs, name, dtype)


def _torch_grads(case: Case, xs: list[np.ndarray], dtype: str) -> list[np.ndarray]:
    import torch

    leaves = [torch.from_numpy(x).requires_grad_() for x in xs]
    case.bind(torch)(*leaves).sum().backward()
    with np.errstate(over="ignore"):
        return [cases.to_numpy(t.grad).astype(dtype) for t in leaves]


def _check_gradient(case: Case, xs: list[np.ndarray], name: str, dtype: str) -> None:
    """Input gradients against PyTorch's backward in the same dtype and in float64 rounded to
    it; the closer one counts. (Its float32 formula overflows where the derivative does not --
    rsqrt' = -0.5 * rsqrt(x)**3 at 1e-26 -- while float64 is more accurate than any float32
    formula can be: d/dx x**y rounds y - 1 first, an error |log x| times larger.)"""
    same = _torch_grads(case, xs, dtype)
    wide = _torch_grads(case, [x.astype(np.float64) for x in xs], dtype)
    eps = float(np.finfo(dtype).eps)
    for what, fn in (("eager", case.bind(cases.adjit)), ("compiled", cases.compiled(case))):
        _, grads = cases.leaf_grads(cases.adjit, case, fn, True)
        for k, grad in enumerate(grads):
            g, w = cases.to_numpy(grad), wide[k]
            d = f"{what} d{name}/d{'xy'[k]} {dtype}"
            # PyTorch's float64 formula overflows where the result is within 2**8 of the
            # largest double (rsqrt' = -0.5 * rsqrt(x)**3 at x = 2.2e-206 is -1.5e308, not
            # -inf): a finite result of the same sign that large stands
            near = np.isinf(w) & np.isfinite(g) & (np.sign(g) == np.sign(w))
            near &= np.abs(g) >= np.finfo(dtype).max / 2**8
            g = np.where(near, w, g)
            nan = np.flatnonzero((np.isnan(g) != np.isnan(w)) & (np.isnan(g) != np.isnan(same[k])))
            assert not nan.size, (
                f"{d}: NaN differs at {at(xs, nan[0])}: got {g[nan[0]]!r}, PyTorch {w[nan[0]]!r}"
            )
            far = np.flatnonzero(_far(g, w, eps) & _far(g, same[k], eps))
            if far.size:
                i = int(far[0])
                raise AssertionError(
                    f"{d}: at {at(xs, i)} got {g[i]!r}, PyTorch {same[k][i]!r} (float64: "
                    f"{w[i]!r}), more than {GRAD_ULP} ulp and {GRAD_EPS} eps from both"
                )


def _far(g: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        close = np.abs(g - w) <= GRAD_EPS * eps
    return ~np.isnan(w) & (ulp_distance(g, w) > GRAD_ULP) & ~close
