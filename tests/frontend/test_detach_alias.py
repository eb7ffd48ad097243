"""Inside adjit.compile, an in-place write through a traced tensor's ``.detach()``/``.data``
alias is refused, and a write to the tensor reaches its aliases, as eagerly, where they share
memory (a traced DETACH is a new value: Note [detached aliases while tracing])."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit


def _write_through_detach(x: Any) -> Any:
    v = x * 1.0
    v.detach().clamp_(min=1e-3)
    return v.sum()


def _write_through_data(x: Any) -> Any:
    v = x * 1.0
    v.data.add_(1)
    return v.sum()


def _write_base_while_detached(x: Any) -> Any:
    v = x * 1.0
    d = v.detach()
    v.add_(1)
    return d.sum()


def _write_base_while_alias_has_views(x: Any) -> Any:
    v = x * 1.0
    first = v.detach()[0]
    v.add_(1)
    return first * 2


@pytest.mark.parametrize(
    ("fn", "missed"),
    [
        (_write_through_detach, lambda x: x.sum()),
        (_write_through_data, lambda x: x.sum()),
        (_write_base_while_alias_has_views, lambda x: x[0] * 2),
    ],
)
def test_writes_through_detached_aliases_refused(
    fn: Callable[[Any], Any], missed: Callable[[Any], Any]
) -> None:
    x = adjit.full((5,), 5e-4)
    assert float(fn(x)) != pytest.approx(float(missed(x)))  # (eagerly the write is seen)
    with pytest.raises(adjit.TracingError, match=r"\.detach\(\) or \.data alias"):
        adjit.compile(fn)(x)


def test_reading_a_detached_value_compiles() -> None:
    def f(x: Any) -> Any:
        v = x.sin()
        return (v * v.detach()).sum() + v.detach().exp().sum()

    x = adjit.tensor(np.linspace(-1, 1, 7), requires_grad=True)
    f(x).backward()
    want = x.grad.numpy().copy()
    x.grad = None
    adjit.compile(f)(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def _eq_against_own_rounding(x: Any) -> Any:
    v = x * 1.0
    v.eq_(v.detach().round())  # (the alias is read before the write)
    return v


@pytest.mark.parametrize("fn", [_write_base_while_detached, _eq_against_own_rounding])
def test_writes_to_the_tensor_reach_its_aliases(fn: Callable[[Any], Any]) -> None:
    x = adjit.tensor([5e-4, 1.0, 2.5, 3.0, -0.2])
    np.testing.assert_array_equal(adjit.compile(fn)(x).numpy(), fn(x).numpy())
