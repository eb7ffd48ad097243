"""Fusion: group a graph's equations into kernels (elementwise chains, optionally ending in a
reduction) and extern steps (matmul via BLAS, indexing, concatenation, ... via NumPy).

A kernel reads whole buffers (graph inputs, constants, earlier steps' outputs) and writes the
values that are used after it. Every equation inside an elementwise kernel has the kernel's
iteration shape, or is a scalar (numel 1, cheap to recompute per element); operands broadcast
into the iteration shape by strides (0 along broadcast dims). A reduction (sum, amax, amin) may
end a kernel: it reduces the iteration space along its axes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from ..ir.graph import Eqn, Graph, Var, readers
from ..ir.ops import GroupOp, Op
from .record import Record
from .size_facts import is_scalar_shape, same_shape

if TYPE_CHECKING:
    from .rows import RowKernel

FUSIBLE = GroupOp.ELEMENTWISE | {Op.EXPAND, Op.DETACH}
REDUCTIONS = frozenset({Op.SUM, Op.AMAX, Op.AMIN})


class Kernel(Record):
    """Equations computed in one loop nest over ``shape``; reductions accumulate alongside.

    ``eqns`` are in order. Elementwise ones compute a value per point of ``shape`` (operands
    broadcast by strides); each reduction (sum/amax/amin) in ``eqns`` reduces a value of the
    iteration space along its ``axes``, and every reduction of one kernel has the same axes and
    keepdim. No equation of a kernel reads a reduction of the same kernel.
    """

    __slots__ = FIELDS = ("name", "shape", "inputs", "outputs", "eqns")
    name: str
    shape: tuple[int, ...]  # the iteration space
    inputs: tuple[Var, ...]  # buffers read (each broadcasts into ``shape``)
    outputs: tuple[Var, ...]  # values written: full-shape ones, and reduction results
    eqns: tuple[Eqn, ...]

    @property
    def reductions(self) -> tuple[Eqn, ...]:
        return tuple(e for e in self.eqns if e.op in REDUCTIONS)

    @property
    def formula(self) -> str:
        """The kernel as the expressions it computes (for explain)."""
        from ..ir.printer import _Namer, format_eqn

        namer = _Namer()
        for v in self.inputs:
            namer(v)
        return "; ".join(format_eqn(e, namer) for e in self.eqns)


class Extern(Record):
    """One equation run outside generated code (BLAS matmul, NumPy indexing, ...)."""

    __slots__ = FIELDS = ("eqn",)
    eqn: Eqn


Step: TypeAlias = "Kernel | Extern | RowKernel"  # RowKernels come from passes.rows.merge_rows


class Program:
    """A graph as an ordered schedule of steps over named buffers."""

    __slots__ = ("graph", "steps")

    def __init__(self, graph: Graph, steps: list[Step] | None = None) -> None:
        self.graph = graph
        self.steps: list[Step] = [] if steps is None else steps

    def __repr__(self) -> str:
        return f"Program(graph={self.graph!r}, steps={self.steps!r})"

    @property
    def kernels(self) -> list[Kernel | RowKernel]:
        """Every step that runs generated code (Kernels and RowKernels)."""
        return [s for s in self.steps if not isinstance(s, Extern)]


class _Open:
    """The kernel being grown."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.eqns: list[Eqn] = []
        self.defined: set[Var] = set()
        self.reduced: set[Var] = set()  # reduction results (not readable inside)
        self.reduce_key: tuple | None = None

    def can_take(self, e: Eqn) -> bool:
        reads = {a for a in e.inputs if isinstance(a, Var)}
        if reads & self.reduced:
            return False
        if e.op in REDUCTIONS:
            key = (e.attrs["axes"], e.attrs["keepdim"])
            return same_shape(e.inputs[0].aval.shape, self.shape) and self.reduce_key in (None, key)
        shape = e.out.aval.shape  # (Note [size-oblivious decisions] in size_facts.py)
        return same_shape(shape, self.shape) or is_scalar_shape(shape)

    def add(self, e: Eqn) -> None:
        self.eqns.append(e)
        if e.op in REDUCTIONS:
            self.reduced.add(e.out)
            self.reduce_key = (e.attrs["axes"], e.attrs["keepdim"])
        else:
            self.defined.add(e.out)


def _fusible(e: Eqn) -> bool:
    # integer pow runs as an extern: NumPy raises for negative exponents, a kernel cannot
    return e.op in FUSIBLE and not (e.op is Op.POW and not e.out.aval.dtype.is_floating_point)


def reduced_axes(e: Eqn, nd: int) -> frozenset[int]:
    """The axes reduction ``e`` reduces, of an ``nd``-dimensional operand (normalized)."""
    a = e.attrs["axes"]
    return frozenset(range(nd)) if a is None else frozenset(x % nd for x in a)


def reduces_rows(k: Kernel) -> bool:
    """Whether ``k`` reduces along its last axis (what starts a row kernel)."""
    nd = len(k.shape)
    return any(reduced_axes(e, nd) == {nd - 1} for e in k.reductions)


