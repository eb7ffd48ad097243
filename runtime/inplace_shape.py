"""In-place changes of a tensor's own shape: ``t_``, ``squeeze_``, ``resize_``, ``set_``, ..."""

from __future__ import annotations

import sys
from collections.abc import Callable
from math import prod
from typing import Any

import numpy as np

from ..ir.ops import Op
from ..ir.shapes import C_NAMES, norm_axis
from . import trace_state
from .dispatch import apply
from .grad_mode import is_grad_enabled
from .inplace import _check_leaf
from .tensor import Tensor, _axes, _dims

# Note [in-place shape changes]
# PyTorch's t_/transpose_/squeeze_/unsqueeze_ change the tensor's sizes and strides, not its
# data: the storage (and every view of it) is untouched, the version counter is bumped, and
# under grad mode the tensor's history gains one view node (TBackward1, TransposeBackward1,
# SqueezeBackward3/4/5, UnsqueezeBackward1) whose input is the tensor as it was. adjit does the
# same on its NumPy array: the out-of-place view op runs on an alias carrying the old history,
# and the tensor takes the view's array (same memory) and grad_fn. A view stays a view of its
# base (its base's history does not change: no data was written). While tracing, a tensor made
# inside the function is rebound to the new IR value; arguments and outside tensors refuse.


def _alias(t: Tensor) -> Tensor:
    """``t`` as it is now: same array, history and version counter (the view op's input)."""
    a = Tensor._make(
        t._data, requires_grad=t._requires_grad, grad_fn=t._grad_fn, version_box=t._version_box
    )
    a._output_nr = t._output_nr
    a._nograd_view = t._nograd_view
    if t._view_base is not None:  # a view stays one, made again from the alias if stale
        a._view_base, a._rewrites_seen = t._view_base, t._rewrites_seen
        a._view_recipe = t._view_recipe
    return a


def _traced_rebind(t: Tensor, fn: Callable[[Tensor], Tensor], what: str) -> Tensor:
    from .trace_state import TracingError

    if getattr(t, "_view_of", None) is not None or getattr(t, "_has_views", False):
        raise TracingError(
            f"{what} on a view (or a tensor that has views) inside a compiled "
            "function is not supported; use the out-of-place op"
        )
    if t._var in t._trace.input_vars:  # type: ignore[attr-defined]
        raise TracingError(
            f"{what} on an argument of a compiled function is not supported "
            "(the caller's tensor would not change); use the out-of-place op"
        )
    result = fn(t)  # a view of t, dropped: t itself is rebound, and has no new view
    t._var, t._requires_grad = result._var, result.requires_grad  # type: ignore[attr-defined]
    t._has_views = False  # type: ignore[attr-defined]
    return t


def _refuse_outside(t: Tensor, what: str) -> None:
    trace = trace_state.current()
    if trace is not None and not t._is_tracer and trace.involves([t]):
        from .trace_state import TracingError

        raise TracingError(
            f"{what} on a tensor from outside a compiled function is not "
            "supported; use the out-of-place op"
        )


def restride(t: Tensor, fn: Callable[[Tensor], Tensor], what: str) -> Tensor:
    """Make ``t`` the view ``fn(t)`` of itself, in place (Note [in-place shape changes])."""
    _check_leaf(t)
    base = t._view_base
    if is_grad_enabled() and base is not None and base.is_leaf and base.requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    if t._is_tracer:
        return _traced_rebind(t, fn, what)
    _refuse_outside(t, what)
    out = fn(_alias(t))
    if t._view_base is not None:
        t._view_recipe, t._rewrites_seen = out._view_recipe, out._rewrites_seen
    t._data = out._data
    if is_grad_enabled() and out._grad_fn is not None:  # under no_grad the history stays
        t._grad_fn, t._output_nr = out._grad_fn, out._output_nr
    t._version_box[0] += 1
    return t


def _permute(name: str, axes: Callable[[Tensor], tuple[int, ...]]) -> Callable[[Tensor], Tensor]:
    return lambda a: apply(Op.PERMUTE, a, axes=axes(a), name=name)


