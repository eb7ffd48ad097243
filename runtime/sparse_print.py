"""How a sparse tensor prints: PyTorch's text (torch/_tensor_str.py's sparse branches)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..ir import dtypes as D
from . import layout as L
from .printing import _add_suffixes, _tensor_str

if TYPE_CHECKING:
    from .sparse import SparseTensor


def _part(arr: np.ndarray, indent: int) -> str:
    if arr.dtype.name in ("float16", "bfloat16"):
        arr = arr.astype(np.float32)
    text = _tensor_str(arr, indent)
    return text + (f", size={tuple(arr.shape)}" if arr.size == 0 else "")


def sparse_repr(t: SparseTensor) -> str:
    prefix = "tensor("
    indent = len(prefix)
    suffixes = [f"size={tuple(t._shape)}", f"nnz={t._nnz()}"]
    dt = t.dtype
    if not (dt.name in ("int64", "bool") or dt is D.get_default_dtype()):
        suffixes.append(f"dtype=torch.{dt.name}")
    if t._layout is L.sparse_csr:
        parts = [("crow_indices=tensor(", t._crow), ("col_indices=tensor(", t._col)]
    else:
        parts = [("indices=tensor(", t._idx)]
    parts.append(("values=tensor(", t._vals))
    body = (",\n" + " " * indent).join(p + _part(a, indent + len(p)) + ")" for p, a in parts)
    suffixes.append(f"layout={t._layout!r}")
    if t._grad_fn is not None:
        suffixes.append(f"grad_fn=<{t._grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent, force_newline=t.is_sparse)
