"""SPECIAL's incomplete gamma functions and Hurwitz zeta: PyTorch's kernels (ATen Math.h: SciPy's
igam/igamc after Cephes and Boost, Cephes' zeta), in the operands' dtype over masked arrays.

Each loop of the scalar code (a series summed until its term is below machine epsilon, a
continued fraction, zeta's direct sum) runs here for all elements at once, an element frozen
once its own exit condition holds, so every element takes the same steps as PyTorch's loop.
lgamma and erfc are the C library's (through ctypes), as PyTorch's ``std::`` calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Callable

import numpy as np

Array = np.ndarray
NAN, INF = float("nan"), float("inf")
MACHEP = 1.11022302462515654042e-16
MAXLOG = 7.09782712893383996843e2
MAXITER = 2000
MAX_DIRECT_TERMS = 1e6  # zeta's direct sum for a negative q (Note [polynomial degrees])
LANCZOS_G = 6.024680040776729583740234375
EXP1 = 2.718281828459045
PI_FLOAT = float(np.float32(math.pi))  # PyTorch's asymptotic series divides by c10::pi<float>


def _libm(name: str, single: bool) -> Callable[[float], float] | None:
    """The C library's ``name`` (``name``f in float32), as PyTorch's std:: calls: Python's own
    lgamma is less accurate near 1 and 2, where igammac's series cancels."""
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        fn = getattr(libm, name + "f" if single else name)
    except (OSError, AttributeError):
        return None
    c = ctypes.c_float if single else ctypes.c_double
    fn.restype, fn.argtypes = c, [c]
    return fn  # type: ignore[no-any-return]


def _py_lgamma(v: float) -> float:
    try:
        return math.lgamma(v)
    except (ValueError, OverflowError):  # poles (non-positive integers)
        return INF


_UFUNCS = {
    (name, single): np.frompyfunc(_libm(name, single) or fallback, 1, 1)
    for name, fallback in (("lgamma", _py_lgamma), ("erfc", math.erfc))
    for single in (False, True)
}


def lgamma(v: Array) -> Array:
    return np.asarray(_UFUNCS["lgamma", v.dtype == np.float32](v), v.dtype)


def erfc(v: Array) -> Array:
    return np.asarray(_UFUNCS["erfc", v.dtype == np.float32](v), v.dtype)


def _wide(v: Array) -> Array:
    return v.astype(np.float64)


def _machep(v: Array) -> float:
    return MACHEP if v.dtype == np.float64 else 5.9604644775390625e-8


# ---- the incomplete gamma functions -------------------------------------------------------
LANCZOS_NUM = (
    0.006061842346248906525783753964555936883222,
    0.5098416655656676188125178644804694509993,
    19.51992788247617482847860966235652136208,
    449.9445569063168119446858607650988409623,
    6955.999602515376140356310115515198987526,
    75999.29304014542649875303443598909137092,
    601859.6171681098786670226533699352302507,
    3481712.15498064590882071018964774556468,
    14605578.08768506808414169982791359218571,
    43338889.32467613834773723740590533316085,
    86363131.28813859145546927288977868422342,
    103794043.1163445451906271053616070238554,
    56906521.91347156388090791033559122686859,
)
LANCZOS_DENOM = (
    1.0,
    66.0,
    1925.0,
    32670.0,
    357423.0,
    2637558.0,
    13339535.0,
    45995730.0,
    105258076.0,
    150917976.0,
    120543840.0,
    39916800.0,
    0.0,
)


def _ratevl(x: Array, num: tuple[float, ...], denom: tuple[float, ...]) -> Array:
    """SciPy's ratevl: num / denom by Horner in x (|x| <= 1) or in 1/x (reversed)."""
    big = np.abs(x) > 1
    y = np.where(big, 1 / x, x)

    def horner(c: tuple[float, ...]) -> Array:
        fwd, bwd = np.full_like(x, c[0]), np.full_like(x, c[-1])
        for a, b in zip(c[1:], c[-2::-1], strict=True):
            fwd, bwd = fwd * y + a, bwd * y + b
        return np.where(big, bwd, fwd)

    ratio = horner(num) / horner(denom)
    return np.where(big, x ** float(len(denom) - len(num)) * ratio, ratio)


