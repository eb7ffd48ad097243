"""PyTorch's view-copy ops (``permute_copy``, ``split_copy``, ...): a view's values in new
contiguous memory, with the view's gradient under the ``*Backward0_copy`` node name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .device import clone as _clone
from .device import contiguous_format
from .dispatch import composite, with_rule
from .ops_complex import view_as_complex, view_as_real
from .ops_diagonal import diagonal
from .ops_index import unfold
from .ops_movement import (
    expand,
    getitem,
    narrow,
    permute,
    reshape,
    split,
    squeeze,
    t,
    transpose,
    unbind,
    unsqueeze,
    view,
)
from .ops_shape import select
from .ops_view_scatter import as_strided
from .tensor import Tensor


def _dense(x: Tensor) -> Tensor:
    """``x``'s values in fresh C-order memory (a view's copy owns its memory, as PyTorch's)."""
    return _clone(x, memory_format=contiguous_format)


def _copy_of(
    view_fn: Callable[..., Any], name: str | Callable[..., str], many: bool = False
) -> Callable[..., Any]:
    """``view_fn``'s result copied, under node ``name`` (or ``name(*args)``); ``many``: the view
    op returns a tuple, and each output gets its own node, as PyTorch's."""

    def copy_op(x: Tensor, *args: Any, **kwargs: Any) -> Any:
        node = name if isinstance(name, str) else name(*args, **kwargs)
        if many:
            count = len(view_fn(x.detach(), *args, **kwargs))  # (its checks, its count)
            return tuple(
                composite(node, lambda a, k=k: _dense(view_fn(a, *args, **kwargs)[k]), x)
                for k in range(count)
            )
        return composite(node, lambda a: _dense(view_fn(a, *args, **kwargs)), x)

    return copy_op


def _squeeze_name(dim: Any = None) -> str:
    return f"SqueezeBackward{0 if dim is None else 2 if isinstance(dim, tuple | list) else 1}_copy"


def _slice(x: Tensor, dim: int = 0, start: Any = None, end: Any = None, step: int = 1) -> Tensor:
    from ..ir.shapes import norm_axis

    d = norm_axis(dim, x.ndim)
    return getitem(x, (slice(None),) * d + (slice(start, end, step),))


def _expand(x: Tensor, size: Any, *, implicit: bool = False) -> Tensor:
    return expand(x, tuple(size))


