"""A sparse tensor's class reads as PyTorch's one Tensor class, and its legacy type names."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch

import adjit


def _tensors(T: Any) -> tuple[Any, Any, Any]:
    dense = T.tensor([[0.0, 1.5], [2.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (PyTorch's CSR beta warning)
        return dense, dense.to_sparse(), dense.to_sparse_csr()


def _class_facts(T: Any) -> list[Any]:
    dense, coo, csr = _tensors(T)
    return [
        (type(t).__name__, type(t).__qualname__, str(type(t)) == str(type(dense)))
        for t in (coo, csr)
    ] + [isinstance(t, T.Tensor) and issubclass(type(t), T.Tensor) for t in (coo, csr)]


def test_sparse_class_reads_as_tensor() -> None:
    assert (
        _class_facts(adjit) == _class_facts(torch) == [("Tensor", "Tensor", True)] * 2 + [True] * 2
    )
    _, coo, csr = _tensors(adjit)
    assert repr(type(coo)) == repr(type(csr)) == repr(adjit.Tensor)
    assert adjit.sparse_coo_tensor([[0, 1]], [1.0, 2.0], (3,)).__class__.__name__ == "Tensor"


def _assert_close_message(T: Any) -> str:
    _, coo, _ = _tensors(T)
    with pytest.raises(TypeError) as e:
        T.testing.assert_close(coo, 1.0)
    return str(e.value)


def test_sparse_tensor_in_a_type_message_is_a_tensor() -> None:
    """Messages built from the class (adjit.testing's, as PyTorch's) say torch.Tensor."""
    assert _assert_close_message(adjit) == _assert_close_message(torch)
    assert "<class 'torch.Tensor'>" in _assert_close_message(adjit)


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
