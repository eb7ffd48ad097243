"""``apply``: the one door every op goes through (evaluate, then record a grad_fn if needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.aval import Aval
from ..ir.dtypes import (
    DType,
    float32,
    float64,
    get_default_complex_dtype,
    get_default_dtype,
    int64,
    scalar_dtype,
)
from ..ir.interpreter import eval_eqn_arrays
from ..ir.ops import GroupOp, Op
from ..ir.reference import REFERENCE
from ..ir.shapes import infer, promoted
from ..ir.sizes import SymbolicSize, symbolic_attr
from . import forward_grad, trace_state
from .array_vjp import QUIET, np_state, quiet_enter, quiet_exit, quiet_state, set_np_state
from .autograd import CompositeNode, OpNode, gradient_edge, lean_node, lean_plan
from .eager_erf import erf as eager_erf
from .grad_mode import InferenceBox, is_grad_enabled, no_grad
from .grad_mode import _state as _grad_state
from .storage_offsets import is_empty_view, record_empty_offset
from .tensor import Tensor, eager_tensor
from .trace_state import _local as _trace_local

# ops whose NumPy result may be a view of their first input: they share its version counter
VIEW_OPS = frozenset({Op.RESHAPE, Op.PERMUTE, Op.EXPAND, Op.INDEX})

DEFAULT_NAMES: dict[Op, str] = {
    op: "".join(w.capitalize() for w in op.name.split("_")) + "Backward0" for op in Op
} | {
    Op.LOG1P: "Log1PBackward0",
    Op.AMAX: "AmaxBackward0",
    Op.AMIN: "AminBackward0",
    Op.CAST: "ToCopyBackward0",
    Op.RESHAPE: "ViewBackward0",
    Op.CLAMP: "ClampBackward1",
    Op.INDEX: "IndexBackward0",
    Op.INDEX_ADD: "IndexPutBackward0",
    Op.MATMUL: "MmBackward0",
    Op.SCATTER_ADD: "ScatterAddBackward0",
    Op.UNFOLD: "Im2ColBackward0",
    Op.FOLD: "Col2ImBackward0",
}


def as_tensor_operand(v: Any) -> Tensor:
    """A Python scalar becomes a 0-dim 'wrapped number' tensor (lowest promotion priority)."""
    if isinstance(v, Tensor):
        return v
    if isinstance(v, bool | int | float | np.number | np.bool_):
        dt = scalar_dtype(v)
        # a Python float keeps its double precision; it promotes as the default float (_aval_of)
        return Tensor._make(np.asarray(v, np.float64 if dt.is_floating_point else dt.np), weak=True)
    if isinstance(v, complex):  # kept as complex128; promotes as the default complex (_aval_of)
        return Tensor._make(np.asarray(v, np.complex128), weak=True)
    if isinstance(v, np.ndarray):
        return Tensor._make(v)
    if isinstance(v, SymbolicSize):  # a size while tracing (Note [symbolic shapes]): an int
        hint = v.hint  # type: ignore[attr-defined]
        kind = np.float64 if isinstance(hint, float) else np.int64
        t = Tensor._make(np.asarray(hint, kind), weak=True)  # whose value is the size
        t._symint = v  # type: ignore[attr-defined]
        return t
    raise TypeError(f"expected Tensor or number as operand, but got {type(v).__name__}")


def _aval_of(t: Tensor) -> Aval:
    """A wrapped Python float promotes as the default float dtype, whatever it is stored as."""
    if t._weak and t._data.dtype.kind in "fc":
        dt = get_default_dtype() if t._data.dtype.kind == "f" else get_default_complex_dtype()
        return Aval(t._data.shape, dt, weak=True)
    return t._aval()


def stale_view(t: Tensor) -> None:
    """A view whose base's history was rewritten in place since it was made gets its history
    again from the base's new one, as PyTorch's AsStridedBackward0 (Note [stale views] in
    runtime/inplace.py); a view made other than by one primitive view op refuses."""
    if t._nograd_view or not is_grad_enabled():
        return  # its values are current; a history, if it needs one, is made when it joins one
    recipe = t._view_recipe
    if recipe is None:
        from .autograd import STALE_VIEW_MSG

        raise RuntimeError(STALE_VIEW_MSG)
    parent, op, attrs = recipe
    base = parent._view_base
    if base is not None and base._rewrites != parent._rewrites_seen:
        stale_view(parent)
    alias = Tensor._make(
        parent._data,
        requires_grad=parent._requires_grad,
        grad_fn=parent._grad_fn,
        version_box=parent._version_box,
    )
    alias._output_nr = parent._output_nr
    again = apply(op, alias, name="AsStridedBackward0", **attrs)
    t._grad_fn, t._output_nr = again._grad_fn, again._output_nr
    t._rewrites_seen = t._view_base._rewrites  # type: ignore[union-attr]


# Note [lean eager path]
# The common eager op (an elementwise op on plain tensors of one real floating dtype and one
# shape, outside any trace) needs none of apply's generality: no operand normalization, no
# type promotion (NumPy gives the same dtype), no shape inference (NumPy gives the same shape),
# no view or stale-view handling. ``_lean`` runs the op's NumPy rule directly and records the
# same grad_fn; anything else (numbers, broadcasting, other dtypes, views made stale, tracers,
# attributes or a grad_fn name) returns None and takes the general path. A full sum (a loss)
# has its own lean path (``_lean_sum``). Every piece is inlined where measured to matter: the
# node is built from a plan made once per op (autograd.lean_node), NumPy's errors are ignored
# through its context variable (Note [quiet NumPy calls] in runtime/array_vjp.py). Measured on a
# 20-op chain of 100 float32 values (benchmarks/eager_overhead.py): 11.4 -> 5.4 µs per op
# forward (PyTorch 2.9), and forward + backward 34 -> 19.3 µs (PyTorch 13.2), 1 thread each.
# With lean scalars, broadcasting and methods (Notes below and [lean methods] in methods.py),
# CPU time, 5 interleaved runs, load ~2.5: without grad 2.85 -> 2.39 µs per op (PyTorch 1.84),
# recording 5.29 -> 4.89 (2.64), forward + backward 18.2 -> 17.9 (12.3); an eager MLP train
# step (Linear 64-128, ReLU, Linear 128-10, cross entropy + 1e-4 * mean(out**2), SGD, batch 32)
# 2.40 -> 2.25 ms (PyTorch 0.55: composite backwards and the general path dominate it).
LEAN_OPS: dict[Op, Callable[..., Any]] = {
    op: REFERENCE[op]
    for op in (
        *(Op.NEG, Op.ABS, Op.EXP, Op.LOG, Op.LOG1P, Op.SQRT, Op.SIN, Op.COS, Op.TANH),
        *(Op.SIGMOID, Op.RELU, Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.MAXIMUM, Op.MINIMUM),
    )
}
_REAL_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# op -> its grad_fn class (as _node_class gives) and what its node saves (autograd.lean_plan)
_LEAN_NODES: dict[Op, tuple[type[OpNode], Any]] = {}
_LEAN_DTYPES = {np.dtype(np.float32): float32, np.dtype(np.float64): float64}
_new_tensor = object.__new__


def _edge(t: Tensor) -> tuple[Any, int]:
    """``gradient_edge`` of a plain operand (its view, if any, is current)."""
    fn = t._grad_fn
    if fn is not None:
        return fn, t._output_nr
    return gradient_edge(t) if t._requires_grad else (None, 0)


def _lean(op: Op, args: tuple[Any, ...]) -> Tensor | None:
    """``apply`` for the common case (Note [lean eager path]), or None for the general one."""
    if _trace_local.trace is not None:
        return None
    n = len(args)
    if n == 1:  # (_plain_operand inlined)
        x = y = args[0]
        if not isinstance(x, Tensor) or x._weak or x._is_tracer:
            return None
        if x._view_base is not None and x._view_base._rewrites != x._rewrites_seen:
            return None
        a = b = x._data
        dt = a.dtype
        dtype = _LEAN_DTYPES.get(dt)
        if dtype is None:
            return None
    elif n == 2:
        x, y = args
        if not (isinstance(x, Tensor) and isinstance(y, Tensor)):
            return _lean_scalar(op, x, y)
        if x._weak or y._weak or x._is_tracer or y._is_tracer:
            return None
        if (x._view_base is not None and x._view_base._rewrites != x._rewrites_seen) or (
            y._view_base is not None and y._view_base._rewrites != y._rewrites_seen
        ):
            return None
        a, b = x._data, y._data
        dt = a.dtype
        dtype = _LEAN_DTYPES.get(dt)
        if dtype is None or b.dtype != dt:
            return None
        if b.shape != a.shape:  # (Note [lean broadcasting])
            broadcast = _BROADCASTS.get((a.shape, b.shape))
            if broadcast is None:
                broadcast = _broadcasts(a.shape, b.shape)
            if not broadcast:
                return None
    else:
        return None
    fn = _LEAN_CALLS[op]
    q = QUIET.get(np_state())  # quiet_enter(), inlined (Note [quiet NumPy calls])
    tok = set_np_state(q if q is not None else quiet_state())
    try:
        data = fn(a) if n == 1 else fn(a, b)
    finally:
        quiet_exit(tok)
    if type(data) is not np.ndarray:  # (a ufunc on 0-dim arrays gives a NumPy scalar)
        data = np.asarray(data)
    out = _new_tensor(Tensor)  # eager_tensor(data), inlined
    out._data = data
    out._version_box = InferenceBox([0]) if _grad_state.inference else [0]
    if _grad_state.enabled and (
        x._requires_grad
        or x._grad_fn is not None
        or (n == 2 and (y._requires_grad or y._grad_fn is not None))
    ):
        spec = _LEAN_NODES.get(op)
        if spec is None:
            cls = _node_class(DEFAULT_NAMES[op])
            spec = _LEAN_NODES[op] = (cls, lean_plan(op, n))
        # _edge(x) (and _edge(y)), inlined for the common non-leaf operand
        fn_x = x._grad_fn
        ex = (fn_x, x._output_nr) if fn_x is not None else _edge(x)
        if n == 1:
            edges: tuple[tuple[Any, int], ...] = (ex,)
        else:
            fn_y = y._grad_fn
            edges = (ex, (fn_y, y._output_nr) if fn_y is not None else _edge(y))
        node = out._grad_fn = lean_node(spec[0], spec[1], op, args, out, edges, dtype)
        if a.shape != data.shape or b.shape != data.shape:  # (Note [lean broadcasting])
            node._meta = [(a.shape, dtype), (b.shape, dtype)]
    if forward_grad.ACTIVE:  # a dual level is open (Note [eager forward AD])
        forward_grad.propagate(op, {}, args, out)
    return out


# Note [lean broadcasting]
# Two tensors of one real floating dtype and different shapes that broadcast (a bias,
# ``x - x.amax(1, keepdim=True)``) take the lean path too: NumPy's ufunc broadcasts as the
# general path's (which runs the same ufunc after shape inference). The node's meta has each
# input's own shape, so backward sums each gradient to it (``conform``), as the general node
# does. Shapes that do not broadcast take the general path, which raises PyTorch's error.
_BROADCASTS: dict[tuple[tuple[int, ...], tuple[int, ...]], bool] = {}


def _broadcasts(sa: tuple[int, ...], sb: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(sa, sb)
        ok = True
    except ValueError:
        ok = False
    if len(_BROADCASTS) > 4096:
        _BROADCASTS.clear()
    _BROADCASTS[(sa, sb)] = ok
    return ok


# Note [lean scalar operands]
# ``x * 0.5``, ``x + 1`` (a real floating tensor and a Python float, or an int small enough to
# be exact in float32) take a lean path too. The general path wraps the number as a weak 0-d
# float64 (int64) tensor, promotes to x's dtype, converts the number to it and runs the same
# ufunc: here the number becomes a NumPy scalar of x's dtype directly (the same rounding). The
# node is the general one: the number's edge is (None, 0), its meta ((), float64 or int64),
# and a rule that reads it sees the Python number (``_Number``). 15.8 -> 2.9 µs per op
# without grad (PyTorch 3.9), 29.8 -> 4.7 µs with one (PyTorch 4.9), 100 float32 values.
_SCALAR_OPS = frozenset({Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.MAXIMUM, Op.MINIMUM})
_EXACT_INT = 1 << 24  # ints within this are exact in float32 and float64
# real floating dtypes only (the lean paths'): the reference rule's own ufunc, without its
# complex-dtype test
_LEAN_FNS: dict[Op, Callable[..., Any]] = {
    Op.ADD: np.add,
    Op.SUB: np.subtract,
    Op.MUL: np.multiply,
}
_LEAN_CALLS = LEAN_OPS | _LEAN_FNS  # (apply tests ``op in LEAN_OPS`` first)
_SCALAR_META = {float: ((), float64), int: ((), int64)}
_LEAN_SCALAR_NODES: dict[Op, tuple[type[OpNode], Any]] = {}


def _lean_scalar(op: Op, x: Any, y: Any) -> Tensor | None:
    """``_lean`` for a tensor and a Python number (Note [lean scalar operands]), or None."""
    if isinstance(x, Tensor):
        t, v, k = x, y, 1  # (k: the number's position)
    elif isinstance(y, Tensor):
        t, v, k = y, x, 0
    else:
        return None
    kind = type(v)
    if not (kind is float or (kind is int and -_EXACT_INT <= v <= _EXACT_INT)):
        return None
    if op not in _SCALAR_OPS or t._weak or t._is_tracer or forward_grad.ACTIVE:
        return None
    if t._view_base is not None and t._view_base._rewrites != t._rewrites_seen:
        return None
    a = t._data
    dt = a.dtype
    dtype = _LEAN_DTYPES.get(dt)
    if dtype is None:
        return None
    fn = _LEAN_CALLS[op]
    tok = quiet_enter()  # (Note [quiet NumPy calls]: 1e300 to float32 warns of overflow)
    try:
        s = dt.type(v)  # (as the general path's astype of the wrapped number)
        data = fn(a, s) if k else fn(s, a)
    finally:
        quiet_exit(tok)
    if type(data) is not np.ndarray:  # (a ufunc on 0-dim arrays gives a NumPy scalar)
        data = np.asarray(data)
    out = _new_tensor(Tensor)  # eager_tensor(data), inlined
    out._data = data
    out._version_box = InferenceBox([0]) if _grad_state.inference else [0]
    if _grad_state.enabled and (t._requires_grad or t._grad_fn is not None):
        spec = _LEAN_SCALAR_NODES.get(op)
        if spec is None:
            cls = _node_class(DEFAULT_NAMES[op])
            spec = _LEAN_SCALAR_NODES[op] = (cls, lean_plan(op, 2))
        fn_t = t._grad_fn
        et = (fn_t, t._output_nr) if fn_t is not None else _edge(t)
        edges = (et, (None, 0)) if k else ((None, 0), et)
        out._grad_fn = lean_node(
            spec[0], spec[1], op, (x, y), out, edges, dtype, k, _SCALAR_META[kind]
        )
    return out


# A full sum (``x.sum()``: a loss) takes a lean path too: its value by the same reference rule
# as the general path's, the same node, without operand conversion or shape inference.
LEAN_REDUCTIONS: dict[Op, Callable[..., Any]] = {Op.SUM: REFERENCE[Op.SUM]}
_FULL_SUM = {"axes": None, "keepdim": False}


def _lean_sum(op: Op, args: tuple[Any, ...], attrs: dict[str, Any]) -> Tensor | None:
    """``apply(Op.SUM, x, axes=None, keepdim=False, name="SumBackward0")`` for a plain real
    floating tensor ``x`` outside a trace (Note [lean eager path]), or None."""
    if _trace_local.trace is not None or len(args) != 1 or attrs != _FULL_SUM:
        return None
    x = args[0]
    if not isinstance(x, Tensor) or x._weak or x._is_tracer:
        return None
    if x._view_base is not None and x._view_base._rewrites != x._rewrites_seen:
        return None
    a = x._data
    dt = a.dtype
    if dt not in _LEAN_DTYPES:
        return None
    tok = quiet_enter()
    try:
        data = LEAN_REDUCTIONS[op](a, axes=None, keepdim=False)
    finally:
        quiet_exit(tok)
    if type(data) is not np.ndarray or data.dtype != dt:
        data = np.asarray(data, dt)
    out = eager_tensor(data)
    if _grad_state.enabled and (x._requires_grad or x._grad_fn is not None):
        edges = (_edge(x),)
        out._grad_fn = _node_class("SumBackward0")(op, dict(_FULL_SUM), args, out, edges)
    if forward_grad.ACTIVE:  # a dual level is open (Note [eager forward AD])
        forward_grad.propagate(op, dict(_FULL_SUM), args, out)
    return out


def apply(op: Op, *args: Any, name: str | None = None, **attrs: Any) -> Tensor:
    """Evaluate ``op`` with NumPy and, under grad mode, record its grad_fn."""
    if op in LEAN_OPS:  # (Note [lean eager path])
        if not attrs and name is None:
            out = _lean(op, args)
            if out is not None:
                return out
    elif op in LEAN_REDUCTIONS and name == "SumBackward0":
        out = _lean_sum(op, args, attrs)
        if out is not None:
            return out
    inputs = [a if isinstance(a, Tensor) else as_tensor_operand(a) for a in args]
    trace = trace_state.current()
    # tracing: record instead of computing (a draw always: Note [random numbers in compiled code])
    if trace is not None and (
        trace.involves(inputs) or op is Op.RANDOM or any(map(symbolic_attr, attrs.values()))
    ):  # (a symbolic size, e.g. expanding a constant: Note [symbolic shapes])
        return trace.emit(op, inputs, attrs, name)
    weak = requires = False
    alone = True  # every operand a Python number, e.g. a derivative rule on a saved scalar
    for t in inputs:
        if t._view_base is not None and t._view_base._rewrites != t._rewrites_seen:
            stale_view(t)  # (Note [stale views] in runtime/inplace.py)
        if t._weak:
            weak = True
        else:
            alone = False
        if t._requires_grad or t._grad_fn is not None:
            requires = True
    avals = [t._aval() if alone or not weak else _aval_of(t) for t in inputs]
    out_aval = _infer(op, avals, attrs)
    first = inputs[0] if inputs else None  # (a draw may have no operand)
    data = None
    if op is Op.ERF:  # (Note [eager erf])
        data = eager_erf(inputs[0]._data)
    if data is None:
        data = eval_eqn_arrays(op, attrs, [t._data for t in inputs], avals, out_aval)
    view = op in VIEW_OPS and data.base is not None and np.may_share_memory(data, first._data)
    empty_view = op in VIEW_OPS and is_empty_view(op, attrs, data)  # (Note [empty views keep
    view = view or empty_view  # their offset] in runtime/storage_offsets.py)
    out = Tensor._make(data, version_box=first._version_box if view else None)
    if empty_view:
        record_empty_offset(out, first, op, attrs)
    if alone and op in GroupOp.ELEMENTWISE:  # numbers in, a number out
        out._weak = True
    grad_mode = is_grad_enabled()
    if view:
        base = first._view_base
        out._view_base = first if base is None else base
        out._rewrites_seen = out._view_base._rewrites
        out._view_recipe = (first, op, attrs)  # to make its history again (stale_view)
        if first.requires_grad and not grad_mode:
            # PyTorch: a view made under no_grad of a tensor that requires grad still says
            # requires_grad=True (a leaf that no gradient reaches), and refuses in-place
            # ops under grad mode (Note in inplace._check_leaf)
            out._requires_grad = out._nograd_view = True
    if requires and grad_mode and op not in GroupOp.NONDIFF and out_aval.dtype.category >= 2:
        edges = tuple(
            gradient_edge(t) if t._requires_grad or t._grad_fn is not None else (None, 0)
            for t in inputs
        )
        # a complex result, or |z|: Note [complex gradients] in runtime/complex_autograd.py
        if op is Op.CUSTOM_VJP and not getattr(attrs["rule"], "complex", False):
            _real_rule_only(name, out_aval, avals)
        if out_aval.dtype.category == 3 or (op is Op.ABS and avals[0].dtype.category == 3):
            from .complex_autograd import node_class as complex_node_class

            cls = complex_node_class(name or DEFAULT_NAMES[op])
        else:
            cls = _node_class(name or DEFAULT_NAMES[op])
        out._grad_fn = cls(op, attrs, inputs, out, edges)
    if forward_grad.ACTIVE:  # a dual level is open (Note [eager forward AD])
        forward_grad.propagate(op, attrs, inputs, out)
    return out


def _real_rule_only(name: str | None, out: Aval, avals: list[Aval]) -> None:
    """A derivative formula written for real values (no conjugates) refuses complex ones."""
    if out.dtype.category == 3 or any(a.dtype.category == 3 for a in avals):
        raise NotImplementedError(
            f"{name or 'this function'}: adjit does not support autograd through complex "
            "tensors for this function yet (an input requires grad); detach it or run under "
            "torch.no_grad()"
        )


_INFERRED: dict[tuple, Aval] = {}  # (op, avals, attrs with their types) -> output aval


def _infer(op: Op, avals: list[Aval], attrs: dict[str, Any]) -> Aval:
    """``infer``, memoized: eager code repeats the same few signatures (errors are not kept)."""
    try:
        # (int / int and friends give the default dtype: it is part of the signature)
        key = (op, get_default_dtype(), *avals, *((k, type(v), v) for k, v in attrs.items()))
        out = _INFERRED.get(key)
    except TypeError:  # an unhashable attribute (a list of indices, ...)
        return infer(op, avals, attrs)
    if out is None:
        out = infer(op, avals, attrs)
        if len(_INFERRED) > 4096:
            _INFERRED.clear()
        _INFERRED[key] = out
    return out


_OP_NODES: dict[str, type[OpNode]] = {}


def _node_class(name: str) -> type[OpNode]:
    cls = _OP_NODES.get(name)
    if cls is None:
        from .autograd import node_class

        cls = _OP_NODES[name] = node_class(name, OpNode)
    return cls


def composite(name: str, fn: Callable[..., Tensor], *args: Any, **kwargs: Any) -> Tensor:
    """Run a decomposition; under grad mode its result gets one grad_fn named like PyTorch's."""
    trace = trace_state.current()
    if trace is not None and trace.involves([a for a in args if isinstance(a, Tensor)]):
        return _own_result(fn(*args, **kwargs), args)  # tracing records the primitives
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not positions or not is_grad_enabled():
        return _not_an_argument(fn(*args, **kwargs), args)
    if forward_grad.ACTIVE and any(
        isinstance(a, Tensor) and forward_grad.tangent(a) is not None for a in args
    ):  # the decomposition's ops carry the tangents (its aliases would drop them)
        return _not_an_argument(fn(*args, **kwargs), args)
    aliases = [args[i].detach().requires_grad_() for i in positions]
    inner_args = list(args)
    for i, a in zip(positions, aliases, strict=True):
        inner_args[i] = a
    inner = fn(*inner_args, **kwargs)
    identity = any(inner is a for a in aliases)  # e.g. flip over no dims
    if inner.grad_fn is None and not identity:  # nothing differentiable (e.g. integer results)
        return inner
    with no_grad():
        # shares memory with the inner result: share its version counter too, so an in-place
        # op on the output is seen by the inner graph's saved-tensor checks
        data = inner._data.copy() if identity else inner._data  # (the argument's memory)
        out = Tensor._make(data, version_box=inner._version_box)
    base = inner._view_base  # a view (split, unbind, diagonal) stays a view of the argument, so
    # in-place ops on it get the view checks instead of a stale history; a view of one of the
    # decomposition's own intermediates (max_pool2d's final reshape) is a new tensor, as in PyTorch
    arg = next((args[i] for i, a in zip(positions, aliases, strict=True) if a is base), None)
    if base is not None and arg is None:
        views = (a for a in args if isinstance(a, Tensor) and (base is a or base is a._view_base))
        arg = base if next(views, None) is not None else None
    if arg is not None:
        out._view_base = arg if arg._view_base is None else arg._view_base
        out._rewrites_seen = out._view_base._rewrites
    edges = tuple(gradient_edge(args[i]) for i in positions)
    from .autograd import node_class

    cls = node_class(name, CompositeNode)
    out._grad_fn = cls(fn, args, kwargs, inner, aliases, positions, edges)
    return out


