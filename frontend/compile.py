"""``adjit.compile``: trace once per signature, guard, cache, and run the graph."""

from __future__ import annotations

import functools
import threading
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from ..ir.graph import Graph
from ..ir.sizes import SymbolicShapeError, SymbolicSize
from ..runtime import forward_grad, trace_state
from ..runtime.autograd import gradient_edge
from ..runtime.dispatch import apply
from ..runtime.grad_mode import is_grad_enabled, set_grad_enabled
from ..runtime.tensor import Tensor
from ..runtime.trace_state import TracingError
from ..runtime.trampoline import MISS
from . import consumed_graph, dynamic, guards, inner_leaves, python_state
from .backends import BACKENDS, Runner, default_backend, make_runner
from .breaks import Break, SegmentTrace, Session, lift_literals, structure_key
from .cache import LRU, SEGMENTS_PER_ENTRY, config
from .compiled_node import CompiledFunctionBackward, node_type
from .dynamic import instantiate_plan
from .each_call import Replay, adopt, run_replays
from .effects import Watch
from .plans import TrainPlan, inference_graph, train_plan
from .prepared import Trampoline, compiled_call
from .python_state import roots
from .pytree import LEAF, flatten, unflatten
from .replay import replay
from .tracer import Alias, Trace, Tracer, tracing
from .writes import Writes, collect_writes, store

RECOMPILE_WARN_LIMIT = 8
TENSOR = "<tensor>"  # an output template's slot for a tensor result (None is a Python value)


