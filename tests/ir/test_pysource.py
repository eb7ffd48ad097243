"""Graphs as Python/NumPy source: the generated code computes what the interpreter computes."""

from __future__ import annotations

import numpy as np
import pytest
from adjit.frontend.plans import train_plan
from adjit.ir.interpreter import interpret
from adjit.ir.pysource import load, to_python

import adjit

FUNCTIONS = {
    "arith": lambda x, y: (x * 2 + y / 3 - 1) ** 2,
    "ints": lambda x, y: (x > 0).sum() + (y.long() // 2).float().mean(),
    "where": lambda x, y: adjit.where(x > y, x.exp(), y.clamp(-0.5, 0.5)).amax(0),
    "index": lambda x, y: x[1:, ::2] * y[0, -1] + x[adjit.tensor([0, 2])].sum(),
    "softmax": lambda x, y: (x.log_softmax(-1) * y.softmax(0)).sum(),
    "matmul": lambda x, y: (x @ y.t()).sigmoid().var(),
    "cast": lambda x, y: x.double().sin().float() + y.erf(),
}


def _args():
    rng = np.random.default_rng(0)
    return [adjit.tensor(rng.standard_normal((3, 4))), adjit.tensor(rng.standard_normal((3, 4)))]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_forward_source_matches_interpreter(name):
    args = _args()
    g = adjit.explain(FUNCTIONS[name], *args).graph
    arrays = [a.numpy() for a in args]
    _compare(load(to_python(g))(*arrays), interpret(g, arrays))


@pytest.mark.parametrize("name", [n for n in FUNCTIONS if n != "ints"])
def test_gradient_source_matches_interpreter(name):
    args = _args()
    g = adjit.explain(FUNCTIONS[name], *args).graph
    plan = train_plan(g, (0, 1))
    arrays = [a.numpy() for a in args] + [
        np.ones(v.aval.shape, v.aval.dtype.np) for v in plan.optimized_joint.inputs[2:]
    ]
    src = to_python(plan.optimized_joint, "grad")
    _compare(load(src, "grad")(*arrays), interpret(plan.optimized_joint, arrays))


def _compare(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        a = np.asarray(a)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