def _not_an_argument(out: Any, args: tuple) -> Any:
    """A decomposition that returned its argument unchanged (cumsum over one element, flip
    over no dims): a copy, as PyTorch's op makes a new tensor."""
    return out.clone() if any(out is a for a in args) else out


def not_a_view(result: Tensor, *inputs: Tensor) -> Tensor:
    """An op PyTorch does not count as a view (repeat, pixel_shuffle, ...) whose decomposition
    ended in a view of its input (``x.repeat(1, 1)``, ``pixel_shuffle(x, 1)``): its eager
    result gets its own memory, so an in-place op on it leaves the input alone."""
    if result._is_tracer:
        return result
    if any(result is t for t in inputs):  # (a decomposition that changed nothing: F.pad by 0)
        return result.clone()
    data = result._data
    if not data.flags.writeable or any(
        np.may_share_memory(data, t._data) for t in inputs if not t._is_tracer
    ):
        result._data = data.copy()
        result._view_base = None
    return result


def _own_result(out: Any, args: tuple) -> Any:
    """A traced composite's result that views one of the decomposition's own intermediates
    (not an argument) is a new tensor, as eagerly: in-place ops on it are then allowed."""
    t = out
    while isinstance(t, Tensor) and getattr(t, "_view_of", None) is not None:
        t = t._view_of
        if any(t is a for a in args):
            return out
    if isinstance(out, Tensor) and getattr(out, "_view_of", None) is not None:
        out._view_of = out._view_step = None  # type: ignore[attr-defined]
    return out


