"""The eager autograd engine: grad_fn nodes, saved tensors, and the backward walk."""

from __future__ import annotations

import contextlib
import heapq
import inspect
import itertools
import re
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir import dtypes as D
from ..ir.derivatives import DERIVATIVES, conform, input_names, rule_context, rule_params
from ..ir.ops import Op
from . import forward_grad, graph_task, saved_hooks, settings, trace_state
from .array_vjp import ARRAY_VJPS, MIRRORS, REAL_FLOATS, quiet_enter, quiet_exit
from .grad_mode import INFERENCE_SAVED_MSG, is_grad_enabled, outside_inference, set_grad_enabled
from .graph_task import GradientEdge
from .saved_hooks import _state as _hooks_state
from .trace_state import _local as _trace_local

if TYPE_CHECKING:
    from .tensor import Tensor

_sequence = itertools.count()
# Note [leaves first]: an AccumulateGrad node runs as soon as it is ready, before any other
# ready node, as PyTorch's (its sequence number is UINT64_MAX there). A leaf's gradient is then
# in ``.grad`` (and its post-accumulate hooks, DDP's buckets among them, have run) while the
# rest of the backward goes on, rather than all at the end of the backward. Among leaves the
# later-made runs first (deterministic, where PyTorch leaves ties to its heap).
_LEAF_BASE = 1 << 62

FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward."
)


class Node:
    """A grad_fn: how to send the cotangent of one output back to the inputs' nodes."""

    _edges: tuple[tuple[Node | None, int], ...] = ()  # one per input, aligned with apply()

    @property
    def next_functions(self) -> tuple[tuple[Node | None, int], ...]:
        return self._edges

    num_outputs = 1
    streams = False  # has ``apply_streaming`` (Note [gradients as they are made])
    # Hooks and retained-grad tensors are rare: the containers are made on first use, so a
    # node costs one counter tick to create (every eager op makes one).
    _hooks: list[Callable[..., Any]] | tuple[()] = ()  # (grad_inputs, grad_outputs) hooks
    _tensor_hooks: dict[int, list[Callable[[Any], Any]]] | None = None  # per output: grad hooks
    _retained: dict[int, weakref.ref[Tensor]] | None = None  # per output: retain_grad()
    _metadata: dict[str, Any] | None = None
    _forward_stack: list[str] | None = None  # anomaly mode: where the forward op was called

    def __init__(self) -> None:
        self._seq = next(_sequence)
        if settings._ANOMALY["on"]:
            self._forward_stack = settings.user_stack()

    @property
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def output_hooks(self, nr: int) -> list[Callable[[Any], Any]]:
        """The tensor hooks registered on output ``nr`` of this node (to add to)."""
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        return self._tensor_hooks.setdefault(nr, [])

    def retain(self, nr: int, t: Tensor) -> None:
        if self._retained is None:
            self._retained = {}
        self._retained[nr] = weakref.ref(t)

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def register_hook(self, fn: Callable[..., Any]) -> _Handle:
        """``fn(grad_inputs, grad_outputs)`` runs after this node computed its gradients."""
        if not self._hooks:
            self._hooks = []
        self._hooks.append(fn)  # type: ignore[union-attr]
        return _Handle(self._hooks, fn)  # type: ignore[arg-type]

    def register_prehook(self, fn: Callable[..., Any]) -> _Handle:
        """``fn(grad_outputs)`` runs before this node, and may return replacement grads."""
        wrapped = lambda g: _first(fn((g,)))  # noqa: E731
        hooks = self.output_hooks(0)
        hooks.append(wrapped)
        return _Handle(hooks, wrapped)

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        raise NotImplementedError(type(self).__name__)  # every concrete node overrides it

    def release(self) -> None:
        """Free saved values (after a backward without retain_graph)."""


def _first(r: Any) -> Any:
    return r[0] if isinstance(r, tuple | list) else r


class _Handle:
    """What register_hook returns: ``.remove()`` unregisters the hook."""

    def __init__(self, hooks: list[Any], fn: Any) -> None:
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


class AccumulateGrad(Node):
    """The node of a leaf that requires grad: adds the incoming cotangent into ``.grad``."""

    def __init__(self, variable: Tensor) -> None:
        self._seq = _LEAF_BASE + next(_sequence)  # Note [leaves first]
        self.variable = variable


_NODE_CLASSES: dict[str, type] = {}


def node_class(name: str, base: type) -> type:
    """One Python class per PyTorch node name, so ``type(t.grad_fn).__name__`` matches."""
    key = f"{base.__name__}.{name}"
    cls = _NODE_CLASSES.get(key)
    if cls is None:
        cls = _NODE_CLASSES[key] = type(name, (base,), {"__module__": "adjit.autograd"})
    return cls


def modified_error(t: Tensor, expected: int) -> RuntimeError:
    """PyTorch's error for a saved input ``t`` changed in place since it was saved."""
    owner = t.grad_fn.name() if t.grad_fn is not None else None
    return _modified(t._data, owner, t._version_box[0], expected)


def _modified(data: Any, owner: str | None, now: int, expected: int) -> RuntimeError:
    """PyTorch's text: the tensor's legacy type and shape, the op whose output it is (the node's
    name without ``Backward0``), and the hint for the anomaly mode it is in."""
    from .tensor import _LEGACY_NAMES, D

    kind = _LEGACY_NAMES[D.from_numpy_dtype(data.dtype).name]
    op = re.sub(r"Backward\d*$", "", owner) if owner else None
    where = f", which is output 0 of {op}," if op else ""
    hint = (
        "Hint: the backtrace further above shows the operation that failed to compute its "
        "gradient. The variable in question was changed in there or anywhere later. Good luck!"
        if settings._ANOMALY["on"]
        else "Hint: enable anomaly detection to find the operation that failed to compute its "
        "gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False)."
    )
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [{kind} {list(data.shape)}]{where} is at version {now}; expected "
        f"version {expected} instead. {hint}"
    )


