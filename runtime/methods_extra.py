"""More Tensor methods: in-place aliases and comparisons, put/fill_diagonal_, apply_, queries."""

from __future__ import annotations

import operator
import warnings
from typing import Any

import numpy as np

from ..ir.ops import Op
from ..ir.shapes import C_NAMES
from . import creation as C
from . import functional as F
from . import inplace as I
from . import inplace_shape, removed_api, strided_inplace
from .checks import check, in_range, traced
from .creation import check_fill
from .dispatch import apply, composite, with_rule
from .grad_mode import is_grad_enabled
from .tensor import Tensor, _dims


def _cumulative(name: str, fn: Any) -> Any:
    """``cumsum_``/``cumprod_``: PyTorch's in-place checks, then the out-of-place op."""

    def method(self: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
        if dtype is not None and dtype is not self.dtype:
            raise RuntimeError(
                f"Bad in-place call: input tensor dtype {C_NAMES[self.dtype.name]} and output "
                f"tensor dtype {C_NAMES[dtype.name]} should match"
            )
        if self.dtype.name == "bool":
            raise NotImplementedError(f"\"{name}_out_cpu\" not implemented for 'Bool'")
        return I.inplace(self, lambda t: fn(t, dim))

    return method


# in-place forms of aliases: name -> the out-of-place function (methods._inplace_method)
INPLACE = {
    "sign_": F.sign,
    "nan_to_num_": F.nan_to_num,
    "divide_": F.div,
    "true_divide_": F.true_divide,
    "multiply_": F.mul,
    "subtract_": F.sub,
    "negative_": F.neg,
    "absolute_": F.abs,
}


# ---- in-place comparisons -------------------------------------------------------------------
class _ZeroRule:
    """A comparison's derivative as PyTorch's EqBackward & co: zeros for every operand."""

    def __repr__(self) -> str:  # a Python literal: printed IR parses
        return repr("comparison")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        return (
            None,
            *(
                x.new_zeros(()).expand(tuple(x.shape)) if need else None
                for x, need in zip(inputs[1:], needs[1:], strict=True)
            ),
        )


_ZERO = _ZeroRule()

COMPARISONS = {  # in-place name -> (out-of-place function, PyTorch's grad_fn stem)
    "eq_": (F.eq, "Eq"),
    "ne_": (F.ne, "Ne"),
    "not_equal_": (F.ne, "Ne"),
    "lt_": (F.lt, "Lt"),
    "less_": (F.lt, "Lt"),
    "le_": (F.le, "Le"),
    "less_equal_": (F.le, "Le"),
    "gt_": (F.gt, "Gt"),
    "greater_": (F.gt, "Gt"),
    "ge_": (F.ge, "Ge"),
    "greater_equal_": (F.ge, "Ge"),
}


def _comparison(fn: Any, stem: str) -> Any:
    """``x.eq_(y)``: x becomes ``(x == y)`` in x's dtype; under grad mode its gradient is zero
    (PyTorch keeps requires_grad and records EqBackward0/1), not an unrecorded result."""

    def method(self: Tensor, other: Any) -> Tensor:
        tensor = isinstance(other, Tensor)
        name = f"{stem}Backward{1 if tensor else 0}"

        def value(a: Tensor, *b: Tensor) -> Tensor:
            return fn(a, b[0] if b else other).to(a.dtype)

        def compare(t: Tensor) -> Tensor:
            return with_rule(_ZERO, value, t, *([other] if tensor else []), name=name)

        return I.inplace(self, compare, other)

    return method


# ---- fill_diagonal_ and put -----------------------------------------------------------------
def _diagonal_mask(shape: tuple[int, ...], wrap: bool) -> np.ndarray:
    """Where PyTorch's fill_diagonal_ writes, for a tensor laid out contiguously."""
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    height, width = shape[0], shape[1]
    if len(shape) > 2 and any(n != height for n in shape):
        raise RuntimeError("all dimensions of input must be of equal length")
    mask = np.zeros(shape, bool)
    flat = mask.reshape(-1)
    step = sum(int(np.prod(shape[i + 1 :])) for i in range(len(shape)))
    size = min(height, width)
    flat[: size * step : step] = True
    if wrap and len(shape) == 2 and height > width + 1:
        flat[::step] = True  # the main diagonal, then again every width + 1 rows
    return mask


def fill_diagonal_(self: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    shape = tuple(self.shape)
    mask = _diagonal_mask(shape, wrap)
    tall = wrap and len(shape) == 2 and shape[0] > shape[1] + 1
    if tall and not self._is_tracer and not self.is_contiguous():  # PyTorch walks its strides
        raise NotImplementedError(
            "fill_diagonal_(wrap=True) on a non-contiguous tall matrix is not supported "
            "by adjit; call it on a contiguous() copy"
        )
    if isinstance(fill_value, Tensor):
        if fill_value.ndim:
            raise TypeError(
                "fill_diagonal_(): argument 'fill_value' (position 1) must be Number, not Tensor"
            )
        if C._traced(fill_value):  # checked when the compiled program runs
            fill_value = C.traced_fill(fill_value, self.dtype)
        else:
            fill_value = fill_value.item()
    if not isinstance(fill_value, Tensor):
        check_fill(fill_value, self.dtype)
    if is_grad_enabled() and self.is_leaf and self.requires_grad:  # PyTorch fills a view
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    where = Tensor._make(mask)

    def fill(t: Tensor) -> Tensor:
        return composite("CopySlices", lambda a: F.where(where, fill_value, a).to(a.dtype), t)

    I.inplace(self, fill)
    if tall:  # PyTorch fills the main diagonal, then the wrapped part: two writes
        self._version_box[0] += 1
    return self


def _put_checks(self: Tensor, index: Any, source: Any, op: str) -> None:
    for arg, what, pos in ((index, "index", 1), (source, "source", 2)):
        if not isinstance(arg, Tensor):
            raise TypeError(
                f"{op}(): argument '{what}' (position {pos}) must be Tensor, "
                f"not {type(arg).__name__}"
            )
    if index.dtype.name != "int64":
        raise RuntimeError(
            f"put_(): Expected a long tensor for index, but got {index.dtype.type_name}"
        )
    if source.dtype is not self.dtype:
        raise RuntimeError(
            "put_(): self and source expected to have the same dtype, but got self.dtype = "
            f"{self.dtype.type_name} and source.dtype = {source.dtype.type_name}"
        )
    if self.numel() == 0 and index.numel():
        raise IndexError("put_(): Tried to put elements into an empty tensor")
    if index.numel() != source.numel():
        raise IndexError(
            "put_(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {source.numel()}, index.numel() = {index.numel()}"
        )


def _put(self: Tensor, index: Tensor, source: Tensor, accumulate: bool) -> Tensor:
    """``self`` with ``self.flatten()[index] = source`` (``+=`` if ``accumulate``), out of place."""
    n = self.numel()
    flat_index = F.reshape(index, (-1,))
    ok = in_range(flat_index, -n, n)
    message = "out of range: tried to access index {} on a tensor of " + f"{n} elements."
    flat_index = check(flat_index, ok, IndexError, message, detail=flat_index)
    flat_index = F.where(flat_index < 0, flat_index + n, flat_index)
    spec = (("tensor",),)
    ones = Tensor._make(np.ones(tuple(flat_index.shape), np.int64))
    counts = apply(Op.INDEX_ADD, ones, flat_index, spec=spec, shape=(n,))
    if not accumulate:
        repeated = (
            "put_: an index repeats, so which write wins is unspecified in PyTorch; adjit "
            "refuses it (use accumulate=True or index_add to combine them)"
        )
        counts = check(counts, counts <= 1, RuntimeError, repeated)

    def decomposition(a: Tensor, v: Tensor) -> Tensor:
        flat = F.reshape(a, (-1,))
        v = F.reshape(v, (-1,))
        written = apply(Op.INDEX_ADD, v, flat_index, spec=spec, shape=(n,))
        out = F.add(flat, written) if accumulate else F.where(counts > 0, written, flat)
        return F.reshape(out, tuple(a.shape))

    return composite("PutBackward0", decomposition, self, source)


def put(self: Tensor, index: Any, source: Any, accumulate: bool = False) -> Tensor:
    _put_checks(self, index, source, "put")
    return _put(self, index, source, accumulate)


def put_(self: Tensor, index: Any, source: Any, accumulate: bool = False) -> Tensor:
    _put_checks(self, index, source, "put_")
    return I.inplace(self, lambda t: _put(t, index, source, accumulate), source)


_UNSET: Any = object()  # an argument not given


# ---- apply_ and map_: Python callables per element (CPU, eager, no autograd) ----------------
def _python_value(value: Any, kind: str) -> Any:
    """A callable's result as PyTorch unpacks it for a tensor of this kind."""
    if isinstance(value, Tensor):
        value = value.item()
    if kind == "f":
        if isinstance(value, str) or not hasattr(value, "__float__"):
            raise TypeError(f"must be real number, not {type(value).__name__}")
        return float(value)
    if isinstance(value, float | np.floating):
        value = int(value)
    value = operator.index(value)
    if not -(2**63) <= value < 2**63:
        raise ValueError("Overflow when unpacking long long")
    return value


def _store(data: np.ndarray, i: int, value: Any, dtype: Any) -> None:
    kind = data.dtype.kind
    if kind == "b":
        data.flat[i] = bool(value)
    elif kind in "iu":
        info = np.iinfo(data.dtype)
        if not info.min <= value <= info.max:
            raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow")
        data.flat[i] = value
    else:
        data.flat[i] = value


def _each(self: Tensor, name: str, others: list[Tensor], fn: Any) -> Tensor:
    if self.requires_grad or any(o.requires_grad for o in others):
        raise RuntimeError(
            f"Can't call {name}() on Variable that requires grad. Use var.detach().{name}() "
            "instead."
        )
    if traced(self) or any(traced(o) for o in others):
        from .trace_state import TracingError

        raise TracingError(f"{name}() calls Python per element: not supported when compiled")
    data = self._data
    if not data.flags.writeable:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to "
            "a single memory location. Please clone() the tensor before performing the "
            "operation."
        )
    kind = "f" if data.dtype.kind == "f" else "i"
    arrays = [np.broadcast_to(o._data, data.shape) for o in others]
    pytype = {"f": float, "b": bool}.get(data.dtype.kind, int)
    for i in range(data.size):
        args = [pytype(data.flat[i]), *(a.flat[i].item() for a in arrays)]
        _store(data, i, _python_value(fn(*args), kind), self.dtype)
    self._version_box[0] += 1
    return self


def apply_(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    if kwargs:
        raise TypeError("TensorBase.apply_() takes no keyword arguments")
    if len(args) != 1:
        raise TypeError(f"TensorBase.apply_() takes exactly one argument ({len(args)} given)")
    return _each(self, "apply_", [], args[0])


def map_(self: Tensor, other: Any = _UNSET, callable: Any = _UNSET) -> Tensor:  # noqa: A002
    _require_given("map_", other=other, callable=callable)
    tensor = other
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"map_(): argument 'other' (position 1) must be Tensor, not {type(tensor).__name__}"
        )
    if tensor.dtype is not self.dtype:
        raise TypeError(f"map_: expected {self.type()} for 'other' (got {tensor.type()})")
    if tensor.requires_grad or self.requires_grad:
        return _each(self, "map_", [tensor], callable)
    _check_expands(tensor, self)
    return _each(self, "map_", [tensor], callable)


def map2_(
    self: Tensor,
    x: Any = _UNSET,
    y: Any = _UNSET,
    callable: Any = _UNSET,  # noqa: A002
) -> Tensor:
    """``self[i] = callable(self[i], x[i], y[i])``, x and y broadcast to self (map_'s checks)."""
    _require_given("map2_", x=x, y=y, callable=callable)
    for position, (name, t) in enumerate((("x", x), ("y", y)), 1):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"map2_(): argument '{name}' (position {position}) must be Tensor, not "
                f"{type(t).__name__}"
            )
    for name, t in (("x", x), ("y", y)):
        if t.dtype is not self.dtype:
            raise TypeError(f"map2_: expected {self.type()} for argument '{name}' (got {t.type()})")
    if not (self.requires_grad or x.requires_grad or y.requires_grad):
        _check_expands(x, self)
        _check_expands(y, self)
    return _each(self, "map2_", [x, y], callable)