def with_rule(
    rule: Any, value: Callable[..., Tensor], *operands: Any, name: str | None = None
) -> Tensor:
    """``value(*operands)`` computed without history, carrying ``rule`` as its derivative.

    For PyTorch's own formula where differentiating a decomposition op by op would differ at
    an edge (0 * inf = NaN from an untaken branch, inf - inf under an infinite gradient): the
    result is a CUSTOM_VJP equation (Note [custom functions traced] in ir/custom.py), so eager
    autograd, the adjoint pass and second derivatives all use the rule. ``rule.vjp(g, out,
    inputs, needs)`` sees the value as ``inputs[0]`` and the operands after it.
    """
    tensors = [t for t in operands if isinstance(t, Tensor)]
    dual = forward_grad.ACTIVE and any(forward_grad.tangent(t) is not None for t in tensors)
    # (tracers may be differentiated later: adjit.grad traces before it knows what it needs)
    if not dual and (
        not is_grad_enabled() or not any(t.requires_grad or t._is_tracer for t in tensors)
    ):
        return value(*operands)
    with no_grad(), forward_grad.paused():  # (dual operands: the rule gives the tangent)
        out = value(*operands)
    return apply(Op.CUSTOM_VJP, out, *operands, rule=rule, name=name)


def result_dtype(*operands: Any) -> DType:
    """The dtype PyTorch's type promotion gives ``operands`` (tensors and Python scalars)."""
    return promoted(*(_aval_of(as_tensor_operand(v)) for v in operands))


def avals_of(*ts: Tensor) -> list[Aval]:
    return [t._aval() for t in ts]
