"""torch.special's Bessel, Airy, polynomial, incomplete gamma, zeta, erfcx functions vs PyTorch."""

# These are PyTorch's own algorithms (Cephes' series and recurrences, ir/special*.py), so
# PyTorch at the same dtype is the oracle. The inputs are the math strategy's (log-uniform |x|
# over a band of exponents, both signs, the special values); polynomial degrees are integers
# from -2 to 40 as int64, float or a Python int; the incomplete gamma functions and zeta take
# two such arrays. Values must agree in kind (NaN, the same infinities) and otherwise within
# BOUND ulps of a scale: the largest |PyTorch float64 value| on [x (1 - 1e-3), x (1 + 1e-3)]
# (beside a zero of a Bessel function or polynomial the rounding of a term moves the zero:
# the error is a few ulps of the nearby values), per recurrence step for the polynomials. Not
# compared: a polynomial at NaN (PyTorch returns an uninitialized value there), a float32
# polynomial or exponent within a factor 100 of float32's overflow, and the incomplete gamma
# functions below float32's normal range. Compiled results are eager's bits (SPECIAL is an
# extern); the gradients PyTorch has (gammainc/gammaincc/zeta in their second argument,
# erfcx) are compared with its own within GRAD_RTOL.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases, mathfuncs
from .cases import Case

BOUND = 64  # in ulps of the scale (y0, y1 below 5: of (2/pi) log(x) J(x), the term that cancels)
GRAD_RTOL = {"float32": 1e-4, "float64": 1e-10}

