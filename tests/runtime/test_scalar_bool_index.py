"""Scalar bool indices (``x[True]``, ``x[tensor(False)]``) read and write as PyTorch's
(Note [scalar bool indices])."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

READS: list[Callable[[Any, Any], Any]] = [
    lambda T, x: x[True],
    lambda T, x: x[False],
    lambda T, x: x[T.tensor(True)],
    lambda T, x: x[T.tensor(False)],
    lambda T, x: x[True, 0],
    lambda T, x: x[..., True],
    lambda T, x: x[0, T.tensor(True)],
    lambda T, x: x[T.tensor([0, 1]), True],
    lambda T, x: x[True, ..., False],
    lambda T, x: x[None, True, 1:],
    lambda T, x: x[True, True],
]


def _outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        r = fn()
    except Exception as e:  # noqa: BLE001 - the outcome compared is the exception itself
        return type(e).__name__, str(e)
    return tuple(r.shape), r.tolist()


@pytest.mark.parametrize("case", range(len(READS)))
def test_reads_as_pytorch(case: int) -> None:
    def run(T: Any) -> tuple[Any, ...]:
        return _outcome(lambda: READS[case](T, T.arange(6.0).view(2, 3)))

    assert run(adjit) == run(torch)


@pytest.mark.parametrize("case", range(len(READS)))
def test_gradients_as_pytorch(case: int) -> None:
    def run(T: Any) -> Any:
        y = T.arange(6.0, requires_grad=True)
        r = READS[case](T, y.view(2, 3))
        (r * T.arange(float(r.numel())).view(r.shape)).sum().backward()
        return y.grad.tolist()

    assert run(adjit) == run(torch)


WRITES = [
    (True, 5.0),
    (False, 5.0),
    ((True, 0), 7.0),
    ((0, True), [1.0, 2.0, 3.0]),
    ((Ellipsis, False), 9.0),
    ("tensor(True)", np.ones((1, 2, 3))),
]


def test_empty_write_checks_no_value_shape() -> None:
    def run(T: Any) -> tuple[Any, ...]:
        x = T.zeros(2, 3)

        def write() -> Any:
            x[False] = T.ones(5)
            return x

        return _outcome(write)

    assert run(adjit) == run(torch)


@pytest.mark.parametrize("case", range(len(WRITES)))
def test_writes_as_pytorch(case: int) -> None:
    def run(T: Any) -> tuple[Any, ...]:
        idx, v = WRITES[case]
        index = T.tensor(True) if idx == "tensor(True)" else idx
        x = T.arange(6.0).view(2, 3)

        def write() -> Any:
            x[index] = T.tensor(np.asarray(v, np.float32)) if not isinstance(v, float) else v
            return x

        return _outcome(write)

    assert run(adjit) == run(torch)


def test_compiled_read_matches_eager() -> None:
    f = adjit.compile(lambda x: x[True, 1] * 2 + x[False].sum())
    x = adjit.arange(6.0).view(2, 3)
    np.testing.assert_array_equal(f(x).numpy(), np.array([[6.0, 8.0, 10.0]], np.float32))
