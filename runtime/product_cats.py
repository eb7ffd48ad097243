"""Products written straight into their slices of a concatenation (Note [products into a cat])."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import Op
from .buffer_plan import StepIO
from .executor import STEP_IO, Buffers, Env, ExternStep, _interpret_eqn, _stacked_rows
from .reshape_copies import ReshapeCopy
from .split_gemm import matmul_into

# Note [products into a cat]
# Attention's backward ends in CAT(PERMUTE(dq), PERMUTE(dk), PERMUTE(dv)): three (B, heads, S,
# dh) product gradients, each permuted to (B, S, heads, dh) and concatenated along heads (Note
# [concatenated heads] in passes/layout.py), a 6 MB copy reading three permuted stacks in the
# transformer block's step. BLAS writes a result through its strides, so each product can go
# straight to its slice of the concatenation instead: the slice, viewed back through the
# permute's inverse, is the product's shape. Each MATMUL step becomes a ProductIntoCat at its
# own place; the PERMUTEs and the CAT go. The first one takes the concatenation's pooled
# buffer (its live range starts there); the later ones read it, so the buffer plan keeps it
# whole until the last reader (Note [buffer planning]), and nothing reads it before the CAT's
# place: its readers all come after. It applies when every operand of the CAT is a MATMUL,
# or a PERMUTE of one, each value read only there, all of the CAT's dtype, with known sizes.
# Each element is the same sum as before (the same operands, BLAS's same kernels; MKL writes
# the heads' interleaved slices by calls batched over B, Note [batch of a call]), so results
# equal the copied products'. A RESHAPE that copies (Note [reshape copies]) a permuted product
# is a one-operand concatenation: attention's output, (B, heads, S, dh) permuted and merged to
# (B, S, heads dh), goes straight into the merge's buffer the same way. Transformer block step
# (16 x 128, d 256, 1 thread): the 1.3-1.8 ms concatenation, the 0.4 ms merge and four 2 MB
# product buffers gone.


class ProductIntoCat(ExternStep):
    """MATMUL ``product`` written into operand ``index`` of the CAT ``eqn`` (through the
    PERMUTE ``axes``, or None), the first such step taking the CAT's buffer; or, ``eqn`` a
    copying RESHAPE (a one-operand concatenation), into the reshape's buffer."""

    __slots__ = ("product", "axes", "index", "first")
    FIELDS = ("eqn", "product", "axes", "index", "first")
    product: Eqn
    axes: tuple[int, ...] | None
    index: int
    first: bool

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        e, mm = self.eqn, self.product
        if self.first:
            out, p = bufs.get(e.out)
            env[e.out], ptrs[e.out] = out, p
        part = _part(env[e.out], e, self.index, mm.out.aval.shape, self.axes)
        if self.axes is not None:
            part = part.transpose(np.argsort(self.axes))
        x, y = (env[a] for a in mm.inputs)  # type: ignore[index]
        if not x.dtype == y.dtype == part.dtype:  # (operands the NumPy rule converts)
            np.copyto(part, _interpret_eqn(mm, env))
            return
        rows = _stacked_rows(x) if x.ndim > 2 and y.ndim == 2 else None
        into = _stacked_rows(part) if rows is not None else None
        if rows is not None and into is not None and rows.size:  # Note [one GEMM over the batch]
            matmul_into(rows, y, into)
        else:
            matmul_into(x, y, part)

    def io(self) -> StepIO:
        out = self.eqn.out
        if self.first:
            return StepIO(self.product.inputs, (out,), ())
        return StepIO((*self.product.inputs, out), (), ())


STEP_IO[ProductIntoCat] = ProductIntoCat.io


