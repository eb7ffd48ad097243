"""Run-time checks (Note [run-time checks]): eager and compiled code raise PyTorch's error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from adjit.ir.ops import Op

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4)).astype(np.float32)
X3 = RNG.standard_normal((2, 3, 4)).astype(np.float32)
P = np.array([0.5, 0.25], np.float32)


def _i(*v: Any) -> np.ndarray:
    return np.array(v, np.int64)


def _setitem(L: Any, x: Any, i: Any) -> Any:
    y = x.clone()
    y[i] = 7.0
    return y


def _masked(L: Any, x: Any, b: Any, v: Any) -> Any:
    y = x.clone()
    y[b] = v
    return y


def _fill_diagonal(L: Any, x: Any, v: Any, dtype: str) -> Any:
    return x.to(getattr(L, dtype)).clone().fill_diagonal_(v)


# name -> (function of (library, *tensors), argument arrays); the library is torch or adjit
CASES: dict[str, tuple[Callable[..., Any], list[np.ndarray]]] = {
    "ce-negative": (lambda L, x, t: L.nn.functional.cross_entropy(x, t), [X, _i(0, -1, 2)]),
    "ce-too-big": (lambda L, x, t: L.nn.functional.cross_entropy(x, t), [X, _i(0, 7, -3)]),
    "ce-ignored": (lambda L, x, t: L.nn.functional.cross_entropy(x, t), [X, _i(0, -100, 2)]),
    "ce-3d": (
        lambda L, x, t: L.nn.functional.cross_entropy(x, t),
        [X3, np.array([[0, 1, 2, 2], [0, 0, 0, -2]])],
    ),
    "ce-1d": (lambda L, x, t: L.nn.functional.cross_entropy(x, t), [X[0], np.array(5)]),
    "ce-smoothing": (
        lambda L, x, t: L.nn.functional.cross_entropy(x, t, label_smoothing=0.1),
        [X, _i(0, -1, 2)],
    ),
    "ce-ignore-index": (
        lambda L, x, t: L.nn.functional.cross_entropy(x, t, ignore_index=-1),
        [X, _i(0, -1, 2)],
    ),
    "nll": (lambda L, x, t: L.nn.functional.nll_loss(x, t), [X, _i(0, 4, -1)]),
    "index_select-0": (lambda L, x, i: x.index_select(0, i), [X, _i(0, -1)]),
    "index_select-0-ok": (lambda L, x, i: x.index_select(0, i), [X, _i(2, 0)]),
    "index_select-1": (lambda L, x, i: x.index_select(1, i), [X, _i(0, 5)]),
    "index_select-3d-2": (lambda L, x, i: x.index_select(2, i), [X3, _i(0, -5)]),
    "index_select-1d": (lambda L, x, i: x.index_select(0, i), [X[0], _i(4)]),
    "getitem-negative-ok": (lambda L, x, i: x[i], [X, _i(0, -1, -3)]),
    "getitem-too-big": (lambda L, x, i: x[i], [X, _i(0, 3)]),
    "getitem-too-negative": (lambda L, x, i: x[i], [X, _i(0, -4)]),
    "getitem-second": (lambda L, x, i: x[:, i], [X, _i(0, 5)]),
    "getitem-two": (lambda L, x, i, j: x[i, j], [X, _i(0, 1), _i(5, 7)]),
    "setitem-negative-ok": (_setitem, [X[0], _i(0, -1)]),
    "setitem-too-big": (_setitem, [X[0], _i(0, 4)]),
    "gather": (lambda L, x, i: x.gather(1, i), [X, np.array([[0, -1], [5, 0], [0, 0]])]),
    "gather-ok": (lambda L, x, i: x.gather(1, i), [X, np.array([[0, 3], [1, 0], [2, 2]])]),
    "scatter_add": (
        lambda L, x, i: x.scatter_add(1, i, L.ones(1, 2)),
        [X, np.array([[0, 5]])],
    ),
    "embedding-negative": (lambda L, w, i: L.nn.functional.embedding(i, w), [X, _i(0, -1)]),
    "embedding-too-big": (lambda L, w, i: L.nn.functional.embedding(i, w), [X, _i(3, 0)]),
    "embedding-padding-ok": (
        lambda L, w, i: L.nn.functional.embedding(i, w, padding_idx=-1),
        [X, np.array([[0, 2], [1, 2]])],
    ),
    "one_hot-negative": (lambda L, i: L.nn.functional.one_hot(i, 4), [_i(0, -2, 5)]),
    "one_hot-too-big": (lambda L, i: L.nn.functional.one_hot(i, 4), [_i(0, 2, 5)]),
    "one_hot-ok": (lambda L, i: L.nn.functional.one_hot(i, 4), [_i(0, 3, 1)]),
    "bce-above-one": (
        lambda L, x, y: L.nn.functional.binary_cross_entropy(x, y),
        [np.array([0.5, 1.5], np.float32), P],
    ),
    "bce-nan": (
        lambda L, x, y: L.nn.functional.binary_cross_entropy(x, y),
        [np.array([0.5, np.nan], np.float32), P],
    ),
    # issue 15's data-read sweep (tests/frontend/test_no_data_reads.py): values given as tensors
    "narrow-tensor-ok": (lambda L, x, s: x.narrow(1, s, 2), [X, np.array(1)]),
    "narrow-tensor-negative-ok": (lambda L, x, s: x.narrow(1, s, 2), [X, np.array(-2)]),
    "narrow-tensor-past-end": (lambda L, x, s: x.narrow(1, s, 2), [X, np.array(-1)]),
    "narrow-tensor-out-of-range": (lambda L, x, s: x.narrow(1, s, 2), [X, np.array(5)]),
    "narrow-tensor-too-negative": (lambda L, x, s: x.narrow(0, s, 1), [X, np.array(-4)]),
    "full-tensor": (lambda L, v: L.full((2, 3), v), [np.array(1.5, np.float32)]),
    "full-tensor-int": (lambda L, v: L.full((2,), v), [np.array(7)]),
    "full-uint8-ok": (lambda L, v: L.full((2,), v, dtype=L.uint8), [np.array(-255)]),
    "full-uint8-overflow": (lambda L, v: L.full((2,), v, dtype=L.uint8), [np.array(300)]),
    "full-int8-nan": (lambda L, v: L.full((2,), v, dtype=L.int8), [np.array(np.nan, np.float32)]),
    "full-half-overflow": (
        lambda L, v: L.full((2,), v, dtype=L.float16),
        [np.array(1e6, np.float32)],
    ),
    "full-half-inf-ok": (lambda L, v: L.full((2,), v, dtype=L.float16), [np.array(np.inf)]),
    "full_like-tensor": (lambda L, x, v: L.full_like(x, v), [X, np.array(2)]),
    "new_full-overflow": (
        lambda L, x, v: x.to(L.int16).new_full((2,), v),
        [X, np.array(40000.0, np.float32)],
    ),
    "fill_diagonal-tensor": (
        lambda L, x, v: _fill_diagonal(L, x, v, "float32"),
        [X, np.array(0.25)],
    ),
    "fill_diagonal-overflow": (lambda L, x, v: _fill_diagonal(L, x, v, "int8"), [X, np.array(300)]),
    "linspace-tensor": (
        lambda L, s, e: L.linspace(s, e, 7),
        [np.array(0.1, np.float32), np.array(2.3, np.float32)],
    ),
    "linspace-one-step": (lambda L, s, e: L.linspace(s, e, 1), [np.array(0.5), np.array(2.0)]),
    "logspace-tensor": (
        lambda L, s, e: L.logspace(s, e, 5, base=2.0),
        [np.array(-1.0, np.float32), np.array(3.0, np.float32)],
    ),
    "tensor-of-list": (lambda L, x: L.tensor([x[0, 0], x[1, 2], 2.5]), [X]),
    "tensor-of-list-float64": (lambda L, x: L.tensor([x[0], x[1]]), [np.array([1.5, 2.0])]),
    "tensor-of-list-int32": (
        lambda L, i: L.tensor([[i[0]], [i[1]]]),
        [np.array([3, 4], np.int32)],
    ),
    "tensor-of-list-long-element": (lambda L, x: L.tensor([x[0], x[1, :1]]), [X]),
    "masked-setitem": (lambda L, x, b, v: _masked(L, x, b, v), [X, X > 0, np.array(0.5)]),
    "masked-setitem-rows": (
        lambda L, x, b, v: _masked(L, x, b, v),
        [X, np.array([True, False, True]), np.arange(4, dtype=np.float32)],
    ),
    "masked-setitem-int-value": (
        lambda L, x, b, v: _masked(L, x, b, v),
        [X, X < 0, np.array(3)],
    ),
    "index_put-mask-accumulate": (
        lambda L, x, b, v: x.index_put((b,), v, accumulate=True),
        [X, X > 0, np.array(1.5, np.float32)],
    ),
    "histc-range": (lambda L, x: L.histc(x, 5, -1.0, 1.0), [X3]),
    "histc-edges": (
        lambda L, x: L.histc(x, 5, -1.0, 1.0),
        [np.array([-1, -0.6, -0.2, 0.2, 0.6, 1, 1.5, np.nan, -1.01], np.float32)],
    ),
    "histc-float64": (lambda L, x: x.histc(7, -0.5, 0.75), [X3.astype(np.float64)]),
    "histc-infinite-range": (lambda L, x: L.histc(x, 5, -np.inf, 1.0), [X]),
    "histogram-range": (lambda L, x: L.histogram(x, 5, range=(-1.0, 1.0)).hist, [X3]),
    "histogram-range-edges": (
        lambda L, x: L.histogram(x, 5, range=(-1.0, 1.0)).bin_edges,
        [X3],
    ),
    "histogram-equal-range": (lambda L, x: x.histogram(3, range=(0.5, 0.5)).hist, [X3]),
    "histogram-edges": (
        lambda L, x, e: L.histogram(x, e).hist,
        [X3, np.array([-1, -0.2, 0.1, 0.5, 2.0], np.float32)],
    ),
    "histogram-weight-density": (
        lambda L, x, w: L.histogram(x, 4, range=(-1.0, 1.0), weight=w, density=True).hist,
        [X3, np.abs(X3)],
    ),
    "histogram-edges-dtype": (
        lambda L, x, e: L.histogram(x, e).hist,
        [X3, np.array([-1, 0.5, 2.0])],
    ),
    "histogram-one-edge": (
        lambda L, x, e: L.histogram(x, e).hist,
        [X3, np.array([0.5], np.float32)],
    ),
    "embedding_bag-too-big": (
        lambda L, w, i: L.nn.functional.embedding_bag(i, w, L.tensor([0])),
        [X, _i(0, 2, 3, 1)],
    ),
    "embedding_bag-negative": (
        lambda L, w, i: L.nn.functional.embedding_bag(i, w, L.tensor([0])),
        [X, _i(1, -1)],
    ),
    "bce-ok": (
        lambda L, x, y: L.nn.functional.binary_cross_entropy(x, y),
        [np.array([0.5, -0.0], np.float32), P],
    ),
}


def _outcome(fn: Callable[..., Any], args: list[Any]) -> tuple[str, Any]:
    """("error", (type name, message)) or ("value", array)."""
    try:
        out = fn(*args)
    except (IndexError, RuntimeError, ValueError) as e:
        return "error", (type(e).__name__, str(e))
    return "value", np.asarray(out.detach().numpy())


def _expected(name: str) -> tuple[str, Any]:
    fn, arrays = CASES[name]
    return _outcome(lambda *a: fn(torch, *a), [torch.from_numpy(a.copy()) for a in arrays])


def _adjit_args(name: str) -> list[Any]:
    return [adjit.tensor(a) for a in CASES[name][1]]


def _same(got: tuple[str, Any], want: tuple[str, Any]) -> None:
    assert got[0] == want[0], (got, want)
    if got[0] == "error":
        assert got[1] == want[1]
    else:
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_eager_matches_torch(name: str) -> None:
    fn = CASES[name][0]
    _same(_outcome(lambda *a: fn(adjit, *a), _adjit_args(name)), _expected(name))


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("name", list(CASES))
def test_compiled_matches_torch(name: str, backend: str) -> None:
    fn = CASES[name][0]
    compiled = adjit.compile(lambda *a: fn(adjit, *a), backend=backend)
    _same(_outcome(compiled, _adjit_args(name)), _expected(name))


def _loss(x: Any, t: Any) -> Any:
    return adjit.nn.functional.cross_entropy(x, t)


def test_compiled_error_notes_the_users_line() -> None:
    compiled = adjit.compile(_loss)
    with pytest.raises(IndexError, match=r"^Target -1 is out of bounds\.") as info:
        compiled(adjit.tensor(X), adjit.tensor(_i(0, -1, 2)))
    (note,) = info.value.__notes__
    assert __file__ in note and "traced at" in note


def test_a_passing_check_is_cached_and_the_call_stays_compiled() -> None:
    compiled = adjit.compile(_loss)
    x, t = adjit.tensor(X), adjit.tensor(_i(0, 1, 2))
    for _ in range(3):  # the prepared call (trampoline) runs the check too
        want = torch.nn.functional.cross_entropy(torch.from_numpy(X), torch.tensor([0, 1, 2]))
        np.testing.assert_allclose(compiled(x, t).numpy(), want.numpy(), rtol=1e-6)
        with pytest.raises(IndexError, match="Target 4 is out of bounds"):
            compiled(x, adjit.tensor(_i(0, 4, 2)))
    assert compiled.trace_count == 1
    ex = adjit.explain(compiled, x, t)
    assert not ex.entry.runner(ex.inference).fallbacks  # every kernel is generated code
    steps = ex.entry.runner(ex.inference).program.steps
    checks = [s for s in steps if getattr(getattr(s, "eqn", None), "op", None) is Op.CHECK]
    assert len(checks) == 1  # the target's, an extern step between generated kernels


@pytest.mark.parametrize("transform", ["grad", "value_and_grad"])
def test_check_inside_grad(transform: str) -> None:
    g = getattr(adjit, transform)(_loss)
    x = torch.from_numpy(X).requires_grad_()
    torch.nn.functional.cross_entropy(x, torch.tensor([0, 1, 2])).backward()
    out = g(adjit.tensor(X), adjit.tensor(_i(0, 1, 2)))
    grad = out[1] if transform == "value_and_grad" else out
    np.testing.assert_allclose(grad.numpy(), x.grad.numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(IndexError, match=r"^Target 4 is out of bounds\."):
        g(adjit.tensor(X), adjit.tensor(_i(0, 4, 2)))


def test_check_in_a_compiled_training_step() -> None:
    compiled = adjit.compile(_loss)
    x = adjit.tensor(X, requires_grad=True)
    compiled(x, adjit.tensor(_i(0, 1, 2))).backward()
    xt = torch.from_numpy(X).requires_grad_()
    torch.nn.functional.cross_entropy(xt, torch.tensor([0, 1, 2])).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(IndexError, match=r"^Target -2 is out of bounds\."):
        compiled(x, adjit.tensor(_i(0, -2, 2)))


def test_bce_check_passes_the_gradient_through() -> None:
    y = adjit.tensor(P)
    g = adjit.grad(adjit.nn.functional.binary_cross_entropy)(adjit.tensor([0.5, 0.2]), y)
    xt = torch.tensor([0.5, 0.2], requires_grad=True)
    torch.nn.functional.binary_cross_entropy(xt, torch.from_numpy(P)).backward()
    np.testing.assert_allclose(g.numpy(), xt.grad.numpy(), rtol=1e-6)
