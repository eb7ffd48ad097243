"""Sparse ops: construction, conversion, products, sums, softmax (Note [sparse gradients])."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.shapes import norm_axis
from . import layout as L
from .autocast import autocast_op
from .grad_mode import is_grad_enabled
from .sparse import SparseTensor, refusal
from .sparse_autograd import SparseOut, eager_only, linear, sparse_op, unravel
from .tensor import Tensor

CHECK_INVARIANTS = [False]  # torch.sparse.check_sparse_tensor_invariants


def _t(a: np.ndarray) -> Tensor:
    return Tensor._make(a)


def _zeros(shape: tuple[int, ...], like: Tensor) -> Tensor:
    return _t(np.zeros(shape, like._data.dtype))


def _long(x: Any, what: str) -> np.ndarray:
    """Indices as int64 (PyTorch casts floating ones as well)."""
    arr = np.asarray(x._data if isinstance(x, Tensor) else x)
    if arr.size and arr.dtype.kind not in "iuf":
        raise RuntimeError(f"{what} must be an int64 tensor")
    return arr.astype(np.int64)


# ---- construction ---------------------------------------------------------------------------
@eager_only
def sparse_coo_tensor(
    indices: Any,
    values: Any,
    size: Any = None,
    *,
    dtype: Any = None,
    device: Any = None,
    pin_memory: bool = False,
    requires_grad: bool = False,
    check_invariants: bool | None = None,
    is_coalesced: bool | None = None,
) -> SparseTensor:
    """A COO tensor with ``values`` at ``indices`` (sparse_dim x nnz); duplicates add up."""
    from .creation import tensor as make_tensor
    from .device import check as check_device

    check_device(device)
    idx = _long(indices, "indices")
    if idx.ndim != 2:
        raise RuntimeError(
            f"indices must be sparse_dim x nnz, but got: {list(idx.shape)}"
            if idx.ndim > 0
            else "indices must be sparse_dim x nnz, but got: []"
        )
    vals = values if isinstance(values, Tensor) else make_tensor(values, dtype=dtype)
    if vals._sparse:
        raise RuntimeError("values must be a strided tensor")
    if dtype is not None and vals.dtype is not dtype:
        vals = vals.to(dtype)
    if vals.ndim == 0:
        raise RuntimeError("values must be at least one-dimensional")
    sd, nnz = idx.shape
    if vals.shape[0] != nnz:
        raise RuntimeError(
            f"indices and values must have same nnz, but got nnz from indices: {nnz}, "
            f"nnz from values: {vals.shape[0]}"
        )
    if size is None:
        top = tuple(int(m) + 1 for m in idx.max(axis=1)) if nnz else (0,) * sd
        shape = top + tuple(vals.shape[1:])
    else:
        shape = tuple(int(n) for n in size)
        if len(shape) != sd + vals.ndim - 1:
            raise RuntimeError(
                "'len(size) == sparse_dim + dense_dim' is not satisfied: len(size) = "
                f"{len(shape)}, sparse_dim = {sd}, dense_dim = {vals.ndim - 1}"
            )
        if tuple(vals.shape[1:]) != shape[sd:]:
            raise RuntimeError(
                f"values has incorrect size, expected {[nnz, *shape[sd:]]}, got {list(vals.shape)}"
            )
    _check_bounds(idx, shape)  # always: an index past the size is never kept (it would corrupt)
    coalesced = bool(is_coalesced) if is_coalesced is not None else nnz <= 1
    if is_coalesced and (check_invariants or CHECK_INVARIANTS[0]):
        lin = linear(idx, shape)
        if np.any(np.diff(lin) <= 0):
            raise RuntimeError(
                "cannot set is_coalesced to true if indices correspond to uncoalesced COO tensor"
            )
    out = sparse_op(
        "SparseCooTensorWithDimsAndTensorsBackward0",
        lambda v: SparseOut(idx, v, shape, coalesced),
        vals,
    )
    if requires_grad:
        out.requires_grad_()
    return out  # type: ignore[no-any-return]


def _check_bounds(idx: np.ndarray, shape: tuple[int, ...]) -> None:
    for d in range(idx.shape[0]):
        if idx.shape[1] == 0:
            break
        lo, hi = int(idx[d].min()), int(idx[d].max())
        if lo < 0:
            raise RuntimeError(f"found negative index {lo} for dim {d}")
        if hi >= shape[d]:
            raise RuntimeError(
                f"size is inconsistent with indices: for dim {d}, size is {shape[d]} but "
                f"found index {hi}"
            )


@eager_only
def sparse_csr_tensor(
    crow_indices: Any,
    col_indices: Any,
    values: Any,
    size: Any = None,
    *,
    dtype: Any = None,
    device: Any = None,
    pin_memory: bool = False,
    requires_grad: bool = False,
    check_invariants: bool | None = None,
) -> SparseTensor:
    """A 2-D compressed-row tensor (batch and dense dims are not supported here)."""
    from .creation import tensor as make_tensor

    crow, col = _long(crow_indices, "crow_indices"), _long(col_indices, "col_indices")
    vals = values if isinstance(values, Tensor) else make_tensor(values, dtype=dtype)
    if dtype is not None and vals.dtype is not dtype:
        vals = vals.to(dtype)
    if crow.ndim != 1 or col.ndim != 1 or vals.ndim != 1:
        raise NotImplementedError("adjit: only 2-D CSR tensors (no batch or dense dims)")
    if col.shape[0] != vals.shape[0] or int(crow[-1]) != col.shape[0] or np.any(np.diff(crow) < 0):
        raise RuntimeError(
            "`crow_indices[..., -1] == nnz` is not satisfied."
            if int(crow[-1]) != col.shape[0]
            else "`0 <= crow_indices[..., 1:] - crow_indices[..., :-1] <= ncols` is not satisfied."
        )
    ncols = int(col.max()) + 1 if col.size else 0
    shape = (len(crow) - 1, ncols) if size is None else tuple(int(n) for n in size)
    if col.size and (int(col.max()) >= shape[1] or int(col.min()) < 0):
        raise RuntimeError("`0 <= col_indices < ncols` is not satisfied.")
    if requires_grad or (vals.requires_grad and is_grad_enabled()):
        raise NotImplementedError("adjit: gradients of sparse CSR tensors are not supported")
    return SparseTensor._csr(crow, col, vals._data, shape)


# ---- conversion -----------------------------------------------------------------------------
def coalesce(x: SparseTensor) -> SparseTensor:
    """Duplicates summed, indices sorted (``x`` itself when already coalesced)."""
    x._coo_only("coalesce")
    if x._coalesced:
        return x
    lin = linear(x._idx, x._shape)
    uniq, inv = np.unique(lin, return_inverse=True)
    sd = x._idx.shape[0]
    idx = unravel(uniq, x._shape[:sd])
    dense = x._vals.shape[1:]
    inv_t = _t(inv.reshape(-1).astype(np.int64))

    def fn(v: Tensor) -> SparseOut:
        return SparseOut(idx, _zeros((len(uniq), *dense), v).index_add(0, inv_t, v), x._shape, True)

    return sparse_op("CoalesceBackward0", fn, x, back=lambda g: [g])  # type: ignore[no-any-return]


def to_dense(x: SparseTensor, dtype: Any = None, *, masked_grad: bool | None = None) -> Tensor:
    if dtype is not None:
        raise RuntimeError("dtype argument is not supported by sparse_to_dense")
    if x._layout is L.sparse_csr:
        x = csr_to_coo(x)
    sd = x._idx.shape[0]
    lin = _t(linear(x._idx, x._shape))
    rows = int(np.prod(x._shape[:sd], dtype=np.int64))

    def fn(v: Tensor) -> Tensor:
        flat = _zeros((rows, *x._shape[sd:]), v).index_add(0, lin, v)
        return flat.reshape(x._shape)

    return sparse_op("ToDenseBackward0", fn, x)  # type: ignore[no-any-return]


@eager_only
def dense_to_sparse(
    x: Tensor, sparse_dim: int | None = None, *, layout: Any = None, **kw: Any
) -> SparseTensor:
    """``Tensor.to_sparse``: the nonzero entries of a dense tensor (over its first
    ``sparse_dim`` dims), coalesced."""
    if any(kw.get(k) is not None for k in ("blocksize", "dense_dim")):
        raise NotImplementedError("adjit: to_sparse(blocksize=, dense_dim=) is not supported")
    if layout is L.sparse_csr:
        return to_sparse_csr(x)
    if layout not in (None, L.sparse_coo):
        raise refusal("to_sparse", "sparse_coo")
    sd = x.ndim if sparse_dim is None else int(sparse_dim)
    if not 0 <= sd <= x.ndim:
        raise RuntimeError(
            f"dense_to_sparse: sparse_dim argument must be in [0,{x.ndim}] range, but {sd} is given"
        )
    shape = tuple(x.shape)
    data = x.detach()._data
    block = data.reshape(int(np.prod(shape[:sd], dtype=np.int64)), *shape[sd:])
    nz = np.flatnonzero(block.reshape(block.shape[0], -1).any(axis=1) if block.size else [])
    idx = unravel(nz, shape[:sd])
    nz_t = _t(nz.astype(np.int64))

    def fn(d: Tensor) -> SparseOut:
        flat = d.reshape(block.shape)
        return SparseOut(idx, flat.index_select(0, nz_t), shape, True)

    return sparse_op("ToSparseBackward0", fn, x)  # type: ignore[no-any-return]


def to_sparse(x: Tensor, sparse_dim: int | None = None, **kw: Any) -> SparseTensor:
    if not x._sparse:
        return dense_to_sparse(x, sparse_dim, **kw)
    layout = kw.get("layout")
    if layout is L.sparse_csr:
        return to_sparse_csr(x)
    if x._layout is L.sparse_csr:
        return csr_to_coo(x)
    if sparse_dim is not None and sparse_dim != x.sparse_dim():
        raise RuntimeError(
            "to_sparse: conversion from Sparse to Sparse with sparse_dim argument "
            "!=self.sparse_dim() is not supported"
        )
    return x  # type: ignore[return-value]


def csr_to_coo(x: SparseTensor) -> SparseTensor:
    rows = np.repeat(np.arange(x._shape[0], dtype=np.int64), np.diff(x._crow))
    return SparseTensor._coo(np.stack([rows, x._col]), x._vals, x._shape, True)


@eager_only
def to_sparse_csr(x: Tensor, dense_dim: int | None = None) -> SparseTensor:
    if x.requires_grad and is_grad_enabled():
        raise NotImplementedError("adjit: gradients of sparse CSR tensors are not supported")
    if x._sparse and x._layout is L.sparse_csr:
        return x  # type: ignore[return-value]
    if x.ndim < 2:  # (PyTorch's error, from its conversion's first step)
        shape = [1, 0] if x.ndim == 0 else [x.shape[0], 1]
        raise IndexError(
            f"select(): index 1 out of range for tensor of size {shape} at dimension 1"
        )
    coo = coalesce(x) if x._sparse else dense_to_sparse(x.detach())
    if coo.ndim != 2 or coo.dense_dim():
        raise NotImplementedError("adjit: only 2-D CSR tensors (no batch or dense dims)")
    counts = np.bincount(coo._idx[0], minlength=coo._shape[0])
    crow = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SparseTensor._csr(crow, coo._idx[1].copy(), coo._vals, coo._shape)


# ---- accessors ------------------------------------------------------------------------------
def _need_coalesced(x: SparseTensor, what: str) -> None:
    if x._layout is L.sparse_coo and not x._coalesced:
        raise RuntimeError(
            f"Cannot get {what} on an uncoalesced tensor, please call .coalesce() first"
        )


def indices(x: SparseTensor) -> Tensor:
    x._coo_only("indices")
    _need_coalesced(x, "indices")
    return _t(x._idx)


def values(x: SparseTensor) -> Tensor:
    _need_coalesced(x, "values")

    def back(g: Tensor) -> list[Tensor]:
        return [SparseTensor._coo(x._idx, g._data, x._shape, x._coalesced)]

    return sparse_op("ValuesBackward0", lambda v: v, x, back=back)  # (shares x's values)  # type: ignore[no-any-return]


def _compressed(name: str, layout: Any, attr: str, kind: str) -> Any:
    def get(x: Tensor) -> Tensor:
        if not x._sparse or x._layout is not layout:
            got = "Strided" if not x._sparse else "SparseCoo" if x.is_sparse else "SparseCsr"
            raise RuntimeError(f"{name} expected {kind} tensor layout but got {got}")
        return _t(getattr(x, attr))

    get.__name__ = name
    return get


crow_indices = _compressed("crow_indices", L.sparse_csr, "_crow", "sparse row compressed")
col_indices = _compressed("col_indices", L.sparse_csr, "_col", "sparse row compressed")
ccol_indices = _compressed("ccol_indices", L.sparse_csc, "_crow", "sparse column compressed")
row_indices = _compressed("row_indices", L.sparse_csc, "_col", "sparse column compressed")


# ---- products -------------------------------------------------------------------------------
def _as_coo_matrix(x: SparseTensor, op: str) -> SparseTensor:
    if x._layout is L.sparse_csr:
        return csr_to_coo(x)
    if x.ndim != 2 or x.dense_dim():
        raise refusal(op)
    return x


def _spmm(s: SparseTensor, v: Tensor, d: Tensor) -> Tensor:
    """(sparse ``s`` with values ``v``) @ dense matrix ``d``."""
    rows, cols = _t(s._idx[0]), _t(s._idx[1])
    prods = d.index_select(0, cols) * v.unsqueeze(1)
    return _zeros((s._shape[0], d.shape[1]), prods).index_add(0, rows, prods)


def _check_mm(a: Tensor, b: Tensor) -> None:
    if a.shape[1] != b.shape[0]:  # (PyTorch's sparse products run as addmm)
        raise RuntimeError(
            f"addmm: Argument #3 (dense): Expected dim 0 size {a.shape[1]}, got {b.shape[0]}"
        )
    if a.dtype is not b.dtype:
        sparse, dense = (a, b) if a._sparse else (b, a)
        raise RuntimeError(
            f"expected scalar type {sparse.dtype.type_name} but found {dense.dtype.type_name}"
        )


@autocast_op("matmul")
def matmul(a: Tensor, b: Tensor) -> Tensor:
    """``@`` with a sparse operand: ``mm``, or with a dense vector PyTorch's ``mv`` (one op)
    and vector-matrix product (``mm`` of the row, then ``squeeze_``)."""
    if b.ndim == 1 and not b._sparse:
        if a.ndim != 2 or a.shape[1] != b.shape[0]:
            raise RuntimeError(
                f"size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x{a.shape[1]}), "
                f"vec ({b.shape[0]})"
            )
        _check_mm(a, b.unsqueeze(1))
        s = _as_coo_matrix(a, "mv")  # type: ignore[arg-type]
        dense = () if not s.requires_grad else (0,)
        fn = (
            (lambda m, d: m @ d) if dense else (lambda v, d: _spmm(s, v, d.unsqueeze(1)).squeeze(1))
        )
        return sparse_op("MvBackward0", fn, s, b, dense_grad=dense)  # type: ignore[no-any-return]
    if a.ndim == 1 and not a._sparse:
        return mm(a.unsqueeze(0), b).squeeze_(0)
    return mm(a, b)


@autocast_op("mm")
def mm(a: Tensor, b: Tensor, *, name: str = "MmBackward0", masked: bool = False) -> Tensor:
    """A product with a sparse operand: dense result. ``torch.mm``'s gradient of a sparse
    operand is dense; ``torch.sparse.mm``'s (``masked``) is sparse at its indices."""
    if a._sparse and b._sparse:
        node = "SparseSparseMatmulBackward0" if masked else name
        return _spspmm(_as_coo_matrix(a, "mm"), _as_coo_matrix(b, "mm"), node)  # type: ignore[arg-type]
    for k, x in enumerate((a, b)):
        if x.ndim == 1 and not x._sparse:  # (PyTorch's: it reads the dense one's dim 1 / -2)
            raise IndexError(
                f"Dimension out of range (expected to be in range of [-1, 0], but got "
                f"{1 if k else -2})"
            )
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError("self must be a matrix" if a.ndim != 2 else "mat2 must be a matrix")
    _check_mm(a, b)
    if a._sparse:
        s = _as_coo_matrix(a, "mm")  # type: ignore[arg-type]
        dense = () if masked or not s.requires_grad else (0,)
        fn = (lambda m, d: m @ d) if dense else (lambda v, d: _spmm(s, v, d))
        return sparse_op(name, fn, s, b, dense_grad=dense)  # type: ignore[no-any-return]
    s = _as_coo_matrix(b, "mm")  # type: ignore[arg-type]
    st = SparseTensor._coo(s._idx[::-1], s._vals, s._shape[::-1])
    dense = () if masked or not s.requires_grad else (1,)
    fn = (lambda d, m: d @ m) if dense else (lambda d, v: _spmm(st, v, d.t()).t())
    return sparse_op(name, fn, a, s, dense_grad=dense)  # type: ignore[no-any-return]


