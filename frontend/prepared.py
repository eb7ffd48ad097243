"""Trampolines for the common calls: a compiled function, and its gradient (Note [trampolines])."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..runtime.autograd import gradient_edge
from ..runtime.trampoline import Writer, guard_args, run_program, tensor
from .guards import write_guards

if TYPE_CHECKING:
    from .compile import Entry

Trampoline = Callable[[tuple[Any, ...]], Any]


def compiled_call(entry: Entry, key: tuple) -> Trampoline | None:
    """``adjit.compile(fn)(*args)`` for a preparable entry and the signature ``key`` (a
    ``guards.fast_key``): its guards (the arguments', then the lifted tensors', modules' and
    bindings': Note [guards written out]), then the inference program, or the forward program
    with its grad_fn attached when an input needs grad. None when the general path must run."""
    if not entry.preparable or entry.eager_reason is not None:
        return None
    from .compile import module_guard  # (compile imports this module)

    grad_enabled, specs = key[0], key[1:]
    w = Writer("args")
    arrays = guard_args(w, specs, grad_enabled)
    lifted = write_guards(
        w, entry.lifted, entry.lifted_keys, entry.modules, entry.bindings, module_guard
    )
    if lifted is None:
        return None
    arrays += [f"e{i}" for i in range(len(lifted))]
    inputs = [f"a{i}" for i in range(len(specs))] + lifted
    needs = [spec[2] for spec in specs] + [k[3] for k in entry.lifted_keys]
    wrt = tuple(i for i, need in enumerate(needs) if grad_enabled and need)
    plan = entry.training(wrt) if wrt else None
    if plan is None or not plan.joint.cotangent_of:  # nothing to differentiate
        graph = entry.inference()
        (out,) = run_program(w, entry.runner(graph), arrays, len(graph.outputs))
        w.line(f"return {tensor(w, out, 't')}")
        return w.build("compiled_call")
    forward = plan.split.forward
    out, *residuals = run_program(w, entry.forward_runner(plan), arrays, len(forward.outputs))
    t = tensor(w, out, "t")
    edge = w.const("edge", gradient_edge)
    edges = [
        f"{edge}({inputs[i]})" if hit else "(None, 0)"
        for i, hit in zip(plan.wrt, plan.joint.reached, strict=True)
    ]
    node = w.const("Node", entry.node_type(plan))
    held = "args" if not lifted else f"({', '.join(inputs)},)"
    w.line(f"{t}._grad_fn = {node}({held}, [{', '.join(residuals)}], ({', '.join(edges)},))")
    w.line(f"return {t}")
    return w.build("compiled_call_with_grad_fn")


def grad_call(
    run: Callable[..., Any], n_results: int, key: tuple, value: bool, many: bool
) -> Trampoline:
    """``grad``/``value_and_grad`` of a plain function for signature ``key``: the seeded joint
    program ``run``, whose results are the value then the gradients."""
    w = Writer("args")
    arrays = guard_args(w, key[1:], key[0])
    results = run_program(w, run, arrays, n_results)
    out, *grads = [tensor(w, r, f"t{i}") for i, r in enumerate(results)]
    g = f"({', '.join(grads)},)" if many else grads[0]
    w.line(f"return ({out}, {g})" if value else f"return {g}")
    return w.build("value_and_grad" if value else "grad")
