"""adjit.vmap side by side with torch.func.vmap: programs (values), argument handling and errors
(types and texts), randomness, chunking, nesting, in-place writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(17)


def _arr(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _to(T: Any, v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return T.tensor(v)
    if isinstance(v, tuple | list):
        return type(v)(_to(T, x) for x in v)
    if isinstance(v, dict):
        return {k: _to(T, x) for k, x in v.items()}
    return v


def _np(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_np(x) for x in v]
    if isinstance(v, dict):
        return {k: _np(x) for k, x in v.items()}
    if hasattr(v, "detach"):
        return np.asarray(v.detach().numpy())
    return v


def _same(a: Any, b: Any, tol: float) -> None:
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y, tol)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k], tol)
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    else:
        assert a == b


def _outcome(T: Any, vmap: Callable[..., Any], make: Callable[[Any], Any], args: tuple,
             kwargs: dict[str, Any], call_kwargs: dict[str, Any]) -> Any:  # fmt: skip
    try:
        return ("ok", _np(vmap(make(T), **kwargs)(*_to(T, args), **_to(T, call_kwargs))))
    except Exception as e:  # noqa: BLE001 - the type and text are what is compared
        return ("error", type(e).__name__, str(e))


def both(
    make: Callable[[Any], Callable[..., Any]],
    *args: Any,
    tol: float = 1e-5,
    call_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """``make(T)`` vmapped by adjit and by torch.func on the same arrays: same values, or the
    same error type and text."""
    ck = call_kwargs or {}
    mine = _outcome(adjit, adjit.vmap, make, args, kwargs, ck)
    theirs = _outcome(torch, torch.func.vmap, make, args, kwargs, ck)
    assert mine[0] == theirs[0], (mine, theirs)
    if mine[0] == "error":
        assert mine[1:] == theirs[1:]
    else:
        _same(mine[1], theirs[1], tol)
    return mine


# ---- programs -----------------------------------------------------------------------------------
def _mlp(T: Any) -> Callable[..., Any]:
    def f(x: Any, w1: Any, b1: Any, w2: Any) -> Any:
        return (T.tanh(x @ w1 + b1) @ w2).log_softmax(-1)

    return f


def test_mlp_per_example() -> None:
    both(_mlp, _arr(6, 4), _arr(4, 5), _arr(5), _arr(5, 3), in_dims=(0, None, None, None))


def test_ensemble_of_weights() -> None:
    both(_mlp, _arr(6, 4), _arr(2, 4, 5), _arr(2, 5), _arr(2, 5, 3), in_dims=(None, 0, 0, 0))


def test_conv() -> None:
    def make(T: Any) -> Callable[..., Any]:
        F = T.nn.functional

        def f(x: Any, w: Any) -> Any:
            y = F.conv2d(x.unsqueeze(0), w, padding=1, stride=2).relu()
            return F.max_pool2d(y, 2).flatten()

        return f

    both(make, _arr(3, 2, 8, 8), _arr(4, 2, 3, 3), in_dims=(0, None))
    both(make, _arr(3, 2, 8, 8), _arr(4, 4, 2, 3, 3), in_dims=(None, 0))


def test_attention_like_bmm_softmax() -> None:
    def make(T: Any) -> Callable[..., Any]:
        return lambda q, k, v: (q @ k.transpose(-1, -2) / 2.0).softmax(-1) @ v

    both(make, _arr(4, 2, 3, 5), _arr(4, 2, 3, 5), _arr(4, 2, 3, 5))
    both(make, _arr(3, 2, 4, 5), _arr(3, 4, 5), _arr(3, 4, 5), in_dims=(1, None, None))


def test_indexing() -> None:
    idx = RNG.integers(0, 5, (4, 3))

    def make(T: Any) -> Callable[..., Any]:
        return lambda x, i: (
            x[i],
            x[1:, i[:2] % 2],
            x[..., 0],
            x.gather(0, i[:, None].expand(3, 2)),
        )

    both(make, _arr(4, 5, 2), idx)
    both(make, _arr(4, 5, 2), idx[0], in_dims=(0, None))
    both(make, _arr(5, 2), idx, in_dims=(None, 0))


def test_dot_and_matrix_vector() -> None:
    both(lambda T: T.dot, _arr(5, 3), _arr(5, 3))
    both(lambda T: T.mv, _arr(5, 2, 3), _arr(3), in_dims=(0, None))
    both(lambda T: T.mv, _arr(2, 3), _arr(5, 3), in_dims=(None, 0))
    both(lambda T: T.outer, _arr(5, 3), _arr(4, 5), in_dims=(0, 1))


def test_reductions_sort_linalg() -> None:
    def make(T: Any) -> Callable[..., Any]:
        return lambda x: (x.sum(), x.amax(0), x.argmax(), x.sort(1).values, x.cumsum(1))

    both(make, _arr(4, 3, 5))
    a = _arr(3, 4, 4)
    spd = a @ a.transpose(0, 2, 1) + 4 * np.eye(4, dtype=np.float32)
    both(lambda T: lambda m: (T.linalg.cholesky(m), T.linalg.inv(m), T.det(m)), spd, tol=1e-4)
    both(lambda T: T.linalg.solve, spd, _arr(3, 4), tol=1e-4)


def test_pytrees_and_out_dims() -> None:
    x, y = _arr(3, 4), _arr(4, 3)

    def make(T: Any) -> Callable[..., Any]:
        return lambda d, t: {"s": d["a"] * t[0], "l": [d["b"].sum(), t[1]]}

    args = ({"a": x, "b": y}, (x[0], y))
    both(make, *args, in_dims=({"a": 0, "b": 1}, (None, 1)))
    both(make, *args, in_dims=({"a": 0, "b": 1}, (None, 1)), out_dims={"s": 1, "l": [0, -1]})
    both(lambda T: lambda a: (a, a.sum()), x, out_dims=(1, 0))
    both(lambda T: lambda a: (a, a.sum()), x, out_dims=-1)


def test_unbatched_outputs_are_expanded() -> None:
    w = _arr(4)
    both(lambda T: lambda a, b: b * 2, _arr(3, 4), w, in_dims=(0, None))
    both(lambda T: lambda a, b: (a, b), _arr(3, 4), w, in_dims=(0, None), out_dims=(0, None))
    both(lambda T: lambda a, b: (a, b), _arr(3, 1), _arr(1), in_dims=(0, None), out_dims=1)


def test_kwargs_are_not_batched_and_non_tensor_args() -> None:
    def make(T: Any) -> Callable[..., Any]:
        return lambda x, n, scale=1.0: x * n * scale

    both(make, _arr(3, 4), 2, in_dims=(0, None), call_kwargs={"scale": _arr(2, 1, 1)})


def test_nested_vmap() -> None:
    def make(T: Any) -> Callable[..., Any]:
        V = T.vmap if T is adjit else torch.func.vmap
        return V(lambda a, b: (a * b).sum(), in_dims=(None, 0))

    both(make, _arr(3, 4), _arr(5, 4), in_dims=(0, None))
    both(
        lambda T: (T.vmap if T is adjit else torch.func.vmap)(T.outer), _arr(2, 3, 4), _arr(2, 3, 5)
    )


# ---- errors -------------------------------------------------------------------------------------
ERRORS: list[tuple[str, Callable[[Any], Any], tuple, dict[str, Any]]] = [
    ("item", lambda T: lambda x: x.sum().item(), (_arr(3, 4),), {}),
    ("float", lambda T: lambda x: float(x.sum()), (_arr(3, 4),), {}),
    ("if", lambda T: lambda x: x if x.sum() > 0 else -x, (_arr(3, 4),), {}),
    ("random-error", lambda T: lambda x: T.rand(4) + x, (_arr(3, 4),), {}),
    ("randn_like", lambda T: lambda x: T.randn_like(x), (_arr(3, 4),), {}),
    ("dropout", lambda T: lambda x: T.nn.functional.dropout(x, 0.5), (_arr(3, 4),), {}),
    (
        "same-batched",
        lambda T: T.bernoulli,
        (np.full((3, 4), 0.5, np.float32),),
        {"randomness": "same"},
    ),  # fmt: skip
    ("randomness-name", lambda T: lambda x: x, (_arr(3),), {"randomness": "foo"}),
    ("chunk_size", lambda T: lambda x: x, (_arr(3),), {"chunk_size": 0}),
    ("in_dims-range", lambda T: lambda x: x, (_arr(3, 4),), {"in_dims": 2}),
    ("in_dims-neg-range", lambda T: lambda x: x, (_arr(3, 4),), {"in_dims": -3}),
    ("in_dims-float", lambda T: lambda x: x, (_arr(3, 4),), {"in_dims": 1.0}),
    ("in_dims-list", lambda T: lambda x: x, (_arr(3, 4),), {"in_dims": [0]}),
    ("in_dims-None", lambda T: lambda x: x, (_arr(3, 4),), {"in_dims": None}),
    ("in_dims-structure", lambda T: lambda x: x, (_arr(3, 4),), {"in_dims": (0, 0)}),
    ("in_dims-nested", lambda T: lambda x: x, (_arr(3, 4),), {"in_dims": ((0,),)}),
    ("in_dims-leaf-float", lambda T: lambda x: x, (_arr(3, 4),), {"in_dims": (1.5,)}),
    ("in_dims-dict-keys", lambda T: lambda d: d["a"], ({"a": _arr(3)},), {"in_dims": ({"b": 0},)}),
    ("non-tensor", lambda T: lambda x, n: x * n, (_arr(3), 2), {"in_dims": (0, 0)}),
    ("sizes", lambda T: lambda x, y: x + y, (_arr(3, 4), _arr(3, 4)), {"in_dims": (0, 1)}),
    ("nothing-mapped", lambda T: lambda x: x, (_arr(3),), {"in_dims": (None,)}),
    ("no-inputs", lambda T: lambda: 1, (), {}),
    ("out_dims-str", lambda T: lambda x: x, (_arr(3),), {"out_dims": "a"}),
    ("out_dims-leaf-float", lambda T: lambda x: x, (_arr(3),), {"out_dims": (1.5,)}),
    ("out_dims-range", lambda T: lambda x: x, (_arr(3, 4),), {"out_dims": 2}),
    ("out_dims-neg-range", lambda T: lambda x: x, (_arr(3, 4),), {"out_dims": -3}),
    ("out_dims-None-batched", lambda T: lambda x: x, (_arr(3, 4),), {"out_dims": None}),
    ("out_dims-tuple", lambda T: lambda x: x, (_arr(3, 4),), {"out_dims": (0, 0)}),
    ("out_dims-list", lambda T: lambda x: x, (_arr(3, 4),), {"out_dims": [0]}),
    ("out_dims-structure", lambda T: lambda x: (x, x), (_arr(3),), {"out_dims": (0, 0, 0)}),
    ("out_dims-list-output", lambda T: lambda x: [x], (_arr(3),), {"out_dims": (0,)}),
    ("non-tensor-output", lambda T: lambda x: 3, (_arr(3),), {}),
    (
        "unbatched-expand-mismatch",
        lambda T: lambda x, w: w,
        (_arr(3), _arr(4)),
        {"in_dims": (0, None), "out_dims": 1},
    ),  # fmt: skip
    ("nonzero", lambda T: lambda x: x.nonzero(), (_arr(3, 4),), {}),
    (
        "chunks-None-out",
        lambda T: lambda x: (x, x[0].sum() * 0),
        (_arr(5, 2),),
        {"out_dims": (0, None), "chunk_size": 2},
    ),  # fmt: skip
    (
        "chunks-int-out",
        lambda T: lambda x: (x, 3),
        (_arr(5, 2),),
        {"out_dims": (0, None), "chunk_size": 2},
    ),  # fmt: skip
]


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_errors_match_torch(case: Any) -> None:
    _, make, args, kwargs = case
    mine = _outcome(adjit, adjit.vmap, make, args, kwargs, {})
    theirs = _outcome(torch, torch.func.vmap, make, args, kwargs, {})
    assert theirs[0] == "error", theirs
    assert mine[0] == "error", mine
    if case[0] == "nonzero":  # torch names its aten op; adjit names the reason
        assert mine[1] == theirs[1] and mine[2].startswith("vmap: ")
        return
    assert mine[1:] == theirs[1:]


def test_batch_norm_modules() -> None:
    """Training mode: PyTorch's batch norm error (running statistics are not batched); eval
    mode and track_running_stats=False batch."""
    x = _arr(3, 4, 5)
    both(lambda T: T.nn.BatchNorm1d(5), x)
    both(lambda T: T.nn.BatchNorm1d(5).eval(), x)
    both(lambda T: T.nn.BatchNorm1d(5, track_running_stats=False), x)


def test_none_out_dim_for_non_tensor_outputs() -> None:
    both(lambda T: lambda x: (x * 2, 3), _arr(3, 4), out_dims=(0, None))
    both(lambda T: lambda x: None, _arr(3, 4), out_dims=None)


# ---- randomness ---------------------------------------------------------------------------------
def _draws(T: Any, randomness: str, **kw: Any) -> Any:
    T.manual_seed(0)
    V = T.vmap if T is adjit else torch.func.vmap
    x = T.ones(3, 4)
    return V(lambda a: T.rand(4) + a * T.randn(()), randomness=randomness, **kw)(x)


@pytest.mark.parametrize("randomness", ["different", "same"])
def test_randomness_draws_as_torch(randomness: str) -> None:
    """The generator is PyTorch's: the batched draws are PyTorch's numbers, bit for bit."""
    mine, theirs = _draws(adjit, randomness), _draws(torch, randomness)
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    rows = mine.numpy()
    assert (rows[0] == rows[1]).all() == (randomness == "same")


def test_randomness_with_chunks_as_torch() -> None:
    mine = _draws(adjit, "same", chunk_size=2)
    theirs = _draws(torch, "same", chunk_size=2)
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_dropout_different() -> None:
    adjit.manual_seed(3)
    out = adjit.vmap(lambda a: adjit.nn.functional.dropout(a, 0.5), randomness="different")(
        adjit.ones(64, 32)
    )
    zeros = (out.numpy() == 0).mean()
    assert 0.4 < zeros < 0.6
    assert not (out.numpy()[0] == out.numpy()[1]).all()


# ---- chunks, in-place ---------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 10])
def test_chunk_size(chunk_size: int) -> None:
    both(_mlp, _arr(7, 4), _arr(4, 5), _arr(5), _arr(5, 3), in_dims=(0, None, None, None),
         chunk_size=chunk_size)  # fmt: skip
    both(lambda T: lambda a: (a.sum(0), a.t()), _arr(3, 7), in_dims=1, out_dims=(0, 2),
         chunk_size=chunk_size)  # fmt: skip


def test_in_place_write_to_outside_tensor() -> None:
    """An unbatched write lands once; a batched one is PyTorch's error."""
    for T in (adjit, torch):
        V = T.vmap if T is adjit else torch.func.vmap
        y = T.zeros(4)

        def f(x: Any, y: Any = y) -> Any:
            y.add_(1)
            return x * 2

        V(f)(T.ones(3, 4))
        assert y.tolist() == [1.0] * 4
    both(lambda T: _copy_into(T, T.zeros(4)), _arr(3, 4))


