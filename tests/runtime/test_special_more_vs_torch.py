"""torch.special's Bessel, Airy, polynomial, incomplete gamma, zeta and erfcx functions and
torch.igamma/igammac against PyTorch: values over wide grids with their special points, in
float32 and float64, dtypes, errors, gradients, and compiled (SPECIAL runs as an extern)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

INF, NAN = float("inf"), float("nan")
DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}


def _local_ulps(got: np.ndarray, want: np.ndarray, axis: int = -1, width: int = 3) -> np.ndarray:
    """|got - want| in ulps of the function's local magnitude: the largest |want| within
    ``width`` grid points along ``axis``. Near a zero the relative error of any floating-point
    algorithm is unbounded (a rounding of the argument, a libm last bit or a fused multiply-add
    moves the zero), so errors are measured against the size of the nearby values; NaN, inf and
    exact agreement count 0 only when both agree."""
    got, want = np.asarray(got), np.asarray(want)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    big = np.where(np.isfinite(want), np.abs(want), 0.0)
    local = big.copy()
    for s in range(1, width + 1):
        for shifted in (np.roll(big, s, axis), np.roll(big, -s, axis)):
            local = np.maximum(local, shifted)
    fin = np.finfo(got.dtype)
    with np.errstate(all="ignore"):
        size = np.maximum(local, fin.smallest_normal).astype(got.dtype)
        d = np.abs(got.astype(np.float64) - want.astype(np.float64)) / np.spacing(size)
    return np.where(same, 0.0, np.where(np.isfinite(d), d, 1e30))


def _grid(lo: float, hi: float, n: int) -> np.ndarray:
    return np.linspace(lo, hi, n)


EDGES = np.array([0.0, -0.0, INF, -INF, NAN, 1e-30, -1e-30, 1e-6, 1.0, -1.0, 2.0, 5.0, 8.0,
                  2.09, -2.09, 103.9, 700.0, 1e10, -1e10, 88.5, 89.0])  # fmt: skip
X_WIDE = np.concatenate([_grid(-30, 30, 6001), EDGES])

# name -> (float64, float32) bound in local ulps, measured against PyTorch (the largest seen,
# rounded up): PyTorch's kernels are these algorithms compiled with fused multiply-adds and
# calling glibc's exp/sin/log where these call NumPy's, a few ulps apart, more where the
# algorithm cancels: y0 below 5 is a rational function plus (2/pi) log(x) J0(x), terms 10 times
# its size beside its zero at 3.96; PyTorch's float32 erfcx below -6 is 2 exp(x*x) with x*x
# rounded in float32 (an error of x^2 ulps)
UNARY: dict[str, tuple[float, float]] = {
    "airy_ai": (8, 16),
    "bessel_j0": (8, 8),
    "bessel_j1": (8, 8),
    "bessel_y0": (160, 160),
    "bessel_y1": (32, 32),
    "spherical_bessel_j0": (2, 2),
    "modified_bessel_i0": (4, 4),
    "modified_bessel_i1": (16, 16),
    "modified_bessel_k0": (8, 12),
    "modified_bessel_k1": (6, 6),
    "scaled_modified_bessel_k0": (8, 14),
    "scaled_modified_bessel_k1": (6, 6),
    "erfcx": (4, 100),
}
# name -> bound in local ulps per recurrence step (|n|, at least 1): a fused multiply-add in
# PyTorch's step against the two roundings here, carried through every later step
POLYNOMIALS: dict[str, float] = {
    "chebyshev_polynomial_t": 4,
    "chebyshev_polynomial_u": 5,
    "chebyshev_polynomial_v": 4,
    "chebyshev_polynomial_w": 4,
    "shifted_chebyshev_polynomial_t": 2,
    "shifted_chebyshev_polynomial_u": 2,
    "shifted_chebyshev_polynomial_v": 2,
    "shifted_chebyshev_polynomial_w": 2,
    "hermite_polynomial_h": 4,
    "hermite_polynomial_he": 4,
    "laguerre_polynomial_l": 8,
    "legendre_polynomial_p": 3,
}
PX = np.concatenate([_grid(-1.6, 1.6, 321), [0.0, -0.0, 0.5, 1.0, -1.0, INF, -INF, 3.0, -3.0]])
PN = np.array([-3, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50, 127, 129, 130, 600, 2.7, -0.5,
               NAN, INF, -INF, 1e30])  # fmt: skip


def _measure(name: str, dtype: str, *args: np.ndarray, axis: int = -1) -> np.ndarray:
    np_dt, t_dt = DTYPES[dtype]
    ours = getattr(adjit.special, name)(*(adjit.tensor(a.astype(np_dt)) for a in args)).numpy()
    want = getattr(torch.special, name)(*(torch.tensor(a.astype(np_dt)) for a in args)).numpy()
    assert ours.dtype == want.dtype
    return _local_ulps(ours, want, axis)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_values(name: str, dtype: str) -> None:
    d = _measure(name, dtype, X_WIDE)
    worst = int(np.argmax(d))
    assert d.max() <= UNARY[name][dtype == "float32"], (X_WIDE[worst], d.max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_values(name: str, dtype: str) -> None:
    x, n = np.meshgrid(PX, PN)
    d = _measure(name, dtype, x, n)
    if dtype == "float32":
        # PyTorch's float32 recurrence at the edge of float32's range: where its fused
        # multiply-add keeps a value finite, ours overflows (then NaN, inf - inf): no bound there
        wide = [torch.tensor(a, dtype=torch.float64) for a in (x, n)]
        want = getattr(torch.special, name)(*wide).numpy()
        d = np.where(np.abs(want) > 1e36, 0.0, d)
    steps = np.clip(np.where(np.isfinite(n), np.abs(n), 1.0), 1.0, 1000.0)
    ratio = d / steps
    worst = np.unravel_index(int(np.argmax(ratio)), d.shape)
    assert ratio.max() <= POLYNOMIALS[name], (x[worst], n[worst], d[worst])


# ---- incomplete gamma and zeta ---------------------------------------------------------------
_RNG = np.random.default_rng(0)
GAMMA_VALUES = np.concatenate(
    [
        [0.0, -0.0, -1.0, INF, -INF, NAN, 1e-30, 1e-10, 0.5, 1.0, 1.1, 2.0, 20.0, 25.0, 100.0],
        [150.0, 200.0, 250.0, 1e4, 1e6, 1e10],
        np.exp(_RNG.uniform(-10, 8, 60)),
        _RNG.uniform(0, 300, 40),
    ]
)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
def test_incomplete_gamma_values(name: str, dtype: str) -> None:
    """Against PyTorch in ulps of the value. float64: bit for bit where PyTorch's exp/log agree
    with NumPy's, else ulps of an exponent near -700 (exp amplifies the argument's last bit);
    float32: no more than twice PyTorch's own error (against its float64) plus 8 ulps: where
    x^a e^-x / Gamma(a) is tiny, a float32 exponent of hundreds carries its rounding into the
    result, in PyTorch's evaluation as in this one (both are the same float32 algorithm)."""
    a, x = (v.ravel() for v in np.meshgrid(GAMMA_VALUES, GAMMA_VALUES))
    np_dt, t_dt = DTYPES[dtype]
    ours = getattr(adjit.special, name)(
        adjit.tensor(a.astype(np_dt)), adjit.tensor(x.astype(np_dt))
    )
    want = getattr(torch.special, name)(torch.tensor(a, dtype=t_dt), torch.tensor(x, dtype=t_dt))
    got, ref = ours.numpy(), want.numpy()
    assert got.dtype == ref.dtype
    d = _local_ulps(got, ref, width=0)
    tiny = np.abs(ref) < np.finfo(np_dt).tiny * 2**20  # (subnormal range: no ulp bound)
    if dtype == "float64":
        assert d[~tiny].max() <= 2e4  # 2e-12 relative at values ~1e-65 (exponents ~ -150)
        assert np.mean(d == 0) > 0.6
    else:
        wide = [torch.tensor(v.astype(np_dt), dtype=torch.float64) for v in (a, x)]
        truth = getattr(torch.special, name)(*wide).numpy().astype(np.float32)
        theirs = _local_ulps(ref, truth, width=0)
        # the prefactor's exponent a log x - x - lgamma(a), rounded in float32, moves the result
        # by up to its size in ulps (a last-bit difference of log between libms does too)
        with np.errstate(all="ignore"):
            lg = np.array([math.lgamma(v) if 0 < v < INF else 0.0 for v in a])
            exponent = np.nan_to_num(np.abs(a * np.log(x)) + np.abs(x) + np.abs(lg), posinf=0.0)
        ok = d <= 2 * theirs + 8 + 2 * exponent
        bad = np.flatnonzero(~ok & ~tiny)
        assert not bad.size, [(a[i], x[i], got[i], ref[i]) for i in bad[:5]]