def _spspmm(a: SparseTensor, b: SparseTensor, name: str) -> SparseTensor:
    """sparse @ sparse: a coalesced sparse result at the index pairs that meet."""
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
            f"{b.shape[0]}x{b.shape[1]})"
        )
    ca, cb = coalesce(a), coalesce(b)
    rows_b = cb._idx[0]
    start = np.searchsorted(rows_b, ca._idx[1], "left")
    count = np.searchsorted(rows_b, ca._idx[1], "right") - start
    pa = np.repeat(np.arange(ca._nnz()), count)
    pb = (np.arange(len(pa)) - np.repeat(np.cumsum(count) - count, count) + start[pa]).astype(
        np.int64
    )
    ncols = b.shape[1]
    uniq, inv = np.unique(ca._idx[0][pa] * ncols + cb._idx[1][pb], return_inverse=True)
    idx = unravel(uniq, (a.shape[0], ncols))
    pa_t, pb_t, inv_t = _t(pa.astype(np.int64)), _t(pb), _t(inv.reshape(-1).astype(np.int64))

    def fn(x: Tensor, y: Tensor) -> SparseOut:
        prods = x.index_select(0, pa_t) * y.index_select(0, pb_t)
        vals = _zeros((len(uniq),), prods).index_add(0, inv_t, prods)
        return SparseOut(idx, vals, (a.shape[0], ncols), True)

    return sparse_op(name, fn, ca, cb)  # type: ignore[no-any-return]


