"""Complex programs under autograd vs PyTorch: complex128/float64 inputs that require grad, 1-5
differentiable ops (holomorphic functions, abs/angle/sgn, real/imag/conj, mixed real-complex
arithmetic with broadcasting, Python scalars, complex()/polar(), where, reductions, matmul and
vdot), then one
backward with drawn cotangents; each input's gradient against torch.autograd's.

Values are finite normal draws (no point of a branch cut or a zero, where the gradient is a
convention that tests/runtime/test_complex_autograd_vs_torch.py checks by row); gradients agree
to 1e-9 of the largest one (NumPy's and PyTorch's complex kernels round apart, and a chain of
ops multiplies the rounding); an element PyTorch makes non-finite (an overflow) is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from . import cases
from .cases import Case

UNARY = {
    "exp": "({0} * 0.5).exp()",
    "log": "{0}.log()",
    "sqrt": "{0}.sqrt()",
    "sin": "{0}.sin()",
    "cos": "T.cos({0})",
    "tanh": "{0}.tanh()",
    "log1p": "{0}.log1p()",
    "reciprocal": "({0} + 2).reciprocal()",
    "square": "{0}.square()",
    "pow": "{0} ** 2.5",
    "abs": "{0}.abs()",
    "angle": "{0}.angle()",
    "sgn": "{0}.sgn()",
    "conj": "{0}.conj().resolve_conj()",
    "real": "{0}.real",
    "imag": "{0}.imag",
    "neg": "-{0}",
    "sum": "{0}.sum(-1, keepdim=True)",
    "mean": "{0}.mean()",
    "view_as_real": "T.view_as_real({0}).sum(-1)",
    "gram": "({0} @ {0}.mH if {0}.ndim == 2 else T.vdot({0}.reshape(-1), {0}.reshape(-1) + 1))",
}
SCALAR = ["{0} * (1 - 2j)", "{0} + 0.5j", "{0} / (2 + 1j)", "2 ** {0}", "(0.5 - 1j) - {0}"]
BINARY = ["+", "-", "*", "/"]


@st.composite
def complex_grad_cases(draw: Callable[..., Any]) -> Case:
    shape = draw(st.sampled_from([(3,), (2, 3), (1, 3), ()]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    arrays: list[str] = []
    body: list[str] = []
    names: list[str] = []
    for kind in ["complex", *draw(st.lists(st.sampled_from(["complex", "real"]), max_size=2))]:
        s = draw(st.sampled_from([shape, shape[1:]]))
        v = rng.standard_normal(s) + (1j * rng.standard_normal(s) if kind == "complex" else 0)
        arrays.append(cases.literal(np.asarray(v)))
        names.append(f"x{len(arrays) - 1}")
    made: list[str] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["unary", "unary", "binary", "scalar", "where", "make"]))
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        if kind == "unary":
            expr = UNARY[draw(st.sampled_from(sorted(UNARY)))].format(a)
            expr = f"({expr} if {a}.is_complex() else {a}.exp())"  # (real: a plain function)
        elif kind == "binary":
            expr = f"{a} {draw(st.sampled_from(BINARY))} {b}"
        elif kind == "scalar":
            expr = draw(st.sampled_from(SCALAR)).format(a)
        elif kind == "where":
            # (one dtype: PyTorch's where backward fails an internal assert on a real and a
            # complex branch, where adjit gives the real branch the real part)
            other = f"{a} * (2j if {a}.is_complex() else 2)"
            expr = f"T.where(({b}.real if {b}.is_complex() else {b}) > 0, {a}, {other})"
        else:  # complex()/polar() of two real values
            fn = draw(st.sampled_from(["complex", "polar"]))
            ra, rb = (f"({n}.abs() if {n}.is_complex() else {n})" for n in (a, b))
            ra = f"({ra}.abs() + 0.5)" if fn == "polar" else ra
            expr = f"T.{fn}(*T.broadcast_tensors({ra}, {rb}))"
        name = f"v{len(made)}"
        body.append(f"{name} = {expr}")
        names.append(name)
        made.append(name)
    body.append(f"return [{', '.join(made)}]")
    return Case("complex_grad", body, arrays, [True] * len(arrays))


def _gradients(case: Case, T: Any) -> list[Any]:
    xs = case.inputs(T)
    outs = case.bind(T)(*xs)
    rng = np.random.default_rng(0)
    roots, cots = [], []
    for v in outs:
        if not v.requires_grad:
            continue
        c = rng.standard_normal(tuple(v.shape))
        if v.is_complex():
            c = c + 1j * rng.standard_normal(tuple(v.shape))
        roots.append(v)
        cots.append(T.tensor(c, dtype=v.dtype))
    T.autograd.backward(roots, cots)
    return [x.grad for x in xs]


def check_complex_grad(case: Case) -> None:
    """Each input's gradient: PyTorch's dtype and shape, values within 1e-9 of the largest
    (both None where no output depends on the input), or both raise."""
    import torch

    want = cases.outcome(lambda: _gradients(case, torch))
    got = cases.outcome(lambda: _gradients(case, cases.adjit))
    if cases.same_raise(got, want, "adjit eager vs PyTorch"):
        return
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is None:
            assert g is None, f"x{k}: adjit has a gradient, PyTorch None"
            continue
        assert g is not None, f"x{k}: adjit has no gradient"
        assert cases.dtype_name(g) == cases.dtype_name(w), f"x{k}: {g.dtype} != {w.dtype}"
        gv = np.asarray(g.numpy(), np.complex128)
        wv = np.asarray(w.resolve_conj().numpy(), np.complex128)
        assert gv.shape == wv.shape, f"x{k}: shape {gv.shape} != {wv.shape}"
        finite = np.isfinite(wv)
        scale = max(1.0, float(np.abs(wv[finite]).max(initial=0.0)))
        with np.errstate(invalid="ignore"):  # (inf - inf where PyTorch's is skipped)
            bad = np.flatnonzero(finite & ~(np.abs(gv - wv) <= 1e-9 * scale))
        assert not bad.size, f"x{k}: {gv.flat[bad[0]]!r} != {wv.flat[bad[0]]!r}"
