"""Compiled float sums stay within Note [reduction accuracy]'s bound at 1e7 (and 1e8) terms."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from adjit.codegen.accumulate import BLOCK
from adjit.runtime.kernels import THREADS

import adjit
import adjit.nn.functional as F

U = {np.float32: 2.0**-24, np.float64: 2.0**-53}
# (BLOCK + T + 2) u A, plus one rounding for a mean's division (Note [reduction accuracy])
BOUND = BLOCK + THREADS + 3


def data(kind: str, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    """Random values, or the constants naive float summation does worst on."""
    rng = np.random.default_rng(1)
    if kind == "rand":
        return rng.random(shape, dtype=dtype)
    if kind == "randn":
        return rng.standard_normal(shape, dtype=dtype)
    return np.full(shape, {"ones": 1.0, "third": 1 / 3}[kind], dtype)


KINDS = ["rand", "randn", "ones", "third"]

# name -> (shape for n elements, compiled function, float64 reference, sum |terms|)
Case = tuple[
    Callable[[int], tuple[int, ...]],
    Callable[..., adjit.Tensor],
    Callable[[np.ndarray], np.ndarray],
    Callable[[np.ndarray], np.ndarray],
]
CASES: dict[str, Case] = {
    "sum": (lambda n: (n,), lambda t: t.sum(), np.sum, lambda a: np.abs(a).sum()),
    "mean": (lambda n: (n,), lambda t: t.mean(), np.mean, lambda a: np.abs(a).mean()),
    "sum-of-squares": (lambda n: (n,), lambda t: (t * t).sum(), lambda a: (a * a).sum(),
                       lambda a: (a * a).sum()),
    "rows": (lambda n: (4, n // 4), lambda t: t.sum(1), lambda a: a.sum(1),
             lambda a: np.abs(a).sum(1)),
    "columns": (lambda n: (n // 4, 4), lambda t: t.sum(0), lambda a: a.sum(0),
                lambda a: np.abs(a).sum(0)),
    # more columns than STACK_SLOTS: the totals live on the heap
    "wide-columns": (lambda n: (n // 5000, 5000), lambda t: t.sum(0), lambda a: a.sum(0),
                     lambda a: np.abs(a).sum(0)),
    "middle": (lambda n: (4, n // 16, 4), lambda t: t.sum(1), lambda a: a.sum(1),
               lambda a: np.abs(a).sum(1)),
    "outer-and-inner": (lambda n: (n // 16, 4, 4), lambda t: t.sum((0, 2)),
                        lambda a: a.sum((0, 2)), lambda a: np.abs(a).sum((0, 2))),
    "broadcast": (lambda n: (n // 1000, 1000), lambda t: (t * t[0]).sum(),
                  lambda a: (a * a[0]).sum(), lambda a: np.abs(a * a[0]).sum()),
    # row kernels: a loss over all rows, per-column totals, rows longer than a block
    "row-kernel-loss": (lambda n: (n // 10, 10), lambda t: F.log_softmax(t, 1).sum(),
                        lambda a: _log_softmax(a).sum(), lambda a: np.abs(_log_softmax(a)).sum()),
    "row-kernel-columns": (lambda n: (n // 10, 10), lambda t: F.log_softmax(t, 1).sum(0),
                           lambda a: _log_softmax(a).sum(0),
                           lambda a: np.abs(_log_softmax(a)).sum(0)),
    "row-kernel-wide-columns": (lambda n: (n // 5000, 5000), lambda t: F.log_softmax(t, 1).sum(0),
                                lambda a: _log_softmax(a).sum(0),
                                lambda a: np.abs(_log_softmax(a)).sum(0)),
    "row-kernel-long-rows": (lambda n: (n // 5000, 5000), lambda t: F.log_softmax(t, 1).sum(),
                             lambda a: _log_softmax(a).sum(),
                             lambda a: np.abs(_log_softmax(a)).sum()),
}  # fmt: skip


def _log_softmax(a: np.ndarray) -> np.ndarray:
    z = a - a.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def check(name: str, kind: str, n: int, dtype: type = np.float32) -> None:
    shape, fn, ref, mag = CASES[name]
    a = data(kind, shape(n), dtype)
    got = np.asarray(adjit.compile(fn)(adjit.from_numpy(a)).numpy(), np.float64)
    a64 = a.astype(np.float64)
    exact, size = np.asarray(ref(a64)), np.asarray(mag(a64))
    # float64 references err by ~n * 2^-53 relative: far below the float32 bound
    assert np.all(np.abs(got - exact) <= BOUND * U[dtype] * size), (name, kind, got, exact)


LONG = ["sum", "mean", "sum-of-squares", "columns", "wide-columns"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", LONG)
def test_float32_sums_within_the_bound_at_1e7(name: str, kind: str) -> None:
    check(name, kind, 10_000_000)


@pytest.mark.parametrize("kind", ["rand", "third"])
@pytest.mark.parametrize("name", sorted(set(CASES) - set(LONG)))
def test_float32_sums_within_the_bound_at_1e6(name: str, kind: str) -> None:
    """Every other layout (middle axes, broadcasting, row kernels), at 1e6 to stay fast."""
    check(name, kind, 1_000_000)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["sum", "mean", "sum-of-squares", "rows", "columns"])
def test_float32_sums_within_the_bound_at_1e8(name: str, kind: str) -> None:
    check(name, kind, 100_000_000)


EXACT64 = {  # correctly rounded float64 sums (math.fsum) per output element
    "sum": lambda a: [math.fsum(a)],
    "columns": lambda a: [math.fsum(a[:, j]) for j in range(a.shape[1])],
    "outer-and-inner": lambda a: [math.fsum(a[:, j].ravel()) for j in range(a.shape[1])],
}


@pytest.mark.parametrize("kind", ["randn", "third"])
@pytest.mark.parametrize("name", sorted(EXACT64))
def test_float64_sums_within_the_bound(name: str, kind: str) -> None:
    shape, fn, _, mag = CASES[name]
    a = data(kind, shape(1_000_000), np.float64)
    got = adjit.compile(fn)(adjit.from_numpy(a)).numpy().reshape(-1)
    exact = np.asarray(EXACT64[name](a))
    assert np.all(np.abs(got - exact) <= BOUND * U[np.float64] * mag(a)), (got, exact)


def test_gradient_reductions_are_accurate() -> None:
    """The bias-like gradient sums over the batch (d/db of (x * b).sum() is x.sum(0))."""
    x = data("third", (2_500_000, 4))
    b = adjit.ones(4)
    g = adjit.grad(lambda b: (adjit.from_numpy(x) * b).sum())(b).numpy()
    exact = x.astype(np.float64).sum(0)
    assert np.all(np.abs(g - exact) <= BOUND * U[np.float32] * exact)


@pytest.mark.parametrize("shape,dim", [((10_000_000,), None), ((2_500_000, 4), 0)])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_sums_stay_exact(shape: tuple[int, ...], dim: int | None, dtype: type) -> None:
    a = np.random.default_rng(2).integers(-(2**20), 2**20, shape).astype(dtype)
    fn = adjit.compile(lambda t: t.sum() if dim is None else t.sum(dim))
    got = fn(adjit.from_numpy(a)).numpy()
    assert got.dtype == np.int64 and np.array_equal(got, a.sum(dim, dtype=np.int64))


@pytest.mark.parametrize("op", ["amax", "amin", "argmax"])
def test_max_min_argmax_unaffected(op: str) -> None:
    a = data("randn", (2_500_000, 4))
    fns = {
        "amax": (lambda t: t.amax(0), lambda a: a.max(0)),
        "amin": (lambda t: (t * 2).amin(), lambda a: (a * 2).min()),
        "argmax": (lambda t: t.argmax(0), lambda a: a.argmax(0)),
    }
    fn, ref = fns[op]
    assert np.array_equal(adjit.compile(fn)(adjit.from_numpy(a)).numpy(), ref(a))


SPECIALS = {
    "inf": [np.inf],
    "both-infs": [np.inf, -np.inf],
    "nan": [np.nan],
    "overflow": [3e38, 3e38],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("special", sorted(SPECIALS))
@pytest.mark.parametrize("name", ["sum", "columns", "row-kernel-columns"])
def test_non_finite_sums(name: str, special: str, dtype: type) -> None:
    """inf, -inf, NaN and overflow propagate through the careful totals as in NumPy."""
    shape, fn, ref, _ = CASES[name]
    a = data("randn", shape(100_000), dtype)
    with np.errstate(over="ignore"):
        flat = a.reshape(-1)
        flat[7 : 7 + 4 * len(SPECIALS[special]) : 4] = np.asarray(SPECIALS[special], dtype)
    got = adjit.compile(fn)(adjit.from_numpy(a)).numpy()
    with np.errstate(over="ignore", invalid="ignore"):
        exact = np.asarray(ref(a.astype(np.float64))).astype(dtype)
    finite = np.isfinite(exact)
    assert np.array_equal(np.isnan(got), np.isnan(exact)), (got, exact)
    assert np.array_equal(got[~finite & ~np.isnan(exact)], exact[~finite & ~np.isnan(exact)])
