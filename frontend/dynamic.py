"""Dynamic shapes in ``adjit.compile``: which dims become symbols, and one trace at many sizes.

Note [one trace, many sizes]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~
PyTorch's policy (``dynamic=``): ``False`` specializes every size; ``True`` makes every
dimension of size >= 2 of every tensor argument a symbol from the first call; ``None`` (the
default) traces the first call static and, when a later call misses only because sizes changed,
traces once more with exactly the dims that changed symbolic ("automatic dynamic"). Dims named
by ``adjit.mark_dynamic(t, dim)`` are symbolic (unless ``dynamic=False``), ``mark_static`` ones
never. Sizes 0 and 1 are always specialized (Note [symbolic shapes] in ir/symbolic_shapes.py).

A symbolic trace is a *template* entry: its graph has symbolic sizes and its guards (a plain
Python function of the symbols' values). A call whose signature matches the template's pattern
(same structure, dtypes, requires_grad, ranks and static sizes) and whose sizes satisfy the
guards gets an *instance*: the template's graphs and plans (the adjoint, the optimized
forward/backward split) with every size replaced by its value (``ir/instantiate.py``). Tracing,
the adjoint and the pass pipeline run once per template; an instance costs a substitution. The
instance is an ordinary entry, so the fast paths (trampolines, the hot call) are the static
ones, at the static speed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..ir.instantiate import Instantiator
from ..passes.adjoint import Joint
from ..passes.split import Split
from ..runtime import trace_state
from ..runtime.tensor import Tensor

if TYPE_CHECKING:
    from .compile import Entry
    from .plans import TrainPlan

INSTANCES_PER_TEMPLATE = 64  # concrete sizes kept per template (least recently used go first)
TEMPLATES_PER_FUNCTION = 8  # symbolic traces kept per compiled function (the newest)
STRUCTURES_SEEN = 256  # argument structures whose sizes the default policy remembers


# -- the user's marks -------------------------------------------------------------------------


def mark_dynamic(t: Tensor, index: int | Sequence[int]) -> None:
    """Compile dimension(s) ``index`` of ``t`` with a symbolic size (``torch._dynamo.
    mark_dynamic``): one trace serves every size >= 2 of that dim."""
    dims = t.__dict__.setdefault("_dynamo_dynamic_indices", set())
    for d in _dims(t, index):
        dims.add(d)
        t.__dict__.get("_dynamo_static_indices", set()).discard(d)


def mark_static(t: Tensor, index: int | Sequence[int]) -> None:
    """Always specialize dimension(s) ``index`` of ``t`` (``torch._dynamo.mark_static``)."""
    dims = t.__dict__.setdefault("_dynamo_static_indices", set())
    for d in _dims(t, index):
        dims.add(d)
        t.__dict__.get("_dynamo_dynamic_indices", set()).discard(d)


def _dims(t: Tensor, index: int | Sequence[int]) -> list[int]:
    if not isinstance(t, Tensor):
        raise TypeError(f"mark_dynamic/mark_static expect a tensor, got {type(t).__name__}")
    out = []
    for d in [index] if isinstance(index, int) else list(index):
        if not -t.ndim <= d < t.ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-t.ndim}, {t.ndim - 1}],"
                f" but got {d})"
            )
        out.append(d % t.ndim)
    return out


# -- the policy -------------------------------------------------------------------------------


def structure(sig: tuple) -> tuple:
    """A signature without its sizes: calls that differ only in sizes share it."""
    spec, leaves, grad = sig
    return (spec, tuple(_leaf_structure(k) for k in leaves), grad)


def _leaf_structure(k: tuple) -> tuple:
    return ("tensor", len(k[1]), k[2], k[3]) if k[0] == "tensor" else k


def choose(
    policy: bool | None, leaves: list[Any], sig: tuple, seen: dict[tuple, Any]
) -> dict[int, frozenset[int]]:
    """Per tensor leaf (by position), the dims to trace symbolically at this call. ``seen``
    maps a structure to (the first sizes seen, the dims seen to change) and is updated."""
    key = structure(sig)
    if policy is False or ("static", key) in seen:  # (static: a pass refused symbolic sizes)
        return {}
    if trace_state.current() is not None:  # inlined into another trace: its sizes are its own
        return {}
    sizes = tuple(tuple(x.shape) if isinstance(x, Tensor) else None for x in leaves)
    first, changed = seen.get(key, (sizes, frozenset()))
    if policy is None:
        changed = changed | {
            (i, d)
            for i, (a, b) in enumerate(zip(first, sizes, strict=True))
            if a is not None and b is not None
            for d, (m, n) in enumerate(zip(a, b, strict=True))
            if m != n
        }
    seen[key] = (first, changed)
    while len(seen) > STRUCTURES_SEEN:  # (insertion order: the oldest structure goes)
        del seen[next(iter(seen))]
    out: dict[int, frozenset[int]] = {}
    for i, x in enumerate(leaves):
        if not isinstance(x, Tensor):
            continue
        marked = x.__dict__.get("_dynamo_dynamic_indices", ())
        static = x.__dict__.get("_dynamo_static_indices", ())
        dims = {
            d
            for d, n in enumerate(x.shape)
            if n >= 2 and d not in static and (policy is True or d in marked or (i, d) in changed)
        }
        if dims:
            out[i] = frozenset(dims)
    return out


# -- templates and instances --------------------------------------------------------------------


class Template:
    """What a symbolic entry knows to match a call: the pattern, the symbols' sources and the
    guard function; and its instances by sizes."""

    def __init__(self, env: Any, sig: tuple, sources: dict[Any, tuple[int, int]]) -> None:
        self.env = env
        self.sources = sources  # symbol -> (tensor leaf position, dim)
        self.symbols = list(env.symbols)
        self.where = [sources[s] for s in self.symbols]
        spec, leaves, grad = sig
        dynamic = set(sources.values())
        self.pattern = (
            spec,
            tuple(
                (k[0], tuple(None if (i, d) in dynamic else n for d, n in enumerate(k[1])), *k[2:])
                if k[0] == "tensor"
                else k
                for i, k in enumerate(leaves)
            ),
            grad,
        )
        self.guard_text = env.guard_source()
        self.check = env.guard_function(self.guard_text)
        self.instances: dict[tuple[int, ...], Entry] = {}

    def match(self, sig: tuple) -> tuple[int, ...] | None:
        """The symbols' values for a call with signature ``sig``, or None when it does not fit."""
        spec, leaves, grad = self.pattern
        if sig[0] != spec or sig[2] != grad or len(sig[1]) != len(leaves):
            return None
        for k, p in zip(sig[1], leaves, strict=True):
            if k[0] != p[0]:
                return None
            if k[0] != "tensor":
                if k != p:
                    return None
                continue
            if k[2:] != p[2:] or len(k[1]) != len(p[1]):
                return None
            if any(m is not None and m != n for m, n in zip(p[1], k[1], strict=True)):
                return None
        values = tuple(sig[1][i][1][d] for i, d in self.where)
        if any(v < 2 for v in values) or not self.check(*values):
            return None
        return values

    def describe(self) -> list[str]:
        return self.env.describe()

    def grown(self, shapes: list[tuple[int, ...]], by: int) -> list[tuple[int, ...]] | None:
        """The tensor leaves' ``shapes`` (in leaf order, as traced) with every free symbol ``by``
        larger and the dims tied to it following; None when the guards reject those sizes."""
        from ..ir.symbolic_shapes import evaluate

        env = self.env
        values = {s: env.hints[s] + by for s in env.symbols if s not in env.replacements}
        for s, r in env.replacements.items():
            r = env.simplify(r)
            values[s] = evaluate(r, values) if r.free_symbols else int(r)
        if not self.check(*(values[s] for s in self.symbols)):
            return None
        out = [list(shape) for shape in shapes]
        for s, (leaf, dim) in self.sources.items():
            out[leaf][dim] = values[s]
        return [tuple(shape) for shape in out]


