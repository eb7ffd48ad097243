"""Reading the .grad of a non-leaf warns as PyTorch does, at the user's line, and adjit's own
code never triggers it (Note [non-leaf .grad])."""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from adjit.runtime.grad_access import NON_LEAF_GRAD

import adjit


def _plain(T: Any) -> Any:
    x = T.ones(2, requires_grad=True)
    return (x * 2).grad


def _no_grad_mode(T: Any) -> Any:
    y = T.ones(2, requires_grad=True) * 2
    with T.no_grad():
        return y.grad  # (grad mode does not matter)


def _hasattr(T: Any) -> Any:
    return hasattr(T.ones(2, requires_grad=True) * 2, "grad")


def _getattr(T: Any, name: str = "grad") -> Any:
    return getattr(T.ones(2, requires_grad=True).exp(), name)


def _view(T: Any) -> Any:
    return T.ones(2, requires_grad=True).view(2).grad  # (a view is not a leaf either)


def _after_backward(T: Any) -> Any:
    x = T.ones(2, requires_grad=True)
    y = x * 2
    y.sum().backward()
    return y.grad


def _leaf(T: Any) -> Any:
    x = T.ones(2, requires_grad=True)
    x.exp().sum().backward()
    return x.grad, T.ones(2).grad, T.ones(2).exp().grad  # leaves: with and without grad


def _retained(T: Any) -> Any:
    y = T.ones(2, requires_grad=True) * 2
    y.retain_grad()
    return y.grad


def _detached(T: Any) -> Any:
    return (T.ones(2, requires_grad=True) * 2).detach().grad


def _backward_inputs(T: Any) -> Any:
    y = T.ones(2, requires_grad=True) * 3
    (y * y).sum().backward(inputs=[y])  # a non-leaf's .grad populated: no warning then
    z = T.ones(2, requires_grad=True) * 3
    (z * z).sum().backward(inputs=[z], create_graph=True)
    return y.grad, z.grad


def _assigned(T: Any) -> Any:
    y = T.ones(2, requires_grad=True) * 2
    y.grad = T.zeros(2)
    g = y.grad
    del y.grad
    return g, y.grad  # (deleted: None again, and warned)


CASES = [
    _plain,
    _no_grad_mode,
    _hasattr,
    _getattr,
    _view,
    _after_backward,
    _leaf,
    _retained,
    _detached,
    _backward_inputs,
    _assigned,
]


def _warnings(case: Callable[[Any], Any], T: Any) -> list[tuple[str, str, int]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        case(T)
    first = inspect.getsourcelines(case)[1]
    return [
        (w.category.__name__, str(w.message).split(" (Triggered internally")[0], w.lineno - first)
        for w in caught
        if w.filename == __file__ and "reference cycle" not in str(w.message)
    ] + [("elsewhere", str(w.message), 0) for w in caught if w.filename != __file__]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_non_leaf_grad_warns_as_torch(case: Callable[[Any], Any]) -> None:
    """The same warnings, category and text, at the same line of the case, as PyTorch."""
    ours = _warnings(case, adjit)
    theirs = [w for w in _warnings(case, torch) if "reference cycle" not in w[1]]
    assert ours == theirs


def test_warning_text_is_pytorchs() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _plain(torch)
    (w,) = caught
    assert str(w.message).startswith(NON_LEAF_GRAD + " (Triggered internally at ")
    assert _warnings(_plain, adjit) == [("UserWarning", NON_LEAF_GRAD, 2)]


def _train(compiled: bool) -> None:
    """Autograd, optimizers, clipping, zero_grad, deepcopy and a compiled step, over models
    whose forward makes non-leaves."""
    model = adjit.nn.Sequential(adjit.nn.Linear(3, 4), adjit.nn.Tanh(), adjit.nn.Linear(4, 1))
    opts = [adjit.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)]
    opts.append(adjit.optim.Adam(model.parameters(), lr=0.01))

    def step(x: Any) -> Any:
        loss = model(x).pow(2).mean()
        loss.backward()
        adjit.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        adjit.nn.utils.clip_grad_value_(model.parameters(), 1.0)
        for opt in opts:
            opt.step()
            opt.zero_grad()
        return loss

    run = adjit.compile(step) if compiled else step
    for _ in range(3):
        run(adjit.randn(5, 3))
    copy.deepcopy(model)
    h = adjit.ones(2, requires_grad=True) * 2
    copy.deepcopy(h.detach())
    adjit.autograd.grad(h.sum(), h)


@pytest.mark.parametrize("compiled", [False, True])
def test_adjits_own_code_never_reads_a_non_leaf_grad(compiled: bool) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="The .grad attribute", category=UserWarning)
        _train(compiled)


def _assignments(T: Any) -> list[Any]:
    """``t.grad = value``: what PyTorch accepts, and its errors for the rest, in its order
    (type, layout, grad_dtype, size)."""
    out: list[Any] = []
    x = T.ones(2, 3, requires_grad=True)
    values = [
        3,
        [1.0],
        T.ones(3, 2, dtype=T.float64),  # (dtype before size)
        T.ones(3, 2),
        T.ones(2, 3, dtype=T.int64),
        T.ones(2, 3).to_sparse(),  # a COO gradient of a dense tensor is fine
        T.ones(2, 3, dtype=T.float64).to_sparse(),
        T.nn.Parameter(T.ones(2, 3)),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (PyTorch's CSR beta warning)
        values.append(T.ones(2, 3).to_sparse_csr())
    for v in values:
        try:
            x.grad = v
            out.append(("ok", str(x.grad.layout)))
        except (TypeError, RuntimeError) as e:
            out.append((type(e).__name__, str(e)))
    x.grad = None
    x.grad_dtype = None  # any dtype then
    x.grad = T.ones(2, 3, dtype=T.float64)
    y = T.ones(2, 3, requires_grad=True) * 2  # a non-leaf is checked too
    for v in (T.ones(3), T.zeros(2, 3)):
        try:
            y.grad = v
            out.append("ok")
        except RuntimeError as e:
            out.append(str(e))
    return out


def test_grad_assignment_checked_as_torch() -> None:
    assert _assignments(adjit) == _assignments(torch)