def _require_given(op: str, **arguments: Any) -> None:
    """PyTorch's parser's text for missing arguments (its grammar: "1 ... arguments", "2 ...
    argument")."""
    missing = [f'"{name}"' for name, value in arguments.items() if value is _UNSET]
    if missing:
        noun = "arguments" if len(missing) == 1 else "argument"
        raise TypeError(
            f"{op}() missing {len(missing)} required positional {noun}: {', '.join(missing)}"
        )


def _check_expands(tensor: Tensor, self: Tensor) -> None:
    """PyTorch's expand errors for ``tensor`` broadcast to ``self``'s shape."""
    if tensor.ndim > self.ndim:
        raise RuntimeError(
            f"expand({tensor.type()}{{{list(tensor.shape)}}}, size={list(self.shape)}): the "
            f"number of sizes provided ({self.ndim}) must be greater or equal to the number "
            f"of dimensions in the tensor ({tensor.ndim})"
        )
    lead = self.ndim - tensor.ndim
    for i, n in enumerate(tensor.shape):
        if n != 1 and n != self.shape[lead + i]:
            raise RuntimeError(
                f"The expanded size of the tensor ({self.shape[lead + i]}) must match the "
                f"existing size ({n}) at non-singleton dimension {lead + i}.  Target sizes: "
                f"{list(self.shape)}.  Tensor sizes: {list(tensor.shape)}"
            )