ZETA_Q = np.concatenate([GAMMA_VALUES, -GAMMA_VALUES[:40], [-2.5, -0.5, -3.0, -10.5, -100.25]])
ZETA_X = np.concatenate([[1.0, 0.5, 1.5, 2.0, 3.0, 4.5, 10.0, 50.0, 100.0, NAN, INF, 1.0000001],
                         _RNG.uniform(1, 20, 12)])  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
def test_zeta_values(dtype: str) -> None:
    """zeta runs in float64 (PyTorch's accumulate type) and rounds once: bit for bit."""
    x, q = (v.ravel() for v in np.meshgrid(ZETA_X, ZETA_Q))
    np_dt, t_dt = DTYPES[dtype]
    got = adjit.special.zeta(adjit.tensor(x.astype(np_dt)), adjit.tensor(q.astype(np_dt))).numpy()
    ref = torch.special.zeta(torch.tensor(x, dtype=t_dt), torch.tensor(q, dtype=t_dt)).numpy()
    d = _local_ulps(got, ref, width=0)
    assert d.max() <= 1, [(x[i], q[i], got[i], ref[i]) for i in np.flatnonzero(d > 1)[:5]]


# ---- special points, dtypes, errors ----------------------------------------------------------
def test_special_points_exactly() -> None:
    """NaN, infinities and zeros agree exactly, the polynomials' closed-form points to rounding."""
    xs = np.array([0.0, -0.0, INF, -INF, NAN])
    for dtype, (np_dt, t_dt) in DTYPES.items():
        for name in UNARY:
            got = getattr(adjit.special, name)(adjit.tensor(xs.astype(np_dt))).numpy()
            ref = getattr(torch.special, name)(torch.tensor(xs, dtype=t_dt)).numpy()
            np.testing.assert_array_equal(got, ref, err_msg=f"{name} {dtype}")
        x, n = (v.ravel() for v in np.meshgrid([1.0, -1.0, 0.0, INF], [-2, 0, 1, 5, 9, 12]))
        for name in POLYNOMIALS:
            got = getattr(adjit.special, name)(adjit.tensor(x.astype(np_dt)),
                                               adjit.tensor(n.astype(np_dt))).numpy()  # fmt: skip
            ref = getattr(torch.special, name)(torch.tensor(x, dtype=t_dt),
                                               torch.tensor(n, dtype=t_dt)).numpy()  # fmt: skip
            tol = 8 * 12 * np.finfo(np_dt).eps  # (x = -1 is no special point of laguerre)
            close = np.isclose(got, ref, rtol=tol, atol=0, equal_nan=True)
            assert close.all(), (name, dtype, x[~close], n[~close], got[~close], ref[~close])


