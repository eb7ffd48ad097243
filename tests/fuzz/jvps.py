"""adjit's jvp of random programs vs torch.func.jvp: values, tangents and the gradients of
both (reverse over forward), eager and compiled.

A program is drawn by the core strategy (elementwise ops, reductions, movement, indexing,
matmul, softmax, where, clamp, no_grad and detach regions); each input gets a tangent, the
case runs ``jvp(f, inputs, tangents)`` with adjit's JVP pass (adjit.frontend.jvp) or
torch.func.jvp, so every rule of the JVP table meets every op of the core vocabulary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from . import cases, checks
from .cases import Case
from .strategies import ALL, programs

HEADER = [
    "def jvp(T, f, primals, tangents):",
    "    if T.__name__ == 'adjit':",
    "        from adjit.frontend.jvp import jvp as adjit_jvp",
    "",
    "        return adjit_jvp(f, primals, tangents)",
    "    out, tangent = T.func.jvp(f, primals, tangents)",
    "    return out, tangent.to(out.dtype)  # (PyTorch's can be float64: see check_jvp)",
    "",
    "",
]


@st.composite
def jvp_cases(draw: Callable[..., Any]) -> Case:
    p = draw(programs(ALL, max_stmts=6))
    assume(not checks.near_kink(p))
    n = len(p.inputs)
    arrays = [
        f"np.random.default_rng({p.seed + i}).uniform(-1.5, 1.5, {tuple(inp.shape)})"
        f".astype(np.{p.dtype})"
        for i, inp in enumerate(p.inputs)
    ]
    arrays += [
        f"np.random.default_rng({p.seed + 100 + i}).uniform(-1, 1, {tuple(inp.shape)})"
        f".astype(np.{p.dtype})"
        for i, inp in enumerate(p.inputs)
    ]
    primals = ", ".join(f"x{i}" for i in range(n))
    tangents = ", ".join(f"x{n + i}" for i in range(n))
    body = [f"def f({primals}):"]
    for s in p.stmts:
        if s.no_grad:
            body += ["    with T.no_grad():", f"        {s.name} = {s.expr}"]
        else:
            body.append(f"    {s.name} = {s.expr}")
    body.append(f"    return {p.stmts[-1].name}")
    body.append(f"out, tangent = jvp(T, f, ({primals},), ({tangents},))")
    body.append("return T.cat([out.reshape(-1), tangent.reshape(-1)])")
    grads = [inp.requires_grad for inp in p.inputs] + [False] * n
    return Case(f"jvp {p.dtype}", body, arrays, grads, header=HEADER)


def check_jvp(case: Case) -> None:
    # (PyTorch's forward AD promotes some float32 tangents to float64, e.g. through
    # maximum(x, x + 0.0137) under no_grad; adjit's tangent has the primal's dtype, so the
    # header casts PyTorch's back)
    # the same derivative by PyTorch's forward formulas and by adjit's table (mostly VJP
    # rules on the tangent): a few ulp per op, as the other differential strategies
    rtol = {"float64": 1e-9, "float32": 2e-4}[case.kind.split()[1]]
    cases.check_eager_then_compiled(case, rtol)
