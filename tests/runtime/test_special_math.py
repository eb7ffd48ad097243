"""Special functions (runtime/ops_special.py) against mpmath over their whole domain, in ulps,
against PyTorch at the special values, gradients, dtypes, errors and compiled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mpmath as mp
import numpy as np
import pytest

import adjit

torch = pytest.importorskip("torch")

INF, NAN = float("inf"), float("nan")
mp.mp.dps = 40


def _ulps(got: np.ndarray, want: np.ndarray, scale: Any = 0.0) -> np.ndarray:
    """|got - want| in ulps of got's dtype at max(|want|, scale); specials must agree."""
    got, want = np.asarray(got), np.asarray(want, np.float64)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    size = np.maximum(np.maximum(np.abs(want), np.abs(scale)), np.finfo(got.dtype).smallest_normal)
    with np.errstate(all="ignore"):
        size = size.astype(got.dtype)
        d = np.abs(got.astype(np.float64) - want) / np.spacing(size).astype(np.float64)
    return np.where(same, 0.0, np.where(np.isfinite(d), d, 1e30))


def _mp(fn: Callable[[Any], Any], xs: np.ndarray) -> np.ndarray:
    return np.array([float(fn(mp.mpf(float(v)))) for v in xs])


def _sweep(lo: float, hi: float, n: int, seed: int) -> np.ndarray:
    """Uniform on [lo, hi] and log-uniform magnitudes up to max(|lo|, |hi|), with hi's sign."""
    rng = np.random.default_rng(seed)
    top = np.log10(max(abs(lo), abs(hi)))
    mags = np.sign(hi) * 10.0 ** rng.uniform(-12, top, n)
    return np.concatenate([rng.uniform(lo, hi, n), mags])


def _off_integers(xs: np.ndarray) -> np.ndarray:
    return xs[np.abs(xs - np.round(xs)) > 1e-9]


def _loggamma(v: Any) -> Any:
    return mp.log(abs(mp.gamma(v))) if v < 0 else mp.loggamma(v)


# name -> (adjit function, mpmath function, sample points, float64 ulp bound); the bound is in
# ulps of the value, or for negative arguments of the reflection's largest term (``SCALES``)
POSITIVE = _sweep(0.0, 1e6, 700, 1)
SWEEPS: dict[str, tuple[Any, Any, np.ndarray, float]] = {
    "lgamma": (adjit.lgamma, mp.loggamma, np.concatenate([_sweep(0, 12, 800, 2), POSITIVE]), 3),
    "digamma": (adjit.digamma, mp.digamma, np.concatenate([_sweep(0, 15, 800, 3), POSITIVE]), 3),
    "trigamma": (lambda x: adjit.polygamma(1, x), lambda v: mp.polygamma(1, v),
                 np.concatenate([_sweep(0, 15, 500, 4), POSITIVE[::3]]), 3),
    "polygamma2": (lambda x: adjit.polygamma(2, x), lambda v: mp.polygamma(2, v),
                   np.concatenate([_sweep(0, 15, 500, 5), POSITIVE[::3]]), 4),
    "polygamma5": (lambda x: adjit.polygamma(5, x), lambda v: mp.polygamma(5, v),
                   _sweep(0, 40, 400, 6), 6),
    "erfc": (adjit.erfc, mp.erfc, np.concatenate([_sweep(-6, 27.5, 800, 7), [1.0, -1.0]]), 3),
    "erfinv": (adjit.erfinv, mp.erfinv,
               np.concatenate([_sweep(-1, 1, 800, 8)[:800], -_sweep(0, 1, 300, 9)[300:],
                               1 - 10 ** np.random.default_rng(10).uniform(-16, -0.3, 400)]), 1),
}  # fmt: skip
NEGATIVE = _off_integers(np.random.default_rng(11).uniform(-30, 0, 800))
REFLECTED = {
    # name -> (adjit, mpmath, the largest term of the reflection, ulp bound of that term)
    "lgamma": (adjit.lgamma, _loggamma, lambda v: mp.loggamma(1 - v), 3),
    "digamma": (adjit.digamma, mp.digamma, lambda v: mp.pi * mp.cot(mp.pi * v), 4),
    "trigamma": (lambda x: adjit.polygamma(1, x), lambda v: mp.polygamma(1, v),
                 lambda v: mp.pi**2 / mp.sin(mp.pi * v) ** 2, 4),
    "polygamma3": (lambda x: adjit.polygamma(3, x), lambda v: mp.polygamma(3, v),
                   lambda v: mp.diff(lambda u: mp.pi * mp.cot(mp.pi * u), v, 3), 12),
}  # fmt: skip