class SavedTensor:
    """A tensor saved for backward, with the version it had; ``out`` is kept without a cycle."""

    __slots__ = ("_tensor", "_data", "_version_box", "_version", "_is_output", "_hooked", "_fw")

    def __init__(self, t: Tensor, is_output: bool) -> None:
        if outside_inference(t._version_box):  # (Note [inference tensors] in grad_mode.py)
            raise RuntimeError(INFERENCE_SAVED_MSG)
        self._is_output = is_output
        self._fw: Any = None  # an output's tangent (Note [eager forward AD]), set after saving
        self._version_box = t._version_box
        self._version = t._version_box[0]
        hooks = saved_hooks.current()
        if hooks is not None:  # (Note [saved tensor hooks] in runtime/saved_hooks.py)
            self._tensor, self._data = None, None
            with set_grad_enabled(False):  # as PyTorch runs pack hooks
                packed = hooks[0](t)
            self._hooked = (packed, hooks[1], t._data.shape)
            return
        self._hooked = None
        if is_output:
            self._tensor, self._data = None, t._data
        else:
            self._tensor, self._data = t, None

    def array(self) -> np.ndarray | None:
        """The saved value for an array backward (Note [array-level VJPs]); None while a
        saved-tensor hook holds it or after it changed in place (the general path's ``unpack``
        then unpacks or raises)."""
        if self._hooked is not None or self._version_box[0] != self._version:
            return None
        return self._data if self._is_output else self._tensor._data  # type: ignore[union-attr]

    def unpack(self, node: Node) -> Tensor:
        if self._hooked is not None:  # (no version check: what unpack returns is the value)
            packed, unpack, _ = self._hooked
            t = unpack(packed)
            if not self._is_output:
                return t

            return _saved_output(t._data, node, self._version_box)
        if self._version_box[0] != self._version:
            t = self._tensor
            if t is not None:
                raise modified_error(t, self._version)
            raise _modified(self._data, node.name(), self._version_box[0], self._version)
        if self._is_output:
            t = _saved_output(self._data, node, self._version_box)
            if self._fw is not None:  # (forward over reverse: Note [eager forward AD])
                t._fw = self._fw
            return t
        assert self._tensor is not None
        return self._tensor


def _saved_output(data: np.ndarray, node: Node, version_box: list[int]) -> Tensor:
    """A saved output, unpacked: the node's own output again (it has ``node`` as grad_fn). An
    eager value even while a trace is active (a vjp_fn called under vmap runs this engine with
    traced cotangents): never a constant of that trace, so its history stays differentiable."""
    from .tensor import Tensor

    t = Tensor._make(data, grad_fn=node, version_box=version_box)
    t._born_in = None
    return t


class _Number:
    """A Python-number operand, saved as the number (rules see numbers as numbers)."""

    __slots__ = ("value",)

    def __init__(self, value: bool | int | float) -> None:
        self.value = value

    def unpack(self, node: Node) -> bool | int | float:
        return self.value


SCALAR_ATTR_OPS = frozenset({Op.POW})
# ops whose rule takes ``inputs`` but reads only the indices after the first: the indexed
# tensor is not saved (as PyTorch's SelectBackward/IndexBackward keep sizes only), so writing
# it in place later leaves their backward valid (a view of it is made again: Note [stale views])
INDEXED_NOT_READ = frozenset({Op.INDEX, Op.INDEX_ADD})


class _Unread:
    """An input the rule does not read, in place of its saved value."""

    __slots__ = ()

    def unpack(self, node: Node) -> None:
        return None


_UNREAD = _Unread()
# inputs a rule reads only for other inputs' gradients: saved only when one of those needs
# one, as PyTorch saves for its formulas (x * 2 keeps nothing, so writing x in place after is
# fine): op -> input name -> the input positions whose gradient reads it
READ_ONLY_FOR: dict[Op, dict[str, tuple[int, ...]]] = {
    Op.MUL: {"x": (1,), "y": (0,)},
    Op.DIV: {"x": (1,)},
    Op.FMA: {"x": (1,), "y": (0,)},
}
_PARAMS: dict[Op, tuple[str, ...]] = {}  # op -> the names its derivative rule takes


