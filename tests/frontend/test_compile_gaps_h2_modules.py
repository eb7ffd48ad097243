"""Modules and leaves made inside a compiled function (Note [modules made while tracing], Note
[leaves made inside a compiled function]): fresh parameters from adjit's generator on every
call, the numbers eager mode (and PyTorch) draws for the seed, outputs that require grad as
eagerly; each program run as torch, eager adjit and compiled adjit."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from adjit.runtime.trace_state import TracingError

import adjit

Fn = Callable[..., Any]
X = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)


def _linear(L: Any, x: Any) -> Any:
    return L.nn.Linear(4, 3)(x).tanh().sum()


def _mlp_backward_inside(L: Any, x: Any) -> Any:
    m = L.nn.Sequential(L.nn.Linear(4, 8), L.nn.ReLU(), L.nn.Linear(8, 2))
    loss = m(x).pow(2).mean()
    loss.backward()
    return loss.detach(), m[0].weight.grad * 1, m[2].bias.grad * 1


def _made_before_break(L: Any, x: Any) -> Any:
    lin = L.nn.Linear(4, 3)
    scale = float(x.abs().max())  # a graph break: the parameters cross it as leaves
    return (lin(x) / scale).sum() + lin.weight.sum()


def _made_after_break(L: Any, x: Any) -> Any:
    scale = float(x.abs().max())  # a graph break: the module is made in the next segment
    lin = L.nn.Linear(4, 3)
    return (lin(x) / scale).sum() + lin.weight.sum()


def _dropout_and_init(L: Any, x: Any) -> Any:
    lin = L.nn.Linear(4, 6)
    L.nn.init.normal_(lin.weight, 0.0, 0.5)
    L.nn.init.zeros_(lin.bias)
    return L.nn.Dropout(0.3)(lin(x)).sum(1)


def _run(lib: Any, fn: Fn, seed: int, grad: bool, call: Fn | None = None) -> list[Any]:
    """Two calls of ``fn`` after ``manual_seed(seed)`` (fresh parameters each): the outputs,
    whether each requires grad, and x's gradient of a weighted sum of the outputs."""
    lib.manual_seed(seed)
    found: list[Any] = []
    for _ in range(2):
        x = lib.tensor(X, requires_grad=grad)
        out = (call or (lambda a: fn(lib, a)))(x)
        outs = out if isinstance(out, tuple) else (out,)
        found += [o.detach().numpy().copy() for o in outs] + [o.requires_grad for o in outs]
        found.append(None if x.grad is None else x.grad.numpy().copy())  # (a backward inside)
        if grad and any(o.requires_grad for o in outs):
            sum((o * (k + 1)).sum() for k, o in enumerate(outs) if o.requires_grad).backward()
            found.append(None if x.grad is None else x.grad.numpy().copy())
    return found


def _same(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if isinstance(w, np.ndarray):  # float32 sums in a different order
            np.testing.assert_allclose(g, w, rtol=2e-6, atol=2e-6)
        else:
            assert g == w


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize(
    "fn", [_linear, _mlp_backward_inside, _made_before_break, _made_after_break, _dropout_and_init]
)
def test_modules_made_inside(fn: Fn, grad: bool) -> None:
    """Eager adjit is torch (same seed: same weights and dropout masks); compiled is eager."""
    compiled = adjit.compile(lambda x: fn(adjit, x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the graph breaks)
        for seed in (
            0,
            1,
            2,
        ):  # (the third: a statement-level split, Note [statement-level breaks])
            want = _run(torch, fn, seed, grad)
            _same(_run(adjit, fn, seed, grad), want)
            _same(_run(adjit, fn, seed, grad, compiled), want)


def test_parameter_made_inside_stays_a_parameter() -> None:
    seen: list[Any] = []

    def f(x: Any) -> Any:
        lin = adjit.nn.Linear(4, 3)
        seen.append(
            (
                isinstance(lin.weight, adjit.nn.Parameter),
                lin.weight.requires_grad,
                len(list(lin.parameters())),
            )
        )
        return lin(x)

    adjit.compile(f, fullgraph=True)(adjit.tensor(X))
    assert seen == [(True, True, 2)]


def test_output_of_a_module_made_inside_backpropagates() -> None:
    """Eagerly the output requires grad (the local weight does); compiled too, and a backward
    through it runs (its gradient reaches only the unreachable local leaves)."""
    f = adjit.compile(lambda x: adjit.nn.Linear(4, 1)(x).sum(), fullgraph=True)
    out = f(adjit.tensor(X))
    assert out.requires_grad and out.grad_fn is not None
    out.backward()
    with adjit.no_grad():
        assert not f(adjit.tensor(X)).requires_grad


def test_leaf_made_inside_returned() -> None:
    """Returned alone, a leaf made inside is a leaf that requires grad, as eagerly; returned
    with a value computed from it, a backward through that value could not reach it: refused."""

    def alone(x: Any) -> Any:
        return adjit.randn(3, requires_grad=True)

    for call in (alone, adjit.compile(alone, fullgraph=True)):
        adjit.manual_seed(0)
        w = call(adjit.tensor(X))
        assert w.requires_grad and w.is_leaf
        torch.manual_seed(0)
        assert w.detach().numpy().tolist() == torch.randn(3).tolist()

    def both(x: Any) -> Any:
        w = adjit.randn(4, requires_grad=True)
        return (x * w).sum(), w

    with pytest.raises(TracingError, match="together with a value computed from it"):
        adjit.compile(both, fullgraph=True)(adjit.tensor(X))


def test_leaf_used_across_a_break_refused() -> None:
    """A value computed from a parameter made inside, kept across a graph break with that
    parameter: a backward through the value could not reach the parameter: refused."""

    def f(x: Any) -> Any:
        lin = adjit.nn.Linear(4, 3)
        h = lin(x)
        scale = float(h.abs().max())
        return (h / scale).sum() + lin.weight.sum()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TracingError, match="kept across a graph break, together with a value"):
            adjit.compile(f)(adjit.tensor(X))


def test_module_made_inside_returned_refused() -> None:
    with pytest.raises(TracingError, match="returns a Linear that holds tensors computed inside"):
        adjit.compile(lambda: adjit.nn.Linear(2, 2), fullgraph=True)()


def test_leaf_made_inside_written_under_no_grad_stays_a_leaf() -> None:
    """``init.normal_(w)`` on a leaf made inside (an in-place write under no_grad): still a
    leaf that requires grad, whose gradient backward() inside fills."""

    def f(L: Any, x: Any) -> Any:
        w = L.randn(4, requires_grad=True)
        with L.no_grad():
            w.mul_(2)
        y = (w * x).sum()
        y.backward()
        return y.detach(), w.grad * 1, w.is_leaf

    compiled = adjit.compile(lambda x: f(adjit, x), fullgraph=True)
    torch.manual_seed(0)
    want = f(torch, torch.tensor(X))
    for call in (lambda x: f(adjit, x), compiled):
        adjit.manual_seed(0)
        got = call(adjit.tensor(X))
        np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-6)
        np.testing.assert_allclose(got[1].numpy(), want[1].numpy(), rtol=1e-6)
        assert got[2] is want[2] is True
