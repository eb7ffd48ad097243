"""In-place writes through a traced tensor's ``.detach()``/``.data`` alias, or to the tensor
while such an alias lives, are refused inside adjit.compile (eagerly both share memory; a traced
DETACH is a new value, so the write would silently reach only one: Note [detached aliases
while tracing]). Reading a detached value still compiles, with eager's values and gradients."""

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


@pytest.mark.parametrize(
    "fn", [_write_through_detach, _write_through_data, _write_base_while_detached]
)
def test_writes_through_detached_aliases_refused(fn: Callable[[Any], Any]) -> None:
    x = adjit.full((5,), 5e-4)
    eager = fn(x)  # (eagerly the write reaches both: 5e-3 or 5.0025)
    assert float(eager) != pytest.approx(float(x.sum()))
    with pytest.raises(adjit.TracingError, match=r"\.detach\(\) and \.data count as views"):
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
