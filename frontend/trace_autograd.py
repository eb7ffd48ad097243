"""Autograd inside a traced function: ``backward``/``autograd.grad`` build their gradients into
the trace being recorded, so a compiled step differentiates in its own graph.

Note [autograd while tracing]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
``autograd.grad(y, x, create_graph=...)`` and ``y.backward()`` called on tracers do not run the
eager engine (there are no values yet). They cut the equations recorded so far into the
sub-graph from ``x`` (a cut: its defining equation is left out) to ``y``, and run the adjoint
pass on it with a builder that emits into the same trace (``InlineBuilder``): the forward is not
re-emitted (each forward equation's value is the trace's own variable, seen through an alias
tracer that carries the sub-graph's activity), the derivative rules are. With
``create_graph=True`` those equations are recorded with grad mode on, so the enclosing adjoint
(a compiled call's backward, or another ``autograd.grad`` in the trace) differentiates through
them: gradient penalties and meta-learning inner steps compile. Without it they are recorded
under no_grad. ``backward()`` differentiates with respect to every leaf that requires grad (the
function's arguments, lifted parameters, tensors made leaves with ``requires_grad_()``) and
accumulates into ``.grad``: the trace's own tracers for leaves made inside, and for tensors
from outside a recorded write that the compiled call performs after each run
(``Trace.grad_writes``, see frontend/compile.py). The sub-graph is differentiated in its stable
form (Note [stability rewrites] in passes/stability.py), as a compiled call's own backward is:
the equations a rule added are emitted into the trace (``InlineBuilder.run``), the recorded
ones are not."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..ir.aval import Aval
from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import Op
from ..passes.adjoint import Joint, adjoint
from ..passes.stability import DROPS_OPERANDS, stabilize_report
from ..runtime import trace_state
from ..runtime.backward import make_grads
from ..runtime.dispatch import apply, as_tensor_operand
from ..runtime.grad_mode import no_grad, set_grad_enabled
from ..runtime.tensor import Tensor
from ..runtime.trace_state import TracingError

if TYPE_CHECKING:
    from .tracer import Trace, Tracer

UNUSED = (
    "The differentiated Tensor at index {} appears to not have been used in the graph. "
    "Set allow_unused=True if this is the desired behavior."
)


class InlineBuilder:
    """passes.adjoint.Builder that emits the backward into ``trace`` (see the Note)."""

    def __init__(
        self,
        trace: Trace,
        inputs: list[Tracer],
        outputs: list[Var],
        seeds: list[Any],
        fresh: frozenset[int] = frozenset(),
    ):
        self.trace = trace
        self._fresh = fresh  # id() of the stability rules' equations, not yet in the trace
        self._inputs = iter(inputs)
        self._n_inputs = len(inputs)
        self._outputs, self._seeds = outputs, seeds
        self._active: dict[Var, bool] = {}
        self._cotangents: Any = None
        self.values: list[Any] = []

    def at(self, eqn: Eqn | None) -> None:
        if eqn is not None:
            self.trace.loc = eqn.loc

    def input(self, aval: Aval, requires_grad: bool) -> Any:
        if self._n_inputs:
            self._n_inputs -= 1
            t = next(self._inputs)
            self._active[t._var] = requires_grad
            return _alias(self.trace, t._var, requires_grad)
        if self._cotangents is None:  # the adjoint asks for active outputs' seeds in order
            self._cotangents = iter(
                s for o, s in zip(self._outputs, self._seeds, strict=True) if self._active[o]
            )
        return next(self._cotangents)

    def const(self, value: Any) -> Any:
        return Tensor._make(np.asarray(value))

    def literal(self, value: bool | int | float) -> Any:
        return as_tensor_operand(value)

    def zeros(self, aval: Aval) -> Any:
        return Tensor._make(np.zeros(aval.shape, aval.dtype.np))

    def joint(self, graph: Graph, wrt: Sequence[int]) -> Joint:
        from .builder import joint_graph  # a loop's body (Note [the adjoint of a scan])

        return joint_graph(graph, wrt)

    def call(self, op: Op, args: list[Any], attrs: dict[str, Any]) -> Any:
        from .control_trace import call  # a new equation (a loop's adjoint)

        return call(op, args, attrs)

    def run(self, eqn: Eqn, args: list[Any]) -> Any:
        active = (
            not eqn.no_grad
            and eqn.op is not Op.DETACH
            and eqn.out.aval.dtype.is_floating_point
            and any(isinstance(a, Tensor) and a.requires_grad for a in args)
        )
        self._active[eqn.out] = active
        var = eqn.out
        if id(eqn) in self._fresh:  # a stability rule's equation: emitted now
            var = cast("Tracer", apply(eqn.op, *args, **eqn.attrs))._var
            self._active[var] = active
        return _alias(self.trace, var, active)

    def finish(self, outputs: list[Any]) -> Graph:
        self.values = outputs
        return Graph((), (), (), ())


def _alias(trace: Trace, var: Var, requires_grad: bool) -> Tracer:
    from .tracer import Tracer

    return Tracer(trace, var, requires_grad)


def _cut(trace: Trace, outputs: list[Var], wrt: list[Var]) -> Graph:
    """The recorded equations from ``wrt`` (cut there) to ``outputs``; every other variable
    they read becomes an extra input after ``wrt``."""
    cut = set(wrt)
    need = {o for o in outputs if o not in cut}
    picked: list[Eqn] = []
    for e in reversed(trace.eqns):
        if e.out in need:
            need.discard(e.out)
            picked.append(e)
            need.update(a for a in e.inputs if isinstance(a, Var) and a not in cut)
    picked.reverse()
    defined = {e.out for e in picked}
    free: dict[Var, None] = {}
    for e in picked:
        for a in e.inputs:
            if isinstance(a, Var) and a not in cut and a not in defined:
                free[a] = None
    for o in outputs:
        if o not in cut and o not in defined:
            free[o] = None
    return Graph((*wrt, *free), tuple(picked), tuple(outputs), ())


def trace_grad(
    trace: Trace,
    outputs: Sequence[Tensor],
    inputs: Sequence[Tensor],
    grad_outputs: Sequence[Any],
    create_graph: bool,
    allow_unused: bool,
) -> tuple[Tensor | None, ...]:
    """``autograd.grad`` on tracers (see the Note): one gradient (or None) per input."""
    outs = [_tracer(trace, o) for o in outputs]
    for i, o in enumerate(outs):
        if not o.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
    ins = [_tracer(trace, t) for t in inputs]
    if any(not t.requires_grad for t in ins):
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    seeds = make_grads(list(outs), list(grad_outputs))
    wrt = list(dict.fromkeys(t._var for t in ins))
    sub = _cut(trace, [o._var for o in outs], wrt)
    fresh: frozenset[int] = frozenset()
    if trace_state.current() is trace:  # (a nested transform's trace: the recorded form)
        stable, fired = stabilize_report(sub)
        if fired and not any(rule in DROPS_OPERANDS for rule, _ in fired):  # (x*y/y -> x: y
            recorded = {id(e) for e in sub.eqns}  # keeps its zero gradient: not taken)
            fresh = frozenset(id(e) for e in stable.eqns if id(e) not in recorded)
            sub = stable
    feeds = [_alias(trace, v, False) for v in sub.inputs]
    builder = InlineBuilder(trace, feeds, list(sub.outputs), seeds, fresh)  # type: ignore[arg-type]
    fixed, loc = trace.fixed_loc, trace.loc
    trace.fixed_loc = True
    try:
        with set_grad_enabled(create_graph):
            joint = adjoint(sub, range(len(wrt)), builder)
    finally:
        trace.fixed_loc, trace.loc = fixed, loc
    grads = builder.values[len(outs) :]
    by_var = {v: (g if hit else None) for v, g, hit in zip(wrt, grads, joint.reached, strict=True)}
    results: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = by_var[t._var]
        if g is None and not allow_unused:
            raise RuntimeError(UNUSED.format(i))
        if g is not None:
            g = _own(trace, g, create_graph)
        results.append(g)
    return tuple(results)


def _tracer(trace: Trace, t: Any) -> Tracer:
    from .tracer import Tracer

    if isinstance(t, Tracer) and t._trace is trace:
        return t
    if isinstance(t, Tensor):  # from outside, or an enclosing trace's value (as Trace.atom)
        return trace.lift(t)
    raise TypeError(f"autograd.grad expects Tensors, got {type(t).__name__}")


def _own(trace: Trace, g: Any, create_graph: bool) -> Tensor:
    """A gradient as the caller sees it: a tracer of this trace whose ``requires_grad`` is
    PyTorch's (it depends on something that requires grad, and create_graph was set)."""
    owner = getattr(g, "_trace", None)
    if owner is not None and owner is not trace:  # built into the active (inner) trace
        return g
    var = g._var if owner is trace else trace.atom(g)
    assert isinstance(var, Var)
    own = _alias(trace, var, create_graph and trace.depends_on_grad(var))
    trace.track(own)  # (a segment's output when it lives past a graph break)
    return own