@pytest.mark.parametrize("name", list(SWEEPS))
def test_float64_ulps_vs_mpmath(name: str) -> None:
    fn, ref, xs, bound = SWEEPS[name]
    got = fn(adjit.from_numpy(xs.copy())).numpy()
    want = _mp(ref, xs)
    d = _ulps(got, want)
    worst = int(np.argmax(d))
    assert d[worst] <= bound, f"{name}({xs[worst]!r}) = {got[worst]!r}, want {want[worst]!r}"


@pytest.mark.parametrize("name", list(REFLECTED))
def test_negative_arguments_vs_mpmath(name: str) -> None:
    """Below 0 (the reflection): within a few ulps of the largest term that cancels, so
    digamma's and polygamma(2k)'s zeros there have an absolute, not relative, error."""
    fn, ref, term, bound = REFLECTED[name]
    got = fn(adjit.from_numpy(NEGATIVE.copy())).numpy()
    want, scale = _mp(ref, NEGATIVE), _mp(term, NEGATIVE)
    d = _ulps(got, want, scale)
    worst = int(np.argmax(d))
    assert d[worst] <= bound, f"{name}({NEGATIVE[worst]!r}) = {got[worst]!r}"


@pytest.mark.parametrize("name", ["lgamma", "digamma", "trigamma", "erfc", "erfinv"])
def test_float32_within_an_ulp(name: str) -> None:
    """float32 is computed in float64 and rounded once: within 1 ulp of mpmath's value."""
    fn, ref, xs, _ = SWEEPS[name]
    xs32 = xs.astype(np.float32)
    xs32 = xs32[np.abs(xs32) < 1] if name == "erfinv" else xs32
    got = fn(adjit.from_numpy(xs32.copy()))
    assert got.dtype is adjit.float32
    d = _ulps(got.numpy(), _mp(ref, xs32.astype(np.float64)))
    assert d.max() <= 1.0, xs32[int(np.argmax(d))]


def test_digamma_at_its_positive_zero() -> None:
    """PyTorch's float64 digamma is 2.5e16 ulp off beside 1.4616...; adjit keeps 2."""
    xs = np.array([1.4616321449683622, 1.46163214496836, 1.4616321449683625, 1.4616321])
    d = _ulps(adjit.digamma(adjit.from_numpy(xs)).numpy(), _mp(mp.digamma, xs))
    assert d.max() <= 2


# ---- special values: PyTorch's --------------------------------------------------------------
SPECIALS = np.array([0.0, -0.0, -1.0, -2.0, 1.0, 2.0, INF, -INF, NAN, -2.5, 1e-310, 1e-300,
                     1e300, -1e20, 0.5, 3.0, 171.5, 2.6e305])  # fmt: skip
UNIT = np.array([0.0, -0.0, 1.0, -1.0, 1.5, -1.5, NAN, 0.5, 1e-310, 1 - 2**-53, -(1 - 2**-53),
                 INF, -INF, 0.9999999, 1e-30])  # fmt: skip


REFERENCE = {
    "lgamma": _loggamma,
    "digamma": mp.digamma,
    "erfc": mp.erfc,
    "erfinv": mp.erfinv,
    "polygamma2": lambda v: mp.polygamma(2, v),
    "polygamma3": lambda v: mp.polygamma(3, v),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "name, fn, xs",
    [
        ("lgamma", lambda T, x: T.lgamma(x), SPECIALS),
        ("digamma", lambda T, x: T.digamma(x), SPECIALS),
        ("polygamma2", lambda T, x: T.polygamma(2, x), SPECIALS),
        ("polygamma3", lambda T, x: T.polygamma(3, x), SPECIALS),
        ("erfc", lambda T, x: T.erfc(x), SPECIALS),
        ("erfinv", lambda T, x: T.erfinv(x), UNIT),
    ],
)
def test_special_values_as_pytorch(name: str, fn: Any, xs: np.ndarray, dtype: Any) -> None:
    """Infinities, NaN and signed zeros exactly PyTorch's; the other positive values within 4 ulp
    (float64) or 1 ulp (float32) of mpmath (PyTorch's float32 digamma is 3 ulp off at 1)."""
    with np.errstate(over="ignore"):
        xs = xs.astype(dtype)
    got = fn(adjit, adjit.from_numpy(xs.copy())).numpy()
    want = fn(torch, torch.from_numpy(xs.copy())).numpy()
    special = ~np.isfinite(want) | (want == 0)
    np.testing.assert_array_equal(got[special], want[special])
    zeros = want == 0
    assert np.array_equal(np.signbit(got[zeros]), np.signbit(want[zeros])), "signed zeros"
    check = ~special & (xs > 0)  # (below 0: test_negative_arguments_vs_mpmath)
    exact = _mp(REFERENCE[name], xs[check].astype(np.float64))
    assert _ulps(got[check], exact).max() <= (4 if dtype is np.float64 else 1)


