"""In-place ops (``add_``, ``x[i] = v``): PyTorch's checks, version counters, rebased history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.ops import Op
from ..ir.reference import REFERENCE
from ..ir.shapes import broadcast_shapes, index_shape, split_index
from . import forward_grad, trace_state
from .checks import check
from .const_writes import adopt_for_write, constant_of_trace, gather, traced_write
from .dispatch import apply, as_tensor_operand, composite, with_rule
from .grad_mode import INFERENCE_INPLACE_MSG, is_grad_enabled, no_grad, outside_inference
from .indexing import (
    _dims_used,
    _scalar_bool,
    _sequence_as_tuple,
    has_scalar_bool,
    normalize_index,
    warn_sequence_index,
)
from .masked_index import masked_write, traced_mask
from .ops_elementwise import le
from .ops_scatter import REPEATED
from .setitem_values import fit_value
from .tensor import Tensor

LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_LEAF_MSG = f"a view of {LEAF_MSG}"


NOGRAD_VIEW_MSG = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block "
    "(if you don't want the inplace to be tracked) or both outside (if you want the inplace "
    "to be tracked)."
)


# Note [stale views]
# A view's grad_fn is recorded against its base's history at the time. PyTorch, after an
# in-place op rewrites the base's history, regenerates each view's grad_fn from the new one
# (AsStridedBackward0, on a version check). adjit: a recorded in-place write to a base counts
# in ``base._rewrites``; each view keeps the count its base had when it was made and its recipe
# (parent, view op, attrs); a view whose count is behind, when it joins a graph (dispatch.apply,
# autograd.gradient_edge) or shows its grad_fn, gets its history again by replaying the op on
# its parent's current history (dispatch.stale_view), named AsStridedBackward0 as PyTorch's.
# Views made by a decomposition (split, unbind, diagonal) have no recipe and refuse. Writes
# under no_grad and in-place shape changes (inplace_shape) leave the history valid: no count.


def _check_leaf(t: Tensor) -> None:
    if outside_inference(t._version_box):  # (Note [inference tensors] in grad_mode.py)
        raise RuntimeError(INFERENCE_INPLACE_MSG)
    if is_grad_enabled() and t._nograd_view:
        raise RuntimeError(NOGRAD_VIEW_MSG)
    if is_grad_enabled() and t._view_base is not None and t._grad_fn is None:
        _check_view_made_before_history(t, t._view_base)
    if is_grad_enabled() and t.is_leaf and t._requires_grad:
        raise RuntimeError(LEAF_MSG)


def _check_view_made_before_history(t: Tensor, base: Tensor) -> None:
    """A view made while its base had no history, written in place after the base got one:
    PyTorch's check_inplace sees a view that requires grad (its base does) with no grad_fn of
    its own yet (it is made on first use: Note [stale views]), so it refuses as for a leaf (a
    view of a leaf, when the base is one that requires grad since)."""
    if base._grad_fn is None and base._requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    # (a view written in place itself has had a history since, as in PyTorch: ``v = h[:, 1:];
    # v.add_(a); v.relu_()`` on a plain ``h`` is allowed)
    stale = base._rewrites != t._rewrites_seen
    if base._grad_fn is not None and stale and not getattr(t, "_wrote_history", False):
        raise RuntimeError(LEAF_MSG)


def _snapshot(t: Tensor) -> Tensor:
    """``t`` as it is now: its values copied, its history (and output number) kept."""
    old = Tensor._make(t._data.copy(), requires_grad=t._requires_grad, grad_fn=t.grad_fn)
    old._output_nr = t._output_nr
    return old


def _base_before(t: Tensor) -> Tensor | None:
    """Before a recorded in-place op on ``t``: a view's base as it is now, to rebase on (Note
    [in-place ops on views]); None when ``t`` is no view. A view of a leaf that requires grad,
    and a view a function returns several of, refuse as in PyTorch."""
    base = t._view_base
    if base is None:
        return None
    if base.is_leaf and base.requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    output = getattr(t, "_multi_view", None)
    if output is not None and t._grad_fn is not None:
        op = t._grad_fn.name().removesuffix("Backward0")
        raise RuntimeError(
            f"Output {output} of {op} is a view and is being modified inplace. This view is the "
            "output of a function that returns multiple views. Such functions do not allow the "
            "output views to be modified inplace. You should replace the inplace operation by "
            "an out-of-place one."
        )
    return _snapshot(base)


# Note [in-place ops on views]
# A recorded in-place op on a view (``h[:, 0].mul_(2)``, ``y.narrow(0, 1, 2).sigmoid_()``, an
# index assignment into a slice) changes its base's values, so the base's history must change
# too. As PyTorch's CopySlices does, the base's new history is its old values with the view's
# elements replaced by the op's result: the op runs on a copy of the view (its history current),
# the result is written into the shared memory, and the base's grad_fn becomes CopySlices of
# (the base's old history, the result), scattering the result at the view's elements' positions
# in the base, found from their addresses. Gradients then reach the base's old history for the
# elements kept and the result's history for those written. The base's rewrite count goes up,
# so the view itself and every other view of the base get their histories again from the
# base's new one when next used (Note [stale views]), as PyTorch's AsStridedBackward0.


def _positions(view: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The flat (C-order) index in ``base`` of each element of ``view`` (sharing its memory)."""
    grid = np.indices(base.shape, dtype=np.int64).reshape(base.ndim, -1)
    address = np.asarray(base.strides, np.int64) @ grid if base.ndim else np.zeros(1, np.int64)
    order = np.argsort(address, kind="stable")
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    vgrid = np.indices(view.shape, dtype=np.int64).reshape(view.ndim, -1)
    vaddress = offset + (np.asarray(view.strides, np.int64) @ vgrid if view.ndim else 0)
    found = np.searchsorted(address[order], vaddress)
    if np.any(address[order][np.minimum(found, address.size - 1)] != vaddress):
        raise RuntimeError("adjit: this view's elements are not elements of its base")
    return order[found].reshape(view.shape)


