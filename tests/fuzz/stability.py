"""Unstable formulas (log(1 + exp(x)), exp(x) - 1, ...) compiled: stable values and gradients."""

# One naive formula per case (a pattern of passes/stability.py) on ~2000 values over the whole
# exponent range plus NaN, +-inf, +-0 and the extreme finite values (mathfuncs' values). The
# compiled program is rewritten to a stable form (Note [stability rewrites]), so its value must
# be within VALUE_ULP of the exact function -- float64 for float32 inputs, long double for
# float64 ones, rounded -- and its gradient within GRAD_ULP or GRAD_EPS of the exact
# derivative, wherever those are finite: where eager (like PyTorch) gives inf, NaN or 0 for
# overflow or cancellation. Eager must still give PyTorch's naive answers, NaN for NaN.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases, mathfuncs
from .cases import Case

VALUE_ULP = 8
GRAD_ULP, GRAD_EPS = 64, 8


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -x))


def _one(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), np.nan, 1.0).astype(x.dtype)


# name -> (naive program over x0 (and x1), exact value, exact derivatives per input)
Ref = Callable[..., np.ndarray]
FORMULAS: dict[str, tuple[str, Ref, tuple[Ref, ...]]] = {
    "softplus": ("(1 + x0.exp()).log()", lambda x: np.logaddexp(0, x), (_sigmoid,)),
    "log1p-exp": ("T.log1p(x0.exp())", lambda x: np.logaddexp(0, x), (_sigmoid,)),
    "log-sigmoid": (
        "x0.sigmoid().log()",
        lambda x: -np.logaddexp(0, -x),
        (lambda x: _sigmoid(-x),),
    ),
    "log-1-sigmoid": (
        "(1 - x0.sigmoid()).log()",
        lambda x: -np.logaddexp(0, x),
        (lambda x: -_sigmoid(x),),
    ),
    "log1p": ("(1 + x0).log()", np.log1p, (lambda x: 1 / (1 + x),)),
    "expm1": ("x0.exp() - 1", np.expm1, (np.exp,)),
    "1-exp": ("1 - x0.exp()", lambda x: -np.expm1(x), (lambda x: -np.exp(x),)),
    "log-exp": ("x0.exp().log()", lambda x: x, (_one,)),
    "sqrt-square": ("(x0 * x0).sqrt()", np.abs, (np.sign,)),
    "x-exp-over-exp": (
        "x0 * x1.exp() / x1.exp()",
        lambda x, y: np.where(np.isnan(y), np.nan, x),
        (lambda x, y: _one(x), lambda x, y: np.zeros_like(x)),
    ),
}


@st.composite
def stability_cases(draw: Callable[..., Any], name: str | None = None) -> Case:
    dtype = draw(st.sampled_from(cases.FLOAT_DTYPES))
    name = name or draw(st.sampled_from(sorted(FORMULAS)))
    lo, hi = mathfuncs.EXPONENTS[dtype]
    if draw(st.booleans()):  # a band of exponents: the ordinary range densely
        width = draw(st.sampled_from([4, 16]))
        start = draw(st.integers(max(lo, -40), min(hi, 12) - width))
        lo, hi = start, start + width
    seed = draw(st.integers(0, 2**31 - 1))
    n_inputs = 2 if "x1" in FORMULAS[name][0] else 1
    arrays = [mathfuncs.values_source(dtype, seed + 7 * k, lo, hi, 1024) for k in range(n_inputs)]
    body = [f"return {FORMULAS[name][0]}"]
    return Case(f"stability {name} {dtype}", body, arrays, [True] * n_inputs)


def _wide(xs: list[np.ndarray]) -> list[np.ndarray]:
    return [x.astype(np.float64 if x.dtype == np.float32 else np.longdouble) for x in xs]


def _exact(fn: Ref, xs: list[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(fn(*_wide(xs))).astype(xs[0].dtype)


def check_stability(case: Case) -> None:
    name, dtype = case.kind.split()[1:]
    _, value, derivatives = FORMULAS[name]
    xs = case.numpy_inputs()
    fn = cases.compiled(case)
    out, grads = cases.leaf_grads(cases.adjit, case, fn, True)
    got = cases.to_numpy(out)
    mathfuncs.assert_ulp(got, _exact(value, xs), xs, VALUE_ULP, f"compiled {name} {dtype}")
    eps = float(np.finfo(dtype).eps)
    # at a NaN input the value is NaN; its gradient is the stable form's (log(exp(x)) -> x
    # has gradient 1 there), not checked
    nan_in = np.any([np.isnan(x) for x in xs], axis=0)
    for k, (grad, d) in enumerate(zip(grads, derivatives, strict=True)):
        g, w = cases.to_numpy(grad), _exact(d, xs)
        g, w = np.where(nan_in, 0, g).astype(g.dtype), np.where(nan_in, 0, w).astype(w.dtype)
        what = f"compiled d{name}/d{'xy'[k]} {dtype}"
        nan = np.flatnonzero(np.isnan(g) != np.isnan(w))
        assert not nan.size, (
            f"{what}: at {mathfuncs.at(xs, nan[0])} got {g[nan[0]]!r}, want {w[nan[0]]!r}"
        )
        far = np.flatnonzero(mathfuncs._far(g, w, eps) & ~np.isnan(w))
        if far.size:
            i = int(far[0])
            raise AssertionError(f"{what}: at {mathfuncs.at(xs, i)} got {g[i]!r}, want {w[i]!r}")
    _eager_is_pytorch(case, xs, name, dtype)


def _eager_is_pytorch(case: Case, xs: list[np.ndarray], name: str, dtype: str) -> None:
    """Eager gives PyTorch's own (naive) answers: NaN where PyTorch's is NaN, and only there."""
    import torch

    eager = cases.to_numpy(case.bind(cases.adjit)(*case.inputs(cases.adjit)))
    want = cases.to_numpy(case.bind(torch)(*[torch.from_numpy(x) for x in xs]))
    # (finite values differ by a few ulp of exp, amplified by the cancellation itself)
    assert np.array_equal(np.isnan(eager), np.isnan(want)), f"eager {name} {dtype}: NaN differs"
