"""Chains of in-place Tensor methods (comparisons, cumsum_, t_/squeeze_/unsqueeze_, put_,
fill_diagonal_, ...) on a tensor that requires grad, vs PyTorch: values, gradients, errors."""

# A program multiplies its input by 1 (a non-leaf that requires grad, so every in-place op is
# recorded) and applies 1-5 in-place methods, tracking the shape through the in-place shape
# changes; it returns the result weighted by small integers, so a gradient reaching the wrong
# element shows. Data: normal floats, or few distinct small integers (ties with the comparison
# thresholds), with NaN and infinities sprinkled in sometimes (not under cumprod_, whose
# gradient at infinities is NaN in PyTorch and adjit alike, at different places). put_
# without accumulate draws distinct indices (PyTorch leaves repeated writes unspecified;
# adjit refuses them). The in-place ops move or write values: exact, except cumsum_/cumprod_
# (adjit's scan adds in another order than PyTorch's loop: a few ulp per step) and the
# gradients through them. PyTorch's cumprod saves its input and result, so an in-place op
# after cumprod_ makes its backward refuse; adjit's in-place ops keep a copy and compute:
# there the gradient is compared with PyTorch's for cumprod's result kept apart.

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case

COMPARISONS = ["eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "less_equal_", "not_equal_"]
UNARY = ["sign_", "nan_to_num_", "negative_", "absolute_"]
SCALARS = [0.0, 1.0, -1.0, 0.5, 2.0, -1.5]


def _step(draw: Callable[..., Any], shape: list[int], seed: int) -> str:
    """One in-place method call on ``y`` (of ``shape``, updated for the shape changes)."""
    ndim = len(shape)
    kinds = ["compare", "unary", "arith", "cum", "shape", "shape", "put"]
    if ndim >= 2 and (ndim == 2 or len(set(shape)) == 1):
        kinds.append("diag")
    kind = draw(st.sampled_from(kinds))
    s = draw(st.sampled_from(SCALARS))
    if kind == "compare":
        return f"y.{draw(st.sampled_from(COMPARISONS))}({s})"
    if kind == "unary":
        name = draw(st.sampled_from(UNARY))
        return "y.nan_to_num_(nan=0.5, posinf=3.0)" if name == "nan_to_num_" else f"y.{name}()"
    if kind == "arith":
        return draw(
            st.sampled_from(
                [
                    f"y.multiply_({s})",
                    f"y.subtract_({s}, alpha=2)",
                    "y.divide_(-0.25)",
                    "y.true_divide_(4.0)",
                ]
            )
        )
    if kind == "cum" and ndim:
        d = draw(st.integers(-ndim, ndim - 1))
        return f"y.{draw(st.sampled_from(['cumsum_', 'cumprod_']))}({d})"
    if kind == "diag":
        return f"y.fill_diagonal_({s}, wrap={draw(st.booleans())})"
    if kind == "put":
        n = int(np.prod(shape))
        if n == 0:
            return "y.negative_()"
        accumulate = draw(st.booleans())
        k = draw(st.integers(1, min(n, 4)))
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, k) if accumulate else rng.permutation(n)[:k]
        idx = [int(i) - n if rng.random() < 0.3 else int(i) for i in idx]
        src = [float(v) for v in rng.integers(-3, 4, k)]
        return f"y.put_(T.tensor({idx}), T.tensor({src}, dtype=y.dtype), accumulate={accumulate})"
    # in-place shape changes
    options = ["unsqueeze"]
    if ndim <= 2:
        options.append("t")
    if ndim >= 2:
        options.append("transpose")
    if 1 in shape or ndim:
        options.append("squeeze")
    pick = draw(st.sampled_from(options))
    if pick == "t":
        shape.reverse()
        return "y.t_()"
    if pick == "transpose":
        a, b = draw(st.integers(0, ndim - 1)), draw(st.integers(-ndim, ndim - 1))
        shape[a], shape[b] = shape[b], shape[a]
        name = draw(st.sampled_from(["transpose_", "swapaxes_", "swapdims_"]))
        return f"y.{name}({a}, {b})"
    if pick == "unsqueeze":
        d = draw(st.integers(-ndim - 1, ndim))
        shape.insert(d % (ndim + 1), 1)
        return f"y.unsqueeze_({d})"
    if ndim and draw(st.booleans()):
        d = draw(st.integers(-ndim, ndim - 1))
        if shape[d] == 1:
            del shape[d % ndim]
        return f"y.squeeze_({d})"
    shape[:] = [n for n in shape if n != 1]
    return "y.squeeze_()"