def _put_at(old: Tensor, val: Tensor, where: np.ndarray) -> Tensor:
    """``old`` with ``val`` written at its elements numbered ``where`` (C order; ``where`` has
    ``val``'s shape), out of place and differentiable in both."""
    spec, tensors = normalize_index((old.numel(),), (Tensor._make(where.reshape(-1)),))
    idx = [a if isinstance(a, Tensor) else Tensor._make(a) for a in tensors]
    flat = _index_put(old.reshape(-1), val.reshape(-1), spec, idx, (where.size,))
    return flat.reshape(tuple(old.shape))


def _recorded(t: Tensor, result: Tensor, old_base: Tensor | None) -> None:
    """After ``result`` was written into ``t``: ``t``'s history is ``result``'s, or, for a
    view, its base's becomes CopySlices of its old one and ``result`` (Note [in-place ops on
    views]); the base's rewrite count makes its views' histories stale (Note [stale views])."""
    if old_base is None:
        t._grad_fn = result.grad_fn
        t._rewrites += 1
        return
    base = t._view_base
    assert base is not None
    where = _positions(t._data, base._data)
    value = result.to(base.dtype).expand(tuple(t.shape))
    new = composite("CopySlices", lambda old, val: _put_at(old, val, where), old_base, value)
    base._grad_fn, base._output_nr = new.grad_fn, new._output_nr
    base._rewrites += 1
    t._wrote_history = True  # (its history is made from the base's on first use)


def _write(t: Tensor, result: Tensor, expanded_ok: bool = False) -> None:
    """Store ``result`` into ``t``'s memory (so views see it) after PyTorch's dtype/shape checks;
    ``expanded_ok``: a scalar ``result`` may go into stride-0 (expanded) memory."""
    _check_result(t, result)
    target = _distinct(t._data) if expanded_ok and not t._data.flags.writeable else None
    if target is None:
        _check_writeable(t)
        target = t._data
    target[...] = result._data
    t._version_box[0] += 1


