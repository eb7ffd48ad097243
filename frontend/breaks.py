"""Graph breaks: a compiled function split into compiled segments with Python in between."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir.graph import Lit, Var
from ..runtime import trace_state
from ..runtime.grad_mode import set_grad_enabled
from ..runtime.tensor import Tensor
from ..runtime.trace_state import TracingError, user_location
from .module_memo import call_module
from .pytree import flatten, unflatten
from .tracer import DATA_DEPENDENT, Trace, Tracer, twin

if TYPE_CHECKING:
    from .compile import CompiledFunction, Entry

# Note [graph breaks]
# ~~~~~~~~~~~~~~~~~~~
# Python cannot resume a frame in the middle, so a function that broke once runs in "segment
# mode" on every later call: the Python function itself runs, its tensor ops are recorded into
# a SegmentTrace (tracers, never computed), and where Python needs a value (``.item()``,
# ``bool``, printing, a ``compiler.disable``d call, any read of a tracer's data) the segment
# recorded so far is flushed: its graph, whose outputs are the tracers still alive (weak
# references say which), is looked up by its structure (ops, attributes, avals, wiring,
# constants) and run compiled; each live tracer then *becomes* the concrete result tensor
# (its class and state swapped in place, so every Python reference sees the value), with the
# compiled backward node as its grad_fn. The next segment lifts those tensors as inputs, so
# gradients chain across segments through eager autograd. Python side effects between
# segments happen on every call, as eagerly; only the tensor arithmetic is compiled.
#
# A different branch taken after a break records a different segment (a new structure key:
# compiled once, then cached), so the segments are guarded by what was observed.


@dataclass
class Break:
    """One graph break: why, and the user's line."""

    reason: str
    loc: str | None
    line: int | None = None  # the line of the compiled function's own frame (Note
    # [statement-level breaks] in statements.py), None when not a Python function

    def __str__(self) -> str:
        return f"{self.loc or '<unknown>'}: {self.reason}"


@dataclass
class Record:
    """What one call in segment mode did (``adjit.explain`` shows it)."""

    breaks: list[Break] = field(default_factory=list)
    segments: list[Any] = field(default_factory=list)  # the Graph of each compiled segment
    compiled_eqns: int = 0
    eager_ops: int = 0  # ops run eagerly on constants made inside the function
    eager_calls: list[str] = field(default_factory=list)  # compiler.disable'd functions


def _complex(inputs: list[Tensor], attrs: dict[str, Any]) -> bool:
    """An operand or the result (a cast) is complex."""
    dtype = attrs.get("dtype")
    return any(t.dtype.category == 3 for t in inputs) or getattr(dtype, "category", 0) == 3


