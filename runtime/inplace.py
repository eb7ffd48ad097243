"""In-place ops (``add_``, ``x[i] = v``, ...): PyTorch's checks, version counters, rebased history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.ops import Op
from .dispatch import apply, as_tensor_operand, composite
from .grad_mode import is_grad_enabled, no_grad
from ..ir.shapes import index_shape, split_index
from .indexing import normalize_index
from .tensor import Tensor

LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."


def _check_leaf(t: Tensor) -> None:
    if is_grad_enabled() and t.is_leaf and t._requires_grad:
        raise RuntimeError(LEAF_MSG)


def _write(t: Tensor, result: Tensor) -> None:
    """Store ``result`` into ``t``'s memory (so views see it) after PyTorch's dtype/shape checks."""
    if result.dtype.category > t.dtype.category:
        names = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
                 "bool": "Bool", "uint8": "Byte"}
        raise RuntimeError(f"result type {names[result.dtype.name]} can't be cast to the desired "
                           f"output type {names[t.dtype.name]}")
    if tuple(result.shape) != tuple(t.shape):
        if np.broadcast_shapes(result.shape, t.shape) != tuple(t.shape):
            raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast "
                               f"shape {list(np.broadcast_shapes(result.shape, t.shape))}")
    if not t._data.flags.writeable:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor "
                           "refers to a single memory location. Please clone() the tensor before "
                           "performing the operation.")
    t._data[...] = result._data
    t._version_box[0] += 1


def inplace(t: Tensor, fn: Callable[[Tensor], Tensor], *others: Any) -> Tensor:
    """Apply ``fn`` (an out-of-place op of ``t``) and write the result back into ``t``."""
    _check_leaf(t)
    recording = is_grad_enabled() and (t.requires_grad or any(
        isinstance(o, Tensor) and o.requires_grad for o in others))
    if not recording:
        with no_grad():
            _write(t, fn(t))
        return t
    if getattr(t, "_base_requires_grad", False):
        raise RuntimeError("adjit does not support in-place operations on a view of a tensor "
                           "that requires grad; use an out-of-place op or index assignment")
    before = Tensor._make(t._data.copy(), requires_grad=t._requires_grad, grad_fn=t._grad_fn)
    result = fn(before)
    _write(t, result)
    t._grad_fn = result.grad_fn
    return t


def setitem(t: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value``: written in place; under grad mode the history becomes CopySlices."""
    _check_leaf(t)
    spec, tensors = normalize_index(tuple(t.shape), index)
    v = as_tensor_operand(value)
    recording = is_grad_enabled() and (t.requires_grad or v.requires_grad)
    target = index_shape(tuple(t.shape), spec, [a.shape for a in tensors])
    if not recording:
        _assign(t._data, spec, tensors, np.broadcast_to(v._data.astype(t._data.dtype), target))
        t._version_box[0] += 1
        return
    if any(len(np.unique(a)) != a.size for a in tensors) and len(tensors) == 1:
        raise RuntimeError("adjit: index assignment with repeated indices under autograd is not "
                           "supported (the result would depend on write order)")
    idx = [Tensor._make(a) for a in tensors]
    before = Tensor._make(t._data.copy(), requires_grad=t._requires_grad, grad_fn=t._grad_fn)

    def index_put(old: Tensor, val: Tensor) -> Tensor:
        ones = Tensor._make(np.ones(target, old._data.dtype))
        mask = apply(Op.INDEX_ADD, ones, *idx, spec=spec, shape=tuple(old.shape))
        scattered = apply(Op.INDEX_ADD, val.to(old.dtype).expand(target), *idx, spec=spec,
                          shape=tuple(old.shape))
        return apply(Op.WHERE, mask > 0, scattered, old)

    result = composite("CopySlices", index_put, before, v)
    _write(t, result)
    t._grad_fn = result.grad_fn


def _assign(data: np.ndarray, spec: tuple, tensors: list[np.ndarray], value: np.ndarray) -> None:
    """``data[index] = value`` in PyTorch's order: ints/slices/None first (a view), then tensors."""
    basic, positions = split_index(spec)
    view = data[basic]
    if not positions:
        view[...] = value
        return
    full: list[Any] = [slice(None)] * view.ndim
    for p, i in zip(positions, tensors, strict=True):
        full[p] = i
    view[tuple(full)] = value
