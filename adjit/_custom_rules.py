"""``adjit.custom_vjp`` / ``adjit.custom_jvp``: JAX's decorators for custom derivative rules.

Note [custom rules as Functions]
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
A decorated function is run, when something may differentiate it (an argument requires grad,
or is a tracer), as the ``apply`` of an ``autograd.Function`` made for it (one class per
decorated function), whose tensor inputs are the leaves of the differentiable arguments'
pytrees. So every path that respects a Function respects these rules: eager ``.backward()``
and ``autograd.grad``, ``adjit.grad`` and compiled gradients (the backward is traced into the
adjoint graph, Note [custom functions traced] in ir/custom.py), vmap (its batched rule runs the
backward under vmap) and forward mode (its ``jvp`` staticmethod).

- ``custom_vjp``: the forward is ``fwd`` (its residuals are kept on ``ctx``), the backward is
  ``bwd(*nondiff, residuals, g)``; forward mode refuses with JAX's error.
- ``custom_jvp``: the forward is the rule's primal output (as JAX evaluates it under
  differentiation), the forward-mode rule is the JVP rule, and the backward is its transpose:
  the rule is linear in the tangents, so the cotangent of the inputs is the gradient of
  ``<tangent_out, g>`` with respect to the tangents (zeros made leaves), at the saved inputs.
  With create_graph (or traced, inside a compiled gradient) that gradient keeps its history to
  the inputs, so higher derivatives differentiate the JVP rule again, as JAX does.

Nothing differentiates a call without such arguments: it is the plain ``fun`` (JAX calls the
primal function outside of differentiation too). Non-tensor leaves (Python numbers) are
constants: they get no cotangent.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from adjit.autograd.custom import Function, dual_tangents
from adjit.frontend.pytree import flatten, spec_text, unflatten
from adjit.runtime import trace_state
from adjit.runtime.backward import grad as autograd_grad
from adjit.runtime.grad_mode import enable_grad, is_grad_enabled
from adjit.runtime.tensor import Tensor

__all__ = ["custom_jvp", "custom_vjp"]


def _differentiable(leaves: Sequence[Any]) -> bool:
    """Whether a call may be differentiated: a leaf has a tangent (eager forward AD), is a
    tracer (a trace may differentiate it later, in forward mode even under no_grad), or
    requires grad under grad mode."""
    floating = [t for t in leaves if isinstance(t, Tensor) and t.dtype.is_floating_point]
    if dual_tangents(tuple(floating)) is not None or any(t._is_tracer for t in floating):
        return True
    return is_grad_enabled() and any(t.requires_grad for t in floating)


class _Call:
    """One call of a decorated function: what rebuilds its arguments from the Function's
    inputs (the leaves of the differentiable arguments) and its output from the forward's."""

    def __init__(self, owner: Any, args: tuple, nondiff: tuple[int, ...]) -> None:
        self.owner = owner
        self.args = args
        self.nondiff = nondiff
        self.diff_positions = tuple(i for i in range(len(args)) if i not in nondiff)
        leaves, self.in_spec = flatten(tuple(args[i] for i in self.diff_positions))
        self.leaves = leaves
        self.out_spec: Any = None

    def arguments(self, leaves: Sequence[Any], nondiff: Sequence[Any] | None = None) -> list[Any]:
        """The call's arguments with the differentiable ones rebuilt from ``leaves`` (and the
        nondiff ones from ``nondiff``: the values a traced rule sees for them, ``ctx.nondiff``)."""
        diff = unflatten(self.in_spec, list(leaves))
        args = list(self.args)
        for i, v in zip(self.diff_positions, diff, strict=True):
            args[i] = v
        for i, v in zip(self.nondiff, nondiff if nondiff is not None else (), strict=False):
            args[i] = v
        return args

    def nondiff_args(self) -> list[Any]:
        return [self.args[i] for i in self.nondiff]

    def flat_out(self, out: Any) -> tuple[Any, ...]:
        leaves, spec = flatten(out)
        if self.out_spec is None:
            self.out_spec = spec
        return tuple(leaves)


def _bind(fun: Callable[..., Any], args: tuple, kwargs: dict) -> tuple:
    """Keyword arguments resolved to positions by ``fun``'s signature, as JAX does."""
    if not kwargs:
        return args
    bound = inspect.signature(fun).bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.args) + tuple(bound.kwargs.values())


