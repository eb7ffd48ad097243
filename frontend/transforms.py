"""``adjit.grad`` and ``adjit.value_and_grad``: compiled gradient functions that compose."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir.graph import Graph
from ..ir.sizes import has_symbols
from ..runtime import forward_grad, trace_state
from ..runtime.grad_mode import enable_grad, is_grad_enabled
from ..runtime.tensor import Tensor
from ..runtime.trampoline import MISS
from .compile import TENSOR, CompiledFunction, Entry
from .guards import fast_key
from .plans import TrainPlan, optimize
from .prepared import grad_call
from .pytree import flatten, unflatten
from .replay import replay
from .tracer import Tracer


class GradFunction:
    """``fn``'s gradient with respect to positional arguments ``argnums``, compiled."""

    def __init__(
        self,
        fn: Callable[..., Any],
        argnums: int | tuple[int, ...],
        has_aux: bool,
        value: bool,
        backend: str | None = None,
    ) -> None:
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]
        self.argnums, self.has_aux, self.value = argnums, has_aux, value
        self._compiled = CompiledFunction(self._unpacked(fn), backend=backend, fullgraph=True)
        self._compiled.one_graph = "adjit.value_and_grad" if value else "adjit.grad"
        self._fast: dict[tuple, _FastGrad] = {}  # guards.fast_key -> the whole call, prepared
        self._hot: Callable[[tuple[Any, ...]], Any] | None = None  # the last call's trampoline

    def _unpacked(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        nums = self.argnums if isinstance(self.argnums, tuple) else (self.argnums,)
        has_aux = self.has_aux

        def differentiated(*args: Any, **kwargs: Any) -> Any:
            for n in nums:  # inside, the differentiated arguments require grad (torch.func)
                for a in flatten(args[n])[0] if n < len(args) else ():
                    if isinstance(a, Tracer) and not a.requires_grad:
                        a._trace.mark_differentiated(a)
            out = fn(*args, **kwargs)
            if has_aux and not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError("with has_aux=True the function must return a pair (out, aux)")
            return out

        differentiated.__wrapped__ = fn  # type: ignore[attr-defined]  # (guards.bindings)
        return differentiated

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not is_grad_enabled():  # an outer no_grad does not reach inside (as torch.func.grad)
            with enable_grad():
                result = self(*args, **kwargs)
            leaves, spec = flatten(result)
            return unflatten(spec, [x.detach() if isinstance(x, Tensor) else x for x in leaves])
        if forward_grad.ACTIVE and forward_grad.any_dual((args, kwargs)):
            return self._call(args, kwargs)[0]  # replayed: the tangents propagate (forward AD)
        hot = self._hot
        if hot is not None and not kwargs:
            result = hot(args)
            if result is not MISS:
                return result
        key = None if kwargs or trace_state.current() is not None else fast_key(args)
        fast = self._fast.get(key) if key is not None else None
        if fast is None or key is None or not fast.entry.lifted_ok():
            result, fast = self._call(args, kwargs)
            if key is not None and fast is not None:
                self._fast[key] = fast  # its trampoline is written if a second call comes
            return result
        result = fast(args)
        self._hot = fast.prepare(key)
        return result

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        nums = self.argnums if isinstance(self.argnums, tuple) else (self.argnums,)
        specs = []  # per differentiated argument: its tree (a tensor, or dicts/tuples of them)
        for n in nums:
            arg_leaves, arg_spec = flatten(args[n]) if n < len(args) else ([None], None)
            for a in arg_leaves:
                if not isinstance(a, Tensor):
                    raise TypeError(
                        f"grad: argument {n} must be a floating-point Tensor or a tuple, list "
                        "or dict of them"
                    )
                if not a.dtype.is_floating_point:
                    raise TypeError(
                        f"grad requires floating-point inputs, but argument {n} is {a.dtype}"
                    )
            specs.append((len(arg_leaves), arg_spec))
        leaves, spec = flatten((args, kwargs))
        entry = self._compiled.entry_for(leaves, spec)
        tensor_pos = [i for i, x in enumerate(leaves) if isinstance(x, Tensor)]
        wrt = tuple(
            tensor_pos.index(_leaf_index(args, n) + k)
            for n, (count, _) in zip(nums, specs, strict=True)
            for k in range(count)
        )
        inputs = [x for x in leaves if isinstance(x, Tensor)] + entry.lifted
        out_pos = self._check_output(entry)
        plan = entry.training(wrt)
        values, flat = _run(plan, inputs, out_pos, entry)
        grads, it = [], iter(flat)
        for count, arg_spec in specs:  # each argument's gradients in its own structure
            grads.append(unflatten(arg_spec, [next(it) for _ in range(count)]))
        fast = None
        if (
            0 in plan.joint.cotangent_of
            and not any(t.requires_grad for t in inputs)
            and trace_state.current() is None  # (inside a trace the program is inlined)
        ):
            fast = _FastGrad(self, entry, plan, out_pos)
        return self._assemble(entry, entry.write_back(values), grads), fast

    def _assemble(self, entry: Entry, values: list[Any], grads: list[Any]) -> Any:
        grads_out = tuple(grads) if isinstance(self.argnums, tuple) else grads[0]
        out_leaves = iter(values)
        outs = [next(out_leaves) if t is TENSOR else t for t in entry.out_template]
        result = unflatten(entry.out_spec, outs)
        if self.has_aux:
            value, aux = result
            return ((value, aux), grads_out) if self.value else (grads_out, aux)
        return (result, grads_out) if self.value else grads_out

    def _check_output(self, entry: Entry) -> int:
        assert entry.graph is not None
        outs = entry.graph.outputs
        if not outs or entry.out_template[0] is not TENSOR:
            raise TypeError("grad requires the function to return a Tensor")
        aval = outs[0].aval
        if aval.shape not in ((), (1,)) or not aval.dtype.is_floating_point:
            raise TypeError(
                "grad requires a scalar floating-point output (a one-element tensor), got "
                f"shape {list(aval.shape)} and dtype {aval.dtype}; use autograd.grad with "
                "grad_outputs for vector-Jacobian products"
            )
        return 0


class _FastGrad:
    """A prepared call for one signature: arrays in, one compiled joint program, tensors out.

    The common shape — a function returning one tensor, no lifted or mutated outside
    tensors, no aux — is answered without rebuilding trees (Note [prepared calls])."""

    def __init__(self, gf: GradFunction, entry: Entry, plan: TrainPlan, out_pos: int) -> None:
        self.gf, self.entry = gf, entry
        graph = seeded(entry, plan, out_pos)
        self.run = entry.runner(graph)
        self.n_results = len(graph.outputs)
        self.n_out = plan.joint.n_outputs
        self.plain = entry.plain and not gf.has_aux and self.n_out == 1
        self.many = isinstance(gf.argnums, tuple)
        self.trampoline: Callable[[tuple[Any, ...]], Any] | None = None

    def prepare(self, key: tuple) -> Callable[[tuple[Any, ...]], Any] | None:
        """The plain call for signature ``key`` (a ``fast_key``) as a trampoline, written once
        (None when the call is not plain)."""
        if self.trampoline is None and self.plain and not self.entry.modules:
            self.trampoline = grad_call(self.run, self.n_results, key, self.gf.value, self.many)
        return self.trampoline

    def __call__(self, args: tuple[Any, ...]) -> Any:
        arrays = [a._data for a in args]
        if self.plain:
            make = Tensor._make
            value, *grads = [make(a) for a in self.run(arrays)]
            g = tuple(grads) if self.many else grads[0]
            return (value, g) if self.gf.value else g
        arrays += [t._data for t in self.entry.lifted]
        out = [Tensor._make(a) for a in self.run(arrays)]
        values = self.entry.write_back(out[: self.n_out])
        return self.gf._assemble(self.entry, values, out[self.n_out :])


def _leaf_index(args: tuple, n: int) -> int:
    """Position of positional argument ``n`` among the flattened leaves of (args, kwargs)."""
    return sum(len(flatten(a)[0]) for a in args[:n])


def _run(
    plan: TrainPlan, inputs: list[Tensor], out_pos: int, entry: Entry
) -> tuple[list[Any], list[Any]]:
    """Forward and gradients in one go (one joint graph), inline when tracing."""
    g = plan.joint.graph
    n_out = plan.joint.n_outputs
    if 0 not in plan.joint.cotangent_of:  # the output does not depend on the arguments
        zeros = [
            Tensor._make(np.zeros(v.aval.shape, v.aval.dtype.np))
            for v in (g.inputs[i] for i in plan.wrt)
        ]
        return _forward_only(plan, inputs), zeros
    cts = [Tensor._make(c) for c in _cotangents(plan, out_pos)]
    dual = forward_grad.ACTIVE and forward_grad.any_dual(inputs)
    if dual or any(isinstance(t, Tracer) for t in inputs) or any(t.requires_grad for t in inputs):
        out = replay(g, [*inputs, *cts])  # inside a trace, or differentiable: record it
    else:
        arrays = [t._data for t in inputs]
        out = [Tensor._make(a) for a in entry.runner(seeded(entry, plan, out_pos))(arrays)]
    return list(out[:n_out]), list(out[n_out:])


def seeded(entry: Entry, plan: TrainPlan, out_pos: int) -> Graph:
    """The joint graph with its cotangent seeds as constants (1 for output ``out_pos``, 0 for
    the others), optimized again: ``grad`` always seeds with ones, so every ``g * 1`` the
    backward would compute per element folds away. Cached on the entry."""
    key = ("seeded", plan.wrt, out_pos)
    g = entry.plans.get(key)
    template = entry.template
    if g is None and template is not None:  # Note [one trace, many sizes]: the template's,
        tplan = template.training(plan.wrt)  # so the program is compiled once for all sizes
        if not any(
            has_symbols(tplan.joint.graph.outputs[k].aval.shape) for k in tplan.joint.cotangent_of
        ):
            g = entry.plans[key] = entry.inst.graph(seeded(template, tplan, out_pos))
    if g is None:
        joint = plan.joint.graph
        n = len(joint.inputs) - len(plan.joint.cotangent_of)
        seeds = tuple(zip(joint.inputs[n:], _cotangents(plan, out_pos), strict=True))
        g = optimize(joint.replace(inputs=joint.inputs[:n], consts=(*joint.consts, *seeds)))[0]
        entry.plans[key] = g
    return g


def _cotangents(plan: TrainPlan, out_pos: int | None) -> list[np.ndarray]:
    """The joint graph's cotangent inputs: 1 for output ``out_pos``, 0 for the others."""
    g = plan.joint.graph
    return [
        np.full(g.outputs[k].aval.shape, 1.0 if k == out_pos else 0.0, g.outputs[k].aval.dtype.np)
        for k in plan.joint.cotangent_of
    ]


def _forward_only(plan: TrainPlan, inputs: list[Tensor]) -> list[Any]:
    cts = [Tensor._make(c) for c in _cotangents(plan, None)]
    return list(replay(plan.joint.graph, [*inputs, *cts])[: plan.joint.n_outputs])


def grad(
    fn: Callable[..., Any],
    argnums: int | tuple[int, ...] = 0,
    has_aux: bool = False,
    backend: str | None = None,
) -> GradFunction:
    """The compiled gradient of a scalar-valued ``fn`` with respect to ``argnums``."""
    return GradFunction(fn, argnums, has_aux, value=False, backend=backend)


def value_and_grad(
    fn: Callable[..., Any],
    argnums: int | tuple[int, ...] = 0,
    has_aux: bool = False,
    backend: str | None = None,
) -> GradFunction:
    """``(fn(*args), grad(fn)(*args))`` from one compiled program."""
    return GradFunction(fn, argnums, has_aux, value=True, backend=backend)