class OpNode(Node):
    """The grad_fn of one primitive op: runs the op's rule from the derivative table."""

    def __init__(
        self,
        op: Op,
        attrs: dict[str, Any],
        inputs: Sequence[Tensor],
        out: Tensor,
        edges: tuple[tuple[Node | None, int], ...],
    ) -> None:
        super().__init__()
        self.op, self.attrs, self._edges = op, attrs, edges
        # PyTorch's pow(Tensor, Scalar) takes the scalar as an attribute: no edge for it
        self._shown = (
            edges
            if op not in SCALAR_ATTR_OPS
            else tuple(e for e, t in zip(edges, inputs, strict=True) if not t._weak)
        )
        self._meta = [(t._data.shape, t.dtype) for t in inputs]
        names = input_names(op, len(inputs))
        saved: dict[str, Any] = {}
        params = _PARAMS.get(op)
        if params is None:
            params = _PARAMS[op] = rule_params(op)
        for p in params:
            if p == "out":
                saved[p] = SavedTensor(out, True)
            elif p == "inputs":  # (an index op's rule reads the indices, not the indexed)
                skip = 1 if op in INDEXED_NOT_READ else 0
                saved[p] = (*[_UNREAD] * skip, *(SavedTensor(t, False) for t in inputs[skip:]))
            elif p in names:
                t = inputs[names.index(p)]
                only = READ_ONLY_FOR.get(op, {}).get(p)
                if only is not None and all(edges[k][0] is None for k in only):
                    saved[p] = _UNREAD  # its only reader's gradient is not needed
                else:
                    saved[p] = _Number(t._data.item()) if t._weak else SavedTensor(t, False)
        self._saved: dict[str, Any] | None = saved

    @property
    def next_functions(self) -> tuple[tuple[Node | None, int], ...]:
        return self._shown

    def _unpack(self, name: str, i: int | None = None) -> Tensor:
        s = self._saved[name]  # type: ignore[index]
        return s[i].unpack(self) if i is not None else s.unpack(self)

    def _context(self) -> dict[str, Any]:
        if self._saved is None:
            raise RuntimeError(FREED_MSG)
        names = input_names(self.op, len(self._meta))
        return rule_context(
            self.op,
            self.attrs,
            [m[0] for m in self._meta],
            lambda i: (
                self._unpack("inputs", i) if "inputs" in self._saved else self._unpack(names[i])
            ),
            lambda: self._unpack("out"),
            tuple(e[0] is not None for e in self._edges),
        )

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        rule = DERIVATIVES[self.op]
        # (Note [array-level VJPs]: a replaced table rule is the one that runs)
        if (
            not create_graph
            and not grad._is_tracer
            and self.op in ARRAY_VJPS
            and (MIRRORS.get(self.op) is rule)
        ):
            g = grad._data
            tok = quiet_enter()  # (Note [quiet NumPy calls] in runtime/array_vjp.py)
            try:
                fast = self._array_apply(g)
            finally:
                quiet_exit(tok)
            if fast is not None:
                return [
                    a
                    if a is None or type(a) is not np.ndarray  # (None, or a conformed Tensor)
                    else grad
                    if a is g
                    else eager_tensor(a)
                    for a in fast
                ]
        grads = rule(grad, **self._context())
        return [
            None if g is None or edge[0] is None else conform(g, *meta)
            for g, edge, meta in zip(grads, self._edges, self._meta, strict=True)
        ]

    def _array_apply(self, g: np.ndarray) -> list[Any] | None:
        """The rule on the cotangent array ``g`` (runtime/array_vjp.py), with NumPy's errors
        ignored by the caller: per input, None, an array of its shape and dtype, or a Tensor
        (conformed); None when the general path is needed."""
        saved = self._saved
        if (
            saved is None  # (the general path raises FREED_MSG)
            or forward_grad.ACTIVE
            or _trace_local.trace is not None
        ):
            return None
        dt = g.dtype
        if dt not in REAL_FLOATS:
            return None
        args: list[Any] = []  # the rule's parameters, in order (_array_plan checks the names)
        op = self.op
        plan = _ARRAY_PLANS.get(op)
        if plan is None:
            plan = _ARRAY_PLANS[op] = _array_plan(op, len(self._meta))
        for p, kind, i in plan:
            if kind == "saved":
                s = saved[p]
                if type(s) is SavedTensor:
                    a = s.array()
                    if a is None or (a.dtype is not dt and a.dtype != dt):
                        return None
                    args.append(a)
                elif type(s) is _Number and type(s.value) is not complex:
                    args.append(np.asarray(s.value, dt))  # (as the dtype rules convert a number)
                else:
                    args.append(None)  # an input its rule does not read here (_UNREAD)
            elif kind == "needs":
                e = self._edges
                args.append(
                    (e[0][0] is not None, e[1][0] is not None)
                    if len(e) == 2
                    else tuple([x[0] is not None for x in e])
                )
            elif kind == "shape":
                args.append(self._meta[i][0])
            else:
                args.append(self.attrs[p])
        arrays = ARRAY_VJPS[op](g, *args)
        out: list[Any] = []
        for a, edge, (shape, dtype) in zip(arrays, self._edges, self._meta, strict=True):
            if a is None or edge[0] is None:
                out.append(None)
            elif a.shape == shape and (a.dtype is _NP_DTYPES.get(dtype) or a.dtype == dtype.np):
                # (a ufunc on 0-d arrays gives a NumPy scalar)
                out.append(a if type(a) is np.ndarray else np.asarray(a))
            else:
                out.append(conform(eager_tensor(a), shape, dtype))
        return out

    def release(self) -> None:
        if self._saved:  # nodes that saved nothing can be run again, as in PyTorch
            self._saved = None


_OP_APPLY = OpNode.apply  # (a subclass with its own apply, e.g. a complex node, is not plain)


