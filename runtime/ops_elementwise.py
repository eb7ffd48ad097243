"""Elementwise ops: arithmetic, comparisons, where, clamp, one line over a primitive each."""

from __future__ import annotations

import builtins
import math
from functools import partial
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir import fp_exact
from ..ir.ops import Op
from ..ir.shapes import C_NAMES, broadcast_shapes
from .creation import check_fill, check_fits
from .dispatch import apply, composite, result_dtype, with_rule
from .opmath import in_float32
from .ops_integer import rounding_div
from .tensor import Tensor


# ---- elementwise ---------------------------------------------------------------------------
def neg(x: Tensor) -> Tensor:
    return apply(Op.NEG, x)


def abs(x: Tensor) -> Tensor:  # noqa: A001
    return apply(Op.ABS, x)


def sign(x: Tensor) -> Tensor:
    return apply(Op.SIGN, x)


def exp(x: Tensor) -> Tensor:
    return apply(Op.EXP, x)


def log(x: Tensor) -> Tensor:
    return apply(Op.LOG, x)


def log1p(x: Tensor) -> Tensor:
    return apply(Op.LOG1P, x)


def sqrt(x: Tensor) -> Tensor:
    return apply(Op.SQRT, x)


def sin(x: Tensor) -> Tensor:
    return apply(Op.SIN, x)


def cos(x: Tensor) -> Tensor:
    return apply(Op.COS, x)


def tanh(x: Tensor) -> Tensor:
    return apply(Op.TANH, x)


def sigmoid(x: Tensor) -> Tensor:
    return apply(Op.SIGMOID, x)


def relu(x: Tensor) -> Tensor:
    return apply(Op.RELU, x)


def erf(x: Tensor) -> Tensor:
    return apply(Op.ERF, x)


def add(x: Any, y: Any, *, alpha: Any = 1) -> Tensor:
    if type(alpha) is int and alpha == 1:
        return apply(Op.ADD, x, y)
    return _scaled(Op.ADD, x, y, alpha)


def sub(x: Any, y: Any, *, alpha: Any = 1) -> Tensor:
    if type(alpha) is int and alpha == 1:
        return apply(Op.SUB, x, y)
    return _scaled(Op.SUB, x, y, alpha)


# Note [add with alpha]
# PyTorch's add/sub with alpha is one kernel over the operands' common dtype: ``other`` is
# converted first (a bfloat16 ``other`` added into float32 was scaled in bfloat16 here: 976 of
# 1000 results off), and alpha is checked against that dtype (alpha_check). Its float kernel is
# ``vec::fmadd(other, alpha, self)``: x + alpha * y rounded once, alpha rounded to the dtype
# first (sub adds -alpha), the FMA primitive (Note [fused multiply-add] in ir/reference.py).
# Scaled, then added, about 20% of float32 results were an ulp off PyTorch's. (With a scalar
# ``other`` PyTorch's tail loop, after its last whole vectors, hoists a rounded alpha * other
# in some elements; adjit fuses those too.) float16/bfloat16 round alpha to their type and
# compute in float32, rounded once (PyTorch's tail rounds each op to the narrow type, which
# adjit does not follow). Integers multiply and add (exact, wrapping). The optimizers'
# in-place updates (Note [fused updates]) use the same fma.
def _scaled(op: Op, x: Any, y: Any, alpha: Any) -> Tensor:
    dt = result_dtype(x, y)
    _check_alpha(dt, alpha)
    if dt.is_reduced_float:  # alpha in the narrow type (as scalar_t), the rest in float32
        narrow = Tensor._make(np.asarray(alpha, np.float32)).to(dt).item()
        return in_float32(lambda a, b: _scaled(op, a, b, narrow))(x, y)
    a = bool(alpha) if dt is D.bool_ else int(alpha) if dt.category == 1 else alpha
    y_dt = y.to(dt) if isinstance(y, Tensor) and y.dtype is not dt else y
    if dt.is_floating_point:
        name = "AddBackward0" if op is Op.ADD else "SubBackward0"
        return apply(Op.FMA, y_dt, a if op is Op.ADD else -a, x, name=name)
    return apply(op, x, mul(y_dt, a))


def _check_alpha(dt: D.DType, alpha: Any) -> None:
    """PyTorch's alpha_check against the result dtype."""
    if isinstance(alpha, bool | np.bool_) and dt is not D.bool_:
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if dt.category in (0, 1) and not isinstance(alpha, int | np.integer | np.bool_):
        raise RuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )
    if dt.category != 3 and isinstance(alpha, complex | np.complexfloating):
        raise RuntimeError(
            "For non-complex input tensors, argument alpha must not be a complex number."
        )