def _fac(a: Array, x: Array) -> Array:
    """x^a e^-x / Gamma(a), the incomplete gamma prefactor ([igam2] (15), (16))."""
    far = _wide(np.abs(a - x)) > 0.4 * _wide(np.abs(a))
    ax = a * np.log(x) - x - lgamma(a)
    maxlog = MAXLOG if a.dtype == np.float64 else 88.72283905206835
    direct = np.where(ax < -maxlog, 0.0, np.exp(ax))
    fac = a + LANCZOS_G - 0.5
    res = np.sqrt(fac / EXP1) / _ratevl(a, LANCZOS_NUM, LANCZOS_DENOM)
    moderate = np.exp(a - x) * np.power(x / fac, a)
    numfac = (x - a - LANCZOS_G + 0.5) / fac
    # (in float32 too, C++ evaluates this exponent, its exp and the product in double)
    g = float(np.asarray(LANCZOS_G, a.dtype))
    large = np.exp(_wide(a * (np.log1p(numfac) - numfac)) + _wide(x) * (0.5 - g) / _wide(fac))
    near = np.where((a < 200) & (x < 200), res * moderate, (_wide(res) * large).astype(a.dtype))
    return np.where(far, direct, near)


State = dict[str, Array]


def iterate(state: State, step: Callable[[State, int], Array], limit: int) -> State:
    """Run ``step(live, i)`` for i = 0 .. limit - 1 on the elements still going: it updates the
    compacted ``live`` arrays in place and returns which elements stop after this step (a
    scalar loop's ``break``). Stopped elements leave the arrays, so each step costs what is
    left, not the whole input (a few elements needing 2000 steps no longer cost 2000 passes)."""
    final = {k: v.copy() for k, v in state.items()}
    live = {k: v.copy() for k, v in state.items()}
    idx = np.arange(next(iter(state.values())).shape[0])
    for i in range(limit):
        if not idx.size:
            break
        stop = step(live, i)
        if stop.any():
            for k, v in live.items():
                final[k][idx[stop]] = v[stop]
            keep = ~stop
            idx = idx[keep]
            live = {k: v[keep] for k, v in live.items()}
    for k, v in live.items():
        final[k][idx] = v
    return final


def _igam_series(a: Array, x: Array) -> Array:
    """DLMF 8.11.4."""
    ax = _fac(a, x)
    eps = _machep(a)

    def step(s: State, i: int) -> Array:
        s["r"] = s["r"] + 1.0
        s["c"] = s["c"] * (s["x"] / s["r"])
        s["ans"] = s["ans"] + s["c"]
        return s["c"] <= eps * s["ans"]

    go = ax != 0.0
    one = np.ones_like(a[go])
    ans = np.ones_like(a)
    ans[go] = iterate({"r": a[go], "c": one, "ans": one, "x": x[go]}, step, MAXITER)["ans"]
    return np.where(ax == 0.0, 0.0, ans * ax / a)


def _igamc_series(a: Array, x: Array) -> Array:
    """DLMF 8.7.3."""
    eps = _machep(a)

    def step(s: State, i: int) -> Array:
        n = i + 1
        s["fac"] = s["fac"] * (-s["x"] / n)
        term = s["fac"] / (s["a"] + n)
        s["total"] = s["total"] + term
        return np.abs(term) <= eps * np.abs(s["total"])

    state = {"fac": np.ones_like(a), "total": np.zeros_like(a), "a": a, "x": x}
    total = iterate(state, step, MAXITER - 1)["total"]
    logx = np.log(x)
    term = -np.expm1(a * logx - lgamma(1 + a))
    return term - np.exp(a * logx - lgamma(a)) * total


def _asymptotic(a: Array, x: Array, lower: bool) -> Array:
    """DLMF 8.12.3 / 8.12.4 (uniform asymptotics for large a near x)."""
    from .special_gamma_table import D

    sgn = -1.0 if lower else 1.0
    lam = x / a
    sigma = (x - a) / a
    root = np.sqrt(-2 * (np.log1p(sigma) - sigma))
    eta = np.where(lam > 1, root, np.where(lam < 1, -root, 0.0))
    res = 0.5 * erfc(sgn * eta * np.sqrt(a / 2))
    etapow = [np.ones_like(a)]
    for _ in range(24):
        etapow.append(eta * etapow[-1])
    total, afac = np.zeros_like(a), np.ones_like(a)
    absold = np.full_like(a, INF)
    live = np.ones(a.shape, bool)
    for k in range(25):
        ck = np.full_like(a, D[k][0])
        inner = live.copy()
        for n in range(1, 25):
            ckterm = D[k][n] * etapow[n]
            ck = np.where(inner, ck + ckterm, ck)
            inner &= ~(np.abs(ckterm) < _machep(a) * np.abs(ck))
        term = ck * afac
        absterm = np.abs(term)
        live &= ~(absterm > absold)
        total = np.where(live, total + term, total)
        live &= ~(absterm < _machep(a) * np.abs(total))
        absold = np.where(live, absterm, absold)
        afac = np.where(live, afac / a, afac)
    # (the correction in double, as C++ evaluates it for float too)
    tail = sgn * np.exp(-0.5 * _wide(a) * _wide(eta) * _wide(eta)) * _wide(total)
    return (_wide(res) + tail / _wide(np.sqrt(2 * PI_FLOAT * a))).astype(a.dtype)


