"""Reductions and normalizations: sum, mean, var, max/min, logsumexp, softmax."""

from __future__ import annotations

import builtins
from math import prod
from typing import Any

from ..ir import dtypes as D
from ..ir.ops import Op
from ..ir.shapes import norm_axis
from .creation import zeros
from .dispatch import apply, composite, with_rule
from .kernel_dtypes import require_float
from .opmath import in_float32
from .ops_elementwise import exp, log, maximum, minimum, sqrt, where
from .ops_movement import getitem
from .return_types import return_type
from .tensor import Tensor, _axes

RETURN_TYPES = {name: return_type(name, ("values", "indices")) for name in ("max", "min", "sort")}
values_indices = RETURN_TYPES["max"]


# ---- reductions ----------------------------------------------------------------------------
def _all_if_empty(dim: Any) -> Any:
    """PyTorch's reductions read an empty dim list (``dim=()``, ``dim=[]``) as every dim."""
    return None if isinstance(dim, tuple | list) and not dim else dim


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001
    if dtype is not None:
        x = x.to(dtype)
    dim = _all_if_empty(dim)
    out = apply(
        Op.SUM,
        x,
        axes=_axes(dim, x.ndim),
        keepdim=keepdim,
        name="SumBackward0" if dim is None else "SumBackward1",
    )
    # an integer or bool sum is int64 unless ``dtype`` says otherwise (its wrapped sum: the
    # int64 total cast, the same bits as PyTorch's sum in that dtype)
    return out if dtype is None or out.dtype is x.dtype else out.to(x.dtype)


def _count(x: Tensor, axes: tuple[int, ...] | None) -> int:
    return x.numel() if axes is None else prod(x.shape[a] for a in axes)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.category < 2:  # (complex: the mean of each part)
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a "
            f"floating point or complex dtype. Got: {_type_word(x.dtype)}"
        )
    dim = _all_if_empty(dim)
    axes = _axes(dim, x.ndim)
    return composite(
        "MeanBackward0" if dim is None else "MeanBackward1",
        in_float32(lambda a: sum(a, dim, keepdim) / _count(a, axes)),
        x,
    )


def _type_word(d: D.DType) -> str:
    return d.type_name if not d.is_floating_point else d.name