def test_hermite_degree_limits() -> None:
    """PyTorch's Hermite polynomials are NaN above degree 128 in float32, 512 in float64."""
    for t_dt, np_dt in ((torch.float32, np.float32), (torch.float64, np.float64)):
        n = np.array([127, 128, 129, 512, 513])
        for name in ("hermite_polynomial_h", "hermite_polynomial_he"):
            got = getattr(adjit.special, name)(
                adjit.tensor(np.full(5, 0.1, np_dt)), adjit.tensor(n)
            )
            ref = getattr(torch.special, name)(torch.full((5,), 0.1, dtype=t_dt), torch.tensor(n))
            np.testing.assert_array_equal(np.isnan(got.numpy()), np.isnan(ref.numpy()))


def _both(fn: Any) -> tuple[Any, Any]:
    """fn(lib) on adjit and on torch: (dtype or exception type and text) of each."""
    out = []
    for lib in (adjit, torch):
        try:
            r = fn(lib)
            out.append((str(r.dtype).replace("adjit.", "torch."), tuple(r.shape), r.requires_grad))
        except Exception as e:  # noqa: BLE001 - comparing PyTorch's errors
            out.append((type(e).__name__, str(e)))
    return out[0], out[1]


PROMOTIONS = [
    lambda L: L.special.bessel_j0(L.tensor([1, 2])),
    lambda L: L.special.bessel_j0(L.tensor([True, False])),
    lambda L: L.special.bessel_j0(L.tensor([1.0], dtype=L.float64)),
    lambda L: L.special.bessel_j0(1.0),
    lambda L: L.special.bessel_j0(L.tensor([1.0], dtype=L.float16)),
    lambda L: L.special.modified_bessel_k1(L.tensor([1.0], dtype=L.bfloat16)),
    lambda L: L.special.airy_ai(L.tensor([1.0 + 1j])),
    lambda L: L.special.bessel_y1(L.tensor([1.0], requires_grad=True)),
    lambda L: L.special.erfcx(L.tensor([1, 2])),
    lambda L: L.special.erfcx(L.tensor([1.0], dtype=L.float16)),
    lambda L: L.special.chebyshev_polynomial_t(L.tensor([0.5]), 3),
    lambda L: L.special.chebyshev_polynomial_t(L.tensor([0.5]), 3.7),
    lambda L: L.special.chebyshev_polynomial_u(L.tensor([1, 2]), 3),
    lambda L: L.special.chebyshev_polynomial_v(L.tensor([1, 2]), L.tensor([1, 2])),
    lambda L: L.special.chebyshev_polynomial_w(L.tensor([0.5]), L.tensor([2.0], dtype=L.float64)),
    lambda L: L.special.legendre_polynomial_p(0.5, L.tensor([1, 2, 3])),
    lambda L: L.special.laguerre_polynomial_l(0.5, L.tensor([1.0, 2.0], dtype=L.float64)),
    lambda L: L.special.hermite_polynomial_h(3, L.tensor([0.5, 1.5])),
    lambda L: L.special.hermite_polynomial_he(0.5, 3),
    lambda L: L.special.shifted_chebyshev_polynomial_t(L.tensor([0.5], dtype=L.float16), 2),
    lambda L: L.special.chebyshev_polynomial_t(L.tensor([0.5]), 2 + 1j),
    lambda L: L.special.legendre_polynomial_p(L.tensor([0.5], requires_grad=True), 2),
    lambda L: L.special.chebyshev_polynomial_t(L.ones(2, 1), L.tensor([1.0, 2.0, 3.0])),
    lambda L: L.special.zeta(L.tensor([2.0]), 1.0),
    lambda L: L.special.zeta(2.0, L.tensor([1.0])),
    lambda L: L.special.zeta(L.tensor([2, 3]), L.tensor([1, 2])),
    lambda L: L.special.zeta(2, 1.0),
    lambda L: L.special.zeta(L.tensor([2.0], dtype=L.float16), 1.0),
    lambda L: L.special.gammainc(L.tensor([2.0]), 1.0),
    lambda L: L.special.gammaincc(2.0, L.tensor([1.0])),
    lambda L: L.special.gammainc(L.tensor([2.0]), L.tensor([1.0], dtype=L.float64)),
    lambda L: L.igamma(L.tensor([1, 2]), L.tensor([1, 2])),
    lambda L: L.igamma(L.tensor([True]), L.tensor([True])),
    lambda L: L.igammac(L.tensor([1]), L.tensor([2.0])),
    lambda L: L.igamma(L.tensor([1.0], dtype=L.float16), L.tensor([2.0], dtype=L.float16)),
    lambda L: L.igamma(L.tensor([1.0 + 0j]), L.tensor([2.0])),
    lambda L: L.igammac(L.tensor([1.0]), 2.0),
    lambda L: L.tensor([1.0]).igamma(2.0),
    lambda L: L.tensor([1.0]).igammac(L.tensor([2.0])),
    lambda L: L.tensor([1.0]).igamma_(L.tensor([2.0], dtype=L.float64)),
    lambda L: L.tensor([1, 2]).igammac_(L.tensor([1, 2])),
    lambda L: L.igamma(L.tensor([1.0], requires_grad=True), L.tensor([2.0])),
]


