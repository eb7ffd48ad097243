"""Row fusion: consecutive kernels over one (rows x row) space whose reductions run along the
rows become one kernel that makes several passes over each row while the row is in cache."""

from __future__ import annotations

from typing import Any

from ..ir.graph import Eqn, Graph, Var
from ..ir.ops import Op
from .fusion import REDUCTIONS, Extern, Kernel, Program, Step, reduced_axes, reduces_rows
from .record import Record, ValueRecord
from .size_facts import (
    at_least,
    broadcast_strides,
    contiguous_strides,
    is_one,
    is_scalar_shape,
    norm,
    numel,
    same,
    same_shape,
)

# Note [row kernels]
# softmax, log_softmax, layer norm and cross-entropy reduce along the last axis and then use
# the row results elementwise. Plain fusion makes one kernel per reduction, each streaming the
# whole array through memory: log_softmax forward+backward over 4096x1024 was 8 kernels and
# ~6 full passes over memory. A RowKernel loops over rows; for each row it makes the passes
# the dependencies require (pass s can use the row values reduced in passes < s), recomputing
# the elementwise chain a pass needs instead of storing it: a 4 KiB row stays in L1, so
# memory sees each input once and each output once.
#
# Levels: a value is FULL (one per element of the shape F), ROW (one per row: shape
# F[:-1] + (1,) or F[:-1]) or SCALAR (one per kernel). A FULL equation may read ROW values
# only in their keepdim form (NumPy broadcasting then means "the value of this row"); a
# reduction over the last axis turns FULL into ROW. A reduction over every axis (a loss) or
# over every axis but the last (a bias or LayerNorm-weight gradient: one value per COLUMN)
# accumulates across rows and is only written out: nothing in the kernel may read it.

FULL, ROW, SCALAR, COLUMN = "full", "row", "scalar", "column"


class Operand(ValueRecord):
    """Where a buffer's element (row r, column c) lives: ``r * row + c * col`` elements."""

    __slots__ = FIELDS = ("row", "col")
    row: Any  # an int, or a sympy expression of symbolic sizes (passes/size_facts.py)
    col: Any


class RowPass(Record):
    """One sweep along a row: row-level work first, then an inner loop over the row."""

    __slots__ = FIELDS = ("row_eqns", "eqns", "reductions", "stores")
    row_eqns: tuple[Eqn, ...]  # per row, before the sweep
    eqns: tuple[Eqn, ...]  # FULL equations computed at every element of the sweep
    reductions: tuple[Eqn, ...]  # accumulated during the sweep (over the row, or everything)
    stores: tuple[Var, ...]  # FULL outputs written during the sweep


class RowKernel(Record):
    """Equations over ``shape`` (rows x the last axis) computed row by row in ``passes``."""

    __slots__ = FIELDS = (
        "name", "shape", "inputs", "outputs", "eqns", "level", "layout", "scalar_eqns",
        "passes", "tail",
    )  # fmt: skip
    name: str
    shape: tuple[int, ...]
    inputs: tuple[Var, ...]
    outputs: tuple[Var, ...]
    eqns: tuple[Eqn, ...]
    level: dict[Var, str]
    layout: dict[Var, Operand]
    scalar_eqns: tuple[Eqn, ...]
    passes: tuple[RowPass, ...]
    tail: tuple[Eqn, ...]  # row equations after the last pass

    @property
    def rows(self) -> Any:
        """The number of rows: an int, or an expression of symbolic sizes."""
        return numel(self.shape[:-1])

    @property
    def length(self) -> Any:
        return norm(self.shape[-1])

    @property
    def reductions(self) -> tuple[Eqn, ...]:
        """The reductions across rows (threads that split the rows combine their shares)."""
        return tuple(e for p in self.passes for e in p.reductions if self.level[e.out] != ROW)

    @property
    def formula(self) -> str:
        from ..ir.printer import _Namer, format_eqn

        namer = _Namer()
        for v in self.inputs:
            namer(v)
        parts = [format_eqn(e, namer) for e in self.scalar_eqns]
        for i, p in enumerate(self.passes):
            row = [format_eqn(e, namer) for e in p.row_eqns]
            sweep = [format_eqn(e, namer) for e in (*p.eqns, *p.reductions)]
            parts.append(
                f"pass {i}: " + "; ".join(row + [f"for each column: {{{'; '.join(sweep)}}}"])
            )
        parts += [format_eqn(e, namer) for e in self.tail]
        return " | ".join(parts)


