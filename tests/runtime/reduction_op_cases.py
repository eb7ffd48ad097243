"""Reductions and scans of issue 13 as table rows (run by test_reductions_vs_torch.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

RNG = np.random.default_rng(13)
X = RNG.standard_normal((3, 5))
ZEROS = X.copy()
ZEROS[0, 1] = ZEROS[2, 3] = ZEROS[2, 4] = 0.0  # one zero in row 0, two in row 2
NANS = X.copy()
NANS[1, 2] = np.nan
INTS = RNG.integers(-3, 4, (3, 5))
SMALL_INTS = RNG.integers(0, 3, (4, 7))
TIES_NANS = SMALL_INTS.astype(float)
TIES_NANS[RNG.random(TIES_NANS.shape) < 0.15] = np.nan


class Case(NamedTuple):
    name: str
    fn: Callable[..., Any]  # (module, tensor) -> tensor or tuple of tensors
    x: np.ndarray = X
    compiles: bool = True  # False: eager only
    grad: bool = True  # compare gradients (float input)

    @property
    def op(self) -> str:
        """The public function the row tests (its name up to the first '-')."""
        return self.name.split("-")[0]


CASES = [
    # prod: dtype, dim, keepdim, zeros (PyTorch's prod_backward)
    Case("prod", lambda T, x: T.prod(x)),
    Case("prod-zeros", lambda T, x: x.prod(), ZEROS),
    Case("prod-dim-zeros", lambda T, x: T.prod(x, 1), ZEROS),
    Case("prod-dim0-keepdim", lambda T, x: x.prod(0, keepdim=True), ZEROS),
    Case("prod-axis-keepdims", lambda T, x: T.prod(x, axis=-1, keepdims=True)),
    Case("prod-int", lambda T, x: T.prod(x, 1), INTS, grad=False),
    Case("prod-bool", lambda T, x: (x > 0).prod(), INTS, grad=False),
    Case("prod-dtype", lambda T, x: T.prod(x, 0, dtype=T.float64), INTS, grad=False),
    Case("prod-input=", lambda T, x: T.prod(input=x, dim=0)),
    # NumPy's names and tuples of dims on the existing reductions
    Case("sum-axis", lambda T, x: T.sum(x, axis=(0, 1), keepdims=True)),
    Case("mean-axis", lambda T, x: x.mean(axis=1)),
    Case("amax-axis", lambda T, x: T.amax(x, axis=0, keepdims=True)),
    Case("amin-axis", lambda T, x: x.amin(axis=(0, 1))),
    Case("std-axis", lambda T, x: T.std(x, axis=1, keepdims=True)),
    Case("var-axis-correction", lambda T, x: x.var(axis=(0, 1), correction=0)),
    Case("logsumexp-axis", lambda T, x: T.logsumexp(x, axis=(0, 1))),
    Case("norm-axis", lambda T, x: T.norm(x, dim=(0, 1), keepdim=True)),
    Case("max-axis", lambda T, x: T.max(x, axis=1)),
    Case("argmin-axis", lambda T, x: x.argmin(axis=0, keepdims=True), grad=False),
    Case("all-axis", lambda T, x: T.all(x > 0, axis=1), grad=False),
    Case("any-dims", lambda T, x: (x > 0).any(dim=(0, 1)), grad=False),
    Case("cumsum-axis", lambda T, x: T.cumsum(x, axis=1)),
    Case("softmax-axis", lambda T, x: T.softmax(x, axis=0)),
    Case("sum-input=", lambda T, x: T.sum(input=x, axis=0)),
    # moments
    Case("std_mean", lambda T, x: T.std_mean(x)),
    Case("std_mean-dim-correction", lambda T, x: T.std_mean(x, 1, correction=0, keepdim=True)),
    Case("std_mean-unbiased", lambda T, x: T.std_mean(x, False)),
    Case("var_mean-dims", lambda T, x: T.var_mean(x, dim=(0, 1))),
    Case("var_mean-unbiased-dim", lambda T, x: T.var_mean(x, 0, False)),
    Case("var_mean-axis", lambda T, x: T.var_mean(x, axis=0, keepdims=True)),
    # NaN-ignoring
    Case("nansum", lambda T, x: T.nansum(x), NANS),
    Case("nansum-dim", lambda T, x: x.nansum(1, keepdim=True), NANS),
    Case("nansum-int", lambda T, x: T.nansum(x, 0), INTS, grad=False),
    Case("nanmean", lambda T, x: T.nanmean(x), NANS),
    Case("nanmean-dims", lambda T, x: x.nanmean(dim=(0,), keepdim=True), NANS),
    Case("count_nonzero", lambda T, x: T.count_nonzero(x), INTS, grad=False),
    Case("count_nonzero-dims", lambda T, x: x.count_nonzero(dim=(0, 1)), ZEROS, grad=False),
    Case("count_nonzero-dim", lambda T, x: T.count_nonzero(x, 0), ZEROS, grad=False),
    # extremes, norms, trace
    Case("aminmax", lambda T, x: T.aminmax(x)),
    Case("aminmax-dim", lambda T, x: x.aminmax(dim=1, keepdim=True)),
    Case("aminmax-int", lambda T, x: T.aminmax(x, dim=0), INTS, grad=False),
    Case("norm-p0", lambda T, x: T.norm(x, 0), ZEROS),
    Case("norm-p0-dim", lambda T, x: x.norm(0, 1), ZEROS),
    Case("norm-pinf", lambda T, x: T.norm(x, float("inf"), 1)),
    Case("norm-p-inf", lambda T, x: T.norm(x, float("-inf"))),
    Case("norm-p-inf-dim", lambda T, x: T.norm(x, float("-inf"), 0, True)),
    Case("norm-p1", lambda T, x: x.norm(1, (0, 1))),
    Case("norm-p3", lambda T, x: T.norm(x, 3, 1)),
    Case("norm-p-1-zeros", lambda T, x: T.norm(x, -1, 1), ZEROS),
    Case("norm-p-2.5", lambda T, x: T.norm(x, -2.5)),
    Case("dist", lambda T, x: T.dist(x, x * x)),
    Case("dist-p1", lambda T, x: x.dist(x.flip(0), 1)),
    Case("dist-pinf-broadcast", lambda T, x: T.dist(x, x[0], float("inf"))),
    # (PyTorch 2.13 fails differentiating dist at p=0: "Expected a proper Tensor but got None")
    Case("dist-p0", lambda T, x: T.dist(x, x.clamp(min=0), 0), grad=False),
    Case("trace", lambda T, x: T.trace(x)),
    Case("trace-tall", lambda T, x: x.t().trace()),
    Case("trace-int", lambda T, x: x.trace(), INTS, grad=False),
    # scans
    Case("cumprod", lambda T, x: T.cumprod(x, 1)),
    Case("cumprod-zeros", lambda T, x: x.cumprod(dim=1), ZEROS),
    Case("cumprod-dim0-zeros", lambda T, x: T.cumprod(x, 0), ZEROS),
    Case("cumprod-int", lambda T, x: T.cumprod(x, 1), INTS, grad=False),
    Case("cumprod-dtype", lambda T, x: T.cumprod(x, 0, dtype=T.float64), INTS, grad=False),
    Case("cumprod-axis", lambda T, x: T.cumprod(x, axis=-1)),
    Case("cummax", lambda T, x: T.cummax(x, 1)),
    Case("cummax-ties", lambda T, x: x.cummax(0), SMALL_INTS.astype(float)),
    Case("cummax-nan", lambda T, x: T.cummax(x, 1), NANS),
    Case("cummax-ties-nans", lambda T, x: T.cummax(x, 1), TIES_NANS),
    Case("cummin-ties-nans", lambda T, x: x.cummin(0), TIES_NANS),
    Case("cummin", lambda T, x: T.cummin(x, 0)),
    Case("cummin-ties", lambda T, x: x.cummin(1), SMALL_INTS.astype(float)),
    Case("cummin-int", lambda T, x: T.cummin(x, 1), INTS, grad=False),
    Case("cummax-bool", lambda T, x: T.cummax(x > 0, 1), INTS, grad=False),
    Case("logcumsumexp", lambda T, x: T.logcumsumexp(x, 1)),
    Case("logcumsumexp-dim0", lambda T, x: x.logcumsumexp(0)),
    Case("logcumsumexp-spread", lambda T, x: T.logcumsumexp(x * 400, 1)),
    Case("logcumsumexp-axis", lambda T, x: T.logcumsumexp(x, axis=0)),
    # selection (sorting: eager only)
    Case("median", lambda T, x: T.median(x)),
    Case("median-even", lambda T, x: x[:, :4].median()),
    Case("median-ties", lambda T, x: T.median(x), SMALL_INTS.astype(float)),
    Case("median-nan", lambda T, x: T.median(x), NANS),
    Case("median-dim", lambda T, x: T.median(x, 1)),
    Case("median-dim-keepdim", lambda T, x: x.median(0, keepdim=True)),
    Case("median-int", lambda T, x: T.median(x), INTS, grad=False),
    Case("nanmedian", lambda T, x: T.nanmedian(x), NANS),
    Case("nanmedian-dim", lambda T, x: x.nanmedian(1), NANS),
    Case("kthvalue", lambda T, x: T.kthvalue(x, 2)),
    Case("kthvalue-dim0", lambda T, x: x.kthvalue(3, 0, True)),
    Case("mode", lambda T, x: T.mode(x), SMALL_INTS, grad=False),
    Case("mode-dim0", lambda T, x: x.mode(0), SMALL_INTS, grad=False),
    Case("mode-float", lambda T, x: T.mode(x, 1), SMALL_INTS.astype(float)),
    Case("quantile", lambda T, x: T.quantile(x, 0.3)),
    Case("quantile-nan", lambda T, x: T.quantile(x, 0.3, dim=1), NANS),
    Case("nanquantile", lambda T, x: T.nanquantile(x, 0.4, 1, True), NANS),
    *(
        Case(
            f"quantile-{mode}",
            lambda T, x, mode=mode: x.quantile(
                T.tensor([0.0, 0.125, 0.5, 0.9, 1.0], dtype=T.float64), 1, interpolation=mode
            ),
        )
        for mode in ("linear", "lower", "higher", "midpoint", "nearest")
    ),
]
