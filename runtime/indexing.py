"""Normalizing Python indices (ints, slices, None, Ellipsis, tensors) into a static spec."""

from __future__ import annotations

import operator
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir.sizes import SymbolicSize, as_size
from . import trace_state

if TYPE_CHECKING:
    from .tensor import Tensor

_VALID = (
    "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
    "valid indices (got {})"
)


def _traced(it: Any) -> bool:
    """A tensor whose values are unknown (tracing: a tracer, or a tensor from outside the
    trace): usable as an index, never inspected."""
    if getattr(it, "_is_tracer", False):
        return True
    if trace_state.current() is None:
        return False
    from .checks import traced

    return traced(it)


def _as_array(it: Any) -> np.ndarray | None:
    """The data of a tensor, array or (nested) list index; None for other items."""
    from .tensor import Tensor

    if isinstance(it, Tensor):
        return it._data
    if isinstance(it, np.ndarray):
        return it
    if isinstance(it, list | tuple | range):  # a tuple inside the index tuple is a sequence
        arr = np.asarray(it)  # of indices; a range too (``x[range(n), target]``, PyTorch's nll)
        return arr.astype(np.int64) if arr.size == 0 else arr
    return None


def _is_mask(it: Any) -> bool:
    if _traced(it) and it.dtype.name == "bool":
        from .checks import value_dependent

        message = (
            "indexing with a boolean mask gives a result whose shape depends "
            "on the mask's values; use adjit.where(mask, x, 0) instead"
        )
        value_dependent(message, "indexing with a boolean mask", it)
    if _traced(it):
        return False
    arr = _as_array(it)
    return arr is not None and arr.dtype == np.bool_ and arr.ndim > 0


def _is_int(it: Any) -> bool:
    """Python/NumPy ints and 0-dim integer tensors select, as in PyTorch."""
    if isinstance(it, bool):
        return False
    if isinstance(it, int | np.integer):
        return True
    if _traced(it):
        return False  # a traced 0-dim index selects like a 0-dim index array
    arr = _as_array(it)
    return (
        arr is not None
        and not isinstance(it, list | tuple)
        and arr.ndim == 0
        and arr.dtype.kind in "iu"
    )


def _dims_used(it: Any) -> int:
    if it is None or it is Ellipsis:
        return 0
    if _traced(it):
        return 1
    return _as_array(it).ndim if _is_mask(it) else 1  # type: ignore[union-attr]


def _sequence_as_tuple(index: Any) -> bool:
    """PyTorch (like old NumPy) reads a list holding lists, slices, None or tensors as a tuple."""
    from .tensor import Tensor

    nested = (list, tuple, slice, Tensor, np.ndarray, type(None), type(Ellipsis))
    return (
        isinstance(index, list) and len(index) < 32 and any(isinstance(it, nested) for it in index)
    )


def _scalar_bool(it: Any) -> bool:
    """A Python/NumPy bool or a 0-d bool tensor (not traced): an index of one new axis."""
    if isinstance(it, bool | np.bool_):
        return True
    if isinstance(it, int | slice | list | tuple) or it is None or it is Ellipsis or _traced(it):
        return False  # (the common items, decided without reading any data)
    arr = _as_array(it)
    return arr is not None and arr.ndim == 0 and arr.dtype == np.bool_


def has_scalar_bool(index: Any) -> bool:
    """Whether ``index`` holds a scalar bool (Note [scalar bool indices])."""
    return any(map(_scalar_bool, index if isinstance(index, tuple) else (index,)))


# Note [scalar bool indices]
# ``x[True]`` is ``x[None]`` and ``x[False]`` the same with its new axis emptied (PyTorch and
# NumPy: a 0-d mask over a new axis, an advanced index). ``scalar_bools`` inserts each such
# axis into the tensor and replaces the bool by a 1-d mask of it, which the mask path indexes.
def scalar_bools(x: Any, index: Any) -> tuple[Any, Any]:
    """``x`` with an axis inserted for each scalar bool of ``index``, and the index with each
    bool a one-element mask over its axis."""
    if not has_scalar_bool(index):
        return x, index
    items = list(index) if isinstance(index, tuple) else [index]
    ndim = len(x.shape)
    consumed = sum(_dims_used(it) for it in items if not _scalar_bool(it) and it is not Ellipsis)
    out: list[Any] = []
    dim = 0
    for it in items:
        if _scalar_bool(it):
            x = x.unsqueeze(dim)
            out.append(np.array([bool(it)]))
            dim += 1
        else:
            dim += ndim - consumed if it is Ellipsis else _dims_used(it)
            out.append(it)
    return x, tuple(out)


SEQUENCE_INDEX = (
    "Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed "
    "in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be "
    "interpreted as tensor index, x[torch.tensor(seq)], which will result either in an error "
    "or a different result"
)
_PACKAGES = tuple(
    os.path.dirname(os.path.dirname(__file__)) + os.sep + d for d in ("runtime", "adjit")
)


