"""Writes of traced values into tensors made inside a traced function (trace constants)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import trace_state
from .grad_mode import is_grad_enabled
from .tensor import Tensor

# Note [writes into trace constants]
# A tensor made inside a traced function from no traced value (``h = adjit.zeros(3, 4)``, and
# its eager views such as ``h.narrow(1, 1, 2)``) is a constant of the trace: ops on constants
# alone run eagerly (folded). A write of a traced value into one (``h[:, 1:3] = a * 3``,
# ``v.copy_(a)``) cannot happen in its memory (the value is not known while tracing), and a
# graph break there would lose the value's history (the loss "does not require grad"). So the
# root of its memory (its view base, or itself) becomes a tracer in place (as a graph break's
# _become makes tracers tensors), valued as its constant, and so does every other constant made
# while tracing that shares that memory (the trace keeps weak references to them: Tensor._make):
# each becomes a traced view of the root reading its elements at their positions in the root,
# found from their addresses as eager CopySlices finds them. The write is then a write through
# a traced view (Note [writes through views]): every alias reads it, and gradients reach the
# written value's history. An alias that is no autograd view of the root (``.detach()``,
# ``.data``) reads it detached, as in eager mode. Refused (a TracingError, never a silent
# difference): a constant with autograd history (a leaf made inside with requires_grad=True),
# and an alias with elements outside the root (``.data`` of a view, written through).


def constant_of_trace(t: Tensor) -> bool:
    """Whether ``t`` is a constant of the active trace: made inside it, not traced."""
    if t._is_tracer or t._weak or t._sparse:
        return False
    root = t._view_base if t._view_base is not None else t
    trace = trace_state.current()
    return trace is not None and root._born_in is trace and t._born_in is trace


def traced_write(t: Tensor, result: Tensor) -> bool:
    """Whether storing ``result`` into ``t`` writes a traced value into a trace constant."""
    return bool(result._is_tracer) and constant_of_trace(t)


def adopt_for_write(t: Tensor) -> Tensor:
    """Make the constant ``t``, the root of its memory and every alias of it tracers before a
    traced value is written into ``t`` (see the Note); returns ``t``, now a traced view of the
    root (or the root itself)."""
    from .inplace import _positions, _refresh_views

    trace = trace_state.current()
    root = t._view_base if t._view_base is not None else t
    data = root._data
    members = [t] if t is not root else []
    for ref in trace.made:
        m = ref()
        if m is None or m is root or m is t or m._is_tracer or m._weak or m._sparse:
            continue
        if np.may_share_memory(m._data, data):
            members.append(m)
    if any(m._requires_grad or m._grad_fn is not None for m in (root, *members)):
        raise trace_state.TracingError(
            "in-place write of a traced value into a tensor made inside the compiled function "
            "that has autograd history (requires_grad=True there, or computed from such a "
            "tensor) is not supported; build the tensor from the function's inputs, or write "
            "out of place"
        )
    try:
        where = [_positions(m._data, data) for m in members]  # (before they become tracers)
    except RuntimeError:
        raise trace_state.TracingError(
            "in-place write of a traced value into an alias (.data or .detach()) of part of a "
            "tensor made inside the compiled function is not supported; write into the tensor "
            "or its view itself"
        ) from None
    grad_on = is_grad_enabled()
    base = trace.adopt(root, None, None)
    for m, w in zip(members, where, strict=True):
        attrs = {"where": w, "detach": m._view_base is not root}
        trace.adopt(m, base, (None, attrs, None, grad_on))
    _refresh_views(base)
    return t


def gather(parent: Tensor, attrs: dict[str, Any]) -> Tensor:
    """An adopted alias again (see the Note): the elements of ``parent`` numbered
    ``attrs["where"]`` (C order) in its shape, detached for a ``.detach()``/``.data`` alias."""
    where = attrs["where"]
    flat: Any = parent.reshape(-1)
    index = Tensor._make(np.ascontiguousarray(where.reshape(-1), dtype=np.int64))
    out = flat[index].reshape(tuple(where.shape))
    return out.detach() if attrs["detach"] else out
