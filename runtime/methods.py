"""Tensor methods and operators: a table from names to the functions in ``functional``."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..ir.ops import Op
from ..ir.shapes import infer_size
from . import (
    autocast,
    dispatch,
    ops_contract,
    ops_histogram,
    ops_math,
    ops_misc,
    ops_misc_math,
    ops_random,
    ops_special,
    ops_special_more,
    ops_view_scatter,
    predicates,
)
from . import device as device_api
from . import functional as F
from . import inplace as I
from . import ops_shape as S
from .dispatch import apply, as_tensor_operand, composite
from .ops_elementwise import masked_fill_inplace, scalar_as
from .ops_index import unfold
from .ops_integer import invert
from .ops_linalg import _sum_to as sum_to
from .tensor import Tensor

_autocast = autocast._state

# methods that are the function of the same name with the tensor as first argument
SAME_NAME = """
neg abs sign exp log log1p sqrt sin cos tanh sigmoid relu erf logical_not reciprocal rsqrt square
floor trunc add sub mul div true_divide divide pow maximum minimum eq ne lt le gt ge logical_and
logical_or clamp clip clamp_min clamp_max masked_fill lerp addcmul addcdiv isnan isinf isfinite
nan_to_num logical_xor bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift
bitwise_right_shift remainder fmod floor_divide
sum mean var std amax amin argmax argmin max min logsumexp softmax log_softmax norm all any
cumsum sort argsort msort topk unique unique_consecutive
prod nansum nanmean count_nonzero aminmax dist trace cumprod cummax cummin logcumsumexp
median nanmedian kthvalue mode quantile nanquantile
reshape view flatten unflatten permute transpose swapaxes swapdims t squeeze unsqueeze expand
expand_as broadcast_to narrow split chunk unbind gather scatter_add repeat flip nonzero index_select
matmul mm bmm mv dot outer
tril triu diag diagonal diag_embed diagflat roll fliplr flipud rot90 repeat_interleave movedim
moveaxis select tensor_split take take_along_dim index_add index_fill masked_select argwhere
scatter index_copy scatter_reduce index_put masked_scatter unsafe_chunk unsafe_split isreal
""".split()  # noqa: SIM905 - a word list reads best as words
SAME_NAME += ops_math.NAMES  # tan, atan2, ceil, round, ...
SAME_NAME += ops_contract.METHODS  # addmm, kron, cross, ...
SAME_NAME += ["det", "logdet", "slogdet", "inverse", "cholesky", "pinverse", "svd", "qr"]
SAME_NAME += ["cholesky_solve", "cholesky_inverse", "matrix_exp"]
SAME_NAME += ["lu", "lu_solve", "triangular_solve", "orgqr", "geqrf", "ormqr"]
SAME_NAME += ops_misc_math.METHODS  # deg2rad, fmax, gcd, ... and positive, fix, ravel
SAME_NAME += ops_misc.METHODS  # diff, cov, corrcoef, inner, renorm
SAME_NAME += ops_view_scatter.METHODS  # hsplit, slice_scatter, as_strided, ...
SAME_NAME += ops_histogram.METHODS  # histc, histogram, bincount
SAME_NAME += ["stft", "istft"]  # runtime/fft_stft.py

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
    "__floordiv__": F.floor_divide,
    "__rfloordiv__": lambda x, y: F.floor_divide(y, x),
    "__neg__": F.neg,
    "__pos__": lambda x: x,
    "__abs__": F.abs,
    "__eq__": F.eq,
    "__ne__": F.ne,
    "__lt__": F.lt,
    "__le__": F.le,
    "__gt__": F.gt,
    "__ge__": F.ge,
    # Note [bitwise ops]: bitwise on integers, logical on bool; the tensor stays first in the
    # reflected commutative ones, as for __radd__
    "__and__": F.bitwise_and,
    "__or__": F.bitwise_or,
    "__xor__": F.bitwise_xor,
    "__rand__": F.bitwise_and,
    "__ror__": F.bitwise_or,
    "__rxor__": F.bitwise_xor,
    "__invert__": invert,
    "__lshift__": F.bitwise_left_shift,
    "__rshift__": F.bitwise_right_shift,
    "__rlshift__": lambda x, y: F.bitwise_left_shift(y, x),
    "__rrshift__": lambda x, y: F.bitwise_right_shift(y, x),
    "__mod__": F.remainder,
    "__rmod__": lambda x, y: F.remainder(y, x),
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
    "floor_": F.floor,
    "trunc_": F.trunc,
    "log1p_": F.log1p,
    "reciprocal_": F.reciprocal,
    "rsqrt_": F.rsqrt,
    "erf_": F.erf,
    "clamp_min_": F.clamp_min,
    "clamp_max_": F.clamp_max,
    "masked_fill_": masked_fill_inplace,
    "lerp_": F.lerp,
    "addcmul_": F.addcmul,
    "addcdiv_": F.addcdiv,
    "__iadd__": F.add,
    "__isub__": F.sub,
    "__imul__": F.mul,
    "__itruediv__": F.div,
    "__ipow__": F.pow,
    "bitwise_and_": F.bitwise_and,
    "bitwise_or_": F.bitwise_or,
    "bitwise_xor_": F.bitwise_xor,
    "bitwise_not_": F.bitwise_not,
    "bitwise_left_shift_": F.bitwise_left_shift,
    "bitwise_right_shift_": F.bitwise_right_shift,
    "logical_and_": F.logical_and,
    "logical_or_": F.logical_or,
    "logical_xor_": F.logical_xor,
    "logical_not_": F.logical_not,
    "remainder_": F.remainder,
    "fmod_": F.fmod,
    "floor_divide_": F.floor_divide,
    "tril_": F.tril,
    "triu_": F.triu,
    "index_add_": F.index_add,
    "index_fill_": F.index_fill,
    "scatter_": F.scatter,
    "scatter_add_": F.scatter_add,
    "index_copy_": F.index_copy,
    "scatter_reduce_": F.scatter_reduce,
    "index_put_": F.index_put,
    "masked_scatter_": F.masked_scatter,
    "__iand__": F.bitwise_and,
    "__ior__": F.bitwise_or,
    "__ixor__": F.bitwise_xor,
    "__ilshift__": F.bitwise_left_shift,
    "__irshift__": F.bitwise_right_shift,
    "__imod__": F.remainder,
    "__ifloordiv__": F.floor_divide,
    **{f"{name}_": getattr(F, name) for name in ops_math.INPLACE},
    **ops_math.INPLACE_EXTRA,
    **{f"{name}_": getattr(F, name) for name in ops_contract.INPLACE},
    **{f"{name}_": fn for name, fn in ops_special.METHODS.items()},
    **{f"{name}_": fn for name, fn in ops_special_more.METHODS.items()},  # igamma_, igammac_
    **{f"{name}_": getattr(F, name) for name in ops_misc_math.INPLACE},
    **{f"{name}_": getattr(F, name) for name in ops_misc.INPLACE},
}


def _inplace_method(fn: Any) -> Any:
    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if _autocast.on is not None:  # (PyTorch's in-place ops have no autocast kernel)
            return autocast.excluded(method, self, *args, **kwargs)  # type: ignore[no-any-return]
        return I.inplace(self, lambda t: fn(t, *args, **kwargs), *args)

    return method


_TRUE = np.ones((), bool)


def _overwrite(name: str, value: Any) -> Any:
    """An out-of-place "every element becomes ``value``": no gradient reaches the old values
    (and inf/nan in them cannot leak, unlike ``t * 0``); a tensor ``value`` gets its gradient."""

    def fn(t: Tensor) -> Tensor:
        v = value.to(t.dtype) if isinstance(value, Tensor) else scalar_as(value, t.dtype)
        return composite(
            name,
            lambda a, *b: F.where(Tensor._make(_TRUE), b[0] if b else v, a),
            t,
            *([v] if isinstance(v, Tensor) else []),
        )

    return fn


def _converted(value: Any) -> Any:
    """``value`` as _overwrite's result takes it, in the written tensor's dtype (Note [direct
    writes] in runtime/inplace.py)."""

    def convert(t: Tensor) -> Tensor:
        if isinstance(value, Tensor):
            return value.to(t.dtype)
        # astype: a negative integer wraps into an unsigned type, as PyTorch's fill does
        return Tensor._make(np.asarray(scalar_as(value, t.dtype)).astype(t._data.dtype))

    return convert


def _zero_(self: Tensor) -> Tensor:
    return I.inplace(self, _overwrite("ZeroBackward0", 0), direct=_converted(0), expanded_ok=True)


def _fill_(self: Tensor, value: Any) -> Tensor:
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(
            "fill_ only supports 0-dimension value tensor but got tensor with "
            f"{value.ndim} dimensions."
        )
    name = "FillBackward1" if isinstance(value, Tensor) else "FillBackward0"
    direct, scalar = _converted(value), not isinstance(value, Tensor)
    return I.inplace(self, _overwrite(name, value), value, direct=direct, expanded_ok=scalar)


def _copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    src = as_tensor_operand(src)
    shapes = tuple(self.shape), tuple(src.shape)
    if all(type(n) is int for shape in shapes for n in shape):  # (symbolic sizes: the op's)
        infer_size(*shapes, RuntimeError)  # (PyTorch's text names the written tensor a)
    return I.inplace(self, _overwrite("CopyBackwards", src), src, direct=_converted(src))


def _where_method(self: Tensor, condition: Any, other: Any) -> Tensor:
    return F.where(condition, self, other)


def _sum_to(self: Tensor, shape: tuple[int, ...]) -> Tensor:
    return sum_to(self, shape)


SHAPE_METHODS = {
    "tile": S.tile_method,
    "view_as": S.view_as,
    "reshape_as": S.reshape_as,
    "type_as": S.type_as,
    "sum_to_size": S.sum_to_size,
    "unfold": unfold,
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
        "_unfold": lambda g, k, d, p, s: apply(
            Op.UNFOLD, g, kernel_size=k, dilation=d, padding=p, stride=s
        ),
        "_fold": lambda g, size, k, d, p, s: apply(
            Op.FOLD, g, output_size=tuple(size), kernel_size=k, dilation=d, padding=p, stride=s
        ),
        "_linalg": lambda a, func, mode, *others: apply(
            Op.LINALG, a, *others, func=func, mode=mode
        ),
    }
    return table[name]


def _new(kind: str) -> Any:
    """``t.new_zeros(size)`` and friends: a fresh tensor with ``t``'s dtype by default."""
    from . import creation as C

    def method(
        self: Tensor, *args: Any, dtype: Any = None, requires_grad: bool = False, **kwargs: Any
    ) -> Tensor:
        dt = dtype or self.dtype
        if kind == "tensor":
            return C.tensor(args[0], dtype=dt, requires_grad=requires_grad)
        if kind == "full":
            return C.full(args[0], args[1], dtype=dt, requires_grad=requires_grad)
        if kind == "zeros" and not C._traced(list(args)):
            C.check_sizes(C._dims(args))  # (new_zeros words it as the other factories)
        return getattr(C, kind)(*args, dtype=dt, requires_grad=requires_grad)

    return method