@pytest.mark.parametrize("case", range(len(PROMOTIONS)))
def test_dtypes_and_errors(case: int) -> None:
    ours, theirs = _both(PROMOTIONS[case])
    assert ours == theirs


def test_values_of_mixed_operands() -> None:
    """Scalar operands, broadcasting and degrees cast to the result dtype before truncation."""
    x = np.linspace(-1.2, 1.2, 7).astype(np.float32)
    n = np.array([[0.0], [2.9], [7.0], [40.0]])
    for name in POLYNOMIALS:
        got = getattr(adjit.special, name)(adjit.tensor(x), adjit.tensor(n, dtype=adjit.float64))
        ref = getattr(torch.special, name)(torch.tensor(x), torch.tensor(n, dtype=torch.float64))
        assert got.dtype == adjit.float64
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-10, atol=1e-13)
        got = getattr(adjit.special, name)(0.25, adjit.tensor([1, 2, 5]))
        ref = getattr(torch.special, name)(0.25, torch.tensor([1, 2, 5]))
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=5 * 8 * 2**-23)  # 8 ulp/step


# ---- gradients -------------------------------------------------------------------------------
def _fd(fn: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return (fn(x + h) - fn(x - h)) / (2 * h)


def test_erfcx_gradient() -> None:
    xs = np.array([-3.0, -0.7, 0.0, 0.4, 1.0, 2.5, 30.0])
    x = adjit.tensor(xs, requires_grad=True)
    y = adjit.special.erfcx(x)
    y.sum().backward()
    tx = torch.tensor(xs, requires_grad=True)
    torch.special.erfcx(tx).sum().backward()
    assert type(y.grad_fn).__name__ == tx.grad_fn.name() if tx.grad_fn else True
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-13, atol=1e-15)
    fd = _fd(lambda v: adjit.special.erfcx(adjit.tensor(v)).numpy(), xs)
    np.testing.assert_allclose(x.grad.numpy(), fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ["gammainc", "gammaincc", "zeta"])
