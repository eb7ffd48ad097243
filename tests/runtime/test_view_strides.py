"""``view`` refuses strides it cannot view, as PyTorch does, instead of copying."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import adjit

CASES: dict[str, tuple[Callable[[Any], Any], tuple[int, ...]]] = {
    "transposed": (lambda t: t.randn(2, 3).T.view(6), ()),
    "transposed_as": (lambda t: t.randn(2, 3).T.view_as(t.zeros(6)), ()),
    "column_slice": (lambda t: t.randn(4, 6)[:, :3].view(12), ()),
    "column_slice_rows": (lambda t: t.randn(4, 6)[:, :3].view(4, 3), ()),
    "column_slice_split": (lambda t: t.randn(4, 6)[:, :4].view(4, 2, 2), ()),
    "row_slice": (lambda t: t.randn(4, 6)[1:3].view(12), ()),
    "expanded": (lambda t: t.randn(2, 3).expand(2, 2, 3).view(4, 3), ()),
    "expanded_lead": (lambda t: t.randn(2, 3)[None].expand(2, 2, 3).view(2, 6), ()),
    "permuted_keeps_block": (lambda t: t.randn(2, 3, 4).permute(1, 0, 2).view(3, 8), ()),
    "permuted_split": (lambda t: t.randn(2, 3, 4).permute(0, 2, 1).view(2, 4, 3, 1), ()),
    "empty": (lambda t: t.zeros(0, 3).T.view(0), ()),
    "contiguous_copy": (lambda t: t.randn(2, 3).T.contiguous().view(6), ()),
    "inferred": (lambda t: t.randn(2, 3).T.view(-1), ()),
}


def _outcome(lib: Any, fn: Callable[[Any], Any]) -> Any:
    try:
        return tuple(fn(lib).shape)
    except RuntimeError as e:
        return str(e)


@pytest.mark.parametrize("name", sorted(CASES))
def test_view_as_torch(name: str) -> None:
    fn, _ = CASES[name]
    assert _outcome(adjit, fn) == _outcome(torch, fn)


def test_a_view_writes_through() -> None:
    a = adjit.zeros(4, 6)
    a[:, :3].view(4, 3, 1)[1, 2, 0] = 5.0
    a[1:3].view(12)[0] = 7.0
    assert a[1, 2].item() == 5.0 and a[1, 0].item() == 7.0


def test_compiled_view_of_a_transposed_input_is_its_values() -> None:
    f = adjit.compile(lambda x: x.t().contiguous().view(-1) * 2)
    x = adjit.randn(3, 4)
    assert adjit.equal(f(x), x.t().reshape(-1) * 2)