class ArrayNode(Node):
    """A node with an array backward of its own (``_array_apply``: arrays per edge, or None
    for its general path) and a general one (``_general``: Tensors, differentiable under
    create_graph), which the engine runs with array cotangents as it does a plain op node's
    (runtime/eager_linear.py's, adjit/nn/_eager_*.py's). ``_saved`` is None once released."""

    _saved: Any = None

    def _array_apply(self, g: np.ndarray) -> list[Any] | None:
        raise NotImplementedError(type(self).__name__)

    def _general(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        raise NotImplementedError(type(self).__name__)

    @staticmethod
    def _arrays(saved: Sequence[SavedTensor | None], dtype: np.dtype) -> list[Any] | None:
        """The values of ``saved`` (None where None) for ``_array_apply``: None when one is
        held by a hook, changed since, or of another dtype than the cotangent's."""
        arrays = []
        for s in saved:
            a = None if s is None else s.array()
            if s is not None and (a is None or a.dtype != dtype):
                return None
            arrays.append(a)
        return arrays

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        if self._saved is None:
            raise RuntimeError(FREED_MSG)
        if not create_graph and not grad._is_tracer:  # (a node hook sent the general step)
            tok = quiet_enter()
            try:
                fast = self._array_apply(grad._data)
            finally:
                quiet_exit(tok)
            if fast is not None:
                return [None if a is None else eager_tensor(a) for a in fast]
        return self._general(grad, create_graph)

    def release(self) -> None:
        self._saved = None


_ARRAY_APPLY = ArrayNode.apply


# the NumPy dtype of each real floating DType: ``a.dtype is`` it is the common case of
# ``a.dtype == dtype.np`` (a comparison with a scalar type makes a dtype, ~0.3 µs)
_NP_DTYPES = {D.float32: np.dtype(np.float32), D.float64: np.dtype(np.float64)}
_ARRAY_PLANS: dict[Op, tuple[tuple[str, str, int], ...]] = {}


def _array_plan(op: Op, n: int) -> tuple[tuple[str, str, int], ...]:
    """Where each parameter of ``op``'s rule comes from: (name, saved | needs | shape | attr,
    the input position of a shape). Saved names are the ones ``OpNode.__init__`` saves."""
    names = input_names(op, n)
    plan = []
    for p in rule_params(op):
        if p in ("inputs", "shapes"):
            raise ValueError(f"{op}: no array-level rule takes {p!r}")
        if p == "out" or p in names:
            plan.append((p, "saved", -1))
        elif p == "needs":
            plan.append((p, "needs", -1))
        elif p.endswith("_shape") and p[:-6] in names:
            plan.append((p, "shape", names.index(p[:-6])))
        else:
            plan.append((p, "attr", -1))
    takes = list(inspect.signature(ARRAY_VJPS[op]).parameters)[1:]
    if takes != [p for p, _, _ in plan]:  # (the rule is called with them in this order)
        raise ValueError(f"{op}: the array rule takes {takes}, the table's rule {plan}")
    return tuple(plan)


def lean_node(
    cls: type[OpNode],
    plan: tuple[tuple[str, int, int | None], ...],
    op: Op,
    inputs: Sequence[Tensor],
    out: Tensor,
    edges: tuple[tuple[Node | None, int], ...],
    dtype: Any,
    number: int = -1,
    number_meta: Any = None,
) -> OpNode:
    """``cls(op, {}, inputs, out, edges)`` for dispatch's lean path (Note [lean eager path]):
    tensor inputs of one ``dtype`` and shape, no attributes; the same node, saving the same
    values, from ``plan = lean_plan(op, len(inputs))``. ``inputs[number]``, if given, is a
    Python number (Note [lean scalar operands] in dispatch.py) whose meta is ``number_meta``."""
    node = _new_node(cls)
    node._seq = next(_sequence)
    if settings._ANOMALY["on"]:
        node._forward_stack = settings.user_stack()
    node.op, node.attrs, node._edges, node._shown = op, {}, edges, edges
    node._meta = [(out._data.shape, dtype)] * len(inputs)
    if number >= 0:
        node._meta[number] = number_meta
    saved: dict[str, Any] = {}
    plain = not _hooks_state.stack  # no saved-tensor hooks: SavedTensor.__init__, inlined
    for p, i, only in plan:
        if i < 0:
            if plain:
                s = _new_node(SavedTensor)
                s._is_output, s._fw, s._hooked, s._tensor = True, None, None, None
                s._data, s._version_box, s._version = out._data, out._version_box, 0
            else:
                s = SavedTensor(out, True)
        elif only is not None and edges[only][0] is None:
            s = _UNREAD  # its only reader's gradient is not needed
        elif i == number:
            s = _Number(inputs[i])
        else:
            t = inputs[i]
            box = t._version_box
            if plain and type(box) is list:  # (not an inference tensor)
                s = _new_node(SavedTensor)
                s._is_output, s._fw, s._hooked, s._tensor = False, None, None, t
                s._data, s._version_box, s._version = None, box, box[0]
            else:
                s = SavedTensor(t, False)
        saved[p] = s
    node._saved = saved
    return node


_new_node = object.__new__


def lean_plan(op: Op, n: int) -> tuple[tuple[str, int, int | None], ...]:
    """What ``OpNode.__init__`` saves for ``op`` on ``n`` tensors: (name, input position or -1
    for the output, the one position whose gradient alone reads it)."""
    if op in SCALAR_ATTR_OPS or op in INDEXED_NOT_READ:
        raise ValueError(f"{op} has no lean node")
    names = input_names(op, n)
    plan = []
    for p in rule_params(op):
        if p == "inputs":
            raise ValueError(f"{op} has no lean node")
        if p == "out":
            plan.append((p, -1, None))
        elif p in names:
            only = READ_ONLY_FOR.get(op, {}).get(p)
            if only is not None and len(only) != 1:
                raise ValueError(f"{op} has no lean node")
            plan.append((p, names.index(p), None if only is None else only[0]))
    return tuple(plan)


# Note [composite inputs that depend on each other]
# With create_graph the decomposition re-runs on its real inputs. Those may depend on each
# other (prelu(x, x[0] * 0.1), bilinear(x, x, w)): the gradient with respect to x itself would
# then also collect the paths through the other input, which this node sends to that input's
# own edge as well, counted twice. Each input is re-run through its own clone, so the gradient
# with respect to one is only the paths through it (measured: second derivatives of layer_norm,
# bilinear and prelu with such weights now equal PyTorch's and finite differences).


class CompositeNode(Node):
    """The grad_fn of a composite op (softmax, mse_loss, ...): backward through its decomposition.

    The decomposition ran on detached aliases of the inputs, so its inner graph is private;
    with create_graph it is re-run on the real inputs so higher derivatives see them.
    """

    def __init__(
        self,
        fn: Callable[..., Tensor],
        args: tuple,
        kwargs: dict,
        inner_out: Tensor,
        aliases: list[Tensor],
        positions: list[int],
        edges: tuple[tuple[Node | None, int], ...],
    ) -> None:
        super().__init__()
        self._edges = edges
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._inner: tuple[Tensor, list[Tensor]] | None = (inner_out, aliases)
        self._positions = positions

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        if self._inner is None:
            raise RuntimeError(FREED_MSG)
        if create_graph:  # (Note [composite inputs that depend on each other])
            # eager inputs stay eager while a trace is active (a vjp_fn called under vmap or
            # compile with traced cotangents): only the cotangent's work is traced
            eager = not any(getattr(a, "_is_tracer", False) for a in self._args)
            with trace_state.paused() if eager else contextlib.nullcontext():
                args = list(self._args)
                for p in self._positions:
                    args[p] = args[p].clone()
                out = self._fn(*args, **self._kwargs)
            inputs = [args[p] for p in self._positions]
        else:
            out, inputs = self._inner
        grads = run_backward(
            [out],
            [grad],
            inputs=inputs,
            retain_graph=True,
            create_graph=create_graph,
            allow_unused=True,
        )
        return list(grads)

    def release(self) -> None:
        if self._inner is not None and not _saves_tensors(self._inner[0].grad_fn):
            return  # (Note [composites that save nothing])
        self._inner = None


# Note [composites that save nothing]
# PyTorch frees a node's saved tensors after a backward without retain_graph, and only a node
# that saved some refuses to run again: x.mean(), x.repeat(2, 1) or F.pad(x, p) may be
# differentiated twice. A composite's inner graph keeps what its primitives saved; when none of
# them saved a tensor the composite keeps its inner graph (only shapes and scalars) and runs
# again. (flip, select and affine_grid still refuse: their decompositions save an index or a
# base grid, which PyTorch's nodes recompute.)


def _saves_tensors(node: Node | None) -> bool:
    """Whether any node of the inner graph from ``node`` holds a saved tensor (a node kind other
    than OpNode, CompositeNode and AccumulateGrad counts as saving)."""
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen or isinstance(n, AccumulateGrad):
            continue
        seen.add(id(n))
        if isinstance(n, CompositeNode):
            if n._inner is None or _saves_tensors(n._inner[0].grad_fn):
                return True
        elif not isinstance(n, OpNode) or _holds_saved(n._saved):
            return True
        stack.extend(e[0] for e in n._edges)
    return False


def _holds_saved(saved: dict[str, Any] | None) -> bool:
    return saved is None or any(map(_is_saved, saved.values()))


def _is_saved(v: Any) -> bool:
    return isinstance(v, SavedTensor) or (isinstance(v, tuple) and any(map(_is_saved, v)))


class PyNode(Node):
    """The grad_fn of a user-defined ``autograd.Function``."""

    def __init__(
        self, backward: Callable[..., Any], ctx: Any, edges: tuple[tuple[Node | None, int], ...]
    ) -> None:
        super().__init__()
        self._backward, self._ctx, self._edges = backward, ctx, edges

    def apply(self, grad: Tensor, create_graph: bool) -> list[Tensor | None]:
        grads = self._backward(self._ctx, grad)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return [g if e[0] is not None else None for g, e in zip(grads, self._edges, strict=False)]


STALE_VIEW_MSG = (
    "adjit: this view's base was modified by an in-place operation after the view was made, "
    "and adjit cannot make the view's history again from the base's (it was not made by one "
    "view op: split, unbind, diagonal, ...): make the view again after the in-place "
    "operation, or clone() it before"
)


def gradient_edge(t: Tensor) -> tuple[Node | None, int]:
    """The node a cotangent for ``t`` flows into (its grad_fn, or its AccumulateGrad)."""
    base = t._view_base
    if base is not None and base._rewrites != t._rewrites_seen:
        from .dispatch import stale_view

        stale_view(t)  # its history again from its base's new one (Note [stale views])
    fn = t._grad_fn
    if fn is not None:
        return fn, t._output_nr
    if t._requires_grad and not t._nograd_view:
        ref = t._accumulate
        node = ref() if ref is not None else None
        if node is None:
            node = AccumulateGrad(t)
            t._accumulate = weakref.ref(node)
        return node, 0
    return None, 0


def _discover(roots: list[Node]) -> dict[Node, int]:
    """Dependency counts: how many edges point at each node reachable from the roots."""
    deps: dict[Node, int] = {}
    stack = list(dict.fromkeys(roots))
    expanded = set(stack)  # the roots; any other node is expanded when first counted
    get, push = deps.get, stack.append
    while stack:
        for nxt, _ in stack.pop()._edges:
            if nxt is not None:
                n = get(nxt)
                if n is None:
                    deps[nxt] = 1
                    if nxt not in expanded:
                        push(nxt)
                else:
                    deps[nxt] = n + 1
    return deps


def _needed(roots: list[Node], targets: set[Node]) -> set[Node]:
    """Nodes from which some target is reachable: the only ones autograd.grad must run."""
    memo: dict[Node, bool] = {}

    def visit(start: Node) -> bool:
        stack: list[tuple[Node, int]] = [(start, 0)]
        while stack:
            node, i = stack.pop()
            if node in memo and i == 0:
                continue
            nexts = [n for n, _ in node._edges if n is not None]
            if i < len(nexts):
                stack.append((node, i + 1))
                if nexts[i] not in memo:
                    stack.append((nexts[i], 0))
                continue
            memo[node] = node in targets or any(memo.get(n, False) for n in nexts)
        return memo[start]

    for r in roots:
        visit(r)
    return {n for n, v in memo.items() if v}


def _accumulate(t: Tensor, g: Tensor, create_graph: bool, hooked: bool = True) -> None:
    """Add ``g`` into ``t.grad``, through ``t``'s hooks first unless they ran (``hooked``)."""
    hooks = t._hooks if hooked else ()
    owned = g._owned_grad and not hooks  # a hook may keep the tensor it is shown
    for hook in hooks:
        r = hook(g)
        if r is not None:
            g = r
    if create_graph:  # (``_grad``: Note [non-leaf .grad]; no setter checks, as AccumulateGrad)
        t._grad = g if t._grad is None else t._grad + g
    elif g._sparse or t._sparse or (t._grad is not None and t._grad._sparse):
        from .sparse_autograd import accumulate  # (Note [sparse gradients])

        accumulate(t, g)
    else:
        accumulate_array(t, g._data, owned)
    for hook in t._post_accumulate_hooks:
        hook(t)


def _disown(*groups: Sequence[Tensor | None]) -> None:
    for group in groups:
        for g in group:
            if g is not None and g._owned_grad:
                g._owned_grad = False


def _make(data: np.ndarray) -> Tensor:
    """``Tensor._make`` (bound on first use: tensor.py imports this module's users)."""
    global _make
    from .tensor import Tensor

    _make = Tensor._make
    return _make(data)


def eager_tensor(data: np.ndarray) -> Tensor:  # noqa: F811 (rebinds itself)
    """``tensor.eager_tensor`` (bound on first use, as ``_make``)."""
    global eager_tensor
    from .tensor import eager_tensor as bound

    eager_tensor = bound
    return bound(data)


def accumulate_array(t: Tensor, g: np.ndarray, owned: bool) -> None:
    """``_accumulate`` of a gradient array into a leaf without hooks, outside create_graph:
    an ``owned`` array (one nothing else holds) in the parameter's layout becomes the new
    ``.grad`` without a copy, as PyTorch's AccumulateGrad steals a gradient no one else
    references."""
    grad = t._grad
    if grad is None:
        # PyTorch's layout contract: a new .grad has its (dense) parameter's layout
        if not (owned and g.flags.c_contiguous):
            g = np.array(g, copy=True, order="C" if t._data.flags.c_contiguous else "K")
        t._grad = _make(g)
        return
    a = grad._data
    tok = quiet_enter()  # as PyTorch: an overflow to inf is the answer, not a warning
    try:
        if a.ndim == 0 == g.ndim and a.dtype is g.dtype:  # a ufunc on 0-d arrays costs ~1.5 µs;
            a[()] = a[()] + g[()]  # the same add on NumPy scalars (same rounding) ~0.2 µs
        else:
            np.add(a, g, out=a, casting="unsafe")
    finally:
        quiet_exit(tok)
    grad._version_box[0] += 1


# Note [array cotangents]
# Most nodes of an eager backward are plain op nodes (OpNode's own apply, no hooks, no
# retain_grad) whose rule has an array-level copy (Note [array-level VJPs]). Between them the
# engine passes cotangents as bare NumPy arrays, not Tensors, and keeps one quiet NumPy region
# (Note [quiet NumPy calls]) open across consecutive such nodes. Anything else sees Tensors and
# the user's own NumPy error state: before a general step (a leaf's accumulation, a hook, a
# composite or user-defined node, a rule with no array copy, create_graph, anomaly mode,
# a node autograd.grad captures a cotangent at) the region is left and the node's array
# cotangents become Tensors. A buffer slot holds either kind; ``_add`` sums two arrays as
# arrays. Every array in a slot is an ndarray of its input's shape and dtype (a ufunc's NumPy
# scalar is made 0-d). A composite's backward (an autograd.grad of its inner graph) takes
# these steps too.
# The order of nodes is the heap's (by sequence number), as before; a node made ready while no
# other is ready is run next without going through the heap.


def run_backward(
    tensors: Sequence[Tensor],
    grad_tensors: Sequence[Tensor],
    *,
    inputs: Sequence[Tensor] | None,
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool = False,
    accumulate: bool = False,
    grad_call: bool | None = None,
) -> tuple[Tensor | None, ...]:
    """Reverse-mode over the recorded graph. With ``accumulate``, fills leaves' ``.grad``;
    otherwise returns the cotangents of ``inputs`` (``autograd.grad``). Tensors and inputs may
    be GradientEdges. The call is a graph task while it runs (Note [graph tasks]); it is
    autograd.grad's (``grad_call``) unless it accumulates or says otherwise."""
    roots = lambda: [edge_of(t)[0] for t in tensors]  # noqa: E731
    targets = None if inputs is None else (lambda: {edge_of(t)[0] for t in inputs})
    graph_task.push(roots, targets, not accumulate if grad_call is None else grad_call)
    try:
        return _run_backward(
            tensors,
            grad_tensors,
            inputs=inputs,
            retain_graph=retain_graph,
            create_graph=create_graph,
            allow_unused=allow_unused,
            accumulate=accumulate,
        )
    finally:
        graph_task.pop()


def edge_of(t: Any) -> tuple[Node | None, int]:
    """A tensor's gradient edge, or a GradientEdge given for it (autograd.graph)."""
    if type(t) is GradientEdge:
        return t.node, t.output_nr
    return gradient_edge(t)


def _run_backward(
    tensors: Sequence[Tensor],
    grad_tensors: Sequence[Tensor],
    *,
    inputs: Sequence[Tensor] | None,
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool = False,
    accumulate: bool = False,
) -> tuple[Tensor | None, ...]:
    anomaly = settings.is_anomaly_enabled() and settings.is_anomaly_check_nan_enabled()
    shallow = (
        not anomaly and accumulate and len(tensors) == 1 and type(tensors[0]) is not GradientEdge
    )
    if shallow and _shallow(tensors[0], grad_tensors[0], create_graph, retain_graph):
        return ()
    roots: list[tuple[tuple[Node, int], Tensor]] = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors, strict=True)):
        edge = edge_of(t)
        if edge[0] is None:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        roots.append((edge, g))  # type: ignore[arg-type]
    capture: dict[tuple[Node, int], list[int]] = {}
    for k, t in enumerate(inputs or ()):
        edge = edge_of(t)
        if edge[0] is None:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
        capture.setdefault(edge, []).append(k)  # type: ignore[arg-type]
    results: list[Tensor | None] = [None] * len(inputs or ())
    root_nodes = [edge[0] for edge, _ in roots]
    deps = _discover(root_nodes)
    needed = _needed(root_nodes, {n for n, _ in capture}) if not accumulate else None
    buffers: dict[Node, list[Tensor | None]] = {}
    for (node, nr), g in roots:
        _add(buffers, node, nr, g)
    ready = [(-n._seq, id(n), n) for n in dict.fromkeys(root_nodes) if deps.get(n, 0) == 0]
    heapq.heapify(ready)
    pop, push = heapq.heappop, heapq.heappush
    # (Note [array cotangents]) plain op nodes pass arrays, inside one quiet NumPy region
    # (a node whose cotangent autograd.grad captures takes the general step, which makes it a
    # Tensor first: Note [array cotangents])
    raw = not create_graph and not anomaly
    captured = {n for n, _ in capture}
    tok = None  # that region's token, while it is open
    mirrored: dict[Op, bool] = {}  # op -> its array rule mirrors the table's (this backward)
    held = None  # the one node made ready by the last step, while no other is: not heaped
    with set_grad_enabled(create_graph):
        try:
            while True:
                if held is not None:
                    node, held = held, None
                elif ready:
                    node = pop(ready)[2]
                else:
                    break
                grads_out = buffers.pop(node)
                grads = None
                kind = type(node).apply
                if (
                    raw
                    and (kind is _OP_APPLY or kind is _ARRAY_APPLY)
                    and not (node._tensor_hooks or node._retained or node._hooks)
                    and (needed is None or (node in needed and node not in captured))
                ):
                    g = grads_out[0]
                    if type(g) is not np.ndarray:
                        g = None if g._is_tracer else g._data
                    if kind is _OP_APPLY:
                        op = node.op  # type: ignore[attr-defined]
                        ok = mirrored.get(op)
                        if ok is None:
                            ok = mirrored[op] = (
                                op in ARRAY_VJPS and MIRRORS.get(op) is DERIVATIVES[op]
                            )
                    else:  # (an ArrayNode: it checks its own saved tensors)
                        ok = True
                    if ok and g is not None:
                        if tok is None:
                            tok = quiet_enter()
                        grads = node._array_apply(g)  # type: ignore[attr-defined]
                if grads is None:  # the general step: Tensor cotangents, the user's NumPy state
                    if tok is not None:
                        quiet_exit(tok)
                        tok = None
                    if raw:
                        for k, v in enumerate(grads_out):
                            if type(v) is np.ndarray:
                                grads_out[k] = eager_tensor(v)
                    grads = _general_step(
                        node, grads_out, create_graph, anomaly, accumulate, needed, capture, results
                    )
                    if grads is _STREAMED:  # Note [gradients as they are made]
                        grads = node.apply_streaming(  # type: ignore[attr-defined]
                            grads_out, lambda n: deps[n] == 1 and n not in buffers
                        )
                    if grads is None:
                        continue
                if not retain_graph:
                    node.release()
                for (nxt, nr), g in zip(node._edges, grads, strict=False):
                    if nxt is None:
                        continue
                    if g is not None:  # _add(buffers, nxt, nr, g), its common cases inlined
                        slots = buffers.get(nxt)
                        if slots is None:
                            if nxt.num_outputs == 1:
                                buffers[nxt] = [g]
                            else:
                                slots = buffers[nxt] = [None] * nxt.num_outputs
                                slots[nr] = g
                        else:
                            prev = slots[nr]
                            if prev is None:
                                slots[nr] = g
                            elif (  # two arrays, inside the quiet region: _add's sum, inlined
                                tok is not None
                                and type(prev) is np.ndarray
                                and type(g) is np.ndarray
                                and prev.dtype is g.dtype
                                and prev.shape == g.shape
                            ):
                                r = np.add(prev, g)
                                slots[nr] = r if type(r) is np.ndarray else np.asarray(r)
                            else:
                                _add(buffers, nxt, nr, g)
                    left = deps[nxt] - 1
                    deps[nxt] = left
                    if left == 0:
                        if nxt not in buffers:
                            _skip(nxt, deps, buffers, ready)
                        elif held is None and not ready:
                            held = nxt
                        else:
                            push(ready, (-nxt._seq, id(nxt), nxt))
                if held is not None and ready:  # (others are ready too: the order is the heap's)
                    push(ready, (-held._seq, id(held), held))
                    held = None
        finally:
            if tok is not None:
                quiet_exit(tok)
    if not allow_unused and inputs is not None and any(r is None for r in results):
        unused = next(i for i, r in enumerate(results) if r is None)
        raise RuntimeError(
            f"The differentiated Tensor at index {unused} appears to not have been used in the "
            "graph. Set allow_unused=True if this is the desired behavior."
        )
    return tuple(results)