UNARY = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "erfcx"]
UNARY += [f"modified_bessel_{k}" for k in ("i0", "i1", "k0", "k1")]
UNARY += ["scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "spherical_bessel_j0"]
POLYNOMIALS = [f"{s}chebyshev_polynomial_{k}" for s in ("", "shifted_") for k in "tuvw"]
POLYNOMIALS += ["hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
                "legendre_polynomial_p"]  # fmt: skip
BINARY = ["gammainc", "gammaincc", "zeta"]
NAMES = UNARY + POLYNOMIALS + BINARY
N = 256


@st.composite
def special_more_cases(draw: Callable[..., Any], name: str | None = None) -> Case:
    dtype = draw(st.sampled_from(cases.FLOAT_DTYPES))
    name = name or draw(st.sampled_from(NAMES))
    lo, hi = draw(st.sampled_from([(-30, 3), (-4, 6), (-2, 2), (0, 9)]))
    seed = draw(st.integers(0, 2**31 - 1))
    x = mathfuncs.values_source(dtype, seed, lo, hi, N)
    size = N + len(mathfuncs.SPECIALS[dtype])
    if name in UNARY:
        return Case(f"special-more {name} {dtype}", [f"return T.special.{name}(x0)"], [x],
                    [name == "erfcx"])  # fmt: skip
    if name in POLYNOMIALS:
        kind = draw(st.sampled_from(["int64", "float", "python"]))
        if kind == "python":
            n = draw(st.integers(-2, 40))
            return Case(f"special-more {name} {dtype}", [f"return T.special.{name}(x0, {n})"],
                        [x], [False])  # fmt: skip
        degrees = f"np.random.default_rng({seed + 2}).integers(-2, 41, {size})"
        degrees += f".astype(np.{dtype})" if kind == "float" else ""
        return Case(f"special-more {name} {dtype}", [f"return T.special.{name}(x0, x1)"],
                    [x, degrees], [False, False])  # fmt: skip
    other = mathfuncs.values_source(dtype, seed + 7, lo, hi, N)
    if name == "zeta":  # orders above 1 mostly (below: NaN), some integers
        x = f"np.abs({x}) + np.float{dtype[-2:]}(1.0)"
    return Case(f"special-more {name} {dtype}", [f"return T.special.{name}(x0, x1)"],
                [x, other], [False, True])  # fmt: skip


def _torch64(case: Case, xs: list[np.ndarray], scale: float = 1.0) -> np.ndarray:
    import torch

    ts = [torch.from_numpy(np.asarray(x, np.float64) * (scale if i == 0 else 1.0)) for i, x in
          enumerate(xs)]  # fmt: skip
    return cases.to_numpy(case.bind(torch)(*ts))


def _scale(case: Case, xs: list[np.ndarray]) -> np.ndarray:
    """The largest |value| in float64 near x (the first argument moved by up to 1e-3)."""
    with np.errstate(all="ignore"):
        values = [np.abs(_torch64(case, xs, 1.0 + s)) for s in (-1e-3, -3e-4, 0.0, 3e-4, 1e-3)]
        return np.nanmax(np.where(np.isfinite(values), values, 0.0), axis=0)


def check_special_more(case: Case) -> None:
    import torch

    name, dtype = case.kind.split()[1:]
    xs = case.numpy_inputs()
    got, grads = cases.leaf_grads(cases.adjit, case, case.bind(cases.adjit), True)
    want, tgrads = cases.leaf_grads(torch, case, case.bind(torch), True)
    got, want = cases.to_numpy(got), cases.to_numpy(want)
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}"
    compiled = cases.to_numpy(cases.compiled(case)(*case.inputs(cases.adjit)))
    if name != "erfcx":  # (erfcx is a decomposition: fused, a few ulps from eager)
        assert np.array_equal(compiled, got, equal_nan=True), f"{name}: compiled != eager"
    x = np.broadcast_to(xs[0], got.shape)
    skip = np.zeros(got.shape, bool)
    with np.errstate(all="ignore"):
        wide = _torch64(case, xs)
        if name in POLYNOMIALS:
            skip |= np.isnan(x)
        if dtype == "float32":
            skip |= np.abs(wide) > 1e36
            if name in BINARY[:2]:
                skip |= np.abs(wide) < np.finfo(np.float32).tiny * 2**20
    kind_differs = ~skip & ~((got == want) | (np.isnan(got) & np.isnan(want)))
    kind_differs &= ~(np.isfinite(got) & np.isfinite(want))
    bad = np.flatnonzero(kind_differs)
    assert not bad.size, f"{name} {dtype}: at {x.flat[bad[0]]!r} got {got.flat[bad[0]]}, want " + (
        f"{want.flat[bad[0]]}"
    )
    scale = np.maximum(_scale(case, xs), np.abs(want.astype(np.float64)))
    if name in ("bessel_y0", "bessel_y1"):  # below 5: a rational function plus the term
        with np.errstate(all="ignore"):
            t = torch.from_numpy(x.astype(np.float64))
            j0, j1 = torch.special.bessel_j0(t).numpy(), torch.special.bessel_j1(t).numpy()
            term = j0 * np.log(x) if name == "bessel_y0" else j1 * np.log(x) - 1 / x
            term = np.where((x > 0) & (x <= 5), np.abs(2 / np.pi * term), 0.0)
        scale = np.maximum(scale, np.nan_to_num(term, nan=0.0, posinf=0.0))
    with np.errstate(all="ignore"):
        size = np.maximum(scale, np.finfo(dtype).tiny).astype(dtype)
        d = np.abs(got.astype(np.float64) - want) / np.spacing(size).astype(np.float64)
    d = np.where(skip | (got == want) | ~np.isfinite(d), 0.0, d)
    if name in POLYNOMIALS:
        # per step, in ulps of the largest P_k(x), k <= n, the recurrence passed through (a
        # Python-int degree is not among the inputs: the largest drawn, 40)
        n = np.broadcast_to(np.asarray(xs[1] if len(xs) > 1 else 40.0, np.float64), d.shape)
        fn = getattr(torch.special, name)
        t = torch.from_numpy(x.astype(np.float64))
        with np.errstate(all="ignore"):
            terms = [np.where(k <= n, np.abs(fn(t, float(k)).numpy()), 0.0) for k in range(41)]
            top = np.nan_to_num(np.max(terms, axis=0), nan=0.0, posinf=0.0)
            size = np.maximum(np.maximum(scale, top), np.finfo(dtype).tiny).astype(dtype)
            d = np.abs(got.astype(np.float64) - want) / np.spacing(size).astype(np.float64)
        d = np.where(skip | (got == want) | ~np.isfinite(d), 0.0, d)
        d = d / np.maximum(np.abs(n), 1.0)
    elif name in BINARY[:2]:  # the prefactor's exponent, of size |log P|, rounds (test file)
        d = d / np.maximum(np.abs(np.log(np.abs(wide) + 1e-300)), 1.0)
    d = np.nan_to_num(d, nan=0.0)  # (a NaN both sides: compared above)
    if name == "erfcx":
        with np.errstate(all="ignore"):
            c = np.abs(compiled.astype(np.float64) - got) / np.spacing(size).astype(np.float64)
        c = np.where((compiled == got) | (np.isnan(compiled) & np.isnan(got)), 0.0, c)
        # (1 - erf(x) below 1 carries erf's last bit, about 5 ulps of the result at x = 0.95)
        assert np.nan_to_num(c, nan=1e30).max() <= 8, f"erfcx {dtype}: compiled {c.max()} ulp"
    i = int(np.argmax(d))
    assert d.flat[i] <= BOUND, (
        f"{name} {dtype}: {d.flat[i]:.3g} ulp at {x.flat[i]!r}: got {got.flat[i]}, "
        f"want {want.flat[i]}"
    )
    eps = float(np.finfo(dtype).eps)
    for g, tg in zip(grads, tgrads, strict=True):
        if tg is None:
            assert g is None
            continue
        a, b = cases.to_numpy(g), cases.to_numpy(tg)
        with np.errstate(all="ignore"):
            # the formulas' own cancellation: erfcx' = 2 x erfcx(x) - 2 / sqrt(pi), and igamma's
            # exp of an exponent of size |log g| (each rounded in the dtype, as PyTorch does)
            if name == "erfcx":
                terms = np.abs(2 * x * want) + 1.2
            else:
                terms = np.abs(b) * np.maximum(np.abs(np.log(np.abs(b))), 1.0)
            tol = GRAD_RTOL[dtype] * np.abs(b) + 16 * eps * terms
            ok = (np.abs(a - b) <= tol) | (np.isnan(a) & np.isnan(b)) | ~np.isfinite(b)
        ok |= skip | (np.abs(b) < np.finfo(dtype).tiny * 2**20)
        assert ok.all(), f"{name} {dtype} gradient: got {a[~ok][:3]}, want {b[~ok][:3]}"
