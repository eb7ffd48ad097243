"""Eager gradients (first and second order) of every op row against finite differences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_ops_table import CASES, Case, cotangents, differentiable, make_args, outputs

import adjit

# Tolerances. Inputs and arithmetic are float64 and central differences use EPS = 1e-6: the
# truncation error is EPS**2 * f''' / 6 ~ 1e-12 and the rounding error ~ 1e-16 * |L| / EPS
# ~ 1e-9 for the O(10) scalar L = <cotangent, output> we differentiate, so exact gradients
# agree to ~1e-8. RTOL/ATOL leave two orders of headroom and still catch any wrong rule (whose
# error is O(1)). Second derivatives difference the first gradient, with the same bounds.
EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-6

# rows whose results are bool or integer: no gradient flows
NONDIFF_OPS = {
    "logical_not",
    "logical_xor",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "argmax",
    "argmin",
    "nonzero",
    "all",
    "any",
    "isnan",
    "isinf",
    "isfinite",
}
# rows sampled with ties and kinks ("grid") are compared with PyTorch only
GRAD_CASES = [
    c
    for c in CASES
    if any(a.differentiable for a in c.args)
    and c.op not in NONDIFF_OPS
    and c.name not in ("where-nonzero", "argmax-0dim")
    and all(a.kind != "grid" for a in c.args)
]


def _forward(case: Case, arrays: list[np.ndarray]) -> list[Any]:
    with adjit.no_grad():
        return outputs(case.fn(adjit, *make_args(case, adjit, arrays)))


def _loss(case: Case, arrays: list[np.ndarray], ws: list[np.ndarray], keep: list[int]) -> float:
    outs = _forward(case, arrays)
    return float(sum((outs[k].detach().numpy() * w).sum() for k, w in zip(keep, ws, strict=True)))


def _numeric_grad(f: Any, arrays: list[np.ndarray], i: int) -> np.ndarray:
    """Central differences of the scalar ``f(arrays)`` with respect to ``arrays[i]``."""
    grad = np.zeros_like(arrays[i])
    for j in np.ndindex(arrays[i].shape):
        hi = [a.copy() for a in arrays]
        lo = [a.copy() for a in arrays]
        hi[i][j] += EPS
        lo[i][j] -= EPS
        grad[j] = (f(hi) - f(lo)) / (2 * EPS)
    return grad


def _first(case: Case, arrays: list[np.ndarray], create_graph: bool = False) -> tuple:
    args = make_args(case, adjit, arrays)
    outs = outputs(case.fn(adjit, *args))
    keep = [k for k, o in enumerate(outs) if differentiable([o])]
    diff = [outs[k] for k in keep]
    ws = cotangents(case, diff)
    inputs = [a for a, s in zip(args, case.args, strict=True) if s.differentiable]
    grads = adjit.autograd.grad(
        diff,
        inputs,
        [adjit.from_numpy(w) for w in ws],
        create_graph=create_graph,
        allow_unused=True,
    )
    return inputs, grads, ws, keep


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.name)
def test_gradient(case: Case) -> None:
    arrays = case.arrays()
    inputs, grads, ws, keep = _first(case, arrays)
    assert keep, f"{case.name}: no differentiable output"
    positions = [i for i, s in enumerate(case.args) if s.differentiable]
    for i, g in zip(positions, grads, strict=True):
        want = _numeric_grad(lambda a: _loss(case, a, ws, keep), arrays, i)
        got = np.zeros_like(want) if g is None else g.numpy()
        assert got.shape == want.shape and (g is None or g.dtype is adjit.float64)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"input {i}")


SECOND = [c for c in GRAD_CASES if c.second]


@pytest.mark.parametrize("case", SECOND, ids=lambda c: c.name)
def test_second_derivative(case: Case) -> None:
    arrays = case.arrays()
    positions = [i for i, s in enumerate(case.args) if s.differentiable]
    inputs, grads, _, _ = _first(case, arrays, create_graph=True)
    vs = cotangents(case, list(inputs), salt="v")

    def first_dot_v(a: list[np.ndarray]) -> float:
        _, g1, _, _ = _first(case, a)
        return float(
            sum((g.numpy() * v).sum() for g, v in zip(g1, vs, strict=True) if g is not None)
        )

    live = [
        (g, adjit.from_numpy(v))
        for g, v in zip(grads, vs, strict=True)
        if g is not None and g.requires_grad
    ]
    second = (
        adjit.autograd.grad([g for g, _ in live], inputs, [v for _, v in live], allow_unused=True)
        if live
        else [None] * len(inputs)
    )
    for i, h in zip(positions, second, strict=True):
        want = _numeric_grad(first_dot_v, arrays, i)
        got = np.zeros_like(want) if h is None else h.numpy()
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"input {i}")
