"""``gradcheck`` / ``gradgradcheck``: analytical Jacobians against finite differences.

A complex input counts as two real ones (its real and imaginary parts, perturbed apart) and a
complex output as two real outputs; the analytical row of a real part is the backward of a
one-hot cotangent, of an imaginary part the backward of i times it (PyTorch's conjugate
Wirtinger convention: Note [complex gradients] in runtime/complex_autograd.py), whose complex
gradients split into their parts the same way.
"""

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


def _parts(a: np.ndarray) -> np.ndarray:
    """The real numbers of an array, flat: a complex one's real parts, then imaginary parts."""
    flat = a.reshape(-1)
    if np.iscomplexobj(flat):
        return np.concatenate([flat.real, flat.imag]).astype(np.float64)
    return flat.astype(np.float64)


def _numerical(
    fn: Callable[..., Any], inputs: tuple[Any, ...], i: int, k: int, eps: float, unit: Any = 1
) -> np.ndarray:
    """Central differences of every output number with respect to ``inputs[i]`` element k
    (``unit`` 1j: its imaginary part)."""
    x = inputs[i]
    flat = x._data.reshape(-1)
    old = flat[k]
    flat[k] = old + eps * unit
    plus = [_parts(o._data).copy() for o in _tuple(fn(*inputs))]
    flat[k] = old - eps * unit
    minus = [_parts(o._data).copy() for o in _tuple(fn(*inputs))]
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
        if inputs[i].dtype.name not in ("float64", "complex128"):
            import warnings

            warnings.warn(
                f"Input #{i} requires gradient and is not a double precision floating "
                "point. This check will likely fail if all the inputs are not of "
                "double precision floating point.",
                stacklevel=3,
            )
    with enable_grad():
        outs = _tuple(fn(*inputs))
    for i in diff:
        x = inputs[i]
        n = x.numel()
        units = (1, 1j) if x.dtype.is_complex else (1,)
        numerical = np.stack(
            [_numerical(fn, inputs, i, k, eps, u) for u in units for k in range(n)]
        )  # [input numbers, output numbers]
        analytical = np.zeros_like(numerical)
        col = 0
        for o in outs:
            size = o.numel()
            for part, unit in enumerate((1, 1j) if o.dtype.is_complex else (1,)):
                for j in range(size if o.requires_grad else 0):
                    onehot = np.zeros(size, o._data.dtype)
                    onehot[j] = unit
                    (g,) = grad(
                        o,
                        x,
                        Tensor._make(onehot.reshape(o._data.shape)),
                        retain_graph=True,
                        allow_unused=True,
                    )
                    if g is not None:
                        analytical[:, col + part * size + j] = _parts(g._data)
            col += size * (2 if o.dtype.is_complex else 1)
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
    vs = _tuple(grad_outputs) if grad_outputs is not None else tuple(map(_cotangent, outs))
    n = len(ins)
    diff = [i for i, x in enumerate(ins) if isinstance(x, Tensor) and x.requires_grad]

    def vjp(*args: Any) -> tuple[Tensor, ...]:
        xs, cts = args[:n], args[n:]
        with enable_grad():
            ys = _tuple(func(*xs))
            gs = grad(ys, [xs[i] for i in diff], cts, create_graph=True, allow_unused=True)
        return tuple(
            g if g is not None else Tensor._make(np.zeros(xs[i]._data.shape, xs[i]._data.dtype))
            for g, i in zip(gs, diff, strict=True)
        )

    return _check_jacobians(vjp, (*ins, *vs), eps, atol, rtol, raise_exception)


def _cotangent(out: Tensor) -> Tensor:
    """PyTorch's random cotangent for gradgradcheck: uniform in [-1, 1) from the global
    generator (so the program's later random numbers match PyTorch's too)."""
    from adjit.ir.dtypes import float64
    from adjit.testing import make_tensor

    dtype = out.dtype if out.is_floating_point() or out.is_complex() else float64
    return make_tensor(out.shape, dtype=dtype, device="cpu", low=-1, high=1, requires_grad=True)
