"""Matmul shape canonicalization: a batched product summed over its whole batch is one 2-D
product over the flattened batch (Note [one GEMM over the batch])."""

from __future__ import annotations

from math import prod

from ..ir.aval import Aval
from ..ir.graph import Atom, Eqn, Graph, Var, readers
from ..ir.ops import Op

# Note [one GEMM over the batch]
# Reverse mode writes the weight gradient of a batched linear, y = x @ W.T with x (B, S, in), as
# the cotangent of a broadcast operand: the batched product x.mT @ g, a (B, in, out) stack, then
# a SUM over B that undoes the broadcast. That is B small GEMMs writing B times the gradient's
# bytes and a reduction reading them all back. The sum over the batch of the products is one
# product over the batch laid side by side:
#
#     sum_b A_b @ B_b = [A_1 ... A_B] @ [B_1; ...; B_B]
#
# with A (B, m, k) read as the (m, B k) matrix reshape(A.mT, (B k, m)).T and B (B, k, n) as
# reshape(B, (B k, n)): one 2-D GEMM (PyTorch's linear backward computes the same
# g.reshape(-1, out).T @ x.reshape(-1, in)). Both reshapes are views when the stacks are
# contiguous: the usual A is x.mT, so A.mT is x itself, and the transposes are BLAS flags. The
# terms summed are the same products a[i, k] b[k, j]; only the order of the additions changes
# (BLAS's blocking over B k instead of B GEMMs over k and a pairwise sum over B), so the result
# agrees to the float rounding of a different summation order, as PyTorch's own does.
#
# It applies when the SUM reduces exactly the batch axes, both operands carry the whole batch
# (a broadcast operand would need a different rewrite), the product has no other use (it would
# be computed twice), the sizes are concrete, and the dtype is float32/float64 or complex
# (float16/bfloat16 round each product to the narrow type: one GEMM would round once, which is
# more accurate but not the same). The layout pass then turns a transposed result (W's
# gradient is the transpose of x.mT @ g summed) into the untransposed product (Note [matmul
# layout]), and algebra folds the double transposes.


def _batch_axes(e: Eqn) -> tuple[int, ...] | None:
    """A SUM's axes, non-negative and sorted (None: every axis)."""
    axes = e.attrs["axes"]
    if axes is None:
        return None
    n = e.inputs[0].aval.ndim
    return tuple(sorted(a % n for a in axes))


def _fits(s: Eqn, mm: Eqn) -> bool:
    """Whether ``s`` sums the whole batch of the product ``mm`` (Note [one GEMM over the batch])."""
    a, b = mm.inputs
    out = mm.out.aval
    r = out.ndim
    dt = out.dtype
    if r < 3 or a.aval.ndim != r or b.aval.ndim != r:
        return False
    if dt.reduced or dt.category < 2 or s.out.aval.dtype != dt:
        return False
    if _batch_axes(s) != tuple(range(r - 2)):
        return False
    shapes = (a.aval.shape, b.aval.shape, out.shape)
    if any(not isinstance(n, int) for shape in shapes for n in shape):
        return False
    return a.aval.shape[:-2] == b.aval.shape[:-2] == out.shape[:-2]


def _emit(op: Op, x: Atom, attrs: dict, aval: Aval, like: Eqn, eqns: list[Eqn]) -> Var:
    out = Var(aval)
    eqns.append(Eqn(op, (x,), attrs, out, like.loc, like.no_grad, like.remat))
    return out


def _flattened(s: Eqn, mm: Eqn, out: Var, eqns: list[Eqn]) -> None:
    """Append the 2-D product that replaces ``s = sum(mm)``, defining ``out``: ``s``'s value,
    or (a keepdim sum) the value of the reshape that drops its unit axes, or a new (m, n) Var
    that ``s``'s value is then the reshape of."""
    a, b = mm.inputs
    *batch, m, k = a.aval.shape
    n = b.aval.shape[-1]
    rows = prod(batch) * k
    dt = mm.out.aval.dtype
    r = len(batch) + 2
    swap = (*range(r - 2), r - 1, r - 2)
    at = _emit(Op.PERMUTE, a, {"axes": swap}, Aval((*batch, k, m), dt), mm, eqns)
    a2 = _emit(Op.RESHAPE, at, {"shape": (rows, m)}, Aval((rows, m), dt), mm, eqns)
    a2t = _emit(Op.PERMUTE, a2, {"axes": (1, 0)}, Aval((m, rows), dt), mm, eqns)
    b2 = _emit(Op.RESHAPE, b, {"shape": (rows, n)}, Aval((rows, n), dt), mm, eqns)
    eqns.append(Eqn(Op.MATMUL, (a2t, b2), {}, out, mm.loc, mm.no_grad, mm.remat))


def gemm(graph: Graph) -> Graph:
    """``graph`` with ``sum(matmul(a, b))`` over the whole batch computed as one 2-D matmul of
    the flattened operands (Note [one GEMM over the batch])."""
    users = readers(graph)
    outputs = {o for o in graph.outputs if isinstance(o, Var)}

    def only_user(v: Var) -> Eqn | None:
        found = users.get(v, [])
        return found[0] if len(found) == 1 and v not in outputs else None

    products = {e.out: e for e in graph.eqns if e.op is Op.MATMUL}
    targets: dict[int, Var] = {}  # id of a SUM -> the (m, n) Var its 2-D product defines
    kept: set[int] = set()  # keepdim SUMs whose own value is read: then a reshape of the product
    dropped: set[int] = set()  # ids of the reshapes whose value the product defines
    for e in graph.eqns:
        mm = products.get(e.inputs[0]) if e.op is Op.SUM else None  # type: ignore[arg-type]
        if mm is None or only_user(mm.out) is not e or not _fits(e, mm):
            continue
        if not e.attrs["keepdim"]:
            targets[id(e)] = e.out
            continue
        after = only_user(e.out)
        if after is not None and after.op is Op.RESHAPE and after.out.aval.ndim == 2:
            targets[id(e)] = after.out  # the reshape dropping the unit axes
            dropped.add(id(after))
        else:
            targets[id(e)] = Var(Aval(mm.out.aval.shape[-2:], mm.out.aval.dtype))
            kept.add(id(e))
    if not targets:
        return graph
    # each 2-D product where its batched product was (the SUM reads only that product): the
    # order the rule made them in (Note [the smaller operand's gradient first] in
    # ir/derivatives.py), not after the other product of the same backward
    at_product = {
        id(products[e.inputs[0]]): e  # type: ignore[index]
        for e in graph.eqns
        if id(e) in targets
    }
    eqns: list[Eqn] = []
    for e in graph.eqns:
        s = at_product.get(id(e))
        if s is not None:
            out = targets[id(s)]
            _flattened(s, e, out, eqns)
            if id(s) in kept:
                shape = {"shape": s.out.aval.shape}
                eqns.append(Eqn(Op.RESHAPE, (out,), shape, s.out, s.loc, s.no_grad, s.remat))
        elif id(e) not in targets and id(e) not in dropped:
            eqns.append(e)
    # the replaced products are dead now: dce drops them
    return graph.replace(eqns=tuple(eqns))
