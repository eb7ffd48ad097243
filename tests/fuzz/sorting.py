"""Sorting and selection programs (sort, argsort, topk, median, searchsorted, scatter_reduce...)
vs PyTorch: values, indices and gradients, eager and compiled."""

# Data: normal floats, or few distinct small integers as floats (ties) with NaN and infinities
# sprinkled in; 1-3 dims, sizes 0-6. Programs whose indices PyTorch leaves unspecified at ties
# (topk, kthvalue, median along a dim: their kernels' choice) draw tie-free data (one NaN at
# most, NaN being equal to nothing but sorted as the largest); sort and argsort ask for
# stable=True, where PyTorch's order is defined. Values are weighted by a second input
# (``x1``), so a gradient reaching the wrong one of two tied elements shows. Sorting moves
# values, so values and their gradients agree exactly; scatter_reduce's prod may multiply in
# another order: a few ulp per factor; quantile's lerp an ulp.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case

# name -> (return expression, tie-free data needed, eager only)
PROGRAMS: dict[str, tuple[str, bool, bool]] = {
    "sort": ("T.sort(x0, dim={d}, descending={b}, stable=True).values * x1", False, False),
    "sort-indices": ("T.sort(x0, dim={d}, descending={b}, stable=True).indices", False, False),
    "argsort": ("T.argsort(x0, dim={d}, descending={b}, stable=True)", False, False),
    "msort": ("T.msort(x0) * x1", False, False),
    "topk": ("T.topk(x0, {k}, dim={d}, largest={b}).values * x1.narrow({d}, 0, {k})", True, False),
    "topk-indices": ("T.topk(x0, {k}, dim={d}, largest={b}, sorted=True).indices", True, False),
    "kthvalue": ("T.kthvalue(x0, {k1}, dim={d}, keepdim=True).values * x1", True, False),
    "median-dim": ("x0.median(dim={d}, keepdim=True).values * x1", True, False),
    "median": ("T.median(x0) * x1", False, False),
    "quantile": ("T.quantile(x0, 0.3, dim={d}, keepdim=True) * x1", False, False),
    "searchsorted": ("T.searchsorted(T.sort(x0, dim=-1).values, x1, right={b})", False, False),
    "bucketize": (
        "T.bucketize(x1, T.msort(x0.flatten()), right={b}, out_int32=True)",
        False,
        False,
    ),
    "scatter_reduce": (
        "x0.scatter_reduce({d}, x2, x1, '{r}', include_self={b})",
        False,
        False,
    ),
    "unique": ("T.unique(x0, return_counts=True)[1]", False, True),
}
REDUCES = ["prod", "amax", "amin", "sum", "mean"]


def _data(draw: Callable[..., Any], shape: tuple[int, ...], seed: int, tie_free: bool) -> str:
    n = int(np.prod(shape))
    if tie_free:
        base = f"np.random.default_rng({seed}).permutation({n}).astype(float) - {n // 2}"
        if n and draw(st.booleans()):
            base = f"np.where(np.arange({n}) == {draw(st.integers(0, n - 1))}, np.nan, {base})"
        return f"({base}).reshape({shape})"
    kind = draw(st.sampled_from(["normal", "ties", "ties", "specials"]))
    if kind == "normal":
        return f"np.random.default_rng({seed}).standard_normal({shape})"
    ties = f"np.random.default_rng({seed}).integers(-2, 3, {shape}).astype(float)"
    if kind == "ties":
        return ties
    pick = f"np.random.default_rng({seed + 1}).integers(0, 8, {shape})"
    return f"np.choose(np.minimum({pick}, 3), [{ties}, np.nan, np.inf, -np.inf])"


@st.composite
def sorting_cases(draw: Callable[..., Any]) -> Case:
    name = draw(st.sampled_from(sorted(PROGRAMS)))
    template, tie_free, _ = PROGRAMS[name]
    dtype = draw(st.sampled_from(["float64", "float32"]))
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1 if tie_free else 0, 5)) for _ in range(ndim))
    d = draw(st.integers(-ndim, ndim - 1))
    n = shape[d]
    if name in ("kthvalue", "median-dim", "quantile") and n == 0:
        shape = tuple(max(s, 1) for s in shape)
        n = shape[d]
    seed = draw(st.integers(0, 2**20))
    x0 = _data(draw, shape, seed, tie_free)
    x1 = f"np.random.default_rng({seed + 7}).standard_normal({shape})"
    arrays = [x0, x1]
    if name in ("searchsorted", "bucketize"):
        x1 = f"np.random.default_rng({seed + 7}).integers(-3, 4, {shape}).astype(float)"
        arrays = [x0, x1]
    if name in ("kthvalue", "quantile", "median-dim"):  # a keepdim reduction along d
        shape1 = tuple(1 if i == d % ndim else s for i, s in enumerate(shape))
        arrays = [x0, f"np.random.default_rng({seed + 7}).standard_normal({shape1})"]
    fields = {
        "d": d,
        "b": draw(st.booleans()),
        "k": draw(st.integers(0, n)),
        "k1": draw(st.integers(1, max(n, 1))),
        "r": draw(st.sampled_from(REDUCES)),
    }
    if name == "scatter_reduce":
        target = list(shape)
        target[d] = max(target[d], 1)
        shape_i = tuple(
            draw(st.integers(0, s)) if i != d % ndim else s for i, s in enumerate(shape)
        )
        arrays = [
            f"np.random.default_rng({seed + 3}).integers(-2, 3, {tuple(target)}).astype(float)",
            _data(draw, shape_i, seed + 5, False),
            f"np.random.default_rng({seed + 9}).integers(0, {target[d]}, {shape_i})",
        ]
    arrays = [a if "integers(0," in a else f"({a}).astype(np.{dtype})" for a in arrays]
    grads = [name != "unique", draw(st.booleans()), False][: len(arrays)]
    tag = f"sorting {name} {dtype}"
    return Case(tag, [f"return {template.format(**fields)}"], arrays, grads)


def check_sorting(case: Case) -> None:

    name, dtype = case.kind.split()[1:3]
    # (quantile interpolates with lerp, which PyTorch's vectorized kernel rounds once, an FMA;
    # median's gradient is the cotangent's sum, added in another order: <= 125 terms)
    ulps = {"scatter_reduce": 64, "quantile": 2, "median": 128}.get(name, 0)
    rtol = ulps * float(np.finfo(dtype).eps)
    cases.check_eager_then_compiled(case, rtol, data_dependent=PROGRAMS[name][2])