def _check_result(t: Tensor, result: Tensor) -> None:
    """PyTorch's checks that ``result`` may be stored into ``t``: its dtype and shape."""
    if result.dtype.category > t.dtype.category:
        raise RuntimeError(
            f"result type {result.dtype.type_name} can't be cast to the desired "
            f"output type {t.dtype.type_name}"
        )
    shape = tuple(t.shape)
    if tuple(result.shape) != shape and (wide := broadcast_shapes(result.shape, shape)) != shape:
        raise RuntimeError(
            f"output with shape {list(t.shape)} doesn't match the broadcast shape {list(wide)}"
        )


# Note [fills of expanded tensors]
# PyTorch refuses to write into an expanded tensor (memory shared by several of its elements),
# except for a scalar fill_/zero_ (``torch.empty(1).expand(5).zero_()`` zeroes the one element,
# and the tensor it expands sees it). adjit's expanded data is NumPy's read-only broadcast view,
# so such a fill writes through a writeable view of the same memory with the stride-0 axes cut to
# length 1: every distinct element once. Recorded fills (grad mode, a tensor requiring grad) and
# tensor-valued fills keep PyTorch's refusal, as does every other in-place op.


def _distinct(data: np.ndarray) -> np.ndarray | None:
    """A writeable view of ``data``'s distinct elements (its stride-0 axes cut to length 1) on
    the same memory; None when that memory is not a writeable NumPy array's."""
    root = data
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not root.flags.writeable or not root.flags.c_contiguous:
        return None
    shape = tuple(1 if st == 0 else n for n, st in zip(data.shape, data.strides, strict=True))
    offset = data.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    try:
        return np.ndarray(shape, data.dtype, buffer=root, offset=offset, strides=data.strides)
    except (TypeError, ValueError):
        return None


def _rebind(t: Tensor, result: Tensor) -> Tensor:
    """While tracing, an in-place op on a traced tensor rebinds it to the new IR value."""
    if not t._is_tracer:  # a value now: the op broke the graph (Note [graph breaks])
        raise NotImplementedError(
            "adjit.compile does not support an in-place op that breaks the graph (on a "
            "complex tensor, or reading a value) on a traced tensor; compute a new tensor"
        )
    if getattr(t, "_view_of", None) is not None or getattr(t, "_has_views", False):
        return _rebind_through_views(t, result)
    return _rebind_value(t, result)


_ALIAS_WRITE = (
    "in-place modification of a tensor's .detach() or .data alias (or of a tensor whose alias "
    "has views) inside a compiled function is not supported; use out-of-place ops"
)


def _rebind_value(t: Tensor, result: Tensor) -> Tensor:
    """Rebind the traced tensor ``t`` (no view) to ``result``: PyTorch's checks first."""
    from .trace_state import TracingError

    aliases = [a for ref in getattr(t, "_detached_aliases", ()) if (a := ref()) is not None]
    if getattr(t, "_detached_from", None) is not None or any(a._has_views for a in aliases):
        raise TracingError(_ALIAS_WRITE)  # (Note [detached aliases while tracing] in tracer.py)
    if t._var in t._trace.input_vars:
        raise TracingError(
            "in-place modification of an argument of a compiled function is not "
            "supported (the caller's tensor would not change); compute a new "
            "tensor instead"
        )
    if tuple(result.shape) != tuple(t.shape) or result.dtype is not t.dtype:
        result = result.to(t.dtype).expand(tuple(t.shape))
    leaf = t.requires_grad and t.is_leaf  # (made inside: arguments and outside tensors differ)
    if not is_grad_enabled() and t.requires_grad and not leaf:
        result = kept_history(t, result)  # (Note [unrecorded writes while tracing])
    t._var, t._requires_grad = result._var, result.requires_grad
    if leaf and not is_grad_enabled():  # ``init.normal_(w)``: still a leaf that requires grad
        t._trace.make_leaf(t, True)  # type: ignore[attr-defined]
    for alias in aliases:  # they share t's memory: they see the new value, with no history
        alias._var = t._trace.emit(Op.DETACH, [t], {}, None)._var  # type: ignore[attr-defined]
    return t


