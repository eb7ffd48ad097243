"""Sparse tensors (COO, and 2-D CSR): their storage, metadata, printing and refusals."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..ir import dtypes as D
from ..ir.dtypes import DType
from ..ir.shapes import norm_axis
from . import layout as L
from .grad_mode import InferenceBox
from .grad_mode import _state as _grad_state
from .tensor import _LEGACY_NAMES, Size, Tensor

# Note [sparse tensors]
# ~~~~~~~~~~~~~~~~~~~~~
# A SparseTensor is a Tensor subclass with no dense data: COO keeps ``_idx`` (int64, sparse_dim
# x nnz) and ``_vals`` (nnz x dense dims), CSR keeps ``_crow``/``_col``/``_vals``. Dense code is
# untouched (its fast paths never test for sparsity); a sparse tensor that reaches a dense op
# fails where the op reads ``_data`` or ``_aval``, with PyTorch's NotImplementedError for an
# op its SparseCPU backend lacks, naming the public function the user called (the outermost
# adjit frame). The ops PyTorch has for sparse tensors are this class's methods and operators
# (a subclass's reflected operator runs before the dense one, so ``dense + sparse`` and
# ``dense @ sparse`` reach them) and a few functions (runtime/sparse_ops.py). Their autograd
# runs dense ops on the values (runtime/sparse_autograd.py), so the gradient of a sparse input
# is sparse with its indices, as PyTorch's (Note [sparse gradients]).
#
# PyTorch has one class for every layout: ``type(s)`` of a sparse tensor is ``torch.Tensor``.
# So the subclass is named as the dense class (``__name__``, ``__qualname__``, ``__module__``):
# ``type(s).__name__``, ``str(type(s))`` and messages built from them read as for a dense
# tensor, and ``isinstance(s, Tensor)`` holds. ``type(s) is Tensor`` stays False (a separate
# class is how sparse methods dispatch), and the class itself cannot be pickled by name (its
# name finds the dense class; sparse tensors refuse pickling anyway).

_DUNDER_OPS = {  # the entry point's name -> the aten op PyTorch names in its refusal
    "radd": "add",
    "rsub": "sub",
    "rmul": "mul",
    "rmatmul": "matmul",
    "getitem": "index",
    "eq": "eq.Tensor",
    "clip_grad_norm": "linalg_vector_norm",
}
_WRAPPERS = {"run", "wrapper", "inner", "<lambda>", "unary", "binary", "method", "__call__"}
_DOC_HINT = (
    " This could be because the operator doesn't exist for this backend. (adjit: convert "
    "with .to_dense() first; sparse tensors support the operations listed in Note [sparse "
    "tensors] and adjit.sparse)"
)


def _entry_op() -> str:
    """The public adjit function or method the user called: the outermost adjit frame."""
    frame: Any = sys._getframe(2)
    name = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != "adjit" and not module.startswith("adjit."):
            if name is not None:
                break
        elif frame.f_code.co_name not in _WRAPPERS:
            name = frame.f_code.co_name
        else:  # a wrapper (out=, lean methods) names the function it wraps ``fn``
            name = getattr(frame.f_locals.get("fn"), "__name__", name)
        frame = frame.f_back
    name = (name or "unknown").strip("_")
    return _DUNDER_OPS.get(name, name)


def refusal(op: str, layout_name: str = "sparse_coo") -> NotImplementedError:
    """PyTorch's error for an op the sparse backend lacks."""
    backend = L._BACKENDS[layout_name]
    return NotImplementedError(
        f"Could not run 'aten::{op}' with arguments from the '{backend}' backend." + _DOC_HINT
    )