_STREAMED: Any = object()  # _general_step's answer for a node whose leaves' gradients stream


def _general_step(
    node: Node,
    grads_out: list[Any],
    create_graph: bool,
    anomaly: bool,
    accumulate: bool,
    needed: set[Node] | None,
    capture: dict[tuple[Node, int], list[int]],
    results: list[Tensor | None],
) -> Sequence[Tensor | None] | None:
    """One node of ``run_backward`` with Tensor cotangents: its hooks, then its gradients
    (None when nothing flows on: a leaf accumulated, a node autograd.grad does not need)."""
    if capture or node._tensor_hooks or node._retained:  # (rare: most nodes have none)
        _before_node(node, grads_out, create_graph, capture, results)
    if isinstance(node, AccumulateGrad):
        if accumulate:
            _accumulate(node.variable, grads_out[0], create_graph)
        return None
    if needed is not None and node not in needed:
        return None
    if anomaly:
        grads = _apply_in_anomaly_mode(node, grads_out, create_graph)
    elif node.streams and accumulate and not create_graph and not node._hooks:
        return _STREAMED  # (run_backward knows which leaves only this node feeds)
    else:
        grads = node.apply(grads_out if node.num_outputs > 1 else grads_out[0], create_graph)
    if node._hooks:
        _disown(grads, grads_out)  # the hook may keep them: never steal them
        for hook in node._hooks:
            hook(tuple(grads), tuple(grads_out))
    return grads