class _Decorated:
    """What the two decorators share: the wrapped function, its nondiff_argnums, the call."""

    kind = ""
    _function: type[Function]

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self._function = type(
            getattr(fun, "__name__", "custom"),
            (self._base(),),
            {"owner": self, "__module__": getattr(fun, "__module__", __name__)},
        )

    def _base(self) -> type[Function]:
        raise NotImplementedError

    def _missing(self) -> bool:
        raise NotImplementedError

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = getattr(self.fun, "__name__", "fun")
        if self._missing():
            rule = "VJP" if self.kind == "vjp" else "JVP"
            raise AttributeError(
                f"No {rule} defined for custom_{self.kind} function {name} using def{self.kind}."
            )
        args = _bind(self.fun, args, kwargs)
        nondiff = tuple(sorted(i % len(args) for i in self.nondiff_argnums)) if args else ()
        call = _Call(self, args, nondiff)
        if _PRIMAL[0] or not _differentiable(call.leaves):
            return self.fun(*args)
        flat = self._function.apply(call, *call.leaves)
        flat = flat if isinstance(flat, tuple) else (flat,)
        return unflatten(call.out_spec, list(flat))


_PRIMAL = [0]  # > 0 while a rule computes a primal value: decorated calls in it are plain


class _RuleFunction(Function):
    """The Function a decorated function runs as (Note [custom rules as Functions]):
    ``forward(call, *leaves)``, its ``ctx`` keeping the call and its residuals."""

    owner: Any
    generate_vmap_rule = True  # vmap batches the forward and runs the backward under vmap

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        ctx.call = inputs[0]
        ctx.nondiff = inputs[0].nondiff_args()  # (traced: its tensors are the rule's operands)


class _VjpFunction(_RuleFunction):
    @staticmethod
    def forward(call: _Call, *leaves: Any) -> Any:
        _PRIMAL[0] += 1
        try:
            out, res = call.owner.fwd(*call.arguments(leaves))
        finally:
            _PRIMAL[0] -= 1
        call.residuals = res
        return call.flat_out(out)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        _RuleFunction.setup_context(ctx, inputs, output)
        ctx.residuals = inputs[0].residuals  # (traced: its tensors are the rule's operands)
        del inputs[0].residuals

    @staticmethod
    def backward(ctx: Any, *gs: Any) -> Any:
        call: _Call = ctx.call
        owner = call.owner
        g = unflatten(call.out_spec, list(gs))
        cts = owner.bwd(*ctx.nondiff, ctx.residuals, g)
        n = len(call.diff_positions)
        if not isinstance(cts, tuple | list) or len(cts) != n:
            got = spec_text(flatten(cts)[1]) if isinstance(cts, tuple | list) else "*"
            primal = spec_text(flatten(tuple(call.args[i] for i in call.diff_positions))[1])
            raise TypeError(
                "Custom VJP bwd rule must produce an output with the same container (pytree) "
                "structure as the args tuple of the primal function, and in particular must "
                "produce a tuple of length equal to the number of arguments to the primal "
                f"function, but got bwd output structure PyTreeDef({got}) for primal input "
                f"structure PyTreeDef({primal})."
            )
        leaves = _cotangent_leaves(call, cts)
        return (None, *leaves)

    @staticmethod
    def jvp(ctx: Any, *tangents: Any) -> Any:
        raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


def _cotangent_leaves(call: _Call, cts: Sequence[Any]) -> list[Any]:
    """One cotangent per input leaf; ``None`` for a whole argument means zero (JAX)."""
    out: list[Any] = []
    for i, ct in zip(call.diff_positions, cts, strict=True):
        arg_leaves, spec = flatten(call.args[i])
        if ct is None:
            out += [None] * len(arg_leaves)
            continue
        ct_leaves, ct_spec = flatten(ct)
        if ct_spec != spec:
            raise TypeError(
                "Custom VJP bwd rule must produce an output with the same container (pytree) "
                f"structure as the args tuple of the primal function, but got PyTreeDef("
                f"{spec_text(ct_spec)}) for argument {i} of structure PyTreeDef({spec_text(spec)})."
            )
        out += [
            c if isinstance(a, Tensor) and isinstance(c, Tensor) else None
            for a, c in zip(arg_leaves, ct_leaves, strict=True)
        ]
    return out


