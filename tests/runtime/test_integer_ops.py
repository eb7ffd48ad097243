"""Bitwise, shift, remainder and rounding-division ops side by side with PyTorch: every dtype
pair, edge values, Python scalars, errors, in-place forms and gradients; eager and compiled
(LLVM kernels and the interpreter). Note [bitwise ops] in runtime/ops_integer.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

I32, I64 = np.iinfo(np.int32), np.iinfo(np.int64)
# eight values per dtype, edges included (dividends)
VALUES: dict[str, list[Any]] = {
    "bool": [True, False, True, True, False, True, False, False],
    "uint8": [0, 1, 7, 128, 255, 254, 3, 200],
    "int32": [0, 1, -1, 7, -7, I32.min, I32.max, 100],
    "int64": [0, 1, -1, 7, -9, I64.min, I64.max, -100],
    "float32": [0.0, -0.0, 1.5, -2.25, 7.0, -7.5, np.inf, np.nan],
    "float64": [0.0, -0.0, 1.5, -2.25, 1e300, -7.5, -np.inf, np.nan],
}
# divisors: no integer zero (PyTorch raises: tested below), signs and magnitudes mixed
DIVISORS: dict[str, list[Any]] = {
    "bool": [True] * 8,
    "uint8": [1, 2, 3, 255, 7, 128, 5, 9],
    "int32": [1, -1, 2, -2, 3, -7, I32.max, I32.min],
    "int64": [-1, 1, -2, 2, 3, -7, I64.max, I64.min],
    "float32": [0.1, -0.1, 2.0, -2.0, np.inf, 0.0, -0.0, 3.0],
    "float64": [0.1, -0.1, 2.0, -2.0, -np.inf, 0.0, 1e-3, 3.0],
}
# (not 1e-300: PyTorch's vectorized fmod gives NaN for fmod(2147483647.0, 1e-300), its scalar
# loop and C give 3.976e-301, as adjit does)
DTYPES = list(VALUES)

OPS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "and": lambda T, a, b: a & b,
    "or": lambda T, a, b: a | b,
    "xor": lambda T, a, b: a ^ b,
    "lshift": lambda T, a, b: a << b,
    "rshift": lambda T, a, b: a >> b,
    "bitwise_and": lambda T, a, b: T.bitwise_and(a, b),
    "bitwise_left_shift": lambda T, a, b: T.bitwise_left_shift(a, b),
    "logical_xor": lambda T, a, b: T.logical_xor(a, b),
    "logical_and": lambda T, a, b: T.logical_and(a, b),
    "mod": lambda T, a, b: a % b,
    "fmod": lambda T, a, b: T.fmod(a, b),
    "floordiv": lambda T, a, b: a // b,
    "div_trunc": lambda T, a, b: T.div(a, b, rounding_mode="trunc"),
    "truediv": lambda T, a, b: a / b,
}
DIVIDING = {"mod", "fmod", "floordiv", "div_trunc", "truediv"}
# PyTorch's trunc division of INT_MIN by -1 traps (SIGFPE): never ask it
TRAPS = {"div_trunc"}


def _arrays(da: str, db: str, op: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.array(VALUES[da], dtype=np.dtype(da))
    b = np.array((DIVISORS if op in DIVIDING else VALUES)[db], dtype=np.dtype(db))
    if op in TRAPS:  # no INT_MIN / -1 pairs
        a = np.where(a == np.iinfo(a.dtype).min, 5, a) if a.dtype.kind == "i" else a
    return a, b


def _torch(fn: Callable[..., Any], *args: Any) -> tuple[Any, Exception | None]:
    try:
        return fn(torch, *args), None
    except Exception as e:  # noqa: BLE001 - the error is the expected result
        return None, e


def _same(got: Any, want: Any, what: str) -> None:
    assert str(got.dtype) == str(want.dtype), f"{what}: {got.dtype} != {want.dtype}"
    assert tuple(got.shape) == tuple(want.shape), f"{what}: {got.shape} != {want.shape}"
    g, w = got.detach().numpy(), want.detach().numpy()
    if g.dtype.kind == "f":  # bit for bit, signed zeros and NaN included
        assert np.array_equal(g, w, equal_nan=True), f"{what}: {g} != {w}"
        real = ~np.isnan(w)  # a NaN's sign bit means nothing
        assert np.array_equal(np.signbit(g[real]), np.signbit(w[real])), f"{what}: {g} != {w}"
    else:
        assert np.array_equal(g, w), f"{what}: {g} != {w}"


def _same_error(got: BaseException, want: Exception, what: str) -> None:
    if isinstance(got, adjit.TracingError):  # compile names the user's line first
        assert str(got).endswith(": " + str(want)), f"{what}: {got} != {want}"
        return
    assert type(got) is type(want) or isinstance(got, type(want)), f"{what}: {got!r} vs {want!r}"
    assert str(got).split("\n")[0] == str(want), f"{what}: {got} != {want}"


def _pairs(op: str) -> list[tuple[str, str]]:
    return [(da, db) for da in DTYPES for db in DTYPES]


@pytest.mark.parametrize("op", list(OPS))
def test_every_dtype_pair_eager_and_compiled(op: str) -> None:
    fn = OPS[op]
    ok: list[tuple[str, np.ndarray, np.ndarray, Any]] = []
    for da, db in _pairs(op):
        a, b = _arrays(da, db, op)
        what = f"{da} {op} {db}"
        want, err = _torch(fn, torch.from_numpy(a.copy()), torch.from_numpy(b.copy()))
        x, y = adjit.from_numpy(a.copy()), adjit.from_numpy(b.copy())
        if err is not None:
            with pytest.raises(Exception) as eager:  # noqa: PT011 - matched below
                fn(adjit, x, y)
            _same_error(eager.value, err, what)
            with pytest.raises(Exception) as traced:  # noqa: PT011
                adjit.compile(lambda x, y: fn(adjit, x, y))(x, y)  # noqa: B023
            _same_error(traced.value, err, what + " (compiled)")
            continue
        _same(fn(adjit, x, y), want, what)
        ok.append((what, a, b, want))
    # every valid pair in one compiled program (one compile per backend)
    args = [adjit.from_numpy(v.copy()) for _, a, b, _ in ok for v in (a, b)]

    def program(*ts: Any) -> tuple[Any, ...]:
        return tuple(fn(adjit, ts[i], ts[i + 1]) for i in range(0, len(ts), 2))

    for backend in ("llvm", "interpreter"):
        outs = adjit.compile(program, backend=backend)(*args)
        for (what, _, _, want), got in zip(ok, outs, strict=True):
            _same(got, want, f"{what} ({backend})")


SHIFT_COUNTS = [0, 1, 7, 8, 31, 32, 63, 64, 65, 100, -1, -64, 127]


@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64"])
def test_shift_counts_at_and_beyond_the_width(dtype: str) -> None:
    info = np.iinfo(np.dtype(dtype))
    a = np.array([1, 5, -8, 127, -1, info.min, info.max], np.int64).astype(dtype)[:, None]
    counts = np.array(SHIFT_COUNTS, np.int64).astype(dtype)[None, :]
    for op in ("lshift", "rshift"):
        fn = OPS[op]
        want = fn(torch, torch.from_numpy(a.copy()), torch.from_numpy(counts.copy()))
        _same(fn(adjit, adjit.from_numpy(a.copy()), adjit.from_numpy(counts.copy())), want, op)
        for backend in ("llvm", "interpreter"):
            compiled = adjit.compile(lambda x, n, fn=fn: fn(adjit, x, n), backend=backend)
            got = compiled(adjit.from_numpy(a.copy()), adjit.from_numpy(counts.copy()))
            _same(got, want, f"{dtype} {op} ({backend})")
        for n in (0, 1, 7, 8, 31, 32, 63, 64, -1):  # Python counts, folded into the kernel
            want = fn(torch, torch.from_numpy(a.copy()), n)
            _same(fn(adjit, adjit.from_numpy(a.copy()), n), want, f"{op} {n}")
            got = adjit.compile(lambda x, fn=fn, n=n: fn(adjit, x, n))(adjit.from_numpy(a.copy()))
            _same(got, want, f"{dtype} {op} {n} (compiled)")


SCALARS = [0x1337, 5, -1, 0, True, False, 2.5, 300, 2**40, -(2**63), 63, 64]
SCALAR_OPS = ["and", "or", "xor", "lshift", "rshift", "mod", "floordiv", "fmod", "div_trunc"]


@pytest.mark.parametrize("op", SCALAR_OPS)
def test_python_scalars_both_sides(op: str) -> None:
    fn = OPS[op]
    for dtype in DTYPES:
        a = np.array(VALUES[dtype][:4], np.dtype(dtype))
        for s in SCALARS:
            for side, f in (
                ("t op s", lambda T, t, s=s: fn(T, t, s)),
                ("s op t", lambda T, t, s=s: fn(T, s, t)),
            ):
                what = f"{dtype}: {side} with s={s!r}"
                want, err = _torch(f, torch.from_numpy(a.copy()))
                if isinstance(err, TypeError) and "invalid combination" in str(err):
                    continue  # torch.fmod(5, t): adjit takes a number first, PyTorch does not
                if err is not None:
                    with pytest.raises(Exception) as got_err:  # noqa: PT011
                        f(adjit, adjit.from_numpy(a.copy()))
                    _same_error(got_err.value, err, what)
                    continue
                _same(f(adjit, adjit.from_numpy(a.copy())), want, what)


def test_zero_dim_tensor_operands_promote_as_in_pytorch() -> None:
    u8 = np.array([1, 2, 250], np.uint8)
    i32 = np.array([7, -7, 100], np.int32)
    cases = [
        (u8, np.array(3, np.int64), "and"),
        (u8, np.array(True), "or"),
        (i32, np.array(2**40 + 3, np.int64), "and"),  # the 0-dim int64 wraps into int32
        (u8, np.array(-2, np.int64), "mod"),
        (i32, np.array(2**32 - 1, np.int64), "floordiv"),  # -1 as int32
        (np.array(True), u8, "xor"),
        (u8, np.array(3, np.int32), "lshift"),
    ]
    for a, b, op in cases:
        want = OPS[op](torch, torch.from_numpy(a.copy()), torch.from_numpy(b.copy()))
        x, y = adjit.from_numpy(a.copy()), adjit.from_numpy(b.copy())
        _same(OPS[op](adjit, x, y), want, f"{a.dtype} {op} 0-dim {b.dtype}")
        got = adjit.compile(lambda x, y, op=op: OPS[op](adjit, x, y))(x, y)
        _same(got, want, f"{a.dtype} {op} 0-dim {b.dtype} (compiled)")


def test_invert() -> None:
    for dtype in ("bool", "uint8", "int32", "int64"):
        a = np.array(VALUES[dtype], np.dtype(dtype))
        want = ~torch.from_numpy(a.copy())
        _same(~adjit.from_numpy(a.copy()), want, f"~{dtype}")
        _same(adjit.bitwise_not(adjit.from_numpy(a.copy())), want, f"bitwise_not {dtype}")
        _same(adjit.compile(lambda x: ~x)(adjit.from_numpy(a.copy())), want, f"~{dtype} comp")
    assert repr(~adjit.tensor([1, -8, 32])) == repr(~torch.tensor([1, -8, 32]))
    for T in (adjit, torch):
        with pytest.raises(TypeError, match=r"~ \(operator.invert\) is only implemented"):
            ~T.tensor([1.5])
        with pytest.raises(NotImplementedError, match='"bitwise_not_cpu" not implemented for'):
            T.bitwise_not(T.tensor([1.5]))


def test_logical_ops_on_any_dtype() -> None:
    a = np.array([0.0, -0.0, np.nan, 2.5, np.inf, 0.0])
    b = np.array([3, 0, 0, -1, 0, 7], np.int32)
    for name in ("logical_and", "logical_or", "logical_xor"):
        want = getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b))
        got = getattr(adjit, name)(adjit.from_numpy(a), adjit.from_numpy(b))
        _same(got, want, name)
        comp = adjit.compile(lambda x, y, name=name: getattr(x, name)(y))
        _same(comp(adjit.from_numpy(a), adjit.from_numpy(b)), want, f"{name} compiled")
    _same(adjit.logical_not(adjit.from_numpy(a)), torch.logical_not(torch.from_numpy(a)), "not")


def test_printing() -> None:
    t, u = adjit.tensor([1, -8, 32]), torch.tensor([1, -8, 32])
    for f in (lambda t: t & 0x1337, lambda t: t | 5, lambda t: t << 2, lambda t: t % 3):
        assert repr(f(t)) == repr(f(u))
    b, c = adjit.tensor([5, 6], dtype=adjit.uint8), torch.tensor([5, 6], dtype=torch.uint8)
    assert repr(b ^ 3) == repr(c ^ 3)
    assert repr(adjit.tensor([-4.0, 4.0]) % 2) == repr(torch.tensor([-4.0, 4.0]) % 2)


# ---- division and remainder by zero -------------------------------------------------------
ZERO_DIVIDING = {k: OPS[k] for k in ("mod", "fmod", "floordiv", "div_trunc")}


@pytest.mark.parametrize("op", list(ZERO_DIVIDING))
@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64"])
def test_integer_division_by_zero_raises_when_the_program_runs(op: str, dtype: str) -> None:
    fn = ZERO_DIVIDING[op]
    a = np.array([7, 8, 9], np.dtype(dtype))
    zero = np.array([1, 0, 2], np.dtype(dtype))
    good = np.array([1, 3, 2], np.dtype(dtype))
    for T in (torch, adjit):
        with pytest.raises(RuntimeError, match="^ZeroDivisionError"):
            fn(T, T.from_numpy(a.copy()), T.from_numpy(zero.copy()))
        with pytest.raises(RuntimeError, match="^ZeroDivisionError"):
            fn(T, T.from_numpy(a.copy()), 0)
    want = fn(torch, torch.from_numpy(a.copy()), torch.from_numpy(good.copy()))
    for backend in ("llvm", "interpreter"):
        compiled = adjit.compile(lambda x, y: fn(adjit, x, y), backend=backend)
        _same(compiled(adjit.from_numpy(a.copy()), adjit.from_numpy(good.copy())), want, op)
        with pytest.raises(RuntimeError, match="^ZeroDivisionError"):
            compiled(adjit.from_numpy(a.copy()), adjit.from_numpy(zero.copy()))
        # the same program still runs after the failure
        _same(compiled(adjit.from_numpy(a.copy()), adjit.from_numpy(good.copy())), want, op)
        with pytest.raises(RuntimeError, match="^ZeroDivisionError"):
            adjit.compile(lambda x: fn(adjit, x, 0), backend=backend)(adjit.from_numpy(a))


def test_uint8_scalar_divisor_that_wraps_to_zero() -> None:
    for T in (torch, adjit):
        with pytest.raises(RuntimeError, match="^ZeroDivisionError"):
            T.tensor([5], dtype=T.uint8) % 256


def test_int_min_by_minus_one() -> None:
    # PyTorch: floor division wraps to INT_MIN and the remainder is 0 (its trunc division
    # traps with SIGFPE: adjit gives INT_MIN, as the floor division does)
    for dtype, lo in (("int64", I64.min), ("int32", I32.min)):
        a = np.array([lo, lo], np.dtype(dtype))
        m1 = np.array([-1, -1], np.dtype(dtype))
        for op in ("floordiv", "mod", "fmod"):
            want = OPS[op](torch, torch.from_numpy(a.copy()), torch.from_numpy(m1.copy()))
            _same(OPS[op](adjit, adjit.from_numpy(a.copy()), adjit.from_numpy(m1.copy())), want, op)
            got = adjit.compile(lambda x, y, op=op: OPS[op](adjit, x, y))(
                adjit.from_numpy(a.copy()), adjit.from_numpy(m1.copy())
            )
            _same(got, want, f"{dtype} {op} compiled")
        for f in (
            lambda x, y: adjit.div(x, y, rounding_mode="trunc"),
            adjit.compile(lambda x, y: adjit.div(x, y, rounding_mode="trunc")),
        ):
            got = f(adjit.from_numpy(a.copy()), adjit.from_numpy(m1.copy())).numpy()
            np.testing.assert_array_equal(got, a)


def test_large_int64_floor_division_is_exact() -> None:
    # not through float64: 2**62 + 1 has no float64
    a = np.array([2**62 + 1, -(2**62) - 1, I64.max, I64.min + 1], np.int64)
    b = np.array([3, 3, -7, 5], np.int64)
    for op in ("floordiv", "mod", "div_trunc"):
        want = OPS[op](torch, torch.from_numpy(a), torch.from_numpy(b))
        _same(OPS[op](adjit, adjit.from_numpy(a), adjit.from_numpy(b)), want, op)
        comp = adjit.compile(lambda x, y, op=op: OPS[op](adjit, x, y))
        _same(comp(adjit.from_numpy(a), adjit.from_numpy(b)), want, f"{op} compiled")


def test_float_floor_division_follows_pytorch_not_floor_of_quotient() -> None:
    rng = np.random.default_rng(0)
    a = np.concatenate([[1.0, -1.0, 0.3, 7.0, 1e-310], rng.uniform(-1e6, 1e6, 200)])
    b = np.concatenate([[0.1, 0.1, 0.1, -0.7, 3.0], rng.choice([0.1, -0.3, 1e-3, 7.7], 200)])
    for dtype in (np.float32, np.float64):
        x, y = a.astype(dtype), b.astype(dtype)
        for op in ("floordiv", "mod", "fmod", "div_trunc"):
            want = OPS[op](torch, torch.from_numpy(x), torch.from_numpy(y))
            _same(OPS[op](adjit, adjit.from_numpy(x), adjit.from_numpy(y)), want, op)
            for backend in ("llvm", "interpreter"):
                comp = adjit.compile(lambda u, v, op=op: OPS[op](adjit, u, v), backend=backend)
                got = comp(adjit.from_numpy(x), adjit.from_numpy(y))
                _same(got, want, f"{dtype.__name__} {op} {backend}")


# ---- in-place forms -----------------------------------------------------------------------
INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "&=": lambda t, v: t.__iand__(v),
    "|=": lambda t, v: t.__ior__(v),
    "^=": lambda t, v: t.__ixor__(v),
    "<<=": lambda t, v: t.__ilshift__(v),
    ">>=": lambda t, v: t.__irshift__(v),
    "%=": lambda t, v: t.__imod__(v),
    "//=": lambda t, v: t.__ifloordiv__(v),
    "bitwise_and_": lambda t, v: t.bitwise_and_(v),
    "remainder_": lambda t, v: t.remainder_(v),
    "fmod_": lambda t, v: t.fmod_(v),
    "logical_xor_": lambda t, v: t.logical_xor_(v),
    "bitwise_not_": lambda t, v: t.bitwise_not_(),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_forms(name: str) -> None:
    f = INPLACE[name]
    for dtype, other in (("int64", 3), ("uint8", np.array([3, 5, 6], np.uint8)), ("int32", 2)):
        a = np.array(VALUES[dtype][:3], np.dtype(dtype))
        if dtype == "int32":
            a = np.array([7, -7, 100], np.int32)
        results = []
        for T in (torch, adjit):
            t = T.from_numpy(a.copy())
            if name == "logical_xor_" and not isinstance(other, np.ndarray):
                other = np.array(other)  # PyTorch's method takes only a tensor
            v = T.from_numpy(other.copy()) if isinstance(other, np.ndarray) else other
            view = t[1:]
            out = f(t, v)
            assert out is t
            results.append((t, view))
        (want, want_view), (got, got_view) = results
        _same(got, want, f"{name} {dtype}")
        _same(got_view, want_view, f"{name} {dtype} view")
    t = adjit.tensor([1.5, 2.5])
    with pytest.raises((RuntimeError, NotImplementedError)):
        t &= 1


# ---- gradients of remainder and fmod ------------------------------------------------------
def _grad_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.uniform(-5, 5, 12)
    y = rng.uniform(0.3, 2.0, 12) * rng.choice([-1.0, 1.0], 12)
    return x, y


GRAD_OPS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "remainder": lambda T, x, y: T.remainder(x, y),
    "fmod": lambda T, x, y: T.fmod(x, y),
    "mod-op": lambda T, x, y: (x * 1.5) % y,
}


@pytest.mark.parametrize("op", list(GRAD_OPS))
def test_remainder_fmod_gradients_vs_torch_and_finite_differences(op: str) -> None:
    fn = GRAD_OPS[op]
    x, y = _grad_inputs()
    tx, ty = (
        torch.from_numpy(x.copy()).requires_grad_(),
        torch.from_numpy(y.copy()).requires_grad_(),
    )
    out = fn(torch, tx, ty)
    want = torch.autograd.grad(out.sum(), [tx, ty])
    ax, ay = (
        adjit.from_numpy(x.copy()).requires_grad_(),
        adjit.from_numpy(y.copy()).requires_grad_(),
    )
    got_out = fn(adjit, ax, ay)
    assert type(got_out.grad_fn).__name__ == type(out.grad_fn).__name__
    eager = adjit.autograd.grad(got_out.sum(), [ax, ay])
    compiled = adjit.grad(lambda a, b: fn(adjit, a, b).sum(), argnums=(0, 1))(
        adjit.from_numpy(x.copy()), adjit.from_numpy(y.copy())
    )
    # finite differences in float64 (inputs are away from the jumps of x mod y)
    eps = 1e-6
    numeric = []
    for k, base in enumerate((x, y)):
        g = np.zeros_like(base)
        for i in range(base.size):
            hi, lo = [x.copy(), y.copy()], [x.copy(), y.copy()]
            hi[k][i] += eps
            lo[k][i] -= eps
            f_hi = fn(adjit, adjit.from_numpy(hi[0]), adjit.from_numpy(hi[1])).sum().item()
            f_lo = fn(adjit, adjit.from_numpy(lo[0]), adjit.from_numpy(lo[1])).sum().item()
            g[i] = (f_hi - f_lo) / (2 * eps)
        numeric.append(g)
    for k in range(2):
        w = want[k].numpy()
        np.testing.assert_allclose(eager[k].numpy(), w, rtol=1e-12, atol=0)
        np.testing.assert_allclose(compiled[k].numpy(), w, rtol=1e-12, atol=0)
        np.testing.assert_allclose(numeric[k], w, rtol=1e-6, atol=1e-6)


def test_remainder_gradient_compiled_backward_float32() -> None:
    x, y = _grad_inputs()
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    tx, ty = torch.from_numpy(x32).requires_grad_(), torch.from_numpy(y32).requires_grad_()
    (tx % ty).sum().backward()
    ax, ay = adjit.from_numpy(x32).requires_grad_(), adjit.from_numpy(y32).requires_grad_()
    adjit.compile(lambda a, b: (a % b).sum())(ax, ay).backward()
    np.testing.assert_array_equal(ax.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(ay.grad.numpy(), ty.grad.numpy())


def test_rounding_division_gradient_is_zero_as_pytorch() -> None:
    # DivBackward2: zeros, even at a zero divisor (where a / b would make inf)
    x = np.array([1.0, -2.0, 3.0])
    y = np.array([0.0, 0.5, -0.7])
    for mode in ("floor", "trunc"):
        grads = []
        for T in (torch, adjit):
            a, b = T.from_numpy(x.copy()).requires_grad_(), T.from_numpy(y.copy()).requires_grad_()
            out = T.div(a, b, rounding_mode=mode)
            assert type(out.grad_fn).__name__ == "DivBackward2"
            grads.append(T.autograd.grad(out.sum(), [a, b]))
        for g, w in zip(grads[1], grads[0], strict=True):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
        comp = adjit.grad(lambda a, b, m=mode: adjit.div(a, b, rounding_mode=m).sum(), (0, 1))
        for g in comp(adjit.from_numpy(x.copy()), adjit.from_numpy(y.copy())):
            np.testing.assert_array_equal(g.numpy(), np.zeros(3))


def test_and_with_true_is_not_an_identity_on_integers() -> None:
    # the algebra pass folds x & c -> x only when c has every bit set (True, -1, 255 for uint8)
    for dtype, consts in (("int64", (True, 1, -1, 0)), ("uint8", (255, 127, True))):
        a = np.array([2, 3, 255 if dtype == "uint8" else -1], np.dtype(dtype))
        for c in consts:
            want = torch.from_numpy(a.copy()) & c
            got = adjit.compile(lambda x, c=c: x & c)(adjit.from_numpy(a.copy()))
            _same(got, want, f"{dtype} & {c!r}")
            got = adjit.compile(lambda x, c=c: x | (c ^ c))(adjit.from_numpy(a.copy()))
            _same(got, torch.from_numpy(a.copy()) | (c ^ c), f"{dtype} | 0")


def test_where_condition_must_be_bool() -> None:
    # as in PyTorch; it also keeps where(~c, x, y) == where(c, y, x) true (~ of an integer
    # condition is bitwise)
    cond = np.array([1, 0, 2])
    for T in (torch, adjit):
        with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
            T.where(T.from_numpy(cond.copy()), 1.0, 2.0)
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        adjit.compile(lambda c: adjit.where(c, 1.0, 2.0))(adjit.from_numpy(cond.copy()))
    c = np.array([True, False, True])
    x, y = np.array([1.0, 2.0, 3.0]), np.array([-1.0, -2.0, -3.0])
    want = torch.where(~torch.from_numpy(c), torch.from_numpy(x), torch.from_numpy(y))
    args = [adjit.from_numpy(v.copy()) for v in (c, x, y)]
    _same(adjit.compile(lambda c, x, y: adjit.where(~c, x, y))(*args), want, "where(~c)")


@pytest.mark.parametrize("dtype", ["int64", "uint8", "float32"])
def test_masked_fill_mask_must_be_bool(dtype: str) -> None:
    mask = np.array([1, 0], np.dtype(dtype))
    for T in (torch, adjit):
        with pytest.raises(RuntimeError) as err:
            T.tensor([1.0, 2.0]).masked_fill(T.from_numpy(mask.copy()), 0.0)
        assert str(err.value).startswith("masked_fill_ only supports boolean masks, but got mask")
        assert str(err.value).endswith(
            {"int64": "long int", "uint8": "unsigned char", "float32": "float"}[dtype]
        )
