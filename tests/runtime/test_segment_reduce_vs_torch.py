"""torch.segment_reduce side by side with PyTorch: every reduction, lengths and offsets,
initial, other axes, gradients, errors, compiled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import adjit

DATA = np.array([1.0, 2.0, 3.0, 4.0, 0.5, 6.0])  # (no ties in a segment: max/min gradients)
LENGTHS = [2, 0, 3, 1]
REDUCES = ["sum", "mean", "max", "min", "prod", "amax", "amin"]


def _both(fn: Callable[[Any], Any]) -> tuple[Any, Any]:
    return fn(adjit), fn(torch)


def _close(ours: Any, theirs: Any) -> None:
    assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("initial", [None, 10.0])
@pytest.mark.parametrize("reduce", REDUCES)
def test_reductions_and_gradients(reduce: str, initial: float | None) -> None:
    def run(T: Any) -> Any:
        x = T.tensor(DATA, requires_grad=True)
        out = T.segment_reduce(x, reduce, lengths=T.tensor(LENGTHS), initial=initial)
        out[T.isfinite(out)].sum().backward()
        return out, x.grad

    (o, og), (t, tg) = _both(run)
    _close(o, t)
    _close(og, tg)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_offsets_win_and_need_not_start_at_zero(reduce: str) -> None:
    for offsets, lengths in (([1, 6], None), ([0, 2, 2, 6], LENGTHS)):

        def run(T: Any, offsets: Any = offsets, lengths: Any = lengths) -> Any:
            lens = None if lengths is None else T.tensor(lengths)
            return T.segment_reduce(T.tensor(DATA), reduce, offsets=T.tensor(offsets), lengths=lens)

        _close(*_both(run))


@pytest.mark.parametrize("reduce", ["sum", "mean", "min"])
def test_other_axes(reduce: str) -> None:
    data = np.arange(12.0).reshape(6, 2)
    _close(*_both(lambda T: T.segment_reduce(T.tensor(data), reduce, lengths=T.tensor(LENGTHS))))
    lengths = [[2, 0, 3, 1], [1, 1, 1, 3]]
    _close(
        *_both(
            lambda T: T.segment_reduce(
                T.tensor(data.T.copy()), reduce, lengths=T.tensor(lengths), axis=1
            )
        )
    )


ERRORS: dict[str, Callable[[Any], Any]] = {
    "reduce": lambda T: T.segment_reduce(T.ones(3), "foo", lengths=T.tensor([3])),
    "none": lambda T: T.segment_reduce(T.ones(3), "sum"),
    "indices": lambda T: T.segment_reduce(T.ones(3), "sum", indices=T.tensor([0, 0, 1])),
    "sum": lambda T: T.segment_reduce(T.ones(3), "sum", lengths=T.tensor([1, 1])),
    "negative": lambda T: T.segment_reduce(T.ones(3), "sum", lengths=T.tensor([-1, 4])),
    "axis": lambda T: T.segment_reduce(T.ones(3, 2), "sum", lengths=T.tensor([3]), axis=1),
    "integers": lambda T: T.segment_reduce(T.tensor([1, 2, 3]), "sum", lengths=T.tensor([3])),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_torch(name: str) -> None:
    errors = []
    for T in (adjit, torch):
        with pytest.raises(Exception) as info:  # noqa: PT011 - compared with torch's
            ERRORS[name](T)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]


def test_unsafe_skips_the_checks_and_compiled() -> None:
    _close(
        *_both(
            lambda T: T.segment_reduce(
                T.tensor(DATA), "sum", lengths=T.tensor(LENGTHS), unsafe=True
            )
        )
    )
    f = adjit.compile(lambda x, n: adjit.segment_reduce(x, "mean", lengths=n).sum())
    x = adjit.tensor(DATA, requires_grad=True)
    out = f(x, adjit.tensor([2, 1, 3]))
    out.backward()
    y = torch.tensor(DATA, requires_grad=True)
    want = torch.segment_reduce(y, "mean", lengths=torch.tensor([2, 1, 3])).sum()
    want.backward()
    np.testing.assert_allclose(out.item(), want.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="to sum to data.size"):
        f(x, adjit.tensor([2, 1, 2]))  # (the check runs in the compiled program)