class SegmentTrace(Trace):
    """A Trace that knows its session (so a value read breaks instead of failing), keeps
    weak references to its tracers (the live ones are the segment's outputs) and the
    concrete tensor behind each input."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.values: list[Tensor] = []  # concrete value of each input var, in order
        self.tracers: list[weakref.ref[Tracer]] = []
        self.results: dict[Var, Tensor] = {}  # after the flush: each output var's value
        self.arg_tracers: list[weakref.ref[Tracer]] = []  # the first segment's arguments

    def new_input(self, aval: Any, requires_grad: bool, hint: str = "") -> Tracer:
        tr = super().new_input(aval, requires_grad, hint)
        self.tracers.append(weakref.ref(tr))
        return tr

    def new_arg(self, t: Tensor, dynamic: Collection[int] = (), source: str = "") -> Tracer:
        tr = super().new_arg(t, dynamic, source)
        self.values.append(t)
        tr._arg = t  # type: ignore[attr-defined]
        self.arg_tracers.append(weakref.ref(tr))
        return tr

    def lift(self, t: Tensor) -> Tracer:
        n = len(self.input_vars)
        tr = super().lift(t)
        if len(self.input_vars) > n:
            if self.mutated:
                _refuse_shared(t, [m for m, _ in self.mutated.values()])
            self.values.append(t)
        return tr

    def mutate(self, t: Tensor, fn: Any) -> Tensor:
        if t.dtype.category == 3:  # (Note [complex values between segments]: out of place only)
            raise NotImplementedError(
                "adjit.compile does not support in-place ops on complex tensors yet; compute a "
                "new tensor (z = z * 2 for z.mul_(2))"
            )
        other = twin(t, self.lifted)
        if other is None or other is t:  # (a twin is written as the other one)
            _refuse_shared(t, [v for v in self.values if v is not t])
        return super().mutate(t, fn)

    def atom(self, t: Tensor) -> Any:
        if isinstance(t, Tracer) and t._trace is not self:  # made before a break, copied aside
            self.session.resolve(t)
        return super().atom(t)

    def involves(self, inputs: list[Tensor]) -> bool:
        if super().involves(inputs):
            return True
        self.session.record.eager_ops += 1  # runs eagerly: constants made inside the function
        return False

    def call_module(self, module: Any, args: tuple, kwargs: dict, run: Any) -> Any:
        """An nn.Module call: from a template when one matches (Note [module call
        templates] in module_memo.py)."""
        return call_module(self, module, args, kwargs, run)

    def eager_call(self, reason: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn`` run eagerly between two segments (eager autograd on values from before a
        break): the segment so far runs first, then ``fn`` with no trace, then a new one."""
        session = self.session
        session.graph_break(reason)
        session.record.eager_calls.append(reason)
        trace_state.set_current(None)
        try:
            return fn(*args, **kwargs)
        finally:
            trace_state.set_current(session.trace)

    def adopt(self, t: Tensor, view_of: Tracer | None, step: Any) -> Tracer:
        tr = super().adopt(t, view_of, step)
        self.tracers.append(weakref.ref(tr))  # (a live one is a segment output)
        return tr

    def track(self, t: Tracer) -> None:
        self.tracers.append(weakref.ref(t))  # (a live one is a segment output)

    def new_tracer(self, var: Var, requires_grad: bool) -> Tracer:
        tr = Tracer(self, var, requires_grad)
        self.tracers.append(weakref.ref(tr))
        return tr

    @property
    def runs_complex_eagerly(self) -> bool:
        """Note [complex values between segments]: compiled code has no complex values (Note
        [complex dtypes]); an op on them runs eagerly between two segments (graph breaks), its
        gradient eager autograd's, unless the function cannot break."""
        return not self.session.cf.fullgraph

    def emit(self, op: Any, inputs: list[Tensor], attrs: dict[str, Any], name: Any) -> Any:
        if self.runs_complex_eagerly and _complex(inputs, attrs):
            from ..runtime.dispatch import apply

            run = lambda *ins: apply(op, *ins, name=name, **attrs)  # noqa: E731
            return self.eager_call(f"{op.name.lower()} on complex values", run, *inputs)
        tr = super().emit(op, inputs, attrs, name)
        self.tracers.append(weakref.ref(tr))
        return tr


