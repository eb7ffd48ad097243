"""Shape ops as decompositions: roll, rot90, tile, movedim, tensor_split, stacks, meshgrid."""

from __future__ import annotations

import warnings
from typing import Any

from ..ir.shapes import infer_size, norm_axis
from .checks import value_dependent
from .dispatch import composite
from .ops_elementwise import clone
from .ops_linalg import _sum_to
from .ops_movement import (
    cat,
    expand,
    flatten,
    flip,
    getitem,
    permute,
    repeat,
    reshape,
    transpose,
    unsqueeze,
    view,
)
from .tensor import Tensor, _dims


def _as_tuple(v: Any) -> tuple[int, ...]:
    return tuple(int(i) for i in v) if isinstance(v, tuple | list) else (int(v),)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:  # noqa: A002 - PyTorch's name
    s = _as_tuple(shifts)
    d = () if dims is None else _as_tuple(dims)
    if len(s) != len(d) and not (dims is None and len(s) == 1):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(s)}, dims:{len(d)}")
    if input.ndim == 0 and d:
        raise IndexError(f"Dimension specified as {d[0]} but tensor has no dimensions")
    axes = [norm_axis(a, input.ndim) for a in d]

    def decomposition(a: Tensor) -> Tensor:
        if dims is None:
            return reshape(_roll(flatten(a), s[0], 0), tuple(input.shape))
        for shift, axis in zip(s, axes, strict=True):
            a = _roll(a, shift, axis)
        return a

    return composite("RollBackward0", decomposition, input)


def _roll(a: Tensor, shift: int, axis: int) -> Tensor:
    """``a`` rolled by ``shift`` along ``axis``: its last ``shift`` entries, then the rest."""
    n = a.shape[axis]
    k = shift % n if n else 0
    if k == 0:
        return clone(a)
    head = (slice(None),) * axis
    return cat([getitem(a, (*head, slice(n - k, n))), getitem(a, (*head, slice(0, n - k)))], axis)


def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:  # noqa: A002
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def rot90(input: Tensor, k: int = 1, dims: Any = (0, 1)) -> Tensor:  # noqa: A002
    dims = _as_tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (norm_axis(d, input.ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}"
        )
    turns = k % 4
    steps = {
        0: clone,
        1: lambda a: transpose(flip(a, (d1,)), d0, d1),
        2: lambda a: flip(a, (d0, d1)),
        3: lambda a: transpose(flip(a, (d0,)), d0, d1),
    }
    return composite("Rot90Backward0", steps[turns], input)


def tile(input: Tensor, dims: Any) -> Tensor:  # noqa: A002
    if not isinstance(dims, tuple | list):
        raise TypeError(
            f"tile(): argument 'dims' (position 2) must be tuple of ints, not {type(dims).__name__}"
        )
    reps = _dims(tuple(dims)) if dims else ()
    reps = (1,) * (input.ndim - len(reps)) + reps
    return repeat(input, reps)


def tile_method(self: Tensor, *dims: Any) -> Tensor:
    """``t.tile(2, 3)`` and ``t.tile((2, 3))``."""
    return tile(self, _dims(dims))


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:  # noqa: A002
    src, dst = _as_tuple(source), _as_tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)"
        )
    s = [norm_axis(d, input.ndim) for d in src]
    t = [norm_axis(d, input.ndim) for d in dst]
    for name, given, normed in (("source", src, s), ("destination", dst, t)):
        if len(set(normed)) != len(normed):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
    if input.ndim == 0:
        return composite("AliasBackward0", lambda a: permute(a, ()), input)
    order: list[int | None] = [None] * input.ndim
    for a, b in zip(s, t, strict=True):
        order[b] = a
    rest = iter(d for d in range(input.ndim) if d not in s)
    axes = tuple(next(rest) if a is None else a for a in order)
    return permute(input, axes)


moveaxis = movedim


def select(input: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = norm_axis(dim, input.ndim)
    n = input.shape[d]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(input.shape)} "
            f"at dimension {dim}"
        )
    return getitem(input, (slice(None),) * d + (index,))


def tensor_split(input: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    if input.ndim == 0:
        raise RuntimeError(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims"
        )
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec.dtype.name != "int64":
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to have dtype of long, but "
                f"got {spec.dtype.type_name}"
            )
        if spec.ndim > 1:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                f"one-dimensional tensor, but got a tensor with {spec.ndim} dims"
            )
        message = (
            "tensor_split with a traced tensor of indices or sections gives results whose "
            "shapes depend on its values; pass a list of ints"
        )
        value_dependent(message, "tensor_split: split points from a tensor's values", spec)
        spec = int(spec._data) if spec.ndim == 0 else [int(i) for i in spec._data]
    d = norm_axis(dim, input.ndim)
    n = input.shape[d]
    if isinstance(spec, int):
        if spec <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
        size, extra = divmod(n, spec)
        bounds = [i * size + min(i, extra) for i in range(spec + 1)]
    else:
        bounds = [0, *(int(i) for i in spec), n]
    head = (slice(None),) * d
    return tuple(
        getitem(input, (*head, slice(a, b))) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    )


