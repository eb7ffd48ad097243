"""Segment mode's fast path: adjit's own nn modules re-emit a recorded call instead of running."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..ir.dtypes import get_default_dtype
from ..ir.graph import Eqn, Lit, Var
from ..ir.ops import GroupOp
from .guards import mode_key, spec_key
from .pytree import flatten, unflatten
from .tracer import Tracer

if TYPE_CHECKING:
    from .breaks import SegmentTrace


def remember(attrs: dict[str, Any]) -> None:
    from .breaks import remember as freeze_once

    freeze_once(attrs)


# Note [module call templates]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# A function with graph breaks runs its Python on every call (Note [graph breaks]), and most of
# that time is spent inside library code re-recording the same equations: a Linear layer's
# forward, dispatch, shape inference. A call of one of adjit's own nn modules (the module and
# every submodule defined in adjit.nn, without hooks) has no Python side effects and records
# equations that depend only on: the module's state (its parameters' and buffers' identities,
# shapes, dtypes and requires_grad, training flags and plain attributes such as ``p`` or
# ``eps``), the arguments' avals and requires_grad (and non-tensor values), grad mode (and CPU
# autocast: guards.mode_key) and the default dtype. So the first call in segment mode records
# its equations as a template keyed by all of that, and later calls with the same key append
# the template's equations (fresh variables, the same operations, attributes and wiring)
# without running the module. A call
# that does anything else while it runs (a graph break, random numbers, an in-place update of
# a buffer or argument, a view of an argument returned, ``.grad`` writes) is never templated.

_PLAIN = (bool, int, float, str, type(None), tuple)
_PLAIN_TYPES = frozenset(_PLAIN)
_MAX_TEMPLATES = 512

Kind = tuple[str, Any]  # ("local", i) | ("arg", i) | ("lifted", tensor) | ("const", array) | lit


class Template:
    """The equations of one module call, with where each operand comes from."""

    def __init__(self) -> None:
        self.body: list[tuple[Any, tuple[Kind, ...], dict[str, Any], Any, bool]] = []
        self.out_spec: Any = None
        self.outs: list[tuple[str, Any, bool]] = []  # ("local", i, requires_grad) / ("value", v)


def fingerprint(module: Any) -> tuple | None:
    """The module tree's state the recorded equations depend on, or None when it is not one
    of adjit's own modules without hooks throughout."""
    from ..nn import _module_hooks as hooks

    if hooks._global_forward_pre_hooks or hooks._global_forward_hooks:
        return None
    parts: list[Any] = []
    for m in module.modules():
        if not type(m).__module__.startswith("adjit.nn"):
            return None
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks:
            return None
        if m._backward_pre_hooks or m._compiled_call_impl is not None:
            return None
        tensors = (*m._parameters.values(), *m._buffers.values())
        if any(isinstance(t, Tracer) for t in tensors):  # made inside the function
            return None
        params = tuple(
            None if p is None else (id(p), p._requires_grad, p._data.shape, p._data.dtype)
            for p in m._parameters.values()
        )
        buffers = tuple(
            None if b is None else (id(b), b._data.shape, b._data.dtype)
            for b in m._buffers.values()
        )
        plain = [v for v in m.__dict__.values() if type(v) in _PLAIN_TYPES]
        parts.append((id(m), params, buffers, *plain))
    return tuple(parts)


def _arg_key(trace: SegmentTrace, leaves: list[Any]) -> tuple | None:
    key: list[Any] = []
    for x in leaves:
        if type(x) is Tracer:
            if x._trace is not trace or x._view_of is not None:
                return None
            key.append((x._var.aval, x._requires_grad))
        elif isinstance(x, _PLAIN) and not hasattr(x, "_data"):
            key.append(("value", type(x), x))
        else:
            return None
    return tuple(key)


