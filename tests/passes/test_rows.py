"""Row fusion (Note [row kernels]): row-reducing programs become one RowKernel whose compiled
result equals the interpreter's, serially and with rows split across threads."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from adjit.ir.graph import Graph
from adjit.ir.interpreter import interpret
from adjit.passes.fusion import Extern, Kernel, fuse
from adjit.passes.rows import RowKernel
from adjit.runtime.executor import compile_program

import adjit


def _log_softmax_loss(x, t):
    return (x.log_softmax(-1) * t).sum()


def _softmax(x, t):
    return (x.softmax(-1) * t).sum()


def _layer_norm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return ((x - mu) / (var + 1e-5).sqrt() * w + b).tanh().sum()


def _cross_entropy(x, t):
    return adjit.nn.functional.cross_entropy(x, t)


def _rms_rows(x, t):  # non-keepdim row values used as row outputs only
    return (x * x).mean(-1).sqrt() * t.sum(-1)


# name -> (function, argument shapes (None: class labels), which require grad)
PROGRAMS: dict[str, tuple[Callable, list, list[bool]]] = {
    "log_softmax": (_log_softmax_loss, [(37, 65), (37, 65)], [True, False]),
    "softmax3d": (_softmax, [(3, 5, 33), (3, 5, 33)], [True, True]),
    "layer_norm": (_layer_norm, [(19, 130), (130,), (130,)], [True, True, True]),
    "cross_entropy": (_cross_entropy, [(16, 10), None], [True, False]),
    "rms_rows": (_rms_rows, [(8, 17), (8, 17)], [True, False]),
}


def _joint(name: str, dtype) -> tuple[Graph, list[np.ndarray]]:
    fn, shapes, grads = PROGRAMS[name]
    rng = np.random.default_rng(0)
    arrays = [
        rng.integers(0, 10, 16) if s is None else (rng.standard_normal(s) * 3).astype(dtype)
        for s in shapes
    ]
    args = [adjit.tensor(a, requires_grad=r) for a, r in zip(arrays, grads, strict=True)]
    g = adjit.explain(fn, *args).optimized
    seeds = [np.ones(v.aval.shape, v.aval.dtype.np) for v in g.inputs[len(arrays) :]]
    return g, arrays + seeds


@pytest.mark.parametrize("name", list(PROGRAMS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("threshold", [1 << 40, 1], ids=["serial", "threads"])
def test_row_kernels_match_the_interpreter(name, dtype, threshold) -> None:
    g, inputs = _joint(name, dtype)
    ex = compile_program(g, threshold=threshold)
    assert any(isinstance(s, RowKernel) for s in ex.program.steps), ex.program.steps
    ref = interpret(g, inputs)
    for _ in range(2):  # repeated calls: per-thread partial sums start again from zero
        for got, want in zip(ex(inputs), ref, strict=True):
            # both sum in a different order: |error| <= terms * eps * scale, where the terms
            # are a row (per-row outputs) or every element (the scalar loss)
            terms = inputs[0].size if want.ndim == 0 else inputs[0].shape[-1]
            scale = max(1.0, float(np.max(np.abs(want), initial=0)))
            atol = terms * np.finfo(dtype).eps * scale
            np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def test_log_softmax_gradient_is_one_kernel_with_three_passes() -> None:
    g, _ = _joint("log_softmax", np.float32)
    (k,) = fuse(g).steps
    assert isinstance(k, RowKernel)
    assert len(k.passes) == 3  # max; sum of exp; outputs (and the loss)
    assert [e.op.name for e in k.reductions] == ["SUM"]  # the loss: over every element
    assert "pass 2" in k.formula


def test_reductions_over_other_axes_are_not_row_fused() -> None:
    g = adjit.explain(lambda x: (x - x.sum(0)).exp().sum(), adjit.tensor(np.ones((4, 6)))).graph
    prog = fuse(g)
    assert not any(isinstance(s, RowKernel) for s in prog.steps)
    assert all(isinstance(s, Kernel | Extern) for s in prog.steps)


def test_non_keepdim_row_value_broadcast_along_the_row_is_not_per_row() -> None:
    # x.sum(-1) has shape (6,); in x - s it broadcasts along the last axis (one per column)
    f = lambda x: (x - x.sum(-1)).exp().sum()  # noqa: E731
    x = np.random.default_rng(1).standard_normal((6, 6)).astype(np.float32) * 0.1
    g = adjit.explain(f, adjit.tensor(x)).graph
    got = compile_program(g)([x])
    np.testing.assert_allclose(got[0], interpret(g, [x])[0], rtol=1e-5)


def test_compiled_training_step_through_row_kernels_matches_eager() -> None:
    x = np.random.default_rng(2).standard_normal((32, 48)).astype(np.float32)
    w = adjit.tensor(np.ones(48, np.float32), requires_grad=True)
    b = adjit.tensor(np.zeros(48, np.float32), requires_grad=True)
    xs = adjit.tensor(x, requires_grad=True)
    adjit.compile(_layer_norm)(xs, w, b).backward()
    grads = [t.grad.numpy().copy() for t in (xs, w, b)]
    for t in (xs, w, b):
        t.grad = None
    _layer_norm(xs, w, b).backward()
    for got, t in zip(grads, (xs, w, b), strict=True):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_layer_norm_gradient_with_weight_and_bias_is_one_kernel() -> None:
    g, _ = _joint("layer_norm", np.float32)
    (k,) = fuse(g).steps
    assert isinstance(k, RowKernel)
    levels = sorted(k.level[e.out] for e in k.reductions)
    assert levels == ["column", "column", "scalar"]  # dw, db (per column) and the loss


def _edge_inputs(
    rng: np.random.Generator,
) -> dict[str, tuple[Callable, list[np.ndarray], list[int]]]:
    x = rng.standard_normal((64, 33)).astype(np.float32)
    xi = rng.integers(-50, 50, (64, 33))
    xn = x.copy()
    xn[3, :] = -np.inf
    xn[5, 2] = np.nan
    w40 = rng.standard_normal(40).astype(np.float32)
    return {
        "int rows": (lambda a: (a - a.amax(-1, keepdim=True)).sum(-1), [xi], []),
        "int max to float": (
            lambda a: (a.float() / a.abs().amax(-1, keepdim=True).float().clamp(min=1)).sum(),
            [xi],
            [],
        ),
        "-inf and nan rows": (lambda a: a.softmax(-1).sum(-1), [xn], []),
        "bool mask": (lambda a: ((a > a.mean(-1, keepdim=True)).float() * a).sum(-1), [x], []),
        "non-keepdim outputs": (lambda a: (a.exp().sum(-1).log(), a.amax(-1)), [x], []),
        "two long rows": (
            lambda a: a.log_softmax(-1).sum(),
            [rng.standard_normal((2, 100_000)).astype(np.float32)],
            [0],
        ),
        "3d, weight (C,)": (
            lambda a, w: ((a - a.mean(-1, keepdim=True)) * w).pow(2).sum(),
            [rng.standard_normal((3, 5, 40)).astype(np.float32), w40],
            [0, 1],
        ),
        "row var and column max": (lambda a: a.var(-1).sum() + a.amax(0).sum(), [x], []),
        "(R, 1) input": (
            lambda a, b: (a * b - (a * b).amax(-1, keepdim=True)).exp().sum(),
            [x, rng.standard_normal((64, 1)).astype(np.float32)],
            [0, 1],
        ),
    }


EDGES = list(_edge_inputs(np.random.default_rng(0)))


@pytest.mark.parametrize("name", EDGES)
@pytest.mark.parametrize("threshold", [1 << 40, 1], ids=["serial", "threads"])
def test_row_kernel_edge_cases_match_the_interpreter(name: str, threshold: int) -> None:
    fn, arrays, grad = _edge_inputs(np.random.default_rng(0))[name]
    args = [adjit.tensor(a, requires_grad=i in grad) for i, a in enumerate(arrays)]
    e = adjit.explain(fn, *args)
    g = e.optimized if e.plan is not None else e.inference
    inputs = arrays + [np.ones(v.aval.shape, v.aval.dtype.np) for v in g.inputs[len(arrays) :]]
    ex = compile_program(g, threshold=threshold)
    assert any(isinstance(s, RowKernel) for s in ex.program.steps)
    for got, want in zip(ex(inputs), interpret(g, inputs), strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        # float32 sums of up to 1e5 terms in another (blocked) order: a few sqrt(n) * eps
        # relative (~2e-5); integer results are exact
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, equal_nan=True)
