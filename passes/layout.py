"""Matmul layout: a transposed matmul result is the product of the transposes, swapped; a
product over a contraction of length one is an elementwise (broadcast) product; heads
concatenated after merging are one concatenation, merged after (Note [concatenated heads])."""

from __future__ import annotations

from collections import Counter

from ..ir.aval import Aval
from ..ir.graph import Atom, Eqn, Graph, Var, use_counts
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


# Note [concatenated heads]
# Attention's qkv = x @ Wqkv, split into q, k, v and each viewed as (B, heads, S, dh), sends
# back three (B, heads, S, dh) product gradients, each permuted to (B, S, heads, dh), merged to
# (B, S, heads dh) and concatenated along the last axis. The merge of a permuted stack is a
# copy (runtime/reshape_copies.py), and the concatenation copies again: three 2 MB copies
# and a 6 MB one a transformer block's step. Concatenating (..., h_i, d) stacks along their
# heads axis and merging (h, d) afterwards puts every element in the same place (element
# (..., j, e) of input i lands at (..., (H_i + j) d + e) either way, H_i the heads before i)
# and the merge of the concatenated (contiguous) result is a view: one copy reading the
# permuted stacks. It applies when each concatenated operand is a reshape merging the last two
# axes of a value with the same d, read only there, in the concatenation's dtype.


def _merged_tail(e: Eqn | None, dtype: object) -> Var | None:
    """The operand of ``e`` when ``e`` is a RESHAPE merging its last two axes (Note
    [concatenated heads]) in ``dtype``, else None."""
    if e is None or e.op is not Op.RESHAPE or not isinstance(e.inputs[0], Var):
        return None
    x = e.inputs[0]
    xs, ys = x.aval.shape, e.out.aval.shape
    if x.aval.dtype != dtype or len(xs) != len(ys) + 1 or tuple(xs[:-2]) != tuple(ys[:-1]):
        return None
    if any(not isinstance(n, int) for n in xs):
        return None
    return x


def _concatenated_heads(
    e: Eqn, producers: dict[Var, Eqn], uses: Counter[Var], eqns: list[Eqn]
) -> bool:
    """Append ``e``'s value as the merge of a concatenation of the merges' operands, when it
    is one (Note [concatenated heads]); False: ``e`` is not one."""
    n = e.out.aval.ndim
    if n < 1 or e.attrs.get("axis") != n - 1 or len(e.inputs) < 2:
        return False
    stacks = []
    for a in e.inputs:
        if not isinstance(a, Var) or uses[a] != 1:
            return False
        x = _merged_tail(producers.get(a), e.out.aval.dtype)
        if x is None:
            return False
        stacks.append(x)
    d = stacks[0].aval.shape[-1]
    if any(x.aval.shape[-1] != d for x in stacks):
        return False
    heads = sum(x.aval.shape[-2] for x in stacks)
    cat = Var(Aval((*stacks[0].aval.shape[:-2], heads, d), e.out.aval.dtype))
    eqns.append(Eqn(Op.CAT, tuple(stacks), {"axis": n - 1}, cat, e.loc, e.no_grad, e.remat))
    shape = {"shape": e.out.aval.shape}
    eqns.append(Eqn(Op.RESHAPE, (cat,), shape, e.out, e.loc, e.no_grad, e.remat))
    return True


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
    uses = use_counts(graph)
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


def concatenated_heads(graph: Graph) -> Graph:
    """``graph`` with each concatenation of merged heads computed as the merge of one
    concatenation (Note [concatenated heads]); after index_writes, which makes them."""
    uses = use_counts(graph)
    reshapes = {e.out: e for e in graph.eqns if e.op is Op.RESHAPE}
    eqns: list[Eqn] = []
    changed = False
    for e in graph.eqns:
        if e.op is Op.CAT and _concatenated_heads(e, reshapes, uses, eqns):
            changed = True
        else:
            eqns.append(e)
    return graph.replace(eqns=tuple(eqns)) if changed else graph
