"""``gradcheck`` / ``gradgradcheck``: analytical Jacobians against finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adjit.runtime.backward import grad
from adjit.runtime.grad_mode import enable_grad
from adjit.runtime.tensor import Tensor


class GradcheckError(RuntimeError):
    """Analytical and numerical derivatives disagree."""


def _tuple(x: Any) -> tuple[Any, ...]:
    return tuple(x) if isinstance(x, tuple | list) else (x,)


def _numerical(
    fn: Callable[..., Any], inputs: tuple[Any, ...], i: int, k: int, eps: float
) -> np.ndarray:
    """Central differences of every output element with respect to ``inputs[i]`` element k."""
    x = inputs[i]
    flat = x._data.reshape(-1)
    old = flat[k]
    flat[k] = old + eps
    plus = [o._data.astype(np.float64).reshape(-1).copy() for o in _tuple(fn(*inputs))]
    flat[k] = old - eps
    minus = [o._data.astype(np.float64).reshape(-1).copy() for o in _tuple(fn(*inputs))]
    flat[k] = old
    return np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus, strict=True)])


def _check_jacobians(
    fn: Callable[..., Any],
    inputs: tuple[Any, ...],
    eps: float,
    atol: float,
    rtol: float,
    raise_exception: bool,
) -> bool:
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in diff:
        if inputs[i].dtype.name != "float64":
            import warnings

            warnings.warn(
                f"Input #{i} requires gradient and is not a double precision floating "
                "point. This check will likely fail if all the inputs are not of "
                "double precision floating point.",
                stacklevel=3,
            )
    with enable_grad():
        outs = _tuple(fn(*inputs))
    sizes = [o.numel() for o in outs]
    for i in diff:
        x = inputs[i]
        n = x.numel()
        numerical = np.stack([_numerical(fn, inputs, i, k, eps) for k in range(n)])  # [n, out]
        analytical = np.zeros_like(numerical)
        col = 0
        for o, size in zip(outs, sizes, strict=True):
            for j in range(size):
                if not o.requires_grad:
                    continue
                onehot = np.zeros(size, o._data.dtype)
                onehot[j] = 1
                (g,) = grad(
                    o,
                    x,
                    Tensor._make(onehot.reshape(o._data.shape)),
                    retain_graph=True,
                    allow_unused=True,
                )
                if g is not None:
                    analytical[:, col + j] = g._data.reshape(-1)
            col += size
        if not np.allclose(analytical, numerical, rtol=rtol, atol=atol):
            if not raise_exception:
                return False
            raise GradcheckError(
                f"Jacobian mismatch for output 0 with respect to input {i},\n"
                f"numerical:{Tensor._make(numerical)}\nanalytical:{Tensor._make(analytical)}\n"
            )
    return True


def gradcheck(
    func: Callable[..., Any],
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **_: Any,
) -> bool:
    """Check first derivatives of ``func`` at ``inputs`` against central differences."""
    return _check_jacobians(func, _tuple(inputs), eps, atol, rtol, raise_exception)


def gradgradcheck(
    func: Callable[..., Any],
    inputs: Any,
    grad_outputs: Sequence[Tensor] | Tensor | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **_: Any,
) -> bool:
    """Check second derivatives: gradcheck of the function (inputs, v) -> v^T J."""
    ins = _tuple(inputs)
    with enable_grad():
        outs = _tuple(func(*ins))
    rng = np.random.default_rng(0)
    vs = (
        _tuple(grad_outputs)
        if grad_outputs is not None
        else tuple(
            Tensor._make(rng.standard_normal(o._data.shape).astype(o._data.dtype)).requires_grad_()
            for o in outs
        )
    )
    n = len(ins)
    diff = [i for i, x in enumerate(ins) if isinstance(x, Tensor) and x.requires_grad]

    def vjp(*args: Any) -> tuple[Tensor, ...]:
        xs, cts = args[:n], args[n:]
        with enable_grad():
            ys = _tuple(func(*xs))
            gs = grad(ys, [xs[i] for i in diff], cts, create_graph=True, allow_unused=True)
        return tuple(
            g if g is not None else Tensor._make(np.zeros(xs[i]._data.shape))
            for g, i in zip(gs, diff, strict=True)
        )

    return _check_jacobians(vjp, (*ins, *vs), eps, atol, rtol, raise_exception)