def test_second_argument_gradient(name: str) -> None:
    first = np.array([2.5, 3.0, 1.7, 5.0])
    second = np.array([1.5, 0.5, 2.0, 4.0])
    b = adjit.tensor(second, requires_grad=True)
    y = getattr(adjit.special, name)(adjit.tensor(first), b)
    y.sum().backward()
    tb = torch.tensor(second, requires_grad=True)
    ty = getattr(torch.special, name)(torch.tensor(first), tb)
    ty.sum().backward()
    assert type(y.grad_fn).__name__ == ty.grad_fn.name()
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-13)
    fd = _fd(lambda v: getattr(adjit.special, name)(adjit.tensor(first), adjit.tensor(v)).numpy(),
             second)  # fmt: skip
    np.testing.assert_allclose(b.grad.numpy(), fd, rtol=1e-7)


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda L, a, x: L.igamma(a, x), "the derivative for 'igamma: input' is not implemented."),
        (
            lambda L, a, x: L.igammac(a, x),
            "the derivative for 'igammac: input' is not implemented.",
        ),
        (lambda L, a, x: L.special.zeta(a, x), "the derivative for 'zeta' is not implemented."),
    ],
)
def test_first_argument_has_no_derivative(fn: Any, message: str) -> None:
    for lib in (adjit, torch):
        a = lib.tensor([2.5, 3.0], requires_grad=True)
        y = fn(lib, a, lib.tensor([1.5, 0.5]))
        with pytest.raises(NotImplementedError, match=message):
            y.sum().backward()


