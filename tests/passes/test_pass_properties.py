"""The pipeline on traced programs and their joint graphs: same values bit for bit, fewer ops."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from adjit.frontend.builder import joint_graph
from adjit.ir.graph import Graph
from adjit.ir.interpreter import interpret
from adjit.ir.printer import print_graph
from adjit.passes.pipeline import PIPELINE, run_pipeline
from conftest import normalize

import adjit
import adjit.nn.functional as F


def _mlp(w1, b1, w2, x, y):  # type: ignore[no-untyped-def]
    return ((x @ w1 + b1).relu() @ w2 - y).pow(2).mean()


def _softmax_xent(logits, onehot):  # type: ignore[no-untyped-def]
    return -(logits.log_softmax(-1) * onehot).sum(-1).mean()


def _layer_norm(x, w, b):  # type: ignore[no-untyped-def]
    return F.layer_norm(x, (4,), w, b).sum()


def _detached(x, y):  # type: ignore[no-untyped-def]
    with adjit.no_grad():
        s = (x * 2).exp()
    return (x * s.detach() + y**3).sum()


def _movement(x, y):  # type: ignore[no-untyped-def]
    z = x.reshape(4, 3).permute(1, 0).reshape(12).reshape(3, 4)
    return (z * y).expand(2, 3, 4).sum(0).max()


# name -> (function, argument shapes); every argument is float32 and differentiated
PROGRAMS: dict[str, tuple[Callable, tuple[tuple[int, ...], ...]]] = {
    "tutorial": (lambda x, y, z: x**2 + y**2 + z**2, ((), (), ())),
    "mlp_loss": (_mlp, ((3, 5), (5,), (5, 2), (4, 3), (4, 2))),
    "softmax_xent": (_softmax_xent, ((4, 6), (4, 6))),
    "layer_norm": (_layer_norm, ((3, 4), (4,), (4,))),
    "unary_chain": (lambda x: (x.tanh() + x.sigmoid() * x.exp()).log1p().abs().sum(), ((5,),)),
    "pow_tensor": (
        lambda x, y: (x.abs() ** y).sum() + (x**1).sum() * (y**0.5).mean(),
        ((4,), (4,)),
    ),
    "minmax_where": (
        lambda x, y: adjit.where(x > y, adjit.maximum(x, y), adjit.minimum(x, y) / 3).sum(),
        ((2, 3), (3,)),
    ),
    "clamp_div": (lambda x, y: (x.clamp(-0.5, 0.5) / (y * y + 1)).mean(), ((6,), (6,))),
    "detached": (_detached, ((3,), (3,))),
    "movement": (_movement, ((12,), (3, 4))),
    "two_outputs": (lambda x, y: ((x * y).sum(), (x - y).pow(2).sum()), ((3,), (3,))),
}


def _traced(name: str) -> tuple[Graph, Graph, list[np.ndarray]]:
    fn, shapes = PROGRAMS[name]
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    fwd = adjit.explain(fn, *(adjit.tensor(a) for a in args)).graph
    joint = joint_graph(fwd, list(range(len(args)))).graph
    cotangents = [
        rng.standard_normal(v.aval.shape).astype(np.float32) for v in joint.inputs[len(args) :]
    ]
    return fwd, joint, [*args, *cotangents]


def _assert_identical(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(np.signbit(x), np.signbit(y))


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_pipeline_preserves_values_exactly(name: str) -> None:
    fwd, joint, args = _traced(name)
    for g, inputs in ((fwd, args[: len(fwd.inputs)]), (joint, args)):
        text = print_graph(g)
        out, records = run_pipeline(g, verify=True)
        assert print_graph(g) == text, "the pipeline changed its input graph"
        assert len(out.eqns) <= len(g.eqns)
        _assert_identical(interpret(g, inputs), interpret(out, inputs))
        # special values too: zeros (signed), where the exact-rule conditions matter
        special = [
            np.where(np.arange(x.size).reshape(x.shape) % 3 == 0, -0.0, x).astype(x.dtype)
            for x in inputs
        ]
        _assert_identical(interpret(g, special), interpret(out, special))
        assert [r.name for r in records] == [n for n, _ in PIPELINE]


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_pipeline_reaches_a_fixed_point(name: str) -> None:
    _, joint, _ = _traced(name)
    once, _ = run_pipeline(joint)
    twice, _ = run_pipeline(once)
    assert print_graph(twice) == print_graph(once)


def test_tutorial_gradient_is_three_multiplies() -> None:
    """x**2 + y**2 + z**2: the squares become products, and each gradient is (2 * ct) * input,
    with 2 * ct computed once. (2 * x per input and a multiply by ct would be the same count.)"""
    _, joint, _ = _traced("tutorial")
    out, _ = run_pipeline(joint)
    assert print_graph(out) == normalize("""{ lambda a:f32[] b:f32[] c:f32[] d:f32[] .
  let e:f32[] = mul a a
      f:f32[] = mul b b
      g:f32[] = add e f
      h:f32[] = mul c c
      i:f32[] = add g h
      j:f32[] = mul d 2
      k:f32[] = mul j c
      l:f32[] = mul j b
      m:f32[] = mul j a
  in (i, m, l, k) }""")


# equation counts of the joint graphs before -> after the pipeline (a regression guard)
EXPECTED_COUNTS = {  # rules skip cotangents of inputs that need none (``needs``)
    "tutorial": (11, 9),
    "mlp_loss": (27, 24),  # relu passes NaN cotangents (where(not(out <= 0))): the not folds
    "softmax_xent": (25, 21),  # log_softmax's own rule: g - exp(out) * sum(g)
    "layer_norm": (41, 37),  # d(1/s)/ds as PyTorch: -g * ((1 / s) / s), one div not shared
}


@pytest.mark.parametrize("name", list(EXPECTED_COUNTS))
def test_joint_graph_sizes(name: str) -> None:
    _, joint, _ = _traced(name)
    out, _ = run_pipeline(joint)
    assert (len(joint.eqns), len(out.eqns)) == EXPECTED_COUNTS[name]