@dataclass
class Entry:
    """One specialization: the traced graph and how to map arguments and results onto it."""

    sig: tuple
    graph: Graph | None
    out_spec: Any = None
    out_template: list[Any] = field(default_factory=list)  # non-tensor outputs, TENSOR slots
    lifted: list[Tensor] = field(default_factory=list)
    lifted_keys: list[tuple] = field(default_factory=list)
    eager_reason: str | None = None
    plans: dict[Any, Any] = field(default_factory=dict)  # inference graph / TrainPlan per wrt
    backend: str = "interpreter"
    fallback: str | None = None
    modules: list[tuple[Any, Any]] = field(default_factory=list)  # (module, module_guard) pairs
    mutated: list[Tensor] = field(default_factory=list)  # written back after each call
    # per mutated tensor: its index among the lifted ones when it is a gradient re-read at
    # every call (Writes.sources): the write goes to that call's gradient
    mutated_lifted: list[int | None] = field(default_factory=list)
    aliases: list[Alias | None] = field(default_factory=list)  # per tensor output (or empty)
    writes: Writes | None = None  # .grad and optimizer state a traced step stores
    bindings: list[tuple[Any, str, Any]] = field(default_factory=list)  # guards.bindings
    consumed: bool = False  # the function ran backward() itself: its outputs carry no graph
    segmented: bool = False  # graph breaks: runs in segment mode (Note [graph breaks])
    first_result: Any = field(default=MISS, repr=False)  # the breaking first call's result
    breaks: list[Any] = field(default_factory=list)  # the first call's breaks.Break list
    split: Any = None  # statements.Plan, False when refused (Note [statement-level breaks])
    # Note [one trace, many sizes] (dynamic.py): a symbolic entry's Template; an instance's
    # template entry and the Instantiator that made it
    symbolic: Any = None
    template: Entry | None = None
    inst: Any = None
    memory_budget: float = 1.0  # activation-memory budget of its training plans (remat.py)
    replays: list[Any] = field(default_factory=list)  # Note [eager on every call]
    # outputs computed from leaves made inside, and such leaves returned (Note [leaves made
    # inside a compiled function] in inner_leaves.py)
    inner: tuple[list[int], list[int]] = ([], [])

    @property
    def plain(self) -> bool:
        """Returns one tensor, with no lifted tensors and nothing written back."""
        return self._one_tensor_out and not self.lifted and not self.bindings

    @property
    def preparable(self) -> bool:
        """Returns one tensor and writes nothing back: a call is the program run on the
        arguments and the lifted tensors, once the guards hold (Note [guards written out])."""
        return self._one_tensor_out and not self.consumed

    @property
    def _one_tensor_out(self) -> bool:
        return (
            self.out_spec == LEAF
            and self.out_template == [TENSOR]
            and not self.mutated
            and not self.aliases
            and self.writes is None
            and not self.replays
            and not any(self.inner)
        )

    def inference(self) -> Graph:
        if "inference" not in self.plans:
            assert self.graph is not None
            if self.template is not None:  # the template's, at this instance's sizes
                self.plans["inference"] = self.inst.graph(self.template.inference())
            else:
                self.plans["inference"] = inference_graph(self.graph)
        return self.plans["inference"]

    def runner(self, graph: Graph, public: int | None = None) -> Runner:
        """``graph`` (one of this entry's) compiled for the entry's backend, cached; outputs
        from index ``public`` on are internal (Note [internal outputs])."""
        key = ("runner", id(graph))
        run = self.plans.get(key)
        if run is None:
            run = self._symbolic_runner(graph, public)
            if run is None:
                run = make_runner(graph, self.backend, self.fallback, public)
            self.plans[key] = run
        return run

    def _symbolic_runner(self, graph: Graph, public: int | None) -> Runner | None:
        """An instance's program: the template's, compiled once for every size, at this
        instance's sizes (no code generation per size); None where that does not apply."""
        if self.template is None or self.backend != "llvm":
            return None
        source = self.inst.sources.get(id(graph))  # the template's graph it instantiates
        if source is None:
            return None
        program = self.template.runner(source, public)
        at = getattr(program, "at", None)
        return at(self.inst) if at is not None else None

    def forward_runner(self, plan: TrainPlan) -> Runner:
        """``plan``'s forward program: its outputs, then residuals that only the backward
        reads, and which may share the inputs' memory; planned in one arena with the backward
        (Note [one arena for a training step])."""
        key = ("forward", id(plan))
        run = self.plans.get(key)
        if run is None:
            run = self.plans[key] = self.runner(plan.split.forward, plan.joint.n_outputs)
            from ..runtime.joint_arena import link_training  # (imports the executor)

            link_training(run, self.runner(plan.split.backward))
        return run

    def node_type(self, plan: TrainPlan) -> type[CompiledFunctionBackward]:
        """The grad_fn class of calls that differentiate by ``plan`` (cached)."""
        key = ("node", plan.wrt)
        cls = self.plans.get(key)
        if cls is None:
            cls = self.plans[key] = node_type(plan, self.runner(plan.split.backward))
        return cls

    def training(self, wrt: tuple[int, ...]) -> TrainPlan:
        if wrt not in self.plans:
            assert self.graph is not None
            if self.template is not None:  # the template's, at this instance's sizes
                self.plans[wrt] = instantiate_plan(self.template.training(wrt), self.inst)
            else:
                self.plans[wrt] = train_plan(self.graph, wrt, self.memory_budget)
        return self.plans[wrt]

    def lifted_ok(self) -> bool:
        if self.bindings and not guards.bindings_ok(self.bindings):
            return False
        if not self.lifted and not self.modules and self.writes is None:
            return True
        if self.writes is not None and not self.writes.still_valid(self.lifted):
            return False
        key_of = guards.leaf_key  # (loops, not all() over generators: every call runs this)
        for t, k in zip(self.lifted, self.lifted_keys, strict=True):
            if key_of(t) != k:
                return False
        for m, key in self.modules:  # noqa: SIM110
            if module_guard(m) != key:
                return False
        return True

    def realias(self, values: list[Any], inputs: list[Tensor]) -> list[Any]:
        """Outputs that are an input, or a view of one, returned as eager mode returns them
        (as torch.compile does): the input itself, or its view made again by the same view
        ops in the same grad modes, sharing its memory and with eager autograd's grad_fn."""
        if not self.aliases:
            return values
        values = list(values)
        for k, alias in enumerate(self.aliases):
            if alias is not None:
                position, steps = alias
                t = inputs[position]
                for op, attrs, name, grad_on in steps:
                    with set_grad_enabled(grad_on):
                        t = apply(op, t, name=name, **attrs)
                values[k] = t
        return values

    def write_back(self, values: list[Any], inputs: Sequence[Tensor] = ()) -> list[Any]:
        """Store the new values of mutated outside tensors (e.g. BatchNorm running stats) into
        them, in place as eager mode would, then the gradients and optimizer state a traced
        step stores; returns the user's outputs."""
        if not self.mutated and self.writes is None:
            return values
        n_extra = self.writes.n_outputs if self.writes is not None else 0
        n = len(values) - len(self.mutated) - n_extra
        news = values[n : n + len(self.mutated)]
        for i, (t, v) in enumerate(zip(self.mutated, news, strict=True)):
            k = self.mutated_lifted[i] if self.mutated_lifted else None
            if k is not None:  # (Note [.grad read while tracing] in tracer.py)
                t = self.lifted[k]
            if isinstance(v, Tracer):
                raise TracingError(
                    "a compiled function that updates buffers in place cannot "
                    "be called inside another compiled function yet"
                )
            store(t, v)
        if self.writes is not None:
            self.writes.apply(values[n + len(self.mutated) :], inputs)
        return values[:n]