# Note [unrecorded writes while tracing]
# Eagerly, an in-place op under no_grad on a tensor with history changes its values and keeps
# its grad_fn: gradients of later uses pass to the old history as if nothing was written. A
# traced tensor is rebound to the op's result, which has no history, so the rebinding would cut
# that path (a gradient silently missing). So the new value is a CUSTOM_VJP equation whose value
# is the result and whose derivative passes the gradient to the old value unchanged.


class _KeptHistory:
    """The derivative of an unrecorded write: the gradient goes to the old value."""

    def __repr__(self) -> str:  # a Python literal: printed IR parses, emitted source runs
        return repr("kept_history")

    def vjp(self, g: Tensor, out: Tensor, inputs: Any, needs: tuple[bool, ...]) -> tuple:
        return (None, None, g if needs[2] else None)


_KEPT = _KeptHistory()


def kept_history(old: Tensor, new: Tensor) -> Tensor:
    """``new``'s values with ``old``'s history (see the Note): ``new`` was written into ``old``
    under no_grad."""
    from .grad_mode import set_grad_enabled

    with set_grad_enabled(True):
        return with_rule(_KEPT, lambda n, o: n, new, old, name="CopySlices")


# Note [writes through views]
# While tracing, tensors are values: an in-place op rebinds its tracer to a new one. On a view
# (``y = conv(x).view(n, 3, -1); y[:, :2] = y[:, :2].sigmoid()``) the write must reach what it
# views, and every other view of that, as eager memory would. Each traced view knows its parent
# and the one view op that made it (tracer.py's view steps); the parent's new value is its old
# one with the view's elements replaced (their positions found by running the view op on the
# parent's element numbers, then an index write, differentiable in both), up to the tensor that
# is no view, which is rebound as any in-place op's; then every view below it is made again from
# its parent's new value by its view op, so all of them read the write.


def _rebind_through_views(t: Tensor, result: Tensor) -> Tensor:
    """Rebind the traced view ``t`` to ``result`` and its base and their views with it."""
    from .trace_state import TracingError

    if tuple(result.shape) != tuple(t.shape) or result.dtype is not t.dtype:
        result = result.to(t.dtype).expand(tuple(t.shape))
    node, new = t, result
    while getattr(node, "_view_of", None) is not None:
        parent, step = node._view_of, node._view_step  # type: ignore[attr-defined]
        if step is None:
            raise TracingError(
                "in-place modification of a view made by an op of several inputs inside a "
                "compiled function is not supported; use out-of-place ops"
            )
        op, attrs, _, _ = step
        if op is None and attrs["detach"]:
            raise TracingError(_ALIAS_WRITE)
        if op is None:  # an adopted alias: its elements' positions (Note [writes into trace
            where = attrs["where"]  # constants] in runtime/const_writes.py)
        else:
            numbers = np.arange(parent.numel(), dtype=np.int64).reshape(tuple(parent.shape))
            where = np.asarray(REFERENCE[op](numbers, **attrs))
        if len(np.unique(where)) != where.size:
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers "
                "to a single memory location. Please clone() the tensor before performing the "
                "operation."
            )
        node, new = parent, _put_at(parent, new, where)
    _rebind_value(node, new)
    _refresh_views(node)
    return t


def _refresh_views(parent: Tensor) -> None:
    """Make each view of ``parent`` again from its new value, and theirs (Note [writes through
    views])."""
    from .grad_mode import set_grad_enabled

    for ref in list(parent._views):  # type: ignore[attr-defined]
        view = ref()
        if view is None or view._view_of is not parent or view._view_step is None:  # type: ignore[attr-defined]
            continue
        op, attrs, name, grad_on = view._view_step  # type: ignore[attr-defined]
        with set_grad_enabled(grad_on):
            again = gather(parent, attrs) if op is None else apply(op, parent, name=name, **attrs)
        view._var, view._requires_grad = again._var, again.requires_grad  # type: ignore[attr-defined]
        _refresh_views(view)


