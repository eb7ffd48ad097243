"""Shared optimizer pieces: in-place update forms, state creation, hyper-parameter checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from adjit.ir.dtypes import float64
from adjit.ir.fp_exact import fma
from adjit.runtime import trace_state
from adjit.runtime.grad_mode import is_grad_enabled
from adjit.runtime.ops_elementwise import addcmul, fused_multiply_add, lerp_value
from adjit.runtime.tensor import Tensor


def _recording(t: Tensor) -> bool:
    """A ``differentiable=True`` step: the ops themselves run, so the recorded graph has
    PyTorch's nodes (``LerpBackward``, ``AddcmulBackward0``, ``AddcdivBackward0``)."""
    return t.requires_grad and is_grad_enabled()


def lerp_(t: Tensor, end: Tensor, weight: float) -> Tensor:
    """``t + weight * (end - t)``, evaluated the way PyTorch's CPU kernel does for each weight
    (one fma from the nearer end: Note [fused multiply-add] in ir/reference.py)."""
    if _recording(t):
        return t.lerp_(end, weight)
    return t.copy_(lerp_value(t, end, weight))


def addcmul_(t: Tensor, t1: Tensor, t2: Tensor, value: float = 1.0) -> Tensor:
    """``t + value * t1 * t2``: fma(t1 * value, t2, t), as PyTorch's kernel."""
    if _recording(t):
        return t.addcmul_(t1, t2, value=value)
    return t.copy_(addcmul(t, t1, t2, value=value))


def addcdiv_(t: Tensor, t1: Tensor, t2: Tensor, value: float = 1.0) -> Tensor:
    """``t + value * t1 / t2`` (PyTorch multiplies the scalar in first; no fma: a quotient)."""
    if _recording(t):
        return t.addcdiv_(t1, t2, value=value)
    scale = isinstance(value, Tensor) or value != 1.0  # a tensor: a traced step's coefficient
    return t.add_(t1 * value / t2 if scale else t1 / t2)


# Note [traced optimizer updates]
# Inside a compiled function an optimizer's step is traced (Note [traced training steps] in
# frontend/writes.py): it may read no tensor data (no ``.item()``, no Python ``if`` on a
# value), and ``group["lr"]`` is a 0-d float64 tensor read afresh at each call. Each optimizer's
# ``_update_traced`` is its eager formula written with tensor ops only:
# - numbers the eager step computes in Python floats from the step count (bias corrections,
#   NAdam's ``mu``, RAdam's ``rho_t``, Adafactor's ``rho_t``) are 0-d float64 tensors made
#   from ``step_count(state)``: float64 arithmetic rounds as Python's does, and a 0-d float64
#   tensor meeting a float32 tensor with dimensions rounds to float32 first, as the Python
#   float does; where the other side is itself 0-d (``mu_product``, ``eta``), the coefficient
#   is cast to that tensor's dtype first (``in_dtype_of``), as eager's scalar would be;
# - ``alpha=``/``value=`` given a tensor keep the eager roundings: ``add_scaled_`` is the same
#   fma as add with alpha, ``addcmul_`` the same fma, ``addcdiv_`` a multiply, a divide, an add;
# - value-dependent branches (RAdam's rectification, ASGD's ``mu != 1``, Rprop's sign cases)
#   compute both sides and pick with ``where``.
# Eager steps (``_update_arrays``, ``_update_eager``) are untouched: they stay identical to
# PyTorch's, and the traced step matches them to float rounding.


def add_scaled_(t: Tensor, x: Tensor, alpha: Any) -> Tensor:
    """``t.add_(x, alpha=alpha)``; in a traced step, where ``alpha`` is a 0-d tensor made from
    the run-time learning rate, the same fma with that tensor (``alpha`` rounds to ``x``'s
    dtype, then x * alpha + t rounds once: Note [add with alpha])."""
    if isinstance(alpha, Tensor) and tracing():
        return t.copy_(fused_multiply_add(x, alpha, t))
    return t.add_(x, alpha=alpha)


def tracing() -> bool:
    """Whether the step runs inside a compiled function (Note [traced training steps])."""
    return trace_state.current() is not None


def step_count(state: dict[str, Any]) -> Tensor:
    """A traced step's ``state["step"]`` as a 0-d float64 tensor: the step-count formulas
    (bias corrections, schedules) then compute in float64 as the eager step's Python floats
    do, and round into the float32 updates the same way (Note [traced optimizer updates])."""
    return state["step"].to(float64)


def in_dtype_of(value: Any, t: Tensor) -> Any:
    """A traced step's 0-d float64 coefficient ``value`` as it meets the 0-d tensor ``t``
    (0-d state such as ``mu_product``, or a user's tensor learning rate): the eager step's
    Python float rounds to ``t``'s dtype there, while two 0-d tensors would promote to float64.
    A no-op for the run-time learning rate (float64) and for Python floats."""
    return value.to(t.dtype) if isinstance(value, Tensor) else value


def decayed(grad: Tensor, p: Tensor, weight_decay: float) -> Tensor:
    """``grad + weight_decay * p`` (``grad.add(p, alpha=weight_decay)``).

    Note [differentiable weight decay]: with ``differentiable=True`` the step records a graph
    and then updates ``p`` in place. PyTorch's ``add(alpha=)`` saves nothing for its backward;
    adjit's saves ``p``, so the in-place update would fail the saved-version check at
    backward. The graph takes a copy of ``p`` instead (same values and gradients)."""
    if p.requires_grad and is_grad_enabled():
        p = p.clone()
    return grad.add(p, alpha=weight_decay)