class CompiledFunction:
    """What ``adjit.compile(fn)`` returns: call it like ``fn``."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        fallback: str | None = None,
        backend: str | None = None,
        fullgraph: bool = False,
        recompile_limit: int | None = None,
        name: str | None = None,
        dynamic: bool | None = None,
        memory_budget: float | None = None,
    ) -> None:
        if fallback not in (None, "eager", "interpreter"):
            raise ValueError(f"fallback must be None, 'eager' or 'interpreter', got {fallback!r}")
        backend = backend or default_backend()
        if backend not in (*BACKENDS, "eager"):  # "eager": replayed through eager ops
            raise ValueError(f"backend must be one of {(*BACKENDS, 'eager')}, got {backend!r}")
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]
        self.fn, self.fallback, self.backend = fn, fallback, backend
        self.fullgraph = fullgraph  # a graph break is an error (Note [graph breaks])
        # the transform that needs one whole graph (adjit.grad): a side effect is an error
        self.one_graph: str | None = None
        self.recompile_limit, self.name = recompile_limit, name
        self.dynamic = dynamic  # Note [one trace, many sizes] (dynamic.py)
        # activation-memory budget (passes/remat.py); None: adjit.compiler.config's
        self.memory_budget = memory_budget
        self._templates: list[Entry] = []  # symbolic entries, newest last
        self._sizes_seen: dict[tuple, Any] = {}  # structure -> first sizes, dims that changed
        _ALL.add(self)  # adjit.compiler.reset() clears every cache
        # segment structure -> its compiled plans (Note [bounded compile caches] in cache.py)
        self._segments: LRU[tuple, Entry] = LRU(self._segment_limit)
        self._module_memo: dict[tuple, Any] = {}  # Note [module call templates]
        self._numbers: dict[tuple, tuple] = {}  # segment structure -> last call's numbers
        self._dynamic: dict[tuple, frozenset[int]] = {}  # ... -> the ones made inputs
        self._state_changes = [0]  # Note [Python state read while tracing]
        self._breaks_warned = False
        self._lock = threading.RLock()
        # at most cache_size_limit entries, least recently used evicted (Note [bounded compile
        # caches] in cache.py); None: adjit.compiler.config's
        self.cache_size_limit: int | None = None
        self._entries: LRU[tuple, Entry] = LRU(self._cache_limit, self._evicted, self._lock)
        self._fast: dict[tuple, Entry] = {}  # guards.fast_key -> entry (positional tensors)
        # guards.fast_key -> the plain call's trampoline (None: the general path), written on
        # a signature's second call: a function called once never pays for writing it
        self._prepared: dict[tuple, Trampoline | None] = {}
        self._seen: set[tuple] = set()
        self._hot: Trampoline | None = None  # the last plain call's trampoline
        self.trace_count = 0
        self._warned = False
        self._fresh: Entry | None = None  # just traced: this call's Python already ran

    def __repr__(self) -> str:
        return f"<adjit.compile of {getattr(self.fn, '__qualname__', self.fn)!r}>"

    @property
    def _label(self) -> str:
        """The compiled callable's name for warnings (a module instance has no __qualname__)."""
        return str(self.name or getattr(self.fn, "__qualname__", type(self.fn).__qualname__))

    def _memory_budget(self) -> float:
        """This function's activation-memory budget, else the config's (read per trace)."""
        if self.memory_budget is not None:
            return self.memory_budget
        return config.activation_memory_budget

    def reset(self) -> None:
        """Forget every specialization (``adjit.compiler.reset``)."""
        with self._lock:
            tables = (self._entries, self._fast, self._prepared, self._segments, self._module_memo)
            for table in (*tables, self._numbers, self._dynamic, self._sizes_seen):
                table.clear()
            self._templates.clear()
            self._seen.clear()
            self._hot = None
            self.trace_count = 0
            self._warned = self._breaks_warned = False

    def __getattr__(self, name: str) -> Any:
        # a compiled nn.Module still exposes the module (parameters(), train(), ...)
        return getattr(self.__dict__["fn"], name)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if forward_grad.ACTIVE and forward_grad.any_dual((args, kwargs)):
            return self.fn(*args, **kwargs)  # dual tensors run eagerly (Note [eager forward AD])
        hot = self._hot
        if hot is not None and not kwargs:
            result = hot(args)
            if result is not MISS:
                return result
        key = None if kwargs or trace_state.current() is not None else guards.fast_key(args)
        entry = self._fast.get(key) if key is not None else None
        if entry is None or not entry.lifted_ok():
            leaves, spec = flatten((args, kwargs))
            entry = self.entry_for(leaves, spec, (args, kwargs))
            if key is not None:
                self._fast[key] = entry
        self._hot = None  # back only if this call is the hot one's (Note [hot entry recency])
        self._entries.touch(entry)
        if entry.eager_reason is not None:
            return self.fn(*args, **kwargs)
        if entry.segmented:
            return self._segment_call(entry, args, kwargs)
        if key is not None and entry.preparable and entry.backend != "eager":  # one tensor
            # out, nothing written back
            result = execute(entry, [*args, *entry.lifted])[0]
            if key in self._prepared:
                self._hot = self._prepared[key]
            elif key in self._seen:
                self._hot = self._prepared[key] = compiled_call(entry, key)
            else:
                self._seen.add(key)
            return result
        return self._run(entry, list(args) if key is not None else flatten((args, kwargs))[0])

    def _cache_limit(self) -> int | None:
        limit = self.cache_size_limit
        return limit if limit is not None else config.cache_size_limit

    def _segment_limit(self) -> int | None:
        limit = self._cache_limit()
        return None if limit is None else limit * SEGMENTS_PER_ENTRY

    def _evicted(self, sig: tuple, entry: Entry) -> None:
        """Drop an evicted entry (and any other not cached any more) from every table that
        reaches it, so it never runs again (Note [bounded compile caches] in cache.py)."""
        # (snapshots: a call in another thread may add to these tables meanwhile)
        fast = list(self._fast.items())
        for key in [k for k, e in fast if e is entry or not self._entries.holds(e)]:
            self._fast.pop(key, None)
            self._prepared.pop(key, None)
            self._seen.discard(key)
        if self._hot is not None and all(t is not self._hot for t in list(self._prepared.values())):
            self._hot = None

    def entry_for(self, leaves: list[Any], spec: Any, tree: Any = None) -> Entry:
        """The cached specialization for these arguments (flattened from ``tree``, when
        given), tracing on a miss."""
        sig = guards.signature(leaves, spec)
        entry = self._entries.get(sig)
        if entry is not None and entry.lifted_ok():
            return entry
        with self._lock:
            entry = self._entries.get(sig)
            if entry is not None and entry.lifted_ok():
                return entry
            found = self._instance(sig)
            if found is not None:
                self._entries[sig] = found
                return found
            reason = "lifted tensor changed" if entry is not None else self._miss_reason(sig)
            limit = self.recompile_limit
            if limit is not None and self.trace_count >= limit:
                entry = self._over_limit(sig, reason)
            else:
                dims = dynamic.choose(self.dynamic, leaves, sig, self._sizes_seen)
                entry = self._trace(leaves, spec, sig, dims, tree)
                if entry.symbolic is not None:
                    entry = self._template(entry, leaves, spec, sig, tree)
                self._fresh = entry if entry.replays else None
            self._entries[sig] = entry
            self._warn_recompiles(reason)
            return entry

    def _instance(self, sig: tuple) -> Entry | None:
        """A symbolic entry's instance for this signature, when one fits (newest first)."""
        for template in reversed(self._templates):
            assert template.symbolic is not None
            values = template.symbolic.match(sig)
            if values is not None and template.lifted_ok():
                return dynamic.instance(template, values, sig)
        return None

    def _template(
        self, entry: Entry, leaves: list[Any], spec: Any, sig: tuple, tree: Any = None
    ) -> Entry:
        """A symbolic trace's entry kept as a template; this call's instance. Where a pass
        cannot work with symbolic sizes, this signature is traced again, static."""
        assert entry.symbolic is not None
        values = tuple(entry.symbolic.env.hints[s] for s in entry.symbolic.symbols)
        found = dynamic.instance(entry, values, sig)
        try:  # build this call's plan now: a refusal shows here, not mid-call
            wrt = differentiated([x for x in leaves if isinstance(x, Tensor)] + entry.lifted)
            if wrt and not entry.consumed:
                found.training(wrt).split  # noqa: B018 - builds the plan
            else:
                found.inference()
        except SymbolicShapeError as e:
            self._sizes_seen[("static", dynamic.structure(sig))] = str(e)
            return self._trace(leaves, spec, sig, {}, tree)
        self._templates.append(entry)
        del self._templates[: -dynamic.TEMPLATES_PER_FUNCTION]  # the oldest go first
        return found

    def _over_limit(self, sig: tuple, reason: str) -> Entry:
        """torch.compile's recompile_limit: past it, a new signature runs eagerly."""
        text = (
            f"adjit.compile: {self._label} reached recompile_limit={self.recompile_limit} "
            f"(last miss because {reason})"
        )
        if self.fullgraph:
            raise RuntimeError(text)
        warnings.warn(text + "; running this signature eagerly", stacklevel=4)
        return Entry(sig, None, eager_reason=text)

    def _miss_reason(self, sig: tuple) -> str:
        if not self._entries:
            return "first call"
        last = list(self._entries)[-1]
        return guards.diff(last, sig)

    def _warn_recompiles(self, reason: str) -> None:
        if self.trace_count > RECOMPILE_WARN_LIMIT and not self._warned:
            self._warned = True
            warnings.warn(
                f"adjit.compile: {self._label} has been traced "
                f"{self.trace_count} times (last because {reason}); each new "
                "signature (shape, dtype, requires_grad, grad mode, Python values) "
                "compiles again. Keep these stable across calls.",
                stacklevel=4,
            )

    def _trace(
        self,
        leaves: list[Any],
        spec: Any,
        sig: tuple,
        dims: dict[int, frozenset[int]],
        tree: Any = None,
    ) -> Entry:
        self.trace_count += 1
        # graph breaks split the call into segments (Note [graph breaks] in breaks.py), except
        # inlined into an outer trace
        session = None if trace_state.current() is not None else Session(self)
        trace = Trace() if session is None else session.trace
        traced = [
            trace.new_arg(x, dims.get(i, ()), f"inputs[{i}]")
            if isinstance(x, Tensor) and not x._sparse  # (a sparse one: Note [sparse tensors])
            else x
            for i, x in enumerate(leaves)
        ]
        trace.sym_sources = {
            cast(Any, n).expr: (i, d)
            for i, x in enumerate(traced)
            if isinstance(x, Tracer)
            for d, n in enumerate(x._var.aval.shape)
            if isinstance(n, SymbolicSize)
        }
        args, kwargs = unflatten(spec, traced, tree)
        try:
            with tracing(trace):
                if session is None:  # (inlined: the outer trace watches)
                    out = self.fn(*args, **kwargs)
                else:
                    out = self._watched(session, args, kwargs)
                if session is not None and session.broke:
                    out = session.finish(out)
        except TracingError as e:
            collect_writes(trace, restore_only=True)
            if self.fallback != "eager" or (session is not None and session.broke):
                raise
            warnings.warn(
                f"adjit.compile: running {self._label} eagerly for this signature: {e}",
                stacklevel=4,
            )
            return Entry(sig, None, eager_reason=str(e))
        except BaseException:
            collect_writes(trace, restore_only=True)
            raise
        if session is not None and session.broke:
            self._warn_breaks(session)
            breaks = session.record.breaks
            return Entry(sig, None, segmented=True, first_result=out, breaks=breaks)
        return self._entry_from(trace, out, traced, sig)

    def _watched(self, session: Session, args: tuple, kwargs: dict) -> Any:
        """The traced call, watched for Python side effects: any makes it a graph break (Note
        [Python side effects while tracing] in effects.py)."""
        watch = Watch(self.fn, args, kwargs)
        with watch:
            out = self.fn(*args, **kwargs)
        found = watch.breaks(out, replayable=self.one_graph is None)
        if found and self.one_graph is not None:
            raise TracingError(
                f"{self.one_graph} compiles its function as one graph, whose Python runs only "
                f"once, when tracing; it has a {found[0].reason} (Python that must run on "
                "every call): move it out of the function, or differentiate with "
                "adjit.autograd.grad",
                found[0].loc,
            )
        for fn, fn_args in watch.replays:  # Note [Python side effects while tracing]
            session.trace.replays.append(Replay(fn, fn_args, False))
        if not found and self._state_changes[0] >= python_state.CHANGES_TO_SEGMENTS:
            why = "the Python state it reads changes between calls"
            found = [Break(why, None)]
        if found:
            session.side_effects(found)
        elif not session.broke:  # Note [Python state read while tracing]
            trace = session.trace
            start = roots(self.fn, args, kwargs)
            modules = list(trace.modules.values())
            guard = python_state.state_guard(
                start, modules, trace, self._state_changes, watch.exempted
            )
            if guard is not None:
                trace.bindings.append((guard, "python state", True))
        return out

    def _entry_from(self, trace: Trace, out: Any, traced: list[Any], sig: tuple) -> Entry:
        """The specialization of a finished trace of a call that returned ``out``."""
        writes = collect_writes(trace)
        out_leaves, out_spec = flatten(out)
        inner_leaves.refuse_traced_objects(out_leaves)
        tensors = [o for o in out_leaves if isinstance(o, Tensor)]
        template = [TENSOR if isinstance(o, Tensor) else o for o in out_leaves]
        graph = trace.graph(tensors, writes.values if writes is not None else ())
        inputs = [x for x in traced if isinstance(x, Tracer)]
        inputs += [trace.lift(t) for t in trace.lifted]
        aliases = trace.aliases(tensors, inputs)
        entry = Entry(
            sig,
            graph,
            out_spec,
            template,
            list(trace.lifted),
            [guards.leaf_key(t) for t in trace.lifted],
            backend=self.backend,
            fallback=None if self.fallback is None else "interpreter",
            modules=[(m, module_guard(m)) for m in trace.modules.values()],
            mutated=[t for t, _ in trace.mutated.values()],
            mutated_lifted=_mutated_sources(trace, writes),
            aliases=aliases if any(aliases) else [],
            writes=writes,
            consumed=trace.backward_done,
            bindings=guards.bindings(self.fn) + trace.bindings,
            replays=list(trace.replays),
            memory_budget=self._memory_budget(),
            inner=inner_leaves.leaf_outputs(graph, trace.made_leaf_vars),
        )
        if trace.shape_env is not None:  # Note [one trace, many sizes]
            env = trace.shape_env
            env.freeze()
            if not sig:  # a segment before a graph break: this call's sizes, static
                return dynamic.at_hints(entry, env)
            entry.symbolic = dynamic.Template(env, sig, trace.sym_sources)
        return entry

    def _run(self, entry: Entry, leaves: list[Any]) -> Any:
        assert entry.graph is not None
        inputs = [x for x in leaves if isinstance(x, Tensor)] + entry.lifted
        replay = bool(entry.replays) and self._fresh is not entry
        self._fresh = None
        if entry.replays:  # Note [eager on every call]; inside another trace, also its own
            adopt(entry.replays, entry.bindings)
        if replay:
            run_replays(entry.replays, before=True)
        results = iter(self._execute(entry, inputs))
        if replay:
            run_replays(entry.replays, before=False)
        outs = [next(results) if t is TENSOR else t for t in entry.out_template]
        return unflatten(entry.out_spec, outs)

    @staticmethod
    def _execute(entry: Entry, inputs: list[Tensor]) -> list[Any]:
        """Run ``entry`` on its tensor inputs: write-backs done, aliases made again."""
        return entry.realias(entry.write_back(execute(entry, inputs), inputs), inputs)

    # ---- graph breaks (Note [graph breaks] in breaks.py) -----------------------------------
    def _segment_call(self, entry: Entry, args: tuple, kwargs: dict) -> Any:
        result = entry.first_result
        if result is not MISS:  # the call that found the breaks has run already
            entry.first_result = MISS
            return result
        if trace_state.current() is not None:  # inside another trace: part of it
            return self.fn(*args, **kwargs)
        plan = entry.split  # Note [statement-level breaks] in statements.py
        if not plan or plan.dead:
            from .statements import usable_plan  # (it builds CompiledFunctions)

            plan = usable_plan(self, entry)
        if plan is not None:
            return plan(args, kwargs)
        return Session(self).run(*flatten((args, kwargs)), (args, kwargs))

    def _segment_entry(self, trace: SegmentTrace, live: list[Tracer]) -> tuple[Entry, list[Tensor]]:
        """The specialization for one segment (its compiled plans shared with every earlier
        segment of the same structure), and the extra inputs it takes: the Python numbers
        that changed between calls (Note [numbers seen after a break] in breaks.py)."""
        first = [x for r in trace.arg_tracers if type(x := r()) is Tracer and x._trace is trace]
        entry = self._entry_from(trace, live, first, ())
        shape, lits = structure_key(entry)
        values = tuple(x.value if k >= 0 else (x.dtype.str, x.tobytes()) for k, _, x in lits)
        dynamic = self._dynamic.get(shape, frozenset())
        key = (shape, tuple(v for i, v in enumerate(values) if i not in dynamic))
        cached = self._segments.get(key)
        if cached is None:
            seen = self._numbers.get(shape)
            self._numbers[shape] = values
            changed = frozenset(
                i
                for i, v in enumerate(seen or values)
                if v != values[i] and type(values[i]).__name__ in ("float", "int", "bool", "tuple")
            )
            if changed - dynamic:  # numbers that differ from the last call's: inputs now
                dynamic = self._dynamic[shape] = dynamic | changed
                key = (shape, tuple(v for i, v in enumerate(values) if i not in dynamic))
                cached = self._segments.get(key)
        extra: list[Tensor] = []
        if dynamic:
            assert entry.graph is not None
            entry.graph, arrays = lift_literals(entry.graph, lits, dynamic)
            extra = [Tensor._make(a) for a in arrays]
        if cached is None:
            self._segments[key] = entry
        else:
            entry.plans = cached.plans
            self._segments.touch(cached)
        entry.sig = key
        return entry, extra

    def _warn_breaks(self, session: Session) -> None:
        if self._breaks_warned:
            return
        self._breaks_warned = True
        breaks = session.record.breaks
        warnings.warn(
            f"adjit.compile: {self._label} has {len(breaks)} graph break"
            f"{'s' if len(breaks) != 1 else ''} (first: {breaks[0]}); it runs as compiled "
            "segments with Python in between. adjit.explain(fn, *args) lists them; "
            "fullgraph=True makes a break an error.",
            stacklevel=_user_stacklevel(),
        )

    def graph_for(self, *args: Any, **kwargs: Any) -> tuple[Entry, list[Any]]:
        leaves, spec = flatten((args, kwargs))
        entry = self.entry_for(leaves, spec)
        self._fresh = None  # (not run: a later call replays)
        return entry, leaves


