"""The adjoint pass and the split: golden IR, pruning, residuals and recomputation."""

from __future__ import annotations

import numpy as np
from adjit.frontend.builder import joint_graph
from adjit.frontend.plans import train_plan
from adjit.ir.interpreter import interpret
from adjit.ir.parser import parse_graph
from adjit.ir.verify import verify

import adjit


def _graph(fn, *args):
    return adjit.explain(fn, *args).graph


def test_tutorial_gradient_is_three_muls_by_two():
    g = _graph(lambda x, y, z: x**2 + y**2 + z**2, *(adjit.tensor(v) for v in (2.0, 3.0, 4.0)))
    plan = train_plan(g, (0, 1, 2))
    assert str(plan.split.backward) == (
        "{ lambda a:f32[] b:f32[] c:f32[] d:f32[] .\n"
        "  let e:f32[] = mul d 2\n"
        "      f:f32[] = mul e c\n"
        "      g:f32[] = mul e b\n"
        "      h:f32[] = mul e a\n"
        "  in (h, g, f) }"
    )
    out = interpret(
        plan.optimized_joint, [np.float32(2), np.float32(3), np.float32(4), np.float32(1)]
    )
    assert [float(v) for v in out] == [29.0, 4.0, 6.0, 8.0]


def test_joint_graph_from_hand_written_ir():
    fwd = parse_graph(
        "{ lambda a:f32[3] .\n"
        "  let b:f32[3] = sin a\n"
        "      c:f32[] = sum[axes=None keepdim=False] b\n"
        "  in (c) }"
    )
    joint = joint_graph(fwd, [0])
    verify(joint.graph)
    x = np.array([0.1, 0.2, 0.3], np.float32)
    value, grad = interpret(joint.graph, [x, np.float32(1)])
    np.testing.assert_allclose(grad, np.cos(x), rtol=1e-6)
    assert joint.cotangent_of == (0,) and joint.reached == (True,)


def test_unreached_input_is_reported():
    fwd = _graph(lambda x, y: (x * 2).sum(), adjit.ones(2), adjit.ones(2))
    joint = joint_graph(fwd, [0, 1])
    assert joint.reached == (True, False)


def test_detach_is_pruned_with_its_reason():
    def f(x):
        return (x.detach() * x).sum()

    ex = adjit.explain(f, adjit.tensor([1.0, 2.0], requires_grad=True))
    assert ("b:f32[2] = detach a", "detach") in ex.pruned
    x = adjit.tensor([1.0, 2.0], requires_grad=True)
    adjit.compile(f)(x).backward()
    assert x.grad.tolist() == [1.0, 2.0]  # d/dx (c * x) with c = x held constant


def test_cheap_elementwise_values_are_recomputed_not_saved():
    # the backward needs exp(x); it is recomputed from x (alive anyway) instead of saved
    ex = adjit.explain(lambda x: x.exp().sum(), adjit.tensor([1.0, 2.0], requires_grad=True))
    assert ex.saved == []
    assert ex.recomputed == ["exp -> f32[2]"]
    # tanh of a matmul result is not recomputed (the product is not cheap): saved, with its bytes
    w = adjit.randn(3, 4, requires_grad=True)
    ex = adjit.explain(lambda x: (x @ w).tanh().sum(), adjit.randn(2, 3))
    assert [(r.shape, r.dtype, r.bytes, r.op) for r in ex.saved] == [
        ((2, 4), "float32", 32, "tanh")
    ]


def test_python_source_of_the_gradient_program_runs():
    w = adjit.randn(3, 2, requires_grad=True)
    x = adjit.randn(4, 3)
    ex = adjit.explain(lambda inp: ((inp @ w).sigmoid() - 0.5).pow(2).mean(), x)
    from adjit.ir.pysource import load

    program = load(ex.python, "gradient_program")
    args = [x.numpy(), w.detach().numpy(), np.float32(1)]
    expected = interpret(ex.optimized, args)
    got = program(*args)
    for a, b in zip(got, expected, strict=True):
        assert np.asarray(a).dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert "def gradient_program(a, b, c):" in ex.python


def test_explain_text_has_every_section():
    w = adjit.randn(3, 2, requires_grad=True)
    text = str(adjit.explain(lambda x: (x @ w).sum(), adjit.randn(4, 3)))
    for section in (
        "== graph IR",
        "== adjoint IR",
        "== passes",
        "== pruned",
        "== forward",
        "== backward",
        "== saved for backward",
        "== gradient program as Python",
        "== compile time",
    ):
        assert section in text


def test_value_and_gradient_share_exp_and_sigmoid_is_s_times_one_minus_s():
    x = adjit.tensor([0.5, 1.5], requires_grad=True)
    ops = [e.op.name for e in adjit.explain(lambda v: v.exp().sum(), x).optimized.eqns]
    assert ops.count("EXP") == 1  # the gradient reuses the forward's exp
    sig = adjit.explain(lambda v: v.sigmoid().sum(), x).optimized
    ops = [e.op.name for e in sig.eqns]
    # d sigmoid = g * s * (1 - s): built from the forward's s, with no exp and no division
    assert ops.count("SIGMOID") == 1 and "EXP" not in ops and "DIV" not in ops
    s_var = next(e.out for e in sig.eqns if e.op.name == "SIGMOID")
    assert sum(s_var in e.inputs for e in sig.eqns) >= 2  # s and (1 - s) both read it