class custom_vjp(_Decorated):  # noqa: N801 (JAX's name)
    """``@adjit.custom_vjp`` (or ``functools.partial(adjit.custom_vjp, nondiff_argnums=...)``)
    then ``f.defvjp(f_fwd, f_bwd)``: ``f_fwd(*args) -> (out, residuals)``,
    ``f_bwd(*nondiff_args, residuals, g) -> tuple`` with one cotangent (pytree, or None for
    zero) per differentiable argument."""

    kind = "vjp"

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None
        super().__init__(fun, nondiff_argnums)

    def _base(self) -> type[Function]:
        return _VjpFunction

    def _missing(self) -> bool:
        return self.fwd is None

    def defvjp(
        self,
        fwd: Callable[..., Any],
        bwd: Callable[..., Any],
        symbolic_zeros: bool = False,
        optimize_remat: bool = False,
    ) -> None:
        if symbolic_zeros or optimize_remat:
            raise NotImplementedError(
                "adjit.custom_vjp.defvjp: symbolic_zeros and optimize_remat are not supported"
            )
        self.fwd, self.bwd = fwd, bwd


class _JvpFunction(_RuleFunction):
    @staticmethod
    def forward(call: _Call, *leaves: Any) -> Any:
        primals = call.arguments(leaves)
        tangents = [t.new_zeros(t.shape) if isinstance(t, Tensor) else t for t in call.leaves]
        _PRIMAL[0] += 1
        try:
            out, _ = call.owner.rule(call, primals, tangents)
        finally:
            _PRIMAL[0] -= 1
        return call.flat_out(out)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        _RuleFunction.setup_context(ctx, inputs, output)
        ctx.save_for_backward(*(t for t in inputs[1:] if isinstance(t, Tensor)))
        ctx.save_for_forward(*(t for t in inputs[1:] if isinstance(t, Tensor)))

    @staticmethod
    def backward(ctx: Any, *gs: Any) -> Any:
        """The transposed JVP rule (Note [custom rules as Functions])."""
        call: _Call = ctx.call
        create_graph = is_grad_enabled()
        saved = iter(ctx.saved_tensors)
        leaves = [next(saved) if isinstance(t, Tensor) else t for t in call.leaves]
        if not create_graph:
            leaves = [t.detach() if isinstance(t, Tensor) else t for t in leaves]
        leaves = _in_active_trace(leaves, gs)
        wrt = [_tangent_leaf(t) if _floating(t) else None for t in leaves]
        tangents = [
            w if w is not None else _zero_tangent(t) for w, t in zip(wrt, leaves, strict=True)
        ]
        with enable_grad():
            _, tangent_out = call.owner.rule(call, call.arguments(leaves, ctx.nondiff), tangents)
        outs, seeds = [], []
        for t, g in zip(flatten(tangent_out)[0], gs, strict=True):
            if isinstance(t, Tensor) and t.requires_grad and g is not None:
                outs.append(t)
                seeds.append(g)
        inputs = [w for w in wrt if w is not None]
        grads: list[Any] = [None] * len(inputs)
        if outs and inputs:
            grads = list(
                autograd_grad(outs, inputs, seeds, create_graph=create_graph, allow_unused=True)
            )
        it = iter(grads)
        return (None, *(next(it) if w is not None else None for w in wrt))

    @staticmethod
    def jvp(ctx: Any, *tangents: Any) -> Any:
        call: _Call = ctx.call
        saved = iter(ctx.saved_tensors)  # (in a jvp: what save_for_forward saved)
        leaves = [next(saved) if isinstance(t, Tensor) else t for t in call.leaves]
        ts = [
            (tt if tt is not None else _zero_tangent(t)) if isinstance(t, Tensor) else t
            for t, tt in zip(leaves, tangents[1:], strict=True)
        ]
        _, tangent_out = call.owner.rule(call, call.arguments(leaves, ctx.nondiff), ts)
        flat = tuple(flatten(tangent_out)[0])
        return flat if len(flat) != 1 else flat[0]


def _floating(t: Any) -> bool:
    return isinstance(t, Tensor) and t.dtype.is_floating_point


