"""adjit.vmap of random programs vs torch.func.vmap: values and gradients, eager and compiled.

A per-example program is drawn by the core strategy (elementwise ops, reductions, movement,
indexing, matmul, softmax, where, clamp, no_grad and detach regions); each of its inputs is
batched at a drawn dim (or, with some probability, not batched: the same for every example),
the output's batch dim goes to a drawn ``out_dims``, and ``chunk_size`` is drawn too. The case
runs ``vmap(f)`` with ``T.vmap`` (adjit) or ``torch.func.vmap``: the batching pass's rules
meet every op of the core vocabulary with batched and unbatched operands in every position.
(An output moved to a dim other than 0 is made to depend on a batched input: PyTorch's vmap
expands an unbatched output to a wrong shape there, or crashes.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from . import cases, checks
from .cases import Case
from .strategies import ALL, programs

HEADER = [
    "def vmap(T, f, **kwargs):",
    "    return T.vmap(f, **kwargs) if T.__name__ == 'adjit' else T.func.vmap(f, **kwargs)",
    "",
    "",
]


@st.composite
def vmap_cases(draw: Callable[..., Any]) -> Case:
    p = draw(programs(ALL, max_stmts=6))
    assume(not checks.near_kink(p))
    size = draw(st.integers(1, 4))
    dims: list[int | None] = []
    arrays = []
    for i, inp in enumerate(p.inputs):
        d = draw(st.sampled_from([None, *range(len(inp.shape) + 1)]))
        dims.append(d)
        shape = tuple(inp.shape) if d is None else (*inp.shape[:d], size, *inp.shape[d:])
        arrays.append(
            f"np.random.default_rng({p.seed + i}).uniform(-1.5, 1.5, {shape}).astype(np.{p.dtype})"
        )
    assume(any(d is not None for d in dims))
    out_rank = len(p.stmts[-1].shape) + 1
    out_dim = draw(st.integers(-out_rank, out_rank - 1))
    chunk = draw(st.sampled_from([None, None, 1, 2]))
    args = ", ".join(f"x{i}" for i in range(len(p.inputs)))
    body = [f"def f({args}):"]
    for s in p.stmts:
        if s.no_grad:
            body += ["    with T.no_grad():", f"        {s.name} = {s.expr}"]
        else:
            body.append(f"    {s.name} = {s.expr}")
    last = p.stmts[-1].name
    if out_dim != 0:  # (torch.func.vmap moves an unbatched output wrong, or crashes)
        batched = next(i for i, d in enumerate(dims) if d is not None)
        last = f"{last} + x{batched}.sum() * 0"
    body.append(f"    return {last}")
    kwargs = f"in_dims={tuple(dims)!r}, out_dims={out_dim}, chunk_size={chunk}"
    body.append(f"return vmap(T, f, {kwargs})({args})")
    grads = [inp.requires_grad for inp in p.inputs]
    return Case(f"vmap {p.dtype}", body, arrays, grads, header=HEADER)


def check_vmap(case: Case) -> None:
    # the same ops on the same values, batched: PyTorch's kernels and adjit's round alike up
    # to a few ulp per op (sums in another order)
    rtol = {"float64": 1e-9, "float32": 2e-4}[case.kind.split()[1]]
    cases.check_eager_then_compiled(case, rtol)
