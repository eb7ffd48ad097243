"""Complex programs (complex64/complex128 with real, integer and Python-number partners) vs
PyTorch, eager: dtype, shape and every bit through the exactly rounded complex ops."""

# Ops: + - * (PyTorch adds as x + 1*y with a complex multiply: Note in ir/reference.py), ==,
# !=, real, imag, conj, where, cat, view_as_real, complex(), casts up to complex128 and
# isfinite/isnan/nan_to_num. Inputs mix ordinary values with inf, NaN and signed zeros; a
# complex input is built in the program as T.complex(re, im) from two real arrays. Left out:
# neg (PyTorch's vector loop gives 0 - z, its scalar tail -z: a zero's sign depends on the
# position), / abs exp log sqrt sum (PyTorch's vectorized kernels round differently:
# tests/runtime/test_complex_vs_torch.py bounds them in ulps). A product of two complex
# factors multiplies by the second's real part instead: PyTorch's vector loop rounds each of
# ac, bd, ad, bc (as adjit), its scalar tail fuses them (FMA), so its last elements differ by
# an ulp. Compiled code refuses complex (test_complex_vs_torch.py), so eager only.

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case

PARTS = [0.0, -0.0, 1.0, -1.5, 0.1, 1 / 3, 2.5e3, 1e-30, 3e38]
PARTS += [float("inf"), float("-inf"), float("nan")]
DTYPES = ["complex64", "complex128", "float32", "float64", "int64"]
SCALARS = ["2", "-1.5", "0.5j", "(1 - 2j)", "complex(0.0, -0.0)", "True"]
REAL_SCALARS = ["2", "-1.5", "True", "0.25"]
BINARY = ["+", "-", "==", "!="]
UNARY = {
    "real": "{0}.real",
    "imag": "({0}.imag if {0}.is_complex() else {0} * 0)",
    "conj": "{0}.conj().resolve_conj()",
    "isfinite": "{0}.isfinite()",
    "isnan": "{0}.isnan()",
    "nan_to_num": "{0}.nan_to_num()",
    "c128": "{0}.to(T.complex128)",
    "vreal": "((T.view_as_real({0}) if {0}.is_complex() else {0}).sum(-1) if {0}.ndim else {0})",
}


def _parts(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    n = int(np.prod(shape))
    pick = np.array([PARTS[i] for i in rng.integers(0, len(PARTS), n)])
    with np.errstate(over="ignore"):
        out = np.where(rng.random(n) < 0.5, pick, rng.standard_normal(n)).astype(dtype)
    return out.reshape(shape)


@st.composite
def complex_cases(draw: Callable[..., Any]) -> Case:
    shape = draw(st.sampled_from([(), (3,), (2, 3), (1, 3), (4, 1)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kinds = ["complex64", *draw(st.lists(st.sampled_from(DTYPES), min_size=0, max_size=2))]
    arrays: list[str] = []
    body: list[str] = []
    names: list[str] = []
    for kind in kinds:
        s = draw(st.sampled_from([shape, (), shape[1:]]))
        if kind == "int64":
            arrays.append(cases.literal(rng.integers(-5, 5, int(np.prod(s))).reshape(s)))
            names.append(f"x{len(arrays) - 1}")
            continue
        part = {"complex64": "float32", "complex128": "float64"}.get(kind, kind)
        arrays.append(cases.literal(_parts(rng, s, part)))
        if kind.startswith("complex"):
            arrays.append(cases.literal(_parts(rng, s, part)))
            body.append(f"c{len(names)} = T.complex(x{len(arrays) - 2}, x{len(arrays) - 1})")
            names.append(f"c{len(names)}")
        else:
            names.append(f"x{len(arrays) - 1}")
    made: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["binary", "binary", "mul", "unary", "scalar", "where", "cat"]))
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        if kind == "binary":
            expr = f"{a} {draw(st.sampled_from(BINARY))} {b}"
        elif kind == "mul":  # (at most one complex factor: the module note)
            expr = f"{a} * ({b}.real if {a}.is_complex() else {b})"
        elif kind == "scalar":
            op = draw(st.sampled_from(["+", "-", "*"]))
            s = draw(st.sampled_from(REAL_SCALARS if op == "*" else SCALARS))
            expr = f"{s} {op} {a}" if draw(st.booleans()) else f"{a} {op} {s}"
        elif kind == "unary":
            expr = UNARY[draw(st.sampled_from(sorted(UNARY)))].format(a)
        elif kind == "where":
            expr = f"T.where(({a}.real if {a}.is_complex() else {a}) > 0, {a}, {b})"
        else:
            expr = f"T.cat([{a}.reshape(-1), {b}.reshape(-1)])"
        name = f"v{len(made)}"
        body.append(f"{name} = {expr}")
        names.append(name)
        made.append(name)
    body.append(f"return [{', '.join(made)}]")
    return Case("complex", body, arrays, [False] * len(arrays))


def _compare(got: Any, want: Any) -> None:
    if cases.same_raise(got, want, "adjit eager vs PyTorch"):
        return
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert cases.dtype_name(g) == cases.dtype_name(w), f"v{k}: {g.dtype} != {w.dtype}"
        gv, wv = np.asarray(g.numpy()), np.asarray(w.resolve_conj().numpy())
        assert gv.shape == wv.shape, f"v{k}: shape {gv.shape} != {wv.shape}"
        for gp, wp in ((np.real(gv), np.real(wv)), (np.imag(gv), np.imag(wv))):
            gp, wp = np.asarray(gp, np.float64), np.asarray(wp, np.float64)
            same = (gp == wp) & (np.signbit(gp) == np.signbit(wp)) | (np.isnan(gp) & np.isnan(wp))
            bad = np.flatnonzero(~same)
            assert not bad.size, f"v{k}: {gv.flat[bad[0]]!r} != {wv.flat[bad[0]]!r}"


def check_complex(case: Case) -> None:
    """Every value adjit makes equals PyTorch's in dtype, shape and bits (NaN as NaN), or
    both raise."""
    import torch

    want = cases.outcome(lambda: case.bind(torch)(*case.inputs(torch)))
    got = cases.outcome(lambda: case.bind(cases.adjit)(*case.inputs(cases.adjit)))
    _compare(got, want)
