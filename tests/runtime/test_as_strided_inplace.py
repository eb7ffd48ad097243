"""Tensor.as_strided_ over the same memory as PyTorch's, and its refusals (Note [as_strided_
in place])."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import adjit


def _geometry(x: Any) -> tuple:
    return x.tolist(), tuple(x.shape), x.stride(), x.is_contiguous(), x._version


def _window(T: Any) -> list:
    x = T.arange(10.0)
    same = x.as_strided_((2, 3), (3, 1), 2) is x
    out = [same, _geometry(x), x.storage_offset()]
    x.add_(100)  # writes reach the memory under the new geometry only
    x.as_strided_((10,), (1,), 0)
    return [*out, _geometry(x)]


def _transposed(T: Any) -> list:
    q = T.arange(6.0, dtype=T.float64)
    q.as_strided_((2, 2), (1, 2), 1)
    out = [_geometry(q), q.t().is_contiguous(), q.storage_offset()]
    q.mul_(2)
    q.as_strided_((5,), (1,))  # (storage_offset defaults to the current one: 1)
    return [*out, _geometry(q), q.storage_offset()]


def _views_after(T: Any) -> list:
    r = T.zeros(2, 3)
    r.as_strided_((3, 2), (1, 3))
    r[0].fill_(5)
    r.select(1, 1).add_(1)
    r.as_strided_((6,), (1,), 0)
    return _geometry(r)


def _overlapping(T: Any) -> list:
    o = T.arange(4.0)
    o.as_strided_((2, 2), (0, 1))
    out: list = [_geometry(o)]
    try:
        o.add_(1)
    except RuntimeError as e:
        out.append(str(e))
    return out


def _no_grad_leaf(T: Any) -> list:
    w = T.zeros(4, requires_grad=True)
    with T.no_grad():
        w.as_strided_((2,), (2,))
    return [w.requires_grad, w.is_leaf, tuple(w.shape), w.stride()]


def _errors(T: Any) -> list:
    out = []
    for fn in (
        lambda: T.arange(6.0).as_strided_((3,), (3,), 10),  # beyond the storage
        lambda: T.arange(6.0).as_strided_((3,), (-1,)),
        lambda: T.arange(6.0).as_strided_((3, 1), (1,)),
        lambda: T.ones(4, requires_grad=True).as_strided_((2,), (1,)),  # a leaf, grad mode
    ):
        try:
            fn()
        except RuntimeError as e:
            out.append(str(e))
    return out


CASES = [_window, _transposed, _views_after, _overlapping, _no_grad_leaf, _errors]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_as_strided_inplace_as_torch(case: Callable[[Any], Any]) -> None:
    assert case(adjit) == case(torch)


def test_as_strided_inplace_refuses_shared_memory_and_history() -> None:
    """Where adjit's view bookkeeping would go wrong: refused, PyTorch runs them."""
    b = adjit.arange(6.0)
    v = b[1:]
    with pytest.raises(NotImplementedError, match="owns its memory and that no other tensor"):
        v.as_strided_((2,), (2,), 0)  # a view of b
    with pytest.raises(NotImplementedError, match="owns its memory and that no other tensor"):
        b.as_strided_((2,), (2,), 0)  # viewed by v
    y = adjit.ones(4, requires_grad=True) * 2
    with pytest.raises(NotImplementedError, match="AsStridedBackward1"):
        y.as_strided_((2,), (2,))
    assert b.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and tuple(v.shape) == (5,)


def test_as_strided_inplace_refuses_inside_compile() -> None:
    from adjit.runtime.trace_state import TracingError

    def f(x: Any) -> Any:
        return (x * 2).as_strided_((2,), (1,)).sum()

    with pytest.raises(TracingError, match="as_strided_"):
        adjit.compile(f, fullgraph=True)(adjit.ones(4))