def scalar_dtype(fused: bool | None = False) -> np.dtype:
    """PyTorch's ``_get_scalar_dtype``: state scalars are float64 only under a float64
    default dtype (float32 when fused)."""
    from adjit.ir.dtypes import get_default_dtype

    wide = not fused and get_default_dtype() == float64
    return np.dtype(np.float64 if wide else np.float32)


def scalar(value: float, fused: bool | None = False) -> Tensor:
    """A 0-d state scalar (``step``, ``mu_product``, ``eta``...) in :func:`scalar_dtype`."""
    return Tensor._make(np.array(value, scalar_dtype(fused)))


def zeros_state(state: dict[str, Any], p: Tensor, *names: str, fused: bool | None = False) -> None:
    """First-step state: a 0-d ``step`` counter and zero buffers shaped like ``p``."""
    state["step"] = scalar(0.0, fused)
    add_zeros(state, p, *names)


def add_zeros(state: dict[str, Any], p: Tensor, *names: str) -> None:
    """Zero buffers shaped like ``p`` (``torch.zeros_like``), in order."""
    for name in names:
        state[name] = Tensor._make(np.zeros_like(p._data))


def lr_value(lr: Any) -> float:
    """A learning rate given as a 1-element tensor, as a Python float (for creating state)."""
    return lr.item() if isinstance(lr, Tensor) else lr


def check_lr(lr: Any) -> None:
    """The learning-rate checks every optimizer's constructor starts with."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_nonnegative(**values: float) -> None:
    """``Invalid <name>: <value>`` for each negative hyper-parameter, named as PyTorch does
    (keyword ``weight_decay`` reads ``weight_decay value``, ``eps`` ``epsilon value``)."""
    for name, value in values.items():
        if not value >= 0.0:
            label = "epsilon" if name == "eps" else name
            raise ValueError(f"Invalid {label} value: {value}")


def check_betas(betas: tuple[float, float]) -> None:
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def check_fused(fused: bool | None, foreach: bool | None, differentiable: bool) -> None:
    """Adam/AdamW/SGD/Adagrad's ``fused`` checks (the CPU fused kernels exist, so on CPU
    ``fused=True`` is accepted and runs the same update)."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def scaled(x: np.ndarray, alpha: float) -> np.ndarray:
    """``alpha * x`` as eager ``mul`` computes it (``alpha`` rounded to ``x``'s dtype first)."""
    return x if alpha == 1 else np.multiply(x, alpha)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _fma(x: np.ndarray, y: Any, z: np.ndarray) -> np.ndarray | None:
    """``x * y + z`` rounded once in ``z``'s dtype (``y`` a number rounded to it first), or
    None when the arrays are not both float32 or both float64."""
    arrays = [a for a in (x, y) if isinstance(a, np.ndarray | np.generic)]
    if z.dtype not in _FLOATS or any(a.dtype != z.dtype for a in arrays):
        return None
    return fma(np.asarray(x, z.dtype), np.asarray(y, z.dtype), z)


def added(t: np.ndarray, x: np.ndarray, alpha: float) -> np.ndarray:
    """``t + alpha * x`` as eager ``add(t, x, alpha=alpha)``: one rounding for float32 and
    float64 (Note [add with alpha] in runtime/ops_elementwise.py), ``alpha`` in the dtype."""
    fused = None if alpha == 1 else _fma(x, alpha, t)
    return t + scaled(x, alpha) if fused is None else fused


def axpy_(t: Tensor, x: np.ndarray, alpha: float) -> None:
    """``t.add_(x, alpha=alpha)`` on the arrays, in place (Note [in-place updates] in sgd)."""
    if alpha == 1:
        np.add(t._data, x, out=t._data)
    else:
        t._data[...] = added(t._data, x, alpha)
    t._version_box[0] += 1


def scale_(t: Tensor, alpha: float) -> None:
    """``t.mul_(alpha)`` on the array, in place."""
    np.multiply(t._data, alpha, out=t._data)
    t._version_box[0] += 1


def bump(*tensors: Tensor) -> None:
    """Count an in-place change made on the arrays (the tensors' ``_version``)."""
    for t in tensors:
        t._version_box[0] += 1


def addcmul_arrays_(t: Tensor, t1: np.ndarray, t2: np.ndarray, value: float = 1.0) -> None:
    """:func:`addcmul_` on the arrays, in place: ``t = fma(t1 * value, t2, t)``."""
    product = scaled(t1, value)
    fused = _fma(product, t2, t._data)
    if fused is None:
        np.add(t._data, product * t2, out=t._data)
    else:
        t._data[...] = fused
    bump(t)


def addcdiv_arrays_(t: Tensor, t1: np.ndarray, t2: np.ndarray, value: float = 1.0) -> None:
    """:func:`addcdiv_` on the arrays, in place: ``t += (t1 * value) / t2``."""
    np.add(t._data, scaled(t1, value) / t2, out=t._data)
    bump(t)


def lerp_arrays_(t: Tensor, end: np.ndarray, weight: float) -> None:
    """:func:`lerp_` on the arrays, in place, with the same two formulas."""
    d = np.asarray(end - t._data)  # (0-d operands: an array to write into, not a scalar)
    w = np.asarray(weight, t._data.dtype)
    small = abs(w) < 0.5
    fused = _fma(d, w if small else w - w.dtype.type(1), t._data if small else np.asarray(end))
    if fused is not None:
        t._data[...] = fused
    elif abs(weight) < 0.5:
        np.add(t._data, np.multiply(d, weight, out=d), out=t._data)
    else:
        np.subtract(end, np.multiply(d, 1 - weight, out=d), out=t._data)
    t._version_box[0] += 1
