"""Matmul layout: a transposed matmul result is the product of the transposes, swapped."""

from __future__ import annotations

from collections import Counter

from ..ir.aval import Aval
from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import Op

# Note [matmul layout]
# Reverse mode writes a weight's gradient as the transpose of a product: for y = x @ W.T the
# cotangent of W.T is x.T @ g, and W's is its transpose, (x.T @ g).T: a view with transposed
# strides. A BLAS reads transposed operands for free, but a transposed *result* is a strided
# array that every later elementwise pass walks across the cache (the optimizer's update of
# the 256x784 weight of W2 took 3x as long), and PyTorch hands out ``.grad`` in its
# parameter's layout. (A @ B).T = B.T @ A.T: this pass computes the gradient as g.T @ x, the
# product PyTorch's linear backward computes, so the result is contiguous, and algebra then
# folds the double transposes it leaves. It applies when the product has no other use (else it
# would be computed twice) and both operands are matrices (or equally batched stacks).


def _swaps_last_two(axes: tuple[int, ...]) -> bool:
    n = len(axes)
    return n >= 2 and tuple(axes) == (*range(n - 2), n - 1, n - 2)


def _transposed(v: Var, eqns: list[Eqn], like: Eqn) -> Var:
    """A new equation transposing the last two axes of ``v``; returns its value."""
    shape = v.aval.shape
    n = len(shape)
    axes = (*range(n - 2), n - 1, n - 2)
    out = Var(Aval((*shape[:-2], shape[-1], shape[-2]), v.aval.dtype))
    eqns.append(Eqn(Op.PERMUTE, (v,), {"axes": axes}, out, like.loc, like.no_grad, like.remat))
    return out


def layout(graph: Graph) -> Graph:
    """``graph`` with ``permute(matmul(a, b))`` (last two axes swapped, the product used only
    there) computed as ``matmul(permute(b), permute(a))``."""
    uses = Counter(a for e in graph.eqns for a in e.inputs if isinstance(a, Var))
    uses.update(o for o in graph.outputs if isinstance(o, Var))
    products = {e.out: e for e in graph.eqns if e.op is Op.MATMUL}
    eqns: list[Eqn] = []
    changed = False
    for e in graph.eqns:
        mm = products.get(e.inputs[0]) if e.op is Op.PERMUTE else None  # type: ignore[arg-type]
        if (
            mm is None
            or uses[mm.out] != 1
            or not _swaps_last_two(e.attrs["axes"])
            or any(not isinstance(a, Var) or a.aval.ndim != mm.out.aval.ndim for a in mm.inputs)
        ):
            eqns.append(e)
            continue
        a, b = mm.inputs
        assert isinstance(a, Var) and isinstance(b, Var)  # checked above
        bt, at = _transposed(b, eqns, mm), _transposed(a, eqns, mm)
        eqns.append(Eqn(Op.MATMUL, (bt, at), {}, e.out, mm.loc, e.no_grad, mm.remat))
        changed = True
    return graph.replace(eqns=tuple(eqns)) if changed else graph
