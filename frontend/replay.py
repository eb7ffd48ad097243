"""Run a graph on concrete tensors through ``apply``, so eager autograd records its history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..ir.graph import Atom, Eqn, Graph, Lit, Var
from ..ir.ops import GroupOp, Op
from ..runtime import trace_state
from ..runtime.dispatch import apply
from ..runtime.grad_mode import no_grad
from ..runtime.tensor import Tensor


def run_eqn(e: Eqn, args: list[Any]) -> Any:
    """One equation on tensors through ``apply`` (no_grad ones under no_grad); replayed into
    a trace, an equation of a checkpointed region stays in it (Note [checkpoint traced])."""
    trace = trace_state.current() if e.remat else None
    if trace is None:
        return _run_eqn(e, args)
    before, trace.remat = trace.remat, e.remat
    try:
        return _run_eqn(e, args)
    finally:
        trace.remat = before


def _run_eqn(e: Eqn, args: list[Any]) -> Any:
    if e.op is Op.DETACH:
        return args[0].detach()
    if e.op in GroupOp.CONTROL:  # a loop, a branch or a part of one (Note [loops in the IR])
        from .control_trace import run_control

        return run_control(e, args)
    if e.no_grad:
        with no_grad():
            return apply(e.op, *args, **e.attrs)
    return apply(e.op, *args, **e.attrs)


def replay(g: Graph, inputs: Sequence[Tensor]) -> list[Tensor]:
    """The interpreter backend: each equation runs eagerly (no_grad ones under no_grad)."""
    env: dict[Var, Tensor] = dict(zip(g.inputs, inputs, strict=True))
    env.update((v, Tensor._make(arr)) for v, arr in g.consts)

    def read(a: Atom) -> object:
        return a.value if isinstance(a, Lit) else env[a]

    for e in g.eqns:
        env[e.out] = run_eqn(e, [read(a) for a in e.inputs])
    return [read(o) if isinstance(o, Var) else o.value for o in g.outputs]  # type: ignore[misc]
