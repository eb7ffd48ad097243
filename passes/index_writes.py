"""Index writes: sums of basic-index gradients (``index_add`` of disjoint slabs) as one CAT."""

from __future__ import annotations

import numpy as np

from ..ir.aval import Aval
from ..ir.graph import Atom, Eqn, Graph, Var, use_counts
from ..ir.ops import Op

# Note [index writes]
# The gradient of a basic index (ints and slices: ``qkv[0]``, ``x[:, 1:]``, a piece of
# ``split``/``chunk``/``unbind``) is ``index_add(g, spec, shape)``: the cotangent written into
# zeros of the indexed tensor's shape. When a tensor is cut into pieces and every piece is used,
# the adjoint sums one such full-size zero-padded buffer per piece: the transformer's qkv split
# made three (16, 128, 768) buffers, each zeroed and written, and two full-size ADD kernels
# over them. This pass finds such sums (a tree of ADDs whose inner values nothing else reads)
# and writes the pieces that are slabs along one axis (every other axis whole; the slab an int
# or a step-1 slice), pairwise disjoint, as one CAT along that axis: ``g_i`` reshaped where an
# int removed the axis, zeros (an expanded 0-d constant) in the gaps. When the slabs tile the
# axis, as a split's pieces do, there are no zeros at all; the other terms of the sum are added
# to the CAT. Values are those of the sum: each element is one piece's value plus zeros (a
# -0.0 cotangent stays -0.0, where 0 + -0.0 gave +0.0).
#
# Why a pass and not the derivative rule: INDEX's rule sees one use of the tensor, never its
# siblings, so the rule can only emit the zero-padded write of its own piece; the CAT appears
# only once the adjoint has summed the pieces. A lone basic ``index_add`` stays as it is: the
# executor writes it into a pooled buffer (zeros, then the piece: runtime/index_steps.py),
# as cheap as a CAT with zero pieces, and it keeps steps and several sliced axes.


def _slab(e: Eqn) -> tuple[int, int, int, bool] | None:
    """(axis, start, stop, squeezed) when ``e``'s spec selects one slab along one axis."""
    shape = e.out.aval.shape
    spec = e.attrs["spec"]
    if len(e.inputs) != 1 or len(spec) > len(shape) or not all(type(n) is int for n in shape):
        return None  # a tensor index, or a symbolic size
    found = None
    for d, item in enumerate(spec):
        if not all(isinstance(v, int) for v in item[1:]):
            return None  # a symbolic bound
        n = shape[d]
        if item[0] == "int":
            region = (d, item[1], item[1] + 1, True)
        elif item[0] == "slice" and item[3] == 1:
            start, stop = max(0, min(item[1], n)), max(0, min(item[2], n))
            if (start, stop) == (0, n):
                continue
            region = (d, start, max(start, stop), False)
        else:
            return None  # none, tensor, or a step: not a slab
        if found is not None:
            return None  # sliced along two axes
        found = region
    return found


class _Builder:
    """New equations (and a zero constant per dtype) around the rewritten sums."""

    def __init__(self, graph: Graph) -> None:
        self.eqns: list[Eqn] = []
        self.consts = list(graph.consts)
        self.zeros: dict[object, Var] = {}

    def emit(self, op: Op, inputs: tuple[Atom, ...], attrs: dict, aval: Aval, like: Eqn) -> Var:
        out = Var(aval)
        self.eqns.append(Eqn(op, inputs, attrs, out, like.loc, like.no_grad, like.remat))
        return out

    def zero(self, shape: tuple[int, ...], aval: Aval, like: Eqn) -> Var:
        scalar = self.zeros.get(aval.dtype)
        if scalar is None:
            scalar = self.zeros[aval.dtype] = Var(Aval((), aval.dtype))
            self.consts.append((scalar, np.zeros((), aval.dtype.np)))
        return self.emit(Op.EXPAND, (scalar,), {"shape": shape}, Aval(shape, aval.dtype), like)


