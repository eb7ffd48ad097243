"""Tracer tensors: run the user's function symbolically and record every primitive as IR."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.aval import Aval
from ..ir.dtypes import DType, scalar_dtype
from ..ir.graph import Atom, Eqn, Graph, Lit, Var
from ..ir.ops import Op
from ..ir.shapes import infer
from ..runtime import trace_state
from ..runtime.dispatch import VIEW_OPS
from ..runtime.grad_mode import is_grad_enabled
from ..runtime.tensor import NON_LEAF_REQUIRES_GRAD, Size, Tensor
from ..runtime.trace_state import TracingError, user_location

ViewStep = tuple[Op, dict[str, Any], "str | None", bool]  # (op, attrs, grad_fn name, grad mode)
Alias = tuple[int, tuple[ViewStep, ...]]  # (input position, view ops from it to the output)

DATA_DEPENDENT = (
    "adjit.compile traced a use of a tensor's value ({what}), which is not known "
    "while tracing. Use adjit.where(cond, a, b) for value-dependent choices, or "
    "adjit.compile(fn, fallback='eager') to run such calls eagerly."
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

    # metadata comes from the Aval, never from data
    @property
    def _data(self) -> np.ndarray:  # type: ignore[override]
        raise TracingError(DATA_DEPENDENT.format(what="tensor data"))

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
        return int(np.prod(self._var.aval.shape, dtype=np.int64))

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
        if not self.is_leaf:  # PyTorch's checks and texts first, then what tracing cannot do
            raise RuntimeError(NON_LEAF_REQUIRES_GRAD[value])
        if value and not self.dtype.is_floating_point:
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        if value != self._requires_grad:
            raise TracingError(
                f"setting requires_grad={value} on a tensor inside a compiled function is not "
                "supported: set it before the call, or use adjit.compile(fn, fallback='eager')"
            )

    @property
    def is_leaf(self) -> bool:  # type: ignore[override]
        return not self._requires_grad or self._var in self._trace.input_vars

    def detach(self) -> Tensor:
        return self._trace.emit(Op.DETACH, [self], {}, None)

    def __repr__(self) -> str:
        return f"Tracer({self._var.aval}, requires_grad={self._requires_grad})"

    def _value_error(self, what: str) -> TracingError:
        return TracingError(DATA_DEPENDENT.format(what=what))

    def item(self) -> Any:
        raise self._value_error("Tensor.item()")

    def tolist(self) -> Any:
        raise self._value_error("Tensor.tolist()")

    def numpy(self, *, force: bool = False) -> np.ndarray:
        raise self._value_error("Tensor.numpy()")

    def __bool__(self) -> bool:
        raise self._value_error("bool(tensor), e.g. `if tensor:` or a comparison in `if`")

    def __float__(self) -> float:
        raise self._value_error("float(tensor)")

    def __int__(self) -> int:
        raise self._value_error("int(tensor)")

    def __index__(self) -> int:
        raise self._value_error("a tensor used as a Python index")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self._value_error("conversion to a NumPy array")

    def backward(self, *a: Any, **k: Any) -> None:
        raise TracingError(
            "calling .backward() inside a compiled function is not supported; "
            "return the loss and call .backward() on the result"
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

    def new_input(self, aval: Aval, requires_grad: bool, hint: str = "") -> Tracer:
        var = Var(aval, hint)
        self.input_vars.append(var)
        return Tracer(self, var, requires_grad)

    def lift(self, t: Tensor) -> Tracer:
        """A tensor from outside the arguments (closure, global, module attribute): a graph
        input read afresh at every call, never a frozen constant."""
        tr = self._lifted_ids.get(id(t))
        if tr is None:
            tr = self.new_input(Aval(tuple(t.shape), t.dtype), t.requires_grad)
            self.lifted.append(t)
            self._lifted_ids[id(t)] = tr
        return tr

    def note_module(self, module: Any) -> None:
        self.modules[id(module)] = module

    def mutate(self, t: Tensor, fn: Any) -> Tensor:
        """An in-place op on a tensor from outside (a buffer such as BatchNorm's running mean):
        traced on its lifted value; the compiled call writes the result back into ``t``."""
        if t.requires_grad and is_grad_enabled():
            raise TracingError(
                "in-place modification of a tensor that requires grad and comes from outside "
                "the compiled function (a parameter?) is not supported; compute a new tensor"
            )
        tr = self.lift(t)
        result = fn(tr)
        if tuple(result.shape) != tuple(t.shape) or result.dtype is not t.dtype:
            result = result.to(t.dtype).expand(tuple(t.shape))
        tr._var, tr._requires_grad = result._var, False
        self.mutated[id(t)] = (t, tr)
        return t

    def atom(self, t: Tensor) -> Atom:
        if isinstance(t, Tracer):
            return t._var
        if t._weak:
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
            isinstance(t, Tracer) or (not t._weak and getattr(t, "_born_in", None) is not self)
            for t in inputs
        )

    def emit(self, op: Op, inputs: list[Tensor], attrs: dict[str, Any], name: str | None) -> Tracer:
        atoms = [self.atom(t) for t in inputs]
        try:
            out_aval = infer(op, [a.aval for a in atoms], attrs)
        except RuntimeError as e:
            raise TracingError(str(e)) from None
        for a in (out_aval, *(a.aval for a in atoms)):
            if a.dtype.category == 3:  # Note [complex dtypes] in ir/dtypes.py
                raise NotImplementedError(
                    f"adjit.compile does not support complex tensors yet ({op.name.lower()} on "
                    f"a {a.dtype!r} value); run this code eagerly"
                )
        out = Var(Aval(out_aval.shape, out_aval.dtype))
        grad_on = is_grad_enabled()
        loc = self.loc if self.fixed_loc else user_location()
        self.eqns.append(Eqn(op, tuple(atoms), dict(attrs), out, loc, not grad_on))
        tracers = [self._lifted_ids.get(id(t), t) for t in inputs]
        requires = (
            grad_on
            and out_aval.dtype.is_floating_point
            and op is not Op.DETACH
            and any(t.requires_grad for t in tracers)
        )
        base = tracers[0] if op in VIEW_OPS and isinstance(tracers[0], Tracer) else None
        if base is not None:
            base._has_views = True
        step = (op, dict(attrs), name, grad_on) if base is not None and len(inputs) == 1 else None
        return Tracer(self, out, requires, view_of=base, view_step=step)

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

    def graph(self, outputs: list[Tensor]) -> Graph:
        """The traced graph: the outputs, then the new values of mutated outside tensors."""
        outs = [self.atom(t) for t in outputs] + [tr._var for _, tr in self.mutated.values()]
        return Graph(tuple(self.input_vars), tuple(self.eqns), tuple(outs), tuple(self.consts))


class tracing:
    """Context manager: make ``trace`` the active trace of this thread."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def __enter__(self) -> Trace:
        self._prev = trace_state.set_current(self.trace)
        return self.trace

    def __exit__(self, *exc: object) -> None:
        trace_state.set_current(self._prev)