def _traced(t: Tensor) -> bool:
    return bool(getattr(t, "_is_tracer", False))


def _traced_operand(operands: Any) -> bool:
    """Whether an in-place op's operands hold a tracer of the active trace."""
    return trace_state.current() is not None and any(
        isinstance(o, Tensor) and o._is_tracer for o in operands
    )


def _outside(t: Tensor) -> Any:
    """The active trace, when ``t`` is a tensor from outside it (its in-place ops are traced
    and written back after each call)."""
    trace = trace_state.current()
    if trace is None or _traced(t):
        return None
    return trace if trace.involves([t]) else None


# Note [writes through .data while tracing]
# Eagerly ``p.data`` (and ``p.detach()``) shares ``p``'s memory: ``p.data.add_(g, alpha=-lr)``
# (a hand-written SGD step, an EMA update) changes ``p`` without autograd seeing it. Traced, the
# alias of a tensor from outside is the DETACH of its lifted value (Tensor._alias), so the
# write is made an in-place op on ``p`` itself under no_grad (traced on its lifted value and
# written back after each call: Note [writes into earlier values]), and the alias reads the
# new value, detached, from then on.


def _alias_origin(t: Tensor) -> Tensor | None:
    """While tracing, the outside tensor whose ``.data`` / ``.detach()`` alias ``t`` is (Note
    [writes through .data while tracing]); else None."""
    origin = getattr(t, "_outside_alias", None)
    return origin if origin is not None and trace_state.current() is not None else None


def _write_through_alias(t: Tensor, origin: Tensor, write: Callable[[Tensor], Any]) -> Tensor:
    """``write`` done to ``origin``, the outside tensor whose ``.data`` alias ``t`` is."""
    with no_grad():
        write(origin)
        trace = trace_state.current()
        t._var = trace.emit(Op.DETACH, [trace.lift(origin)], {}, None)._var  # type: ignore[attr-defined]
    return t


def inplace(
    t: Tensor,
    fn: Callable[[Tensor], Tensor],
    *others: Any,
    direct: Callable[[Tensor], Tensor] | None = None,
    expanded_ok: bool = False,
) -> Tensor:
    """Apply ``fn`` (an out-of-place op of ``t``) and write the result back into ``t``.

    ``direct``, for ops whose result is a value broadcast over ``t`` (``fill_``, ``zero_``,
    ``copy_``), gives that value: when nothing is recorded it is written as it is, without
    computing ``fn``'s whole result first (Note [direct writes]). ``expanded_ok``: a scalar
    fill, which PyTorch writes into an expanded tensor's memory too (Note [fills of expanded
    tensors])."""
    origin = _alias_origin(t)
    if origin is not None:
        kw = {"direct": direct, "expanded_ok": expanded_ok}
        return _write_through_alias(t, origin, lambda o: inplace(o, fn, *others, **kw))
    _check_leaf(t)
    if _traced_operand(others) and constant_of_trace(t):
        adopt_for_write(t)  # (Note [writes into trace constants] in runtime/const_writes.py)
    if _traced(t):
        had_views = t._has_views  # type: ignore[attr-defined]
        result = fn(t)
        t._has_views = had_views  # type: ignore[attr-defined]  # fn's own views (reshapes) of t
        _check_result(t, result)
        return _rebind(t, result)
    trace = _outside(t)
    if trace is not None:
        return trace.mutate(t, fn)
    recording = is_grad_enabled() and (
        t.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others)
    )
    if not recording:
        with no_grad():
            # Note [direct writes]: ``fn`` builds the whole new value, where(True, v, t), then
            # _write copies it in: 226 µs for a 784x256 float32 zero_ against 15 µs for
            # NumPy's fill. Unrecorded, a broadcast value is written straight in (same checks,
            # same bits: the value is converted to t's dtype first, as fn does).
            use = direct is not None and not forward_grad.ACTIVE
            result = direct(t) if use else fn(t)  # type: ignore[misc]
            if not traced_write(t, result):  # (else a traced operand fn closes over)
                _write(t, result, expanded_ok and use)
        if traced_write(t, result):
            _check_result(t, result)
            return _rebind(adopt_for_write(t), result)
        if forward_grad.ACTIVE:  # (Note [eager forward AD])
            forward_grad.inplace_result(t, result)
        return t
    old_base = _base_before(t)
    before = _snapshot(t)
    if forward_grad.ACTIVE and forward_grad.tangent(t) is not None:
        forward_grad.set_tangent(before, forward_grad.tangent(t))
    result = fn(before)
    if traced_write(t, result):
        _check_result(t, result)
        return _rebind(adopt_for_write(t), result)
    _write(t, result)
    if forward_grad.ACTIVE:
        forward_grad.inplace_result(t, result)
    _recorded(t, result, old_base)
    return t