def instance(template_entry: Entry, values: tuple[int, ...], sig: tuple) -> Entry:
    """The template at concrete sizes: an ordinary entry (cached per sizes)."""
    t = template_entry.symbolic
    assert t is not None
    found = t.instances.pop(values, None)
    if found is None:
        found = _instantiate(template_entry, dict(zip(t.symbols, values, strict=True)), sig)
    t.instances[values] = found  # most recently used last
    while len(t.instances) > INSTANCES_PER_TEMPLATE:
        t.instances.pop(next(iter(t.instances)))
    return found


def at_hints(entry: Entry, env: Any) -> Entry:
    """A symbolic trace's entry made static at the traced sizes (a graph-break segment: the
    function runs as segments, each traced per call structure, Note [graph breaks])."""
    e = _instantiate(entry, dict(env.hints), entry.sig)
    e.template = e.inst = None
    return e


def _instantiate(template: Entry, values: dict[Any, int], sig: tuple) -> Entry:
    inst = Instantiator(values)
    e = copy.copy(template)
    assert template.graph is not None
    e.sig, e.graph, e.plans = sig, inst.graph(template.graph), {}
    e.symbolic, e.template, e.inst = None, template, inst
    e.aliases = [
        None
        if a is None
        else (
            a[0],
            tuple(
                (op, {k: inst.attr(v) for k, v in attrs.items()}, name, g)
                for op, attrs, name, g in a[1]
            ),
        )
        for a in template.aliases
    ]
    return e


def instantiate_plan(plan: TrainPlan, inst: Instantiator) -> TrainPlan:
    """``plan`` (of a template) at concrete sizes: the same joint, optimized graph and split."""
    from .plans import TrainPlan

    j = plan.joint
    joint = Joint(inst.graph(j.graph), j.n_forward_eqns, j.n_outputs, j.wrt, j.cotangent_of,
                  j.pruned, j.reached)  # fmt: skip
    out = TrainPlan(plan.wrt, joint, 0.0)
    optimized, parts, records = plan._optimize()
    concrete = Split(
        inst.graph(parts.forward),
        inst.graph(parts.backward),
        tuple(inst.var(v) for v in parts.residuals),
        parts.saved_inputs,
        list(parts.recomputed),
    )
    out._optimized = (inst.graph(optimized), concrete, records)
    out._timings = dict(plan._timings)
    return out