def sparse_mm(a: Tensor, b: Tensor, reduce: str = "sum") -> Tensor:
    if reduce != "sum":
        raise refusal("_sparse_mm_reduce_impl")
    return mm(a, b, name="SparseAddmmBackward0", masked=True)


def spmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """``torch.spmm``: ``torch.mm`` with a sparse operand."""
    return mm(input, mat2)


def dsmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """``torch.dsmm``: sparse ``input`` @ dense ``mat2``, a dense result."""
    return mm(input, mat2)


@autocast_op("addmm")
def addmm(
    input: Tensor,  # noqa: A002
    mat1: Tensor,
    mat2: Tensor,
    *,
    beta: Any = 1,
    alpha: Any = 1,
) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` with a sparse ``mat1``."""
    if input._sparse or not mat1._sparse or mat2._sparse:
        raise refusal("addmm")
    if mat2.ndim != 2 or mat1.ndim != 2:
        raise RuntimeError("mat2 must be a matrix" if mat1.ndim == 2 else "mat1 must be a matrix")
    _check_mm(mat1, mat2)
    s = _as_coo_matrix(mat1, "addmm")  # type: ignore[arg-type]

    def fn(i: Tensor, v: Tensor, d: Tensor) -> Tensor:
        prod = _spmm(s, v, d) * alpha
        return i * beta + prod if beta != 0 else prod

    return sparse_op("SparseAddmmBackward0", fn, input, s, mat2)


# ---- elementwise ----------------------------------------------------------------------------
def _same_shape(a: Tensor, b: Tensor, op: str) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise RuntimeError(
            f"{op}: expected 'self' and 'other' to have same size, but self has size "
            f"{list(a.shape)} while other has size {list(b.shape)} (FYI: {op} does not support "
            "broadcasting)"
        )


def _merge(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PyTorch's two-pointer merge of two index sequences (equal heads combine): the merged
    keys and each entry's output position."""
    if np.all(np.diff(a) > 0) and np.all(np.diff(b) > 0):  # both coalesced: the sorted union
        keys = np.union1d(a, b)
        return keys, np.searchsorted(keys, a), np.searchsorted(keys, b)
    keys: list[int] = []
    pa, pb = np.empty(len(a), np.int64), np.empty(len(b), np.int64)
    i = j = 0
    while i < len(a) or j < len(b):
        if j == len(b) or (i < len(a) and a[i] < b[j]):
            pa[i] = len(keys)
            keys.append(int(a[i]))
            i += 1
        elif i == len(a) or b[j] < a[i]:
            pb[j] = len(keys)
            keys.append(int(b[j]))
            j += 1
        else:
            pa[i] = pb[j] = len(keys)
            keys.append(int(a[i]))
            i, j = i + 1, j + 1
    return np.array(keys, np.int64), pa, pb


def add(a: Tensor, b: Any, *, alpha: Any = 1, name: str = "AddBackward0") -> Tensor:
    """``a + alpha * b`` with a sparse operand (PyTorch's: sparse + sparse is sparse, dense +
    sparse dense, sparse + dense refused)."""
    if a._sparse and not (isinstance(b, Tensor) and b._sparse):  # (a number too)
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
    if not isinstance(b, Tensor):
        raise refusal("add")
    if a._sparse and not b._sparse:
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
    if not a._sparse:
        _same_shape(a, b, "add")
        fn = (lambda d, m: d + m * alpha) if alpha != 1 else (lambda d, m: d + m)
        return sparse_op(name, fn, a, b, dense_grad=(1,))  # type: ignore[no-any-return]
    _same_shape(a, b, "add")
    if a._layout is L.sparse_csr and b._layout is L.sparse_csr:  # (no gradients: CSR has none)
        return to_sparse_csr(add(csr_to_coo(a), csr_to_coo(b), alpha=alpha, name=name))
    if a._layout is not L.sparse_coo or b._layout is not L.sparse_coo:
        raise refusal("add", "sparse_csr")
    if a._idx.shape[0] != b._idx.shape[0]:
        raise NotImplementedError("adjit: adding sparse tensors of different sparse_dim")
    if b._nnz() == 0 or a._nnz() == 0:
        keep = a if b._nnz() == 0 else b

        def kept(x: Tensor, y: Tensor) -> SparseOut:
            v = x if keep is a else y * alpha
            return SparseOut(keep._idx, v, keep._shape, keep._coalesced)

        return sparse_op(name, kept, a, b)  # type: ignore[no-any-return]
    keys, pa, pb = _merge(linear(a._idx, a._shape), linear(b._idx, b._shape))
    sd = a._idx.shape[0]
    idx = unravel(keys, a._shape[:sd])
    pa_t, pb_t = _t(pa), _t(pb)

    def fn(x: Tensor, y: Tensor) -> SparseOut:
        out = _zeros((len(keys), *x.shape[1:]), x).index_add(0, pa_t, x)
        out = out.index_add(0, pb_t, y * alpha if alpha != 1 else y)
        return SparseOut(idx, out, a._shape, a._coalesced and b._coalesced)

    back = lambda g: [g, g * alpha if alpha != 1 else g]  # noqa: E731
    return sparse_op(name, fn, a, b, back=back)  # type: ignore[no-any-return]


def values_map(x: SparseTensor, name: str, fn: Any) -> SparseTensor:
    """An op on the values alone (zero-preserving unary ops, scaling by a number)."""
    x._coo_only(name.removesuffix("Backward0").lower())
    return sparse_op(  # type: ignore[no-any-return]
        name, lambda v: SparseOut(x._idx, fn(v), x._shape, x._coalesced), x
    )


def mul(a: Tensor, b: Any) -> Tensor:
    """A sparse tensor times a number, a 0-d tensor, or a dense tensor of its shape (sparse
    result at its indices)."""
    if isinstance(b, Tensor) and b._sparse:
        if a._sparse:
            return _mul_sparse(a, b)  # type: ignore[arg-type]
        a, b = b, a
    if a._layout is L.sparse_csr:  # (a number only: CSR tensors have no gradients here)
        if isinstance(b, Tensor):
            raise refusal("mul", "sparse_csr")
        x: SparseTensor = a  # type: ignore[assignment]
        vals = (Tensor._make(x._vals) * b)._data
        return SparseTensor._csr(x._crow, x._col, vals, x._shape)
    if isinstance(b, Tensor) and b.ndim:
        _same_shape(a, b, "mul")
        x = a  # type: ignore[assignment]
        sd = x._idx.shape[0]
        rows = int(np.prod(x._shape[:sd], dtype=np.int64))
        lin = _t(linear(x._idx, x._shape))

        def fn(v: Tensor, d: Tensor) -> SparseOut:
            picked = d.reshape(rows, *x._shape[sd:]).index_select(0, lin)
            return SparseOut(x._idx, v * picked, x._shape, x._coalesced)

        return sparse_op("MulBackward0", fn, a, b)  # type: ignore[no-any-return]
    if isinstance(b, Tensor):
        raise refusal("mul")  # (a 0-d tensor: PyTorch's gradient for it is not simple)
    return sparse_op(  # type: ignore[no-any-return]
        "MulBackward0",
        lambda v: SparseOut(a._idx, v * b, a._shape, a._coalesced),
        a,
        back=lambda g: [g * b],
    )


def _mul_sparse(a: SparseTensor, b: SparseTensor) -> SparseTensor:
    """Elementwise product of two sparse tensors: nonzero where both are specified."""
    _same_shape(a, b, "mul")
    ca, cb = coalesce(a), coalesce(b)
    la, lb = linear(ca._idx, ca._shape), linear(cb._idx, cb._shape)
    common, ia, ib = np.intersect1d(la, lb, assume_unique=True, return_indices=True)
    ia_t, ib_t = _t(ia.astype(np.int64)), _t(ib.astype(np.int64))
    idx = ca._idx[:, ia]

    def fn(x: Tensor, y: Tensor) -> SparseOut:
        return SparseOut(idx, x.index_select(0, ia_t) * y.index_select(0, ib_t), a._shape, True)

    return sparse_op("MulBackward0", fn, ca, cb)  # type: ignore[no-any-return]


@eager_only
def add_into(dense: Tensor, s: Tensor, alpha: Any = 1) -> Tensor:
    """``dense.add_(sparse, alpha=alpha)`` in place (an optimizer's update, ``.grad += g``)."""
    if dense.requires_grad and is_grad_enabled():
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    _same_shape(dense, s, "add_")
    x = s if s._layout is L.sparse_coo else csr_to_coo(s)  # type: ignore[arg-type]
    vals = x._vals * alpha if alpha != 1 else x._vals
    np.add.at(dense._data, tuple(x._idx), vals.astype(dense._data.dtype, copy=False))
    dense._version_box[0] += 1
    return dense


# ---- movement -------------------------------------------------------------------------------
def transpose(x: SparseTensor, dim0: int, dim1: int, name: str = "TransposeBackward0") -> Tensor:
    x._coo_only("transpose")
    d0, d1 = norm_axis(dim0, x.ndim), norm_axis(dim1, x.ndim)
    sd = x._idx.shape[0]
    if (d0 < sd) != (d1 < sd):
        raise RuntimeError("transpose(): can't transpose a sparse dim with a dense dim")
    shape = list(x._shape)
    shape[d0], shape[d1] = shape[d1], shape[d0]
    if d0 >= sd:
        a, b = d0 - sd + 1, d1 - sd + 1
        return sparse_op(
            name, lambda v: SparseOut(x._idx, v.transpose(a, b), tuple(shape), x._coalesced), x
        )
    idx = x._idx.copy()
    idx[[d0, d1]] = idx[[d1, d0]]
    same = d0 == d1
    return sparse_op(
        name,
        lambda v: SparseOut(idx, v * 1, tuple(shape), x._coalesced and same),
        x,
        back=lambda g: [g.transpose(d0, d1)],
    )


def t(x: SparseTensor) -> Tensor:
    if x.ndim > 2 or x.sparse_dim() < x.ndim:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, but got "
            f"{x.sparse_dim()} sparse and {x.dense_dim()} dense dimensions"
        )
    return transpose(x, 0, -1 if x.ndim else 0, name="TBackward0")


# ---- reductions -----------------------------------------------------------------------------
def sparse_sum(
    x: SparseTensor, dim: Any = None, dtype: Any = None, name: str = "SparseSumBackward0"
) -> Tensor:
    """``torch.sparse.sum``: over all dims a dense 0-d tensor; over some sparse dims a sparse
    tensor (coalesced); over dense dims only, the values summed."""
    x._coo_only("sum")
    if dtype is not None:
        x = x.to(dtype)  # type: ignore[assignment]
    if dim is None:  # (PyTorch's gradient of this sum is dense)
        return sparse_op("SumBackward0", lambda d: d.sum(), x, dense_grad=(0,))
    listed = [norm_axis(int(d), x.ndim) for d in (dim if isinstance(dim, tuple | list) else (dim,))]
    for d in listed:
        if listed.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    dims = sorted(set(listed))
    sd = x._idx.shape[0]
    sparse_dims = [d for d in dims if d < sd]
    dense_dims = tuple(d - sd + 1 for d in dims if d >= sd)
    if len(dims) == x.ndim:
        return sparse_op(name, lambda v: v.sum(), x)
    keep = [d for d in range(sd) if d not in sparse_dims]
    shape = tuple(n for k, n in enumerate(x._shape) if k not in dims)
    if not keep:  # every sparse dim summed: a dense result
        return sparse_op(name, lambda v: v.sum(dense_dims) if dense_dims else v, x).sum(0)
    sub = x._idx[keep]
    lin = linear(sub, shape)
    uniq, inv = np.unique(lin, return_inverse=True)
    idx = unravel(uniq, shape[: len(keep)])
    inv_t = _t(inv.reshape(-1).astype(np.int64))

    def fn(v: Tensor) -> SparseOut:
        w = v.sum(dense_dims) if dense_dims else v
        return SparseOut(
            idx, _zeros((len(uniq), *w.shape[1:]), w).index_add(0, inv_t, w), shape, True
        )

    return sparse_op(name, fn, x)


def _groups(x: SparseTensor, d: int) -> np.ndarray:
    """Each entry's group: the entries that share every sparse index but ``d``."""
    rest = np.delete(x._idx, d, axis=0)
    shape = tuple(n for k, n in enumerate(x._shape[: x._idx.shape[0]]) if k != d)
    lin = linear(rest, shape)
    return np.unique(lin, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _softmax(x: SparseTensor, dim: int, dtype: Any, log: bool) -> Tensor:
    x._coo_only("_sparse_log_softmax" if log else "_sparse_softmax")
    name = "SparseLogSoftmaxBackward0" if log else "SparseSoftmaxBackward0"
    if dtype is not None:
        x = x.to(dtype)  # type: ignore[assignment]
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"softmax: expected a floating point input, got {x.dtype}")
    d = norm_axis(dim, x.ndim)
    c = coalesce(x)
    sd = c._idx.shape[0]
    if d >= sd:  # along a dense dim: each entry's values alone
        f = (lambda v: v.log_softmax(d - sd + 1)) if log else (lambda v: v.softmax(d - sd + 1))
        return sparse_op(name, lambda v: SparseOut(c._idx, f(v), c._shape, True), c)
    gid = _groups(c, d)
    n = int(gid.max()) + 1 if gid.size else 0
    peak = np.full((n, *c._vals.shape[1:]), -np.inf, c._vals.dtype)
    np.maximum.at(peak, gid, c._vals)  # (a constant shift: it does not change the gradient)
    gid_t, peak_t = _t(gid), _t(peak[gid])

    def fn(v: Tensor) -> SparseOut:
        shifted = v - peak_t
        e = shifted.exp()
        total = _zeros((n, *v.shape[1:]), v).index_add(0, gid_t, e).index_select(0, gid_t)
        out = shifted - total.log() if log else e / total
        return SparseOut(c._idx, out, c._shape, True)

    return sparse_op(name, fn, c)


def softmax(x: SparseTensor, dim: int, dtype: Any = None) -> Tensor:
    return _softmax(x, dim, dtype, log=False)


def log_softmax(x: SparseTensor, dim: int, dtype: Any = None) -> Tensor:
    return _softmax(x, dim, dtype, log=True)


# ---- other --------------------------------------------------------------------------------
def sparse_mask(x: Tensor, mask: Tensor) -> SparseTensor:
    """``x`` (dense) read at the indices of the sparse ``mask``: a sparse tensor like it."""
    if x._sparse or not mask._sparse:
        raise RuntimeError("sparse_mask expects self to be strided and mask to be sparse")
    _same_shape(x, mask, "sparse_mask")
    m: SparseTensor = mask  # type: ignore[assignment]
    sd = m._idx.shape[0]
    rows = int(np.prod(m._shape[:sd], dtype=np.int64))
    lin = _t(linear(m._idx, m._shape))

    def fn(d: Tensor) -> SparseOut:
        return SparseOut(
            m._idx, d.reshape(rows, *m._shape[sd:]).index_select(0, lin), m._shape, m._coalesced
        )

    return sparse_op("SparseMaskBackward0", fn, x)  # type: ignore[no-any-return]


def cast(x: SparseTensor, dtype: Any) -> SparseTensor:
    if x.dtype is dtype:
        return x
    if x._layout is L.sparse_csr:
        return SparseTensor._csr(x._crow, x._col, x._vals.astype(dtype.np), x._shape)
    return values_map(x, "ToCopyBackward0", lambda v: v.to(dtype))


def clone(x: SparseTensor) -> SparseTensor:
    if x._layout is L.sparse_csr:
        return x._copy()
    return values_map(x, "CloneBackward0", lambda v: v.clone())


def _install() -> None:
    """Sparse tensors' methods and dense ones' sparse API (runtime/sparse_methods.py)."""
    from . import sparse_methods

    sparse_methods.install_dense(Tensor)
    sparse_methods.install(SparseTensor)


_install()