def test_trigamma_special_values() -> None:
    """PyTorch's at 0, +-inf, NaN and above; at negative integers (poles) adjit gives inf where
    PyTorch's sin(pi x) != 0 gives a huge finite number (6.6e32 at -1), and 1e-300 at 1e300."""
    xs = np.array([0.0, -0.0, INF, -INF, NAN, 1e300, 1e-310, 2.0])
    got = adjit.polygamma(1, adjit.from_numpy(xs.copy())).numpy()
    want = torch.polygamma(1, torch.from_numpy(xs.copy())).numpy()
    np.testing.assert_array_equal(got[:7], want[:7])
    poles = adjit.polygamma(1, adjit.tensor([-1.0, -2.0, -30.0], dtype=adjit.float64))
    assert poles.tolist() == [INF, INF, INF]


def test_mvlgamma_values_and_errors() -> None:
    x = np.array([2.5, 3.0, 7.25, 0.5])
    for p in (1, 2, 4):
        got = adjit.mvlgamma(adjit.from_numpy(x), p).numpy()
        want = torch.mvlgamma(torch.from_numpy(x), p).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-14)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        adjit.mvlgamma(adjit.ones(2), 0)


# ---- gradients: PyTorch's formulas at the edges -----------------------------------------------
GRAD_POINTS = np.array([0.3, 1.0, 2.0, 2.5, -2.5, -0.5, 7.0, 30.0, 0.0, -1.0, INF, NAN])


@pytest.mark.parametrize(
    "name, fn, xs",
    [
        ("lgamma", lambda T, x: T.lgamma(x), GRAD_POINTS),
        ("digamma", lambda T, x: T.digamma(x), GRAD_POINTS),
        ("polygamma2", lambda T, x: T.polygamma(2, x), GRAD_POINTS),
        ("erfc", lambda T, x: T.erfc(x), GRAD_POINTS),
        ("erfinv", lambda T, x: T.erfinv(x), UNIT),
        ("mvlgamma", lambda T, x: T.mvlgamma(x, 2), GRAD_POINTS),
    ],
)
def test_gradients_as_pytorch(name: str, fn: Any, xs: np.ndarray) -> None:
    """grad_fn names, and gradients within PyTorch's own accuracy (its trigamma is 1e-10)."""
    a = adjit.from_numpy(xs.copy()).requires_grad_()
    t = torch.from_numpy(xs.copy()).requires_grad_()
    out_a, out_t = fn(adjit, a), fn(torch, t)
    assert type(out_a.grad_fn).__name__ == type(out_t.grad_fn).__name__
    g = np.linspace(0.5, 1.5, xs.size)
    out_a.backward(adjit.from_numpy(g))
    out_t.backward(torch.from_numpy(g))
    got, want = a.grad.numpy(), t.grad.numpy()
    finite = np.isfinite(want) & (np.abs(want) < 1e30)  # (PyTorch's trigamma at poles: 1e32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-9)


