"""Special functions (lgamma, digamma, polygamma, erfc, erfinv) over the exponents vs mpmath."""

# The sampling is the math strategy's (tests/fuzz/mathfuncs.py: log-uniform |x| over the whole
# exponent range or a band of it, both signs, the special values). The reference is mpmath at
# 30 digits rounded to the input's dtype; at non-finite inputs and poles it is PyTorch's value
# (trigamma's poles: inf, where PyTorch's sin(pi x) != 0 gives a huge finite number). Below 0
# the functions are reflections whose terms cancel near the zeros there: the bound is then in
# ulps of the largest term (``SCALE``), not of the result. Gradients: eager and compiled
# against the derivative's mpmath value (digamma's is trigamma, which PyTorch computes to 1e-10
# only) within GRAD_ULP (of the derivative's own reflected term below 0), or 8 eps absolute
# (erfc' = exp(-x * x) rounds x * x in the dtype, as PyTorch's formula does).

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import mpmath as mp
import numpy as np
from hypothesis import strategies as st

from . import cases, mathfuncs
from .cases import Case

ULP_BOUND = 6  # polygamma(n)'s sum rounds each q + k: n + 1 ulp at most, plus the reference
GRAD_ULP = 64


def _cot(v: Any) -> Any:
    return mp.cospi(v) / mp.sinpi(v)  # (sinpi, cospi: exact argument reduction)


# below 0 by the reflections themselves: mpmath's polygamma of a large negative x takes minutes
def _loggamma(v: Any) -> Any:
    return mp.log(mp.pi / abs(mp.sinpi(v))) - mp.loggamma(1 - v) if v < 0 else mp.loggamma(v)


def _digamma(v: Any) -> Any:
    return mp.digamma(1 - v) - mp.pi * _cot(v) if v < 0 else mp.digamma(v)


def _trigamma(v: Any) -> Any:
    return -mp.polygamma(1, 1 - v) + (mp.pi / mp.sinpi(v)) ** 2 if v < 0 else mp.polygamma(1, v)


def _tetragamma(v: Any) -> Any:
    if v >= 0:
        return mp.polygamma(2, v)
    c = _cot(v)
    return mp.polygamma(2, 1 - v) - mp.pi**3 * (2 * c + 2 * c**3)


# name -> (template over {0}, mpmath value, mpmath derivative, largest reflected term below 0)
FUNCTIONS: dict[str, tuple[str, Callable, Callable, Callable | None]] = {
    "lgamma": ("T.lgamma({0})", _loggamma, _digamma, lambda v: mp.loggamma(1 - v)),
    "digamma": ("{0}.digamma()", _digamma, _trigamma, lambda v: mp.pi * _cot(v)),
    "trigamma": ("T.polygamma(1, {0})", _trigamma, _tetragamma,
                 lambda v: (mp.pi / mp.sinpi(v)) ** 2),
    "erfc": ("T.erfc({0})", mp.erfc, lambda v: -2 / mp.sqrt(mp.pi) * mp.exp(-v * v), None),
    "erfinv": ("T.erfinv({0})", mp.erfinv,
               lambda v: mp.sqrt(mp.pi) / 2 * mp.exp(mp.erfinv(v) ** 2), None),
}  # fmt: skip
POLES = {"lgamma": math.inf, "digamma": math.nan, "trigamma": math.inf}
# the derivative's own largest reflected term below 0 (lgamma' is digamma, digamma' trigamma):
# a gradient is a reflection too, measured in ulps of that term as the values are
DERIVATIVE_TERM: dict[str, Callable] = {
    "lgamma": FUNCTIONS["digamma"][3],  # type: ignore[dict-item]
    "digamma": FUNCTIONS["trigamma"][3],  # type: ignore[dict-item]
    "trigamma": lambda v: mp.pi**3 * (2 * _cot(v) + 2 * _cot(v) ** 3),
}


@st.composite
def special_cases(draw: Callable[..., Any], name: str | None = None) -> Case:
    dtype = draw(st.sampled_from(cases.FLOAT_DTYPES))
    name = name or draw(st.sampled_from(sorted(FUNCTIONS)))
    lo, hi = mathfuncs.EXPONENTS[dtype]
    if draw(st.booleans()):
        width = draw(st.sampled_from([4, 16, 64]))
        start = draw(st.integers(max(lo, -64), min(hi, 64) - width))  # where the shapes are
        lo, hi = start, start + width
    seed = draw(st.integers(0, 2**31 - 1))
    arrays = [mathfuncs.values_source(dtype, seed, lo, hi, 512)]
    body = [f"return {FUNCTIONS[name][0].format('x0')}"]
    return Case(f"special {name} {dtype}", body, arrays, [True])