def _asymptotic_regime(a: Array, x: Array) -> Array:
    ratio = np.abs(x - a) / a
    return ((a > 20) & (a < 200) & (ratio < 0.3)) | ((a > 200) & (ratio < 4.5 / np.sqrt(a)))


def _igamc_cf(a: Array, x: Array) -> Array:
    """DLMF 8.9.2: the continued fraction."""
    ax = _fac(a, x)
    single = a.dtype == np.float32
    big, biginv = (
        (16777216.0, 5.9604644775390625e-8)
        if single
        else (4.503599627370496e15, 2.22044604925031308085e-16)
    )
    eps = _machep(a)

    def step(s: State, i: int) -> Array:
        s["c"], s["y"], s["z"] = s["c"] + 1.0, s["y"] + 1.0, s["z"] + 2.0
        yc = s["y"] * s["c"]
        pk = s["pkm1"] * s["z"] - s["pkm2"] * yc
        qk = s["qkm1"] * s["z"] - s["qkm2"] * yc
        nonzero = qk != 0
        r = pk / np.where(nonzero, qk, 1.0)
        t = np.where(nonzero, np.abs((s["ans"] - r) / r), 1.0)
        s["ans"] = np.where(nonzero, r, s["ans"])
        scale = np.where(np.abs(pk) > big, biginv, 1.0)
        s["pkm2"], s["pkm1"] = s["pkm1"] * scale, pk * scale
        s["qkm2"], s["qkm1"] = s["qkm1"] * scale, qk * scale
        return t <= eps

    go = ax != 0.0
    av, xv = a[go], x[go]
    y = 1.0 - av
    z = xv + y + 1.0
    pkm1, qkm1 = xv + 1.0, z * xv
    state = {"c": np.zeros_like(av), "y": y, "z": z, "pkm2": np.ones_like(av), "qkm2": xv,
             "pkm1": pkm1, "qkm1": qkm1, "ans": pkm1 / qkm1}  # fmt: skip
    ans = np.zeros_like(a)
    ans[go] = iterate(state, step, MAXITER)["ans"]
    return np.where(ax == 0.0, 0.0, ans * ax)


def _on(mask: Array, fn, a: Array, x: Array, out: Array, *args: bool) -> None:  # type: ignore[no-untyped-def]
    if mask.any():
        out[mask] = fn(a[mask], x[mask], *args)


def _igammac_regular(a: Array, x: Array) -> Array:
    """igammac for a > 0, 0 < x < inf, a finite (calc_igammac's choice of method)."""
    out = np.empty_like(a)
    asym = _asymptotic_regime(a, x)
    wx = _wide(x)  # (C++ compares float with the double literals 1.1 and 0.4 in double)
    lower_series = ~asym & (
        ((wx > 1.1) & (x < a))
        | ((x <= 0.5) & (-0.4 / _wide(np.log(x)) < a))
        | ((x > 0.5) & (wx <= 1.1) & (wx * 1.1 < a))
    )
    cf = ~asym & (wx > 1.1) & ~(x < a)
    upper_series = ~asym & ~lower_series & ~cf
    _on(asym, _asymptotic, a, x, out, False)
    _on(lower_series, lambda a, x: 1.0 - _igam_series(a, x), a, x, out)
    _on(cf, _igamc_cf, a, x, out)
    _on(upper_series, _igamc_series, a, x, out)
    return out


def _edges(a: Array, x: Array, at_a0: float, at_x0: float) -> tuple[Array, Array]:
    """(the boundary value or NaN where one applies, where none does)."""
    bad = (x < 0) | (a < 0)
    value = np.where(a == 0, np.where(x > 0, at_a0, NAN), NAN)
    value = np.where(~bad & (a != 0) & (x == 0), at_x0, value)
    rest = ~bad & (a != 0) & (x != 0)
    value = np.where(rest & np.isinf(a), np.where(np.isinf(x), NAN, at_x0), value)
    value = np.where(rest & ~np.isinf(a) & np.isinf(x), 1.0 - at_x0, value)
    regular = rest & ~np.isinf(a) & ~np.isinf(x) & ~np.isnan(a) & ~np.isnan(x)
    return value, regular


