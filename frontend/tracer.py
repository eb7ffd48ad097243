"""Tracer tensors: run the user's function symbolically and record every primitive as IR."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Sequence
from math import prod
from typing import Any, cast

import numpy as np

from ..ir.aval import Aval
from ..ir.dtypes import DType, int64, scalar_dtype
from ..ir.errors import with_notes
from ..ir.graph import Atom, Eqn, Graph, Lit, Var
from ..ir.ops import Op
from ..ir.shapes import infer
from ..ir.sizes import SymbolicShapeError
from ..runtime import forward_grad, trace_state
from ..runtime.dispatch import VIEW_OPS
from ..runtime.grad_mode import is_grad_enabled, set_grad_enabled
from ..runtime.inplace import _refresh_views as refresh_views
from ..runtime.inplace import kept_history
from ..runtime.tensor import NON_LEAF_REQUIRES_GRAD, Size, Tensor
from ..runtime.trace_state import TracingError, user_location
from .trace_autograd import trace_backward, trace_grad

ViewStep = tuple[Op, dict[str, Any], "str | None", bool]  # (op, attrs, grad_fn name, grad mode)
Alias = tuple[int, tuple[ViewStep, ...]]  # (input position, view ops from it to the output)

DATA_DEPENDENT = (
    "adjit.compile traced a use of a tensor's value ({what}), which is not known "
    "while tracing. Use adjit.where(cond, a, b) for value-dependent choices, "
    "adjit.compile(fn) without fullgraph=True to split the function there (a graph break), "
    "or adjit.compile(fn, fallback='eager') to run such calls eagerly."
)


class Tracer(Tensor):
    """A tensor whose value is an IR variable of the trace being built."""

    _is_tracer = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Tracer:
        return object.__new__(cls)

    def __init__(
        self,
        trace: Trace,
        var: Var,
        requires_grad: bool,
        view_of: Any = None,
        view_step: ViewStep | None = None,
    ) -> None:
        self._trace, self._var = trace, var
        self._requires_grad = requires_grad
        self._grad_fn = None
        self._weak = False
        self._version_box = [0]
        self.grad = None
        self._accumulate = None
        self._hooks: list[Callable[..., Any]] = []
        self._post_accumulate_hooks: list[Callable[..., Any]] = []
        self._retains_grad = False
        self._view_of = view_of  # the tracer this one is a view of (in-place needs care)
        self._view_step = view_step  # how to make this view of ``_view_of`` again (one input)
        self._has_views = False
        self._views: list[weakref.ref[Tracer]] = []  # its views (Note [writes through views])
        self._detached_from: Tracer | None = None  # (Note [detached aliases while tracing])
        self._detached_aliases: list[weakref.ref[Tracer]] = []
        self._prehook_var: Var | None = None  # the value before hooks (register_hook)

    # metadata comes from the Aval, never from data
    @property
    def _data(self) -> np.ndarray:  # type: ignore[override]
        return self._concrete("tensor data read by an operation")._data

    @property
    def shape(self) -> Size:
        return Size(self._var.aval.shape)

    @property
    def dtype(self) -> DType:
        return self._var.aval.dtype

    @property
    def ndim(self) -> int:
        return len(self._var.aval.shape)

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return prod(self._var.aval.shape)  # (a symbolic size stays symbolic)

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def __len__(self) -> int:
        return self.shape[0]

    def _aval(self) -> Aval:
        return self._var.aval

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if not self.is_leaf:  # PyTorch's checks and texts first
            raise RuntimeError(NON_LEAF_REQUIRES_GRAD[value])
        if value and not self.dtype.is_floating_point:
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        if value != self._requires_grad:
            self._trace.make_leaf(self, value)

    @property
    def is_leaf(self) -> bool:  # type: ignore[override]
        trace = self._trace
        return not self._requires_grad or self._var in trace.leaf_vars

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Any:
        """Traced: later uses see this value through an equation whose derivative rule calls
        ``hook`` (frontend/trace_autograd.py)."""
        from .trace_autograd import hooked

        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        leaf = self.is_leaf
        if self._prehook_var is None:  # retain_grad reads the gradient after every hook
            self._prehook_var = self._var
        self._var = hooked(self, hook)
        if leaf:
            self._trace.leaf_vars.add(self._var)
        return _TracedHandle()

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if not self.is_leaf:
            self._retains_grad = True
            self._trace.retained[id(self)] = self

    def detach(self) -> Tensor:
        # Note [detached aliases while tracing]: eagerly, ``t.detach()`` (and ``t.data``)
        # shares ``t``'s memory, so an in-place op on either changes both. A traced DETACH is
        # a new value, and a write to one would silently miss the other (``v.detach().clamp_(
        # min=eps)`` then ``v.sum()``). So the trace keeps each tensor's detached aliases: an
        # in-place op on ``t`` rebinds them to the DETACH of its new value (runtime/inplace.py
        # _rebind), unless one has views of its own (refused: those views would not follow);
        # an in-place op on an alias is refused (``t`` would have to take the new values
        # while keeping its history), with out-of-place ops as the way out.
        out = self._trace.emit(Op.DETACH, [self], {}, None)
        if isinstance(out, Tracer):
            out._detached_from = self
            self._detached_aliases.append(weakref.ref(out))
        return out

    def __repr__(self) -> str:
        if getattr(self._trace, "session", None) is None:
            return f"Tracer({self._var.aval}, requires_grad={self._requires_grad})"
        return repr(self._concrete("printing a tensor"))

    __str__ = __repr__

    def _value_error(self, what: str) -> TracingError:
        return TracingError(DATA_DEPENDENT.format(what=what))

    def _concrete(self, what: str) -> Tensor:
        """This tensor's value: a graph break (Note [graph breaks] in breaks.py) when the
        function may be split there; otherwise a TracingError naming the use."""
        session = getattr(self._trace, "session", None)
        if session is None:
            raise self._value_error(what)
        if session.trace is not self._trace:  # a copy made before a break
            session.resolve(self)
            return self
        session.graph_break(what, value=self)
        if type(self) is Tracer:  # not an output of the segment (cannot happen for a user's)
            raise self._value_error(what)
        return self

    def item(self) -> Any:
        return self._concrete("Tensor.item()").item()

    def tolist(self) -> Any:
        return self._concrete("Tensor.tolist()").tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        return self._concrete("Tensor.numpy()").numpy(force=force)

    def __bool__(self) -> bool:
        what = "bool(tensor), e.g. `if tensor:` or a comparison in `if`"
        return bool(self._concrete(what))

    def __float__(self) -> float:
        return float(self._concrete("float(tensor)"))

    def __int__(self) -> int:
        return int(self._concrete("int(tensor)"))

    def __index__(self) -> int:
        return self._concrete("a tensor used as a Python index").__index__()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._concrete("conversion to a NumPy array").__array__(dtype, copy)

    def __format__(self, spec: str) -> str:
        return format(self._concrete("formatting a tensor"), spec)


class _TracedHandle:
    """The handle of a hook registered while tracing (it is part of the graph for good)."""

    def remove(self) -> None:
        raise TracingError(
            "removing a hook registered inside a compiled function is not supported; "
            "register it outside, or do not remove it"
        )


class Trace:
    """The graph under construction: inputs, lifted tensors, constants and equations."""

    def __init__(self) -> None:
        self.input_vars: list[Var] = []
        self.eqns: list[Eqn] = []
        self.consts: list[tuple[Var, np.ndarray]] = []
        self.lifted: list[Tensor] = []  # tensors reached from outside the arguments
        self._lifted_ids: dict[int, Tracer] = {}
        self._const_ids: dict[int, Var] = {}
        self.modules: dict[int, Any] = {}  # nn.Modules called while tracing (training guards)
        self.mutated: dict[int, tuple[Tensor, Tracer]] = {}  # outside tensors written in place
        self.fixed_loc = False  # when set, equations take ``loc`` instead of the user's frame
        self.loc: str | None = None
        self.remat = 0  # the checkpointed region equations join (Note [checkpoint traced])
        # autograd inside the trace (frontend/trace_autograd.py, Note [autograd while tracing])
        self.leaf_vars: set[Var] = set()  # values of leaf tensors that require grad
        # requires_grad_() inside the function (weak: a segment's live tracers are its outputs)
        self.made_leaves: list[weakref.ref[Tracer]] = []
        self.made_leaf_vars: list[Var] = []  # their values then (Note [leaves made inside ...])
        self.retained: dict[int, Tracer] = {}  # retain_grad() on non-leaf tracers
        self.args: list[tuple[Tracer, Tensor]] = []  # the call's tensor arguments
        self.slots: dict[int, GradSlot] = {}  # outside tensors' .grad as the function sees it
        self.arg_grads: dict[int, Tensor] = {}  # argument position -> its accumulated gradient
        self.boundary: dict[int, tuple[Tensor, Tensor]] = {}  # non-leaf outside tensor -> grad
        self.hypers: list[tuple[Tensor, dict[str, Any], str]] = []  # (holder, owner, key)
        self.optimizers: dict[int, OptimizerNote] = {}
        self.backward_done = False  # a backward() without create_graph consumed the graph
        self.shape_env: Any = None  # ir.symbolic_shapes.ShapeEnv of a symbolic trace
        self.sym_sources: dict[Any, tuple[int, int]] = {}  # symbol -> (argument leaf, dim)
        # guards a traced call adds (the process group of a collective: Note [traced
        # collectives] in frontend/collectives.py), as ``guards.bindings``
        self.bindings: list[tuple[Any, str, Any]] = []
        # Python run again around the program on every later call (Note [eager on every
        # call] in frontend/each_call.py)
        self.replays: list[Any] = []
        # the constants made while tracing, to find the aliases of one that a traced value is
        # written into (Note [writes into trace constants] in runtime/const_writes.py)
        self.made: list[weakref.ref[Tensor]] = []

    def new_input(self, aval: Aval, requires_grad: bool, hint: str = "") -> Tracer:
        var = Var(aval, hint)
        self.input_vars.append(var)
        if requires_grad:
            self.leaf_vars.add(var)
        return Tracer(self, var, requires_grad)

    def new_arg(self, t: Tensor, dynamic: Collection[int] = (), source: str = "") -> Tracer:
        """The tracer of a tensor argument of the call; the ``dynamic`` dims get symbolic sizes
        (Note [symbolic shapes] in ir/symbolic_shapes.py)."""
        shape: tuple[Any, ...] = tuple(t.shape)
        if dynamic:
            if self.shape_env is None:
                from ..ir.symbolic_shapes import ShapeEnv

                self.shape_env = ShapeEnv()
            env = self.shape_env
            shape = tuple(
                env.create(n, f"{source}.size({d})") if d in dynamic else n
                for d, n in enumerate(shape)
            )
        tr = self.new_input(Aval(shape, t.dtype), t.requires_grad)
        self.args.append((tr, t))
        return tr

    def lift(self, t: Tensor) -> Tracer:
        """A tensor from outside the arguments (closure, global, module attribute): a graph
        input read afresh at every call, never a frozen constant."""
        tr = self._lifted_ids.get(id(t))
        if tr is None and self._views_lifted(t):
            tr = self._lifted_view(t)
        if tr is None and (other := twin(t, self.lifted)) is not None:
            tr = self._lifted_ids[id(t)] = self._lifted_ids[id(other)]  # (Note [twin tensors])
        if tr is None:
            if forward_grad.ACTIVE:  # (Note [eager forward AD])
                forward_grad.check_lift(t)
            _refuse_overlap(t, [m for m, _ in self.mutated.values()])
            tr = self.new_input(Aval(tuple(t.shape), t.dtype), t.requires_grad)
            self.lifted.append(t)
            self._lifted_ids[id(t)] = tr
        return tr

    def adopt(self, t: Tensor, view_of: Tracer | None, step: ViewStep | None) -> Tracer:
        """The constant ``t`` (made inside the function) becomes a tracer in place, so every
        reference sees traced values from now on (Note [writes into trace constants]): the root
        of its memory with its constant's value, one of its views (``view_of``) as ``step`` of
        it, its value made by the caller."""
        var = self.atom(t) if view_of is None else Var(Aval(tuple(t.shape), t.dtype))
        assert isinstance(var, Var)
        box = t._version_box
        t.__class__ = Tracer  # (as a graph break's _become makes a tracer a tensor)
        t.__dict__.clear()
        tr = cast(Tracer, t)
        Tracer.__init__(tr, self, var, False, view_of, step)
        tr._version_box = box
        if view_of is not None:
            view_of._has_views = True
            view_of._views.append(weakref.ref(tr))
        return tr

    def track(self, t: Tracer) -> None:
        """``t`` is a tracer of this trace made without ``emit`` (a random fill of a tensor
        made inside, runtime/ops_random.py ``_become``; a gradient of ``autograd.grad``); a
        segment trace keeps it as a possible output."""

    # Note [views of lifted tensors]
    # A tensor from outside (or from before a graph break) is a graph input of its own. An
    # eager view of one already lifted (``v = h[0]`` made before a break, ``h`` written in this
    # segment) would then miss a write into it. So such a view is traced as its view op of its
    # parent's lifted value (the parent lifted first), not read as an input: it reads the
    # writes, and its gradient reaches the parent, as its eager history does.

    def _views_lifted(self, t: Tensor) -> bool:
        base = t._view_base
        return t._view_recipe is not None and base is not None and id(base) in self._lifted_ids

    def _lifted_view(self, t: Tensor) -> Tracer:
        """The traced view of its lifted parent that stands for ``t`` (see the Note)."""
        from ..runtime.dispatch import apply

        parent, op, attrs = cast(tuple, t._view_recipe)
        with set_grad_enabled(t.grad_fn is not None):  # (a view made under no_grad has none)
            tr = cast(Tracer, apply(op, self.lift(parent), **attrs))
        self._lifted_ids[id(t)] = tr
        self._keep = getattr(self, "_keep", []) + [t]  # ids stay unique while tracing
        return tr

    def note_module(self, module: Any) -> None:
        tensors = (*module._parameters.values(), *module._buffers.values())
        if any(
            getattr(t, "_trace", None) is self or t._born_in is self
            for t in tensors
            if t is not None
        ):
            return  # made inside: a new one each call (Note [modules made while tracing])
        self.modules[id(module)] = module

    # Note [writes into earlier values]
    # An in-place op in a traced function on a tensor it does not trace (a buffer or closure
    # from outside, or with graph breaks a value of this call made before the break) is traced
    # on its lifted value; the compiled call writes the new value back into the tensor, with
    # its history when it has one (frontend/writes.py store): a segment after the next graph
    # break differentiates through it. Views of the lifted value made in this trace are made
    # again from the new one, as eager memory shows them; a write under no_grad into a tensor
    # with history keeps that history, as eagerly (Note [unrecorded writes while tracing] in
    # runtime/inplace.py); a read of the tensor in the same segment (``float(h)``) breaks the
    # graph first, so it sees the write.

    def mutate(self, t: Tensor, fn: Any) -> Tensor:
        """An in-place op on a tensor from outside (a buffer such as BatchNorm's running mean):
        traced on its lifted value; the compiled call writes the result back into ``t``."""
        if t.requires_grad and t.grad_fn is None and is_grad_enabled():  # (a leaf)
            raise TracingError(
                "in-place modification of a tensor that requires grad and comes from outside "
                "the compiled function (a parameter?) is not supported; compute a new tensor"
            )
        other = twin(t, self.lifted)
        if other is not None and other is not t:  # (Note [twin tensors]): written as the other
            self.mutate(other, fn)
            self._lifted_ids[id(t)] = self._lifted_ids[id(other)]
            return t
        _refuse_overlap(t, [*self.lifted, *(a for _, a in self.args)])
        tr = self.lift(t)
        result = fn(tr)
        if tuple(result.shape) != tuple(t.shape) or result.dtype is not t.dtype:
            result = result.to(t.dtype).expand(tuple(t.shape))
        if t.grad_fn is not None and not is_grad_enabled():  # (Note [writes into earlier values])
            result = kept_history(tr, result)
        tr._var, tr._requires_grad = result._var, result.requires_grad
        refresh_views(tr)  # its views made in this trace read the write
        self.mutated[id(t)] = (t, tr)
        return t

    def atom(self, t: Tensor) -> Atom:
        if isinstance(t, Tracer):
            if t._trace is self:
                return t._var
            return self.lift(t)._var  # an enclosing trace's value (a closure of adjit.grad)
        if t._weak:
            sym = t.__dict__.get("_symint")
            if sym is not None:  # a symbolic size as an operand: instantiated per call
                kind = scalar_dtype(0.5) if t._data.dtype.kind == "f" else int64
                return Lit(sym, Aval((), kind, weak=True))
            value = t._data.item()
            return Lit(value, Aval((), scalar_dtype(value), weak=True))
        if getattr(t, "_born_in", None) is not self:
            return self.lift(t)._var
        var = self._const_ids.get(id(t))
        if var is None:
            var = Var(Aval(tuple(t.shape), t.dtype))
            self.consts.append((var, t._data))
            self._const_ids[id(t)] = var
            self._keep = getattr(self, "_keep", []) + [t]  # ids stay unique while tracing
        return var

    def involves(self, inputs: list[Tensor]) -> bool:
        """Whether an op must be recorded: it touches a tracer or a tensor from outside."""
        return any(
            isinstance(t, Tracer)
            or (not t._weak and getattr(t, "_born_in", None) is not self)
            or (t._weak and "_symint" in t.__dict__)
            for t in inputs
        )

    def emit(self, op: Op, inputs: list[Tensor], attrs: dict[str, Any], name: str | None) -> Tracer:
        atoms = [self.atom(t) for t in inputs]
        try:
            out_aval = infer(op, [a.aval for a in atoms], attrs)
        except SymbolicShapeError:
            raise  # (a pass's question: the caller traces static instead)
        except RuntimeError as e:
            raise TracingError(with_notes(e)) from None  # (the op and operands in the text)
        for a in (out_aval, *(a.aval for a in atoms)):
            if a.dtype.category == 3:  # Note [complex dtypes] in ir/dtypes.py
                raise NotImplementedError(
                    f"adjit.compile does not support complex tensors yet ({op.name.lower()} on "
                    f"a {a.dtype!r} value); run this code eagerly"
                )
        out = Var(Aval(out_aval.shape, out_aval.dtype))
        grad_on = is_grad_enabled()
        loc = self.loc if self.fixed_loc else user_location()
        self.eqns.append(Eqn(op, tuple(atoms), dict(attrs), out, loc, not grad_on, self.remat))
        tracers = [self._lifted_ids.get(id(t), t) for t in inputs]
        requires = (
            grad_on
            and out_aval.dtype.is_floating_point
            and op is not Op.DETACH
            and any(t.requires_grad for t in tracers)
        )
        # (an advanced index is a copy: Note [advanced indexing copies])
        view = op in VIEW_OPS and (op is not Op.INDEX or len(inputs) == 1)
        base = tracers[0] if view and isinstance(tracers[0], Tracer) else None
        if base is not None:
            base._has_views = True
        step = (op, dict(attrs), name, grad_on) if base is not None and len(inputs) == 1 else None
        made = Tracer(self, out, requires, view_of=base, view_step=step)
        if base is not None:
            base._views.append(weakref.ref(made))
        return made

    # Note [advanced indexing copies]
    # ``x[1:, ::2]`` (ints, slices, None, Ellipsis: INDEX with one operand) is a view of ``x``,
    # but an index with a tensor in it (``x[idx]``, ``x[mask]``, ``x[1:, idx]``: INDEX with
    # the index tensors as operands) is a copy in PyTorch: ``x[idx].mul_(2)`` leaves ``x`` as it
    # was (``x[idx] *= 2`` writes through __setitem__, index_put_). So the tracer marks only
    # one-operand INDEX as a view: a write into an advanced-index result is the result's own.

    def aliases(self, outputs: list[Tensor], inputs: list[Tracer]) -> list[Alias | None]:
        """Per output: the input it is (or views, through single-input view ops) as
        (input position, the view ops to apply again), or None. Eager mode returns such
        outputs as the input itself or a view of it, and so does a compiled call."""
        position = {id(t): i for i, t in enumerate(inputs)}
        found: list[Alias | None] = []
        for t in outputs:
            steps: list[ViewStep] = []
            while id(t) not in position and getattr(t, "_view_step", None) is not None:
                steps.append(t._view_step)  # type: ignore[attr-defined]
                t = t._view_of  # type: ignore[attr-defined]
            i = position.get(id(t))
            if i is None or t._var is not self.input_vars[i]:  # type: ignore[attr-defined]
                found.append(None)  # a fresh output
            else:
                found.append((i, tuple(reversed(steps))))
        return found

    def graph(self, outputs: list[Tensor], extra: Sequence[Tensor] = ()) -> Graph:
        """The traced graph: the outputs, then the new values of mutated outside tensors, then
        ``extra`` (gradients and optimizer state written back after the call)."""
        outs = [self.atom(t) for t in outputs] + [tr._var for _, tr in self.mutated.values()]
        outs += [self.atom(t) for t in extra]
        return Graph(tuple(self.input_vars), tuple(self.eqns), tuple(outs), tuple(self.consts))

    # ---- autograd inside the trace (Note [autograd while tracing]) ----------------------------
    grad = trace_grad  # autograd.grad on this trace's tracers (Note [autograd while tracing])
    backward = trace_backward  # tensor.backward() on them

    def make_leaf(self, t: Tracer, requires_grad: bool) -> None:
        """``t.requires_grad_(flag)`` on a leaf: later uses see a fresh value (no gradient
        flows to what ``t`` was computed from, as for a new leaf), which requires grad or not."""
        from .trace_autograd import detached_var

        t._var = detached_var(t)
        t._requires_grad = requires_grad
        if requires_grad:
            self.leaf_vars.add(t._var)
            self.made_leaves.append(weakref.ref(t))
            self.made_leaf_vars.append(t._var)

    def read_outside(self, t: Tensor, what: str) -> None:
        """Python reads the value of tensor ``t`` from outside the function (``.item()`` of a
        buffer or a closure): a graph break when the function may be split (the segment so far
        runs first, so ``t`` holds its value at this point of the call), else an error."""
        session = getattr(self, "session", None)
        if (
            session is not None
            and (t.__dict__.get("_made_by") is session or id(t) in session.aliases)
            and id(t) not in self.mutated  # (written back only after this segment runs)
        ):
            return  # a value this call's segments produced: concrete and current
        self.split(what, DATA_DEPENDENT.format(what=f"{what} of a tensor from outside"))

    def split(self, reason: str, error: str) -> Any:
        """A graph break here (Note [graph breaks] in breaks.py): the segment recorded so far
        runs, and the session (whose new trace is now current) is returned; where the function
        may not be split (fullgraph=True, adjit.grad, no session) a TracingError ``error``."""
        session = getattr(self, "session", None)
        if session is None:
            raise TracingError(error)
        session.graph_break(reason, error)
        return session

    def lift_hyper(self, owner: dict[str, Any], key: str) -> Tracer:
        """``owner[key]`` (a Python number, e.g. an optimizer group's learning rate) as a 0-d
        float64 input read afresh at every call (Note [traced training steps])."""
        with trace_state.paused():
            holder = Tensor._make(np.array(owner[key], np.float64))
        self.hypers.append((holder, owner, key))
        return self.lift(holder)

    def mark_differentiated(self, t: Tracer) -> None:
        """An argument ``adjit.grad`` differentiates: it requires grad inside the function."""
        t._requires_grad = True
        self.leaf_vars.add(t._var)

    def grad_leaves(self) -> list[Tracer]:
        """Every leaf that requires grad: arguments, lifted tensors, leaves made inside."""
        found: dict[int, Tracer] = {}
        candidates = [tr for tr, _ in self.args] + list(self._lifted_ids.values())
        made = [tr for r in self.made_leaves if (tr := r()) is not None]
        for tr in candidates + made:
            if tr.requires_grad and tr._var in self.leaf_vars:
                found.setdefault(id(tr), tr)
        return list(found.values())

    def depends_on_grad(self, var: Var) -> bool:
        """Whether ``var`` is computed, with grad mode on, from a leaf that requires grad."""
        live = set(self.leaf_vars)
        for e in self.eqns:
            if not e.no_grad and e.op is not Op.DETACH and any(a in live for a in e.inputs):
                live.add(e.out)
            if e.out is var:  # (after its own equation: that one decides)
                break
        return var in live

    def outside_of(self, tr: Tracer) -> tuple[str, Any] | None:
        """("lifted", tensor) or ("arg", position) for a tracer standing for an outside tensor."""
        for k, (a, _) in enumerate(self.args):
            if a is tr:
                return ("arg", k)
        for t in self.lifted:
            if self._lifted_ids.get(id(t)) is tr:
                return ("lifted", t)
        return None

    def read_grad(self, t: Tensor) -> None:
        """``t.grad`` read inside the function (Note [.grad read while tracing])."""
        if not isinstance(t, Tracer) and id(t) not in self.slots:
            self.slots[id(t)] = GradSlot(t, t._grad, "read")

    # Note [.grad read while tracing]
    # The gradient an outside tensor holds is an object of the call: backward() outside (or
    # in a Python statement between compiled parts) makes a new one each time. A trace that
    # reads ``p.grad`` (clip_grad_norm_, a gradient norm logged, a hand-written update) lifts
    # that object; unrecorded, later calls would run on the first call's gradient. So the
    # read opens p's gradient slot: the entry is guarded on whether p has a gradient and
    # re-reads ``p.grad`` at every call (Writes.sources), as writes and accumulations do.

    def slot(self, t: Tensor, first: str) -> GradSlot:
        """The recorded ``.grad`` of an outside tensor (made on first touch)."""
        s = self.slots.get(id(t))
        if s is None:
            s = self.slots[id(t)] = GradSlot(t, t._grad, first)
        return s

    def set_grad(self, t: Tensor, value: Any) -> None:
        """``t.grad = value`` inside the function (zero_grad): outside tensors' writes are
        replayed after every call."""
        if isinstance(t, Tracer) and t._trace is self:
            where = self.outside_of(t)
            if where is None or where[0] == "arg":
                t.grad = value
                return
            t = where[1]
        self.slot(t, "write").value = value
        t.grad = value

    def accumulate_grad(self, leaf: Tracer, g: Tensor, create_graph: bool) -> None:
        """``leaf.grad += g`` as the eager engine's AccumulateGrad."""
        where = self.outside_of(leaf)
        if where is None or where[0] == "arg":
            leaf._grad = g if leaf._grad is None else _added(leaf._grad, g, create_graph)
            if where is not None:
                self.arg_grads[where[1]] = leaf._grad
            return
        t = where[1]
        if t.grad_fn is not None:  # not a leaf: eager backward continues from it after the call
            old = self.boundary.get(id(t))
            self.boundary[id(t)] = (t, g if old is None else _added(old[1], g, create_graph))
            return
        for hook in getattr(t, "_hooks", None) or ():  # hooks registered outside, as eager
            g = _or(hook(g), g)
        s = self.slot(t, "read")
        s.value = g if s.value is None else _added(s.value, g, create_graph)
        t.grad = s.value
        for hook in getattr(t, "_post_accumulate_hooks", None) or ():
            hook(t)

    def note_optimizer(self, opt: Any, signature: tuple) -> None:
        """An optimizer stepped inside the function: guard its hyper-parameters and state, and
        remember the state to find what the step stores (written back after each call)."""
        if id(opt) not in self.optimizers:
            before = {id(p): (p, dict(s)) for p, s in opt.state.items()}
            self.optimizers[id(opt)] = OptimizerNote(opt, signature, before)
            for group in opt.param_groups:
                for p in group["params"]:
                    self.slot(p, "read")


# Note [twin tensors]
# Two outside tensor objects can be the very same memory (same address, sizes, strides and
# dtype) without one being the other: a gradient made concrete at a graph break, once as the
# tracer the function held (``grad = p.grad``) and once as ``p.grad`` itself. Reading or
# writing one is reading or writing the other, as eagerly, so a trace lifts them as one input
# (a write into either is written back once) instead of refusing them as overlapping views.


def twin(t: Tensor, lifted: Sequence[Tensor]) -> Tensor | None:
    """A lifted tensor with exactly ``t``'s memory (see the Note), if any."""
    if isinstance(t, Tracer):
        return None
    d = t._data
    key = (d.__array_interface__["data"][0], d.shape, d.strides, d.dtype)
    for o in lifted:
        if isinstance(o, Tracer):
            continue
        e = o._data
        if (e.__array_interface__["data"][0], e.shape, e.strides, e.dtype) == key:
            return o
    return None


def _refuse_overlap(t: Tensor, others: Sequence[Tensor]) -> None:
    """An outside tensor written in place and another one the function reads share memory (a
    view and its base are separate graph inputs): the program would not see the write through
    the other, so it is refused rather than computed wrong."""
    if isinstance(t, Tracer):
        return
    for o in others:
        if o is not t and not isinstance(o, Tracer) and np.may_share_memory(o._data, t._data):
            raise TracingError(
                "in-place modification of a tensor from outside the compiled function that "
                "shares memory with another tensor the function uses (a view and its base) is "
                "not supported; modify the base tensor itself, or use an out-of-place op"
            )


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _added(a: Tensor, b: Tensor, create_graph: bool) -> Tensor:
    with set_grad_enabled(create_graph):
        total: Tensor = cast(Any, a) + b
    return total


class GradSlot:
    """An outside tensor's ``.grad`` as the traced function sees it: what it held when first
    touched (``start``), whether that first touch was a read (then the call must find the
    same kind, None or a tensor) or a write (zero_grad), and its current value."""

    def __init__(self, owner: Tensor, start: Any, first: str) -> None:
        self.owner, self.start, self.first = owner, start, first
        self.value = start


class OptimizerNote:
    def __init__(self, opt: Any, signature: tuple, before: dict[int, Any]) -> None:
        self.opt, self.signature, self.before = opt, signature, before


class tracing:
    """Context manager: make ``trace`` the active trace of this thread."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def __enter__(self) -> Trace:
        self._prev = trace_state.set_current(self.trace)
        return self.trace

    def __exit__(self, *exc: object) -> None:
        trace_state.set_current(self._prev)