def _copy_into(T: Any, y: Any) -> Callable[..., Any]:
    def f(x: Any) -> Any:
        y.copy_(x)
        return x

    return f


def test_in_place_on_batched_argument() -> None:
    """PyTorch's vmap writes into the caller's tensor (the batched argument is a view of it)."""
    for T in (adjit, torch):
        V = T.vmap if T is adjit else torch.func.vmap
        x = T.tensor(np.arange(12.0).reshape(4, 3))
        w = T.ones(4)

        def f(a: Any, b: Any) -> Any:
            a.mul_(2)
            b.add_(1)  # unbatched, by an unbatched value: written once
            return a.sum()

        out = V(f, in_dims=(1, None))(x, w)
        assert x.tolist() == (np.arange(12.0).reshape(4, 3) * 2).tolist(), T
        assert w.tolist() == [2.0] * 4, T
        assert out.tolist() == (np.arange(12.0).reshape(4, 3) * 2).sum(0).tolist()


def test_in_place_on_unbatched_argument_with_batched_value() -> None:
    """PyTorch's error for copy_ (its text for other ops differs per op: adjit gives this one)."""

    def make(T: Any) -> Any:
        def f(a: Any, b: Any) -> Any:
            b.copy_(a)
            return a

        return f

    both(make, _arr(3, 4), _arr(4), in_dims=(0, None))


def test_in_place_on_leaf_argument_that_requires_grad() -> None:
    def make(T: Any) -> Any:
        def f(a: Any) -> Any:
            a.mul_(2)
            return a

        return f

    x = _arr(3, 4)
    mine = _outcome(adjit, adjit.vmap, make, (), {}, {})  # (no arguments: both refuse alike)
    assert mine[0] == "error"
    for T, V in ((adjit, adjit.vmap), (torch, torch.func.vmap)):
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            V(make(T))(T.tensor(x, requires_grad=True))


def test_gradient_through_in_place_write() -> None:
    for T, V in ((adjit, adjit.vmap), (torch, torch.func.vmap)):
        x = T.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)

        def f(a: Any, T: Any = T) -> Any:
            b = a * 1.0
            b.mul_(a)
            return b.sum()

        V(f)(x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 2 * np.arange(6.0).reshape(2, 3))