def _in_active_trace(leaves: list[Any], gs: Sequence[Any]) -> list[Any]:
    """The saved inputs as values of the active trace when the cotangents are traced (an
    eager call's backward run under vmap, as a vmapped vjp_fn does): ``autograd.grad``
    differentiates in that trace, so the transposed rule must be recorded there."""
    trace = trace_state.current()
    if trace is None or not any(getattr(g, "_is_tracer", False) for g in gs):
        return leaves
    return [
        trace.lift(t) if isinstance(t, Tensor) and getattr(t, "_trace", None) is not trace else t
        for t in leaves
    ]


def _tangent_leaf(t: Tensor) -> Tensor:
    """A zero tangent that requires grad (traced: a tracer, which ``autograd.grad`` needs;
    its value is never read, the rule being linear in it)."""
    if t._is_tracer:
        return (t.detach() * 0).requires_grad_()
    return t.new_zeros(t.shape).requires_grad_()


def _zero_tangent(t: Any) -> Any:
    return t.new_zeros(t.shape) if isinstance(t, Tensor) else t


class custom_jvp(_Decorated):  # noqa: N801 (JAX's name)
    """``@adjit.custom_jvp`` then ``f.defjvp(f_jvp)`` with ``f_jvp(primals, tangents) ->
    (primal_out, tangent_out)`` (or ``f.defjvps(*jvps)``, one ``jvp_i(g_i, primal_out,
    *primals)`` per argument, None for none); ``nondiff_argnums`` args are passed first to
    ``f_jvp``. Reverse mode transposes the rule (Note [custom rules as Functions])."""

    kind = "jvp"

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()) -> None:
        self.jvp: Callable[..., Any] | None = None
        super().__init__(fun, nondiff_argnums)

    def _base(self) -> type[Function]:
        return _JvpFunction

    def _missing(self) -> bool:
        return self.jvp is None

    def defjvp(self, jvp: Callable[..., Any], symbolic_zeros: bool = False) -> Callable[..., Any]:
        if symbolic_zeros:
            raise NotImplementedError("adjit.custom_jvp.defjvp: symbolic_zeros is not supported")
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps: Callable[..., Any] | None) -> None:
        """One rule per argument: ``tangent_out = sum_i jvps[i](t_i, primal_out, *primals)``."""

        def jvp(primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
            out = self.fun(*primals)
            terms = [
                rule(t, out, *primals)
                for rule, t in zip(jvps, tangents, strict=True)
                if rule is not None
            ]
            if not terms:
                return out, _zeros_like_tree(out)
            total = terms[0]
            for term in terms[1:]:
                total = _tree_add(total, term)
            return out, total

        self.defjvp(jvp)

    def rule(self, call: _Call, args: Sequence[Any], tangent_leaves: Sequence[Any]) -> Any:
        """The user's rule on ``args`` (nondiff first) and the tangents rebuilt as the
        differentiable arguments' pytrees, checked as JAX does."""
        assert self.jvp is not None
        diff = [args[i] for i in call.diff_positions]
        tangents = unflatten(call.in_spec, list(tangent_leaves))
        result = self.jvp(*(args[i] for i in call.nondiff), tuple(diff), tuple(tangents))
        name = getattr(self.jvp, "__name__", "jvp")
        fname = getattr(self.fun, "__name__", "fun")
        if not isinstance(result, tuple | list) or len(result) != 2:
            raise TypeError(
                f"Custom JVP rule {name} for function {fname} must produce a pair (list or "
                "tuple of length two) representing primal and tangent outputs, but got "
                f"{result}."
            )
        out, tangent_out = result
        s_out, s_t = flatten(out)[1], flatten(tangent_out)[1]
        if s_out != s_t:
            raise TypeError(
                f"Custom JVP rule {name} for function {fname} must produce primal and tangent "
                "outputs with equal container (pytree) structures, but got "
                f"PyTreeDef({spec_text(s_out)}) and PyTreeDef({spec_text(s_t)}) respectively."
            )
        return out, tangent_out


def _zeros_like_tree(tree: Any) -> Any:
    leaves, spec = flatten(tree)
    return unflatten(spec, [t.new_zeros(t.shape) if isinstance(t, Tensor) else 0.0 for t in leaves])


def _tree_add(a: Any, b: Any) -> Any:
    la, spec = flatten(a)
    lb, _ = flatten(b)
    return unflatten(spec, [x + y for x, y in zip(la, lb, strict=True)])