# ---- stacking ------------------------------------------------------------------------------
def _tensors(args: tuple) -> list[Tensor]:
    return list(args[0]) if len(args) == 1 and isinstance(args[0], tuple | list) else list(args)


def _atleast(ndim: int) -> Any:
    def one(t: Tensor) -> Tensor:
        if t.ndim >= ndim:
            return t
        if t.ndim == 0:
            return reshape(t, (1,) * ndim)
        if ndim == 3 and t.ndim == 1:
            return unsqueeze(unsqueeze(t, 0), -1)
        return unsqueeze(t, -1 if ndim == 3 else 0)

    def fn(*tensors: Any) -> Any:
        ts = _tensors(tensors)
        out = tuple(one(t) for t in ts)
        return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out

    fn.__name__ = fn.__qualname__ = f"atleast_{ndim}d"
    return fn


atleast_1d, atleast_2d, atleast_3d = _atleast(1), _atleast(2), _atleast(3)


def _non_empty(name: str, tensors: Any) -> list[Tensor]:
    ts = list(tensors)
    if not ts:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return ts


def hstack(tensors: Any) -> Tensor:
    ts = atleast_1d(_non_empty("hstack", tensors))
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Any) -> Tensor:
    return cat(atleast_2d(_non_empty("vstack", tensors)), 0)


row_stack = vstack


def dstack(tensors: Any) -> Tensor:
    return cat(atleast_3d(_non_empty("dstack", tensors)), 2)


def column_stack(tensors: Any) -> Tensor:
    ts = _non_empty("column_stack", tensors)
    return cat([reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in ts], 1)


# ---- broadcasting --------------------------------------------------------------------------
def broadcast_shapes(*shapes: Any) -> tuple[int, ...]:
    """PyTorch's _refs._broadcast_shapes, with its messages."""
    from .tensor import Size

    given = [(s,) if isinstance(s, int) else s for s in shapes if s is not None]
    common = [1] * max((len(s) for s in given), default=0)
    for k, shape in enumerate(given):
        for idx in range(-1, -1 - len(shape), -1):
            m = shape[idx]
            if m == common[idx]:
                continue
            if common[idx] == 1:
                if m < 0:
                    raise ValueError("Attempting to broadcast a dimension with negative length!")
                common[idx] = m
            if m != 1 and m != common[idx]:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {m} at {idx}! Mismatching "
                    f"argument at index {k} had {shape}; but expected shape should be "
                    f"broadcastable to {common}"
                )
    return Size(common)


def broadcast_tensors(*tensors: Any) -> tuple[Tensor, ...]:
    ts = _tensors(tensors)
    shape: tuple[int, ...] = ()
    for t in ts:
        shape = infer_size(shape, tuple(t.shape), RuntimeError)
    return tuple(t if tuple(t.shape) == shape else expand(t, shape) for t in ts)


_MESHGRID_WARNING = (
    "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument."
)
_MESHGRID_WARNED: list[bool] = []


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    ts = _tensors(tensors)
    if indexing is None:  # (warned before the empty check, once a process: TORCH_WARN_ONCE)
        if not _MESHGRID_WARNED:
            _MESHGRID_WARNED.append(True)
            warnings.warn(_MESHGRID_WARNING, UserWarning, stacklevel=2)
        indexing = "ij"
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing not in ("xy", "ij"):
        raise RuntimeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(
                "torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got a "
                f"{t.ndim}D tensor of shape {list(t.shape)}"
            )
        if t.dtype is not ts[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    swap = indexing == "xy" and len(ts) >= 2
    order = [ts[1], ts[0], *ts[2:]] if swap else ts
    shape = tuple(t.numel() for t in order)
    grids = []
    for i, t in enumerate(order):
        lined = reshape(t, tuple(n if j == i else 1 for j, n in enumerate(shape)))
        grids.append(expand(lined, shape))
    return (grids[1], grids[0], *grids[2:]) if swap else tuple(grids)


# ---- *_as and sum_to_size ------------------------------------------------------------------
def view_as(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return view(input, tuple(other.shape))


def reshape_as(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return reshape(input, tuple(other.shape))


def type_as(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    return input.to(other.dtype)


def sum_to_size(input: Tensor, *size: Any) -> Tensor:  # noqa: A002
    shape = _dims(size)
    given = tuple(input.shape)
    lead = len(given) - len(shape)
    if lead < 0 or any(s not in (1, g) for s, g in zip(shape, given[lead:], strict=True)):
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(given)}}}.")
    if shape == given:
        return input
    name = "ViewBackward0" if lead else "SumBackward1"  # PyTorch views away the leading dims
    return composite(name, lambda a: _sum_to(a, shape), input)
