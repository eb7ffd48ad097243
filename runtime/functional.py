"""Every tensor op as a function: one line over a primitive, or a composite decomposition."""

from __future__ import annotations

from collections import namedtuple
from itertools import accumulate
from math import prod
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.ops import Op
from ..ir.shapes import norm_axis
from .dispatch import apply, as_tensor_operand, composite, result_dtype
from .indexing import basic_name, normalize_index
from .tensor import Tensor, _axes, _dims

values_indices = namedtuple("values_indices", ["values", "indices"])


def _t(x: Any) -> Tensor:
    return as_tensor_operand(x)


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


def logical_not(x: Tensor) -> Tensor:
    return apply(Op.NOT, x)


def add(x: Any, y: Any, *, alpha: Any = 1) -> Tensor:
    return apply(Op.ADD, x, y if alpha == 1 else mul(y, alpha))


def sub(x: Any, y: Any, *, alpha: Any = 1) -> Tensor:
    return apply(Op.SUB, x, y if alpha == 1 else mul(y, alpha))


def rsub(x: Any, y: Any, *, alpha: Any = 1) -> Tensor:
    name = "RsubBackward0" if isinstance(y, Tensor) else "RsubBackward1"
    return composite(name, lambda a, b: sub(b, a, alpha=alpha), x, y)


def mul(x: Any, y: Any) -> Tensor:
    return apply(Op.MUL, x, y)


_ROUNDING = {"floor": Op.FLOOR, "trunc": Op.TRUNC}


def div(x: Any, y: Any, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        return apply(Op.DIV, x, y)
    if rounding_mode not in _ROUNDING:
        raise RuntimeError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
            f"found '{rounding_mode}'"
        )
    dt = result_dtype(x, y)
    if dt is D.bool_:
        raise NotImplementedError(f"\"div_{rounding_mode}_cpu\" not implemented for 'Bool'")
    if not dt.is_floating_point and not np.all(_t(y)._data):
        raise RuntimeError("ZeroDivisionError")
    # integers divide exactly in float64 (2**53), then round back to the promoted integer type
    wide = (lambda v: v) if dt.is_floating_point else (lambda v: _t(v).to(D.float64))
    return composite(
        "DivBackward2",
        lambda a, b: apply(_ROUNDING[rounding_mode], apply(Op.DIV, wide(a), wide(b))).to(dt),
        x,
        y,
    )


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
    name = "PowBackward1" if tx and ty else ("PowBackward0" if tx else "PowBackward2")
    return apply(Op.POW, x, y, name=name)


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


def logical_and(x: Any, y: Any) -> Tensor:
    return apply(Op.AND, x, y)


def logical_or(x: Any, y: Any) -> Tensor:
    return apply(Op.OR, x, y)


def where(cond: Tensor, x: Any = None, y: Any = None) -> Any:
    if x is None and y is None:
        return nonzero(cond, as_tuple=True)
    return apply(Op.WHERE, cond, x, y)


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return composite("ClampBackward0", _clamp_tensors, x, min, max)
    return apply(Op.CLAMP, x, lo=_number(min), hi=_number(max))


def _clamp_tensors(x: Tensor, lo: Any, hi: Any) -> Tensor:
    """min(max(x, lo), hi) where x keeps its gradient on [lo, hi] inclusive, as in PyTorch."""
    out = x if lo is None else where(x < lo, lo, x)
    return out if hi is None else where(out > hi, hi, out)


def _number(v: Any) -> Any:
    """A Python bound kept as int or float: its kind takes part in type promotion."""
    return v.item() if isinstance(v, np.generic) else v


clip = clamp


def clone(x: Tensor) -> Tensor:
    return apply(Op.CAST, x, dtype=x.dtype, name="CloneBackward0")


# ---- reductions ----------------------------------------------------------------------------
def sum(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:  # noqa: A001
    if dtype is not None:
        x = x.to(dtype)
    return apply(
        Op.SUM,
        x,
        axes=_axes(dim, x.ndim),
        keepdim=keepdim,
        name="SumBackward0" if dim is None else "SumBackward1",
    )


def _count(x: Tensor, axes: tuple[int, ...] | None) -> int:
    return x.numel() if axes is None else prod(x.shape[a] for a in axes)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)
    if not x.dtype.is_floating_point:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a "
            f"floating point or complex dtype. Got: {_type_word(x.dtype)}"
        )
    axes = _axes(dim, x.ndim)
    return composite(
        "MeanBackward0" if dim is None else "MeanBackward1",
        lambda a: sum(a, dim, keepdim) / _count(a, axes),
        x,
    )