class Session:
    """One call of a compiled function with graph breaks enabled."""

    def __init__(self, cf: CompiledFunction, record: Record | None = None) -> None:
        self.cf = cf
        self.record = record if record is not None else Record()
        self.trace = SegmentTrace(self)
        self.broke = False
        self.aliases: dict[int, Tensor] = {}  # Note [arguments across breaks]

    def start(self, leaves: list[Any]) -> list[Any]:
        """Argument tracers of the first segment for these flattened arguments."""
        return [
            self.trace.new_arg(x) if isinstance(x, Tensor) and not x._sparse else x for x in leaves
        ]

    def graph_break(self, reason: str, error: str | None = None, value: Any = None) -> None:
        """Run the segment recorded so far and continue in a new one (``fullgraph=True``:
        raise ``error``, by default the text for a value read)."""
        nested = trace_state.current() is not self.trace  # another trace is active
        if self.cf.fullgraph or nested:
            raise TracingError(error or DATA_DEPENDENT.format(what=reason))
        self.broke = True
        self.record.breaks.append(Break(reason, user_location(), own_line(self.cf.fn)))
        self.flush(value)
        self.trace = SegmentTrace(self)
        trace_state.set_current(self.trace)

    def side_effects(self, found: list[Break]) -> None:
        """The traced call had Python side effects that must happen on every call (Note
        [Python side effects while tracing] in effects.py): later calls run its Python (with
        fullgraph=True too: that needs no break where no value is read)."""
        self.broke = True
        self.record.breaks.extend(found)

    def flush(self, value: Any = None) -> None:
        """Compile (or find) and run the current segment; its live tracers (and ``value``,
        the tracer being read) become tensors."""
        prev = trace_state.set_current(None)
        try:
            self._flush(self.trace, value)
        finally:
            trace_state.set_current(prev)

    def _flush(self, trace: SegmentTrace, value: Any = None) -> None:
        live = [t for r in trace.tracers if (t := r()) is not None and isinstance(t, Tracer)]
        if isinstance(value, Tracer) and all(t is not value for t in live):
            live.append(value)  # made without the trace's knowledge (a copy)
        lifted = {id(tr) for tr in trace._lifted_ids.values()}
        live = [t for t in live if t._trace is trace and id(t) not in lifted]
        if not trace.eqns and not trace.mutated:
            for t in live:  # nothing computed: arguments (aliased again), or nothing
                arg = getattr(t, "_arg", None)
                if arg is not None:
                    _become(t, arg, {id(arg)}, self)
            return
        entry, numbers = self.cf._segment_entry(trace, live)
        with set_grad_enabled(True):  # each equation keeps the grad mode it was traced in
            results = self.cf._execute(entry, [*trace.values, *numbers])
        self.record.segments.append(entry.graph)  # (kept for explain; one call's worth)
        self.record.compiled_eqns += len(trace.eqns)
        inputs = {id(v) for v in trace.values}
        views = _view_steps(trace, live)
        for t, r in zip(live, results, strict=True):
            trace.results[t._var] = r
            _become(t, r, inputs, self)
        from ..runtime.dispatch import apply

        for t, parent, (op, attrs, name, grad_on) in views:  # (Note [views across breaks])
            with set_grad_enabled(grad_on):
                again = apply(op, parent, name=name, **attrs)
            _become(t, again, None, self)

    def resolve(self, t: Tracer) -> None:
        """A tracer of an earlier segment that the flush did not see (a copy made without
        the trace, e.g. ``object.__new__``): it becomes that segment's value of its var."""
        old = t._trace
        r = old.results.get(t._var) if isinstance(old, SegmentTrace) else None
        if r is None or not isinstance(old, SegmentTrace) or old.session is not self:
            raise TracingError(
                "a traced value from before a graph break was not kept by the break; "
                "use adjit.compile(fn, fullgraph=True) to find the value read that splits "
                "the function"
            )
        _become(t, r, {id(v) for v in old.values}, self)

    def run(self, leaves: list[Any], spec: Any, tree: Any = None) -> Any:
        """Call the function in segment mode: record, break where values are read, flush
        (``tree``: what was flattened, Note [containers passed as they are] in pytree.py)."""
        args, kwargs = unflatten(spec, self.start(leaves), tree)
        prev = trace_state.set_current(self.trace)
        try:
            out = self.cf.fn(*args, **kwargs)
            return self.finish(out)
        finally:
            trace_state.set_current(prev)

    def finish(self, out: Any) -> Any:
        """The last segment; arguments returned as they are are the arguments again."""
        self.flush()
        leaves, spec = flatten(out)
        aliases = self.aliases
        if not any(id(x) in aliases for x in leaves):
            return out
        return unflatten(spec, [aliases.get(id(x), x) for x in leaves])


# Note [views across breaks]
# At a graph break every live tracer becomes its value, a tensor of its own. One that was a
# traced view of another (``v = h[0]``) would then no longer share memory with it, and an
# in-place op on ``h`` after the break would not show in ``v`` as eagerly. So such a view is
# made again, eagerly, from its parent's value (or the outside tensor its parent was lifted
# from) by its view op: the same values, and a real view (memory, version counter, history).
# Views made some other way (several inputs, adopted constants) stay copies.


def _view_steps(trace: SegmentTrace, live: list[Tracer]) -> list[tuple[Tracer, Tensor, Any]]:
    """The live traced views of live tracers or lifted tensors, parents first, each with the
    tensor its parent stands for (see the Note)."""
    ids = {id(t) for t in live}
    lifted = trace._lifted_ids
    outside = {id(lifted[id(t)]): t for t in trace.lifted if id(t) in lifted}
    found: list[tuple[int, Tracer, Tensor, Any]] = []
    for t in live:
        parent, step, depth = t._view_of, t._view_step, 0
        if parent is None or step is None or step[0] is None:
            continue
        if id(parent) not in ids and id(parent) not in outside:
            continue
        p = parent
        while p is not None and id(p) in ids:
            depth, p = depth + 1, p._view_of
        found.append((depth, t, outside.get(id(parent), parent), step))
    found.sort(key=lambda f: f[0])
    return [(t, parent, step) for _, t, parent, step in found]