def fuse(g: Graph) -> Program:
    """Schedule ``g`` as kernels and externs, in an order that respects every dependency;
    runs of kernels that reduce along rows become row kernels (Note [row kernels])."""
    prog = fuse_elementwise(g)
    if not any(isinstance(s, Kernel) and len(s.shape) > 1 and reduces_rows(s) for s in prog.steps):
        return prog  # nothing for row fusion to merge: ``passes.rows`` is not even imported
    from .rows import merge_rows

    return merge_rows(prog)


def fuse_elementwise(g: Graph) -> Program:
    """Kernels of elementwise chains, each ending in at most one kind of reduction; a kernel
    that cannot take the next equation first takes the later ones it can (Note [kernels take
    later equations])."""
    reading = readers(g)
    outputs = {o for o in g.outputs if isinstance(o, Var)}
    prog = Program(g)
    open_: _Open | None = None
    eqns = g.eqns
    taken: set[int] = set()  # positions already scheduled out of order (pulled into a kernel)
    pending: set[Var] = {e.out for e in eqns}  # values not computed yet

    def close() -> None:
        nonlocal open_
        if open_ is None:
            return
        region, open_ = open_, None
        inside = set(region.eqns)
        made = region.defined | region.reduced
        reads: list[Var] = []
        for e in region.eqns:
            for a in e.inputs:
                if isinstance(a, Var) and a not in made and a not in reads:
                    reads.append(a)
        writes = [
            e.out
            for e in region.eqns
            if e.out in outputs
            or e.out in region.reduced
            or any(r not in inside for r in reading.get(e.out, ()))
        ]
        name = f"k{len(prog.kernels)}"
        prog.steps.append(
            Kernel(name, region.shape, tuple(reads), tuple(writes), tuple(region.eqns))
        )

    def ends(f: Eqn) -> bool:
        """Whether no kernel reads ``f``'s value: its readers are externs (or none)."""
        return not any(_fusible(r) or r.op in REDUCTIONS for r in reading.get(f.out, ()))

    def pull(start: int) -> None:
        """Move into the open kernel the equations after ``start`` it can take now."""
        assert open_ is not None
        for j in range(start, min(len(eqns), start + LOOKAHEAD)):
            f = eqns[j]
            if not (_fusible(f) or f.op in REDUCTIONS) or j in taken:
                continue
            if f.op not in REDUCTIONS and not same_shape(f.out.aval.shape, open_.shape):
                continue  # (a scalar a kernel of another shape could take: not worth moving)
            ins = [a for a in f.inputs if isinstance(a, Var)]
            if any(a in pending for a in ins) or not open_.can_take(f):
                continue
            if not (_small(f.out) or (any(a in open_.defined for a in ins) and ends(f))):
                continue
            open_.add(f)
            taken.add(j)
            pending.discard(f.out)

    for i, e in enumerate(eqns):
        if i in taken:
            continue
        if _fusible(e) or e.op in REDUCTIONS:
            if open_ is None or not open_.can_take(e):
                if open_ is not None:
                    pull(i + 1)
                close()
                shape = e.inputs[0].aval.shape if e.op in REDUCTIONS else e.out.aval.shape
                open_ = _Open(shape)
            open_.add(e)
            pending.discard(e.out)
            continue
        if open_ is not None and any(
            a in open_.defined or a in open_.reduced for a in e.inputs if isinstance(a, Var)
        ):
            pull(i + 1)  # (an extern that does not read the kernel leaves it open)
            close()  # an extern reads the region: it must be computed first
        prog.steps.append(Extern(e))
        pending.discard(e.out)
    close()
    return prog


# Note [kernels take later equations]
# Equations come in the traced order, and a kernel used to close at the first one it could
# not take: a BatchNorm's running-statistics updates, per channel, come between its
# normalisation and the ReLU after it, so the ReLU made a second pass over the activation (in
# resnet18's forward, ~0.3 ms for (8, 64, 32, 32)) and each per-channel piece a kernel of its
# own. So before a kernel closes it takes the later equations (within LOOKAHEAD) it can: of
# its shape, every operand computed already or in it, and either small (SMALL_BYTES: moving it
# earlier keeps nothing large alive longer) or reading a value the kernel makes while no
# kernel reads its own (the ReLU, read by the next convolution): a consumer whose value feeds
# more elementwise work stays with that work (a max pool's NaN test pulled forward was one
# more full-size value written and read back, +0.2 ms). The graph is SSA and these equations
# are pure, so computing one earlier changes no value; externs keep their order.
LOOKAHEAD = 64  # equations scanned ahead when a kernel closes
SMALL_BYTES = 4096


def _small(v: Var) -> bool:
    n = 1
    for d in v.aval.shape:
        if not isinstance(d, int):
            return False
        n *= d
    return n * v.aval.dtype.itemsize <= SMALL_BYTES
