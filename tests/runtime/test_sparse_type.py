"""A sparse tensor's legacy type names (``Tensor.type()``) as PyTorch's."""

from __future__ import annotations

import warnings
from typing import Any

import torch

import adjit


def _tensors(T: Any) -> tuple[Any, Any, Any]:
    dense = T.tensor([[0.0, 1.5], [2.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (PyTorch's CSR beta warning)
        return dense, dense.to_sparse(), dense.to_sparse_csr()


def _legacy_names(T: Any) -> list[Any]:
    dense, coo, csr = _tensors(T)
    out: list[Any] = [T.typename(coo)]
    for dt in ("float32", "float64", "bool", "int64", "uint8", "float16", "bfloat16", "complex64"):
        out.append(coo.to(getattr(T, dt)).type())
        out.append(dense.to(getattr(T, dt)).type())
    for target in (T.float64, "torch.sparse.DoubleTensor", "torch.DoubleTensor", T.LongTensor):
        for t in (dense, coo, csr):
            r = t.type(target)
            out.append((str(r.layout), str(r.dtype)))
    try:
        csr.type()
    except RuntimeError as e:
        out.append(str(e))
    return out


def test_sparse_legacy_type_names_as_torch() -> None:
    assert _legacy_names(adjit) == _legacy_names(torch)
    assert _legacy_names(adjit)[:2] == ["torch.sparse.FloatTensor"] * 2
