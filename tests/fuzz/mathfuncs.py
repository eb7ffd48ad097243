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
# or the wrong sign of a zero result, fails whatever the bound. Gradients (d/dx through eager
# and compiled backward) are compared with PyTorch's float64 backward rounded to the dtype:
# the same formula, so they agree within 64 ulp or 8 eps absolute (1 - tanh**2 near 1 cancels
# in float32) -- a wrong range reduction or a NaN is off by far more.

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
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


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
}
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
    array = values_source(dtype, seed, lo, hi, 2048)
    body = [f"return {FUNCTIONS[name][0].format('x0')}"]
    return Case(f"math {name} {dtype}", body, [array], [True])


def ordered(a: np.ndarray) -> np.ndarray:
    """Bit patterns as integers increasing with the value (±0 both 0); NaN is not ordered."""
    itype = np.int32 if a.dtype == np.float32 else np.int64
    bits = a.view(itype).astype(np.int64)
    return np.where(bits < 0, np.int64(np.iinfo(itype).min) - bits, bits)


def ulp_distance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(ordered(got) - ordered(want))


def reference(name: str, x: np.ndarray) -> np.ndarray:
    wide = x.astype(np.float64 if x.dtype == np.float32 else np.longdouble)
    with np.errstate(all="ignore"):
        return np.asarray(FUNCTIONS[name][1](wide)).astype(x.dtype)


def assert_ulp(got: np.ndarray, want: np.ndarray, x: np.ndarray, bound: int, what: str) -> None:
    nan = np.flatnonzero(np.isnan(got) != np.isnan(want))
    assert not nan.size, f"{what}: at x={x[nan[0]]!r} got {got[nan[0]]!r}, want {want[nan[0]]!r}"
    both = ~np.isnan(want)
    zero = both & (want == 0) & (np.signbit(got) != np.signbit(want))
    assert not zero.any(), f"{what}: wrong sign of zero at x={x[zero][0]!r}: {got[zero][0]!r}"
    dist = ulp_distance(got[both], want[both])
    if dist.size:
        i = int(np.argmax(dist))
        assert dist[i] <= bound, (
            f"{what}: {dist[i]} ulp at x={x[both][i]!r}: got {got[both][i]!r}, "
            f"want {want[both][i]!r} (bound {bound} ulp)"
        )


def check_math(case: Case) -> None:
    name, dtype = case.kind.split()[1:]
    (x,) = case.numpy_inputs()
    want = reference(name, x)
    for what, fn in (("eager", case.bind(cases.adjit)), ("compiled", cases.compiled(case))):
        got = cases.to_numpy(fn(*case.inputs(cases.adjit)))
        assert got.dtype == x.dtype, f"{what} {name}: dtype {got.dtype} != {x.dtype}"
        assert_ulp(got, want, x, ULP_BOUND, f"{what} {name} {dtype}")
    _check_gradient(case, x, name, dtype)


def _check_gradient(case: Case, x: np.ndarray, name: str, dtype: str) -> None:
    """d/dx against PyTorch's backward in float64 rounded to ``dtype`` (PyTorch's float32
    formula overflows where the derivative does not: rsqrt' = -0.5 * rsqrt(x)**3 at 1e-26)."""
    import torch

    wide = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    case.bind(torch)(wide).sum().backward()
    assert wide.grad is not None
    with np.errstate(over="ignore"):
        w = wide.grad.numpy().astype(dtype)
    eps = float(np.finfo(dtype).eps)
    for what, fn in (("eager", case.bind(cases.adjit)), ("compiled", cases.compiled(case))):
        _, (grad,) = cases.leaf_grads(cases.adjit, case, fn, True)
        g = cases.to_numpy(grad)
        nan = np.flatnonzero(np.isnan(g) != np.isnan(w))
        assert not nan.size, (
            f"{what} d{name}/dx {dtype}: NaN differs at x={x[nan[0]]!r}: "
            f"got {g[nan[0]]!r}, PyTorch {w[nan[0]]!r}"
        )
        both = ~np.isnan(w)
        far = ulp_distance(g[both], w[both]) > GRAD_ULP
        with np.errstate(invalid="ignore"):
            far &= ~(np.abs(g[both] - w[both]) <= GRAD_EPS * eps)
        if far.any():
            i = int(np.flatnonzero(far)[0])
            raise AssertionError(
                f"{what} d{name}/dx {dtype}: at x={x[both][i]!r} got {g[both][i]!r}, "
                f"PyTorch (float64) {w[both][i]!r} (more than {GRAD_ULP} ulp and {GRAD_EPS} eps "
                "apart)"
            )