def call_module(
    trace: SegmentTrace, module: Any, args: tuple, kwargs: dict, run: Callable[..., Any]
) -> Any:
    """``module(*args, **kwargs)`` while recording a segment: from its template when one
    matches, else run (and recorded as a template when it qualifies)."""
    leaves, spec = flatten((args, kwargs))
    akey = _arg_key(trace, leaves)
    fp = fingerprint(module) if akey is not None else None
    if fp is None:
        return run(module, args, kwargs)
    key = (id(module), spec_key(spec), akey, fp, mode_key(), get_default_dtype())
    memo = trace.session.cf._module_memo
    try:
        template = memo.get(key)
    except TypeError:  # an unhashable plain attribute
        return run(module, args, kwargs)
    if template is not None:
        return _replay(trace, template, [x for x in leaves if type(x) is Tracer])
    out = _record(trace, module, args, kwargs, leaves, run)
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Template):
        if len(memo) > _MAX_TEMPLATES:
            memo.clear()
        memo[key] = out[1]
        return out[0]
    return out


def _record(
    trace: SegmentTrace,
    module: Any,
    args: tuple,
    kwargs: dict,
    leaves: list[Any],
    run: Callable[..., Any],
) -> Any:
    tensors = [x for x in leaves if type(x) is Tracer]
    arg_vars = {x._var: i for i, x in enumerate(tensors)}
    before = (len(trace.mutated), len(trace.slots), len(trace.optimizers), len(trace.arg_grads))
    n_replays = len(trace.replays)  # Python to run on every call (Note [eager on every call])
    fp = fingerprint(module)
    n0 = len(trace.eqns)
    out = run(module, args, kwargs)
    session = trace.session
    if (
        session.trace is not trace  # a graph break inside
        or before
        != (len(trace.mutated), len(trace.slots), len(trace.optimizers), len(trace.arg_grads))
        or any(x._var not in arg_vars or x._view_of is not None for x in tensors)
        or fingerprint(module) != fp
        or len(trace.replays) != n_replays
    ):
        return out
    lifted = {}
    for t in trace.lifted:
        tr = trace._lifted_ids.get(id(t))
        if tr is not None:
            lifted[tr._var] = t
    consts = dict(trace.consts)
    template = Template()
    local: dict[Var, int] = {}
    for e in trace.eqns[n0:]:
        if e.op in GroupOp.EFFECTS:
            return out
        kinds: list[Kind] = []
        for a in e.inputs:
            if isinstance(a, Lit):
                kinds.append(("lit", a))
            elif a in local:
                kinds.append(("local", local[a]))
            elif a in arg_vars:
                kinds.append(("arg", arg_vars[a]))
            elif a in lifted:
                kinds.append(("lifted", lifted[a]))
            elif a in consts:
                kinds.append(("const", (consts[a], a.aval)))
            else:
                return out  # a value from outside the call that is not an argument
        local[e.out] = len(local)
        remember(e.attrs)
        template.body.append((e.op, tuple(kinds), e.attrs, e.out.aval, e.no_grad))
    out_leaves, template.out_spec = flatten(out)
    for o in out_leaves:
        if type(o) is Tracer:
            if o._var not in local or o._view_of is not None or o._trace is not trace:
                return out
            template.outs.append(("local", local[o._var], o._requires_grad))
        elif isinstance(o, _PLAIN) and not hasattr(o, "_data"):
            template.outs.append(("value", o, False))
        else:
            return out
    return out, template


def _replay(trace: SegmentTrace, template: Template, tensors: list[Tracer]) -> Any:
    values: list[Var] = []
    eqns, consts, lifted = trace.eqns, trace.consts, trace._lifted_ids
    made: dict[int, Var] = {}  # id(constant array) -> its var in this trace
    for op, kinds, attrs, aval, no_grad in template.body:
        atoms: list[Any] = []
        for kind, x in kinds:
            if kind == "local":
                atoms.append(values[x])
            elif kind == "arg":
                atoms.append(tensors[x]._var)
            elif kind == "lifted":
                tr = lifted.get(id(x))
                atoms.append(tr._var if tr is not None else trace.atom(x))
            elif kind == "const":
                v = made.get(id(x[0]))
                if v is None:
                    v = made[id(x[0])] = Var(x[1])
                    consts.append((v, x[0]))
                atoms.append(v)
            else:
                atoms.append(x)
        out = Var(aval)
        eqns.append(Eqn(op, tuple(atoms), attrs, out, None, no_grad, trace.remat))
        values.append(out)
    leaves = []
    for kind, x, requires in template.outs:
        if kind == "local":
            leaves.append(trace.new_tracer(values[x], requires))
        else:
            leaves.append(x)
    return unflatten(template.out_spec, leaves)