def execute(entry: Entry, inputs: list[Tensor]) -> list[Any]:
    """Run a specialization: inline into an enclosing trace, or interpret (with a compiled
    backward attached when an input requires grad)."""
    outs = _execute_graph(entry, inputs)
    if any(entry.inner) and not any(isinstance(o, Tracer) for o in outs):
        inner_leaves.mark(outs, *entry.inner, entry.consumed)
    return outs


def _execute_graph(entry: Entry, inputs: list[Tensor]) -> list[Any]:
    assert entry.graph is not None
    if entry.backend == "eager":  # PyTorch's "eager" backend: the graph through eager ops
        return replay(entry.graph, inputs)
    arrays = []
    for t in inputs:
        if isinstance(t, Tracer):
            return replay(entry.graph, inputs)  # called while tracing: part of that graph
        arrays.append(t._data)
    wrt = differentiated(inputs)
    plan = entry.training(wrt) if wrt and not entry.consumed else None
    if plan is None or not plan.joint.cotangent_of:  # nothing to differentiate
        outs = [Tensor._make(a) for a in entry.runner(entry.inference())(arrays)]
        if wrt and entry.consumed:  # Note [outputs of a consumed graph]
            consumed_graph.mark(outs, entry.graph, wrt)
        return outs
    n_out = plan.joint.n_outputs
    values = entry.forward_runner(plan)(arrays)
    make = Tensor._make
    outs = [make(a) for a in values[:n_out]]
    edges = tuple(
        gradient_edge(inputs[i]) if hit else (None, 0)
        for i, hit in zip(plan.wrt, plan.joint.reached, strict=True)
    )
    node = entry.node_type(plan)(inputs, values[n_out:], edges)
    for nr, k in enumerate(plan.joint.cotangent_of):
        outs[k]._grad_fn, outs[k]._output_nr = node, nr
    return outs


