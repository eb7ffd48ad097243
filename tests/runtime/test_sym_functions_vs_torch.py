"""torch.sym_int, sym_max & co. on Python numbers side by side with PyTorch, and on the
symbolic sizes of adjit.compile(dynamic=True): symbolic where PyTorch keeps them so, one trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

CALLS: dict[str, Callable[[Any], Any]] = {
    "int-float": lambda T: T.sym_int(3.7),
    "int-neg": lambda T: T.sym_int(-3.7),
    "int-tensor": lambda T: T.sym_int(T.tensor(3.5)),
    "float-int": lambda T: T.sym_float(3),
    "max-mixed": lambda T: T.sym_max(2, 3.0),
    "max-bool": lambda T: T.sym_max(True, 2),
    "max-numpy": lambda T: T.sym_max(np.int64(4), 3),
    "min-int": lambda T: T.sym_min(3, 2),
    "min-float": lambda T: T.sym_min(3, 2.5),
    "sum-list": lambda T: T.sym_sum([1, 2, 3]),
    "sum-args": lambda T: T.sym_sum(1.5, 2),
    "not": lambda T: T.sym_not(0),
    "sqrt": lambda T: T.sym_sqrt(4),
    "ite": lambda T: T.sym_ite(False, 2, 3),
    "fresh": lambda T: T.sym_fresh_size(5),
    "constrain": lambda T: T.sym_constrain_range(-5),
    "constrain-size": lambda T: T.sym_constrain_range_for_size(3, min=2),
    "isinstance": lambda T: [isinstance(3, c) for c in (T.SymInt, T.SymFloat, T.SymBool)],
}

ERRORS: dict[str, Callable[[Any], Any]] = {
    "max-str": lambda T: T.sym_max("a", 2),
    "min-str": lambda T: T.sym_min(2, "b"),
    "ite-int": lambda T: T.sym_ite(1, 2, 3),
    "ite-types": lambda T: T.sym_ite(True, 2, 3.0),
    "range-max": lambda T: T.sym_constrain_range(5, max=4),
    "range-order": lambda T: T.sym_constrain_range(5, min=7, max=4),
    "range-tensor": lambda T: T.sym_constrain_range(T.tensor(3), min=4),
    "size-negative": lambda T: T.sym_constrain_range_for_size(-1),
    "size-min": lambda T: T.sym_constrain_range_for_size(1, min=2),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_on_numbers_as_torch(name: str) -> None:
    ours, theirs = CALLS[name](adjit), CALLS[name](torch)
    assert ours == theirs and type(ours) is type(theirs)


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_torch(name: str) -> None:
    with pytest.raises(Exception) as ours:  # noqa: PT011 - compared with torch's
        ERRORS[name](adjit)
    with pytest.raises(Exception) as theirs:  # noqa: PT011
        ERRORS[name](torch)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def _sizes(x: Any, seen: list[Any]) -> Any:
    n = x.shape[0]
    k = adjit.sym_min(n, 6)
    m = adjit.sym_max(n, 3)
    f = adjit.sym_float(n)
    s = adjit.sym_sum([n, n, 1])
    seen.append(
        (isinstance(n, adjit.SymInt), isinstance(k, adjit.SymInt), isinstance(f, adjit.SymFloat))
    )
    assert adjit.sym_int(n) is n
    return x[:k].sum() * f + x.new_ones(m).sum() + x.new_zeros(s).shape[0]


def test_symbolic_sizes_stay_symbolic_in_one_trace() -> None:
    seen: list[Any] = []
    compiled = adjit.compile(lambda x: _sizes(x, seen), dynamic=True)
    for n in (4, 9, 5, 12, 2):
        x = adjit.arange(n * 1.0)
        want = torch.arange(n * 1.0)[: min(n, 6)].sum() * float(n) + max(n, 3) + (2 * n + 1)
        got = compiled(x)
        assert got.item() == pytest.approx(want.item(), rel=1e-6)
    assert compiled.trace_count == 1
    # traced once with symbolic sizes; the append is replayed on every call, as torch.compile
    # replays it (Note [appends replayed] in frontend/effects.py)
    assert seen == [(True, True, True)] * 5


def test_a_specializing_sym_function_guards() -> None:
    """sym_sqrt of a size has no symbolic form here: specialized with a guard, never guessed."""
    compiled = adjit.compile(lambda x: x * adjit.sym_sqrt(x.shape[0]), dynamic=True)
    for n in (4, 9, 4):
        np.testing.assert_allclose(
            compiled(adjit.ones(n)).numpy(), np.full(n, np.sqrt(n), np.float32)
        )
    assert compiled.trace_count == 2


def test_symbolic_classes_cannot_be_made() -> None:
    for cls in (adjit.SymInt, adjit.SymFloat, adjit.SymBool):
        with pytest.raises(TypeError):
            cls()
