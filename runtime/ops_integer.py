"""Bitwise, logical and shift ops, remainders and rounding divisions, as PyTorch has them.

Note [bitwise ops]
~~~~~~~~~~~~~~~~~~
``AND``, ``OR``, ``XOR`` and ``NOT`` are bitwise ops on integers; on bool they are the logical
ops (one op per operation: ``&`` on bool tensors is ``logical_and``). Floats are refused with
PyTorch's ``"bitwise_and_cpu" not implemented for 'Float'``. ``logical_and`` and friends take
any dtype: they compare each operand with zero (NaN is true) and combine the bools.

Shifts follow PyTorch's CPU kernels, not C: a left shift by a count < 0 or >= the bit width
gives 0; a right shift by such a count leaves only the sign (0 or -1; 0 for uint8). LLVM's
shifts by such counts are poison, so the lowering clamps the count before shifting.

``FMOD`` is C's remainder (the dividend's sign, exact for floats); ``remainder`` (``%``, the
divisor's sign) and ``//`` (``div(rounding_mode="floor")``) are PyTorch's own decompositions
over it, so values agree bit for bit, including signed zeros and 1.0 // 0.1 == 9.0 (not
floor(1.0 / 0.1) == 10.0). ``TRUNC_DIV`` divides integers rounding toward zero; floats use
``trunc(x / y)``, as PyTorch does.

Integer division or remainder by zero raises PyTorch's ``RuntimeError: ZeroDivisionError``
when the program runs: a run-time check (Note [run-time checks]) of the divisor, and the NumPy
rules check again. The compiled kernels never divide by 0 (or INT_MIN by -1, which traps):
they divide by 1 instead, unreachable after the check; INT_MIN // -1 is INT_MIN and
INT_MIN % -1 is 0, as PyTorch's floor division and remainder give (its trunc division traps).

Gradients: remainder and fmod are differentiable in both operands (d/dx = 1, d/dy =
-floor(x/y) resp. -trunc(x/y)); the rounding divisions have zero gradients (PyTorch's
``DivBackward2``). PyTorch's ``//`` and ``5.0 % t`` have no derivative at all and raise in
backward; adjit gives these (mathematically right) gradients instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType
from ..ir.ops import Op
from . import trace_state
from .checks import check
from .dispatch import apply, composite, result_dtype, with_rule
from .tensor import Tensor

_TRUE = np.ones((), bool)


# ---- bitwise, logical, shifts ------------------------------------------------------------
def bitwise_and(x: Any, y: Any) -> Tensor:
    return apply(Op.AND, x, y)


def bitwise_or(x: Any, y: Any) -> Tensor:
    return apply(Op.OR, x, y)


def bitwise_xor(x: Any, y: Any) -> Tensor:
    return apply(Op.XOR, x, y)


def bitwise_not(x: Tensor) -> Tensor:
    return apply(Op.NOT, x)


def bitwise_left_shift(x: Any, y: Any) -> Tensor:
    return apply(Op.SHL, x, y)


def bitwise_right_shift(x: Any, y: Any) -> Tensor:
    return apply(Op.SHR, x, y)


def invert(x: Tensor) -> Tensor:
    """The ``~`` operator."""
    if x.dtype.is_floating_point:
        raise TypeError(
            "~ (operator.invert) is only implemented on integer and Boolean-type tensors"
        )
    return apply(Op.NOT, x)


def _truth(v: Any) -> Any:
    """``v != 0`` as bool (NaN is true): what the logical ops combine."""
    if not isinstance(v, Tensor):
        return bool(v)
    return v if v.dtype is D.bool_ else apply(Op.CAST, v, dtype=D.bool_)


def logical_and(x: Any, y: Any) -> Tensor:
    return apply(Op.AND, _truth(x), _truth(y))


def logical_or(x: Any, y: Any) -> Tensor:
    return apply(Op.OR, _truth(x), _truth(y))


def logical_xor(x: Any, y: Any) -> Tensor:
    return apply(Op.XOR, _truth(x), _truth(y))


def logical_not(x: Tensor) -> Tensor:
    return apply(Op.NOT, _truth(x))


# ---- remainders and rounding divisions ---------------------------------------------------
def _divisor(y: Any, dt: DType) -> Any:
    """``y`` as the op computing in ``dt`` sees it, checked nonzero if ``dt`` is an integer
    type (PyTorch's RuntimeError "ZeroDivisionError", raised when the program runs).

    Integer operands are brought to ``dt`` first: a Python int or 0-dim tensor that wraps
    (``uint8 % 256``) must be tested, and its sign read, as the op sees it."""
    if dt.is_floating_point or dt is D.bool_:
        return y  # floats divide by zero as IEEE says; bool is refused by the op itself
    if not isinstance(y, Tensor):
        y = np.asarray(y, np.int64).astype(dt.np).item()
        if y == 0:
            raise RuntimeError("ZeroDivisionError")
        return y
    if y.dtype is not dt:
        y = apply(Op.CAST, y, dtype=dt)
    if trace_state.current() is None:
        return y  # eagerly the op's NumPy rule checks (ir/reference.py)
    return check(y, y != 0, RuntimeError, "ZeroDivisionError")


def _backward_name(kind: str, y: Any) -> str:
    return f"{kind}Backward{1 if isinstance(y, Tensor) else 0}"


def fmod(x: Any, y: Any) -> Tensor:
    y = _divisor(y, result_dtype(x, y))
    return apply(Op.FMOD, x, y, name=_backward_name("Fmod", y))


def remainder(x: Any, y: Any) -> Tensor:
    dt = result_dtype(x, y)
    if dt is D.bool_:
        raise NotImplementedError("\"remainder_cpu\" not implemented for 'Bool'")
    y = _divisor(y, dt)
    name = _backward_name("Remainder", y)
    if dt.is_floating_point:  # PyTorch's formula: d/dy = -floor_divide(x, y), NaN at x = inf
        return with_rule(_REMAINDER_RULE, lambda a, b: _remainder(a, b, dt), x, y, name=name)
    return composite(name, lambda a, b: _remainder(a, b, dt), x, y)


class _RemainderRule:
    """remainder's derivative as PyTorch's: ``g`` for x, ``-g * (x // y)`` for y (the floor
    division is PyTorch's, through fmod: NaN where x is infinite, where -floor(x / y) was -inf)."""

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return repr("remainder")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        x, y = inputs[1], inputs[2]
        dy = -g * rounding_div(x, y, "floor") if needs[2] else None
        return (None, g if needs[1] else None, dy)


_REMAINDER_RULE = _RemainderRule()


def _remainder(a: Any, b: Any, dt: DType) -> Tensor:
    # PyTorch's remainder kernel: a nonzero fmod whose sign is not the divisor's moves by b
    m = apply(Op.FMOD, a, b)
    if dt is D.uint8:
        return m
    return apply(Op.WHERE, (m != 0) & ((m < 0) != (b < 0)), m + b, m)


def rounding_div(x: Any, y: Any, mode: str) -> Tensor:
    """``div(x, y, rounding_mode=mode)`` for mode "floor" or "trunc" (``//`` is "floor")."""
    dt = result_dtype(x, y)
    if dt is D.bool_:
        raise NotImplementedError(f"\"div_{mode}_cpu\" not implemented for 'Bool'")
    y = _divisor(y, dt)
    rule = _ROUNDING[mode, dt.is_floating_point]
    if not dt.is_floating_point:
        return rule(x, y, dt)
    return composite("DivBackward2", lambda a, b: _zero_gradient(rule(a, b, dt), a, b), x, y)


def _floor_div_int(a: Any, b: Any, dt: DType) -> Tensor:
    q = apply(Op.TRUNC_DIV, a, b)
    if dt is D.uint8:
        return q
    r = apply(Op.FMOD, a, b)
    return apply(Op.WHERE, (r != 0) & ((r < 0) != (b < 0)), q - 1, q)


def _floor_div_float(a: Any, b: Any, dt: DType) -> Tensor:
    # PyTorch's div_floor_floating (NumPy's floor_divide is the same): exact where
    # floor(a / b) is not, e.g. 1.0 // 0.1 is 9.0
    a, b = _detached(a, dt), _detached(b, dt)
    q = apply(Op.DIV, a, b)
    mod = apply(Op.FMOD, a, b)
    div = (a - mod) / b
    div = apply(Op.WHERE, (mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
    floor = div.floor()
    floor = apply(Op.WHERE, div - floor > 0.5, floor + 1, floor)
    floor = apply(Op.WHERE, div == 0, q * 0, floor)  # copysign(0, a / b): q is finite here
    return apply(Op.WHERE, b == 0, q, floor)


def _trunc_div_float(a: Any, b: Any, dt: DType) -> Tensor:
    return apply(Op.DIV, _detached(a, dt), _detached(b, dt)).trunc()


_ROUNDING = {
    ("floor", False): _floor_div_int,
    ("floor", True): _floor_div_float,
    ("trunc", False): lambda a, b, dt: apply(Op.TRUNC_DIV, a, b),
    ("trunc", True): _trunc_div_float,
}


def _detached(v: Any, dt: DType) -> Any:
    """An operand of a float rounding division, in the dtype it computes in (so that bool
    operands subtract), cut from the graph (its gradient is zero: ``_zero_gradient``)."""
    if isinstance(v, Tensor):
        return apply(Op.CAST, v.detach(), dtype=dt) if v.dtype is not dt else v.detach()
    return float(v)


def _zero_gradient(v: Tensor, *inputs: Any) -> Tensor:
    """``v``, reached from each input that requires grad with a zero gradient (PyTorch's
    ``zeros_like``, even where a division by zero would make inf or NaN)."""
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad:
            v = apply(Op.WHERE, Tensor._make(_TRUE), v, t)
    return v


def floor_divide(x: Any, y: Any) -> Tensor:
    return rounding_div(x, y, "floor")