def test_second_derivatives() -> None:
    """lgamma'' = trigamma, digamma'' = polygamma(2), erfinv'' from its formula: vs mpmath."""
    xs = np.array([0.3, 1.7, 4.0, -2.5])
    for fn, ref in [(adjit.lgamma, lambda v: mp.polygamma(1, v)),
                    (adjit.digamma, lambda v: mp.polygamma(2, v))]:  # fmt: skip
        x = adjit.from_numpy(xs.copy()).requires_grad_()
        (g,) = adjit.autograd.grad(fn(x).sum(), x, create_graph=True)
        (h,) = adjit.autograd.grad(g.sum(), x)
        np.testing.assert_allclose(h.numpy(), _mp(ref, xs), rtol=1e-14)
    y = adjit.tensor([0.2, -0.7], dtype=adjit.float64, requires_grad=True)
    (g,) = adjit.autograd.grad(adjit.erfinv(y).sum(), y, create_graph=True)
    (h,) = adjit.autograd.grad(g.sum(), y)
    want = [float(mp.diff(mp.erfinv, v, 2)) for v in (0.2, -0.7)]
    np.testing.assert_allclose(h.numpy(), want, rtol=1e-13)


# ---- dtypes, methods, in-place, errors --------------------------------------------------------
@pytest.mark.parametrize("name", ["lgamma", "digamma", "erfc", "erfinv"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_integer_inputs_promote(name: str, dtype: str) -> None:
    data = np.array([0, 1, 2, 3]).astype(dtype)
    got = getattr(adjit, name)(adjit.from_numpy(data))
    want = getattr(torch, name)(torch.from_numpy(data))
    assert str(got.dtype) == str(want.dtype)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=5e-7)  # (PyTorch's float32 digamma)


def test_methods_and_inplace() -> None:
    """Methods and in-place forms are the functions (vs PyTorch's methods within 1e-13)."""
    for name, args in [("lgamma", ()), ("digamma", ()), ("polygamma", (2,)), ("erfc", ()),
                       ("erfinv", ()), ("mvlgamma", (2,))]:  # fmt: skip
        x = adjit.tensor([1.25, 1.5, 2.75], dtype=adjit.float64) * 0.5
        function = getattr(adjit, name)
        want = function(*args, x) if name == "polygamma" else function(x, *args)
        np.testing.assert_array_equal(getattr(x, name)(*args).numpy(), want.numpy())
        t = torch.tensor([1.25, 1.5, 2.75], dtype=torch.float64) * 0.5
        np.testing.assert_allclose(want.numpy(), getattr(t, name)(*args).numpy(), rtol=1e-13)
        assert getattr(x, name + "_")(*args) is x
        np.testing.assert_array_equal(x.numpy(), want.numpy())


ERRORS: list[tuple[str, Callable[[Any], Any]]] = [
    ("polygamma-negative", lambda T: T.polygamma(-1, T.ones(2))),
    ("polygamma-float-n", lambda T: T.polygamma(1.5, T.ones(2))),
    ("mvlgamma-p0", lambda T: T.mvlgamma(T.ones(2), 0)),
    ("lgamma_-int", lambda T: T.ones(2, dtype=T.int64).lgamma_()),
    ("erfinv_-int", lambda T: T.ones(2, dtype=T.int64).erfinv_()),
]


@pytest.mark.parametrize("name, fn", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(name: str, fn: Callable[[Any], Any]) -> None:
    with pytest.raises(Exception) as want:
        fn(torch)
    with pytest.raises(type(want.value)) as got:
        fn(adjit)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("name", ["lgamma", "digamma", "trigamma", "erfc", "erfinv"])
def test_compiled_over_the_domain(name: str) -> None:
    """Compiled (llvm): within the bound plus 2 ulp of mpmath (its exp/log/sin are vecmath's)."""
    fn, ref, xs, bound = SWEEPS[name]
    xs = xs[::4]
    got = adjit.compile(fn)(adjit.from_numpy(xs.copy())).numpy()
    d = _ulps(got, _mp(ref, xs))
    assert d.max() <= bound + 2, xs[int(np.argmax(d))]


def test_tiny_negative_arguments() -> None:
    """Fuzzer findings: x - floor(x) rounded 1 + x, and pi x was rounded when subnormal."""
    xs = np.array([-4.9359978e-17, -6.4e-323, -3.898046916777614e-12, -1.7389593940437824e-19,
                   -7.117801540734997e-08, -2.805e-42])  # fmt: skip
    cases = [
        (adjit.lgamma, lambda v: mp.log(mp.pi / abs(mp.sinpi(v))) - mp.loggamma(1 - v)),
        (adjit.digamma, lambda v: mp.digamma(1 - v) - mp.pi * mp.cospi(v) / mp.sinpi(v)),
        (lambda x: adjit.polygamma(1, x), lambda v: (mp.pi / mp.sinpi(v)) ** 2
         - mp.polygamma(1, 1 - v)),
    ]  # fmt: skip
    for fn, ref in cases:
        d = _ulps(fn(adjit.from_numpy(xs.copy())).numpy(), _mp(ref, xs))
        assert d.max() <= 2, xs[int(np.argmax(d))]
    assert adjit.lgamma(adjit.tensor([-4.889856693794959e305], dtype=adjit.float64)).item() == INF


# ---- modified Bessel functions (runtime/ops_bessel.py) ------------------------------------
BESSEL = {
    "i0": (lambda v: mp.besseli(0, v)),
    "i0e": (lambda v: mp.besseli(0, v) * mp.exp(-abs(v))),
    "i1": (lambda v: mp.besseli(1, v)),
    "i1e": (lambda v: mp.besseli(1, v) * mp.exp(-abs(v))),
}
BESSEL_XS = np.concatenate([_sweep(-30, 30, 600, 12), -_sweep(0, 700, 300, 13), [8.0, -8.0]])


@pytest.mark.parametrize("name", list(BESSEL))
def test_bessel_ulps_vs_mpmath(name: str) -> None:
    """float64 within 3 ulp of mpmath (PyTorch's: 3 to 9), float32 within 1."""
    fn = getattr(adjit.special, name)
    want = _mp(BESSEL[name], BESSEL_XS)
    d = _ulps(fn(adjit.from_numpy(BESSEL_XS.copy())).numpy(), want)
    assert d.max() <= 3, BESSEL_XS[int(np.argmax(d))]
    x32 = BESSEL_XS.astype(np.float32)
    got32 = fn(adjit.from_numpy(x32.copy()))
    assert got32.dtype is adjit.float32
    with np.errstate(over="ignore"):  # (overflowing float32 from |x| ~ 95: inf both)
        want32 = _mp(BESSEL[name], x32.astype(np.float64)).astype(np.float32)
    d32 = _ulps(got32.numpy(), want32.astype(np.float64))
    assert d32.max() <= 1, x32[int(np.argmax(d32))]
    compiled = adjit.compile(fn)(adjit.from_numpy(BESSEL_XS.copy())).numpy()
    assert _ulps(compiled, want).max() <= 5


@pytest.mark.parametrize("name", list(BESSEL))
def test_bessel_special_values_and_gradients_as_pytorch(name: str) -> None:
    """inf where exp overflows (from 709.8), NaN at +-inf for i0/i1 as PyTorch's product
    exp(x) G / sqrt(x); gradients by PyTorch's formulas (0.5 at 0 for i1 and i1e)."""
    xs = np.array([0.0, -0.0, 1e-300, 0.5, -3.0, 7.99, 8.01, -20.0, 100.0, 709.0, 710.0, 713.0,
                   -715.0, INF, -INF, NAN])  # fmt: skip
    got = getattr(adjit.special, name)(adjit.from_numpy(xs.copy())).numpy()
    want = getattr(torch.special, name)(torch.from_numpy(xs.copy())).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=5e-16)
    g = xs[np.isfinite(xs) & (np.abs(xs) < 700)]
    a = adjit.from_numpy(g.copy()).requires_grad_()
    t = torch.from_numpy(g.copy()).requires_grad_()
    out_a, out_t = getattr(adjit.special, name)(a), getattr(torch.special, name)(t)
    assert type(out_a.grad_fn).__name__ == type(out_t.grad_fn).__name__
    (ga,) = adjit.autograd.grad(out_a.sum(), a)
    (gt,) = torch.autograd.grad(out_t.sum(), t)
    np.testing.assert_allclose(ga.numpy(), gt.numpy(), rtol=1e-14)


def test_i0_method_and_inplace() -> None:
    x = adjit.tensor([0.5, -9.0, 2.0], dtype=adjit.float64)
    np.testing.assert_array_equal(x.i0().numpy(), adjit.i0(x).numpy())
    want = adjit.i0(x).numpy()
    assert x.i0_() is x
    np.testing.assert_array_equal(x.numpy(), want)


def test_log_ndtr_vs_mpmath_and_pytorch() -> None:
    """Within 4 ulp of mpmath over [-50, 40] (PyTorch's: 1500 ulp at 36, where it rounds
    x / sqrt 2 before squaring it); PyTorch's special values, grad_fn and gradient formula."""
    rng = np.random.default_rng(14)
    xs = np.concatenate([rng.uniform(-50, 40, 800), -(10 ** rng.uniform(-5, 3, 200)),
                         10 ** rng.uniform(-5, 1.6, 200)])  # fmt: skip
    ref = lambda v: mp.log1p(-mp.ncdf(-v)) if v > 0 else mp.log(mp.ncdf(v))  # noqa: E731
    got = adjit.special.log_ndtr(adjit.from_numpy(xs.copy())).numpy()
    d = _ulps(got, _mp(ref, xs))
    assert d.max() <= 4, xs[int(np.argmax(d))]
    specials = np.array([-40.0, 0.0, -0.0, 40.0, INF, -INF, NAN, -1e300, 1e300, -(2**0.5)])
    got = adjit.special.log_ndtr(adjit.from_numpy(specials.copy())).numpy()
    want = torch.special.log_ndtr(torch.from_numpy(specials.copy())).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-16)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    g = np.array([-40.0, -3.0, -1.0, 0.0, 0.5, 3.0, 12.0])
    a, t = adjit.from_numpy(g.copy()).requires_grad_(), torch.from_numpy(g.copy()).requires_grad_()
    out_a, out_t = adjit.special.log_ndtr(a), torch.special.log_ndtr(t)
    assert type(out_a.grad_fn).__name__ == type(out_t.grad_fn).__name__
    (ga,) = adjit.autograd.grad(out_a.sum(), a)
    (gt,) = torch.autograd.grad(out_t.sum(), t)
    np.testing.assert_allclose(ga.numpy(), gt.numpy(), rtol=1e-12)  # (exp(-(out + x^2/2)))