def own_line(fn: Any) -> int | None:
    """The line ``fn``'s own (outermost) frame is running, if ``fn`` is a Python function."""
    import sys

    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    f: Any = sys._getframe(1)
    line = None
    while f is not None and code is not None:
        if f.f_code is code:
            line = f.f_lineno
        f = f.f_back
    return line


def _refuse_shared(t: Tensor, others: list[Tensor]) -> None:
    """After a break, tensors are concrete: an in-place update of one that shares memory
    with another the same segment reads would not be seen through the other (a view and its
    base are separate graph inputs), so it is refused rather than computed wrong."""
    data = t.__dict__.get("_data")
    if data is None:
        return
    for o in others:
        other = o.__dict__.get("_data")
        if other is not None and np.may_share_memory(data, other):
            raise TracingError(
                "in-place modification of a tensor that shares memory with another tensor "
                "used between the same two graph breaks (a view and its base) is not "
                "supported yet; use an out-of-place op, or adjit.compile(fn, fullgraph=True) "
                "to find the value read that splits the function"
            )


# Note [arguments across breaks]
# An argument's tracer that still stands for the argument itself at a break (not written in
# place) becomes the argument: the caller's tensor object cannot replace it in the function's
# variables, so it takes the argument's class and shares its very attribute dictionary (data,
# version counter, requires_grad, grad_fn, ``.grad`` and its AccumulateGrad node). Every read
# and write of either is then one of the argument's, as eagerly: ``w.grad`` after a backward()
# past the break reads the argument's gradient, ``autograd.grad(y, w)`` finds the argument's
# node in the graph of a ``y`` computed before the break. Only its identity differs: ``finish``
# returns the argument itself where the function returns it (``Session.aliases``).


def _become(
    tracer: Tracer, t: Tensor, inputs: set[int] | None = None, session: Session | None = None
) -> None:
    """Make ``tracer`` the concrete tensor ``t`` in place: every reference sees the value.
    An argument's tracer that comes back as the argument becomes it (see the Note); another
    input (``id`` in ``inputs``) comes back as a view of it (same memory, gradients reach it).
    ``session`` marks it as this call's value: Python may read it without another break
    (``Trace.read_outside``)."""
    arg = tracer.__dict__.get("_arg")
    if arg is not None and t is arg and session is not None:
        tracer.__class__ = type(arg)  # type: ignore[assignment]
        tracer.__dict__ = arg.__dict__
        session.aliases[id(tracer)] = arg
        return
    same = inputs is not None and id(t) in inputs
    if same and (t._requires_grad or t._grad_fn is not None):
        with set_grad_enabled(True):  # (a break under no_grad still lets gradients through)
            t = t.view(tuple(t.shape))  # type: ignore[attr-defined]  # gradients reach the input
    # (a Parameter made inside stays one: Note [modules made while tracing] in ops_random.py)
    tracer.__class__ = getattr(type(tracer), "_concrete_class", type(t))  # type: ignore[arg-type]
    d = tracer.__dict__
    d.clear()
    d.update(t.__dict__)
    if same and arg is not None:
        d["_arg"] = arg
    if session is not None:
        d["_made_by"] = session


# (equation index, operand index, the Python number), or (-1, constant index, its array)
Literal = tuple[int, int, Any]


def structure_key(entry: Entry) -> tuple[tuple, list[Literal]]:
    """What a segment's compiled program depends on: input avals, every equation's op,
    attributes, operand wiring and grad mode, constants' values and the outputs; and the
    Python numbers among the operands and the constants (their values are keyed apart:
    Note [numbers seen after a break])."""
    g = entry.graph
    assert g is not None
    index: dict[Var, int] = {}
    parts: list[Any] = []
    lits: list[Literal] = []
    for v in g.inputs:
        index[v] = len(index)
        parts.append(v.aval)
    for c, (v, arr) in enumerate(g.consts):
        index[v] = len(index)
        parts.append(("const", arr.dtype.str, arr.shape))
        lits.append((-1, c, arr))
    frozen = _FROZEN
    for k, e in enumerate(g.eqns):
        ins: list[Any] = []
        for j, a in enumerate(e.inputs):
            if isinstance(a, Var):
                ins.append(index[a])
            else:
                ins.append(a.aval)
                lits.append((k, j, a))
        attrs = e.attrs
        known = frozen.get(id(attrs))  # a module template's attributes, frozen once
        value = known[1] if known is not None and known[0] is attrs else _freeze(attrs)
        parts.append((e.op, tuple(ins), value, e.no_grad))
        index[e.out] = len(index)
    parts.append(tuple(index[a] if isinstance(a, Var) else (a.value, a.aval) for a in g.outputs))
    parts.append(_freeze(entry.aliases))
    return tuple(parts), lits