def _check_writeable(t: Tensor) -> None:
    """PyTorch's refusal to write into an expanded tensor (stride-0 memory)."""
    if not t._data.flags.writeable:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor "
            "refers to a single memory location. Please clone() the tensor before "
            "performing the operation."
        )


def setitem(t: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value``: written in place; under grad mode the history becomes CopySlices."""
    origin = _alias_origin(t)
    if origin is not None:
        _write_through_alias(t, origin, lambda o: setitem(o, index, value))
        return
    if index is False:
        return  # PyTorch writes nothing, checking neither ``t`` nor the value
    warn_sequence_index(index)
    mask = traced_mask(index)
    if mask is not None:  # (Note [writes through a traced mask])
        _check_leaf_write(t, index)
        v = as_tensor_operand(value)
        inplace(t, lambda old: masked_write(old, mask, v))
        return
    bools = has_scalar_bool(index)  # (PyTorch indexes by a mask unless the index is True)
    advanced_bools = bools and index is not True
    if bools:  # (Note [scalar bool indices])
        items = index if isinstance(index, tuple) else (index,)
        if not all(bool(it) for it in items if _scalar_bool(it)):
            _check_leaf_write(t, index)  # an empty selection: PyTorch writes nothing
            fit_value(as_tensor_operand(value), tuple(t.detach()[index].shape), advanced=True)
            return
        index = tuple(None if _scalar_bool(it) else it for it in items)
    spec, tensors = normalize_index(tuple(t.shape), index)
    v = as_tensor_operand(value)
    if v.dtype.category == 3 and t.dtype.category != 3:  # (Note [complex dtypes])
        if isinstance(value, Tensor):
            raise NotImplementedError(
                f"adjit does not cast {v.dtype!r} to a real dtype: PyTorch keeps the real part "
                "(with a warning); say so with .real"
            )
        from .ops_elementwise import scalar_as

        v = as_tensor_operand(scalar_as(complex(value), t.dtype))  # PyTorch's fill check
    idx = [a if isinstance(a, Tensor) else Tensor._make(a) for a in tensors]
    target = index_shape(tuple(t.shape), spec, [a.shape for a in tensors])
    advanced = bool(tensors) or advanced_bools
    if advanced:  # index_put_ checks the leaf first, copy_to the value's shape
        _check_leaf_write(t, index)
    v = fit_value(v, target, advanced)
    _check_leaf_write(t, index)
    if forward_grad.ACTIVE and any(forward_grad.tangent(a) is not None for a in (t, v)):
        inplace(t, lambda old: _index_put(old, v, spec, idx, target))  # (its tangent too)
        return
    traced = _traced(t)
    if _traced_operand([v, *idx]) and constant_of_trace(t):
        _check_writeable(t)  # (Note [writes into trace constants] in runtime/const_writes.py)
        traced = _traced(adopt_for_write(t))
    trace = _outside(t)
    if trace is not None:
        trace.mutate(t, lambda tr: _index_put(tr, v, spec, idx, target))
        return
    recording = traced or is_grad_enabled() and (t.requires_grad or v.requires_grad)
    if not recording:
        _check_writeable(t)
        _assign(t._data, spec, tensors, np.broadcast_to(v._data.astype(t._data.dtype), target))
        t._version_box[0] += 1
        return
    arrays = [a for a in tensors if isinstance(a, np.ndarray)]
    if any(len(np.unique(a)) != a.size for a in arrays) and len(tensors) == 1:
        raise RuntimeError(
            "adjit: index assignment with repeated indices under autograd is not "
            "supported (the result would depend on write order)"
        )
    if traced:
        _rebind(t, _index_put(t, v, spec, idx, target))
        return
    old_base = _base_before(t)
    before = _snapshot(t)
    result = composite(
        "IndexPutBackward0" if idx else "CopySlices",
        lambda old, val: _index_put(old, val, spec, idx, target),
        before,
        v,
    )
    _write(t, result)
    _recorded(t, result, old_base)


def _check_leaf_write(t: Tensor, index: Any) -> None:
    """PyTorch's refusals of ``t[index] = value``: of a leaf that requires grad (naming the
    view the write goes through, when it does), and _check_leaf's others."""
    if is_grad_enabled() and t.is_leaf and t._requires_grad and _index_views(t, index):
        raise RuntimeError(VIEW_LEAF_MSG)
    _check_leaf(t)


