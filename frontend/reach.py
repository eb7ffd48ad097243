"""Which outside tensors a traced value depends on through differentiable equations."""

from __future__ import annotations

from collections.abc import Sequence

from ..ir.graph import Var
from ..ir.ops import Op
from ..runtime.tensor import Tensor
from .tracer import Tracer


def reached(outputs: Sequence[Tensor], tensors: Sequence[Tensor]) -> list[bool] | None:
    """For each of ``tensors`` (leaves from outside the trace, e.g. parameters): whether the
    traced ``outputs`` reach it backwards through equations that carry a gradient (recorded
    with grad on, not a ``detach``, with a floating or complex result), as the eager graph
    walk from their ``grad_fn`` would; None when no output is a tracer of a current trace."""
    traced = [t for t in outputs if isinstance(t, Tracer)]
    if not traced:
        return None
    trace = traced[0]._trace
    made = {e.out: e for e in trace.eqns}
    seen: set[Var] = set()
    stack = [t._var for t in traced if t._trace is trace and t._requires_grad]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        e = made.get(v)
        if e is None or e.no_grad or e.op is Op.DETACH:
            continue
        dtype = e.out.aval.dtype
        if not (dtype.is_floating_point or dtype.is_complex):
            continue
        stack.extend(a for a in e.inputs if isinstance(a, Var))
    out: list[bool] = []
    for t in tensors:
        tr = t if isinstance(t, Tracer) else trace._lifted_ids.get(id(t))
        out.append(tr is not None and tr._var in seen)
    return out