def _cat(pieces: list[tuple[Eqn, tuple[int, int, int, bool]]], root: Eqn, b: _Builder) -> Var:
    """One CAT of the slabs (sorted, disjoint) with zeros in the gaps."""
    aval = root.out.aval
    axis = pieces[0][1][0]
    parts: list[Atom] = []
    at = 0

    def gap(length: int) -> None:
        shape = (*aval.shape[:axis], length, *aval.shape[axis + 1 :])
        parts.append(b.zero(shape, aval, root))

    for e, (_, start, stop, squeezed) in pieces:
        if start > at:
            gap(start - at)
        g = e.inputs[0]
        if squeezed:
            shape = (*aval.shape[:axis], 1, *aval.shape[axis + 1 :])
            g = b.emit(Op.RESHAPE, (g,), {"shape": shape}, Aval(shape, aval.dtype), e)
        parts.append(g)
        at = stop
    if at < aval.shape[axis]:
        gap(aval.shape[axis] - at)
    if len(parts) == 1:
        return parts[0]  # type: ignore[return-value]
    return b.emit(Op.CAT, tuple(parts), {"axis": axis}, aval, root)


def _disjoint(pieces: list[tuple[Eqn, tuple[int, int, int, bool]]]) -> bool:
    return all(a[1][2] <= b[1][1] for a, b in zip(pieces, pieces[1:], strict=False))


def index_writes(graph: Graph) -> Graph:
    """``graph`` with sums of disjoint basic-index slabs along one axis written as one CAT
    (Note [index writes])."""
    defs = {e.out: e for e in graph.eqns}
    uses = use_counts(graph)

    def inner(a: Atom, aval: Aval) -> Eqn | None:
        if not isinstance(a, Var) or uses[a] != 1 or a.aval != aval:
            return None
        e = defs.get(a)
        return e if e is not None and e.op is Op.ADD else None

    def leaves(e: Eqn) -> list[Atom]:
        out: list[Atom] = []
        for a in e.inputs:
            sub = inner(a, e.out.aval)
            out.extend(leaves(sub) if sub is not None else [a])
        return out

    absorbed: set[Eqn] = set()  # ADDs and index_adds a rewritten sum replaces
    plans: dict[Eqn, tuple[list, list[Atom]]] = {}
    roots = [e for e in graph.eqns if e.op is Op.ADD]
    for root in reversed(roots):  # outermost sums first: their inner ADDs are absorbed
        if root in absorbed:
            continue
        terms = leaves(root)
        by_axis: dict[int, list] = {}
        for t in terms:
            e = defs.get(t) if isinstance(t, Var) and uses[t] == 1 else None
            if e is None or e.op is not Op.INDEX_ADD or t.aval != root.out.aval:
                continue
            slab = _slab(e)
            if slab is not None and e.inputs[0].aval.dtype == t.aval.dtype:
                by_axis.setdefault(slab[0], []).append((e, slab))
        best = max(by_axis.values(), key=len, default=[])
        best.sort(key=lambda p: p[1][1])
        if len(best) < 2 or not _disjoint(best):
            continue
        taken = {p[0].out for p in best}
        rest = [t for t in terms if t not in taken]
        plans[root] = (best, rest)
        absorbed.update(p[0] for p in best)
        stack = [root]
        while stack:
            for a in stack.pop().inputs:
                sub = inner(a, root.out.aval)
                if sub is not None:
                    absorbed.add(sub)
                    stack.append(sub)
    if not plans:
        return graph
    b = _Builder(graph)
    for e in graph.eqns:
        if e in absorbed:
            continue
        plan = plans.get(e)
        if plan is None:
            b.eqns.append(e)
            continue
        pieces, rest = plan
        total: Atom = _cat(pieces, e, b)
        for i, t in enumerate(rest):
            last = i == len(rest) - 1
            if last:
                b.eqns.append(Eqn(Op.ADD, (total, t), {}, e.out, e.loc, e.no_grad, e.remat))
            else:
                total = b.emit(Op.ADD, (total, t), {}, e.out.aval, e)
        if not rest:  # the CAT is the sum: give it the root's Var
            made = b.eqns.pop() if b.eqns and b.eqns[-1].out is total else None
            if made is not None:
                b.eqns.append(
                    Eqn(made.op, made.inputs, made.attrs, e.out, e.loc, e.no_grad, e.remat)
                )
            else:
                b.eqns.append(
                    Eqn(Op.RESHAPE, (total,), {"shape": e.out.aval.shape}, e.out, e.loc,
                        e.no_grad, e.remat)
                )  # fmt: skip
    return graph.replace(eqns=tuple(b.eqns), consts=tuple(b.consts))
