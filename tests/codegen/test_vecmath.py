"""Compiled vecmath kernels: max ulp error over wide ranges, exact special values, vectorization."""

from __future__ import annotations

import functools
import math
import re
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from adjit.codegen import vecmath
from jit_util import Kernel, compile_loop, ulp_distance

F32, F64 = np.float32, np.float64
LD = np.longdouble
DTYPES = [F32, F64]
INF, NAN = math.inf, math.nan
_erf = np.frompyfunc(math.erf, 1, 1)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """PyTorch's 1 / (1 + e**-x): the exact value, but 0 where e**-x overflows the format
    (x below about -88.7 in float32), as PyTorch's and the reference rule's."""
    narrow = F32 if x.dtype == F64 else F64  # the format the kernel computes in
    overflows = np.isinf(np.exp(-x.astype(narrow)))
    return np.where(overflows, 0.0, 1 / (1 + np.exp(-x)))


# name -> (reference on float64 / long double inputs, max ulp float32, max ulp float64,
#          dense range, whole-range sampling: "all", "pos" (x > 0) or "none")
CASES: dict[str, tuple[Callable, int, int, tuple[float, float], str]] = {
    "exp": (np.exp, 2, 2, (-110.0, 90.0), "all"),
    "log": (np.log, 2, 2, (0.0, 4.0), "pos"),
    "log1p": (np.log1p, 2, 2, (-1.0, 4.0), "pos"),
    "sigmoid": (_sigmoid, 2, 2, (-120.0, 120.0), "all"),
    # float64 tanh: 2.55 ulp at x = 0.2027796219876059 (mpmath), found in 3e7 samples
    "tanh": (np.tanh, 2, 3, (-12.0, 12.0), "all"),
    "sqrt": (np.sqrt, 0, 0, (0.0, 4.0), "pos"),
    "sin": (np.sin, 2, 2, (-10.0, 10.0), "all"),
    "cos": (np.cos, 2, 2, (-10.0, 10.0), "all"),
    "erf": (_erf, 4, 4, (-7.0, 7.0), "all"),
}
# where sin/cos switch from Cody-Waite to Payne-Hanek (Note [trig range reduction])
TRIG_SWITCH = {F32: 2.0**18, F64: 2.0**40}
# references exact in float64 for float32 results; long double for float64 except where the
# double reference is already correctly rounded (sqrt) or long double has no kernel (erf)
DOUBLE_REF_FOR_F64 = {"sqrt", "erf"}


@functools.cache
def kernel(name: str, dtype: type) -> Kernel:
    if name in vecmath.BINARY_MATH:
        return compile_loop(vecmath.BINARY_MATH[name], dtype, 2)
    return compile_loop(vecmath.MATH[name], dtype)


def reference(name: str, fn: Callable, x: np.ndarray) -> np.ndarray:
    wide = x.astype(F64 if x.dtype == F32 or name in DOUBLE_REF_FOR_F64 else LD)
    with np.errstate(all="ignore"):
        return np.asarray(fn(wide), dtype=wide.dtype).astype(x.dtype)


def log_uniform(rng: np.random.Generator, dtype: type, n: int, lo: float, hi: float) -> np.ndarray:
    """|x| log-uniform in [lo, hi] with random signs."""
    mag = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    return (mag * rng.choice([-1.0, 1.0], n)).astype(dtype)


def samples(name: str, dtype: type) -> np.ndarray:
    # a fixed seed per case (hash() of a str changes with every process)
    rng = np.random.default_rng(zlib.crc32(f"{name}-{dtype.__name__}".encode()))
    _, _, _, (lo, hi), whole = CASES[name]
    info = np.finfo(dtype)
    parts = [rng.uniform(lo, hi, 200_000).astype(dtype)]
    if whole != "none":
        w = log_uniform(rng, dtype, 150_000, float(info.smallest_subnormal), float(info.max))
        parts.append(np.abs(w) if whole == "pos" else w)
    if name in ("sin", "cos"):
        parts.append(log_uniform(rng, dtype, 150_000, 1e-30, TRIG_SWITCH[dtype]))
        parts.append(
            log_uniform(rng, dtype, 20_000, TRIG_SWITCH[dtype] / 2, TRIG_SWITCH[dtype] * 2)
        )
    if name in ("log1p", "tanh", "erf", "sin"):
        parts.append(log_uniform(rng, dtype, 50_000, 1e-30, 1.0))
    return np.concatenate(parts)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", sorted(CASES))