def _before_node(
    node: Node,
    grads_out: list[Any],
    create_graph: bool,
    capture: dict[tuple[Node, int], list[int]],
    results: list[Tensor | None],
) -> None:
    """Before ``node`` runs: its outputs' tensor hooks (which may replace the cotangent), then
    retain_grad() of its outputs, then the cotangents ``autograd.grad`` asked for."""
    for nr, grad in enumerate(grads_out):
        if grad is None:
            continue
        if node._tensor_hooks:
            for hook in node._tensor_hooks.get(nr, ()):
                grad._owned_grad = False  # the hook may keep it: never steal it
                r = hook(grad)
                if r is not None:
                    grad = r
        grads_out[nr] = grad
        retained = node._retained.get(nr) if node._retained else None
        if retained is not None and (t := retained()) is not None:
            _retain(t, grad, create_graph)
        if capture:
            ks = capture.get((node, nr), ())
            if ks and isinstance(node, AccumulateGrad) and node.variable._hooks:
                grad = grads_out[nr] = _leaf_hooks(node.variable, grad)
            for k in ks:
                results[k] = grad


def _leaf_hooks(t: Tensor, g: Tensor) -> Tensor:
    """A leaf's tensor hooks on a cotangent autograd.grad captures (as PyTorch runs them)."""
    g._owned_grad = False  # the hook may keep it: never steal it
    for hook in t._hooks:
        r = hook(g)
        if r is not None:
            g = r
    return g