def test_zeta_grad_fn_names() -> None:
    q = adjit.tensor([1.5], requires_grad=True)
    assert type(adjit.special.zeta(2.0, q).grad_fn).__name__ == "SpecialZetaBackward1"
    x = adjit.tensor([2.5], requires_grad=True)
    assert type(adjit.special.zeta(x, 1.5).grad_fn).__name__ == "SpecialZetaBackward2"


# ---- compiled --------------------------------------------------------------------------------
def test_compiled_matches_eager() -> None:
    """SPECIAL runs as an extern on its reference (the same bits); erfcx's decomposition fuses."""

    def f(x: Any, n: Any, a: Any) -> Any:
        out = adjit.special.bessel_y1(x.abs() + 0.1) + adjit.special.chebyshev_polynomial_u(x, n)
        out = out + adjit.special.gammaincc(a, x.abs()) + adjit.special.zeta(a + 1.0, x.abs())
        return out * adjit.special.airy_ai(x)

    rng = np.random.default_rng(3)
    for np_dt in (np.float32, np.float64):
        x = adjit.tensor(rng.uniform(-3, 3, (4, 5)).astype(np_dt))
        n = adjit.tensor(rng.integers(0, 12, (5,)))
        a = adjit.tensor(rng.uniform(0.1, 30, (4, 5)).astype(np_dt))
        np.testing.assert_array_equal(adjit.compile(f)(x, n, a).numpy(), f(x, n, a).numpy())
        ex = adjit.special.erfcx(x * 4)
        cx = adjit.compile(lambda v: adjit.special.erfcx(v * 4))(x)
        np.testing.assert_allclose(cx.numpy(), ex.numpy(), rtol=4 * np.finfo(np_dt).eps)


def test_compiled_gradient() -> None:
    first = adjit.tensor([2.5, 3.0, 0.7])

    def loss(q: Any) -> Any:
        return (adjit.special.gammainc(first, q) + adjit.special.erfcx(q)).sum()

    q = adjit.tensor([1.5, 0.5, 2.0], dtype=adjit.float64, requires_grad=True)
    loss(q).backward()
    eager = q.grad.numpy().copy()
    q.grad = None
    adjit.compile(loss)(q).backward()
    np.testing.assert_allclose(q.grad.numpy(), eager, rtol=1e-14)


def test_long_loops() -> None:
    """A recurrence that overflows stops at NaN as PyTorch's (any degree); one still going after
    10^5 steps towards a degree above 10^6 is refused by name, not a minutes-long loop."""
    x = np.array([1.5, -1.5, 0.3])
    got = adjit.special.chebyshev_polynomial_t(adjit.tensor(x), 1e9).numpy()
    np.testing.assert_array_equal(got, torch.special.chebyshev_polynomial_t(torch.tensor(x), 1e9))
    with pytest.raises(NotImplementedError, match="recurrence steps"):
        adjit.special.legendre_polynomial_p(adjit.tensor([0.3]), 2e7)
    with pytest.raises(NotImplementedError, match="terms of the direct sum"):
        adjit.special.zeta(2.0, adjit.tensor([-2e7 - 0.5], dtype=adjit.float64))
