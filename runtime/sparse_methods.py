"""Methods and operators of sparse tensors: a table over runtime/sparse_ops.py."""

from __future__ import annotations

from typing import Any

from ..ir.dtypes import DType
from . import sparse_ops as S
from .sparse import SparseTensor, refusal

# zero-preserving unary ops PyTorch runs on the values of a COO tensor (f(0) == 0)
VALUE_OPS = """
abs sign sgn sin tan tanh asin atan sinh asinh atanh sqrt relu trunc floor ceil round frac
expm1 log1p erf erfinv deg2rad rad2deg square
""".split()  # noqa: SIM905 - a word list reads best as words


def _value_op(name: str) -> Any:
    grad_fn = f"{name.capitalize()}Backward0"

    def op(x: SparseTensor) -> SparseTensor:
        return S.values_map(x, grad_fn, lambda v: getattr(v, name)())

    op.__name__ = name
    return op


def _sub(a: Any, b: Any, *, alpha: Any = 1) -> Any:
    return S.add(a, b, alpha=-alpha, name="SubBackward0")


def _rsub(a: SparseTensor, b: Any) -> Any:
    if isinstance(b, SparseTensor) or not hasattr(b, "_sparse"):
        raise refusal("sub", a._layout._name)
    return S.add(b, a, alpha=-1, name="SubBackward0")


def _div(a: SparseTensor, b: Any) -> Any:
    if hasattr(b, "_sparse") and b.ndim:
        raise refusal("div", a._layout._name)
    if hasattr(b, "_sparse"):
        raise refusal("div", a._layout._name)  # (a 0-d tensor divisor: not here)
    return S.sparse_op(
        "DivBackward0",
        lambda v: S.SparseOut(a._idx, v / b, a._shape, a._coalesced),
        a,
        back=lambda g: [g / b],
    )


def _neg(x: SparseTensor) -> Any:
    fn = lambda v: S.SparseOut(x._idx, -v, x._shape, x._coalesced)  # noqa: E731
    return S.sparse_op("NegBackward0", fn, x, back=lambda g: [-g])


def _indices(x: SparseTensor) -> Any:
    return S._t(x._idx)


def _values(x: SparseTensor) -> Any:
    return S._t(x._vals)


def _to(x: SparseTensor, *args: Any, **kwargs: Any) -> Any:
    dtype = kwargs.get("dtype")
    for a in args:
        if isinstance(a, DType):
            dtype = a
    return x if dtype is None else S.cast(x, dtype)