def trace_backward(
    trace: Trace,
    tensors: Sequence[Tensor],
    grad_tensors: Sequence[Any],
    create_graph: bool,
    inputs: Sequence[Tensor] | None,
) -> None:
    """``backward()`` on tracers: gradients of every leaf (or of ``inputs``) accumulated into
    ``.grad`` (see the Note)."""
    leaves = [_tracer(trace, t) for t in inputs] if inputs is not None else trace.grad_leaves()
    if not leaves:
        for i, t in enumerate(tensors):
            if not t.requires_grad:
                raise RuntimeError(
                    f"element {i} of tensors does not require grad and does not have a grad_fn"
                )
        return
    grads = trace_grad(trace, tensors, leaves, grad_tensors, create_graph, allow_unused=True)
    for leaf, g in _ready_order(trace, leaves, grads):
        trace.accumulate_grad(leaf, g, create_graph)
    if not create_graph:
        trace.backward_done = True  # the function consumed its graph (Entry.consumed)
    for t in list(trace.retained.values()) if inputs is None else ():
        at = t if t._prehook_var is None else _alias(trace, t._prehook_var, True)
        (g,) = trace_grad(trace, tensors, [at], grad_tensors, create_graph, allow_unused=True)
        if g is not None:
            t.grad = g if t.grad is None else cast(Any, t.grad) + g
    if trace.boundary and getattr(trace, "session", None) is not None:
        # the eager engine takes the gradients on from tensors an earlier segment computed
        # when this segment has run: run it now, so that what follows (an optimizer step)
        # reads the finished .grad (Note [graph breaks] in breaks.py)
        trace.split("backward() into an earlier segment", "backward() across a graph break")