def _part(
    out: np.ndarray, e: Eqn, index: int, shape: Any, axes: tuple[int, ...] | None
) -> np.ndarray:
    """The slice of the CAT ``e``'s result holding operand ``index``; for a RESHAPE, its
    result as its operand (the product's ``shape`` permuted by ``axes``)."""
    if e.op is Op.RESHAPE:
        return out.reshape([shape[a] for a in axes] if axes is not None else shape)
    axis = e.attrs["axis"]
    sizes = [a.aval.shape[axis] for a in e.inputs]
    start = sum(sizes[:index])
    return out[(slice(None),) * axis + (slice(start, start + sizes[index]),)]


def _operand(
    v: Any, made: dict[Var, Eqn], plain: dict[int, Any], uses: Counter[Var], dtype: Any
) -> tuple[Eqn, Eqn | None] | None:
    """(MATMUL, PERMUTE or None) making the CAT operand ``v``, if each is a plain extern step
    whose value is read only by the next (Note [products into a cat])."""
    e = made.get(v) if isinstance(v, Var) else None
    perm = None
    if e is not None and e.op is Op.PERMUTE and isinstance(e.inputs[0], Var):
        perm, e = e, made.get(e.inputs[0])
    if e is None or e.op is not Op.MATMUL or id(e) not in plain:
        return None
    if perm is not None and id(perm) not in plain:
        return None
    chain = (e,) if perm is None else (e, perm)
    if any(uses[c.out] != 1 for c in chain):
        return None
    if any(not isinstance(a, Var) or len(a.aval.shape) < 2 for a in e.inputs):
        return None
    if any(a.aval.dtype != dtype for a in (*e.inputs, e.out)):  # type: ignore[union-attr]
        return None
    return e, perm


def with_product_cats(graph: Graph, steps: Sequence[Any]) -> list[Any]:
    """``steps`` with each CAT (or copying RESHAPE) of products (Note [products into a cat])
    as ProductIntoCat steps at the products' places, its PERMUTEs and itself dropped."""
    plain = {id(s.eqn): s for s in steps if type(s) is ExternStep}
    place = {id(s.eqn): i for i, s in enumerate(steps) if type(s) is ExternStep}
    cats = [s.eqn for s in steps if type(s) is ExternStep and s.eqn.op is Op.CAT]
    if not cats and not any(type(s) is ReshapeCopy for s in steps):
        return list(steps)
    uses: Counter[Var] = Counter(a for e in graph.eqns for a in e.inputs if isinstance(a, Var))
    uses.update(o for o in graph.outputs if isinstance(o, Var))
    made = {e.out: e for e in graph.eqns}
    replaced: dict[int, ProductIntoCat] = {}
    dropped: set[int] = set()
    for copy in (s.eqn for s in steps if type(s) is ReshapeCopy):
        got = _operand(copy.inputs[0], made, plain, uses, copy.out.aval.dtype)
        if got is not None and all(isinstance(n, int) for n in copy.out.aval.shape):
            mm, perm = got
            axes = None if perm is None else tuple(perm.attrs["axes"])
            replaced[id(mm)] = ProductIntoCat(copy, mm, axes, 0, True)
            dropped.update({id(copy)} | ({id(perm)} if perm is not None else set()))
    for cat in cats:
        shape = cat.out.aval.shape
        if not all(isinstance(n, int) for n in shape) or not cat.inputs:
            continue
        found = [_operand(v, made, plain, uses, cat.out.aval.dtype) for v in cat.inputs]
        if any(f is None for f in found):
            continue
        chains = [f for f in found if f is not None]
        order = sorted(range(len(chains)), key=lambda i: place[id(chains[i][0])])
        for i in order:
            mm, perm = chains[i]
            axes = None if perm is None else tuple(perm.attrs["axes"])
            replaced[id(mm)] = ProductIntoCat(cat, mm, axes, i, i == order[0])
            if perm is not None:
                dropped.add(id(perm))
        dropped.add(id(cat))
    out: list[Any] = []
    for s in steps:
        e = getattr(s, "eqn", None) if type(s) in (ExternStep, ReshapeCopy) else None
        if e is not None and id(e) in dropped:
            continue
        out.append(replaced.get(id(e), s) if e is not None else s)
    return out
