"""Reductions over 1e7+ elements, compiled and eager, against a float64 reference and a bound."""

# A float sum accumulated left to right (or in a few vector lanes) has an error growing like n
# u A (u the unit roundoff, A = sum |x_i|): 1e7 float32 values in [0, 1) came out 6.8e-4 off,
# ~1e4 u A. Pairwise and blocked-compensated sums (NumPy, PyTorch, adjit's Note [reduction
# accuracy]) stay near sqrt(block) u A in practice. The bound here, per output element, is
#     |computed - exact| <= 64 u A + u |exact|
# (exact: the long-double pairwise sum of the inputs, itself within ~1e-18 A): two
# orders of magnitude under the accumulated error, ~4x over what a careful sum shows. ``mean``
# divides both sides by n. ``var`` (two-pass, as PyTorch) gets 64 u var + (64 u mean|x|)**2,
# the second term for the error of the mean it subtracts, so E[x**2] - E[x]**2 (which loses
# everything on data with an offset) fails. ``amax`` is exact.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case
from .gates import gated

SIZES = [10_000_000, 2**24 + 1, 12_000_000]  # 2**24 + 1: float32 counts stop at 2**24
DATA = {
    "uniform01": "np.random.default_rng({seed}).uniform(0.0, 1.0, {shape})",
    "normal": "np.random.default_rng({seed}).standard_normal({shape})",
    "offset": "1000.0 + np.random.default_rng({seed}).uniform(0.0, 1.0, {shape})",
    "ones": "np.ones({shape})",
    "spread": "np.exp2(np.random.default_rng({seed}).uniform(-20.0, 20.0, {shape}))",
}
# name -> (template, layout of the n elements, reduced dims of that layout or None for all)
FORMS: dict[str, tuple[str, Callable[[int], tuple[int, ...]], tuple[int, ...] | None]] = {
    "sum": ("x0.sum()", lambda n: (n,), None),
    "mean": ("x0.mean()", lambda n: (n,), None),
    "sum-2d": ("x0.sum()", lambda n: (4, n // 4), None),
    "sum-rows": ("x0.sum(dim=1)", lambda n: (2, n // 2), (1,)),
    "sum-cols": ("x0.sum(dim=0)", lambda n: (n // 4, 4), (0,)),
    "mean-rows": ("x0.mean(dim=-1)", lambda n: (2, n // 2), (1,)),
    "var": ("x0.var()", lambda n: (n,), None),
    "mse": ("((x0 - 0.5) ** 2).mean()", lambda n: (n,), None),  # a loss: fused square + mean
    "amax": ("x0.amax()", lambda n: (n,), None),
    "amax-rows": ("x0.amax(dim=1)", lambda n: (2, n // 2), (1,)),
}


@st.composite
def long_cases(draw: Callable[..., Any]) -> Case:
    dtype = draw(st.sampled_from(["float32", "float32", "float64"]))
    form = draw(st.sampled_from(sorted(FORMS)))
    data = draw(st.sampled_from(sorted(DATA)))
    n = draw(st.sampled_from(SIZES))
    shape = FORMS[form][1](n)
    seed = draw(st.integers(0, 2**31 - 1))
    array = f"({DATA[data].format(seed=seed, shape=shape)}).astype(np.{dtype})"
    return Case(f"long {form} {dtype} {data}", [f"return {FORMS[form][0]}"], [array], [False])


def _exact_sum(x: np.ndarray, axis: tuple[int, ...] | None) -> np.ndarray:
    """Sums over ``axis`` in long double, the reduced axes moved last and contiguous (NumPy sums
    pairwise only along the contiguous axis; across rows it adds one row after another)."""
    axes = tuple(range(x.ndim)) if axis is None else axis
    kept = [d for d in range(x.ndim) if d not in axes]
    rows = np.ascontiguousarray(np.transpose(x, kept + list(axes)).astype(np.longdouble))
    rows = rows.reshape([x.shape[d] for d in kept] + [-1])
    return np.asarray(rows.sum(axis=-1), dtype=np.float64)


def _bound(form: str, x: np.ndarray, u: float) -> tuple[np.ndarray, np.ndarray]:
    """The reference and the allowed error, per output element."""
    axis = FORMS[form][2]
    wide = x.astype(np.float64)
    if form.startswith("amax"):  # exact
        ref = np.asarray(wide.max(axis=axis))
        return ref, np.zeros_like(ref)
    if form == "mse":  # each square rounds once more: within the 64 u A
        wide = (wide - 0.5) ** 2
    if form == "var":
        mean = _exact_sum(wide, None) / wide.size
        ref = _exact_sum((wide - mean) ** 2, None) / (wide.size - 1)
        return ref, 64 * u * ref + (64 * u * _exact_sum(np.abs(wide), None) / wide.size) ** 2
    total, mass = _exact_sum(wide, axis), _exact_sum(np.abs(wide), axis)
    if form.startswith("mean") or form == "mse":
        count = wide.size / total.size
        total, mass = total / count, mass / count
    return total, 64 * u * mass + u * np.abs(total)


def check_long(case: Case) -> None:
    form, dtype = case.kind.split()[1:3]
    (x,) = case.numpy_inputs()
    ref, allowed = _bound(form, x, float(np.finfo(dtype).eps) / 2)
    across_rows = FORMS[form][2] not in (None, (x.ndim - 1,))
    runs = (
        []
        if across_rows and gated("long:eager-across-rows")
        else [("eager", case.bind(cases.adjit))]
    )
    runs += [] if gated("long:compiled") else [("compiled", cases.compiled(case))]
    for what, fn in runs:
        got = cases.to_numpy(fn(*case.inputs(cases.adjit)))
        assert got.dtype == x.dtype, f"{what} {form}: dtype {got.dtype} != {x.dtype}"
        assert got.shape == ref.shape, f"{what} {form}: shape {got.shape} != {ref.shape}"
        err = np.abs(got.astype(np.float64) - ref)
        with np.errstate(invalid="ignore", divide="ignore"):  # amax allows 0
            i = int(np.argmax(np.where(err > allowed, err / allowed, 0.0)))
        assert (err <= allowed).all(), (
            f"{what} {case.kind} of {x.size} elements: error {err.flat[i]:.3g} > bound "
            f"{allowed.flat[i]:.3g} (got {got.flat[i]!r}, reference {ref.flat[i]!r}, "
            f"relative error {err.flat[i] / max(abs(ref.flat[i]), 1e-300):.2g})"
        )