NEW = {
    "new_zeros": "zeros",
    "new_ones": "ones",
    "new_empty": "empty",
    "new_full": "full",
    "new_tensor": "tensor",
}


def install(cls: type) -> None:
    for name in SAME_NAME:
        setattr(cls, name, getattr(F, name))
    for alias, target in ALIASES.items():
        if target:
            setattr(cls, alias, getattr(F, target))
    for name, fn in OPERATORS.items():
        setattr(cls, name, fn)
    for name, fn in {**ops_special.METHODS, **ops_special_more.METHODS}.items():  # (polygamma(n))
        setattr(cls, name, fn)
    for name, fn in INPLACE.items():
        setattr(cls, name, _inplace_method(fn))
    for name in ("allclose", "isclose", "equal"):
        setattr(cls, name, getattr(predicates, name))
    for name in ("_index", "_index_add", "_gather", "_scatter_add", "_unfold", "_fold", "_linalg"):
        setattr(cls, name, _private(name))
    for name, kind in NEW.items():
        setattr(cls, name, _new(kind))
    for name, fn in {**ops_random.INPLACE, **ops_random.METHODS}.items():
        setattr(cls, name, fn)
    cls.zero_ = _zero_
    cls.fill_ = _fill_
    cls.copy_ = _copy_
    cls.where = _where_method
    cls._sum_to = _sum_to
    for name, fn in SHAPE_METHODS.items():  # methods with no torch.* function
        setattr(cls, name, fn)
    cls.__hash__ = lambda self: id(self)
    from . import methods_extra  # in-place aliases, put, apply_, T/mT/H, is_* queries, ...

    methods_extra.install(cls, _inplace_method)
    device_api.install(cls)  # to, cuda, pin_memory, contiguous, clone(memory_format=), ...
    from . import ops_complex

    ops_complex.install(cls)  # real/imag views, conj, angle, cfloat, cdouble
    from . import methods_more

    methods_more.install(cls)  # layout, storage, resize, dim_order, DLPack, view copies, ...
    from . import tensor_extras

    tensor_extras.install(cls)  # storage_type, module_load, is_distributed, unsafe_split_...
    for name, (op, fn) in LEAN_FIRST.items():  # (Note [lean methods])
        if getattr(cls, name) is fn:
            setattr(cls, name, _lean_first(op, fn))


