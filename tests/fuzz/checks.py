"""Differential checks of one program: compiled, eager, adjit.grad, differences, PyTorch."""

# Tolerances (per program; ``depth`` is the longest chain of statements):
# - values and gradients are compared normwise: |a - b| <= rtol * max(1, max|reference|), so a
#   cancellation that leaves a small element next to large ones is not flagged;
# - float32: rtol = 2e-6 * (depth + 1). Each op rounds once (eps = 6e-8) and the compiled side
#   may reassociate (CSE, algebraic rules, other reduction orders, vectorized LLVM math): a few
#   ulp per level, times the conditioning of our bounded ops (values below MAX_BOUND = 30) --
#   2e-6 per level is ~30 ulp; PyTorch's kernels differ from NumPy's by the same amounts;
# - float64: rtol = 1e-12 * (depth + 1), the same reasoning with eps = 1.1e-16;
# - finite differences: :func:`adjit.testing.assert_grads_match` in float64 (its own tolerance);
#   skipped when the program holds a no_grad region or a detach, since differences see through
#   those and autodiff (by design) does not.

from __future__ import annotations

import importlib.util
from collections import Counter
from typing import Any

import numpy as np

import adjit
from adjit.testing import assert_grads_match

from .programs import Program

MARGIN = 1e-3  # inputs closer than this to a kink or branch point are rejected
HAS_TORCH = importlib.util.find_spec("torch") is not None
STATS: Counter[str] = Counter()  # how many times each check ran, for the long-run summary


def rtol(p: Program) -> float:
    return (2e-6 if p.dtype == "float32" else 1e-12) * (p.depth + 1)


def leaves(T: Any, p: Program) -> list[Any]:
    """Fresh input tensors of module T (adjit or torch) with the program's flags."""
    dtype = getattr(T, p.dtype)
    return [
        T.from_numpy(a).to(dtype).requires_grad_(inp.requires_grad)
        for a, inp in zip(p.arrays(), p.inputs, strict=True)
    ]


def cotangent(p: Program, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(p.seed ^ 0x5EED).uniform(0.5, 1.5, shape)


def near_kink(p: Program) -> bool:
    """Whether the inputs fall within MARGIN of a kink (checked in float64, eagerly)."""
    xs = [adjit.from_numpy(a) for a in p.arrays()]
    return p.margin(adjit, xs) < MARGIN


def assert_close(got: Any, want: Any, tol: float, what: str) -> None:
    g = np.asarray(got.detach().numpy() if hasattr(got, "detach") else got, dtype=np.float64)
    w = np.asarray(want.detach().numpy() if hasattr(want, "detach") else want, dtype=np.float64)
    assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
    scale = max(1.0, float(np.abs(w).max(initial=0.0)))
    err = float(np.abs(g - w).max(initial=0.0))
    assert np.isfinite(g).all() == np.isfinite(w).all(), f"{what}: non-finite values differ"
    assert err <= tol * scale, f"{what}: max abs error {err:.3g} > {tol:.3g} * {scale:.3g}"


def run_backward(T: Any, p: Program, fn: Any) -> tuple[Any, list[Any]]:
    """``out = fn(*xs)`` and ``out.backward(cotangent)``: the output and each input's .grad."""
    xs = leaves(T, p)
    out = fn(*xs)
    # a leaf output is its own gradient; a view made under no_grad requires grad but nothing
    # reaches it (PyTorch and adjit eager both refuse its backward)
    if out.requires_grad and (out.grad_fn is not None or any(out is x for x in xs)):
        out.backward(T.from_numpy(cotangent(p, tuple(out.shape))).to(out.dtype))
    return out, [x.grad for x in xs]


def check_compiled(p: Program) -> tuple[Any, list[Any]]:
    """Compiled values and backward gradients equal eager ones; returns the eager results."""
    tol = rtol(p)
    eager, eager_grads = run_backward(adjit, p, p.bind(adjit))
    cf = adjit.compile(p.bind(adjit))
    for call in ("first call", "cached call"):
        out, grads = run_backward(adjit, p, cf)
        assert out.dtype == eager.dtype, f"compiled dtype {out.dtype} != eager {eager.dtype}"
        if not p.stops_gradients:
            # a compiled output that is a no_grad view of an intermediate says
            # requires_grad=False where eager (like PyTorch) says True; views of inputs are
            # made again eagerly (Entry.realias) and agree
            assert out.requires_grad == eager.requires_grad, f"{call}: requires_grad differs"
        assert_close(out, eager, tol, f"{call}: compiled value vs eager")
        for i, (g, e) in enumerate(zip(grads, eager_grads, strict=True)):
            assert (g is None) == (e is None), f"{call}: x{i}.grad is {g} compiled, {e} eager"
            if g is not None:
                assert_close(g, e, tol, f"{call}: compiled x{i}.grad vs eager")
    STATS["compiled value+backward"] += 1
    return eager, eager_grads


def check_grad(p: Program, eager_grads: list[Any]) -> None:
    """``adjit.grad`` of ``sum(program * cotangent)`` equals eager backward."""
    wrt = tuple(i for i, inp in enumerate(p.inputs) if inp.requires_grad)
    if not wrt:
        return
    fn = p.bind(adjit)
    out_shape = tuple(fn(*leaves(adjit, p)).shape)
    ct = adjit.from_numpy(cotangent(p, out_shape)).to(getattr(adjit, p.dtype))

    def loss(*xs: Any) -> Any:
        return (fn(*xs) * ct).sum()

    grads = adjit.grad(loss, argnums=wrt)(*leaves(adjit, p))
    for i, g in zip(wrt, grads, strict=True):
        e = eager_grads[i]
        want = np.zeros(p.inputs[i].shape) if e is None else e
        assert_close(g, want, rtol(p), f"adjit.grad wrt x{i} vs eager")
    STATS["adjit.grad"] += 1


def check_finite_differences(p: Program) -> None:
    if p.stops_gradients:
        return
    xs = [x.detach() for x in leaves(adjit, p)]
    tol = rtol(p)
    assert_grads_match(p.bind(adjit), *xs, rtol=tol, atol=tol)
    STATS["finite differences"] += 1


def check_torch(p: Program, eager: Any, eager_grads: list[Any]) -> None:
    """The same program through PyTorch: values and gradients equal adjit's eager ones."""
    if not HAS_TORCH:
        return
    import torch

    out, grads = run_backward(torch, p, p.bind(torch))
    tol = rtol(p)
    assert str(out.dtype) == str(eager.dtype), f"torch dtype {out.dtype} != adjit {eager.dtype}"
    assert_close(eager, out, tol, "adjit eager value vs torch")
    assert out.requires_grad == eager.requires_grad, "torch requires_grad differs from adjit"
    for i, (e, t) in enumerate(zip(eager_grads, grads, strict=True)):
        assert (e is None) == (t is None), f"x{i}.grad is {e} in adjit, {t} in torch"
        if t is not None:
            assert_close(e, t, tol, f"adjit eager x{i}.grad vs torch")
    STATS["torch"] += 1


def check_program(p: Program) -> None:
    """Every differential check on one program (the caller rejects near-kink inputs first)."""
    eager, eager_grads = check_compiled(p)
    check_grad(p, eager_grads)
    check_finite_differences(p)
    check_torch(p, eager, eager_grads)
    STATS["programs"] += 1