def _index_views(t: Tensor, index: Any) -> bool:
    """Whether PyTorch's setitem writes ``t[index]`` through a view of ``t`` (an integer or
    0-d index selects, None and a bool unsqueeze, a slice other than ``0:len`` slices), which
    names the view in its leaf refusal."""
    items = tuple(index) if _sequence_as_tuple(index) else index
    items = items if isinstance(items, tuple) else (items,)
    for dim, it in zip(_item_dims(items, t.dim()), items, strict=True):
        if it is None or isinstance(it, int | np.integer):
            return True
        if isinstance(it, slice):
            start, stop, step = it.start or 0, it.stop, it.step or 1
            if start != 0 or step != 1 or stop is not None and stop < t.shape[dim]:
                return True
        elif getattr(it, "ndim", None) == 0:
            return True
    return False


def _item_dims(items: tuple, ndim: int) -> list[int]:
    """The dimension of ``t`` each index item starts at: items before an Ellipsis count from
    the front, items after it from the back."""
    used = [0 if isinstance(it, bool) else _dims_used(it) for it in items]
    cut = next((i for i, it in enumerate(items) if it is Ellipsis), len(items))
    front = np.cumsum([0, *used[:cut]])[:-1]
    back = ndim - np.cumsum(used[cut:][::-1])[::-1]
    return [int(d) for d in (*front, *back)]


def _index_put(
    old: Tensor, val: Tensor, spec: tuple, idx: list[Tensor], target: tuple[int, ...]
) -> Tensor:
    """``old`` with ``val`` written at the index, out of place, as primitives. Each place must
    be written once: the writes are added (refused otherwise, eagerly now or when the compiled
    program runs: Note [scatter with repeated indices] in ops_scatter.py)."""
    ones = Tensor._make(np.ones(target, np.int64))
    mask = apply(Op.INDEX_ADD, ones, *idx, spec=spec, shape=tuple(old.shape))
    if idx:  # (slices never repeat)
        mask = check(mask, le(mask, 1), RuntimeError, REPEATED.format(op="index_put", where=""))
    scattered = apply(
        Op.INDEX_ADD, val.to(old.dtype).expand(target), *idx, spec=spec, shape=tuple(old.shape)
    )
    return apply(Op.WHERE, mask > 0, scattered, old)


def _assign(data: np.ndarray, spec: tuple, tensors: list[np.ndarray], value: np.ndarray) -> None:
    """``data[index] = value`` in PyTorch's order: ints/slices/None first (a view), then tensors."""
    basic, positions = split_index(spec)
    view = data[(*basic, Ellipsis)]
    if not positions:
        view[...] = value
        return
    full: list[Any] = [slice(None)] * view.ndim
    for p, i in zip(positions, tensors, strict=True):
        full[p] = i
    view[tuple(full)] = value