def rsub(x: Any, y: Any, *, alpha: Any = 1) -> Tensor:
    name = "RsubBackward0" if isinstance(y, Tensor) else "RsubBackward1"
    return composite(name, lambda a, b: sub(b, a, alpha=alpha), x, y)


def mul(x: Any, y: Any) -> Tensor:
    return apply(Op.MUL, x, y)


def div(x: Any, y: Any, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        return apply(Op.DIV, x, y)
    if rounding_mode not in ("floor", "trunc"):
        raise RuntimeError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
            f"found '{rounding_mode}'"
        )
    return rounding_div(x, y, rounding_mode)  # Note [bitwise ops]


def floor(x: Tensor) -> Tensor:
    return apply(Op.FLOOR, x)


def trunc(x: Tensor) -> Tensor:
    return apply(Op.TRUNC, x)


true_divide = divide = div


def reciprocal(x: Tensor) -> Tensor:
    return composite("ReciprocalBackward0", lambda a: apply(Op.DIV, 1.0, a), x)


def rsqrt(x: Tensor) -> Tensor:
    return composite("RsqrtBackward0", lambda a: apply(Op.DIV, 1.0, sqrt(a)), x)


def pow(x: Any, y: Any) -> Tensor:  # noqa: A001
    tx, ty = isinstance(x, Tensor), isinstance(y, Tensor)
    if tx and type(y) is float and y in _ROOTS:
        return composite("PowBackward0", _ROOTS[y], x)
    name = "PowBackward1" if tx and ty else ("PowBackward0" if tx else "PowBackward2")
    return apply(Op.POW, x, y, name=name)


# PyTorch computes a tensor to the (Python number) power 0.5 as sqrt and -0.5 as rsqrt, which
# differ from C's pow at -inf (NaN, not inf or 0) and -0.0 (-0.0 and -inf, not +0.0 and +inf).
# (The gradient is sqrt's: for ** -0.5 it differs from PyTorch's pow formula at -0.0 and -inf.)
_ROOTS = {
    0.5: lambda a: sqrt(a),
    -0.5: lambda a: apply(Op.DIV, 1.0, sqrt(a)),
}


def square(x: Tensor) -> Tensor:
    return pow(x, 2)


def maximum(x: Any, y: Any) -> Tensor:
    return apply(Op.MAXIMUM, x, y)


def minimum(x: Any, y: Any) -> Tensor:
    return apply(Op.MINIMUM, x, y)


def eq(x: Any, y: Any) -> Tensor:
    return apply(Op.EQ, x, y)


def ne(x: Any, y: Any) -> Tensor:
    return apply(Op.NE, x, y)


def lt(x: Any, y: Any) -> Tensor:
    return apply(Op.LT, x, y)


def le(x: Any, y: Any) -> Tensor:
    return apply(Op.LE, x, y)


def gt(x: Any, y: Any) -> Tensor:
    return apply(Op.GT, x, y)


def ge(x: Any, y: Any) -> Tensor:
    return apply(Op.GE, x, y)


def where(cond: Tensor, x: Any = None, y: Any = None) -> Any:
    if x is None and y is None:
        from .checks import shape_from_values
        from .ops_movement import nonzero  # the one-argument form is nonzero(as_tuple=True)

        shape_from_values("where(condition)", "one index per true element", cond)
        return nonzero(cond, as_tuple=True)
    for v in (x, y):  # PyTorch converts a Python int operand with its overflow check
        if isinstance(v, int) and not isinstance(v, bool):
            dt = result_dtype(x, y)
            if dt.category == 1:
                check_fits(np.asarray(v), dt, f"{dt.name}_t")
    return apply(Op.WHERE, cond, x, y)


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return composite("ClampBackward0", _clamp_tensors, x, min, max)
    return apply(Op.CLAMP, x, lo=_number(min), hi=_number(max))