# ---- attributes and queries of a real, dense, CPU tensor ------------------------------------
FALSE_PROPERTIES = """
is_meta is_mps is_xpu is_ipu is_quantized is_sparse is_sparse_csr is_mkldnn is_nested is_xla
is_mtia is_vulkan is_maia
""".split()  # noqa: SIM905 - a word list reads best as words

IDENTITY_METHODS = ["conj", "resolve_conj", "resolve_neg", "conj_physical"]


_ZERO_D = {  # PyTorch's warnings for the (identity) transposes of a 0-d tensor
    "mT": "Tensor.mT is deprecated on 0-D tensors. This function is the identity in these cases.",
    "mH": "Tensor.mH is deprecated on 0-D tensors. Consider using x.conj().",
    "H": "Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
    "adjoint()": "adjoint() is deprecated on 0-D tensors. Consider using x.conj().",
    "T": "Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases.",
}
_T_ND = (
    "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
    "deprecated and it will throw an error in a future release. Consider `x.mT` to transpose "
    "batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the "
    "dimensions of a tensor."
)


def _matrix_transpose(what: str) -> Any:
    """``mT``, ``mH``, ``adjoint()``: the last two dims swapped (real tensors: no conj)."""

    def fn(x: Tensor) -> Tensor:
        if x.ndim == 0:
            warnings.warn(_ZERO_D[what], UserWarning, stacklevel=2)
            return x
        if x.ndim == 1:
            raise RuntimeError(
                f"tensor.{what} is only supported on matrices or batches of matrices. "
                f"Got {x.ndim}-D tensor."
            )
        return F.transpose(x, -2, -1)

    return fn


