"""Each hand-written elementwise derivative rule agrees with ``sympy.diff`` of the op's form."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.ir.derivatives import DERIVATIVES, rule_context
from adjit.ir.ops import GroupOp, Op
from adjit.ir.reference import REFERENCE
from adjit.ir.symbolic import (
    SYMPY_FORMS,
    arity,
    evaluate,
    lambdify,
    partial_derivatives,
    symbolic_partials,
)
from adjit.ir.symbolic import sp as lazy_sp
from adjit.runtime.dispatch import apply
from adjit.runtime.tensor import Tensor

import adjit

N = 64  # points per op


def _away_from_zero(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0.2, 2.0, n) * rng.choice([-1.0, 1.0], n)


def _real(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(-2.0, 2.0, n)


def _positive(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0.2, 3.0, n)


def _clamp_points(rng: np.random.Generator, n: int) -> np.ndarray:
    # away from the kinks at the bounds +-0.5 used below
    return rng.choice([-1.0, 1.0], n) * rng.choice([rng.uniform(0.0, 0.4), rng.uniform(0.6, 2)], n)


# the domain each input is sampled from (keys: op, or (op, input position))
DOMAINS: dict[Any, Any] = {
    Op.ABS: _away_from_zero,
    Op.SIGN: _away_from_zero,
    Op.RELU: _away_from_zero,
    Op.LOG: _positive,
    Op.SQRT: _positive,
    Op.LOG1P: _positive,
    Op.CLAMP: _clamp_points,
    (Op.POW, 0): _positive,
    (Op.DIV, 1): _away_from_zero,
}

ATTRS: dict[Op, list[dict[str, Any]]] = {
    Op.CLAMP: [{"lo": -0.5, "hi": 0.5}, {"lo": -0.5, "hi": None}, {"lo": None, "hi": 0.5}],
}

CASES = [
    (op, attrs)
    for op in sorted(GroupOp.SYMBOLIC, key=lambda o: o.value)
    for attrs in ATTRS.get(op, [{}])
]


def _ids(case: tuple[Op, dict[str, Any]]) -> str:
    op, attrs = case
    return op.name + "".join(f"-{k}={v}" for k, v in attrs.items())


def _points(op: Op, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(arity(op)):
        domain = DOMAINS.get((op, i), DOMAINS.get(op, _real))
        out.append(domain(rng, N))
    if op in (Op.MAXIMUM, Op.MINIMUM):  # keep the two inputs apart: no ties
        out[1] = out[0] + _away_from_zero(rng, N)
    return out


def _rule_context(op: Op, inputs: list[Tensor], out: Tensor, attrs: dict[str, Any]) -> dict:
    """What the engine hands a derivative rule, by parameter name (every input needs a grad)."""
    shapes = [tuple(t.shape) for t in inputs]
    return rule_context(op, attrs, shapes, lambda i: inputs[i], lambda: out, (True,) * len(inputs))


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_rule_matches_sympy_diff(case: tuple[Op, dict[str, Any]]) -> None:
    op, attrs = case
    arrays = _points(op, seed=op.value)
    inputs = [Tensor._make(a) for a in arrays]
    out = apply(op, *inputs, **attrs)
    g = np.random.default_rng(1).uniform(0.5, 1.5, N)
    grads = DERIVATIVES[op](Tensor._make(g), **_rule_context(op, inputs, out, attrs))
    expected = partial_derivatives(op, *arrays, **attrs)
    assert len(grads) == len(expected) == len(arrays)
    for i, (got, want) in enumerate(zip(grads, expected, strict=True)):
        assert got is not None, f"{op!r}: no cotangent for input {i}"
        assert got.dtype.name == "float64"
        np.testing.assert_allclose(
            got.numpy(), g * want, rtol=1e-10, atol=1e-12, err_msg=f"{op!r} d/d input {i}"
        )


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_sympy_form_matches_reference(case: tuple[Op, dict[str, Any]]) -> None:
    op, attrs = case
    arrays = _points(op, seed=op.value + 100)
    want = REFERENCE[op](*arrays, **attrs)
    np.testing.assert_allclose(evaluate(op, *arrays, **attrs), want, rtol=1e-12, atol=1e-14)


def test_sympy_forms_cover_every_input() -> None:
    for op, form in SYMPY_FORMS.items():
        n = arity(op)
        assert n == (1 if op in GroupOp.UNARY else 2), op
        assert callable(form)


def test_lambdify_broadcasts_constants() -> None:
    x = lazy_sp.Symbol("x", real=True)
    f = lambdify([x], lazy_sp.Integer(3))
    assert f(np.zeros((2, 3))).shape == (2, 3)


def test_importing_adjit_does_not_import_sympy() -> None:
    import subprocess
    import sys

    code = "import sys, adjit, adjit.ir.symbolic; print('sympy' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def _second_partials(op: Op, attrs: dict[str, Any], arrays: list[np.ndarray]) -> list[list]:
    syms, partials = symbolic_partials(op, **attrs)
    return [[lambdify(syms, lazy_sp.diff(d, s))(*arrays) for s in syms] for d in partials]


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_rule_is_differentiable_like_sympy(case: tuple[Op, dict[str, Any]]) -> None:
    # the rule's own ops, recorded with create_graph, must give sympy's second derivatives
    op, attrs = case
    arrays = _points(op, seed=op.value + 200)
    inputs = [Tensor._make(a).requires_grad_() for a in arrays]
    g = np.random.default_rng(3).uniform(0.5, 1.5, N)
    out = apply(op, *inputs, **attrs)
    firsts = adjit.autograd.grad(out, inputs, Tensor._make(g), create_graph=True)
    want = _second_partials(op, attrs, arrays)
    for i, d1 in enumerate(firsts):
        live = d1 is not None and d1.requires_grad
        seconds = (
            adjit.autograd.grad(d1, inputs, Tensor._make(np.ones(N)), allow_unused=True)
            if live
            else [None] * len(inputs)
        )
        for j, d2 in enumerate(seconds):
            got = np.zeros(N) if d2 is None else d2.numpy()
            np.testing.assert_allclose(
                got, g * want[i][j], rtol=1e-9, atol=1e-11, err_msg=f"{op!r} d2/d{i}d{j}"
            )