def _clamp_tensors(x: Tensor, lo: Any, hi: Any) -> Tensor:
    """``minimum(maximum(x, lo), hi)`` (NaN in any operand gives NaN) with PyTorch's gradients
    (clamp_backward, clamp_backward_min_max): x's on [lo, hi] inclusive, lo's where x < lo < hi,
    hi's where x > hi or hi < lo. (At a tie of zeros of opposite signs the result keeps x's
    sign, where PyTorch's takes the bound's.)"""
    value = x if lo is None else maximum(x, lo)
    value = (value if hi is None else minimum(value, hi)).detach()
    nan = value != value
    if lo is None:
        return where(nan, value, where(x <= hi, x, hi))
    if hi is None:
        return where(nan, value, where(x >= lo, x, lo))
    # hi gets its gradient where hi < lo even when x is NaN: NaN + hi keeps it (and -0.0 + hi
    # is hi exactly); the three masks are disjoint
    hi_or_nan = hi + where(nan, float("nan"), -0.0).to(value.dtype)  # (keeps hi's dtype)
    out = where((x > hi) | (hi < lo), hi_or_nan, value)
    out = where((x < lo) & (lo < hi), lo, out)
    return where((x >= lo) & (x <= hi), x, out)


def _number(v: Any) -> Any:
    """A Python bound kept as int or float: its kind takes part in type promotion."""
    return v.item() if isinstance(v, np.generic) else v


clip = clamp


def clone(x: Tensor) -> Tensor:
    return apply(Op.CAST, x, dtype=x.dtype, name="CloneBackward0")