def _ready_order(
    trace: Trace, leaves: Sequence[Tracer], grads: Sequence[Any]
) -> list[tuple[Tracer, Any]]:
    """The leaves with a gradient, in the order the program makes their gradients (the
    position of each gradient's equation) when any has post-accumulate-grad hooks: those
    hooks run as the eager engine runs them, as each gradient is ready (DDP's reducer
    records that order to rebuild its buckets, Note [DDP bucket plan]); else as given."""
    pairs = [(leaf, g) for leaf, g in zip(leaves, grads, strict=True) if g is not None]
    hooked = False
    for leaf, _ in pairs:
        where = trace.outside_of(leaf)
        t = where[1] if where is not None and where[0] != "arg" else leaf
        hooked = hooked or bool(getattr(t, "_post_accumulate_hooks", None))
    if not hooked:
        return pairs
    made: dict[Any, int] = {e.out: i for i, e in enumerate(trace.eqns)}
    return sorted(pairs, key=lambda p: made.get(getattr(p[1], "_var", None), -1))


class HookRule:
    """The derivative rule of a tensor hook registered while tracing: the cotangent passes
    through ``hook`` (a CUSTOM_VJP identity, Note [custom functions traced] in ir/custom.py)."""

    def __init__(self, hook: Callable[[Tensor], Tensor | None]) -> None:
        self.hook = hook

    def __repr__(self) -> str:
        return f"hook {getattr(self.hook, '__qualname__', self.hook)!s}"

    def vjp(self, g: Tensor, out: Tensor, inputs: Sequence[Any], needs: tuple[bool, ...]) -> tuple:
        result = self.hook(g)
        return (g if result is None else result,)


def hooked(t: Tracer, hook: Callable[[Tensor], Tensor | None]) -> Var:
    """``t``'s value passed through a hook equation (its derivative rule calls ``hook``)."""
    trace = t._trace
    if any(t._var in e.inputs for e in trace.eqns):
        raise TracingError(
            "register_hook inside a compiled function on a tensor that was already used: "
            "register the hook right after the tensor is made, before any use"
        )
    with set_grad_enabled(True):
        out = cast("Tracer", apply(Op.CUSTOM_VJP, t, rule=HookRule(hook)))
    return out._var


def detached_var(t: Tracer) -> Var:
    """A fresh variable for ``t``'s value that no gradient flows through (a new leaf)."""
    with no_grad():
        return cast("Tracer", apply(Op.DETACH, t))._var


__all__ = ["HookRule", "InlineBuilder", "hooked", "trace_backward", "trace_grad"]