def _narrow_checked(x: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """``narrow`` after narrow_copy's own first check (its kernel's text, not narrow's)."""
    if x.ndim and isinstance(dim, int) and dim >= x.ndim:
        raise RuntimeError(
            "Expected dim < static_cast<int64_t>(self_sizes.size()) to be true, but got false.  "
            "(Could this error message be improved?  If so, please report an enhancement "
            "request to PyTorch.)"
        )
    return narrow(x, dim, start, length)


def split_with_sizes(x: Tensor, split_sizes: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """``split`` into pieces of the listed sizes, which must add up to the dim's size."""
    if not isinstance(split_sizes, tuple | list):
        raise TypeError(
            "split_with_sizes(): argument 'split_sizes' (position 2) must be tuple of ints, not "
            f"{type(split_sizes).__name__}"
        )
    from ..ir.shapes import norm_axis

    d = norm_axis(dim, x.ndim) if x.ndim else dim
    n = x.shape[d] if x.ndim else 0
    if x.ndim and sum(int(s) for s in split_sizes) != n and all(s >= 0 for s in split_sizes):
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
            f"dimension {dim}), but got split_sizes={[int(s) for s in split_sizes]}"
        )
    return split(x, list(split_sizes), dim)


alias_copy = _copy_of(lambda a: a, "AliasBackward0_copy")
as_strided_copy = _copy_of(as_strided, "AsStridedBackward0_copy")
diagonal_copy = _copy_of(diagonal, "DiagonalBackward0_copy")
expand_copy = _copy_of(_expand, "ExpandBackward0_copy")
narrow_copy = _copy_of(_narrow_checked, "NarrowCopyBackward0")
permute_copy = _copy_of(permute, "PermuteBackward0_copy")
select_copy = _copy_of(select, "SelectBackward0_copy")
slice_copy = _copy_of(_slice, "SliceBackward0_copy")
split_copy = _copy_of(split, "SplitBackward0_copy", many=True)
split_with_sizes_copy = _copy_of(split_with_sizes, "SplitWithSizesBackward0_copy", many=True)
squeeze_copy = _copy_of(squeeze, _squeeze_name)
t_copy = _copy_of(t, "TBackward0_copy")
transpose_copy = _copy_of(transpose, "TransposeBackward0_copy")
unbind_copy = _copy_of(unbind, "UnbindBackward0_copy", many=True)
unfold_copy = _copy_of(unfold, "UnfoldBackward0_copy")
unsqueeze_copy = _copy_of(unsqueeze, "UnsqueezeBackward0_copy")
view_copy = _copy_of(view, "ViewBackward0_copy")
view_as_real_copy = _copy_of(view_as_real, "ViewAsRealBackward0_copy")
view_as_complex_copy = _copy_of(view_as_complex, "ViewAsComplexBackward0_copy")
_ = reshape  # (view_copy reshapes through view)


class _NoDerivative:
    """PyTorch's ``detach_copy`` keeps requires_grad with no derivative: backward refuses."""

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return repr("detach_copy")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        raise RuntimeError("derivative for aten::detach_copy is not implemented")


_NO_DERIVATIVE = _NoDerivative()


def detach_copy(x: Tensor) -> Tensor:
    """A copy of ``x``; like PyTorch's it still requires grad, and backward through it fails."""
    return with_rule(_NO_DERIVATIVE, lambda a: _dense(a.detach()), x, name="NotImplemented")


def _sparse_only(op: str, kind: str) -> Callable[[Tensor], Tensor]:
    def refuse(x: Tensor) -> Tensor:
        raise RuntimeError(f"{op} expected {kind} tensor layout but got Strided")

    refuse.__name__ = refuse.__qualname__ = f"{op}_copy"
    refuse.__doc__ = f"Sparse tensors only (adjit's are dense): PyTorch's error for ``{op}``."
    return refuse


values_copy = _sparse_only("values", "sparse")
indices_copy = _sparse_only("indices", "sparse coordinate")
crow_indices_copy = _sparse_only("crow_indices", "sparse row compressed")
col_indices_copy = _sparse_only("col_indices", "sparse row compressed")
ccol_indices_copy = _sparse_only("ccol_indices", "sparse column compressed")
row_indices_copy = _sparse_only("row_indices", "sparse column compressed")

COPY_OPS = {
    "alias_copy": alias_copy,
    "as_strided_copy": as_strided_copy,
    "detach_copy": detach_copy,
    "diagonal_copy": diagonal_copy,
    "expand_copy": expand_copy,
    "narrow_copy": narrow_copy,
    "permute_copy": permute_copy,
    "select_copy": select_copy,
    "slice_copy": slice_copy,
    "split_copy": split_copy,
    "split_with_sizes_copy": split_with_sizes_copy,
    "squeeze_copy": squeeze_copy,
    "t_copy": t_copy,
    "transpose_copy": transpose_copy,
    "unbind_copy": unbind_copy,
    "unfold_copy": unfold_copy,
    "unsqueeze_copy": unsqueeze_copy,
    "view_copy": view_copy,
    "view_as_real_copy": view_as_real_copy,
    "view_as_complex_copy": view_as_complex_copy,
    "values_copy": values_copy,
    "indices_copy": indices_copy,
    "crow_indices_copy": crow_indices_copy,
    "col_indices_copy": col_indices_copy,
    "ccol_indices_copy": ccol_indices_copy,
    "row_indices_copy": row_indices_copy,
}
for _name, _fn in COPY_OPS.items():  # the public names (tracebacks, help(), the API page)
    if _fn.__name__ == "copy_op":
        _fn.__name__ = _fn.__qualname__ = _name
        _fn.__doc__ = f"PyTorch's ``torch.{_name}``: the view's values in new memory."
