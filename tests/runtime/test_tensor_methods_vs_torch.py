"""Tensor methods and attributes (issue 13) side by side with PyTorch: in-place aliases and
comparisons, in-place shape changes, fill_diagonal_, put, apply_/map_, resize_/set_, queries:
values, dtypes, shapes, strides, version counters, grad_fn names, gradients and errors."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(13)
X = RNG.standard_normal((3, 4))
SQUARE = RNG.standard_normal((4, 4))


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


def _name(t: Any) -> str | None:
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def _same(got: Any, want: Any, what: str = "", ulps: int = 0) -> None:
    """Equal shape and dtype; values exact, or ``ulps`` roundings of their scale apart (sums
    added in another order: adjit's cumsum is not PyTorch's loop)."""
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {got.shape} != {want.shape}"
    assert str(got.dtype) == str(want.dtype), f"{what}: dtype {got.dtype} != {want.dtype}"
    if not ulps:
        np.testing.assert_array_equal(_np(got), _np(want), err_msg=what)
        return
    eps = np.finfo(_np(want).dtype).eps
    scale = np.abs(_np(want)).max(initial=1.0)
    np.testing.assert_allclose(_np(got), _np(want), rtol=0, atol=ulps * eps * scale, err_msg=what)


def _raises(fn: Callable[[Any], Any]) -> None:
    """``fn(torch)`` and ``fn(adjit)`` raise the same error type with the same text."""
    with pytest.raises(Exception) as want:
        fn(torch)
    with pytest.raises(Exception) as got:
        fn(adjit)
    assert type(got.value).__name__ == type(want.value).__name__, got.value
    assert str(got.value) == str(want.value)


# ---- in-place forms: (name, a function of the library and a fresh tensor) ------------------
# each row runs on a non-leaf float64 tensor that requires grad (the in-place op is recorded)
# and on a plain one; values, dtype, version, grad_fn name and the gradient match PyTorch's
INPLACE_ROWS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("eq_", lambda T, x: x.eq_(x.detach().round())),
    ("eq_-scalar", lambda T, x: x.eq_(0.5)),
    ("ne_", lambda T, x: x.ne_(0.0)),
    ("not_equal_", lambda T, x: x.not_equal_(T.zeros(4, dtype=T.float64))),
    ("lt_", lambda T, x: x.lt_(0.1)),
    ("less_", lambda T, x: x.less_(T.ones(4, dtype=T.float64))),
    ("le_", lambda T, x: x.le_(-0.2)),
    ("less_equal_", lambda T, x: x.less_equal_(0.0)),
    ("gt_", lambda T, x: x.gt_(0.3)),
    ("greater_", lambda T, x: x.greater_(0.0)),
    ("ge_", lambda T, x: x.ge_(T.zeros(3, 1, dtype=T.float64))),
    ("greater_equal_", lambda T, x: x.greater_equal_(0.0)),
    ("cumsum_", lambda T, x: x.cumsum_(1)),
    ("cumsum_-dim0", lambda T, x: x.cumsum_(dim=0)),
    ("cumsum_-dtype", lambda T, x: x.cumsum_(0, dtype=T.float64)),
    ("cumprod_", lambda T, x: x.cumprod_(1)),
    ("sign_", lambda T, x: x.sign_()),
    ("nan_to_num_", lambda T, x: x.nan_to_num_(nan=1.0, posinf=2.0)),
    ("divide_", lambda T, x: x.divide_(3.0)),
    ("divide_-floor", lambda T, x: x.divide_(0.7, rounding_mode="floor")),
    ("true_divide_", lambda T, x: x.true_divide_(T.full((4,), 2.0, dtype=T.float64))),
    ("multiply_", lambda T, x: x.multiply_(-1.5)),
    ("subtract_", lambda T, x: x.subtract_(1.0, alpha=2)),
    ("negative_", lambda T, x: x.negative_()),
    ("absolute_", lambda T, x: x.absolute_()),
    ("conj_physical_", lambda T, x: x.conj_physical_()),
    ("fill_diagonal_", lambda T, x: x.fill_diagonal_(2.5)),
    ("fill_diagonal_-wrap", lambda T, x: x.fill_diagonal_(-1.0, wrap=True)),
    ("put_", lambda T, x: x.put_(T.tensor([1, -2, 5]), T.tensor([7.0, 8.0, 9.0], dtype=T.float64))),
    (
        "put_-accumulate",
        lambda T, x: x.put_(
            T.tensor([[1, 1], [0, 11]]), T.arange(4.0, dtype=T.float64), accumulate=True
        ),
    ),
    ("t_", lambda T, x: x.t_()),
    ("transpose_", lambda T, x: x.transpose_(0, -1)),
    ("swapaxes_", lambda T, x: x.swapaxes_(1, 0)),
    ("swapdims_", lambda T, x: x.swapdims_(0, 1)),
    ("unsqueeze_", lambda T, x: x.unsqueeze_(1)),
    ("unsqueeze_-neg", lambda T, x: x.unsqueeze_(-1)),
    ("squeeze_", lambda T, x: x.unsqueeze_(0).squeeze_()),
    ("squeeze_-dim", lambda T, x: x.unsqueeze_(2).squeeze_(2)),
    ("squeeze_-dims", lambda T, x: x.unsqueeze_(0).squeeze_((0, 1))),
]


def _run_inplace(lib: Any, fn: Callable, data: np.ndarray, record: bool) -> tuple:
    leaf = lib.tensor(data, requires_grad=record)
    x = leaf * 1.0 if record else leaf
    v0 = x._version
    out = fn(lib, x)
    assert out is x
    grad = None
    if record and x.requires_grad:
        w = lib.tensor(RNG_W[: x.numel()].reshape(tuple(x.shape)))
        (x * w).sum().backward()
        grad = leaf.grad
    return x, x._version - v0, grad


RNG_W = np.random.default_rng(7).standard_normal(64)


@pytest.mark.parametrize("record", [False, True], ids=["plain", "recorded"])
@pytest.mark.parametrize("row", INPLACE_ROWS, ids=lambda r: r[0])
def test_inplace_vs_torch(row: tuple, record: bool) -> None:
    name, fn = row
    data = SQUARE if name.startswith("fill_diagonal_") and "wrap" not in name else X
    if "wrap" in name:
        data = RNG.standard_normal((7, 2))
    got, gv, gg = _run_inplace(adjit, fn, data, record)
    want, wv, wg = _run_inplace(torch, fn, data, record)
    _same(got, want, name, ulps=4 if name.startswith("cum") else 0)
    assert got.stride() == want.stride()
    assert gv == wv, f"version moved by {gv}, PyTorch's by {wv}"
    assert _name(got) == _name(want)
    assert got.requires_grad == want.requires_grad
    assert (gg is None) == (wg is None)
    if wg is not None:  # the same float64 sums (cumsum/cumprod backward: a rounding apart)
        np.testing.assert_allclose(_np(gg), _np(wg), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("row", INPLACE_ROWS, ids=lambda r: r[0])
def test_inplace_compiled_equals_eager(row: tuple, backend: str) -> None:
    """The in-place op on a tensor made inside a compiled function: value and gradient."""
    name, fn = row
    data = SQUARE if name.startswith("fill_diagonal_") and "wrap" not in name else X
    if "wrap" in name:
        data = np.random.default_rng(3).standard_normal((7, 2))

    def program(x: Any) -> Any:
        y = fn(adjit, x * 1.0)
        w = adjit.tensor(RNG_W[: y.numel()].reshape(tuple(y.shape)))
        return y, (y * w).sum()

    results = []
    for run in (program, adjit.compile(program, backend=backend)):
        x = adjit.tensor(data, requires_grad=True)
        y, loss = run(x)
        grad = adjit.autograd.grad(loss, x, allow_unused=True)[0] if loss.requires_grad else None
        results.append((y, grad))
    (want, want_grad), (got, got_grad) = results
    _same(got, want, name, ulps=4 if name.startswith("cum") else 0)
    assert (got_grad is None) == (want_grad is None)
    if want_grad is not None:  # compiled sums may reassociate: an ulp or two
        np.testing.assert_allclose(_np(got_grad), _np(want_grad), rtol=1e-14, atol=1e-15)


def test_inplace_shape_change_of_an_argument_is_refused_when_compiled() -> None:
    with pytest.raises(adjit.TracingError, match="argument of a compiled function"):
        adjit.compile(lambda x: x.t_())(adjit.zeros(2, 3))
    with pytest.raises(adjit.TracingError, match="resize_"):
        adjit.compile(lambda x: (x * 1).resize_(6))(adjit.zeros(2, 3))


def test_inplace_shape_change_keeps_views_and_version() -> None:
    """A view stays a view of its base after unsqueeze_/t_; both share the version counter."""
    for lib in (adjit, torch):
        base = lib.arange(6.0).view(2, 3)
        row = base[0]
        row.unsqueeze_(0)
        assert tuple(row.shape) == (1, 3) and base._version == row._version == 1
        row.mul_(10.0)  # still writes the base's memory
        assert base[0].tolist() == [0.0, 10.0, 20.0]
        base.t_()
        assert base.stride() == (1, 3) and base._version == 3


def test_inplace_shape_change_of_a_view_gradient() -> None:
    for lib in (adjit, torch):
        x = lib.tensor(X, requires_grad=True)
        w = (x * 2.0).t()  # (adjit's basic indexing saves its base: y[1] would refuse)
        w.unsqueeze_(0)
        assert _name(w) == "UnsqueezeBackward1"
        (w * lib.arange(3.0, dtype=lib.float64)).sum().backward()
        np.testing.assert_array_equal(_np(x.grad)[:, 0], [0.0, 2.0, 4.0])


def test_saved_tensor_then_shape_change_is_detected() -> None:
    """PyTorch bumps the version: sin's saved input is stale (PyTorch's text names the node
    "T1" where its grad_fn is TBackward1, and its hint differs: compared up to the node)."""
    texts = []
    for lib in (adjit, torch):
        x = lib.tensor(X.astype(np.float32), requires_grad=True)
        y = x * 1.0
        z = y.sin()
        y.t_()
        with pytest.raises(RuntimeError) as e:
            z.sum().backward()
        texts.append(str(e.value).split(", which is output")[0])
    assert texts[0] == texts[1]


STALE = [  # the base's history rewritten after the view was made: PyTorch remakes the view's
    lambda T, y: y.mul_(3.0),
    lambda T, y: y.__setitem__(0, 5.0),
    lambda T, y: y.copy_(T.ones(3, 4, dtype=T.float64)),
    lambda T, y: y.add_(1.0).mul_(2.0),
]
VIEWS = [
    lambda y: y.t(),
    lambda y: y[1],
    lambda y: y[:, 1:3],
    lambda y: y.reshape(2, 6).t(),
    lambda y: y.unsqueeze(0).expand(2, 3, 4),
    lambda y: y.narrow(1, 1, 2),
]


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("write", STALE)
def test_view_of_a_base_rewritten_in_place_vs_torch(write: Callable, view: Callable) -> None:
    results = []
    for lib in (adjit, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * 2.0
        w = view(y)
        write(lib, y)
        weights = lib.tensor(RNG_W[: w.numel()].reshape(tuple(w.shape)))
        (w.sin() * weights).sum().backward()
        results.append((_name(w), _np(x.grad)))
    assert results[0][0] == results[1][0] == "AsStridedBackward0"
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-15, atol=0)


def test_view_of_a_base_rewritten_in_place_refuses_when_made_by_a_decomposition() -> None:
    x = adjit.tensor(X, requires_grad=True)
    y = x * 2.0
    w = y.diagonal()  # (PyTorch remakes it; adjit's diagonal is a decomposition)
    y.mul_(3.0)
    with pytest.raises(RuntimeError, match="cannot make the view's history again"):
        w.sum()


def test_stale_view_with_a_base_that_did_not_require_grad() -> None:
    for lib in (adjit, torch):
        p = lib.ones(3, requires_grad=True)
        buf = lib.zeros(3)
        v = buf[0:2]
        buf.add_(p)  # the base gets a history; the view made before joins it
        (v * 2).sum().backward()
        assert p.grad.tolist() == [2.0, 2.0, 0.0]


def test_view_of_a_base_changed_harmlessly_is_fine() -> None:
    """Writes under no_grad and in-place shape changes leave the base's history valid."""
    for lib in (adjit, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * 2.0
        w = y.t()
        with lib.no_grad():
            y.mul_(3.0)
        y.t_()
        later = y.t()  # made after: sees the new history
        (w.sum() + later.sum()).backward()
        assert x.grad.tolist() == np.full((3, 4), 4.0).tolist()
        with lib.no_grad():
            assert w.sum().item() == pytest.approx(6 * X.sum())


def test_inplace_shape_change_under_no_grad_keeps_requires_grad() -> None:
    for lib in (adjit, torch):
        x = lib.tensor(X, requires_grad=True)
        with lib.no_grad():
            x.t_()
        assert tuple(x.shape) == (4, 3) and x.requires_grad and x.is_leaf


INPLACE_ERRORS = [
    lambda T: T.tensor(X, requires_grad=True).t().unsqueeze_(0),
    lambda T: T.tensor(X, requires_grad=True).t_(),
    lambda T: T.tensor(X, requires_grad=True).eq_(0.0),
    lambda T: T.zeros(2, 3, 4).t_(),
    lambda T: T.zeros(3).transpose_(0, 3),
    lambda T: T.zeros(3).unsqueeze_(5),
    lambda T: T.zeros(2, 3).squeeze_(4),
    lambda T: T.arange(3).divide_(2),
    lambda T: T.arange(3).true_divide_(2.0),
    lambda T: T.tensor([True, False]).cumsum_(0),
    lambda T: T.tensor([True, False]).cumprod_(0),
    lambda T: T.zeros(3).cumsum_(0, dtype=T.float64),
    lambda T: T.zeros(3).cumsum_(5),
    lambda T: T.zeros(3).eq_(T.zeros(1, 3)),
    lambda T: T.zeros(3).fill_diagonal_(1.0),
    lambda T: T.zeros(3, 3, 2).fill_diagonal_(1.0),
    lambda T: T.zeros(2, 3).put_(T.tensor([6]), T.tensor([9.0])),
    lambda T: T.zeros(2, 3).put_(T.tensor([-7]), T.tensor([9.0])),
    lambda T: T.zeros(2, 3).put_(T.tensor([1, 2]), T.tensor([9.0, 8.0, 7.0])),
    lambda T: T.zeros(2, 3).put_(T.tensor([1.0]), T.tensor([9.0])),
    lambda T: T.zeros(2, 3).put_(T.tensor([1]), T.tensor([9])),
    lambda T: T.zeros(2, 3).put_(T.tensor([1]), 9.0),
    lambda T: T.zeros(2, 3).put(T.tensor([1]), 9.0),
    lambda T: T.zeros(0).put_(T.tensor([0]), T.tensor([5.0])),
    lambda T: T.zeros(2, 2, dtype=T.int64).fill_diagonal_(float("nan")),
    lambda T: T.zeros(2, 2, dtype=T.uint8).fill_diagonal_(300),
    lambda T: T.zeros(2, 2, dtype=T.float16).fill_diagonal_(1e6),
    lambda T: T.zeros(2, 2).fill_diagonal_(1e39),
    lambda T: T.zeros(2, 2).fill_diagonal_(T.tensor([1.0, 2.0])),
    lambda T: T.zeros(2, 2, requires_grad=True).fill_diagonal_(1.0),
]


@pytest.mark.parametrize("fn", INPLACE_ERRORS)
def test_inplace_errors(fn: Callable) -> None:
    _raises(fn)


# ---- integer and bool tensors ---------------------------------------------------------------
INT_ROWS = [
    lambda T: T.arange(-3, 3).eq_(1),
    lambda T: T.arange(-3, 3).lt_(1.5),
    lambda T: T.arange(-3, 3).cumsum_(0),
    lambda T: T.arange(1, 5, dtype=T.int32).cumprod_(0),
    lambda T: T.arange(-3, 3).sign_(),
    lambda T: T.arange(-3, 3).absolute_(),
    lambda T: T.arange(-3, 3).negative_(),
    lambda T: T.arange(-3, 3).divide_(2, rounding_mode="trunc"),
    lambda T: T.tensor([True, False]).sign_(),
    lambda T: T.tensor([True, False]).nan_to_num_(),
    lambda T: T.tensor([True, False]).nan_to_num(),
    lambda T: T.arange(-3, 3).nan_to_num(nan=1.0),
    lambda T: T.tensor([True, False]).eq_(True),
    lambda T: T.zeros(3, 3, dtype=T.int64).fill_diagonal_(2.7),
    lambda T: T.zeros(3, 3, 3, dtype=T.int64).fill_diagonal_(5),
    lambda T: T.zeros(3, 7).fill_diagonal_(5.0, wrap=True),
    lambda T: T.zeros(8, 3).fill_diagonal_(5.0, wrap=True),
    lambda T: T.zeros(7, 3).fill_diagonal_(5.0),
    lambda T: T.zeros(3, 3).fill_diagonal_(T.tensor(4.0)),
    lambda T: T.zeros(2, 3, dtype=T.int64).put_(T.tensor([[1], [2]]), T.tensor([9, 8])),
    lambda T: T.zeros(2, 3).put(T.tensor([1, 5]), T.tensor([9.0, 8.0]), accumulate=True),
    lambda T: T.zeros(0, 0).fill_diagonal_(1.0),
    lambda T: T.zeros(2, 0).fill_diagonal_(1.0),
    lambda T: T.zeros(2, 2, dtype=T.bool).fill_diagonal_(1),
    lambda T: T.zeros(2, 2, dtype=T.int32).fill_diagonal_(-2.9),
    lambda T: T.zeros(4, 2).fill_diagonal_(1.0, wrap=True),
    lambda T: T.zeros(3).put_(T.tensor([], dtype=T.int64), T.tensor([])),
    lambda T: T.tensor(1.0).put_(T.tensor([0]), T.tensor([5.0])),
    lambda T: T.zeros(3).put_(T.tensor(2), T.tensor(5.0)),
    lambda T: T.zeros(3, dtype=T.int64).put_(T.tensor([1, 1]), T.tensor([5, 6]), accumulate=True),
    lambda T: T.zeros(3, dtype=T.bool).put_(T.tensor([1]), T.tensor([True])),
    lambda T: T.zeros(2, 3).t().put_(T.tensor([1]), T.tensor([5.0])),
    lambda T: T.zeros(3).put_(index=T.tensor([1]), source=T.tensor([5.0]), accumulate=True),
    lambda T: T.arange(3).eq_(T.tensor([0.0, 1.5, 2.0])),
    lambda T: T.tensor([True, False]).lt_(0.5),
    lambda T: T.tensor([float("nan"), 1.0]).lt_(2.0),
    lambda T: T.full((3,), 200, dtype=T.uint8).cumsum_(0),
    lambda T: T.tensor(2.0).cumsum_(0),
    lambda T: T.tensor([float("nan"), -0.0, -2.0]).sign_(),
    lambda T: T.tensor([-128], dtype=T.int8).absolute_(),
    lambda T: T.arange(-3, 3).divide_(2, rounding_mode="floor"),
    lambda T: T.ones(2, dtype=T.float16).true_divide_(3),
    lambda T: T.tensor([float("inf"), float("nan")], dtype=T.float16).nan_to_num_(),
    lambda T: T.tensor([1, 2], dtype=T.uint8).negative_(),
]


@pytest.mark.parametrize("fn", INT_ROWS)
def test_values_vs_torch(fn: Callable) -> None:
    _same(fn(adjit), fn(torch))


def test_put_gradients() -> None:
    for lib in (adjit, torch):
        x = lib.tensor(X, requires_grad=True)
        s = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = x.put(lib.tensor([1, -1]), s)
        assert _name(y) == "PutBackward0"
        (y * lib.arange(12.0, dtype=lib.float64).view(3, 4)).sum().backward()
        assert x.grad[0].tolist() == [0.0, 0.0, 2.0, 3.0] and x.grad[2, 3].item() == 0.0
        assert s.grad.tolist() == [1.0, 11.0]


def test_put_repeated_index_is_refused() -> None:
    """PyTorch leaves which write wins unspecified; adjit says so instead of picking one."""
    with pytest.raises(RuntimeError, match="put_: an index repeats"):
        adjit.zeros(2, 3).put_(adjit.tensor([1, 1]), adjit.tensor([1.0, 2.0]))


def test_comparison_inplace_gradient_is_zero_for_other() -> None:
    for lib in (adjit, torch):
        x = lib.tensor(X[0], requires_grad=True)
        o = lib.tensor(X[1], requires_grad=True)
        y = x * 1.0
        y.lt_(o)
        assert _name(y) == "LtBackward1"
        y.sum().backward()
        assert x.grad.tolist() == [0.0] * 4 and o.grad.tolist() == [0.0] * 4
        z = lib.zeros(4, dtype=lib.float64)
        z.ge_(o)  # a plain tensor compared with one that requires grad now requires grad
        assert z.requires_grad and _name(z) == "GeBackward1"


# ---- apply_ and map_ ------------------------------------------------------------------------
APPLY_ROWS = [
    lambda T: T.arange(6.0).view(2, 3).apply_(lambda v: v * 2 + 0.5),
    lambda T: T.arange(6.0).view(2, 3).t().apply_(lambda v: v - 1),
    lambda T: T.arange(5).apply_(lambda v: v / 2),
    lambda T: T.arange(5).apply_(lambda v: -2.7),
    lambda T: T.arange(5).apply_(lambda v: True),
    lambda T: T.tensor([True, False]).apply_(lambda v: not v),
    lambda T: T.tensor([True, False]).apply_(lambda v: 0.0),
    lambda T: T.arange(3.0).apply_(lambda v: T.tensor(2.0)),
    lambda T: T.arange(3.0, dtype=T.float16).apply_(lambda v: v + 1 / 3),
    lambda T: T.arange(3.0).map_(T.ones(3), lambda a, b: a + b),
    lambda T: T.arange(6.0).view(2, 3).map_(T.tensor([1.0, 2.0, 3.0]), lambda a, b: a * b),
    lambda T: T.arange(3).map_(T.tensor([4, 5, 6]), lambda a, b: a - b),
    lambda T: T.tensor([3.0, 4.0]).map_(T.tensor(1.0), lambda a, b: a + b),
    lambda T: T.zeros(2, 3).map_(T.ones(2, 1), lambda a, b: a + b),
    lambda T: T.zeros(2).map_(T.ones(2), callable=lambda a, b: a + b),
    lambda T: T.zeros(0).apply_(lambda v: 1),
    lambda T: T.tensor(3.0).apply_(lambda v: v * 2),
]


@pytest.mark.parametrize("fn", APPLY_ROWS)
def test_apply_map_vs_torch(fn: Callable) -> None:
    _same(fn(adjit), fn(torch))


def test_apply_sees_python_numbers_in_order() -> None:
    seen: dict[str, list] = {"torch": [], "adjit": []}
    for lib, key in ((torch, "torch"), (adjit, "adjit")):
        lib.arange(6).view(2, 3).t().apply_(lambda v, k=key: seen[k].append(v) or v)
    assert seen["adjit"] == seen["torch"]
    assert all(type(v) is int for v in seen["adjit"])


def _raise(v: Any) -> Any:
    raise ValueError("boo")


APPLY_ERRORS = [
    lambda T: T.arange(3).apply_(lambda v: "a"),
    lambda T: T.arange(3.0).apply_(lambda v: None),
    lambda T: T.tensor([True]).apply_(lambda v: []),
    lambda T: T.arange(3).apply_(lambda v: 2**70),
    lambda T: T.arange(3, dtype=T.uint8).apply_(lambda v: 300),
    lambda T: T.arange(3, dtype=T.int8).apply_(lambda v: -300),
    lambda T: T.arange(3.0).apply_(_raise),
    lambda T: T.arange(3.0).requires_grad_().apply_(lambda v: v),
    lambda T: (T.arange(3.0).requires_grad_() * 1).apply_(lambda v: v),
    lambda T: T.arange(3.0).map_(T.ones(3, requires_grad=True), lambda a, b: a),
    lambda T: T.arange(3.0).map_(T.ones(2, 3), lambda a, b: a),
    lambda T: T.arange(3.0).map_(T.ones(3, dtype=T.int64), lambda a, b: a),
    lambda T: T.arange(3.0).map_(3, lambda a, b: a),
    lambda T: T.zeros(2, 3).map_(T.ones(2), lambda a, b: a),
    lambda T: T.zeros(2).map_(T.zeros(2)),
    lambda T: T.zeros(2).apply_(),
    lambda T: T.zeros(2).apply_(callable=lambda v: v),
]


@pytest.mark.parametrize("fn", APPLY_ERRORS)
def test_apply_map_errors(fn: Callable) -> None:
    _raises(fn)


# ---- resize_, resize_as_, set_ --------------------------------------------------------------
def _storage_case(T: Any) -> list:
    out = []
    x = T.arange(6.0)
    v = x.view(2, 3)
    out.append(x.resize_(2, 3).clone())
    out.append(x.resize_(2, 2).clone())  # a prefix of the storage
    out.append(x.resize_((6,)).clone())  # grows back within the storage: the old values
    x.resize_(3)[0] = 42.0
    out.append(v.clone())  # still the same memory
    out.append(T.arange(6.0).view(2, 3).t().resize_(6).clone())  # storage order
    out.append(T.arange(6.0).view(2, 3).t().resize_(3, 2).clone())
    out.append(T.arange(12.0)[4:].resize_(2, 2).clone())  # from the storage offset
    out.append(T.zeros(2, 3).resize_as_(T.zeros(3, 2, dtype=T.int64)))
    out.append(T.arange(4.0).resize_(0).resize_(4).clone())  # the storage keeps its values
    out.append(T.arange(6).resize_(2, 2))
    out.append(T.arange(6.0).resize_(size=(2, 3)))
    return out


def test_resize_vs_torch() -> None:
    for got, want in zip(_storage_case(adjit), _storage_case(torch), strict=True):
        _same(got, want)
    for lib in (adjit, torch):
        x = lib.arange(6.0)
        x.resize_(2, 3)
        assert x._version == 1 and x.stride() == (3, 1) and x.is_contiguous()


def test_resize_grows_a_tensor_nothing_shares() -> None:
    for lib in (adjit, torch):
        x = lib.arange(4.0)
        x.resize_(2, 4)
        assert tuple(x.shape) == (2, 4) and x[0].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_resize_growth_of_shared_memory_is_refused() -> None:
    """PyTorch grows the shared storage in place; adjit cannot, and says so."""
    x = adjit.arange(4.0)
    v = x.view(2, 2)
    with pytest.raises(NotImplementedError, match="resize_: growing"):
        x.resize_(8)
    with pytest.raises(NotImplementedError, match="resize_: growing"):
        v.resize_(8)
    assert tuple(x.shape) == (4,)


RESIZE_ERRORS = [
    lambda T: T.arange(6.0, requires_grad=True).resize_(2, 3),
    lambda T: (T.arange(6.0, requires_grad=True) * 1).resize_(6),
    lambda T: T.zeros(2, 3).resize_(2, -1),
    lambda T: T.zeros(2, 3).resize_(2.0),
    lambda T: T.zeros(2, 3).resize_(),
    lambda T: T.zeros(2, 3).resize_as_(3),
]


@pytest.mark.parametrize("fn", RESIZE_ERRORS)
def test_resize_errors(fn: Callable) -> None:
    _raises(fn)


def test_set_vs_torch() -> None:
    for lib in (adjit, torch):
        s = lib.arange(6.0).view(2, 3)
        x = lib.zeros(2)
        assert x.set_(s) is x
        assert tuple(x.shape) == (2, 3) and x._version == 1 and s._version == 0
        x[0, 0] = 7.0
        assert s[0, 0].item() == 7.0
        y = lib.zeros(2).set_(s.t())
        assert y.stride() == (1, 3) and y[0].tolist() == [7.0, 3.0]
        assert tuple(lib.zeros(2).set_().shape) == (0,)
        with lib.no_grad():
            z = lib.zeros(2, requires_grad=True).set_(s)
        assert z.requires_grad and tuple(z.shape) == (2, 3)
    _raises(lambda T: T.zeros(2).set_(T.arange(3)))
    _raises(lambda T: T.zeros(2, requires_grad=True).set_(T.zeros(2)))
    with pytest.raises(NotImplementedError, match="set_ is not differentiable"):
        (adjit.zeros(2, requires_grad=True) * 1).set_(adjit.zeros(3))


# ---- attributes and queries -----------------------------------------------------------------
QUERIES = """
is_cpu is_meta is_mps is_xpu is_ipu is_quantized is_sparse is_sparse_csr is_mkldnn is_nested
is_xla is_mtia is_vulkan is_maia
""".split()  # noqa: SIM905
CALLS = "is_complex is_conj is_neg is_inference get_device dense_dim sparse_dim element_size"


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int8", "uint8", "bool"])
def test_queries_vs_torch(dtype: str) -> None:
    a, t = adjit.zeros(2, 3).to(getattr(adjit, dtype)), torch.zeros(2, 3).to(getattr(torch, dtype))
    for name in QUERIES:
        assert getattr(a, name) == getattr(t, name), name
    for name in [*CALLS.split(), "is_signed"]:
        assert getattr(a, name)() == getattr(t, name)(), name
    assert a.const_data_ptr() == a.data_ptr()


def test_identities_vs_torch() -> None:
    for lib in (adjit, torch):
        x = lib.tensor(X, requires_grad=True)
        for y in (x.real, x.conj(), x.resolve_conj(), x.resolve_neg(), x.conj_physical()):
            assert y is x
        assert x.to_dense() is x and str(x.to_dense(lib.float32).dtype) == "torch.float32"
        z = lib.zeros(3)
        assert z.conj_physical_() is z and z._version == 1
    _raises(lambda T: T.zeros(3).imag)


TRANSPOSES = [
    ("T", lambda x: x.T),
    ("mT", lambda x: x.mT),
    ("mH", lambda x: x.mH),
    ("H", lambda x: x.H),
    ("adjoint", lambda x: x.adjoint()),
]


@pytest.mark.parametrize("shape", [(), (3,), (3, 4), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("row", TRANSPOSES, ids=lambda r: r[0])
def test_transposes_vs_torch(row: tuple, shape: tuple) -> None:
    name, fn = row
    data = RNG.standard_normal(shape)
    results = []
    for lib in (torch, adjit):
        x = lib.tensor(data, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                y = fn(x)
            except RuntimeError as e:
                results.append(("error", str(e)))
                continue
        texts = [str(w.message).split(" (Triggered internally")[0] for w in caught]
        results.append(("ok", _np(y).tolist(), tuple(y.shape), _name(y), y is x, texts))
    assert results[1][:-1] == results[0][:-1]
    if results[0][0] == "ok" and results[0][-1]:  # PyTorch warns once per process
        assert results[1][-1] == results[0][-1]


def test_grad_dtype_vs_torch() -> None:
    for lib in (adjit, torch):
        x = lib.zeros(2, requires_grad=True)
        assert x.grad_dtype == lib.float32
        x.grad_dtype = None
        assert x.grad_dtype is None
        assert lib.zeros(2, dtype=lib.int64).grad_dtype == lib.int64
    _raises(lambda T: (T.zeros(2, requires_grad=True) * 1).grad_dtype)


def test_as_subclass_vs_torch() -> None:
    for lib in (adjit, torch):

        class Sub(lib.Tensor):  # type: ignore[name-defined, misc]
            pass

        x = lib.tensor(X, requires_grad=True)
        s = x.as_subclass(Sub)
        assert type(s) is Sub and s.data_ptr() == x.data_ptr()
        assert _name(s) == "AliasBackward0" and not s.is_leaf
        s.sum().backward()
        assert x.grad.tolist() == np.ones_like(X).tolist()
    _raises(lambda T: T.zeros(2).as_subclass(int))


def test_new_empty_strided_vs_torch() -> None:
    for size, stride in (((2, 3), (3, 1)), ((2, 3), (1, 2)), ((4,), (2,)), ((2, 0), (1, 1))):
        a = adjit.zeros(1).new_empty_strided(size, stride, dtype=adjit.float64)
        t = torch.zeros(1).new_empty_strided(size, stride, dtype=torch.float64)
        assert tuple(a.shape) == tuple(t.shape) and a.stride() == t.stride()
        assert a.dtype == adjit.float64


@pytest.mark.parametrize(
    "call",
    [
        lambda x: x.broadcast_to(3, 2, 3),
        lambda x: x.broadcast_to((3, 2, 3)),
        lambda x: x.broadcast_to([2, 3]),
        lambda x: x.broadcast_to(size=(4, 2, 3)),
        lambda x: x.broadcast_to(-1, 3),
    ],
)
def test_broadcast_to_method_forms(call: Callable) -> None:
    _same(call(adjit.tensor(X[:2, :3])), call(torch.tensor(X[:2, :3])))


def test_apply_moves_the_version_counter() -> None:
    """Unlike PyTorch's (whose counter stays, so a saved tensor changed by apply_ silently gives
    a stale gradient), adjit's apply_/map_ count as in-place writes: backward refuses."""
    x = adjit.tensor([1.0], requires_grad=True)
    w = adjit.tensor([2.0])
    y = x * w
    w.apply_(lambda v: 5.0)
    assert w._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
