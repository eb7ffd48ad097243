"""Lowering a RowKernel: a loop over rows, and per row one vectorized sweep per pass."""

from __future__ import annotations

from typing import Any

from llvmlite import ir

from ..ir.graph import Eqn, Var
from ..passes.rows import COLUMN, FULL, ROW, SCALAR, RowKernel
from ..passes.size_facts import at_most, is_zero, norm, numel, symbolic
from .accumulate import BLOCK, Scratch, Total, compensates
from .counted import for_range
from .extents import has_symbolic_sizes
from .loops import KernelEmitter
from .lower import I64, REGISTER, Lowered, emit_checked, reduce_identity


class RowEmitter(KernelEmitter):
    """Emits ``void name(ptr out..., ptr in..., i64 first_row, i64 stop_row)`` for a RowKernel
    (Note [row kernels]); reuses the plain emitter's loads, stores and op rules."""

    def __init__(self, k: RowKernel, use_vecmath: bool) -> None:  # noqa: D107
        self.k, self.use_vecmath = k, use_vecmath  # type: ignore[assignment]
        self.symbol = f"adjit_{k.name}"
        self.symbolic = has_symbolic_sizes(k)

    def _at(self, v: Var, r: ir.Value, c: ir.Value | None) -> ir.Value:
        op = self.k.layout[v]  # type: ignore[attr-defined]
        b, off = self.b, ir.Constant(I64, 0)
        if not is_zero(op.row):
            off = b.mul(r, self.ext(norm(op.row)))
        if c is not None and not is_zero(op.col):
            off = b.add(off, b.mul(c, self.ext(norm(op.col))))
        return off

    def prepare_sizes(self) -> None:
        """The row length, its blocks and the operands' strides, computed in the entry block
        (Note [symbolic kernels] in extents.py)."""
        k: RowKernel = self.k  # type: ignore[assignment]
        self.length = self.ext(k.length)
        for op in k.layout.values():
            self.ext(norm(op.row))
            self.ext(norm(op.col))

    def emit(self) -> str:
        k: RowKernel = self.k  # type: ignore[assignment]
        mod = self.open_function()
        b, start, zero = self.b, self.start, ir.Constant(I64, 0)
        reds = [e for p in k.passes for e in p.reductions if k.level[e.out] != COLUMN]
        self.acc = {e: b.alloca(REGISTER[e.out.aval.dtype.name]) for e in reds}
        wide = {
            e: b.alloca(REGISTER[e.out.aval.dtype.name])
            for e in k.reductions
            if k.level[e.out] == SCALAR
        }
        self.prepare_sizes()
        columns: Any = k.length if isinstance(k.length, int) else self.length
        # careful totals (Note [reduction accuracy]): per row when a row is longer than a
        # block, across rows for the kernel-wide and per-column sums (symbolic sizes: both,
        # Note [symbolic kernels])
        scratch = Scratch(b)
        careful = [e for e in k.reductions if compensates(e.op, e.out.aval.dtype)]
        across = {
            e: Total(scratch, _reg(e), columns if k.level[e.out] == COLUMN else 1)
            for e in careful
            if not at_most(k.rows, 1)
        }
        self.row_totals = {
            e: Total(scratch, _reg(e), 1)
            for e in reds
            if not at_most(k.length, BLOCK) and compensates(e.op, e.out.aval.dtype)
        }
        env: dict[Var, ir.Value] = {v: self.load(v, zero) for v in k.inputs if k.level[v] == SCALAR}
        for e in k.scalar_eqns:
            env[e.out] = self.apply(e, env)
        written_at_end = {e.out for e in wide}
        scalar_outs = [v for v in k.outputs if k.level[v] == SCALAR and v not in written_at_end]
        if scalar_outs:
            with b.if_then(b.icmp_signed("==", start, zero)):
                for v in scalar_outs:
                    self.store(v, zero, env[v])
        ok = scratch.heap_ok()
        if ok is None:
            self._rows(env, wide, across)
        else:  # the heap refused the totals' slots: sum into the outputs directly
            with b.if_else(ok) as (then, otherwise):
                with then:
                    self._rows(env, wide, across)
                with otherwise:
                    self._rows(env, wide, {})
        scratch.release()
        b.ret_void()
        return str(mod)

    def _rows(
        self, env: dict[Var, ir.Value], wide: dict[Eqn, ir.Value], across: dict[Eqn, Total]
    ) -> None:
        """Initialize the kernel-wide and per-column reductions, loop over this chunk's rows,
        write this chunk's share of them (the runner combines the chunks)."""
        k: RowKernel = self.k  # type: ignore[assignment]
        b, zero = self.b, ir.Constant(I64, 0)
        self.columns = {e: t for e, t in across.items() if k.level[e.out] == COLUMN}
        for e in k.reductions:
            ident = reduce_identity(e.op, e.out.aval.dtype, False)
            if e in wide:
                b.store(ident, wide[e])
                if e in across:
                    across[e].reset(b, zero, ident)
            else:  # per-column totals accumulate in this chunk's output buffer (or totals)
                with for_range(b, zero, self.length, "init") as c:
                    if e in across:
                        across[e].reset(b, c, ident)
                    else:
                        self.store(e.out, c, ident)
        with for_range(b, self.start, self.stop, "row") as r:
            row_env = dict(env)
            for v in k.inputs:
                if k.level[v] == ROW:
                    row_env[v] = self.load(v, self._at(v, r, None))
            for p in k.passes:
                for e in p.row_eqns:
                    row_env[e.out] = self.apply(e, row_env)
                self._sweep(p.eqns, p.reductions, p.stores, r, row_env)
                for e in p.reductions:
                    if k.level[e.out] == COLUMN:
                        continue
                    total = b.load(self.acc[e])
                    if e in across:
                        across[e].add(b, zero, total)
                    elif e in wide:
                        b.store(self.combine(e, b.load(wide[e]), total), wide[e])
                    else:
                        row_env[e.out] = total
            for e in k.tail:
                row_env[e.out] = self.apply(e, row_env)
            for v in k.outputs:
                if k.level[v] == ROW:
                    self.store(v, self._at(v, r, None), row_env[v])
        for e, slot in wide.items():
            self.store(e.out, zero, across[e].result(b, zero) if e in across else b.load(slot))
        for e, t in self.columns.items():
            with for_range(b, zero, self.length, "fold") as c:
                self.store(e.out, c, t.result(b, c))

    def _sweep(
        self,
        eqns: tuple[Eqn, ...],
        reductions: tuple[Eqn, ...],
        stores: tuple[Var, ...],
        r: ir.Value,
        row_env: dict[Var, ir.Value],
    ) -> None:
        """One pass along row ``r``; a row longer than a block is summed block by block."""
        k: RowKernel = self.k  # type: ignore[assignment]
        b, zero = self.b, ir.Constant(I64, 0)
        for e in reductions:
            if e in self.acc:
                b.store(reduce_identity(e.op, e.out.aval.dtype, False), self.acc[e])
        if not (eqns or reductions or stores):
            return
        careful = [e for e in reductions if e in self.row_totals]
        if not careful:
            self._columns(eqns, reductions, stores, r, row_env, zero, self.length)
            return
        for e in careful:
            self.row_totals[e].reset(b, zero, reduce_identity(e.op, e.out.aval.dtype, False))
        step = ir.Constant(I64, BLOCK)
        if symbolic(k.length):  # the blocks and the rest at run time (the rest may be 0)
            full: Any = b.sdiv(self.length, step)
            first: Any = b.mul(full, step)
            rest: Any = b.sub(self.length, first)
        else:
            n_full, n_rest = divmod(k.length, BLOCK)
            full, first = ir.Constant(I64, n_full), ir.Constant(I64, n_full * BLOCK)
            rest = ir.Constant(I64, n_rest) if n_rest else None
        with for_range(b, zero, full, "blk") as blk:
            self._columns(eqns, reductions, stores, r, row_env, b.mul(blk, step), step, careful)
        if rest is not None:
            self._columns(eqns, reductions, stores, r, row_env, first, rest, careful)
        for e in careful:
            b.store(self.row_totals[e].result(b, zero), self.acc[e])

    def _columns(
        self,
        eqns: tuple[Eqn, ...],
        reductions: tuple[Eqn, ...],
        stores: tuple[Var, ...],
        r: ir.Value,
        row_env: dict[Var, ir.Value],
        first: ir.Value,
        count: ir.Value,
        careful: list[Eqn] | tuple[()] = (),
    ) -> None:
        """Columns ``first .. first + count`` of row ``r``; the ``careful`` sums start from the
        identity and are added into their row totals after."""
        k: RowKernel = self.k  # type: ignore[assignment]
        b = self.b
        for e in careful:
            b.store(reduce_identity(e.op, e.out.aval.dtype, False), self.acc[e])
        loaded = [
            v
            for v in k.inputs
            if k.level[v] == FULL and any(v in e.inputs for e in (*eqns, *reductions))
        ]
        with for_range(b, ir.Constant(I64, 0), count, "col") as j:
            c = b.add(first, j, flags=("nsw",))
            env = dict(row_env)
            for v in loaded:
                env[v] = self.load(v, self._at(v, r, c))
            for e in eqns:
                env[e.out] = self.apply(e, env)
            for e in reductions:
                x = self.operand(e.inputs[0], env, e.out.aval.dtype)
                if e in self.acc:
                    b.store(self.combine(e, b.load(self.acc[e]), x), self.acc[e])
                elif e in self.columns:
                    self.columns[e].add(b, c, x)
                else:  # a column total
                    self.store(e.out, c, self.combine(e, self.load(e.out, c), x))
            for v in stores:
                self.store(v, self._at(v, r, c), env[v])
        for e in careful:
            self.row_totals[e].add(b, ir.Constant(I64, 0), b.load(self.acc[e]))


def _reg(e: Eqn) -> ir.Type:
    return REGISTER[e.out.aval.dtype.name]


def lower_rows(k: RowKernel, use_vecmath: bool = True) -> Lowered:
    """Lower a RowKernel; rows split across threads, kernel-wide reductions combined after."""
    text = emit_checked(k.name, RowEmitter(k, use_vecmath))
    red = tuple((k.outputs.index(e.out), e.op) for e in k.reductions)
    return Lowered(
        f"adjit_{k.name}",
        text,
        len(k.outputs),
        len(k.inputs),
        k.rows,  # (an expression of symbolic sizes: Note [symbolic kernels])
        bool(red),
        red,
        numel(k.shape) * max(1, len(k.eqns)),
    )
