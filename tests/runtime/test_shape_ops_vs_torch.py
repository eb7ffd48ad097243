"""Shape and indexing ops (issue 13) against PyTorch: values, dtypes, grad_fn names, gradients
(PyTorch's and float64 finite differences), compiled on both backends, and errors."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from shape_op_cases import CASES, DATA_DEPENDENT
from test_ops_gradients import _numeric_grad
from test_ops_table import Case, cotangents, make_args, outputs

import adjit

torch = pytest.importorskip("torch")


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


def _name(t: Any) -> str | None:
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def _same(got: Any, want: Any, what: str) -> None:
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {got.shape} != {want.shape}"
    assert str(got.dtype) == str(want.dtype), f"{what}: dtype {got.dtype} != {want.dtype}"
    # movement is exact; index_add of repeated indices adds in another order (an ulp or two)
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-15, atol=0, err_msg=what)


def _live(outs: list) -> list[int]:
    """Positions of the outputs a gradient flows through (an input returned as is, too)."""
    return [k for k, o in enumerate(outs) if o.dtype.is_floating_point and o.requires_grad]


def _grads(case: Case, outs: list, args: list, T: Any) -> list:
    diff = [outs[k] for k in _live(outs)]
    inputs = [a for a in args if a.requires_grad]
    if not diff or not inputs:
        return []
    cts = [T.from_numpy(c).to(o.dtype) for o, c in zip(diff, cotangents(case, diff), strict=True)]
    return list(T.autograd.grad(diff, inputs, cts, allow_unused=True))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_eager_vs_torch(case: Case) -> None:
    arrays = case.arrays()
    a_args, t_args = make_args(case, adjit, arrays), make_args(case, torch, arrays)
    got, want = outputs(case.fn(adjit, *a_args)), outputs(case.fn(torch, *t_args))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        _same(g, w, f"output {k}")
        assert _name(g) == _name(w), f"output {k} grad_fn {_name(g)} != {_name(w)}"
        assert g.requires_grad == w.requires_grad
    for i, (g, w) in enumerate(
        zip(_grads(case, got, a_args, adjit), _grads(case, want, t_args, torch), strict=True)
    ):
        assert (g is None) == (w is None), f"input {i}"
        if w is not None:  # sums of cotangents (tile, broadcast): a rounding apart at most
            assert str(g.dtype) == str(w.dtype) and tuple(g.shape) == tuple(w.shape)
            np.testing.assert_allclose(_np(g), _np(w), rtol=1e-15, atol=0, err_msg=f"input {i}")


# float64 rows only (type_as to float32 rounds)
FD_CASES = [c for c in CASES if any(a.differentiable for a in c.args) and c.name != "type_as-float"]


@pytest.mark.parametrize("case", FD_CASES, ids=lambda c: c.name)
def test_gradient_finite_differences(case: Case) -> None:
    arrays = case.arrays()
    args = make_args(case, adjit, arrays)
    outs = outputs(case.fn(adjit, *args))
    keep = _live(outs)
    ws = cotangents(case, [outs[k] for k in keep])
    positions = [i for i, s in enumerate(case.args) if s.differentiable]
    grads = _grads(case, outs, args, adjit)

    def loss(a: list[np.ndarray]) -> float:
        with adjit.no_grad():
            res = outputs(case.fn(adjit, *make_args(case, adjit, a)))
        return float(sum((_np(res[k]) * w).sum() for k, w in zip(keep, ws, strict=True)))

    for i, g in zip(positions, grads or [None] * len(positions), strict=True):
        want = _numeric_grad(loss, arrays, i)
        got = np.zeros_like(want) if g is None else g.numpy()
        # a linear map of float64 inputs: only the differences' rounding (~1e-10) remains
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-8, err_msg=f"input {i}")


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_compiled_equals_eager(case: Case, backend: str) -> None:
    eager_args, comp_args = make_args(case, adjit), make_args(case, adjit)
    if case.name in DATA_DEPENDENT:  # refused whole; by default a graph break (then as eager)
        with pytest.raises(adjit.TracingError):
            compiled = adjit.compile(lambda *a: case.fn(adjit, *a), backend=backend, fullgraph=True)
            compiled(*make_args(case, adjit))
    expected = outputs(case.fn(adjit, *eager_args))
    got = outputs(adjit.compile(lambda *a: case.fn(adjit, *a), backend=backend)(*comp_args))
    assert len(got) == len(expected)
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g.dtype is e.dtype and g.shape == e.shape, f"output {k}"
        # movement is exact; compiled sums (sum_to_size) may reassociate: a few ulp
        np.testing.assert_allclose(_np(g), _np(e), rtol=1e-14, atol=1e-15, err_msg=f"output {k}")
    for i, (g, e) in enumerate(
        zip(
            _grads(case, got, comp_args, adjit),
            _grads(case, expected, eager_args, adjit),
            strict=True,
        )
    ):
        assert (g is None) == (e is None), f"input {i}"
        if e is not None:
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-14, atol=1e-15)


# ---- errors: PyTorch's type and text -------------------------------------------------------
def _x(T: Any) -> Any:
    return T.arange(12.0).reshape(3, 4)


ERRORS: list[tuple[str, Callable[[Any], Any]]] = [
    ("tril-1d", lambda T: T.tril(T.ones(3))),
    ("triu-1d", lambda T: T.ones(3).triu_()),
    ("tril_indices-neg", lambda T: T.tril_indices(-1, 3)),
    ("triu_indices-neg-col", lambda T: T.triu_indices(2, -3)),
    ("tril_indices-float", lambda T: T.tril_indices(3, 3, dtype=T.float32)),
    ("diag-3d", lambda T: T.diag(T.ones(2, 2, 2))),
    ("diagonal-same", lambda T: _x(T).diagonal(0, 1, 1)),
    ("diagonal-dim", lambda T: _x(T).diagonal(0, 0, 2)),
    ("diag_embed-same", lambda T: T.diag_embed(T.ones(3), 0, 0, -2)),
    ("roll-align", lambda T: _x(T).roll((1, 2), (0,))),
    ("roll-no-dims", lambda T: _x(T).roll((1, 2))),
    ("roll-0d-dim", lambda T: T.tensor(1.0).roll(1, 0)),
    ("select-0d", lambda T: T.tensor(1.0).select(0, 0)),
    ("repeat_interleave-0d-dim", lambda T: T.tensor(3.0).repeat_interleave(2, 0)),
    ("take-empty", lambda T: T.ones(0).take(T.tensor([0]))),
    ("fliplr-1d", lambda T: T.ones(3).fliplr()),
    ("flipud-0d", lambda T: T.tensor(1.0).flipud()),
    ("rot90-dims", lambda T: _x(T).rot90(1, (0,))),
    ("rot90-1d", lambda T: T.ones(3).rot90()),
    ("rot90-same", lambda T: _x(T).rot90(1, (0, 0))),
    ("tile-int", lambda T: T.tile(_x(T), 2)),
    ("repeat_interleave-neg", lambda T: _x(T).repeat_interleave(-1)),
    ("repeat_interleave-size", lambda T: _x(T).repeat_interleave(T.tensor([1, 2]), 0)),
    ("repeat_interleave-negt", lambda T: _x(T).repeat_interleave(T.tensor([1, -2, 1]), 0)),
    ("repeat_interleave-float", lambda T: _x(T).repeat_interleave(T.tensor([1.0, 2, 1]), 0)),
    ("repeat_interleave-2d", lambda T: _x(T).repeat_interleave(T.tensor([[1, 2]]), 0)),
    ("repeat_interleave-1arg", lambda T: T.repeat_interleave(T.tensor([[1, 2]]))),
    ("repeat_interleave-out", lambda T: _x(T).repeat_interleave(2, output_size=3)),
    (
        "repeat_interleave-outt",
        lambda T: _x(T).repeat_interleave(T.tensor([1, 2, 1]), 0, output_size=5),
    ),
    ("movedim-count", lambda T: _x(T).movedim((0, 1), (0,))),
    ("movedim-src", lambda T: _x(T).movedim((0, 0), (0, 1))),
    ("movedim-dst", lambda T: _x(T).movedim((0, 1), (1, 1))),
    ("movedim-range", lambda T: _x(T).movedim(2, 0)),
    ("select-range", lambda T: _x(T).select(1, 5)),
    ("select-neg-range", lambda T: _x(T).select(0, -4)),
    ("tensor_split-zero", lambda T: _x(T).tensor_split(0)),
    ("tensor_split-float", lambda T: _x(T).tensor_split(T.tensor([1.0]))),
    ("tensor_split-2d", lambda T: _x(T).tensor_split(T.tensor([[1]]))),
    ("hstack-empty", lambda T: T.hstack([])),
    ("vstack-empty", lambda T: T.vstack([])),
    ("dstack-sizes", lambda T: T.dstack([_x(T), T.ones(3)])),
    ("meshgrid-dtype", lambda T: T.meshgrid(T.ones(3), T.ones(2).double(), indexing="ij")),
    ("meshgrid-indexing", lambda T: T.meshgrid(T.ones(3), T.ones(2), indexing="xx")),
    ("meshgrid-empty", lambda T: T.meshgrid(indexing="ij")),
    ("broadcast_tensors", lambda T: T.broadcast_tensors(_x(T), T.ones(3))),
    ("broadcast_shapes", lambda T: T.broadcast_shapes((3, 2), (3,))),
    ("take-high", lambda T: _x(T).take(T.tensor([12]))),
    ("take-low", lambda T: _x(T).take(T.tensor([[0, -13]]))),
    ("take-int32", lambda T: _x(T).take(T.tensor([1], dtype=T.int32))),
    ("take_along_dim-ndim", lambda T: _x(T).take_along_dim(T.tensor([1]), 1)),
    ("take_along_dim-dtype", lambda T: _x(T).take_along_dim(T.tensor([[1]], dtype=T.int32), 1)),
    ("index_add-dtype", lambda T: _x(T).index_add(1, T.tensor([0]), T.ones(3, 1).double())),
    ("index_add-count", lambda T: _x(T).index_add(1, T.tensor([0, 1]), T.ones(3, 3))),
    ("index_add-range", lambda T: _x(T).index_add(1, T.tensor([0, -1]), T.ones(3, 2))),
    ("index_add-float", lambda T: _x(T).index_add(1, T.tensor([0.0]), T.ones(3, 1))),
    ("index_add-2d", lambda T: _x(T).index_add(1, T.tensor([[0]]), T.ones(3, 1))),
    ("index_fill-range", lambda T: _x(T).index_fill(1, T.tensor([4]), 2.5)),
    ("index_fill-value", lambda T: _x(T).index_fill(1, T.tensor([0]), T.tensor([2.5]))),
    ("scatter-range", lambda T: _x(T).scatter(1, T.tensor([[0, 4]]), _x(T))),
    ("scatter-negative", lambda T: _x(T).scatter(1, T.tensor([[-1]]), _x(T))),
    ("scatter-float", lambda T: _x(T).scatter(1, T.tensor([[0.0]]), _x(T))),
    ("scatter-ndim", lambda T: _x(T).scatter(1, T.tensor([0]), _x(T))),
    ("scatter-src-ndim", lambda T: _x(T).scatter(1, T.tensor([[0]]), T.ones(1, 1, 1))),
    ("index_copy-slice", lambda T: T.zeros(3, 4, 5).index_copy(1, T.tensor([0]), T.ones(3, 1, 2))),
    ("scatter-dtype", lambda T: _x(T).scatter(1, T.tensor([[0]]), _x(T).double())),
    ("scatter-size", lambda T: _x(T).scatter(1, T.tensor([[0, 1, 2, 3, 0]]), _x(T))),
    (
        "scatter_reduce-dtype",
        lambda T: _x(T).scatter_reduce(1, T.tensor([[0]]), T.ones(1, 1).double(), "sum"),
    ),
    ("scatter_reduce-index", lambda T: _x(T).scatter_reduce(1, T.tensor([[0.0]]), _x(T), "sum")),
    ("scatter_reduce-range", lambda T: _x(T).scatter_reduce(1, T.tensor([[4]]), _x(T), "mean")),
    ("index_put-range", lambda T: _x(T).index_put((T.tensor([0, 5]),), T.tensor(1.0))),
    ("index_put-dtype", lambda T: _x(T).index_put((T.tensor([0, 1]),), T.ones(4).double())),
    ("index_put-shape", lambda T: _x(T).index_put((T.tensor([0, 1]),), T.ones(3))),
    ("index_put-float", lambda T: _x(T).index_put((T.tensor([0.0]),), T.ones(4))),
    ("masked_scatter-few", lambda T: _x(T).masked_scatter(_x(T) > 2, T.ones(3))),
    ("masked_scatter-long", lambda T: _x(T).masked_scatter((_x(T) > 2).long(), _x(T))),
    ("masked_scatter-dtype", lambda T: _x(T).masked_scatter(_x(T) > 2, _x(T).double())),
    ("index_copy-range", lambda T: _x(T).index_copy(1, T.tensor([0, 4]), T.ones(3, 2))),
    ("index_copy-negative", lambda T: _x(T).index_copy(1, T.tensor([-1]), T.ones(3, 1))),
    ("index_copy-count", lambda T: _x(T).index_copy(1, T.tensor([0, 2, 1]), T.ones(3, 2))),
    ("index_copy-dtype", lambda T: _x(T).index_copy(1, T.tensor([0]), T.ones(3, 1).double())),
    ("index_copy-2d", lambda T: _x(T).index_copy(1, T.tensor([[0]]), T.ones(3, 1))),
    ("index_copy-float", lambda T: _x(T).index_copy(1, T.tensor([0.0]), T.ones(3, 1))),
    ("index_copy-ndim", lambda T: _x(T).index_copy(0, T.tensor(1), T.ones(4, 1))),
    ("masked_select-int", lambda T: _x(T).masked_select(T.tensor([1, 0, 1, 0]))),
    ("masked_select-shape", lambda T: _x(T).masked_select(T.tensor([True, False]))),
    ("unfold-size", lambda T: _x(T).unfold(1, 5, 1)),
    ("unfold-step", lambda T: _x(T).unfold(1, 2, 0)),
    ("unfold-negative", lambda T: _x(T).unfold(1, -1, 1)),
    ("view_as", lambda T: _x(T).view_as(T.ones(3))),
    ("sum_to_size", lambda T: _x(T).sum_to_size(1, 5)),
    ("sum_to_size-long", lambda T: _x(T).sum_to_size(1, 3, 4)),
]


def _error(fn: Callable[[Any], Any], T: Any) -> BaseException:
    with pytest.raises(Exception) as info:  # noqa: PT011 - the type is compared with torch's
        fn(T)
    return info.value


@pytest.mark.parametrize(("name", "fn"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_as_torch(name: str, fn: Callable[[Any], Any]) -> None:
    got, want = _error(fn, adjit), _error(fn, torch)
    assert isinstance(got, type(want)), f"{type(got)}: {got} vs {type(want)}: {want}"
    assert type(got).__name__ == type(want).__name__ and str(got) == str(want)


def test_meshgrid_errors_on_matrices_and_defaults_to_ij() -> None:
    with pytest.raises(RuntimeError, match="Expected 0D or 1D tensor in the tensor list"):
        adjit.meshgrid(_x(adjit), adjit.ones(3), indexing="ij")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (its once-a-process warning: test_h1b_dtype_args)
        a = adjit.meshgrid(adjit.ones(2), adjit.ones(3))
        t = torch.meshgrid(torch.ones(2), torch.ones(3))
    assert [tuple(g.shape) for g in a] == [tuple(g.shape) for g in t] == [(2, 3)] * 2


def test_broadcast_shapes_as_torch() -> None:
    for shapes in [((3, 1), (4,)), ((), (2, 1), 5), ([2, 1, 3], (1, 4, 1))]:
        assert adjit.broadcast_shapes(*shapes) == torch.broadcast_shapes(*shapes)


# ---- in place and views ------------------------------------------------------------------
def test_tril_triu_in_place() -> None:
    for T in (adjit, torch):
        x = T.arange(12.0).reshape(3, 4)
        assert x.tril_(1) is x
    a, t = adjit.arange(12.0).reshape(3, 4), torch.arange(12.0).reshape(3, 4)
    a.triu_(-1)
    t.triu_(-1)
    np.testing.assert_array_equal(a.numpy(), t.numpy())
    w = adjit.ones(3, 3, requires_grad=True)
    y = w * 2
    y.tril_()
    y.sum().backward()
    assert type(y.grad_fn).__name__ == "TrilBackward0"
    np.testing.assert_array_equal(w.grad.numpy(), np.tri(3) * 2)


def test_tril_in_place_compiled() -> None:
    def f(x: Any) -> Any:
        y = x * 1
        y.triu_(1)
        return y

    x = adjit.randn(3, 3, requires_grad=True)
    np.testing.assert_array_equal(adjit.compile(f)(x).detach().numpy(), np.triu(x.detach(), 1))


def test_diagonal_is_a_view_that_writes_through() -> None:
    for T in (adjit, torch):
        x = T.zeros(3, 4)
        x.diagonal(1).fill_(1.0)
        x.diagonal(-1).add_(2.0)
        if T is adjit:
            got = x.numpy()
        else:
            np.testing.assert_array_equal(got, x.numpy())
    y = adjit.zeros(2, 3, 3)
    assert y.diagonal(0, -2, -1)._view_base is y


def test_diagonal_copy_is_read_only() -> None:
    # dims whose merge needs a copy: the result cannot be a view, so in-place ops refuse
    # rather than silently miss the input
    x = adjit.zeros(3, 2, 3)
    d = x.diagonal(0, 0, 2)
    np.testing.assert_array_equal(d.numpy(), torch.zeros(3, 2, 3).diagonal(0, 0, 2).numpy())
    with pytest.raises(RuntimeError):
        d.fill_(1.0)


# ---- data-dependent shapes under compile ---------------------------------------------------
def test_repeat_interleave_traced_repeats() -> None:
    x = adjit.arange(6.0).reshape(3, 2)
    r = adjit.tensor([2, 0, 1])
    with pytest.raises(adjit.TracingError, match="output_size"):
        adjit.compile(lambda x, r: x.repeat_interleave(r, 0), fullgraph=True)(x, r)
    broken = adjit.compile(lambda x, r: x.repeat_interleave(r, 0))(x, r)  # a graph break
    assert broken.tolist() == x.repeat_interleave(r, 0).tolist()
    f = adjit.compile(lambda x, r: x.repeat_interleave(r, 0, output_size=3))
    want = torch.arange(6.0).reshape(3, 2).repeat_interleave(torch.tensor([2, 0, 1]), 0)
    np.testing.assert_array_equal(f(x, r).numpy(), want.numpy())
    with pytest.raises(RuntimeError, match="allocated size does not match required size"):
        f(x, adjit.tensor([2, 2, 1]))
    with pytest.raises(RuntimeError, match="repeats can not be negative"):
        f(x, adjit.tensor([3, -1, 1]))


def test_take_out_of_range_compiled() -> None:
    f = adjit.compile(lambda x, i: x.take(i))
    x = adjit.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(f(x, adjit.tensor([-1, 3])).numpy(), [11.0, 3.0])
    with pytest.raises(IndexError, match="tried to access index 12 on a tensor of 12 elements"):
        f(x, adjit.tensor([0, 12]))


def test_tensor_split_traced_tensor_refused() -> None:
    x, i = adjit.arange(4.0), adjit.tensor([1, 2])
    with pytest.raises(adjit.TracingError, match="tensor_split"):
        adjit.compile(lambda x, i: x.tensor_split(i), fullgraph=True)(x, i)
    parts = adjit.compile(lambda x, i: x.tensor_split(i))(x, i)  # a graph break
    assert [p.tolist() for p in parts] == [[0.0], [1.0], [2.0, 3.0]]


def test_take_along_dim_refuses_beyond_the_size() -> None:
    # PyTorch's CPU kernel reads index % size there (index 100 of 3 reads entry 1): refused
    x = adjit.arange(6.0).reshape(2, 3)
    message = "index 100 is out of bounds for dimension 1 with size 3"
    with pytest.raises(RuntimeError, match=message):
        x.take_along_dim(adjit.tensor([[100]]), 1)
    with pytest.raises(RuntimeError, match=message):
        adjit.compile(lambda x, i: x.take_along_dim(i, 1))(x, adjit.tensor([[100]]))


def test_index_add_fill_in_place() -> None:
    got, want = [], []
    for T, out in ((adjit, got), (torch, want)):
        x = T.arange(12.0).reshape(3, 4)
        assert x.index_add_(1, T.tensor([3, 0, 3]), T.ones(3, 3), alpha=-2) is x
        x.index_fill_(0, T.tensor([-1]), 7.0)
        out.append(x.numpy().copy())
    np.testing.assert_array_equal(got[0], want[0])


def test_index_checks_compiled() -> None:
    f = adjit.compile(lambda x, i: x.index_add(0, i, adjit.ones(2, 2)))
    g = adjit.compile(lambda x, i: x.index_fill(0, i, 0.0))
    x = adjit.zeros(3, 2)
    np.testing.assert_array_equal(f(x, adjit.tensor([2, 2])).numpy(), [[0, 0], [0, 0], [2, 2]])
    np.testing.assert_array_equal(g(x + 1, adjit.tensor([-1])).numpy(), [[1, 1], [1, 1], [0, 0]])
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 0 with size 3"):
        f(x, adjit.tensor([0, 3]))
    with pytest.raises(IndexError, match="index -4 is out of bounds for dimension 0 with size 3"):
        g(x, adjit.tensor([-4]))


def test_unfold_copy_is_read_only() -> None:
    # PyTorch's unfold is a strided view; adjit's is a gather, so writes to it refuse
    u = adjit.zeros(2, 4).unfold(1, 2, 1)
    with pytest.raises(RuntimeError):
        u.add_(1.0)


@pytest.mark.parametrize(
    "view",
    [
        lambda y: y.split(2)[0],
        lambda y: y.unbind()[1],
        lambda y: y.chunk(2)[1],
        lambda y: y.split([1, 3])[1],
        lambda y: y.reshape(2, 2).diagonal(),
        lambda y: y.tensor_split(2)[1],
        lambda y: y.unflatten(0, (2, 2)).unbind(1)[0],
    ],
    ids=["split", "unbind", "chunk", "split_with_sizes", "diagonal", "tensor_split", "unbind1"],
)
def test_in_place_on_composite_views_as_torch(view: Callable[[Any], Any]) -> None:
    # PyTorch refuses recorded in-place ops on the views a function returns several of (split,
    # unbind), and rebases the base's history for the others (Note [in-place ops on views])
    def run(lib: Any) -> Any:
        x = lib.arange(1.0, 5.0, requires_grad=True)
        y = x * 1
        try:
            view(y).mul_(3)
        except RuntimeError as e:
            return str(e)
        (y * lib.arange(4.0)).sum().backward()
        return y.tolist(), x.grad.tolist(), type(y.grad_fn).__name__

    assert run(adjit) == run(torch)


# ---- a tuple inside the index tuple is a sequence of indices, as a list is ------------------
TUPLE_INDICES: list[Callable[[Any, Any], Any]] = [
    lambda T, x: x[1, (0, 2, -1)],
    lambda T, x: x[:, (1, 0, -1), T.tensor([0, 1, 3])],
    lambda T, x: x[(1, 0), (0, 2)],
    lambda T, x: x[((1, 0), (0, 1))],
    lambda T, x: x[[1, 0], ..., (0, 1)],
    lambda T, x: x[:, (True, False, True)],
]


@pytest.mark.parametrize("index", TUPLE_INDICES)
def test_tuple_of_ints_indexes_as_torch(index: Callable[[Any, Any], Any]) -> None:
    def run(T: Any, x: Any) -> Any:
        return index(T, x)

    arr = np.arange(24.0).reshape(2, 3, 4)
    a, t = adjit.from_numpy(arr.copy()), torch.from_numpy(arr.copy())
    _same(run(adjit, a), run(torch, t), "value")
    compiled = adjit.compile(lambda x: run(adjit, x))(adjit.from_numpy(arr.copy()))
    _same(compiled, run(torch, t), "compiled")
    a[:, (0, 2)] = -1.0
    t[:, (0, 2)] = -1.0
    _same(a, t, "setitem")
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        a[:, (0, 3)]


# ---- scatter and index_copy: Note [scatter with repeated indices] --------------------------
def test_scatter_src_larger_than_index() -> None:
    # only src[:index.shape] is written; PyTorch 2.13's backward fails on this shape, so the
    # gradient is checked against its definition (the cotangent gathered at the index)
    x = adjit.zeros(3, 4, dtype=adjit.float64, requires_grad=True)
    s = adjit.arange(12.0, dtype=adjit.float64).reshape(3, 4).requires_grad_()
    i = adjit.tensor([[0, 1], [2, 3], [1, 0]])
    out = x.scatter(1, i, s)
    want = torch.zeros(3, 4, dtype=torch.float64).scatter(
        1, torch.tensor([[0, 1], [2, 3], [1, 0]]), torch.arange(12.0).reshape(3, 4).double()
    )
    np.testing.assert_array_equal(out.detach().numpy(), want.numpy())
    g = adjit.arange(1.0, 13.0, dtype=adjit.float64).reshape(3, 4)
    gx, gs = adjit.autograd.grad(out, [x, s], g)
    hit = np.zeros((3, 4), bool)
    np.put_along_axis(hit, i.numpy(), True, 1)
    np.testing.assert_array_equal(gx.numpy(), np.where(hit, 0.0, g.numpy()))
    want_s = np.zeros((3, 4))
    want_s[:, :2] = np.take_along_axis(g.numpy(), i.numpy(), 1)
    np.testing.assert_array_equal(gs.numpy(), want_s)


def test_repeated_indices_refused_eager_and_compiled() -> None:
    x, s = adjit.zeros(3, 4), adjit.ones(3, 2)
    for fn, index in (
        (lambda x, i: x.scatter(1, i, s), adjit.tensor([[1, 1], [0, 2], [3, 0]])),
        (lambda x, i: x.index_copy(1, i, s), adjit.tensor([2, 2])),
        (lambda x, i: x.index_put((adjit.tensor([0, 0]), i), s[0]), adjit.tensor([1, 1])),
    ):
        with pytest.raises(RuntimeError, match="an index repeats"):
            fn(x, index)
        with pytest.raises(RuntimeError, match="an index repeats"):
            adjit.compile(fn)(x, index)
    # a value written several times is the same value: exact, and as PyTorch
    got = adjit.zeros(2, 3).scatter_(1, adjit.tensor([[1, 1], [0, 0]]), 4.0)
    want = torch.zeros(2, 3).scatter_(1, torch.tensor([[1, 1], [0, 0]]), 4.0)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_scatter_index_copy_in_place() -> None:
    got, want = [], []
    for T, out in ((adjit, got), (torch, want)):
        x = T.zeros(3, 4)
        assert x.scatter_(0, T.tensor([[2, 1, 0, 2]]), T.ones(1, 4)) is x
        x.index_copy_(1, T.tensor([3]), T.full((3, 1), 5.0))
        out.append(x.numpy().copy())
    np.testing.assert_array_equal(got[0], want[0])
    with pytest.raises(NotImplementedError, match="scatter_reduce"):
        adjit.zeros(2).scatter_(0, adjit.tensor([0]), adjit.ones(1), reduce="add")
    a, t = adjit.zeros(3), torch.zeros(3)
    for T, x in ((adjit, a), (torch, t)):
        x.scatter_reduce_(0, T.tensor([2, 2, 0]), T.tensor([1.0, 2.0, 4.0]), "mean")
        assert x.scatter_reduce_(0, T.tensor([1, 2]), T.tensor([-1.0, 7.0]), "amax") is x
        assert x.scatter_add_(0, T.tensor([1, 1]), T.tensor([0.5, 0.25])) is x
    np.testing.assert_array_equal(a.numpy(), t.numpy())
    a.index_put_((adjit.tensor([1, 1]),), adjit.tensor(2.0), accumulate=True)
    t.index_put_((torch.tensor([1, 1]),), torch.tensor(2.0), accumulate=True)
    np.testing.assert_array_equal(a.numpy(), t.numpy())


def test_masked_scatter_compiled_checks_the_count() -> None:
    f = adjit.compile(lambda x, m, s: x.masked_scatter(m, s))
    x, s = adjit.zeros(2, 3), adjit.arange(1.0, 4.0)
    m = adjit.tensor([[True, False, True], [False, True, False]])
    want = torch.zeros(2, 3).masked_scatter(torch.from_numpy(m.numpy()), torch.arange(1.0, 4.0))
    np.testing.assert_array_equal(f(x, m, s).numpy(), want.numpy())
    with pytest.raises(RuntimeError, match="Number of elements of source < number of ones"):
        f(x, adjit.ones(2, 3, dtype=adjit.bool), s)


def test_fill_zero_copy_in_place_through_views_as_torch() -> None:
    """Note [direct writes]: unrecorded fill_/zero_/copy_ write their value straight in; views
    see it, the version counter moves, dtypes convert and copy_ broadcasts as PyTorch's do."""
    got, want = [], []
    for T, out in ((adjit, got), (torch, want)):
        x = T.arange(12.0).reshape(3, 4)
        v0 = x._version
        x[1].zero_()
        x[:, 3].fill_(T.tensor(2.5, dtype=T.float64))
        x.t()[0].copy_(T.tensor([7, 8, 9], dtype=T.int32))
        x[2, :2].copy_(T.tensor([-1.25]))
        i = T.zeros(3, dtype=T.int16).fill_(-2.9)
        h = T.zeros(2, dtype=T.half).copy_(T.tensor([1 / 3, 1e-8], dtype=T.float64))
        out.append([x.numpy().copy(), x._version - v0, i.numpy(), h.numpy()])
    for a, b in zip(got[0], want[0], strict=True):
        np.testing.assert_array_equal(a, b)
    for T in (adjit, torch):
        with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match"):
            T.zeros(3).copy_(T.ones(2, 3))
        with pytest.raises(RuntimeError, match="unsupported operation"):
            T.zeros(1).expand(3).copy_(T.ones(3))
