"""Loop-body rewrites the executor applies to a scan before compiling its body."""

from __future__ import annotations

from ..ir.graph import Eqn, Graph, Lit, Var
from ..ir.ops import GroupOp, Op


def hoist_invariants(body: Graph, k: int) -> tuple[Graph, Graph]:
    """Note [loop invariants]: equations of a loop body that read only its consts (its first
    ``k`` inputs), its constants and literals compute the same value every iteration: they
    move to a graph run once before the loop (``pre``: the consts -> the invariants), and the
    body takes the invariants as more consts, after its own: ``(consts.., invariants..,
    rest..)``. (Draws and loops stay: a draw differs per iteration.)"""
    fixed: set[Var] = {*body.inputs[:k], *(v for v, _ in body.consts)}
    moved, kept = [], []
    for q in body.eqns:
        invariant = q.op not in GroupOp.EFFECTS | GroupOp.CONTROL and all(
            isinstance(a, Lit) or a in fixed for a in q.inputs
        )
        if invariant:
            moved.append(q)
            fixed.add(q.out)
        else:
            kept.append(q)
    made = {q.out for q in moved}
    used = [a for q in kept for a in q.inputs] + list(body.outputs)
    needed = list(dict.fromkeys(a for a in used if isinstance(a, Var) and a in made))
    pre = Graph(body.inputs[:k], tuple(moved), tuple(needed), body.consts)
    inputs = (*body.inputs[:k], *needed, *body.inputs[k:])
    return pre, body.replace(inputs=inputs, eqns=tuple(kept))


def hoist_products(e: Eqn) -> tuple[Graph, list[tuple[int, int]]]:
    """Note [products of slices]: ``x_t @ w`` of an xs slice and a const is, over the whole
    loop, one product ``xs @ w`` made before it (one large GEMM instead of ``length`` small
    ones, and a step less per iteration: an RNN's input projection). The body then takes the
    product's slice as one more x: returns the new body and, per hoisted product, (x index,
    const index) in the scan's operands."""
    body: Graph = e.attrs["body"]
    k, c = e.attrs["n_consts"], e.attrs["n_carry"]
    position = {v: i for i, v in enumerate(body.inputs)}
    hoisted: list[tuple[int, int]] = []
    extra: list[Var] = []
    kept = []
    for q in body.eqns:
        if q.op is Op.MATMUL and _slice_times_const(q, position, k, c):
            a, b = q.inputs
            hoisted.append((position[a] - k - c, position[b]))  # type: ignore[index]
            extra.append(q.out)
        else:
            kept.append(q)
    if not hoisted:
        return body, []
    return body.replace(inputs=(*body.inputs, *extra), eqns=tuple(kept)), hoisted


def _slice_times_const(q: Eqn, position: dict[Var, int], k: int, c: int) -> bool:
    a, b = q.inputs
    if not (isinstance(a, Var) and isinstance(b, Var)) or a not in position or b not in position:
        return False
    same = a.aval.dtype is b.aval.dtype is q.out.aval.dtype
    # (float32/64 only: NumPy's product of reduced floats would round unlike the reference's)
    plain = q.out.aval.dtype.name in ("float32", "float64")
    slice_first = position[a] >= k + c and position[b] < k
    return slice_first and a.aval.ndim == b.aval.ndim == 2 and same and plain