def masked_fill_inplace(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``masked_fill_``'s value: PyTorch's in-place op broadcasts ``x`` first (the out-of-place
    one the mask), which its refusal's order shows."""
    check_broadcast(x, mask)
    return masked_fill(x, mask, value)


def masked_fill(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    if isinstance(mask, Tensor) and mask.dtype is not D.bool_:
        raise RuntimeError(
            "masked_fill_ only supports boolean masks, but got mask with dtype "
            + C_NAMES[mask.dtype.name]
        )
    value = value.to(x.dtype) if isinstance(value, Tensor) else scalar_as(value, x.dtype)
    return composite("MaskedFillBackward0", lambda a: apply(Op.WHERE, mask, value, a), x)


def scalar_as(value: Any, dtype: D.DType) -> Any:
    """A Python number converted as PyTorch converts a fill value to the tensor's dtype:
    truncated toward zero for integers (0.7 -> 0), nonzero -> True for bool; PyTorch's overflow
    check first (300 into int8, 1e6 into float16 raise)."""
    if dtype is D.bool_:
        return builtins.bool(value)
    check_fill(value, dtype)
    if isinstance(value, complex) and dtype.category != 3:
        value = value.real  # (check_fill refused a nonzero imaginary part)
    if dtype.category < 2 and isinstance(value, float) and math.isfinite(value):
        return builtins.int(value)
    return value


def clamp_min(x: Tensor, min: Any) -> Tensor:  # noqa: A002
    return composite("ClampMinBackward0", lambda a: clamp(a, min=min), x)


def clamp_max(x: Tensor, max: Any) -> Tensor:  # noqa: A002
    return composite("ClampMaxBackward0", lambda a: clamp(a, max=max), x)


def lerp(x: Tensor, end: Tensor, weight: Any) -> Tensor:
    """PyTorch's lerp, value and gradients: see Note [lerp's gradients]."""
    tensor_weight = isinstance(weight, Tensor)
    for what, t in (("end", end), ("weight", weight if tensor_weight and weight.ndim else end)):
        if isinstance(t, Tensor) and t.dtype is not x.dtype:
            raise RuntimeError(
                f"expected dtype {C_NAMES[x.dtype.name]} for `{what}` but got dtype "
                f"{C_NAMES[t.dtype.name]}"
            )
    check_broadcast(x, end, weight)
    if tensor_weight and weight.dtype is not x.dtype:  # a 0-d weight: in the input's dtype
        weight = weight.to(x.dtype)
    if not x.dtype.is_floating_point:
        kernel = "lerp_kernel_tensor" if tensor_weight else "lerp_kernel_scalar"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{x.dtype.type_name}'")
    operands = (x, end, weight) if tensor_weight else (x, end)
    name = "LerpBackward1" if tensor_weight else "LerpBackward0"
    rule = _LERP_TENSOR if tensor_weight else _LerpRule(weight)
    return with_rule(rule, lambda *_: in_float32(_lerp)(x, end, weight), *operands, name=name)


# Note [lerp's gradients]
# PyTorch's lerp backward is g * (1 - w) for the start, g * w for the end and g * (end - start)
# for the weight. Differentiated op by op, the two-branch value (below) would give the start
# g - g * w (NaN for an infinite g) and send the untaken branch's 0 * inf = NaN to the weight at
# an infinite end; so the value is computed without history and carries PyTorch's formulas as
# its derivative rule (a CUSTOM_VJP equation, Note [custom functions traced] in ir/custom.py).


class _LerpRule:
    """The derivative rule of lerp(start, end, weight); ``weight`` is None for a tensor."""

    def __init__(self, weight: Any = None) -> None:
        self.weight = weight

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return repr("lerp" if self.weight is None else f"lerp(weight={self.weight})")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        start, end = inputs[1], inputs[2]
        w = inputs[3] if self.weight is None else self.weight
        grads = (
            g * (1 - w) if needs[1] else None,
            g * w if needs[2] else None,
            *([g * (end - start) if needs[3] else None] if self.weight is None else []),
        )
        return (None, *grads)


_LERP_TENSOR = _LerpRule()


def _lerp(a: Tensor, b: Tensor, w: Any) -> Tensor:
    """PyTorch's lerp: from the nearer end (|w| < 0.5 from ``a``), so w = 1 gives ``b``
    exactly, one fma (its ``lerp_vec``, Note [fused multiply-add]): fma(w, b - a, a), or
    fma(w - 1, b - a, b) with ``w - 1`` computed in the dtype (a scalar ``w`` rounded to it
    first, and tested there)."""
    if not isinstance(w, Tensor):
        wd = np.asarray(w, a.dtype.np)
        if abs(wd) < 0.5:
            return fused_multiply_add(wd.item(), b - a, a)
        return fused_multiply_add((wd - wd.dtype.type(1)).item(), b - a, b)
    small = abs(w) < 0.5
    return fused_multiply_add(where(small, w, w - 1), b - a, where(small, a, b))


def lerp_value(x: Tensor, end: Tensor, weight: Any) -> Tensor:
    """lerp's value as primitives, without its derivative rule (an optimizer's in-place step)."""
    return in_float32(_lerp)(x, end, weight)


def _native_fma(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray | None:
    """codegen's compiled fma loop (Note [eager fma]); llvmlite is imported with its first use."""
    from ..codegen.fma_kernel import fma

    return fma(x, y, z)


fp_exact.register_native(_native_fma)


def fused_multiply_add(x: Any, y: Any, z: Any) -> Tensor:
    """``x * y + z`` rounded once, in the operands' float dtype (Note [fused multiply-add])."""
    return apply(Op.FMA, x, y, z)


def check_broadcast(*operands: Any) -> None:
    """PyTorch's TensorIterator broadcast of the operands in order (self first), so its
    refusal names them as PyTorch does; symbolic sizes are left to the ops."""
    shapes = [tuple(t.shape) for t in operands if isinstance(t, Tensor)]
    if all(type(n) is int for shape in shapes for n in shape):
        broadcast_shapes(*shapes)


def addcmul(x: Tensor, t1: Tensor, t2: Tensor, *, value: Any = 1) -> Tensor:
    """PyTorch's ``self + value * t1 * t2``, which its compiler contracts for floats into
    fma(value * t1, t2, self) (Note [fused multiply-add])."""
    check_broadcast(x, t1, t2)
    return composite("AddcmulBackward0", in_float32(partial(_addcmul, value)), x, t1, t2)


def _addcmul(value: Any, a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    if result_dtype(a, b, c).is_floating_point:
        return fused_multiply_add(value * b, c, a)
    return a + value * b * c


def addcdiv(x: Tensor, t1: Tensor, t2: Tensor, *, value: Any = 1) -> Tensor:
    check_broadcast(x, t1, t2)
    return composite("AddcdivBackward0", in_float32(lambda a, b, c: a + value * b / c), x, t1, t2)


def isnan(x: Tensor) -> Tensor:
    return apply(Op.NE, x, x)


def isinf(x: Tensor) -> Tensor:
    if x.dtype.category < 2:  # integers and bools are never infinite
        return apply(Op.NE, x, x)
    return apply(Op.EQ, abs(x), float("inf"))


def isfinite(x: Tensor) -> Tensor:
    if x.dtype.category < 2:
        return apply(Op.EQ, x, x)
    return apply(Op.EQ, x - x, 0)


def nan_to_num(x: Tensor, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Tensor:
    if not x.dtype.is_floating_point:  # integers and bools have no NaN or inf: PyTorch copies
        return clone(x)
    big = float(np.finfo(x.dtype.np).max)

    def decomposition(a: Tensor) -> Tensor:
        out = where(isnan(a), nan, a)
        out = where(out == float("inf"), big if posinf is None else posinf, out)
        return where(out == float("-inf"), -big if neginf is None else neginf, out)

    return composite("NanToNumBackward0", decomposition, x)