def _mp(fn: Callable, x: np.ndarray, name: str) -> np.ndarray:
    """``fn`` at the finite nonzero points off the poles (30 digits), NaN elsewhere."""
    out = np.full(x.shape, np.nan)
    for i, v in enumerate(x.astype(np.float64)):
        pole = name in POLES and v <= 0 and v == np.floor(v)
        if np.isfinite(v) and v != 0 and not pole and not (name == "erfinv" and abs(v) >= 1):
            with contextlib.suppress(OverflowError):  # beyond float64: PyTorch's value (inf)
                out[i] = float(fn(mp.mpf(float(v))))
    return out


def reference(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rounded value, and the scale its error is measured in ulps of."""
    import torch

    mp.mp.dps = 30
    want = _mp(FUNCTIONS[name][1], x, name)
    template = FUNCTIONS[name][0].replace("{0}", "t")
    given = eval(template, {"T": torch, "t": torch.from_numpy(x.astype(np.float64))}).numpy()  # noqa: S307
    poles = (x <= 0) & (x == np.floor(x)) & np.isfinite(x)
    if name in POLES:
        given = np.where(poles & (x != 0), POLES[name], given)
    want = np.where(np.isnan(want), given, want)
    term = FUNCTIONS[name][3]
    scale = np.zeros(x.shape)
    if term is not None:
        negative = (x < 0) & ~poles & np.isfinite(x)
        scale[negative] = np.abs(_mp(term, x[negative], name))
    with np.errstate(over="ignore"):
        return want.astype(x.dtype), scale


def _distance(got: np.ndarray, want: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """ulps of the result, or of ``scale`` where it is larger."""
    with np.errstate(all="ignore"):
        size = np.maximum(np.abs(want.astype(np.float64)), scale).astype(got.dtype)
        wide = np.abs(got.astype(np.float64) - want) / np.spacing(size).astype(np.float64)
    plain = mathfuncs.ulp_distance(got, want).astype(np.float64)
    return np.where((scale > np.abs(want)) & np.isfinite(wide), wide, plain)


def _assert_close(got: np.ndarray, want: np.ndarray, scale: np.ndarray, x: np.ndarray,
                  bound: float, eps: float, what: str) -> None:  # fmt: skip
    nan = np.flatnonzero(np.isnan(got) != np.isnan(want))
    assert not nan.size, f"{what}: at x={x[nan[0]]!r} got {got[nan[0]]!r}, want {want[nan[0]]!r}"
    zero = np.flatnonzero((want == 0) & (np.signbit(got) != np.signbit(want)))
    assert not zero.size, f"{what}: wrong sign of zero at x={x[zero[0]]!r}"
    with np.errstate(invalid="ignore"):
        close = np.abs(got.astype(np.float64) - want) <= eps
    d = np.where(np.isnan(want) | close, 0, _distance(got, want, scale))
    i = int(np.argmax(d))
    assert d[i] <= bound, f"{what}: {d[i]} ulp at x={x[i]!r}: got {got[i]!r}, want {want[i]!r}"


def check_special(case: Case) -> None:
    name, dtype = case.kind.split()[1:]
    (x,) = case.numpy_inputs()
    want, scale = reference(name, x)
    for what, fn in (("eager", case.bind(cases.adjit)), ("compiled", cases.compiled(case))):
        got = cases.to_numpy(fn(*case.inputs(cases.adjit)))
        assert got.dtype == want.dtype, f"{what} {name}: dtype {got.dtype} != {want.dtype}"
        _assert_close(got, want, scale, x, ULP_BOUND, 0.0, f"{what} {name} {dtype}")
    slope = _mp(FUNCTIONS[name][2], x, name)
    eps = 8 * float(np.finfo(dtype).eps)
    finite = np.isfinite(slope)
    grad_scale = np.zeros(x.shape)
    if name in DERIVATIVE_TERM:
        below = (x < 0) & finite & (x != np.floor(x))
        grad_scale[below] = np.abs(_mp(DERIVATIVE_TERM[name], x[below], name))
    with np.errstate(over="ignore"):
        slope = slope.astype(dtype)
    for what, fn in (("eager", case.bind(cases.adjit)), ("compiled", cases.compiled(case))):
        _, grads = cases.leaf_grads(cases.adjit, case, fn, True)
        g = cases.to_numpy(grads[0])
        _assert_close(g[finite], slope[finite], grad_scale[finite], x[finite],
                      GRAD_ULP, eps, f"{what} d{name}/dx {dtype}")  # fmt: skip