def _mutated_sources(trace: Trace, writes: Writes | None) -> list[int | None]:
    """Per tensor the trace wrote in place: its lifted index if it is a gradient re-read at
    every call (``Writes.sources``), else None; empty when there is none."""
    sources = {k for k, _ in writes.sources} if writes is not None else set()
    if not sources:
        return []
    at = {id(t): k for k, t in enumerate(trace.lifted)}
    found = [at.get(id(t)) for t, _ in trace.mutated.values()]
    return [k if k in sources else None for k in found]


def differentiated(inputs: Sequence[Tensor]) -> tuple[int, ...]:
    """The positions of the inputs a call differentiates: under grad mode, those that require
    grad or carry a graph."""
    if not is_grad_enabled():
        return ()
    return tuple(i for i, t in enumerate(inputs) if t._requires_grad or t._grad_fn is not None)


def _user_stacklevel() -> int:
    """``warnings.warn``'s stacklevel that points at the user's line (outside adjit)."""
    import sys

    f: Any = sys._getframe(1)
    level = 1
    while f is not None and f.f_code.co_filename.startswith(trace_state._OWN):
        f, level = f.f_back, level + 1
    return level


def module_guard(m: Any) -> Any:
    """What a traced module call assumes: its ``training`` flag and which hooks it has (a
    hook added or removed after tracing traces again: it must run, or stop running)."""
    guard = getattr(m, "_compile_guard", None)
    return guard() if guard is not None else m.training


_ALL: weakref.WeakSet[CompiledFunction] = weakref.WeakSet()

from .surface import compile  # noqa: E402  (it builds CompiledFunctions)

__all__ = ["CompiledFunction", "Tracer", "compile"]
