"""Tensor methods and operators: a table from names to the functions in ``functional``."""

from __future__ import annotations

from typing import Any

from . import functional as F
from . import inplace as I
from .dispatch import apply, as_tensor_operand
from .tensor import Tensor

# methods that are the function of the same name with the tensor as first argument
SAME_NAME = [
    "neg",
    "abs",
    "sign",
    "exp",
    "log",
    "log1p",
    "sqrt",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "erf",
    "logical_not",
    "reciprocal",
    "rsqrt",
    "square",
    "add",
    "sub",
    "mul",
    "div",
    "true_divide",
    "divide",
    "pow",
    "maximum",
    "minimum",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "logical_and",
    "logical_or",
    "clamp",
    "clip",
    "sum",
    "mean",
    "var",
    "std",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "max",
    "min",
    "logsumexp",
    "softmax",
    "log_softmax",
    "reshape",
    "view",
    "flatten",
    "unflatten",
    "permute",
    "transpose",
    "swapaxes",
    "swapdims",
    "t",
    "squeeze",
    "unsqueeze",
    "expand",
    "expand_as",
    "broadcast_to",
    "narrow",
    "split",
    "chunk",
    "unbind",
    "gather",
    "scatter_add",
    "repeat",
    "flip",
    "nonzero",
    "matmul",
    "mm",
    "bmm",
    "mv",
    "dot",
    "outer",
]

ALIASES = {
    "negative": "neg",
    "absolute": "abs",
    "multiply": "mul",
    "subtract": "sub",
    "greater": "gt",
    "less": "lt",
    "greater_equal": "ge",
    "less_equal": "le",
    "not_equal": "ne",
    "arctan": None,
}

OPERATORS = {
    "__add__": F.add,
    "__sub__": F.sub,
    "__mul__": F.mul,
    "__truediv__": F.div,
    "__pow__": F.pow,
    "__matmul__": F.matmul,
    # PyTorch keeps the tensor first in reflected commutative ops (next_functions order)
    "__radd__": F.add,
    "__rsub__": F.rsub,
    "__rmul__": F.mul,
    "__rtruediv__": lambda x, y: F.mul(F.reciprocal(x), y),
    "__rpow__": lambda x, y: F.pow(y, x),
    "__rmatmul__": lambda x, y: F.matmul(y, x),
    "__floordiv__": lambda x, y: F.div(x, y, rounding_mode="floor"),
    "__rfloordiv__": lambda x, y: F.div(y, x, rounding_mode="floor"),
    "__neg__": F.neg,
    "__pos__": lambda x: x,
    "__abs__": F.abs,
    "__eq__": F.eq,
    "__ne__": F.ne,
    "__lt__": F.lt,
    "__le__": F.le,
    "__gt__": F.gt,
    "__ge__": F.ge,
    "__and__": F.logical_and,
    "__or__": F.logical_or,
    "__rand__": lambda x, y: F.logical_and(y, x),
    "__ror__": lambda x, y: F.logical_or(y, x),
    "__invert__": F.logical_not,
    "__getitem__": F.getitem,
    "__setitem__": I.setitem,
}

# in-place methods: name -> the out-of-place function applied to (self, *args)
INPLACE = {
    "add_": F.add,
    "sub_": F.sub,
    "mul_": F.mul,
    "div_": F.div,
    "pow_": F.pow,
    "clamp_": F.clamp,
    "clip_": F.clamp,
    "neg_": F.neg,
    "abs_": F.abs,
    "exp_": F.exp,
    "log_": F.log,
    "sqrt_": F.sqrt,
    "sin_": F.sin,
    "cos_": F.cos,
    "tanh_": F.tanh,
    "sigmoid_": F.sigmoid,
    "relu_": F.relu,
    "square_": F.square,
    "__iadd__": F.add,
    "__isub__": F.sub,
    "__imul__": F.mul,
    "__itruediv__": F.div,
    "__ipow__": F.pow,
}


def _inplace_method(fn: Any) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return I.inplace(self, lambda t: fn(t, *args, **kwargs), *args)

    return method


def _zero_(self: Tensor) -> Tensor:
    return I.inplace(self, lambda t: t * 0 if not t.requires_grad else apply_full(t, 0))


def apply_full(t: Tensor, value: Any) -> Tensor:
    """``value`` everywhere, shaped and typed like ``t``, as a tensor with no history."""
    import numpy as np

    return Tensor._make(np.full(t._data.shape, value, t._data.dtype))


def _fill_(self: Tensor, value: Any) -> Tensor:
    v = as_tensor_operand(value)
    return I.inplace(self, lambda t: (t * 0 + v) if v.requires_grad else apply_full(t, v.item()), v)


def _copy_(self: Tensor, src: Tensor, non_blocking: bool = False) -> Tensor:
    return I.inplace(
        self,
        lambda t: (
            (t * 0 + src.to(t.dtype)).expand(tuple(t.shape))
            if src.requires_grad
            else Tensor._make(src._data.astype(t._data.dtype))
        ),
        src,
    )


def _where_method(self: Tensor, condition: Any, other: Any) -> Tensor:
    return F.where(condition, self, other)


def _sum_to(self: Tensor, shape: tuple[int, ...]) -> Tensor:
    return F._sum_to(self, shape)


PROPERTIES = {
    "T": lambda x: F.permute(x, tuple(reversed(range(x.ndim)))),
    "mT": lambda x: F.transpose(x, -2, -1),
    "H": lambda x: F.permute(x, tuple(reversed(range(x.ndim)))),
}


def _private(name: str) -> Any:
    """Helpers the derivative rules use: the vocabulary shared with the adjoint pass."""
    from ..ir.ops import Op

    table = {
        "_index": lambda g, spec, *idx: apply(Op.INDEX, g, *idx, spec=spec),
        "_index_add": lambda g, spec, shape, *idx: apply(
            Op.INDEX_ADD, g, *idx, spec=spec, shape=tuple(shape)
        ),
        "_gather": lambda g, axis, index: apply(Op.GATHER, g, index, axis=axis),
        "_scatter_add": lambda g, axis, shape, index: apply(
            Op.SCATTER_ADD, g, index, axis=axis, shape=tuple(shape)
        ),
    }
    return table[name]


def install(cls: type) -> None:
    for name in SAME_NAME:
        setattr(cls, name, getattr(F, name))
    for alias, target in ALIASES.items():
        if target:
            setattr(cls, alias, getattr(F, target))
    for name, fn in OPERATORS.items():
        setattr(cls, name, fn)
    for name, fn in INPLACE.items():
        setattr(cls, name, _inplace_method(fn))
    for name, fn in PROPERTIES.items():
        setattr(cls, name, property(fn))
    for name in ("_index", "_index_add", "_gather", "_scatter_add"):
        setattr(cls, name, _private(name))
    cls.zero_ = _zero_
    cls.fill_ = _fill_
    cls.copy_ = _copy_
    cls.where = _where_method
    cls._sum_to = _sum_to
    cls.__hash__ = lambda self: id(self)