def _sum(x: SparseTensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    if keepdim:
        raise refusal("sum", x._layout._name)
    if x.is_sparse_csr:
        x = S.csr_to_coo(x)
    return S.sparse_sum(x, dim, dtype, name="SumBackward1")


def _softmax(x: SparseTensor, dim: int, dtype: Any = None) -> Any:
    return S.softmax(x, dim, dtype)


def _log_softmax(x: SparseTensor, dim: int, dtype: Any = None) -> Any:
    return S.log_softmax(x, dim, dtype)


def _add_(x: SparseTensor, other: Any, *, alpha: Any = 1) -> SparseTensor:
    return _assign(x, S.add(x, other, alpha=alpha), "add_")


def _mul_(x: SparseTensor, other: Any) -> SparseTensor:
    return _assign(x, S.mul(x, other), "mul_")


def _div_(x: SparseTensor, other: Any) -> SparseTensor:
    return _assign(x, _div(x, other), "div_")


def _assign(x: SparseTensor, r: Any, op: str) -> SparseTensor:
    """An in-place op on a sparse tensor without history: its contents replaced by ``r``'s."""
    if x.requires_grad or r.requires_grad:
        raise NotImplementedError(f"adjit: in-place {op} on a sparse tensor that requires grad")
    if not isinstance(r, SparseTensor):
        raise RuntimeError(f"{op}: the result of a sparse tensor's in-place op must be sparse")
    x._idx, x._vals, x._coalesced = r._idx, r._vals, r._coalesced
    x._version_box[0] += 1
    return x


METHODS: dict[str, Any] = {
    "to_dense": S.to_dense,
    "to_sparse": S.to_sparse,
    "to_sparse_coo": S.to_sparse,
    "to_sparse_csr": S.to_sparse_csr,
    "coalesce": S.coalesce,
    "indices": S.indices,
    "values": S.values,
    "_indices": _indices,
    "_values": _values,
    "crow_indices": S.crow_indices,
    "col_indices": S.col_indices,
    "ccol_indices": S.ccol_indices,
    "row_indices": S.row_indices,
    "mm": S.mm,
    "matmul": S.matmul,
    "smm": lambda x, m: S.mm(x, m),
    "add": S.add,
    "sub": _sub,
    "mul": S.mul,
    "div": _div,
    "t": S.t,
    "transpose": S.transpose,
    "sum": _sum,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "to": _to,
    "type_as": lambda x, o: _to(x, o.dtype),
    "float": lambda x: _to(x, dtype=_dtype("float32")),
    "double": lambda x: _to(x, dtype=_dtype("float64")),
    "half": lambda x: _to(x, dtype=_dtype("float16")),
    "long": lambda x: _to(x, dtype=_dtype("int64")),
    "int": lambda x: _to(x, dtype=_dtype("int32")),
    "bool": lambda x: _to(x, dtype=_dtype("bool")),
    "clone": lambda x, **k: S.clone(x),
    "add_": _add_,
    "sub_": lambda x, o, *, alpha=1: _add_(x, o, alpha=-alpha),
    "mul_": _mul_,
    "div_": _div_,
    "__add__": S.add,
    "__radd__": lambda x, o: S.add(o, x) if hasattr(o, "_sparse") else S.add(x, o),
    "__sub__": _sub,
    "__rsub__": _rsub,
    "__mul__": S.mul,
    "__rmul__": S.mul,
    "__truediv__": _div,
    "__neg__": _neg,
    "neg": _neg,
    "__pos__": lambda x: x,
    "__matmul__": S.matmul,
    "__rmatmul__": lambda x, o: S.matmul(o, x),
}


def _dtype(name: str) -> DType:
    from ..ir import dtypes as D

    return D.by_name(name)


def install(cls: type) -> None:
    for name in VALUE_OPS:
        setattr(cls, name, _value_op(name))
    for name, fn in METHODS.items():
        setattr(cls, name, fn)


def _strided_refusal(op: str, kind: str) -> Any:
    def refuse(x: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{op} expected {kind} tensor layout but got Strided")

    refuse.__name__ = op
    return refuse


def _cpu_backend(op: str) -> Any:
    def refuse(x: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"Could not run 'aten::{op}' with arguments from the 'CPU' backend. This could be "
            "because the operator doesn't exist for this backend."
        )

    refuse.__name__ = op
    return refuse


# the sparse API on dense tensors: conversions, and PyTorch's refusals of the rest
DENSE_METHODS: dict[str, Any] = {
    "to_sparse": S.dense_to_sparse,
    "to_sparse_coo": S.dense_to_sparse,
    "to_sparse_csr": S.to_sparse_csr,
    "sparse_mask": S.sparse_mask,
    "indices": _strided_refusal("indices", "sparse coordinate"),
    "values": _strided_refusal("values", "sparse"),
    "coalesce": _strided_refusal("coalesce", "sparse coordinate"),
    "is_coalesced": _strided_refusal("is_coalesced", "sparse coordinate"),
    "crow_indices": S.crow_indices,
    "col_indices": S.col_indices,
    "ccol_indices": S.ccol_indices,
    "row_indices": S.row_indices,
    "_indices": _cpu_backend("_indices"),
    "_values": _cpu_backend("_values"),
    "_nnz": _cpu_backend("_nnz"),
}


def install_dense(cls: type) -> None:
    """Called once from runtime/sparse.py (the dense Tensor class is made before it)."""
    for name, fn in DENSE_METHODS.items():
        setattr(cls, name, fn)
