"""Custom autograd.Functions under every entry point: the user's backward gives the gradient
(Note [custom functions traced]), never a silent zero."""

from __future__ import annotations

import math
import types
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")


def functions(L: Any) -> types.SimpleNamespace:
    """The same Functions written for torch and for adjit (``L`` is the library)."""

    class Exp(L.autograd.Function):
        @staticmethod
        def forward(ctx, i):
            r = i.exp()
            ctx.save_for_backward(r)
            return r

        @staticmethod
        def backward(ctx, g):
            (r,) = ctx.saved_tensors
            return g * r

    class Scale(L.autograd.Function):  # two tensors and a number; a tensor kept on ctx
        @staticmethod
        def forward(ctx, x, y, c):
            ctx.c, ctx.x = c, x
            ctx.save_for_backward(y)
            return x * y * c

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            gx = g * y * ctx.c if ctx.needs_input_grad[0] else None
            gy = g * ctx.x * ctx.c if ctx.needs_input_grad[1] else None
            return gx, gy, None

    class FloorSTE(L.autograd.Function):  # the backward is not the forward's derivative
        @staticmethod
        def forward(ctx, x):
            return x.floor()

        @staticmethod
        def backward(ctx, g):
            return g

    class SinCos(L.autograd.Function):  # two outputs
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, ga, gb):
            (x,) = ctx.saved_tensors
            return ga * x.cos() - gb * x.sin()

    class MaxWithIndex(L.autograd.Function):  # an integer output marked non-differentiable
        @staticmethod
        def forward(ctx, x):
            i = x.argmax()
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(x)
            return x.max(), i

        @staticmethod
        def backward(ctx, g, gi):
            (x,) = ctx.saved_tensors
            return (x >= x.max()).to(x.dtype) * g

    return types.SimpleNamespace(
        Exp=Exp, Scale=Scale, FloorSTE=FloorSTE, SinCos=SinCos, MaxWithIndex=MaxWithIndex
    )


TORCH, ADJIT = functions(torch), functions(adjit)


def _sincos(fs: Any, x: Any, y: Any) -> Any:
    a, b = fs.SinCos.apply(x)
    return (a * 2 + b * y).sum()


# name -> scalar loss of (functions, x, y); gradients are taken with respect to x and y
LOSSES = {
    "exp": lambda fs, x, y: (fs.Exp.apply(x) * y).sum(),
    "scale": lambda fs, x, y: fs.Scale.apply(x, y, 3.0).sum(),
    "floor-ste": lambda fs, x, y: (fs.FloorSTE.apply(x) * y).sum(),
    "sincos": _sincos,
    "sincos-one-used": lambda fs, x, y: (fs.SinCos.apply(x)[0] * y).sum(),  # a zero cotangent
    "max-with-index": lambda fs, x, y: fs.MaxWithIndex.apply(x * y)[0] * 2,
}

X = np.array([0.0, 1.0, -0.5], np.float64)
Y = np.array([1.5, -2.0, 0.25], np.float64)


def _torch_grads(name: str) -> tuple[float, list[np.ndarray]]:
    x, y = (torch.tensor(a, requires_grad=True) for a in (X, Y))
    out = LOSSES[name](TORCH, x, y)
    out.backward()
    return out.item(), [x.grad.numpy(), y.grad.numpy()]


def _args(requires_grad: bool = False) -> list[Any]:
    return [adjit.tensor(a, requires_grad=requires_grad) for a in (X, Y)]


def _assert_grads(got: Any, want: list[np.ndarray]) -> None:
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-12, atol=1e-15)


def test_exp_example_from_the_issue() -> None:
    g = adjit.grad(lambda t: ADJIT.Exp.apply(t).sum())(adjit.tensor([0.0, 1.0]))
    np.testing.assert_allclose(g.numpy(), [1.0, math.e], rtol=1e-6)