# Note [numbers seen after a break]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# ``s = h.sum().item(); out = h2 * s`` puts a new Python number into the next segment at
# every call. Keyed by value, each call would compile a new program. As torch.compile's
# automatic dynamic does, a segment whose numbers change between calls is compiled again once
# with the changing ones as inputs (0-d, weakly typed: promotion is unchanged, float64/int64
# carriers: no rounding before the op's own), and later calls pass the current values. So are
# constant tensors made inside the function (``adjit.tensor([s])``) whose values change.

_CARRIER = {"float": np.float64, "int": np.int64, "bool": np.bool_}


def lift_literals(g: Any, lits: list[Literal], positions: frozenset[int]) -> tuple[Any, list]:
    """``g`` with the literals at ``positions`` (indices into ``lits``) made graph inputs
    (appended after the others), and their current values as 0-d arrays."""
    from dataclasses import replace

    from ..ir.aval import Aval
    from ..ir.dtypes import float64, int64

    eqns = list(g.eqns)
    inputs: list[Var] = []
    values: list[np.ndarray] = []
    for i in sorted(positions):
        k, j, lit = lits[i]
        if k < 0:  # a constant tensor: its var becomes an input
            var, arr = g.consts[j]
            inputs.append(var)
            values.append(arr)
            continue
        kind = type(lit.value).__name__
        carrier = _CARRIER.get(kind)
        if carrier is None:
            continue
        dtype = {"float": float64, "int": int64}.get(kind, lit.aval.dtype)
        v = Var(Aval((), dtype, weak=True))
        e = eqns[k]
        operands = list(e.inputs)
        operands[j] = v
        eqns[k] = replace(e, inputs=tuple(operands))
        inputs.append(v)
        values.append(np.asarray(lit.value, dtype=carrier))
    lifted = {id(v) for v in inputs}
    consts = [(v, a) for v, a in g.consts if id(v) not in lifted]
    return g.replace(inputs=(*g.inputs, *inputs), eqns=tuple(eqns), consts=tuple(consts)), values


_FROZEN: dict[int, tuple[dict, Any]] = {}  # id(attrs) -> (attrs, frozen): kept alive here


def remember(attrs: dict[str, Any]) -> None:
    """Freeze ``attrs`` once: a module template's equations reuse this dict every call."""
    if attrs and id(attrs) not in _FROZEN:
        if len(_FROZEN) > 8192:
            _FROZEN.clear()
        _FROZEN[id(attrs)] = (attrs, _freeze(attrs))


def _freeze(v: Any) -> Any:
    """A hashable stand-in for an attribute value (objects stand for themselves)."""
    if isinstance(v, dict):
        return tuple((k, _freeze(x)) for k, x in v.items())
    if isinstance(v, list | tuple):
        return (type(v).__name__, *(_freeze(x) for x in v))
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, Lit):
        return (v.value, v.aval)
    try:
        hash(v)
    except TypeError:
        return ("object", v)  # compared by identity (kept alive by the key)
    return v


def disable(fn: Callable[..., Any] | None = None, recursive: bool = True) -> Any:
    """``adjit.compiler.disable``: ``fn`` always runs eagerly, also inside a compiled
    function (there it is a graph break: the segment before it runs compiled first)."""
    if fn is None:
        return lambda f: disable(f, recursive)
    if not recursive:
        raise NotImplementedError(
            "adjit.compiler.disable(recursive=False) is not supported: adjit does not compile "
            "the functions a disabled function calls separately"
        )

    import functools

    @functools.wraps(fn)
    def eager(*args: Any, **kwargs: Any) -> Any:
        trace = trace_state.current()
        if trace is None:
            return fn(*args, **kwargs)
        name = getattr(fn, "__qualname__", repr(fn))
        refusal = (
            f"{name} is marked adjit.compiler.disable and runs eagerly, which needs a graph "
            "break here (not allowed with fullgraph=True or inside adjit.grad)"
        )
        session = trace.split(f"call to adjit.compiler.disable'd {name}", refusal)
        session.record.eager_calls.append(name)
        trace_state.set_current(None)
        try:
            return fn(*args, **kwargs)
        finally:
            trace_state.set_current(session.trace)

    eager._adjit_disabled = True  # type: ignore[attr-defined]
    return eager