def _swap(ndim: int, dim0: int, dim1: int) -> tuple[int, ...]:
    axes = list(range(ndim))
    a, b = norm_axis(dim0, ndim), norm_axis(dim1, ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return tuple(axes)


def t_(self: Tensor) -> Tensor:
    if self.ndim > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
    reverse = _permute("TBackward1", lambda a: tuple(reversed(range(a.ndim))))
    return restride(self, reverse, "t_()")


def transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    axes = _swap(self.ndim, dim0, dim1)
    return restride(self, _permute("TransposeBackward1", lambda a: axes), "transpose_()")


def squeeze_(self: Tensor, dim: Any = None) -> Tensor:
    axes = _axes(dim, self.ndim)
    shape = tuple(
        n for i, n in enumerate(self.shape) if n != 1 or (axes is not None and i not in axes)
    )
    kind = 3 if dim is None else 5 if isinstance(dim, tuple | list) else 4
    name = f"SqueezeBackward{kind}"
    return restride(self, lambda a: apply(Op.RESHAPE, a, shape=shape, name=name), "squeeze_()")


def unsqueeze_(self: Tensor, dim: int) -> Tensor:
    d = norm_axis(dim, self.ndim + 1)
    shape = (*self.shape[:d], 1, *self.shape[d:])
    return restride(
        self,
        lambda a: apply(Op.RESHAPE, a, shape=shape, name="UnsqueezeBackward1"),
        "unsqueeze_()",
    )


# ---- resize_ and set_: storage-level changes --------------------------------------------------
# Note [resize_ on NumPy memory]
# PyTorch's resize_ keeps the storage and its offset, makes the tensor contiguous over it and
# grows the storage when it is too small: the new elements are the storage's, in storage
# order (not the tensor's logical order when it was a transpose). adjit's storage is the NumPy
# array owning the memory (``data.base``, or ``data`` itself): when it is C-contiguous and big
# enough, the tensor becomes a byte view of it from the same offset, exactly PyTorch's result
# and still sharing memory with every view. Growing must allocate: that is done only when
# nothing else holds the memory (no view, no detached alias), where PyTorch's in-place growth
# could not be told apart; otherwise a clear error (another tensor would silently stop aliasing).

RESIZE_GRAD_MSG = "cannot resize variables that require grad"


def _storage(data: np.ndarray) -> np.ndarray | None:
    """The C-contiguous array owning ``data``'s memory, or None when that is not modelled."""
    root = data
    while isinstance(root.base, np.ndarray):
        root = root.base
    return root if root.flags.c_contiguous else None


def _resized(t: Tensor, shape: tuple[int, ...]) -> np.ndarray:
    data = t._data
    n = prod(shape)
    if shape == tuple(data.shape):
        return data
    root = _storage(data)
    if root is None:
        raise NotImplementedError(
            "resize_: adjit cannot resize a tensor whose memory is not a contiguous block it "
            "owns (an expanded or strided view); resize a clone() instead"
        )
    start = data.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    need = start + n * data.itemsize
    if need > root.nbytes:  # growing: allocate, only when nothing else holds the memory
        # the references that are ours: t._data or data.base, the locals, getrefcount's argument
        ours_root, ours_data = (4, 4) if root is data else (3, 3)
        if (
            sys.getrefcount(root) > ours_root
            or sys.getrefcount(data) > ours_data
            or not data.flags.writeable
        ):
            raise NotImplementedError(
                "resize_: growing a tensor whose memory other tensors share (views, detach()) "
                "is not supported by adjit (they would stop aliasing it); resize a clone() "
                "instead"
            )
        grown = np.zeros(need, np.uint8)
        grown[: root.nbytes] = root.reshape(-1).view(np.uint8)
        root = grown
    raw = root.reshape(-1).view(np.uint8)
    return raw[start:need].view(data.dtype).reshape(shape)


def resize_(self: Tensor, *size: Any, memory_format: Any = None, **kwargs: Any) -> Tensor:
    if not size and "size" in kwargs:
        size = (kwargs.pop("size"),)
    if kwargs:
        raise TypeError(f"resize_() got an unexpected keyword argument '{next(iter(kwargs))}'")
    if not size:
        raise TypeError('resize_() missing 1 required positional arguments: "size"')
    if any(isinstance(s, float) for s in size) or (len(size) == 1 and isinstance(size[0], float)):
        raise TypeError("resize_(): argument 'size' (position 1) must be tuple of ints, not float")
    shape = _dims(size)
    if self.requires_grad:
        raise RuntimeError(RESIZE_GRAD_MSG)
    if any(s < 0 for s in shape):
        raise RuntimeError("numel: integer multiplication overflow")
    if self._is_tracer:
        from .trace_state import TracingError

        raise TracingError("resize_() inside a compiled function is not supported")
    _refuse_outside(self, "resize_()")
    self._data = _resized(self, shape)
    self._version_box[0] += 1
    return self


def resize_as_(self: Tensor, the_template: Any, *, memory_format: Any = None) -> Tensor:
    if not isinstance(the_template, Tensor):
        raise TypeError(
            "resize_as_(): argument 'the_template' (position 1) must be Tensor, "
            f"not {type(the_template).__name__}"
        )
    return resize_(self, tuple(the_template.shape))


def set_(self: Tensor, source: Any = None, *args: Any, **kwargs: Any) -> Tensor:
    """``set_()`` (empty) and ``set_(tensor)`` (share its memory, shape and strides)."""
    if args or kwargs or (source is not None and not isinstance(source, Tensor)):
        raise NotImplementedError(
            "set_: adjit supports set_() and set_(tensor) only (it has no Storage objects)"
        )
    _check_leaf(self)
    if self._is_tracer or (source is not None and source._is_tracer):
        from .trace_state import TracingError

        raise TracingError("set_() inside a compiled function is not supported")
    _refuse_outside(self, "set_()")
    if source is not None and source.dtype is not self.dtype:
        raise RuntimeError(
            f"Could not set tensor of type {C_NAMES[source.dtype.name]} to a tensor of "
            f"type {C_NAMES[self.dtype.name]}"
        )
    if is_grad_enabled() and (self.requires_grad or (source is not None and source.requires_grad)):
        raise NotImplementedError(
            "set_ is not differentiable (PyTorch records a NotImplemented grad_fn): adjit "
            "refuses it under grad mode; call it under torch.no_grad()"
        )
    self._data = np.empty((0,), self._data.dtype) if source is None else source._data
    self._version_box[0] += 1
    return self


METHODS = {
    "t_": t_,
    "transpose_": transpose_,
    "swapaxes_": lambda self, axis0, axis1: transpose_(self, axis0, axis1),
    "swapdims_": lambda self, dim0, dim1: transpose_(self, dim0, dim1),
    "squeeze_": squeeze_,
    "unsqueeze_": unsqueeze_,
    "resize_": resize_,
    "resize_as_": resize_as_,
    "set_": set_,
}