def test_max_ulp(name: str, dtype: type) -> None:
    fn, ulp32, ulp64, _, _ = CASES[name]
    x = samples(name, dtype)
    got, want = kernel(name, dtype)(x), reference(name, fn, x)
    d = ulp_distance(got, want)
    i = int(np.argmax(d))
    limit = ulp32 if dtype is F32 else ulp64
    assert d[i] <= limit, (
        f"{name} {dtype.__name__}: {d[i]} ulp at x={x[i]!r}: {got[i]!r} vs {want[i]!r}"
    )


# name -> rows of (input, expected); expected compared bit for bit (so the sign of 0 counts)
SPECIALS: dict[str, list[tuple[float, float]]] = {
    "exp": [(-INF, 0.0), (INF, INF), (NAN, NAN), (0.0, 1.0), (-0.0, 1.0), (1e4, INF), (-1e4, 0.0)],
    "log": [
        (0.0, -INF),
        (-0.0, -INF),
        (-1.0, NAN),
        (-INF, NAN),
        (INF, INF),
        (1.0, 0.0),
        (NAN, NAN),
    ],
    "log1p": [(-1.0, -INF), (-2.0, NAN), (-0.0, -0.0), (0.0, 0.0), (INF, INF), (NAN, NAN)],
    "sin": [(-0.0, -0.0), (0.0, 0.0), (INF, NAN), (-INF, NAN), (NAN, NAN)],
    "cos": [(0.0, 1.0), (-0.0, 1.0), (INF, NAN), (-INF, NAN), (NAN, NAN)],
    "tanh": [(-0.0, -0.0), (0.0, 0.0), (INF, 1.0), (-INF, -1.0), (NAN, NAN), (30.0, 1.0)],
    "sigmoid": [(INF, 1.0), (-INF, 0.0), (0.0, 0.5), (-0.0, 0.5), (NAN, NAN)],
    "erf": [(-0.0, -0.0), (0.0, 0.0), (INF, 1.0), (-INF, -1.0), (NAN, NAN), (10.0, 1.0)],
    "sqrt": [(-0.0, -0.0), (0.0, 0.0), (INF, INF), (-1.0, NAN), (4.0, 2.0), (NAN, NAN)],
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", sorted(SPECIALS))
def test_special_values(name: str, dtype: type) -> None:
    x, want = (np.array(col, dtype=dtype) for col in zip(*SPECIALS[name], strict=True))
    got = kernel(name, dtype)(x)
    same = (got.tobytes() == want.tobytes()) or bool(
        np.all(
            (got == want) & (np.signbit(got) == np.signbit(want)) | np.isnan(got) & np.isnan(want)
        )
    )
    assert same, f"{name} {dtype.__name__}: {list(zip(x, got, want, strict=True))}"


POW_SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, INF, -INF, NAN, 1e10, -1e10]
POW_SPECIAL_Y = POW_SPECIAL + [2.5, -2.5, 0.25, 1e30, -1e30, 3e9 + 1, -(3e9 + 1)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_pow_special_values_match_numpy(dtype: type) -> None:
    x, y = (a.ravel().astype(dtype) for a in np.meshgrid(POW_SPECIAL, POW_SPECIAL_Y))
    got = kernel("pow", dtype)(x, y)
    with np.errstate(all="ignore"):
        want = np.power(x, y)
    exact = ~np.isfinite(want) | (want == 0)  # inf, nan and zeros exactly, with their signs
    same = (got == want) & (np.signbit(got) == np.signbit(want)) | np.isnan(got) & np.isnan(want)
    bad = np.where(exact, ~same, ulp_distance(got, want) > 1)
    assert not bad.any(), list(zip(x[bad], y[bad], got[bad], want[bad], strict=True))[:10]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_pow_max_ulp(dtype: type) -> None:
    rng = np.random.default_rng(2)
    n = 100_000
    x = np.concatenate([log_uniform(rng, dtype, n, 1e-4, 1e4), rng.uniform(0.0, 3.0, n)])
    y = np.concatenate([rng.uniform(-30, 30, n), rng.uniform(-200, 200, n)]).astype(dtype)
    ints = rng.integers(-40, 41, n).astype(dtype)
    x = np.concatenate([np.abs(x), -(np.abs(x[:n]) ** 0.25)]).astype(dtype)  # negative bases ...
    y = np.concatenate([y, ints])  # ... with integer exponents
    wide = F64 if dtype is F32 else LD
    with np.errstate(all="ignore"):
        want = np.power(x.astype(wide), y.astype(wide)).astype(dtype)
    got = kernel("pow", dtype)(x, y)
    tiny = np.finfo(dtype).tiny
    ordinary = np.isfinite(want) & (np.abs(want) >= tiny)
    d = ulp_distance(got[ordinary], want[ordinary])
    i = int(np.argmax(d))
    xs, ys = x[ordinary][i], y[ordinary][i]
    assert d[i] <= 4, f"pow {dtype.__name__}: {d[i]} ulp at x={xs!r}, y={ys!r}"


LIBM_CALL = re.compile(r"call [^\n]*@(llvm\.(exp|exp2|log|log2|sin|cos|pow|tanh)|[a-z0-9_]+f?)\(")
RARE_PATH = {"sin", "cos"}  # functions with a rare slow path (Note [rare slow paths])


def _function(text: str, name: str) -> str:
    """The body of one function of an LLVM module's text."""
    m = re.search(rf"^define [^\n]*@{name}\(.*?^}}$", text, re.M | re.S)
    assert m is not None, f"no function {name}"
    return m.group(0)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", sorted(vecmath.MATH) + sorted(vecmath.BINARY_MATH))
def test_loops_vectorize_without_libm(name: str, dtype: type) -> None:
    """The loop itself runs full-width vectors (8 floats/4 doubles on AVX2, 16/8 on AVX-512);
    no libm call anywhere; the only other calls go to the module's own rare-path functions,
    and from the vector loop only to their vector versions for the rare lanes (the per-vector
    test is inlined, Note [rare slow paths])."""
    text = kernel(name, dtype).optimized_ir
    loop = _function(text, "kernel")
    assert re.search(r"<(8|16) x float>" if dtype is F32 else r"<(4|8|16) x double>", loop), name
    own = set(re.findall(r"^define [^@]*@(\w+)\(", text, re.M)) - {"kernel"}
    calls = [m.group(0) for m in re.finditer(r"call [^\n]*", text) if "@llvm." not in m.group(0)]
    foreign = [c for c in calls if not any(f"@{f}(" in c for f in own)]
    rest = "\n".join(ln for ln in text.splitlines() if not any(f"@{f}(" in ln for f in own))
    assert not foreign and not LIBM_CALL.search(rest.replace("@llvm.fma", "")), foreign
    assert "vector.body:" in loop, f"{name}: no vector loop"
    # the per-vector test is inlined; what is left is the call for the rare lanes
    assert not re.search(r"@adjit\w+_v\d+\(", loop), "vector test not inlined"
    rare = re.findall(r"call [^@\n]*@(adjit\w+_v(?:2|4|8|16)_rare)\(", loop)
    assert bool(rare) == (name in RARE_PATH), rare


def test_emit_table_and_errors() -> None:
    assert set(vecmath.MATH) >= {"exp", "log", "log1p", "sin", "cos", "tanh", "sigmoid", "erf"}
    with pytest.raises(KeyError, match="no vecmath 'expm2'"):
        vecmath.emit("expm2", None, None)  # type: ignore[arg-type]