def _apply_in_anomaly_mode(node: Node, grads_out: list[Any], create_graph: bool) -> Any:
    """``node.apply`` checked for NaN; on any error, PyTorch's warning with the traceback of
    the forward call that made the node (recorded when anomaly mode was on then)."""
    try:
        grads = node.apply(grads_out if node.num_outputs > 1 else grads_out[0], create_graph)
        _check_nan(node, grads)
    except Exception:
        if node._forward_stack is not None:
            warnings.warn(
                f"Error detected in {node.name()}. Traceback of forward call that caused the "
                "error:\n" + "".join(node._forward_stack),
                UserWarning,
                stacklevel=4,
            )
        raise
    return grads


def _check_nan(node: Node, grads: Sequence[Tensor | None]) -> None:
    """Anomaly mode's check (``autograd.set_detect_anomaly(True)``), in PyTorch's words."""
    for i, g in enumerate(grads):
        if g is not None and g.dtype.is_floating_point and np.isnan(g._data).any():
            raise RuntimeError(
                f"Function '{type(node).__name__}' returned nan values in its {i}th output."
            )


def _plain(node: Node) -> bool:
    return not node._tensor_hooks and not node._retained and not node._hooks


def _shallow(t: Tensor, g: Tensor, create_graph: bool, retain_graph: bool) -> bool:
    """``t.backward()`` when ``t``'s grad_fn feeds leaves directly (a compiled call's output,
    one eager op on leaves), without hooks: the node runs and the leaves accumulate, with no
    graph walk. False (having done nothing) when the general engine is needed."""
    node = t._grad_fn
    if node is None or node.num_outputs != 1 or not _plain(node):
        return False
    leaves = [n for n, _ in node._edges if n is not None]
    if len(set(leaves)) != len(leaves) or not all(
        isinstance(n, AccumulateGrad) and _plain(n) for n in leaves
    ):
        return False
    with set_grad_enabled(create_graph):
        if node.streams and not create_graph:  # Note [gradients as they are made]
            grads = node.apply_streaming(g, lambda n: True)  # type: ignore[attr-defined]
        else:
            grads = node.apply(g, create_graph)
        if not retain_graph:
            node.release()
        for (nxt, _), grad in zip(node._edges, grads, strict=False):
            if nxt is not None and grad is not None:
                _accumulate(nxt.variable, grad, create_graph)  # type: ignore[attr-defined]
    return True


