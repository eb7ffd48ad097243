"""Normalizing Python indices (ints, slices, None, Ellipsis, tensors) into a static spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .tensor import Tensor


def normalize_index(shape: tuple[int, ...], index: Any) -> tuple[tuple, list[np.ndarray | Tensor]]:
    """Turn ``index`` into a hashable spec and the list of index tensors it refers to.

    Spec items: ("int", i), ("slice", start, stop, step), ("none",), ("tensor", k).
    Boolean masks become integer index tensors (their nonzero positions).
    """
    from .tensor import Tensor

    items = list(index) if isinstance(index, tuple) else [index]
    expanded: list[Any] = []
    for it in items:
        if isinstance(it, Tensor | np.ndarray) and it.dtype in (bool, np.bool_) or (
                isinstance(it, Tensor) and it.dtype.name == "bool"):
            arr = it._data if isinstance(it, Tensor) else it
            expanded.extend(("__mask__", a) for a in np.nonzero(arr))
        else:
            expanded.append(it)
    consumed = sum(1 for it in expanded if it is not None and it is not Ellipsis)
    if sum(1 for it in expanded if it is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    spec: list[tuple] = []
    tensors: list[Any] = []
    dim = 0
    for it in expanded:
        if it is Ellipsis:
            for _ in range(len(shape) - consumed):
                spec.append(("slice", 0, shape[dim], 1))
                dim += 1
            continue
        if it is None:
            spec.append(("none",))
            continue
        size = shape[dim]
        if isinstance(it, tuple) and it and it[0] == "__mask__":
            spec.append(("tensor", len(tensors)))
            tensors.append(it[1].astype(np.int64))
        elif isinstance(it, bool):
            raise IndexError("boolean scalar indices are not supported")
        elif isinstance(it, int | np.integer) or (isinstance(it, Tensor) and it.dim() == 0
                                                  and not it.dtype.is_floating_point):
            i = int(it)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {size}")
            spec.append(("int", i % size))
        elif isinstance(it, slice):
            if it.step is not None and it.step <= 0:
                raise ValueError("step must be greater than zero")
            start, stop, step = it.indices(size)
            spec.append(("slice", start, max(stop, start), step))
        else:
            arr = it._data if isinstance(it, Tensor) else np.asarray(it)
            if arr.dtype.kind not in "iu":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if arr.size and (arr.max() >= size or arr.min() < -size):
                bad = int(arr.max() if arr.max() >= size else arr.min())
                raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size "
                                 f"{size}")
            spec.append(("tensor", len(tensors)))
            tensors.append(np.where(arr < 0, arr + size, arr).astype(np.int64))
        dim += 1
    return tuple(spec), tensors


def basic_name(spec: tuple) -> str:
    """PyTorch's grad_fn name for an index: the last select/slice/unsqueeze it applies."""
    if any(item[0] == "tensor" for item in spec):
        return "IndexBackward0"
    names = {"int": "SelectBackward0", "slice": "SliceBackward0", "none": "UnsqueezeBackward0"}
    last = [names[item[0]] for item in spec]
    return last[-1] if last else "AliasBackward0"
