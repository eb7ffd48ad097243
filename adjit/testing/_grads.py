"""Compiled gradients checked against eager ones, float64 and finite differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import adjit
from adjit.frontend.compile import CompiledFunction
from adjit.ir.graph import Var
from adjit.runtime.tensor import Tensor

# compiled vs eager in the arguments' own precision: same math, other association and other
# transcendental approximations -> a few ulp per op, amplified by the program's conditioning
DEFAULT_TOLERANCES = {"float32": (1e-4, 1e-5), "float64": (1e-7, 1e-9)}
FD_EPS = 1e-6  # central differences in float64: truncation ~eps^2, rounding ~1e-16/eps
FD_TOLERANCE = (1e-5, 1e-6)


@dataclass
class _Grads:
    eager: list[np.ndarray | None]
    compiled: list[np.ndarray | None]


def _leaves(args: tuple[Any, ...], dtype: Any = None) -> list[Any]:
    out = []
    for a in args:
        if isinstance(a, Tensor) and a.dtype.is_floating_point:
            t = a.detach().clone() if dtype is None else a.detach().to(dtype)
            out.append(t.requires_grad_(True))
        else:
            out.append(a)
    return out


def _cotangent(out: Tensor) -> Tensor:
    rng = np.random.default_rng(1234)
    return Tensor._make(rng.standard_normal(out._data.shape).astype(out._data.dtype))


def _grads(fn: Callable[..., Any], args: list[Any]) -> list[np.ndarray | None]:
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError("assert_grads_match needs a function returning one Tensor")
    inputs = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
    gs = adjit.autograd.grad(out, inputs, _cotangent(out), allow_unused=True)
    return [None if g is None else g.detach().numpy().astype(np.float64) for g in gs]


FD_MAX_ELEMENTS = 256  # per input; larger inputs are checked at a seeded random sample


def _finite_differences(fn: Callable[..., Any], args: list[Any]) -> list[dict[int, float]]:
    """Directional central differences of <fn(x), v> per (sampled) element of each input."""
    v = _cotangent(fn(*args)).numpy().astype(np.float64)
    rng = np.random.default_rng(7)
    result = []
    for a in args:
        if not (isinstance(a, Tensor) and a.requires_grad):
            continue
        n = a._data.size
        picks = (
            range(n)
            if n <= FD_MAX_ELEMENTS
            else sorted(rng.choice(n, FD_MAX_ELEMENTS, replace=False).tolist())
        )
        result.append({k: _difference(fn, args, a, k, v) for k in picks})
    return result


def _difference(fn: Callable[..., Any], args: list[Any], a: Tensor, k: int, v: Any) -> float:
    """The central difference of <fn(x), v> along element ``k`` of input ``a``."""
    flat = a._data.reshape(-1)
    old = flat[k]
    with np.errstate(all="ignore"):
        flat[k] = old + FD_EPS
        plus = float((fn(*args).detach().numpy() * v).sum())
        flat[k] = old - FD_EPS
        minus = float((fn(*args).detach().numpy() * v).sum())
        flat[k] = old
        return (plus - minus) / (2 * FD_EPS)


def _producers(cf: CompiledFunction, args: list[Any], k: int) -> str:
    """The backward IR equation that produces the k-th gradient, with its source line."""
    entry, leaves = cf.graph_for(*args)
    inputs = [x for x in leaves if isinstance(x, Tensor)] + entry.lifted
    wrt = tuple(i for i, t in enumerate(inputs) if t.requires_grad)
    bwd = entry.training(wrt).split.backward
    out = bwd.outputs[k] if k < len(bwd.outputs) else None
    eqn = next((e for e in bwd.eqns if isinstance(out, Var) and e.out is out), None)
    if eqn is None:
        return "(no equation: the gradient is an input or a constant)"
    where = f" (from {eqn.loc})" if eqn.loc else ""
    return f"{eqn.op.name.lower()} -> {eqn.out.aval}{where}{_kernel_of(entry, bwd, eqn)}"


def _kernel_of(entry: Any, graph: Any, eqn: Any) -> str:
    """``, in fused kernel NAME: FORMULA`` for the kernel that computes ``eqn`` (llvm backend)."""
    program = getattr(entry.runner(graph), "program", None)
    for step in getattr(program, "kernels", ()):
        if any(e is eqn for e in step.eqns):
            return f", in backward kernel {step.name}: {step.formula}"
    return ""


def assert_grads_match(
    fn: Callable[..., Any], *args: Any, rtol: float | None = None, atol: float | None = None
) -> None:
    """Compiled gradients equal eager ones (and float64 finite differences where eager is NaN).

    Raises AssertionError naming the input, the element, the values and errors, and the
    backward IR equation that produced the mismatching gradient.
    """
    cf = adjit.compile(fn)
    dtype = next(
        (a.dtype for a in args if isinstance(a, Tensor) and a.is_floating_point()), adjit.float32
    )
    r, a = DEFAULT_TOLERANCES.get(dtype.name, (1e-4, 1e-5))
    rtol, atol = (r if rtol is None else rtol), (a if atol is None else atol)
    grads = _Grads(_grads(fn, _leaves(args)), _grads(cf, _leaves(args)))
    args64 = _leaves(args, adjit.float64)
    fd = _finite_differences(fn, args64)
    compiled64 = _grads(cf, _leaves(args, adjit.float64))
    for k, (e, c) in enumerate(zip(grads.eager, grads.compiled, strict=True)):
        if e is None and c is None:
            continue
        e = np.zeros_like(c) if e is None else e
        c = np.zeros_like(e) if c is None else c
        c64 = np.zeros(e.shape) if compiled64[k] is None else compiled64[k]
        # 1. float64 compiled vs finite differences: catches a wrong derivative anywhere
        for flat_k, value in fd[k].items():
            got = float(c64.reshape(-1)[flat_k])
            if not np.isclose(got, value, rtol=FD_TOLERANCE[0], atol=FD_TOLERANCE[1]):
                idx = np.unravel_index(flat_k, e.shape)
                _fail(
                    cf,
                    args,
                    k,
                    idx,
                    f"float64 compiled {got!r}, finite differences {value!r}",
                    got - value,
                    FD_TOLERANCE,
                )
        # 2. compiled vs eager in the arguments' precision; a compiled gradient may differ
        # from eager's (an untaken `where` branch, a stability rewrite: eager's NaN or inf, or
        # its cancellation) only where float64 finite differences agree with the compiled one
        bad = ~np.isclose(c, e, rtol=rtol, atol=atol, equal_nan=True)
        bad &= ~_confirmed(fn, args64, k, bad, c, fd[k], (rtol, atol))
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            _fail(
                cf,
                args,
                k,
                idx,
                f"compiled {c[idx]!r}, eager {e[idx]!r}",
                c[idx] - e[idx],
                (rtol, atol),
                int(bad.sum()),
                bad.size,
            )


MAX_CONFIRMED = 64  # elements per input checked by extra finite differences (more: a failure)


def _confirmed(
    fn: Callable[..., Any],
    args64: list[Any],
    k: int,
    bad: np.ndarray,
    c: np.ndarray,
    fd: dict[int, float],
    tol: tuple[float, float],
) -> np.ndarray:
    """Which of the ``bad`` elements of gradient ``k`` float64 finite differences confirm: the
    difference is finite and the compiled gradient ``c`` agrees with it (Note [stability
    rewrites] in passes/stability.py, Note [where gradients] in passes/symbolic.py)."""
    ok = np.zeros(bad.shape, dtype=bool)
    flat_bad = np.flatnonzero(bad)
    if flat_bad.size > MAX_CONFIRMED:
        return ok
    a = [x for x in args64 if isinstance(x, Tensor) and x.requires_grad][k]
    v = _cotangent(fn(*args64)).numpy().astype(np.float64) if flat_bad.size else None
    for i in flat_bad.tolist():
        d = fd[i] if i in fd else _difference(fn, args64, a, i, v)
        got = float(c.reshape(-1)[i])
        rtol, atol = max(tol[0], FD_TOLERANCE[0]), max(tol[1], FD_TOLERANCE[1])
        ok.reshape(-1)[i] = np.isfinite(d) and np.isclose(got, d, rtol=rtol, atol=atol)
    return ok


def _fail(
    cf: CompiledFunction,
    args: tuple[Any, ...],
    k: int,
    idx: tuple,
    values: str,
    err: float,
    tol: tuple[float, float],
    n_bad: int = 1,
    n: int = 1,
) -> None:
    count = f"; {n_bad} of {n} elements differ" if n > 1 else ""
    raise AssertionError(
        f"gradient mismatch for input {k} at element {tuple(int(i) for i in idx)}: {values} "
        f"(abs error {abs(err):.3g}, rtol={tol[0]}, atol={tol[1]}{count}); produced by "
        f"backward IR {_producers(cf, _leaves(args), k)}"
    )