def _add(buffers: dict[Node, list[Any]], node: Node, nr: int, g: Any) -> None:
    """Sum a cotangent (a Tensor, or an array: Note [array cotangents]) into the slot of
    output ``nr`` of ``node`` (fan-in)."""
    slots = buffers.get(node)
    if slots is None:
        slots = buffers[node] = [None] * node.num_outputs
    prev = slots[nr]
    if prev is None:
        slots[nr] = g
        return
    both = type(prev) is np.ndarray and type(g) is np.ndarray
    if both and prev.dtype is g.dtype and prev.shape == g.shape:
        tok = quiet_enter()
        try:
            r = np.add(prev, g)
        finally:
            quiet_exit(tok)
        slots[nr] = r if type(r) is np.ndarray else np.asarray(r)  # (0-d: a NumPy scalar)
        return
    if type(prev) is np.ndarray:
        prev = eager_tensor(prev)
    if type(g) is np.ndarray:
        g = eager_tensor(g)
    if prev._is_tracer or g._is_tracer or prev._sparse or g._sparse:  # (never read their data)
        slots[nr] = prev + g
        return
    a, b = prev._data, g._data
    if (
        a.dtype is b.dtype
        and a.dtype in REAL_FLOATS
        and a.shape == b.shape
        and not is_grad_enabled()
        and not forward_grad.ACTIVE
        and trace_state.current() is None
    ):  # the sum ``prev + g`` makes (dispatch's lean path), without a history to record
        tok = quiet_enter()
        try:
            slots[nr] = _make(np.add(a, b))
        finally:
            quiet_exit(tok)
        return
    slots[nr] = prev + g


def _retain(t: Tensor, grad: Tensor, create_graph: bool) -> None:
    """``retain_grad()``: a non-leaf's ``.grad`` accumulates like a leaf's."""
    if t._grad is None:
        t._grad = grad if create_graph else grad.detach()._clone_data()
    else:
        t._grad = t._grad + grad


def _skip(node: Node, deps: dict[Node, int], buffers: dict, ready: list) -> None:
    """A node that received no cotangent at all: release its dependents without running it."""
    stack = [node]
    while stack:
        n = stack.pop()
        for nxt, _ in n._edges:
            if nxt is None:
                continue
            deps[nxt] -= 1
            if deps[nxt] == 0:
                if nxt in buffers:
                    heapq.heappush(ready, (-nxt._seq, id(nxt), nxt))
                else:
                    stack.append(nxt)


def grad_enabled_for(tensors: Sequence[Tensor]) -> bool:
    return is_grad_enabled() and any(t.requires_grad for t in tensors)