def _H(x: Tensor) -> Tensor:  # noqa: N802 - PyTorch's name
    if x.ndim == 0:
        warnings.warn(_ZERO_D["H"], UserWarning, stacklevel=2)
        return x
    if x.ndim != 2:
        hint = " For batches of matrices, consider using tensor.mH" if x.ndim > 2 else ""
        raise RuntimeError(
            f"tensor.H is only supported on matrices (2-D tensors). Got {x.ndim}-D tensor.{hint}"
        )
    return F.transpose(x, 0, 1)


def _T(x: Tensor) -> Tensor:  # noqa: N802 - PyTorch's name
    if x.ndim not in (0, 2):
        warnings.warn(_T_ND, UserWarning, stacklevel=2)
    elif x.ndim == 0:
        warnings.warn(_ZERO_D["T"], UserWarning, stacklevel=2)
    return F.permute(x, tuple(reversed(range(x.ndim))))


_adjoint = _matrix_transpose("adjoint()")


def _imag(x: Tensor) -> Tensor:
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


def _get_grad_dtype(x: Tensor) -> Any:
    if not x.is_leaf:
        raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
    value = getattr(x, "_grad_dtype", _UNSET)
    return x.dtype if value is _UNSET else value


def _set_grad_dtype(x: Tensor, value: Any) -> None:
    if not x.is_leaf:
        raise RuntimeError("grad_dtype can only be set on leaf tensors.")
    if value is not None and value is not x.dtype:
        raise NotImplementedError(
            "adjit accumulates gradients in the tensor's own dtype: grad_dtype can be set to "
            "None or to the tensor's dtype only"
        )
    x._grad_dtype = value  # type: ignore[attr-defined]


def _conj_physical_(x: Tensor) -> Tensor:
    # real: the values stay; the version counter moves and the history gains PyTorch's node
    return I.inplace(x, lambda t: composite("ConjPhysicalBackward1", lambda a: a, t))


def _to_dense(x: Tensor, dtype: Any = None, *, masked_grad: Any = None) -> Tensor:
    return x if dtype is None else x.to(dtype)