# Note [lean methods]
# ``x.sin()``, ``x * y``: a method that is exactly ``apply(op, self[, other])`` tries dispatch's
# lean path first (Note [lean eager path]) without the function and ``apply`` frames between,
# and otherwise calls the function, which takes the general path: ~0.25 µs of ~2.5 per op.
LEAN_FIRST: dict[str, tuple[Any, Any]] = {
    **{n: (getattr(Op, n.upper()), getattr(F, n)) for n in ("sin", "cos", "tanh", "exp")},
    **{n: (getattr(Op, n.upper()), getattr(F, n)) for n in ("log", "log1p", "sqrt", "sigmoid")},
    **{n: (getattr(Op, n.upper()), getattr(F, n)) for n in ("relu", "neg", "abs")},
    "__neg__": (Op.NEG, F.neg),
    "__abs__": (Op.ABS, F.abs),
    "__add__": (Op.ADD, F.add),
    "__radd__": (Op.ADD, F.add),  # (the tensor stays first: OPERATORS)
    "__sub__": (Op.SUB, F.sub),
    "__mul__": (Op.MUL, F.mul),
    "__rmul__": (Op.MUL, F.mul),
    "__truediv__": (Op.DIV, F.div),
}


def _lean_first(op: Any, fn: Any) -> Any:
    """``fn`` (``apply(op, ...)``) that tries the lean path first (Note [lean methods])."""
    if op in (Op.ADD, Op.SUB, Op.MUL, Op.DIV):

        @functools.wraps(fn)  # (its name, docstring and signature)
        def binary(self: Any, other: Any) -> Any:
            out = dispatch._lean(op, (self, other)) if op in dispatch.LEAN_OPS else None
            return out if out is not None else fn(self, other)

        return binary

    @functools.wraps(fn)
    def unary(self: Any) -> Any:
        out = dispatch._lean(op, (self,)) if op in dispatch.LEAN_OPS else None
        return out if out is not None else fn(self)

    return unary