def warn_sequence_index(index: Any) -> None:
    """PyTorch's warning (at the user's line) when a list index is read as a tuple."""
    if _sequence_as_tuple(index):
        frame, level = sys._getframe(1), 2
        while frame is not None and frame.f_code.co_filename.startswith(_PACKAGES):
            frame, level = frame.f_back, level + 1
        warnings.warn(SEQUENCE_INDEX, UserWarning, stacklevel=level)


def normalize_index(shape: tuple[int, ...], index: Any) -> tuple[tuple, list[np.ndarray | Tensor]]:
    """Turn ``index`` into a hashable spec and the list of index tensors it refers to.

    Spec items: ("int", i), ("slice", start, stop, step), ("none",), ("tensor", k).
    Boolean masks become integer index tensors (their nonzero positions).
    """
    items = list(index) if isinstance(index, tuple) or _sequence_as_tuple(index) else [index]
    consumed = sum(_dims_used(it) for it in items)
    if sum(1 for it in items if it is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    spec: list[tuple] = []
    tensors: list[Any] = []
    dim = 0
    for it in items:
        if it is Ellipsis:
            spec.extend(("slice", 0, shape[d], 1) for d in range(dim, dim + len(shape) - consumed))
            dim += len(shape) - consumed
        elif it is None:
            spec.append(("none",))
        elif _is_mask(it):
            mask = _as_array(it)
            assert mask is not None
            _check_mask(mask, shape, dim)
            for a in np.nonzero(mask):
                spec.append(("tensor", len(tensors)))
                tensors.append(a.astype(np.int64))
            dim += mask.ndim
        else:
            spec.append(_item(it, shape[dim], dim, len(tensors), tensors))
            dim += 1
    return tuple(spec), tensors


def _check_mask(mask: np.ndarray, shape: tuple[int, ...], dim: int) -> None:
    for j, n in enumerate(mask.shape):
        if n != shape[dim + j]:
            raise IndexError(
                f"The shape of the mask {list(mask.shape)} at index {j} does not "
                f"match the shape of the indexed tensor {list(shape)} at index "
                f"{dim + j}"
            )


def slice_indices(it: slice, size: Any) -> tuple[Any, Any, Any]:
    """``it.indices(size)`` for a positive step, keeping a symbolic size symbolic (the
    clamping comparisons become guards: Note [symbolic shapes])."""
    if not isinstance(size, SymbolicSize):
        return it.indices(size)
    step = 1 if it.step is None else operator.index(it.step)

    def bound(v: Any, default: Any) -> Any:
        if v is None:
            return default
        v = as_size(v)
        if v < 0:
            v = v + size
            return 0 if v < 0 else v
        return size if v > size else v

    return bound(it.start, 0), bound(it.stop, size), step


def _item(it: Any, size: int, dim: int, k: int, tensors: list[Any]) -> tuple:
    """One int, slice or integer-tensor item; tensor data is appended to ``tensors``."""
    if _is_int(it):
        i = int(it)
        if not -size <= i < size:
            raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {size}")
        return ("int", i % size)
    if isinstance(it, slice):
        if it.step is not None and it.step <= 0:
            raise ValueError("step must be greater than zero")
        start, stop, step = slice_indices(it, size)
        return ("slice", start, max(stop, start), step)
    if _traced(it):
        if it.dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        tensors.append(_checked(it, size, k))  # negative indices wrap, as below
        return ("tensor", len(tensors) - 1)
    arr = _as_array(it)
    if arr is None:
        raise IndexError(_VALID.format(type(it).__name__))
    if arr.dtype.kind not in "iu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    out = (arr >= size) | (arr < -size)
    if out.any():  # PyTorch names the first one, and numbers the dim among the tensor indices
        bad = int(arr.reshape(-1)[np.argmax(out.reshape(-1))])
        raise IndexError(f"index {bad} is out of bounds for dimension {k} with size {size}")
    tensors.append(np.where(arr < 0, arr + size, arr).astype(np.int64))
    return ("tensor", len(tensors) - 1)


def _checked(index: Tensor, size: int, k: int) -> Tensor:
    """A traced index tensor, checked in [-size, size) when the program runs (Note [run-time
    checks]); PyTorch numbers the dimension among the tensor indices."""
    from .checks import check, in_range

    message = f"index {{}} is out of bounds for dimension {k} with size {size}"
    return check(index, in_range(index, -size, size), IndexError, message, detail=index)


_BASIC_NAMES = {"int": "SelectBackward0", "slice": "SliceBackward0", "none": "UnsqueezeBackward0"}


def basic_name(spec: tuple, shape: tuple[int, ...] = (), index: Any = None) -> str:
    """PyTorch's grad_fn name for an index: the last select/slice/unsqueeze it applies.

    Inside a tuple (or from an Ellipsis) a slice covering its whole dim is skipped, as PyTorch
    does; a lone slice is always recorded.
    """
    if any(item[0] == "tensor" for item in spec):
        return "IndexBackward0"
    if isinstance(index, slice):
        return "SliceBackward0"
    names, dim = [], 0
    for item in spec:
        full = item[0] == "slice" and item[1:] == (0, shape[dim], 1) if shape else False
        if not full:
            names.append(_BASIC_NAMES[item[0]])
        dim += item[0] != "none"
    return names[-1] if names else "AliasBackward0"
