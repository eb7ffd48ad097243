"""torch.eig, symeig, lstsq, solve, matrix_rank and their Tensor methods: removed in PyTorch,
they raise its RuntimeError texts; wrong arguments raise its TypeErrors."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import adjit

torch = pytest.importorskip("torch")

CALLS = [
    "T.eig(a)",
    "T.eig(a, True)",
    "T.eig(a, eigenvectors=True, e=None, v=None)",
    "T.symeig(a)",
    "T.symeig(a, eigenvectors=True, upper=False)",
    "T.lstsq(b, a)",
    "T.solve(b, a)",
    "T.matrix_rank(a)",
    "T.matrix_rank(a, 1e-3, symmetric=True)",
    "a.eig()",
    "a.eig(True)",
    "a.symeig(eigenvectors=True)",
    "a.lstsq(b)",
    "a.solve(b)",
    # Python's own argument errors, under PyTorch's function names
    "T.eig()",
    "T.eig(a, out=None)",
    "T.symeig()",
    "T.solve(a)",
    "T.lstsq(a, b, c)",
    "a.matrix_rank()",
    "a.solve()",
    "a.eig(True, True)",
]


def _outcome(T: Any, call: str) -> tuple[str, str]:
    env = {"T": T, "a": T.ones(3, 3), "b": T.ones(3, 1), "c": 1}
    try:
        eval(call, env)
    except Exception as e:  # noqa: BLE001 - the type and text are what is compared
        return type(e).__name__, str(e).replace("adjit.", "torch.")
    return "no error", ""


@pytest.mark.parametrize("call", CALLS)
def test_removed_functions_raise_as_pytorch(call: str) -> None:
    ours, theirs = _outcome(adjit, call), _outcome(torch, call)
    assert ours == theirs and ours[0] != "no error"


def test_signatures_as_pytorch() -> None:
    for name in ("eig", "symeig", "lstsq", "solve", "matrix_rank"):
        ours, theirs = getattr(adjit, name), getattr(torch, name)
        assert ours.__name__ == theirs.__name__
        assert list(inspect.signature(ours).parameters) == list(
            inspect.signature(theirs).parameters
        ), name
    for name in ("eig", "symeig", "lstsq", "solve"):
        ours, theirs = getattr(adjit.Tensor, name), getattr(torch.Tensor, name)
        assert list(inspect.signature(ours).parameters) == list(
            inspect.signature(theirs).parameters
        ), name


def test_reinforce_and_volatile_as_pytorch() -> None:
    import warnings

    outs = []
    for T in (adjit, torch):
        x = T.arange(3.0)
        with pytest.raises(RuntimeError) as info:
            x.reinforce(1.0)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            flag = x.volatile
            x.volatile = True
        assert all(w.filename == __file__ for w in seen)
        outs.append((str(info.value), flag, [str(w.message) for w in seen]))
    assert outs[0] == outs[1] and outs[0][1] is False


SET_TO = [
    "x.is_set_to(x)",
    "x.is_set_to(x[:])",
    "x.is_set_to(x.view(2, 3))",
    "x.is_set_to(x.clone())",
    "x[1:].is_set_to(x[1:])",
    "x[1:].is_set_to(x[2:])",
    "x.is_set_to(x.float())",
    "x.is_set_to(x.double())",
    "x[:0].is_set_to(x[:0])",
    "x.is_set_to(tensor=x)",
    "x.is_set_to(1)",
    "x.t().is_set_to(x.t()) if x.ndim == 2 else x[::2].is_set_to(x[::2])",
]


@pytest.mark.parametrize("call", SET_TO)
def test_is_set_to_as_pytorch(call: str) -> None:
    got = []
    for T in (adjit, torch):
        try:
            got.append(eval(call, {"x": T.arange(6.0)}))
        except TypeError as e:
            got.append(str(e))
    assert got[0] == got[1]


MAP2 = [
    "x.map2_(y, z, lambda a, b, c: a + b * c)",
    "x.map2_(y, z, callable=lambda a, b, c: 1.5)",
    "x.long().map2_(y.long(), z.long(), lambda a, b, c: a * b * c)",
    "x.map2_(y, z)",
    "x.map2_(y)",
    "x.map2_()",
    "x.map_()",
    "x.map_(y)",
    "x.map2_(y.double(), z, lambda a, b, c: a)",
    "x.map2_(y, z.double(), lambda a, b, c: a)",
    "x.map2_(y, 1, lambda a, b, c: a)",
    "x.map2_(T.ones(4), z, lambda a, b, c: a)",
    "x.map2_(y, T.ones(3, 3), lambda a, b, c: a)",
    "x.requires_grad_().map2_(y, z, lambda a, b, c: a)",
    "T.ones(2).map2_(T.ones(2, 2), T.ones(2), lambda a, b, c: a)",
]


@pytest.mark.parametrize("call", MAP2)
def test_map2_as_pytorch(call: str) -> None:
    got = []
    for T in (adjit, torch):
        env = {"T": T, "x": T.arange(6.0).view(2, 3), "y": T.ones(3), "z": T.full((2, 1), 2.0)}
        try:
            got.append(eval(call, env).tolist())
        except (TypeError, RuntimeError) as e:
            got.append(f"{type(e).__name__}: {e}")
    assert got[0] == got[1]
