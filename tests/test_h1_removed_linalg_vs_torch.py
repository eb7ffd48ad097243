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
