"""dispatch's lean eager path (Note [lean eager path]) gives the general path's results bit for
bit, records the same grad_fn, and leaves everything else to the general path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from adjit.ir.ops import Op
from adjit.runtime import dispatch

import adjit

SPECIAL = np.array([0.0, -0.0, 1.0, -2.5, np.inf, -np.inf, np.nan, 1e-30, 3e38, -1e-45, 88.0, -1.0])


def _pair(dtype: Any, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    n = int(np.prod(shape))
    a = np.concatenate([SPECIAL, rng.standard_normal(max(n - len(SPECIAL), 0))])[:n]
    b = rng.permutation(np.concatenate([SPECIAL, rng.standard_normal(max(n - len(SPECIAL), 0))]))
    return a.reshape(shape).astype(dtype), b[:n].reshape(shape).astype(dtype)


def _run(op: Op, arrays: list[np.ndarray], lean: bool, monkeypatch: Any) -> Any:
    with monkeypatch.context() as m:
        if not lean:
            m.setattr(dispatch, "LEAN_OPS", {})
        ts = [adjit.tensor(a, requires_grad=True) for a in arrays]
        return dispatch.apply(op, *ts)


@pytest.mark.parametrize("shape", [(3, 4), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", list(dispatch.LEAN_OPS), ids=lambda op: op.name)
def test_lean_matches_general(op: Op, dtype: Any, shape: tuple[int, ...], monkeypatch) -> None:
    x, y = _pair(dtype, shape)
    arrays = [x, y][: 2 if op in (Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.MAXIMUM, Op.MINIMUM) else 1]
    called: list[Op] = []
    real = dispatch._lean
    monkeypatch.setattr(dispatch, "_lean", lambda o, a: called.append(o) or real(o, a))
    with np.errstate(all="raise"):  # no NumPy warning leaks from either path
        fast = _run(op, arrays, True, monkeypatch)
        general = _run(op, arrays, False, monkeypatch)
    assert called and called[0] is op
    assert type(fast._data) is np.ndarray and fast._data.dtype == general._data.dtype
    assert fast.shape == general.shape and fast._data.tobytes() == general._data.tobytes()
    assert type(fast.grad_fn).__name__ == type(general.grad_fn).__name__
    assert [e[0] is None for e in fast.grad_fn.next_functions] == [
        e[0] is None for e in general.grad_fn.next_functions
    ]
    # the lean node saves what OpNode.__init__ saves
    a, b = fast.grad_fn, general.grad_fn
    assert a._meta == b._meta and a.attrs == b.attrs and a._shown == a._edges
    assert {k: type(v) for k, v in a._saved.items()} == {k: type(v) for k, v in b._saved.items()}


def test_lean_node_skips_values_only_other_gradients_read() -> None:
    x, y = adjit.ones(3, requires_grad=True), adjit.ones(3)
    z = x * y  # d/dx reads y only: x itself is not saved (PyTorch's mul saves what it needs)
    assert type(z.grad_fn._saved["x"]).__name__ == "_Unread"
    assert type(z.grad_fn._saved["y"]).__name__ == "SavedTensor"


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x + 1.5j,  # a complex number
        lambda x: x + True,  # a bool
        lambda x: x * 2**40,  # an int not exact in float32
        lambda x: x * np.float64(2.0),  # a NumPy number
        lambda x: x.to(adjit.int64) * 2,  # an integer tensor and a number
        lambda x: x**2.0,  # an op with no lean scalar path
        lambda x: x * adjit.ones(3, 4, dtype=adjit.float64),  # promotion
        lambda x: x.half().sin(),  # a reduced float
        lambda x: x.to(adjit.int64).neg(),  # an integer
    ],
)
def test_general_path_for_the_rest(make: Any) -> None:
    x = adjit.ones(3, 4)
    seen: list[Any] = []
    real = dispatch._lean
    try:
        dispatch._lean = lambda o, a: seen.append(real(o, a)) or seen[-1]
        make(x)
    finally:
        dispatch._lean = real
    assert all(r is None for r in seen)  # (never called, or it declined)


def test_grad_fn_records_and_versions() -> None:
    x = adjit.ones(3, requires_grad=True)
    y = x.sin()
    assert type(y.grad_fn).__name__ == "SinBackward0" and y._version == 0
    z = y * y
    assert type(z.grad_fn).__name__ == "MulBackward0"
    with adjit.no_grad():
        assert (x * x).grad_fn is None
    y.mul_(2)  # the saved y changed in place: backward refuses, as in PyTorch
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_tracing_takes_the_traced_path() -> None:
    f = adjit.compile(lambda a, b: (a.sin() * b).tanh())
    a, b = adjit.randn(5), adjit.randn(5)
    np.testing.assert_allclose(f(a, b).numpy(), (a.sin() * b).tanh().numpy(), rtol=1e-6)


def test_forward_ad_tangents_propagate() -> None:
    import adjit.autograd.forward_ad as fwAD

    x, t = adjit.randn(4), adjit.randn(4)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, t)
        out = fwAD.unpack_dual(d.sin() * d)
    expected = (x.cos() * x + x.sin()) * t
    np.testing.assert_allclose(out.tangent.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(3, 4), (), (700,), (300, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lean_full_sum_matches_general(dtype: Any, shape: tuple[int, ...], monkeypatch) -> None:
    x, _ = _pair(dtype, shape)
    taken: list[Any] = []
    real = dispatch._lean_sum
    monkeypatch.setattr(dispatch, "_lean_sum", lambda *a: taken.append(r := real(*a)) or r)
    results = []
    for lean in (True, False):
        with monkeypatch.context() as m:
            if not lean:
                m.setattr(dispatch, "LEAN_REDUCTIONS", {})
            t = adjit.tensor(x, requires_grad=True)
            with np.errstate(all="raise"):  # no NumPy warning leaks from either path
                s = t.sum()
                s.backward()
            results.append((s, t.grad))
    (fast, g_fast), (general, g_general) = results
    assert taken and taken[0] is not None
    assert type(fast._data) is np.ndarray and fast._data.dtype == general._data.dtype
    assert fast.shape == general.shape and fast._data.tobytes() == general._data.tobytes()
    assert g_fast._data.tobytes() == g_general._data.tobytes()
    a, b = fast.grad_fn, general.grad_fn
    assert type(a).__name__ == type(b).__name__ == "SumBackward0"
    assert a._meta == b._meta and a.attrs == b.attrs


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x.sum(0),  # a dim
        lambda x: x.sum(keepdim=True),
        lambda x: x.half().sum(),
        lambda x: x.to(adjit.int64).sum(),
    ],
)
def test_general_path_for_other_sums(make: Any, monkeypatch) -> None:
    x = adjit.ones(3, 4)
    seen: list[Any] = []
    real = dispatch._lean_sum
    monkeypatch.setattr(dispatch, "_lean_sum", lambda *a: seen.append(r := real(*a)) or r)
    make(x)
    assert all(r is None for r in seen)  # (never called, or it declined)


SCALARS = [2.5, -0.0, 3, -7, float("nan"), float("inf"), 1e-40, 1e300, 0.1]


@pytest.mark.parametrize("first", [False, True], ids=["tensor_first", "number_first"])
@pytest.mark.parametrize("shape", [(3, 4), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(dispatch._SCALAR_OPS, key=str), ids=lambda op: op.name)
def test_lean_scalar_matches_general(
    op: Op, dtype: Any, shape: tuple[int, ...], first: bool, monkeypatch
) -> None:
    """Note [lean scalar operands]: the same values, node and gradients as the general path."""
    x, _ = _pair(dtype, shape)
    taken: list[Any] = []
    real = dispatch._lean_scalar
    for v in SCALARS:
        results = []
        for lean in (True, False):
            with monkeypatch.context() as m:
                m.setattr(
                    dispatch,
                    "_lean_scalar",
                    (lambda *a: taken.append(r := real(*a)) or r) if lean else lambda *a: None,
                )
                t = adjit.tensor(x, requires_grad=True)
                # no NumPy warning leaks from the lean path (the general one's cast of the
                # number to float32 may warn of underflow or overflow, as may the general
                # rules of maximum and minimum)
                with np.errstate(all="raise" if lean else "ignore"):
                    out = dispatch.apply(op, v, t) if first else dispatch.apply(op, t, v)
                with np.errstate(all="ignore"):
                    out.backward(adjit.ones_like(out), retain_graph=True)
            results.append((out, t.grad))
        (fast, g_fast), (general, g_general) = results
        assert any(r is fast for r in taken)  # (backward may take it too)
        assert type(fast._data) is np.ndarray and fast._data.dtype == general._data.dtype
        assert fast.shape == general.shape and fast._data.tobytes() == general._data.tobytes()
        assert g_fast._data.tobytes() == g_general._data.tobytes(), (op, v)
        a, b = fast.grad_fn, general.grad_fn
        assert type(a).__name__ == type(b).__name__
        assert a._meta == b._meta and a.attrs == b.attrs and a._shown == a._edges
        assert [e[0] is None for e in a.next_functions] == [e[0] is None for e in b.next_functions]
        assert {k: type(s) for k, s in a._saved.items()} == {
            k: type(s) for k, s in b._saved.items()
        }
        for k, s in a._saved.items():  # a saved number is the Python number itself
            if type(s).__name__ == "_Number":
                other = b._saved[k].value
                assert type(s.value) is type(other) and repr(s.value) == repr(other)


def test_lean_scalar_without_grad_and_under_hooks() -> None:
    x = adjit.tensor([1.0, -2.0], requires_grad=True)
    with adjit.no_grad():
        assert (x * 0.5).grad_fn is None
    y = adjit.tensor([1.0, 2.0])
    assert (y * 0.5).grad_fn is None and (y * 0.5).dtype == adjit.float32
    packed: list[Any] = []
    with adjit.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or t, lambda t: t):
        z = (x * 3).sum()  # mul by a number saves the number, not a tensor: no hook runs
        w = (x / 2.0).sum()
    z.backward()
    w.backward()
    assert packed == [] and x.grad.tolist() == [3.5, 3.5]


BINARY = [op for op in dispatch.LEAN_OPS if op in dispatch._SCALAR_OPS]


def _spy(real: Any, taken: list[Any]) -> Any:
    return lambda *a: taken.append(r := real(*a)) or r


@pytest.mark.parametrize(
    "shapes", [((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3, 4)), ((2, 3, 4), (3, 1)), ((4,), ())]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.name)
def test_lean_broadcasting_matches_general(op: Op, dtype: Any, shapes: Any, monkeypatch) -> None:
    """Note [lean broadcasting]: the same values, node and gradients as the general path."""
    x, y = _pair(dtype, (24,))
    arrays = [x[: int(np.prod(shapes[0]))].reshape(shapes[0]), y[: int(np.prod(shapes[1]))]]
    arrays[1] = arrays[1].reshape(shapes[1])
    results = []
    for lean in (True, False):
        ts = [adjit.tensor(a, requires_grad=True) for a in arrays]
        with monkeypatch.context() as m:
            taken: list[Any] = []
            spy = _spy(dispatch._lean, taken)
            m.setattr(dispatch, "_lean", spy)
            if not lean:
                m.setattr(dispatch, "LEAN_OPS", {})
            with np.errstate(all="raise" if lean else "ignore"):
                out = dispatch.apply(op, *ts)
            assert (taken[0] is out) if lean else not taken
        with np.errstate(all="ignore"):  # (the general rules of maximum and minimum may warn)
            out.backward(adjit.ones_like(out), retain_graph=True)
        results.append((out, [t.grad for t in ts]))
    (fast, g_fast), (general, g_general) = results
    assert type(fast._data) is np.ndarray and fast._data.dtype == general._data.dtype
    assert fast.shape == general.shape and fast._data.tobytes() == general._data.tobytes()
    for a, b in zip(g_fast, g_general, strict=True):
        assert a.shape == b.shape and a._data.tobytes() == b._data.tobytes()
    a, b = fast.grad_fn, general.grad_fn
    assert type(a).__name__ == type(b).__name__ and a._meta == b._meta
    assert {k: type(v) for k, v in a._saved.items()} == {k: type(v) for k, v in b._saved.items()}


def test_lean_shapes_that_do_not_broadcast_raise_as_before() -> None:
    x, y = adjit.ones(3, 4), adjit.ones(3)
    with pytest.raises(RuntimeError, match=r"size of tensor a \(4\) must match"):
        x + y


def test_lean_methods_are_installed_and_fall_back() -> None:
    """Note [lean methods]: the operators and methods try the lean path, else the function's."""
    from adjit.runtime import methods

    for name, (_, fn) in methods.LEAN_FIRST.items():
        method = getattr(adjit.Tensor, name)
        assert method is not fn and method.__wrapped__ is fn, name
    seen: list[Any] = []
    real = dispatch._lean
    try:
        dispatch._lean = lambda o, a: seen.append(real(o, a)) or seen[-1]
        x = adjit.tensor([1.0, -2.0], requires_grad=True)
        assert (x * x).grad_fn.name() == "MulBackward0" and seen[-1] is not None
        i = adjit.tensor([1, -2])
        assert (-i).tolist() == [-1, 2] and abs(i).tolist() == [1, 2]  # (the general path)
        assert (i * i).dtype == adjit.int64 and (i / i).dtype == adjit.float32
        z = adjit.tensor([3 + 4j])
        assert abs(z).tolist() == [5.0] and (z * z).tolist() == [-7 + 24j]
    finally:
        dispatch._lean = real
