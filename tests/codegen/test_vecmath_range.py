"""Every vecmath function over the whole exponent range of float32 and float64, against mpmath.

Inputs: every binary exponent (subnormals included) with random significands, both signs, the
values where argument reductions are hardest (the floats closest to multiples of pi/2), and
NaN, +-inf, +-0, the smallest and largest subnormals and the largest finite value. References are
computed by mpmath (shipped with sympy) at 160 bits and rounded to the result type; the bound
per function is stated in ULPS below (the same as Note [vecmath accuracy]).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import pytest
from adjit.codegen import vecmath
from jit_util import Kernel, compile_loop, ulp_distance

mpmath = pytest.importorskip("mpmath")

F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]
PREC = 160


def _real(f: Callable) -> Callable:
    """mpmath's f, NaN where the result is complex (log, sqrt of negatives)."""

    def g(*xs: object) -> object:
        y = f(*xs)
        return mpmath.mpf("nan") if isinstance(y, mpmath.mpc) else y

    return g


def _sigmoid(x: object) -> object:
    return 1 / (1 + mpmath.exp(-x))


REF: dict[str, Callable] = {
    "exp": mpmath.exp,
    "log": _real(mpmath.log),
    "log1p": _real(mpmath.log1p),
    "sin": mpmath.sin,
    "cos": mpmath.cos,
    "tanh": mpmath.tanh,
    "sigmoid": _sigmoid,
    "erf": mpmath.erf,
    "sqrt": _real(mpmath.sqrt),
    "pow": _real(mpmath.power),
}
# max error in ulps of the result type (float32, float64) over the whole range
ULPS: dict[str, tuple[int, int]] = {
    "exp": (2, 2),
    "log": (2, 2),
    "log1p": (2, 2),
    "sin": (2, 2),
    "cos": (2, 2),
    "tanh": (2, 3),  # float64: 2.55 ulp at x = 0.2027796219876059
    "sigmoid": (2, 2),
    "erf": (4, 4),
    "sqrt": (0, 0),
    "pow": (4, 4),
}
# float32 x = M * 2**q and float64 ones whose x * 2/pi is closest to an integer (the hardest
# reductions: 2**-29.9 and 2**-60.9 away), and neighbours
HARD: dict[type, list[float]] = {
    F32: [16367173 * 2.0**72, 10741887 * 2.0**11, 16573937 * 2.0**-16, 13176795 * 2.0**-22],
    F64: [
        6381956970095103 * 2.0**797,
        5261692873635770 * 2.0**499,
        8248251512623681 * 2.0**-28,
        0.2027796219876059,  # not a reduction: tanh's worst float64 point found (2.55 ulp)
    ],
}


def test_every_function_has_a_reference_and_a_bound() -> None:
    names = set(vecmath.MATH) | set(vecmath.BINARY_MATH)
    assert names == set(REF) == set(ULPS), "a vecmath function without a full-range test"


@functools.cache
def kernel(name: str, dtype: type) -> Kernel:
    if name in vecmath.BINARY_MATH:
        return compile_loop(vecmath.BINARY_MATH[name], dtype, 2)
    return compile_loop(vecmath.MATH[name], dtype)


def specials(dtype: type) -> list[float]:
    info = np.finfo(dtype)
    edges = [0.0, float(info.smallest_subnormal), float(info.tiny) * (1 - 2.0**-info.nmant)]
    edges += [float(info.tiny), 1.0, float(info.max), math.inf]
    return [s * v for v in edges for s in (1.0, -1.0)] + [math.nan]


# random significands per binary exponent (float64 has 8 times more exponents)
PER_EXPONENT = {F32: 4, F64: 1}


def every_exponent(dtype: type, seed: int) -> np.ndarray:
    """PER_EXPONENT random significands per binary exponent (subnormal ones included), both
    signs."""
    rng = np.random.default_rng(seed)
    info = np.finfo(dtype)
    lo = int(np.log2(float(info.smallest_subnormal)))
    exps = np.repeat(np.arange(lo, info.maxexp), PER_EXPONENT[dtype])
    mag = np.ldexp(rng.uniform(1.0, 2.0, exps.size), exps)
    with np.errstate(over="ignore"):
        x = np.concatenate([mag, -mag]).astype(dtype)
    return x[np.isfinite(x)]


