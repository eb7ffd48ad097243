"""Unused inputs keep a None gradient under adjit.compile, as eagerly (Note [gradients of
outputs not backpropagated], Note [arguments across breaks]): a backward from some outputs of a
compiled call, and gradients of arguments across graph breaks; torch, eager adjit and compiled
adjit side by side."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

Fn = Callable[..., Any]
RNG = np.random.default_rng(7)
W = RNG.standard_normal(3).astype(np.float32)
U = RNG.standard_normal(3).astype(np.float32)
XS = RNG.standard_normal((4, 5)).astype(np.float32)


def _two(L: Any, w: Any, u: Any) -> Any:
    return (w * w).sum(), (u * 3).sum()


def _outside(L: Any, call: Fn, how: str) -> list[Any]:
    """A backward (or autograd.grad) from the first output of ``call`` only."""
    w = L.tensor(W, requires_grad=True)
    u = L.tensor(U, requires_grad=True)
    a, _ = call(w, u)
    if how == "backward":
        a.backward()
        return [w.grad, u.grad]
    if how == "grad":
        return list(L.autograd.grad(a, (w, u), allow_unused=True))
    if how == "grad-create-graph":
        gw, gu = L.autograd.grad(a, (w, u), allow_unused=True, create_graph=True)
        (gw2,) = L.autograd.grad(gw.sum(), w)  # (second order through the first)
        return [gw, gu, gw2]
    try:
        L.autograd.grad(a, (w, u))
    except RuntimeError as e:
        return [str(e)]
    return ["no error"]


def _same(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if w is None or isinstance(w, str):
            assert g == w
        else:
            np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("how", ["backward", "grad", "grad-create-graph", "unused-error"])
def test_backward_from_some_outputs(how: str) -> None:
    want = _outside(torch, lambda w, u: _two(torch, w, u), how)
    _same(_outside(adjit, lambda w, u: _two(adjit, w, u), how), want)
    _same(_outside(adjit, adjit.compile(lambda w, u: _two(adjit, w, u)), how), want)


class _Heads:
    """A trunk and two heads; the loss reads only the first head (the second: None grads)."""

    def __init__(self, L: Any) -> None:
        L.manual_seed(0)
        self.trunk, self.a, self.b = L.nn.Linear(5, 6), L.nn.Linear(6, 2), L.nn.Linear(6, 3)
        self.params = [*self.trunk.parameters(), *self.a.parameters(), *self.b.parameters()]

    def __call__(self, x: Any) -> Any:
        h = self.trunk(x).relu()
        return self.a(h), self.b(h)


OPTIMIZERS: dict[str, Fn] = {
    "sgd-momentum-decay": lambda L, p: L.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    "adam": lambda L, p: L.optim.Adam(p, lr=0.01),
    "adamw": lambda L, p: L.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda L, p: L.optim.RMSprop(p, lr=0.01, weight_decay=0.01),
}


def _train(L: Any, make_opt: Fn, compiled: bool, log: bool) -> list[Any]:
    model = _Heads(L)
    opt = make_opt(L, model.params)
    forward = adjit.compile(model) if compiled else model
    seen: list[float] = []

    def step(x: Any) -> Any:
        opt.zero_grad()
        out_a, _ = forward(x)  # (the second head's output is not backpropagated)
        loss = out_a.pow(2).mean()
        if log:
            seen.append(loss.item())  # a graph break inside a compiled step
        loss.backward()
        opt.step()
        return loss

    run = adjit.compile(step) if compiled and log else step
    x = L.tensor(XS)
    for _ in range(4):
        run(x)
    grads = [None if p.grad is None else p.grad.numpy().copy() for p in model.params]
    return grads + [p.detach().numpy().copy() for p in model.params] + [len(opt.state)]


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_skips_the_unused_head(name: str, log: bool) -> None:
    """A compiled forward (and a compiled step with a graph break): the unused head's
    parameters keep None gradients, so the optimizer neither decays nor moves them, and holds
    no state for them, as PyTorch."""
    make = OPTIMIZERS[name]
    want = _train(torch, make, False, log)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the graph break)
        for compiled in (False, True):
            got = _train(adjit, make, compiled, log)
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                if isinstance(w, np.ndarray):
                    np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
                else:
                    assert g == w


# Arguments that cross a graph break (Note [arguments across breaks]): the function's name for
# an argument is the argument for autograd, before and after the break.
def _grad_after_break(L: Any, x: Any, w: Any, u: Any) -> Any:
    y = (x * w).sum()
    print(end="" if y.item() else "")  # a graph break
    return L.autograd.grad(y, (w, u), allow_unused=True)


def _unused_error_after_break(L: Any, x: Any, w: Any, u: Any) -> Any:
    y = (x * w).sum()
    print(end="" if y.item() else "")
    try:
        L.autograd.grad(y, (w, u))
    except RuntimeError as e:
        return str(e)
    return "no error"


def _backward_then_read_grad(L: Any, x: Any, w: Any, u: Any) -> Any:
    y = (x * w).sum()
    print(end="" if y.item() else "")
    y.backward()
    return w.grad * 1, u.grad


def _read_grad_after_break(L: Any, x: Any, w: Any, u: Any) -> Any:
    y = (x * w).sum()
    y.backward()
    print(end="" if y.item() else "")
    return w.grad * 2, u.grad


def _grad_of_later_use(L: Any, x: Any, w: Any, u: Any) -> Any:
    y = (x * w).sum()
    print(end="" if y.item() else "")
    return L.autograd.grad((w * w * y.detach()).sum(), (w,))


@pytest.mark.parametrize(
    "fn",
    [
        _grad_after_break,
        _unused_error_after_break,
        _backward_then_read_grad,
        _read_grad_after_break,
        _grad_of_later_use,
    ],
)
def test_arguments_across_a_graph_break(fn: Fn) -> None:
    def run(L: Any, call: Fn) -> list[Any]:
        found = []
        for _ in range(3):  # (the later calls: segment mode, or a statement-level split)
            x = L.tensor(XS[0, :3])
            w, u = L.tensor(W, requires_grad=True), L.tensor(U, requires_grad=True)
            out = call(L, x, w, u)
            found += list(out) if isinstance(out, tuple) else [out]
            found += [w.grad, u.grad]
        return found

    want = run(torch, fn)
    compiled = adjit.compile(lambda L, *a: fn(L, *a))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the graph break)
        _same(run(adjit, fn), want)
        _same(run(adjit, compiled), want)