def _type_word(d: D.DType) -> str:
    return {"int64": "Long", "int32": "Int", "bool": "Bool", "uint8": "Byte"}.get(d.name, d.name)


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
    axes = _axes(dim, x.ndim)

    def decomposition(a: Tensor) -> Tensor:
        d = a - a.sum(dim=dim, keepdim=True) / _count(a, axes)
        return (d * d).sum(dim=dim, keepdim=keepdim) / _max0(_count(a, axes) - c)

    return composite("VarBackward0", decomposition, x)


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
        "StdBackward0", lambda a: _sqrt0(var(a, dim, unbiased, keepdim, correction=correction)), x
    )


def _sqrt0(v: Tensor) -> Tensor:
    """sqrt whose gradient is 0 (not inf * 0 = nan) where v is 0, as PyTorch's std_backward."""
    nonzero = v != 0
    return where(nonzero, sqrt(where(nonzero, v, 1.0)), 0.0)


def amax(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    return apply(Op.AMAX, x, axes=_axes(dim, x.ndim) if dim != () else None, keepdim=keepdim)


def amin(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    return apply(Op.AMIN, x, axes=_axes(dim, x.ndim) if dim != () else None, keepdim=keepdim)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return apply(Op.ARGMAX, x, axes=_axes(dim, x.ndim), keepdim=keepdim)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return apply(Op.ARGMIN, x, axes=_axes(dim, x.ndim), keepdim=keepdim)


def _extremum(x: Tensor, dim: Any, keepdim: bool, other: Any, kind: str) -> Any:
    if isinstance(dim, Tensor):
        return (maximum if kind == "max" else minimum)(x, dim)
    if other is not None:
        return (maximum if kind == "max" else minimum)(x, other)
    reduce_op, arg_op = (Op.AMAX, Op.ARGMAX) if kind == "max" else (Op.AMIN, Op.ARGMIN)
    title = kind.capitalize()
    if dim is None:
        return apply(reduce_op, x, axes=None, keepdim=False, name=f"{title}Backward1")
    axis = norm_axis(dim, x.ndim)
    idx = apply(arg_op, x, axes=(axis,), keepdim=True)
    vals = composite(
        f"{title}Backward0",
        lambda a: apply(Op.GATHER, a, idx, axis=axis).reshape(
            tuple(n for i, n in enumerate(idx.shape) if keepdim or i != axis)
        ),
        x,
    )
    return values_indices(vals, idx if keepdim else idx.squeeze(axis))


def max(x: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:  # noqa: A001
    return _extremum(x, dim, keepdim, other, "max")


def min(x: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:  # noqa: A001
    return _extremum(x, dim, keepdim, other, "min")


def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    def decomposition(a: Tensor) -> Tensor:
        m = amax(a, dim, keepdim=True).detach()
        m = where(m.abs() == float("inf"), 0.0, m)
        s = log(sum(exp(a - m), dim, keepdim=True)) + m
        return s if keepdim else s.squeeze(_axes(dim, a.ndim))

    return composite("LogsumexpBackward0", decomposition, x)


def softmax(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)

    def decomposition(a: Tensor) -> Tensor:
        e = exp(a - amax(a, dim, keepdim=True).detach())
        return e / sum(e, dim, keepdim=True)

    return composite("SoftmaxBackward0", decomposition, x)


def log_softmax(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    if dtype is not None:
        x = x.to(dtype)

    def decomposition(a: Tensor) -> Tensor:
        s = a - amax(a, dim, keepdim=True).detach()
        return s - log(sum(exp(s), dim, keepdim=True))

    return composite("LogSoftmaxBackward0", decomposition, x)


# ---- movement ------------------------------------------------------------------------------
def _infer_shape(shape: tuple[int, ...], numel: int) -> tuple[int, ...]:
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape:
        known = prod(n for n in shape if n != -1)
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if n == -1 else n for n in shape)
    return shape


def reshape(x: Tensor, *shape: Any) -> Tensor:
    return apply(Op.RESHAPE, x, shape=_infer_shape(_dims(shape), x.numel()), name="ViewBackward0")


view = reshape


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = norm_axis(start_dim, x.ndim), norm_axis(end_dim, x.ndim)
    return reshape(x, (*x.shape[:s], prod(x.shape[s : e + 1]), *x.shape[e + 1 :]))


def unflatten(x: Tensor, dim: int, sizes: Any) -> Tensor:
    d = norm_axis(dim, x.ndim)
    sizes = _infer_shape(tuple(sizes), x.shape[d])
    return reshape(x, (*x.shape[:d], *sizes, *x.shape[d + 1 :]))


def permute(x: Tensor, *dims: Any) -> Tensor:
    axes = tuple(norm_axis(d, x.ndim) for d in _dims(dims))
    return apply(Op.PERMUTE, x, axes=axes)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    axes = list(range(x.ndim))
    a, b = norm_axis(dim0, x.ndim), norm_axis(dim1, x.ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return apply(Op.PERMUTE, x, axes=tuple(axes), name="TransposeBackward0")


swapaxes = swapdims = transpose


def t(x: Tensor) -> Tensor:
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return apply(Op.PERMUTE, x, axes=tuple(reversed(range(x.ndim))), name="TBackward0")


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    axes = _axes(dim, x.ndim)
    keep = tuple(n for i, n in enumerate(x.shape) if n != 1 or (axes is not None and i not in axes))
    kind = 0 if dim is None else 2 if isinstance(dim, tuple | list) else 1
    return apply(Op.RESHAPE, x, shape=keep, name=f"SqueezeBackward{kind}")


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    d = norm_axis(dim, x.ndim + 1)
    return apply(Op.RESHAPE, x, shape=(*x.shape[:d], 1, *x.shape[d:]), name="UnsqueezeBackward0")


def expand(x: Tensor, *sizes: Any) -> Tensor:
    shape = _dims(sizes)
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
    if shape == tuple(x.shape):
        return apply(Op.RESHAPE, x, shape=shape, name="ExpandBackward0")
    return apply(Op.EXPAND, x, shape=shape)


def broadcast_to(x: Tensor, shape: Any) -> Tensor:
    return expand(x, tuple(shape))


def expand_as(x: Tensor, other: Tensor) -> Tensor:
    return expand(x, tuple(other.shape))


def getitem(x: Tensor, index: Any) -> Tensor:
    spec, tensors = normalize_index(tuple(x.shape), index)
    idx = [Tensor._make(a) for a in tensors]
    return apply(Op.INDEX, x, *idx, spec=spec, name=basic_name(spec, tuple(x.shape), index))


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    d = norm_axis(dim, x.ndim)
    index = (slice(None),) * d + (slice(start, start + length),)
    return getitem(x, index)


def cat(tensors: Any, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if any(t.ndim != 1 for t in tensors):  # legacy: 1-D empty tensors join anything, unused
        tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    axis = norm_axis(dim, tensors[0].ndim)
    return apply(Op.CAT, *tensors, axis=axis)


concat = concatenate = cat


def stack(tensors: Any, dim: int = 0) -> Tensor:
    tensors = list(tensors)
    if any(t.shape != tensors[0].shape for t in tensors):
        raise RuntimeError(
            f"stack expects each tensor to be equal size, but got "
            f"{list(tensors[0].shape)} at entry 0 and "
            f"{next(list(t.shape) for t in tensors if t.shape != tensors[0].shape)}"
            " at entry 1"
        )
    d = norm_axis(dim, tensors[0].ndim + 1)
    return composite("StackBackward0", lambda *ts: cat([unsqueeze(t, d) for t in ts], d), *tensors)


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    d = norm_axis(dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections:
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
    name = (
        "SplitBackward0" if isinstance(split_size_or_sections, int) else "SplitWithSizesBackward0"
    )
    starts = [0, *accumulate(sizes)][:-1]
    return tuple(
        composite(name, lambda a, b=b, s=s: narrow(a, d, b, s), x)
        for b, s in zip(starts, sizes, strict=True)
    )


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    n = x.shape[norm_axis(dim, x.ndim)]
    return split(x, -(-n // chunks), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    d = norm_axis(dim, x.ndim)
    return tuple(
        composite("UnbindBackward0", lambda a, i=i: getitem(a, (slice(None),) * d + (i,)), x)
        for i in range(x.shape[d])
    )


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    axis = norm_axis(dim, x.ndim)
    _check_range(index, x.shape[axis] if x.ndim else 1, axis)
    return apply(Op.GATHER, x, index, axis=axis)


def _check_range(index: Tensor, size: int, axis: int) -> None:
    data = index._data
    if data.size and data.dtype.kind in "iu" and (data.min() < 0 or data.max() >= size):
        bad = int(data.max() if data.max() >= size else data.min())
        raise RuntimeError(f"index {bad} is out of bounds for dimension {axis} with size {size}")


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    axis = norm_axis(dim, x.ndim)
    return composite(
        "ScatterAddBackward0",
        lambda a, s: a + apply(Op.SCATTER_ADD, s, index, axis=axis, shape=tuple(x.shape)),
        x,
        src,
    )


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    reps = _dims(sizes)
    lead = (1,) * (len(reps) - x.ndim) + tuple(x.shape)

    def decomposition(a: Tensor) -> Tensor:
        a = reshape(a, tuple(v for n in lead for v in (1, n)))
        a = expand(a, tuple(v for r, n in zip(reps, lead, strict=True) for v in (r, n)))
        return reshape(a, tuple(r * n for r, n in zip(reps, lead, strict=True)))

    return composite("RepeatBackward0", decomposition, x)


def flip(x: Tensor, dims: Any) -> Tensor:
    axes = _axes(dims, x.ndim) or ()

    def decomposition(a: Tensor) -> Tensor:
        for axis in axes:
            rev = Tensor._make(np.arange(a.shape[axis] - 1, -1, -1))
            a = getitem(a, (slice(None),) * axis + (rev,))
        return a if axes else clone(a)  # always a new tensor, as in PyTorch

    return composite("FlipBackward0", decomposition, x)


def nonzero(x: Tensor, *, as_tuple: bool = False) -> Any:
    if x.ndim == 0:  # one element and no dims to index: as_tuple indexes it as 1-D
        found = np.flatnonzero(x._data)
        return (
            (Tensor._make(found),)
            if as_tuple
            else Tensor._make(np.zeros((found.size, 0), np.int64))
        )
    nz = np.nonzero(x._data)
    if as_tuple:
        return tuple(Tensor._make(a.astype(np.int64)) for a in nz)
    return Tensor._make(np.stack(nz, axis=1).astype(np.int64) if nz else np.zeros((0, 0), np.int64))


# ---- contraction ---------------------------------------------------------------------------
_MATMUL_NAMES = {
    (1, 1): "DotBackward0",
    (2, 1): "MvBackward0",
    (2, 2): "MmBackward0",
    (1, 2): "SqueezeBackward4",
}


def matmul(x: Tensor, y: Tensor) -> Tensor:
    name = _MATMUL_NAMES.get((x.ndim, y.ndim), "UnsafeViewBackward0")
    return apply(Op.MATMUL, x, y, name=name)


def mm(x: Tensor, y: Tensor) -> Tensor:
    if x.ndim != 2 or y.ndim != 2:
        raise RuntimeError("self must be a matrix" if x.ndim != 2 else "mat2 must be a matrix")
    return matmul(x, y)


def bmm(x: Tensor, y: Tensor) -> Tensor:
    if x.ndim != 3 or y.ndim != 3:
        raise RuntimeError(
            "batch1 must be a 3D tensor" if x.ndim != 3 else "batch2 must be a 3D tensor"
        )
    return apply(Op.MATMUL, x, y, name="BmmBackward0")


def mv(x: Tensor, y: Tensor) -> Tensor:
    return matmul(x, y)


def dot(x: Tensor, y: Tensor) -> Tensor:
    if x.ndim != 1 or y.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {x.ndim}D and {y.ndim}D tensors")
    return matmul(x, y)


def outer(x: Tensor, y: Tensor) -> Tensor:
    return unsqueeze(x, 1) * unsqueeze(y, 0)


def _sum_to(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum a broadcast cotangent back down to ``shape``."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1
    )
    out = apply(Op.SUM, g, axes=axes, keepdim=True) if axes else g
    return apply(Op.RESHAPE, out, shape=tuple(shape)) if tuple(out.shape) != tuple(shape) else out
