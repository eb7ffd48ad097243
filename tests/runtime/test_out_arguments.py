"""``out=`` on the top-level functions, side by side with PyTorch (Note [out= arguments])."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from adjit.runtime.out_arguments import OUT_OPS

import adjit

torch = pytest.importorskip("torch")


def _outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            r = fn()
        except Exception as e:  # noqa: BLE001 - the outcome compared is the exception itself
            return type(e).__name__, str(e)
    texts = tuple(str(w.message).split(" (Triggered")[0] for w in seen)
    rs = r if isinstance(r, tuple) else (r,)
    return "ok", texts, tuple((str(t.dtype), t.tolist()) for t in rs)


CASES: list[Callable[[Any], Any]] = [
    lambda L: L.add(L.ones(3), 1, out=L.empty(3)),
    lambda L: L.add(L.ones(3, requires_grad=True), 1, out=L.empty(3)),
    lambda L: L.add(L.ones(3), 1.5, out=L.empty(3, dtype=L.long)),
    lambda L: L.add(L.ones(3), 1, out=L.empty(2)),
    lambda L: L.add(L.ones(3), 1, out=L.empty(0)),
    lambda L: L.eq(L.ones(3), 1, out=L.empty(3)),
    lambda L: L.mm(L.ones(2, 2), L.ones(2, 2), out=L.empty(2, 2, dtype=L.float64)),
    lambda L: L.mm(L.ones(2, 2), L.ones(2, 2), out=L.empty(2, 2)),
    lambda L: L.max(L.arange(6.0).view(2, 3), 1, out=(L.empty(0), L.empty(0, dtype=L.long))),
    lambda L: L.add(L.ones(3, dtype=L.int64), 1, out=L.empty(3)),
    lambda L: L.cat([L.ones(2)], out=L.empty(2, dtype=L.int32)),
    lambda L: L.cat([L.ones(2), L.zeros(1)], out=L.empty(3, dtype=L.float64)),
    lambda L: L.exp(L.ones(2, dtype=L.long), out=L.empty(2, dtype=L.long)),
    lambda L: L.sort(L.tensor([3.0, 1.0]), out=(L.empty(2), L.empty(2))),
    lambda L: L.sort(L.tensor([3.0, 1.0]), out=(L.empty(2), L.empty(2, dtype=L.long))),
    lambda L: L.topk(L.tensor([3.0, 1.0, 2.0]), 2, out=(L.empty(2), L.empty(2, dtype=L.long))),
    lambda L: L.where(L.tensor([True, False]), L.ones(2), L.zeros(2), out=L.empty(2)),
    lambda L: L.matmul(L.ones(2, 3), L.ones(3), out=L.empty(2)),
    lambda L: L.sum(L.ones(2, 3), 1, out=L.empty(2, dtype=L.float64)),
    lambda L: L.mean(L.ones(2, 3), 0, out=L.empty(3)),
    lambda L: L.clamp(L.arange(5.0), 1, 3, out=L.empty(5)),
    lambda L: L.stack([L.ones(2), L.zeros(2)], out=L.empty(2, 2)),
    lambda L: L.sqrt(L.tensor([4.0, 9.0]), out=L.empty(2, dtype=L.complex64)),
    lambda L: L.gt(L.tensor([1, 5]), 2, out=L.empty(2, dtype=L.int32)),
    lambda L: L.logical_not(L.tensor([1, 0]), out=L.empty(2, dtype=L.int16)),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_out_as_pytorch(case: int) -> None:
    got, want = _outcome(lambda: CASES[case](adjit)), _outcome(lambda: CASES[case](torch))
    assert got == want


def test_out_writes_through_views_and_bumps_versions() -> None:
    for lib in (adjit, torch):
        base = lib.zeros(6)
        view = base[::2]
        v0 = base._version
        r = lib.mul(lib.ones(3), 2, out=view)
        assert r is view
        assert base.tolist() == [2.0, 0.0, 2.0, 0.0, 2.0, 0.0]
        assert base._version > v0


def test_out_returns_out_itself_and_resizes_an_empty_one() -> None:
    o = adjit.empty(0)
    r = adjit.addmm(adjit.ones(2, 2), adjit.ones(2, 3), adjit.ones(3, 2), out=o)
    assert r is o and tuple(o.shape) == (2, 2)
    np.testing.assert_array_equal(o.numpy(), np.full((2, 2), 4.0, np.float32))


def test_out_inside_compile_writes_the_captured_tensor() -> None:
    buf = adjit.zeros(3)

    @adjit.compile
    def f(x: Any) -> Any:
        adjit.mul(x, 3, out=buf)
        return buf.sum()

    assert f(adjit.ones(3)).item() == 9.0
    assert buf.tolist() == [3.0, 3.0, 3.0]


def test_every_listed_op_takes_out() -> None:
    """Each listed name exists in PyTorch with an ``out`` argument and in adjit with it."""
    for name in OUT_OPS:
        assert getattr(adjit, name)._takes_out, name
        fn = getattr(torch, name)
        try:
            params = inspect.signature(fn).parameters
        except ValueError:  # (a builtin: its signatures are in the docstring)
            params = {}
        assert "out" in params or "out" in (fn.__doc__ or ""), name


MORE: list[Callable[[Any], Any]] = [
    lambda L: L.argmax(L.tensor([1.0, 3.0]), out=L.empty((), dtype=L.long)),
    lambda L: L.argmax(L.tensor([1.0, 3.0]), out=L.empty(())),
    lambda L: L.median(L.tensor([[1.0, 3.0, 2.0]]), 1, out=(L.empty(1), L.empty(1, dtype=L.long))),
    lambda L: L.prod(L.tensor([[1.0, 3.0, 2.0]]), 1, out=L.empty(1)),
    lambda L: L.tensordot(L.ones(2, 3), L.ones(3, 2), 1, out=L.empty(2, 2)),
    lambda L: L.nansum(L.tensor([1.0, float("nan")]), 0, out=L.empty(())),
]


@pytest.mark.parametrize("case", range(len(MORE)))
def test_reductions_out_as_pytorch(case: int) -> None:
    got, want = _outcome(lambda: MORE[case](adjit)), _outcome(lambda: MORE[case](torch))
    assert got == want
