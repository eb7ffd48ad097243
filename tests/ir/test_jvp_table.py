"""The JVP table covers every op, its rules ask only for context names, and an elementwise
op's JVP taken from its VJP rule (Note [JVP of an elementwise op from its VJP rule]) is its
directional derivative: per op and per input, with broadcasting, against finite differences."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
from adjit.ir.derivatives import DEFAULT_INPUT_NAMES, INPUT_NAMES
from adjit.ir.dtypes import float32
from adjit.ir.jvp import JVPS, tangent_of
from adjit.ir.ops import GroupOp, Op
from adjit.ir.shapes import SHAPE_RULES
from adjit.runtime.dispatch import apply
from adjit.runtime.forward_grad import EAGER_REVERSE

import adjit

_HELPERS = {"same", "vjp", "reverse", "out", "inputs"}


@pytest.mark.parametrize("op", list(Op), ids=lambda op: op.name)
def test_every_op_has_a_jvp_rule(op: Op) -> None:
    assert op in JVPS, f"{op!r} has no JVP rule (ir/jvp.py)"


@pytest.mark.parametrize("op", sorted(JVPS, key=lambda o: o.value), ids=lambda op: op.name)
def test_jvp_params_are_context_names(op: Op) -> None:
    params = list(inspect.signature(JVPS[op]).parameters)
    assert params[0] == "ts", f"{op!r}: the tangents come first and are called ts"
    names = set(INPUT_NAMES.get(op, DEFAULT_INPUT_NAMES))
    shape = inspect.signature(SHAPE_RULES[op]).parameters.values()
    attrs = {p.name for p in shape if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(params[1:]) <= _HELPERS | names | attrs, (op, params)


def test_nondifferentiable_ops_give_no_tangent() -> None:
    for op in GroupOp.NONDIFF:
        assert JVPS[op](ts=(object(),)) is None


# one row per differentiable elementwise op: (attrs, kinds of the inputs); kinds: "r" real,
# "p" positive, "a" away from 0, "b" bool (no tangent)
ELEMENTWISE: dict[Op, tuple[dict[str, Any], str]] = {
    Op.NEG: ({}, "r"),
    Op.ABS: ({}, "a"),
    Op.SIGN: ({}, "a"),
    Op.EXP: ({}, "r"),
    Op.LOG: ({}, "p"),
    Op.LOG1P: ({}, "p"),
    Op.SQRT: ({}, "p"),
    Op.SIN: ({}, "r"),
    Op.COS: ({}, "r"),
    Op.TANH: ({}, "r"),
    Op.SIGMOID: ({}, "r"),
    Op.RELU: ({}, "a"),
    Op.ERF: ({}, "r"),
    Op.FLOOR: ({}, "a"),
    Op.TRUNC: ({}, "a"),
    Op.CAST: ({"dtype": float32}, "r"),
    Op.CLAMP: ({"lo": -0.5, "hi": 0.7}, "a"),
    Op.ADD: ({}, "rr"),
    Op.SUB: ({}, "rr"),
    Op.MUL: ({}, "rr"),
    Op.DIV: ({}, "ra"),
    Op.POW: ({}, "pr"),
    Op.MAXIMUM: ({}, "rr"),
    Op.MINIMUM: ({}, "rr"),
    Op.FMOD: ({}, "ra"),
    Op.ATAN2: ({}, "ra"),
    Op.COPYSIGN: ({}, "aa"),
    Op.WHERE: ({}, "brr"),
    Op.FMA: ({}, "rrr"),
}


def test_elementwise_rows_cover_the_group() -> None:
    assert set(ELEMENTWISE) == GroupOp.ELEMENTWISE - GroupOp.NONDIFF


def _sample(kind: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if kind == "b":
        return rng.random(shape) < 0.5
    if kind == "p":
        return rng.uniform(0.5, 2.0, shape)
    a = rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return a if kind == "a" else rng.uniform(-1.5, 1.5, shape)


# the last input broadcasts against the others: (3, 1) with (4,) -> (3, 4)
_SHAPES = {1: [(3, 4)], 2: [(3, 1), (4,)], 3: [(3, 4), (3, 1), (4,)]}
EPS = 1e-6


@pytest.mark.parametrize("op", sorted(ELEMENTWISE, key=lambda o: o.value), ids=lambda o: o.name)
def test_elementwise_jvp_is_the_vjp_rule_on_the_tangent(op: Op) -> None:
    attrs, kinds = ELEMENTWISE[op]
    rng = np.random.default_rng(op.value)
    arrays = [_sample(k, s, rng) for k, s in zip(kinds, _SHAPES[len(kinds)], strict=True)]
    xs = [adjit.from_numpy(a) for a in arrays]
    out = apply(op, *xs, **attrs)
    for i, k in enumerate(kinds):
        if k == "b":
            continue
        t = rng.uniform(-1, 1, arrays[i].shape)
        ts = [None] * len(xs)
        ts[i] = adjit.from_numpy(t)

        def same(*operands: Any) -> Any:
            return apply(op, *operands, **attrs)

        got = tangent_of(op, attrs, ts, xs, out, same, EAGER_REVERSE)
        assert tuple(got.shape) == tuple(out.shape) and got.dtype is out.dtype
        if op is Op.CAST:  # (float64 -> float32: the tangent itself, rounded)
            np.testing.assert_array_equal(got.numpy(), t.astype(np.float32))
            continue
        hi, lo = list(xs), list(xs)
        hi[i] = adjit.from_numpy(arrays[i] + EPS * t)
        lo[i] = adjit.from_numpy(arrays[i] - EPS * t)
        fd = (apply(op, *hi, **attrs).numpy() - apply(op, *lo, **attrs).numpy()) / (2 * EPS)
        # (as tests/func/test_jvp_ops.py: central differences agree to ~1e-8 in float64)
        np.testing.assert_allclose(got.numpy(), fd, rtol=1e-5, atol=1e-6)