def reference(name: str, dtype: type, *xs: np.ndarray) -> np.ndarray:
    """mpmath at PREC bits, rounded to float64 then to the result type."""
    f = REF[name]
    out = np.empty(xs[0].shape, dtype=F64)
    with mpmath.workprec(PREC):
        for i, args in enumerate(zip(*xs, strict=True)):
            vals = [float(a) for a in args]
            if any(math.isnan(v) for v in vals):
                out[i] = math.nan
                continue
            try:
                out[i] = float(f(*[mpmath.mpf(v) for v in vals]))
            except (ZeroDivisionError, ValueError):
                out[i] = math.nan
    with np.errstate(over="ignore"):
        return out.astype(dtype)


def _edge_cases(name: str, dtype: type, x: np.ndarray, want: np.ndarray) -> np.ndarray:
    """IEEE conventions mpmath does not follow: log(+-0) = -inf, log1p(-1) = -inf, f(+-inf)."""
    with np.errstate(all="ignore"):
        wide = x.astype(F64)
        ieee = {
            "exp": np.exp,
            "log": np.log,
            "log1p": np.log1p,
            "sin": np.sin,
            "cos": np.cos,
            "tanh": np.tanh,
            "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
            "erf": np.vectorize(math.erf, otypes=[F64]),
            "sqrt": np.sqrt,
        }[name](wide).astype(dtype)
    edge = np.isinf(x) | (x == 0) | (name == "log1p") & (x == -1)
    return np.where(edge, ieee, want)


def check(name: str, dtype: type, got: np.ndarray, want: np.ndarray, *xs: np.ndarray) -> None:
    """Within the function's bound in ulps; NaN, inf and zero (with its sign) exactly."""
    limit = ULPS[name][0 if dtype is F32 else 1]
    d = ulp_distance(got, want)
    exact = np.isnan(want) | np.isinf(want) | (want == 0)
    same = (got == want) & (np.signbit(got) == np.signbit(want)) | np.isnan(got) & np.isnan(want)
    bad = np.where(exact, ~same, d > limit)
    if bad.any():
        i = int(np.argmax(np.where(bad, np.minimum(d, 2**62), -1)))
        args = ", ".join(repr(a[i]) for a in xs)
        pytest.fail(
            f"{name} {dtype.__name__}({args}) = {got[i]!r}, want {want[i]!r} "
            f"({d[i]} ulp > {limit}); {int(bad.sum())} bad of {bad.size}"
        )


UNARY = sorted(vecmath.MATH)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", UNARY)
def test_whole_range(name: str, dtype: type) -> None:
    x = np.concatenate(
        [
            every_exponent(dtype, seed=len(name)),
            np.array(specials(dtype) + HARD[dtype], dtype=dtype),
            -np.array(HARD[dtype], dtype=dtype),
        ]
    )
    got = kernel(name, dtype)(x)
    want = _edge_cases(name, dtype, x, reference(name, dtype, x))
    check(name, dtype, got, want, x)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_pow_whole_range(dtype: type) -> None:
    """x over every exponent with exponents y that keep |x|**y finite and nonzero for part of
    the range, integer y with negative bases, and the special values as x and as y."""
    rng = np.random.default_rng(3)
    x = every_exponent(dtype, seed=7)
    y = rng.choice([0.5, -0.5, 2.0, -1.0, 3.0, 1 / 3, 1.5, -2.5], x.size).astype(dtype)
    sp = np.array(specials(dtype), dtype=dtype)
    sx, sy = (a.ravel() for a in np.meshgrid(sp, np.array([0.5, -1.0, 2.0, 3.0], dtype=dtype)))
    tx, ty = (a.ravel() for a in np.meshgrid(np.array([2.0, 0.5, -2.0], dtype=dtype), sp))
    x, y = np.concatenate([x, sx, tx]), np.concatenate([y, sy, ty])
    got = kernel("pow", dtype)(x, y)
    with np.errstate(all="ignore"):
        ieee = np.power(x.astype(F64), y.astype(F64)).astype(dtype)
    edge = ~np.isfinite(x) | ~np.isfinite(y) | (x == 0) | (y == 0) | ~np.isfinite(ieee)
    want = np.where(edge, ieee, reference("pow", dtype, x, y))
    check("pow", dtype, got, want, x, y)