def _ndtri_reference(v: float) -> Any:
    if v >= 0.5:
        return mp.sqrt(2) * mp.erfinv(2 * mp.mpf(v) - 1)
    with mp.workdps(int(max(40, 40 - np.log10(v)))):  # 1 - 2 p needs all of p's digits
        return -mp.sqrt(2) * mp.erfinv(1 - 2 * mp.mpf(v))


def test_ndtri_vs_mpmath_and_pytorch() -> None:
    """Within 2 ulp of mpmath down to p = 1e-300 (its tail is erfcinv(2 p) by Newton on
    log erfc, never 1 - 2 p); PyTorch's special values, grad_fn and derivative formula."""
    rng = np.random.default_rng(15)
    xs = np.concatenate([rng.uniform(0, 1, 400), 10 ** rng.uniform(-300, 0, 150),
                         1 - 10 ** rng.uniform(-16, 0, 150)])  # fmt: skip
    got = adjit.special.ndtri(adjit.from_numpy(xs.copy())).numpy()
    d = _ulps(got, np.array([float(_ndtri_reference(v)) for v in xs]))
    assert d.max() <= 2, xs[int(np.argmax(d))]
    x32 = xs.astype(np.float32)
    x32 = x32[(x32 > 0) & (x32 < 1)]
    got32 = adjit.special.ndtri(adjit.from_numpy(x32.copy())).numpy()
    want32 = np.array([float(_ndtri_reference(float(v))) for v in x32]).astype(np.float32)
    assert _ulps(got32, want32.astype(np.float64)).max() <= 1
    specials = np.array([0.0, -0.0, 1.0, 0.5, 0.25, 5e-324, 1 - 2**-53, -0.1, 1.1, NAN, INF])
    got = adjit.special.ndtri(adjit.from_numpy(specials.copy())).numpy()
    want = torch.special.ndtri(torch.from_numpy(specials.copy())).numpy()
    np.testing.assert_allclose(got, want, rtol=5e-16)
    g = np.array([1e-10, 0.1, 0.5, 0.9, 1 - 1e-12])
    a, t = adjit.from_numpy(g.copy()).requires_grad_(), torch.from_numpy(g.copy()).requires_grad_()
    out_a, out_t = adjit.special.ndtri(a), torch.special.ndtri(t)
    assert type(out_a.grad_fn).__name__ == type(out_t.grad_fn).__name__
    (ga,) = adjit.autograd.grad(out_a.sum(), a)
    (gt,) = torch.autograd.grad(out_t.sum(), t)
    np.testing.assert_allclose(ga.numpy(), gt.numpy(), rtol=1e-12)