def _reduction_level(axes: frozenset[int], nd: int) -> str | None:
    """What a reduction over ``axes`` of the FULL space makes (None: not in a row kernel)."""
    table = {
        frozenset({nd - 1}): ROW,
        frozenset(range(nd)): SCALAR,
        frozenset(range(nd - 1)): COLUMN,
    }
    return table.get(axes)


def _full_shape(k: Kernel) -> tuple[int, ...] | None:
    """``k.shape`` when ``k`` can be the FULL part of a row kernel (its reductions, if any,
    along the last axis, over every other axis, or over everything; two rows and columns)."""
    nd = len(k.shape)  # (Note [size-oblivious decisions] in size_facts.py)
    if nd < 2 or not at_least(k.shape[-1], 2) or not at_least(numel(k.shape[:-1]), 2):
        return None
    ok = all(_reduction_level(reduced_axes(e, nd), nd) is not None for e in k.reductions)
    return k.shape if ok else None


def _row_shapes(full: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    return (full[:-1] + (1,), full[:-1])


def _is_row_shape(shape: tuple[int, ...], full: tuple[int, ...]) -> bool:
    return any(same_shape(shape, r) for r in _row_shapes(full))


def merge_rows(prog: Program) -> Program:
    """Replace runs of consecutive row-compatible kernels (with a row reduction) by RowKernels."""
    readers: dict[Var, set[int]] = {}
    for e in prog.graph.eqns:
        for a in e.inputs:
            if isinstance(a, Var):
                readers.setdefault(a, set()).add(id(e))
    steps: list[Step] = []
    run: list[Kernel] = []
    lead: list[Kernel] = []  # kernels without reductions just before: a run may take them
    full: tuple[int, ...] | None = None

    led = 0  # how many kernels of the run came from ``lead``

    def flush() -> None:
        nonlocal run, full, led
        made = None
        if len(run) > 1 and any(reduces_rows(k) for k in run) and full is not None:
            made = _build(f"r{len(steps)}", run, full, prog.graph, readers)
            if made is None and led:  # the run as it was without them
                steps.extend(run[:led])
                run, led = run[led:], 0
                flush()
                return
        steps.extend([made] if made is not None else run)
        run, full, led = [], None, 0

    def start(s: Kernel, shape: tuple[int, ...]) -> None:
        """A run from ``s``, with the row- or scalar-shaped kernels just before it (Note
        [leading row kernels])."""
        nonlocal run, full, led
        n = len(lead)
        while n and _leads(lead[n - 1], shape):
            n -= 1
        steps.extend(lead[:n])
        run, full, led = [*lead[n:], s], shape, len(lead) - n
        lead.clear()

    for s in prog.steps:
        if not isinstance(s, Kernel):
            flush()
            if not _waits_past(lead, s):
                steps.extend(lead)
                lead.clear()
            steps.append(s)
            continue
        shape = _full_shape(s)
        if shape is not None and full is None:
            start(s, shape)
        elif full is not None and _joins(s, shape, full):
            run.append(s)
        else:
            flush()
            if shape is not None:
                start(s, shape)
            elif not s.reductions:
                lead.append(s)
            else:
                steps.extend(lead)
                lead.clear()
                steps.append(s)
    flush()
    steps.extend(lead)
    return Program(prog.graph, steps)


# Note [leading row kernels]
# A kernel over the rows' shape, or a scalar one, that comes just before a run (cross
# entropy's bound check of the targets, a scale of the cotangent) would cost a call of its
# own; in the row kernel its equations are row (or kernel-wide scalar) equations, computed
# before the first sweep. Only kernels without reductions join: a reduction's value would be
# kernel-wide, and nothing in a row kernel may read one. They may wait past a reshape that
# does not read them (the backward's reshape of a saved target between the cotangent's scale
# and the row kernel): it makes a new value, so running them after it changes no value.


def _joins(k: Kernel, shape: tuple[int, ...] | None, full: tuple[int, ...]) -> bool:
    """Whether ``k`` (its FULL shape ``shape``, if any) continues a run over ``full``."""
    if shape is not None:
        return same_shape(full, shape)
    return not k.reductions and _is_row_shape(k.shape, full)


def _waits_past(lead: list[Kernel], s: Step) -> bool:
    """Whether the kernels of ``lead`` may run after ``s``: a reshape that reads none of their
    values (the backward's reshape of a saved target comes between the cotangent's scale and
    the row kernel)."""
    if not lead or not isinstance(s, Extern) or s.eqn.op is not Op.RESHAPE:
        return False
    made = {e.out for k in lead for e in k.eqns}
    return not any(a in made for a in s.eqn.inputs if isinstance(a, Var))


def _leads(k: Kernel, full: tuple[int, ...]) -> bool:
    return not k.reductions and (_is_row_shape(k.shape, full) or is_scalar_shape(k.shape))


class _Reject(Exception):
    """The run does not fit a row kernel: keep its kernels as they are."""


def _build(
    name: str,
    run: list[Kernel],
    full: tuple[int, ...],
    graph: Graph,
    readers: dict[Var, set[int]],
) -> RowKernel | None:
    try:
        return _Builder(name, run, full, graph, readers).kernel()
    except _Reject:
        return None


class _Builder:
    def __init__(
        self,
        name: str,
        run: list[Kernel],
        full: tuple[int, ...],
        graph: Graph,
        readers: dict[Var, set[int]],
    ) -> None:
        self.name, self.full, self.nd = name, full, len(full)
        self.eqns = [e for k in run for e in k.eqns]
        inside = {id(e) for e in self.eqns}
        defined = {e.out for e in self.eqns}
        self.inputs: list[Var] = []
        for e in self.eqns:
            for a in e.inputs:
                if isinstance(a, Var) and a not in defined and a not in self.inputs:
                    self.inputs.append(a)
        outs = {o for o in graph.outputs if isinstance(o, Var)}
        self.outputs = [
            e.out for e in self.eqns if e.out in outs or readers.get(e.out, set()) - inside
        ]
        self.level: dict[Var, str] = {}
        self.stage: dict[Var, int] = {}  # ROW values: the pass before which they are known
        self.ready: dict[Var, int] = {}  # FULL values: the first pass that can compute them

    # ---- levels -------------------------------------------------------------------------
    def _shape_level(self, v: Var) -> str:
        shape = v.aval.shape
        if same_shape(shape, self.full):
            return FULL
        if _is_row_shape(shape, self.full):
            return ROW
        if is_scalar_shape(shape):
            return SCALAR
        return FULL  # an input broadcast into the rows (a weight along the last axis, ...)

    def _classify(self) -> None:
        for v in self.inputs:
            self.level[v] = self._shape_level(v)
            self.stage[v] = self.ready[v] = 0
        wide: set[Var] = set()  # kernel-wide reductions: written out, never read inside
        for e in self.eqns:
            reads = [a for a in e.inputs if isinstance(a, Var)]
            if wide & set(reads):
                raise _Reject
            levels = {self.level[a] for a in reads}
            if e.op in REDUCTIONS:
                if self.level[reads[0]] != FULL or not same_shape(reads[0].aval.shape, self.full):
                    raise _Reject
                lvl = _reduction_level(reduced_axes(e, self.nd), self.nd)
                if lvl is None:
                    raise _Reject
                self.level[e.out] = lvl
                if lvl != ROW:
                    wide.add(e.out)
                self.stage[e.out] = self.ready[reads[0]] + 1
                continue
            lvl = self._shape_level(e.out)
            if lvl == FULL and not same_shape(e.out.aval.shape, self.full):
                raise _Reject
            if lvl == SCALAR and levels - {SCALAR}:
                raise _Reject
            if lvl == ROW and levels - {ROW, SCALAR}:
                raise _Reject
            if lvl == FULL:
                for a in reads:
                    if self.level[a] == ROW and not same_shape(a.aval.shape, self.full[:-1] + (1,)):
                        raise _Reject  # (R,) would broadcast along the row, not per row
                self.ready[e.out] = max(
                    [self.ready[a] if self.level[a] == FULL else self.stage[a] for a in reads],
                    default=0,
                )
            else:
                self.stage[e.out] = max([self.stage[a] for a in reads], default=0)
            self.level[e.out] = lvl

    # ---- layout -------------------------------------------------------------------------
    def _operand(self, v: Var) -> Operand:
        if self.level[v] == SCALAR:
            return Operand(0, 0)
        if self.level[v] == COLUMN:
            return Operand(0, 1)
        shape, rows = v.aval.shape, self.full[:-1]
        if self.level[v] == ROW and same_shape(shape, rows):
            strides: tuple[Any, ...] | None = contiguous_strides(rows) + (0,)
        else:
            strides = broadcast_strides(shape, self.full)
        if strides is None:
            raise _Reject
        outer = [(s, n) for s, n in zip(strides[:-1], rows, strict=True) if not is_one(n)]
        row = outer[-1][0] if outer else 0
        after: Any = 1
        for s, n in reversed(outer):  # offset(r) must be r * row for every row index
            if not same(s, row * after):
                raise _Reject
            after = after * norm(n)
        return Operand(row, strides[-1])

    # ---- passes -------------------------------------------------------------------------
    def kernel(self) -> RowKernel:
        self._classify()
        made = {e.out: e for e in self.eqns}
        sinks: dict[int, list[Eqn | Var]] = {}
        for e in self.eqns:
            if e.op in REDUCTIONS:
                sinks.setdefault(self.stage[e.out] - 1, []).append(e)
        for v in self.outputs:
            if self.level[v] == FULL:
                sinks.setdefault(self.ready[v], []).append(v)
        n_passes = max(sinks, default=-1) + 1
        if n_passes == 0:
            raise _Reject
        passes = []
        for s in range(n_passes):
            todo = sinks.get(s, [])
            need: set[Var] = set()
            roots = (x.inputs[0] if isinstance(x, Eqn) else x for x in todo)
            stack = [v for v in roots if isinstance(v, Var)]  # a literal needs no pass
            while stack:
                v = stack.pop()
                made_by = made.get(v)
                if made_by is None or v in need or self.level[v] != FULL:
                    continue
                need.add(v)
                stack.extend(a for a in made_by.inputs if isinstance(a, Var))
            passes.append(
                RowPass(
                    tuple(e for e in self._row_eqns() if self.stage[e.out] == s),
                    tuple(e for e in self.eqns if e.out in need and e.op not in REDUCTIONS),
                    tuple(x for x in todo if isinstance(x, Eqn)),
                    tuple(x for x in todo if isinstance(x, Var)),
                )
            )
        tail = tuple(e for e in self._row_eqns() if self.stage[e.out] >= n_passes)
        layout = {v: self._operand(v) for v in (*self.inputs, *self.outputs)}
        return RowKernel(
            self.name,
            self.full,
            tuple(self.inputs),
            tuple(self.outputs),
            tuple(self.eqns),
            dict(self.level),
            layout,
            tuple(e for e in self.eqns if self.level[e.out] == SCALAR and e.op not in REDUCTIONS),
            tuple(passes),
            tail,
        )

    def _row_eqns(self) -> list[Eqn]:
        return [e for e in self.eqns if self.level[e.out] == ROW and e.op not in REDUCTIONS]