@pytest.mark.parametrize("name", list(LOSSES))
def test_grad_and_value_and_grad(name: str) -> None:
    value, want = _torch_grads(name)
    loss = LOSSES[name]
    got = adjit.grad(lambda x, y: loss(ADJIT, x, y), argnums=(0, 1))(*_args())
    _assert_grads(got, want)
    v, got = adjit.value_and_grad(lambda x, y: loss(ADJIT, x, y), argnums=(0, 1))(*_args())
    np.testing.assert_allclose(v.item(), value, rtol=1e-12)
    _assert_grads(got, want)


@pytest.mark.parametrize("fallback", [None, "eager"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_compiled_backward(name: str, fallback: str | None) -> None:
    value, want = _torch_grads(name)
    loss = LOSSES[name]
    compiled = adjit.compile(lambda x, y: loss(ADJIT, x, y), fallback=fallback)
    for _ in range(2):  # the prepared call the second time
        args = _args(requires_grad=True)
        out = compiled(*args)
        np.testing.assert_allclose(out.item(), value, rtol=1e-12)
        out.backward()
        _assert_grads([a.grad for a in args], want)
    np.testing.assert_allclose(compiled(*_args()).item(), value, rtol=1e-12)  # no grad
    assert compiled.trace_count == 2  # with and without requires_grad


@pytest.mark.parametrize("name", list(LOSSES))
def test_eager_backward(name: str) -> None:
    value, want = _torch_grads(name)
    args = _args(requires_grad=True)
    out = LOSSES[name](ADJIT, *args)
    out.backward()
    np.testing.assert_allclose(out.item(), value, rtol=1e-12)
    _assert_grads([a.grad for a in args], want)


def test_explain_shows_the_function_and_its_gradient() -> None:
    ex = adjit.explain(lambda x, y: LOSSES["exp"](ADJIT, x, y), *_args(requires_grad=True))
    assert "custom_vjp[rule=Exp.backward]" in str(ex.graph)
    assert ex.plan is not None and ex.plan.joint.reached == (True, True)


def test_second_derivative_through_a_saved_output() -> None:
    # d2/dx2 sum(exp(x)) = exp(x): the saved output unpacks as the output, as in PyTorch
    def first(t: Any) -> Any:
        return adjit.grad(lambda s: ADJIT.Exp.apply(s).sum())(t).sum()

    np.testing.assert_allclose(adjit.grad(first)(adjit.tensor(X)).numpy(), np.exp(X), rtol=1e-12)
    x = adjit.tensor(X, requires_grad=True)
    (g,) = adjit.autograd.grad(ADJIT.Exp.apply(x).sum(), x, create_graph=True)
    (h,) = adjit.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), np.exp(X), rtol=1e-12)


def test_a_forward_that_reads_data_refuses_to_trace_or_runs_eagerly() -> None:
    class Halve(adjit.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x / 2 if x.sum().item() > 0 else x  # a Python branch on a value

        @staticmethod
        def backward(ctx, g):
            return g / 2

    x = adjit.tensor(X, requires_grad=True)
    with pytest.raises(adjit.TracingError, match=r"Tensor\.item\(\)"):
        adjit.grad(lambda t: Halve.apply(t).sum())(adjit.tensor(X))
    with pytest.warns(UserWarning, match="running .* eagerly"):
        out = adjit.compile(lambda t: Halve.apply(t).sum(), fallback="eager", fullgraph=True)(x)
    out.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 0.5))


def test_jacobian() -> None:
    want = torch.autograd.functional.jacobian(TORCH.Exp.apply, torch.tensor(X)).numpy()
    got = adjit.autograd.functional.jacobian(ADJIT.Exp.apply, adjit.tensor(X)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_non_differentiable_output_and_number_of_gradients() -> None:
    class Bad(adjit.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g  # one gradient for two inputs

    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        adjit.grad(lambda x, y: Bad.apply(x, y).sum())(*_args())

    def top(x: Any) -> Any:
        value, index = ADJIT.MaxWithIndex.apply(x)
        assert index.dtype is adjit.int64
        return value * 2

    g = adjit.grad(top)(adjit.tensor(X))
    np.testing.assert_allclose(g.numpy(), [0.0, 2.0, 0.0])