@st.composite
def method_cases(draw: Callable[..., Any]) -> Case:
    dtype = draw(st.sampled_from(["float64", "float32"]))
    ndim = draw(st.integers(0, 3))
    shape = [draw(st.integers(0 if ndim else 1, 4)) for _ in range(ndim)]
    seed = draw(st.integers(0, 2**20))
    shape0 = tuple(shape)
    body = ["y = x0 * 1.0"]
    for i in range(draw(st.integers(1, 5))):
        body.append(_step(draw, shape, seed + 17 * i))
    # (cumprod's gradient at infinities is NaN in both, at different places: finite data)
    kinds = ["normal", "ties"] + ([] if any("cumprod_" in line for line in body) else ["specials"])
    kind = draw(st.sampled_from(kinds))
    if kind == "normal":
        x0 = f"np.random.default_rng({seed}).standard_normal({shape0})"
    else:
        x0 = f"np.random.default_rng({seed}).integers(-2, 3, {shape0}).astype(float)"
        if kind == "specials":
            pick = f"np.random.default_rng({seed + 1}).integers(0, 8, {shape0})"
            x0 = f"np.choose(np.minimum({pick}, 3), [{x0}, np.nan, np.inf, -np.inf])"
    body.append("w = (T.arange(y.numel()) % 7 - 3).to(y.dtype).reshape(y.shape)")
    body.append("return y * w")
    names = sorted({line.split("(")[0].split(".")[-1] for line in body[1:-2]})
    array = f"np.asarray({x0}, dtype=np.{dtype})"  # (a 0-d np.choose is a NumPy scalar)
    return Case(f"methods {dtype} {' '.join(names)}", body, [array], [True])


def check_methods(case: Case) -> None:
    """adjit eager and compiled equal PyTorch: value, dtype, gradient; or all raise alike."""
    import torch

    dtype = case.kind.split()[1]
    ulps = 64 if "cumsum_" in case.kind or "cumprod_" in case.kind else 0
    rtol = ulps * float(np.finfo(dtype).eps)
    want = cases.outcome(lambda: cases.leaf_grads(torch, case, case.bind(torch), True))
    stale = isinstance(want, cases.Raised) and "modified by an inplace" in str(want.error)
    if stale and "cumprod_" in case.kind:
        # PyTorch's cumprod saves its result, so a later in-place op makes its backward refuse;
        # adjit's saves the input (a copy, in an in-place op) and computes: compare it with
        # PyTorch's gradient of the same program with cumprod's result kept apart
        want = cases.outcome(lambda: cases.leaf_grads(torch, case, _kept_apart(case), True))
    got = cases.outcome(lambda: cases.leaf_grads(cases.adjit, case, case.bind(cases.adjit), True))
    _compare(got, want, rtol, "adjit eager")
    if isinstance(want, cases.Raised):
        return
    fn = cases.compiled(case)
    got = cases.outcome(lambda: cases.leaf_grads(cases.adjit, case, fn, True))
    _compare(got, want, rtol, "compiled")


def _kept_apart(case: Case) -> Callable[..., Any]:
    """The program with ``y.cumprod_(d)`` as ``y.copy_(y.clone().cumprod(d))`` (cumprod's
    saved input and result stay unmodified), bound to PyTorch."""
    import torch

    body = [
        re.sub(r"y\.cumprod_\((.*)\)", r"y.copy_(y.clone().cumprod(\1))", line)
        for line in case.body
    ]
    return Case(case.kind, body, case.arrays, case.requires_grad).bind(torch)


def _compare(got: Any, want: Any, rtol: float, what: str) -> None:
    if cases.same_raise(got, want, what):
        g, w = got.error, want.error
        assert type(g).__name__ == type(w).__name__ and str(w) in str(g), (
            f"{what}: raised {type(g).__name__}: {g}; PyTorch {type(w).__name__}: {w}"
        )
        return
    assert cases.dtype_name(got[0]) == cases.dtype_name(want[0]), f"{what}: dtype"
    cases.assert_floats(got[0], want[0], rtol, f"{what} value")
    cases.assert_same_grads(got[1], want[1], rtol, what)
