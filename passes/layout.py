"""Matmul layout: a transposed matmul result is the product of the transposes, swapped; a
product over a contraction of length one is an elementwise (broadcast) product."""

from __future__ import annotations

from collections import Counter

from ..ir.aval import Aval
from ..ir.graph import Atom, Eqn, Graph, Var
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


# Note [GEMM orientation]
# C = A @ B and its transpose C.T = B.T @ A.T (the same memory, operands swapped, transpose
# flags flipped) are one BLAS call, not two layouts to choose between: CBLAS turns a row-major
# call into the column-major one with the operands swapped, so both spellings reach OpenBLAS's
# driver with the same arguments (checked: the same bits, the same speed, on 128 x 128 x 64 up
# to 2048 x 1024 x 256). What does differ is which operands are stored transposed (NN, NT, TN,
# TT), and that is fixed by the values' layouts, not chosen here. Measured by CPU time (min of
# 9, one thread, this 2-core AMD EPYC, OpenBLAS 0.3.31 Haswell kernels): the transformer
# block's twelve linear-layer products run at 80-88 GF/s in all four forms (within 3%, no form
# ahead on every shape), resnet18's skinny (512, 4608) @ (4608, 32) family at 53-69 GF/s with
# no form ahead across runs; so no layout rule is applied. In a compiled step the linear
# products run at 76-84 GF/s of CPU time; attention's (128 x 128 x 64) products at 52-60, the
# per-call limit of OpenBLAS at that size (one such call: ~59 GF/s alone, 512 x 128 x 64: ~76).


# Note [outer products]
# A matmul whose contracted dimension has length one (a (.., m, 1) @ (.., 1, n) stack: the
# per-example weight gradients of vmap(grad), where each example's x.T @ g is an outer product)
# is exactly the broadcast product x * y: the batch dimensions broadcast alike, and a sum of
# one term is the term. As a MUL it fuses into the elementwise kernels around it and is written
# once by a vectorized loop; NumPy's stacked matmul loops over the (m, 1) @ (1, n) pieces (6x
# slower at 256 x 128 x 784).


def _product(x: Atom, y: Atom, out: Var, like: Eqn) -> Eqn:
    """``out = x @ y``, as a MUL when the contraction has length one (Note [outer products])."""
    xs, ys = x.aval.shape, y.aval.shape
    outer = len(xs) >= 2 and len(ys) >= 2 and xs[-1] == 1 and ys[-2] == 1
    return Eqn(Op.MUL if outer else Op.MATMUL, (x, y), {}, out, like.loc, like.no_grad, like.remat)


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
    there) computed as ``matmul(permute(b), permute(a))``, and outer products as MULs."""
    uses = Counter(a for e in graph.eqns for a in e.inputs if isinstance(a, Var))
    uses.update(o for o in graph.outputs if isinstance(o, Var))
    products = {e.out: e for e in graph.eqns if e.op is Op.MATMUL}
    eqns: list[Eqn] = []
    changed = False
    for e in graph.eqns:
        mm = products.get(e.inputs[0]) if e.op is Op.PERMUTE else None  # type: ignore[arg-type]
        if e.op is Op.MATMUL:
            x, y = e.inputs
            eqns.append(_product(x, y, e.out, e))
            changed |= eqns[-1].op is Op.MUL
            continue
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
        eqns.append(_product(bt, at, e.out, mm))
        changed = True
    return graph.replace(eqns=tuple(eqns)) if changed else graph