def _as_subclass(x: Tensor, cls: Any) -> Tensor:
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError(
            "Creating a Tensor subclass from a class that does not inherit from Tensor is not "
            "possible. Make sure your class inherits from Tensor."
        )
    if x._is_tracer:
        from .trace_state import TracingError

        raise TracingError("as_subclass() inside a compiled function is not supported")
    out = apply(Op.RESHAPE, x, shape=tuple(x.shape), name="AliasBackward0")
    if out._data is x._data:  # a view must be its own array object
        out._data = x._data.view()
    out.__class__ = cls
    return out


def _new_empty_strided(
    x: Tensor, size: Any, stride: Any, *, dtype: Any = None, requires_grad: bool = False, **_: Any
) -> Tensor:
    """A new tensor with these strides (zero-filled; PyTorch leaves it uninitialized)."""
    shape, strides = _dims((size,)), _dims((stride,))
    if len(shape) != len(strides):
        raise RuntimeError("mismatch in length of strides and shape")
    dt = dtype or x.dtype
    item = np.dtype(dt.np).itemsize
    span = 1 + sum((n - 1) * s for n, s in zip(shape, strides, strict=True)) if all(shape) else 0
    buffer = np.zeros(max(span, 0), np.dtype(dt.np))
    order = sorted((s, n) for s, n in zip(strides, shape, strict=True) if n > 1)
    dense = all(s2 >= s1 * n1 for (s1, n1), (s2, _) in zip(order, order[1:], strict=False))
    data = np.lib.stride_tricks.as_strided(
        buffer, shape, tuple(s * item for s in strides), writeable=dense
    )
    return Tensor._make(data, requires_grad=requires_grad)


def _broadcast_to(x: Tensor, *shape: Any, size: Any = None) -> Tensor:
    """``x.broadcast_to(3, 4)`` as well as ``x.broadcast_to((3, 4))`` (PyTorch's method)."""
    return F.broadcast_to(x, _dims(shape) if size is None else tuple(size))


METHODS: dict[str, Any] = {
    **{
        name: _cumulative(name[:-1], fn)
        for name, fn in (("cumsum_", F.cumsum), ("cumprod_", F.cumprod))
    },
    **{name: _comparison(fn, stem) for name, (fn, stem) in COMPARISONS.items()},
    **inplace_shape.METHODS,
    **strided_inplace.METHODS,  # as_strided_
    **removed_api.METHODS,  # eig, symeig, lstsq, solve, reinforce, volatile: PyTorch's texts
    "fill_diagonal_": fill_diagonal_,
    "put": put,
    "put_": put_,
    "apply_": apply_,
    "map_": map_,
    "map2_": map2_,
    "is_signed": lambda x: x.dtype.name not in ("bool", "uint8"),
    "is_complex": lambda x: False,
    "is_conj": lambda x: False,
    "is_neg": lambda x: False,
    "get_device": lambda x: -1,
    "dense_dim": lambda x: x.ndim,
    "sparse_dim": lambda x: 0,
    "to_dense": _to_dense,
    "conj_physical_": _conj_physical_,
    "adjoint": _adjoint,
    "as_subclass": _as_subclass,
    "new_empty_strided": _new_empty_strided,
    "const_data_ptr": lambda x: x.data_ptr(),
    "broadcast_to": _broadcast_to,
    **{name: (lambda x: x) for name in IDENTITY_METHODS},
}

PROPERTIES: dict[str, Any] = {
    "is_cpu": lambda x: True,
    **{name: (lambda x: False) for name in FALSE_PROPERTIES},
    "real": lambda x: x,
    "imag": _imag,
    "T": _T,
    "mT": _matrix_transpose("mT"),
    "mH": _matrix_transpose("mH"),
    "H": _H,
    "_base": lambda x: x._view_base,  # PyTorch's: the tensor whose memory a view is of
}


def install(cls: type, inplace_method: Any) -> None:
    from .legacy_types import new

    cls.new = new  # the legacy constructor with the tensor's dtype (Note [legacy tensor types])
    for name, fn in INPLACE.items():
        setattr(cls, name, inplace_method(fn))
    for name, fn in METHODS.items():
        setattr(cls, name, fn)
    for name, fn in PROPERTIES.items():
        setattr(cls, name, property(fn))
    cls.grad_dtype = property(_get_grad_dtype, _set_grad_dtype)