class _CooOnly:
    """``_idx`` of a CSR tensor: what reads it (an op for COO tensors only) is refused, in
    PyTorch's words for the SparseCsrCPU backend (a COO tensor's own ``_idx`` shadows this)."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        raise refusal(_entry_op(), obj._layout._name)


class SparseTensor(Tensor):
    """A sparse COO (or CSR) tensor: indices and values, with PyTorch's API for them."""

    _sparse = True
    _layout: Any = L.sparse_coo
    _shape: tuple[int, ...] = ()
    _idx: np.ndarray = _CooOnly()  # type: ignore[assignment]  # COO (set on each instance)
    _vals: np.ndarray
    _crow: np.ndarray  # CSR
    _col: np.ndarray
    _coalesced = False

    @classmethod
    def _coo(
        cls,
        idx: np.ndarray,
        vals: np.ndarray,
        shape: tuple[int, ...],
        coalesced: bool = False,
        requires_grad: bool = False,
    ) -> SparseTensor:
        t = object.__new__(cls)
        t._idx, t._vals, t._shape, t._coalesced = idx, vals, tuple(shape), coalesced
        t._version_box = InferenceBox([0]) if _grad_state.inference else [0]
        if requires_grad:
            t._requires_grad = True
        return t

    @classmethod
    def _csr(
        cls, crow: np.ndarray, col: np.ndarray, vals: np.ndarray, shape: tuple[int, ...]
    ) -> SparseTensor:
        t = object.__new__(cls)
        t._layout = L.sparse_csr
        t._crow, t._col, t._vals, t._shape = crow, col, vals, tuple(shape)
        t._version_box = [0]
        return t

    # ---- what dense code reads: refused (Note [sparse tensors]) --------------------------
    @property
    def _data(self) -> np.ndarray:  # type: ignore[override]
        raise refusal(_entry_op(), self._layout._name)

    def _aval(self) -> Any:
        raise refusal(_entry_op(), self._layout._name)

    # ---- metadata ------------------------------------------------------------------------
    @property
    def layout(self) -> Any:
        return self._layout

    @property
    def is_sparse(self) -> bool:
        return self._layout is L.sparse_coo

    @property
    def is_sparse_csr(self) -> bool:
        return self._layout is L.sparse_csr

    @property
    def shape(self) -> Size:
        return tuple.__new__(Size, self._shape)

    def size(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        return self._shape[norm_axis(dim, len(self._shape))]

    @property
    def dtype(self) -> DType:
        return D.from_numpy_dtype(self._vals.dtype)

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def dim(self) -> int:
        return len(self._shape)

    def numel(self) -> int:
        return int(np.prod(self._shape, dtype=np.int64))

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def sparse_dim(self) -> int:
        return 2 if self._layout is L.sparse_csr else int(self._idx.shape[0])

    def dense_dim(self) -> int:
        return self._vals.ndim - 1

    def _nnz(self) -> int:
        return int(self._vals.shape[0])

    def is_coalesced(self) -> bool:
        self._coo_only("is_coalesced")
        return self._coalesced

    def _coo_only(self, op: str) -> None:
        if self._layout is not L.sparse_coo:
            raise refusal(op, self._layout._name)

    def stride(self, dim: int | None = None) -> Any:
        if self._layout is L.sparse_csr:
            raise RuntimeError("Sparse CSR tensors do not have strides")
        return (0,) * self.ndim if dim is None else 0  # (PyTorch's: no strides, zeros)

    def is_contiguous(self, *a: Any, **k: Any) -> bool:
        return False

    def data_ptr(self) -> int:
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")

    def storage_offset(self) -> int:
        raise RuntimeError("Cannot access storage of SparseTensorImpl")

    # ---- conversion ------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        raise TypeError("can't convert Sparse layout tensor to numpy. Use Tensor.to_dense() first.")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.numpy()

    def item(self) -> Any:
        if self.numel() != 1:
            raise RuntimeError(
                f"a Tensor with {self.numel()} elements cannot be converted to Scalar"
            )
        return self.to_dense().item()

    def tolist(self) -> Any:
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")

    def reshape(self, *shape: Any) -> Any:
        raise RuntimeError("reshape is not implemented for sparse tensors")

    def __bool__(self) -> bool:
        return bool(self.item())

    def __iter__(self) -> Any:
        raise refusal("unbind", self._layout._name)

    def __reduce_ex__(self, protocol: int) -> Any:
        raise NotImplementedError("adjit: pickling sparse tensors is not supported")

    def __deepcopy__(self, memo: dict) -> SparseTensor:
        t = self._copy()
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t.grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    def _copy(self, vals: np.ndarray | None = None) -> SparseTensor:
        """A new tensor with these indices and (a copy of) the values, no history."""
        v = self._vals.copy() if vals is None else vals
        if self._layout is L.sparse_csr:
            return SparseTensor._csr(self._crow.copy(), self._col.copy(), v, self._shape)
        return SparseTensor._coo(self._idx.copy(), v, self._shape, self._coalesced)

    def _clone_data(self) -> SparseTensor:
        return self._copy()

    def detach(self) -> SparseTensor:
        if self._layout is L.sparse_csr:
            return SparseTensor._csr(self._crow, self._col, self._vals, self._shape)
        t = SparseTensor._coo(self._idx, self._vals, self._shape, self._coalesced)
        t._version_box = self._version_box
        return t

    @property
    def data(self) -> SparseTensor:  # type: ignore[override]
        return self.detach()

    @data.setter
    def data(self, value: Any) -> None:
        raise NotImplementedError("adjit: assigning .data of a sparse tensor is not supported")

    def __repr__(self) -> str:
        from .sparse_print import sparse_repr

        return sparse_repr(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return repr(self)

    def __hash__(self) -> int:
        return id(self)

    def type(self, dtype: Any = None, non_blocking: bool = False) -> Any:
        """``torch.sparse.FloatTensor`` & co. (COO; CSR has no legacy name), or a copy converted
        to ``dtype``, sparse still."""
        if dtype is not None:
            return super().type(dtype, non_blocking)
        if self._layout is not L.sparse_coo:
            raise RuntimeError(f"Unimplemented backend Sparse{self._layout._name[7:].title()}CPU")
        return _LEGACY_NAMES[self.dtype.name].replace("torch.", "torch.sparse.", 1)

    def zero_(self) -> SparseTensor:
        """Remove every specified element (nnz becomes 0), as PyTorch's ``zero_``."""
        self._coo_only("zero_")
        sd = self._idx.shape[0]
        self._idx = np.zeros((sd, 0), np.int64)
        self._vals = np.zeros((0, *self._vals.shape[1:]), self._vals.dtype)
        self._coalesced = True
        self._version_box[0] += 1
        return self


SparseTensor.__name__ = SparseTensor.__qualname__ = "Tensor"  # (Note [sparse tensors])
SparseTensor.__module__ = Tensor.__module__


def is_sparse(x: Any) -> bool:
    return isinstance(x, SparseTensor)
