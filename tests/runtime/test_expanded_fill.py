"""Scalar fill_/zero_ on expanded tensors write the shared memory, as PyTorch does; other
in-place ops there keep PyTorch's refusal (Note [fills of expanded tensors])."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

OVERLAP = "more than one element of the written-to tensor refers to a single memory location"


def _views(lib: Any) -> list[tuple[Any, Any]]:
    """(base, an expanded view of (part of) base) pairs."""
    a = lib.arange(8.0).reshape(2, 4)
    b = lib.arange(6, dtype=lib.int32)
    c = lib.zeros(3, dtype=lib.uint8)
    d = lib.arange(12.0).reshape(3, 4)
    return [
        (a, a[:, 1:3].unsqueeze(1).expand(2, 4, 2)),
        (a, a[:, ::2].unsqueeze(0).expand(3, 2, 2)),
        (b, b[1:2].expand(5)),
        (c, c.expand(4, 3)),
        (d, d.t()[1:, :2].unsqueeze(-1).expand(3, 2, 6)),
    ]


@pytest.mark.parametrize("op", ["zero_", "fill_(-3)", "fill_(2.5)", "fill_(True)"])
@pytest.mark.parametrize("case", range(5))
def test_scalar_fill_writes_shared_memory(op: str, case: int) -> None:
    def run(lib: Any) -> tuple[Any, Any]:
        base, view = _views(lib)[case]
        if base.dtype == lib.uint8 and op == "fill_(2.5)":
            return base, view  # (a float fill of uint8 is the same as torch's: tested below)
        eval(f"view.{op}" if op != "zero_" else "view.zero_()", {"view": view})
        return base, view

    (ab, av), (tb, tv) = run(adjit), run(torch)
    np.testing.assert_array_equal(ab.numpy(), tb.numpy())
    np.testing.assert_array_equal(av.numpy(), tv.numpy())
    assert ab._version == tb._version and av._version == tv._version


REFUSED: list[Callable[[Any, Any], Any]] = [
    lambda lib, v: v.fill_(lib.tensor(2.0)),
    lambda lib, v: v.add_(1),
    lambda lib, v: v.copy_(lib.ones(2, 3)),
    lambda lib, v: v.mul_(2),
    lambda lib, v: v.clamp_(0, 1),
]


@pytest.mark.parametrize("op", REFUSED)
def test_other_writes_refused(op: Callable[[Any, Any], Any]) -> None:
    for lib in (adjit, torch):
        base = lib.zeros(3)
        with pytest.raises(RuntimeError, match=OVERLAP):
            op(lib, base.expand(2, 3))
        assert base.tolist() == [0.0, 0.0, 0.0]


def test_recorded_fill_refused() -> None:
    x = adjit.zeros(3, requires_grad=True).clone()  # (PyTorch refuses at backward())
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x.expand(2, 3).fill_(1.0)
    assert x.tolist() == [0.0, 0.0, 0.0]


def test_fill_of_plain_tensor_unchanged() -> None:
    a = adjit.arange(6.0).reshape(2, 3)
    a[:, 1].fill_(9)
    assert a.tolist() == [[0.0, 9.0, 2.0], [3.0, 9.0, 5.0]]


def test_fill_of_expanded_copy_refused() -> None:
    """A diagonal that had to be a copy is read-only (a write would miss its input); expanded,
    a scalar fill must not write the copy either (Note [fills of expanded tensors])."""
    x = adjit.zeros(3, 2, 3)
    d = x.diagonal(0, 0, 2)
    with pytest.raises(RuntimeError, match=OVERLAP):
        d.unsqueeze(0).expand(2, 2, 3).fill_(1.0)
    assert not d.numpy().any() and not x.numpy().any()