def igammac(a: Array, x: Array) -> Array:
    a, x = np.broadcast_arrays(a, x)
    with np.errstate(all="ignore"):
        out, regular = _edges(a, x, 0.0, 1.0)
        _on(regular, _igammac_regular, a, x, out)
        return out


def _igamma_regular(a: Array, x: Array) -> Array:
    out = np.empty_like(a)
    asym = _asymptotic_regime(a, x)
    upper = ~asym & (x > 1.0) & (x > a)
    _on(asym, _asymptotic, a, x, out, True)
    _on(upper, lambda a, x: 1.0 - _igammac_regular(a, x), a, x, out)
    _on(~asym & ~upper, _igam_series, a, x, out)
    return out


def igamma(a: Array, x: Array) -> Array:
    a, x = np.broadcast_arrays(a, x)
    with np.errstate(all="ignore"):
        out, regular = _edges(a, x, 1.0, 0.0)
        _on(regular, _igamma_regular, a, x, out)
        return out


# ---- Hurwitz zeta ---------------------------------------------------------------------------
ZETA_A = (
    12.0,
    -720.0,
    30240.0,
    -1209600.0,
    47900160.0,
    -1.8924375803183791606e9,
    7.47242496e10,
    -2.950130727918164224e12,
    1.1646782814350067249e14,
    -4.5979787224074726105e15,
    1.8152105401943546773e17,
    -7.1661652561756670113e18,
)


def _zeta_regular(x: Array, q: Array) -> Array:
    def step(s: State, i: int) -> Array:
        s["a"] = s["a"] + 1.0
        s["b"] = np.power(s["a"], -s["x"])
        s["s"] = s["s"] + s["b"]
        converged = (-MACHEP * s["s"] < s["b"]) & (s["b"] < MACHEP * s["s"])
        s["done"] = converged
        return converged | ~((i + 1 < 9) | (s["a"] <= 9.0))

    start = {"s": np.power(q, -x), "a": q.copy(), "b": np.zeros_like(q), "x": x,
             "done": np.zeros(q.shape, bool)}  # fmt: skip
    # (at most 9 steps, or until a passes 9 from below: -q steps for a negative q)
    lowest = float(q.min(initial=9.0))
    if lowest < -MAX_DIRECT_TERMS:
        raise NotImplementedError(
            f"special.zeta: q = {lowest!r} needs {-lowest:.3g} terms of the direct sum (PyTorch "
            f"sums them one by one); more than {MAX_DIRECT_TERMS:.0e} are not implemented"
        )
    limit = 9 + max(0, int(np.ceil(9.0 - lowest)) + 1)
    end = iterate(start, step, limit)
    s, a, b, done = end["s"], end["a"], end["b"], end["done"]
    w = a
    tail = ~done
    s = np.where(tail, s + b * w / (x - 1.0), s)
    s = np.where(tail, s - 0.5 * b, s)
    fa, k = np.ones_like(q), np.zeros_like(q)
    for j in range(12):
        fa = fa * (x + k)
        b = b / w
        t = fa * b / ZETA_A[j]
        s = np.where(tail, s + t, s)
        tail &= ~(np.abs(t / s) < MACHEP)
        k = k + 1.0
        fa = fa * (x + k)
        b = b / w
        k = k + 1.0
    return s


def zeta(x: Array, q: Array) -> Array:
    x, q = np.broadcast_arrays(x, q)
    with np.errstate(all="ignore"):
        out = np.full(x.shape, NAN)
        out = np.where(x == 1.0, INF, out)
        ok = x > 1.0
        pole = ~(x < 1.0) & (q <= 0) & (q == np.floor(q))  # (a NaN x too, as PyTorch's)
        out = np.where(pole, INF, out)
        ok &= ~pole & ~((q <= 0) & (x != np.floor(x)))
        # a NaN q or x: PyTorch's loop exits at once (its comparisons are false), giving q^-x
        # plus one term: NaN; here NaN directly
        ok &= ~np.isnan(q)
        out = np.where(np.isnan(q) & (x > 1.0), NAN, out)
        if ok.any():
            out[ok] = _zeta_regular(x[ok], q[ok])
        return out


BINARY = {"gammainc": igamma, "gammaincc": igammac, "zeta": zeta}