def var(
    x: Tensor,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> Tensor:
    if not x.dtype.is_floating_point:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    c = _correction(unbiased, correction)
    dim = _all_if_empty(dim)
    axes = _axes(dim, x.ndim)

    def decomposition(a: Tensor) -> Tensor:
        d = a - a.sum(dim=dim, keepdim=True) / _count(a, axes)
        return (d * d).sum(dim=dim, keepdim=keepdim) / _max0(_count(a, axes) - c)

    # Note [var's gradient]: PyTorch's var_backward, as the value's derivative rule
    rule = _VarRule(None if dim is None or x.ndim == 0 else axes, keepdim, c)
    return with_rule(rule, in_float32(decomposition), x, name="VarBackward0")


# Note [var's gradient]
# PyTorch's var_backward is 2 / (n - correction) * g * (x - mean(x)): the mean's own derivative
# is left out (it is 0: the deviations sum to 0). Differentiated op by op, the decomposition
# sends the mean the sum of every element's cotangent, so one infinite element made every
# other element's gradient NaN (PyTorch: -inf). The mean stays inside the rule, which is
# differentiable, so second derivatives keep it. A full reduction with n <= correction gives
# g * (NaN where x equals the mean, else inf), as PyTorch.


class _VarRule:
    def __init__(self, axes: tuple[int, ...] | None, keepdim: bool, correction: float) -> None:
        self.axes, self.keepdim, self.correction = axes, keepdim, correction

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return repr(f"var(axes={self.axes}, keepdim={self.keepdim}, correction={self.correction})")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        x = inputs[1]
        if self.axes is None:
            dof = x.numel() - self.correction
            if dof <= 0:
                return (None, g * where(x == mean(x), float("nan"), float("inf")))
            return (None, 2.0 / dof * g * (x - mean(x)))
        if not self.keepdim:
            g = g.reshape(tuple(1 if i in self.axes else n for i, n in enumerate(x.shape)))
        dof = _count(x, self.axes) - self.correction
        factor = 2.0 / dof if dof != 0 else float("inf")
        return (None, factor * g * (x - mean(x, self.axes, keepdim=True)))


def _max0(n: float) -> float:
    return n if n > 0 else float("nan") if n == 0 else 0.0


def _correction(unbiased: Any, correction: Any) -> float:
    if isinstance(unbiased, int) and not isinstance(unbiased, bool):
        raise TypeError("var(): unbiased must be a bool; pass dims with dim=")
    if correction is not None:
        return float(correction)
    return 0.0 if unbiased is False else 1.0


def std(
    x: Tensor,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: bool = False,
    *,
    correction: Any = None,
) -> Tensor:
    return composite(
        "StdBackward0",
        in_float32(lambda a: _sqrt0(var(a, dim, unbiased, keepdim, correction=correction))),
        x,
    )


def _sqrt0(v: Tensor) -> Tensor:
    """sqrt whose gradient is 0 (not inf * 0 = nan) where v is 0, as PyTorch's std_backward."""
    nonzero = v != 0
    return where(nonzero, sqrt(where(nonzero, v, 1.0)), 0.0)


def _root0(s: Tensor, order: float) -> Tensor:
    """``s ** (1/order)`` with gradient 0 where s is 0, as PyTorch's norm_backward."""
    nonzero = s != 0
    return where(nonzero, where(nonzero, s, 1.0) ** (1.0 / order), 0.0)


def amax(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    return apply(Op.AMAX, x, axes=_axes(_all_if_empty(dim), x.ndim), keepdim=keepdim)


def amin(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    return apply(Op.AMIN, x, axes=_axes(_all_if_empty(dim), x.ndim), keepdim=keepdim)


def _no_bool(x: Tensor, name: str) -> None:
    if x.dtype is D.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    _no_bool(x, "argmax")
    return apply(Op.ARGMAX, x, axes=_axes(dim, x.ndim), keepdim=keepdim)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    _no_bool(x, "argmin")
    return apply(Op.ARGMIN, x, axes=_axes(dim, x.ndim), keepdim=keepdim)


def _extremum(x: Tensor, dim: Any, keepdim: bool, other: Any, kind: str) -> Any:
    if isinstance(dim, Tensor):
        return (maximum if kind == "max" else minimum)(x, dim)
    if other is not None:
        return (maximum if kind == "max" else minimum)(x, other)
    reduce_op, arg_op = (Op.AMAX, Op.ARGMAX) if kind == "max" else (Op.AMIN, Op.ARGMIN)
    title = kind.capitalize()
    if dim is None:
        if not x.dtype.is_floating_point:
            return apply(reduce_op, x, axes=None, keepdim=False, name=f"{title}Backward1")
        return composite(f"{title}Backward1", lambda a: _full_extremum(a, reduce_op), x)
    axis = norm_axis(dim, x.ndim)
    idx = apply(arg_op, x, axes=(axis,), keepdim=True)
    vals = composite(
        f"{title}Backward0",
        lambda a: apply(Op.GATHER, a, idx, axis=axis).reshape(
            tuple(n for i, n in enumerate(idx.shape) if keepdim or i != axis)
        ),
        x,
    )
    return RETURN_TYPES[kind](vals, idx if keepdim else idx.squeeze(axis))


def _full_extremum(a: Tensor, reduce_op: Op) -> Tensor:
    """max()/min() of every element; see Note [max() at NaN]."""
    nan = a != a
    # 1 where no element is NaN, so that the NaN branch's gradient is 0, not 0/0
    count = maximum(_count_true(nan, None, False), 1)
    nan_branch = sum(where(nan, a, 0.0)) / count  # NaN exactly when some element is
    fill = float("-inf") if reduce_op is Op.AMAX else float("inf")
    rest = apply(reduce_op, where(nan, fill, a), axes=None, keepdim=False)
    return where(nan_branch != nan_branch, nan_branch, rest)


# Note [max() at NaN]
# PyTorch's max()/min() over all elements (evenly_distribute_backward) shares the gradient among
# the elements equal to the result, and when the result is NaN among the NaN elements; amax and
# amax(dim) share it among equal elements only, so a NaN result gets a NaN gradient everywhere.
# The AMAX rule is amax's. max() is built so that each branch's gradient is amax's rule away from
# NaN: ``rest`` reduces the elements with NaNs replaced by -inf (its count of equal elements is
# never 0), ``nan_branch`` is the NaNs' sum over their count (its gradient is g/count on each NaN).


def max(x: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:  # noqa: A001
    return _extremum(x, dim, keepdim, other, "max")


def min(x: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:  # noqa: A001
    return _extremum(x, dim, keepdim, other, "min")


def _shift(a: Tensor, dim: Any) -> Tensor:
    """The (detached) maximum along ``dim`` that softmax-like ops subtract; nothing to subtract
    when ``dim`` is empty (PyTorch: logsumexp over it is -inf, softmax of it is empty)."""
    if a.numel() == 0 and builtins.any(a.shape[d] == 0 for d in _axes(dim, a.ndim) or ()):
        return a.new_zeros(())
    return amax(a, dim, keepdim=True).detach()


def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    if isinstance(dim, tuple | list) and not dim:
        # (PyTorch 2.13 fails alike: its output has shape [] and the result [1, 1])
        raise RuntimeError("logsumexp(): an empty dim list is not supported; pass the dims")
    if not x.dtype.is_floating_point:  # integers and bools: in the default float, as PyTorch
        x = x.to(D.get_default_dtype())

    def decomposition(a: Tensor) -> Tensor:
        m = _shift(a, dim)
        m = where(m.abs() == float("inf"), 0.0, m)
        s = log(sum(exp(a - m), dim, keepdim=True)) + m
        return s if keepdim else s.squeeze(_axes(dim, a.ndim))

    return composite("LogsumexpBackward0", in_float32(decomposition), x)


def _softmax_kernel(x: Tensor, dim: int, name: str) -> None:
    """PyTorch's refusal of integer inputs, naming the kernel its dim would pick."""
    last = x.ndim == 0 or norm_axis(dim, x.ndim) == x.ndim - 1
    require_float(x, f"{name}_lastdim_kernel_impl" if last else f"{name}_kernel_impl")


def softmax(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    _softmax_kernel(x, dim, "softmax")

    def decomposition(a: Tensor) -> Tensor:
        e = exp(a - _shift(a, dim))
        return e / sum(e, dim, keepdim=True)

    # Note [softmax's gradient]: PyTorch's formula, reading the output only
    rule = _SoftmaxRule(dim, log=False)
    return with_rule(rule, in_float32(decomposition), x, name="SoftmaxBackward0")


def log_softmax(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    _softmax_kernel(x, dim, "log_softmax")

    def decomposition(a: Tensor) -> Tensor:
        s = a - _shift(a, dim)
        return s - log(sum(exp(s), dim, keepdim=True))

    rule = _SoftmaxRule(dim, log=True)  # Note [softmax's gradient]
    return with_rule(rule, in_float32(decomposition), x, name="LogSoftmaxBackward0")


# Note [softmax's gradient]
# softmax and log_softmax are decompositions (max shift, exp, sum, divide / subtract the log);
# differentiated op by op, their adjoint would keep exp(x - max) beside the output (4 MB of
# the transformer step's peak). They carry PyTorch's own formulas instead (softmax_backward_data,
# log_softmax_backward_data), which read the output only:
#     softmax:      grad_in = out * (g - sum(g * out, dim, keepdim))
#     log_softmax:  grad_in = g - exp(out) * sum(g, dim, keepdim)
# The forward equations are unchanged (the stability rewrites match log_softmax's, rows.py
# fuses them into one row kernel), the formula is made of ordinary ops (so double backward,
# forward mode by transposition and vmap follow), computed in float32 for float16/bfloat16 as
# PyTorch's opmath kernels.
class _SoftmaxRule:
    decomposed = True  # (Note [rule identities after the adjoint] in passes/rule_identities.py)

    def __init__(self, dim: int, log: bool) -> None:
        self.dim, self.log = dim, log

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return repr(f"{'log_softmax' if self.log else 'softmax'}(dim={self.dim})")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        name = "LogSoftmaxBackwardDataBackward0" if self.log else "SoftmaxBackwardDataBackward0"
        return (None, composite(name, in_float32(self._grad), g, out))

    def _grad(self, g: Tensor, out: Tensor) -> Tensor:
        if self.log:
            return g - exp(out) * sum(g, self.dim, keepdim=True)
        return out * (g - sum(g * out, self.dim, keepdim=True))


def norm(x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
    """The vector p-norm over ``dim`` (all elements by default); "fro" is the 2-norm."""
    if isinstance(p, str) and p == "nuc":  # torch.norm hands it to matrix_norm, as PyTorch
        from .ops_norms import matrix_norm

        return matrix_norm(x, "nuc", list(range(x.ndim)) if dim is None else dim, keepdim)
    if x.dtype.category == 3:
        x = x.abs()  # a complex tensor's norm is its moduli's (a real result, as PyTorch)
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. "
            f"Got {x.dtype.type_name}"
        )
    order = 2.0 if p in ("fro", None) else float(p)

    def decomposition(a: Tensor) -> Tensor:
        # PyTorch's CPU norm accumulates float32 in double: |x|^p of a tiny (or huge) float32
        # element neither underflows (norm(1e-30) was 0, gradient 0) nor overflows
        if a.dtype is D.float32:
            return p_norm(a.to(D.float64)).to(D.float32)
        return p_norm(a)

    def p_norm(a: Tensor) -> Tensor:
        if order == float("inf"):
            return amax(a.abs(), dim if dim is not None else (), keepdim)
        if order == float("-inf"):
            return amin(a.abs(), dim if dim is not None else (), keepdim)
        if order == 0.0:  # the count of nonzeros, with gradient 0
            return sum(where(a != 0, 1.0, a * 0), dim, keepdim)
        if order < 0:  # a zero makes the norm 0, with gradient 0 (PyTorch's norm_backward)
            zero = _count_true(a == 0, dim, keepdim) > 0
            safe = where(a == 0, 1.0, a)
            return where(zero, 0.0, _root0(sum(safe.abs() ** order, dim, keepdim), order))
        if order == 2.0:
            return _sqrt0(sum(a * a, dim, keepdim))
        if order < 1:  # |x|^p has an infinite slope at 0: PyTorch's norm_backward gives it 0
            zero = a == 0
            powers = where(zero, 0.0, where(zero, 1.0, a).abs() ** order)
            return _root0(sum(powers, dim, keepdim), order)
        return _root0(sum(a.abs() ** order, dim, keepdim), order)

    return composite("LinalgVectorNormBackward0", decomposition, x)


def all(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return _count_true(x == 0, dim, keepdim) == 0


def any(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return _count_true(x != 0, dim, keepdim) > 0


def _count_true(mask: Tensor, dim: Any, keepdim: bool) -> Tensor:
    # unlike sum, all and any reduce nothing over an empty dim list (as in PyTorch)
    return apply(Op.SUM, mask, axes=_axes(dim, mask.ndim), keepdim=keepdim)


def cumsum(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Inclusive prefix sums along ``dim``: a log-depth scan of shifted adds (traceable)."""
    if dtype is not None:
        x = x.to(dtype)
    elif not x.dtype.is_floating_point:
        x = x.to(D.int64)
    axis = norm_axis(dim, x.ndim)

    def decomposition(a: Tensor) -> Tensor:
        n, shift = a.shape[axis] if a.ndim else 1, 1
        while shift < n:
            head = [slice(None)] * a.ndim
            head[axis] = slice(0, n - shift)
            zeros_shape = tuple(shift if i == axis else s for i, s in enumerate(a.shape))
            pad = zeros(zeros_shape, dtype=a.dtype)
            a = a + cat_along(pad, getitem(a, tuple(head)), axis)
            shift *= 2
        return a

    return composite("CumsumBackward0", in_float32(decomposition), x)


def cat_along(a: Tensor, b: Tensor, axis: int) -> Tensor:
    return apply(Op.CAT, a, b, axis=axis)
