"""Loop nests: buffer strides over the iteration space, dim collapsing, loops, the emitter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

from llvmlite import ir

from ..ir.dtypes import DType
from ..ir.dtypes import float32 as F32
from ..ir.dtypes import float64 as F64_DTYPE
from ..ir.dtypes import int64 as I64_DTYPE
from ..ir.graph import Atom, Eqn, Lit, Var
from ..ir.interpreter import SCALAR_IN_FLOAT32, lit_array
from ..ir.shapes import operand_dtypes
from ..ir.sizes import SymbolicSize
from ..passes.fusion import Kernel
from ..passes.size_facts import (
    at_least,
    at_most,
    broadcast_strides,
    contiguous_strides,
    float_tree,
    is_one,
    is_scalar_shape,
    is_zero,
    norm,
    norm_shape,
    same,
    symbolic,
)
from .accumulate import BLOCK, Scratch, Total, compensates
from .counted import for_range
from .extents import Extents, has_symbolic_sizes
from .lower import (
    I64,
    KIND,
    REDUCE_RULES,
    REGISTER,
    STORAGE,
    CodegenError,
    Cx,
    constant,
    convert,
    load_reduced,
    lookup,
    reduce_identity,
    round_reduced,
    store_reduced,
)


def reduced_strides(shape: Sequence[Any], axes: frozenset[int]) -> tuple[Any, ...]:
    """Strides of a reduction's (contiguous) output over the input's iteration space."""
    kept = [n for d, n in enumerate(shape) if d not in axes]
    own = iter(contiguous_strides(kept))
    return tuple(0 if d in axes else next(own) for d in range(len(shape)))


@dataclass(frozen=True)
class Layout:
    """Collapsed loop dims: their sizes, which are reduced, and each operand's strides (ints,
    or sympy expressions of symbolic sizes: Note [symbolic kernels] in extents.py)."""

    sizes: tuple[Any, ...]
    reduced: tuple[bool, ...]
    strides: tuple[tuple[Any, ...], ...]  # per operand, per collapsed dim

    @property
    def first_reduced(self) -> int | None:
        return next((d for d, r in enumerate(self.reduced) if r), None)

    def slab(self, d: int) -> Any:
        """Elements of a reduction output covered by one iteration of the loops above ``d``."""
        return prod(n for n, r in zip(self.sizes[d:], self.reduced[d:], strict=True) if not r)


def collapse(
    shape: Sequence[Any], reduced: Sequence[bool], strides: Sequence[Sequence[Any]]
) -> Layout:
    """Drop size-1 dims; merge neighbours wherever every operand's strides allow it.

    An all-contiguous iteration space becomes one dim (one loop that vectorizes). A kernel with
    no dims left gets one dummy dim of size 1, so every kernel has an outermost loop to split.
    Symbolic sizes collapse where they do at every size (Note [size-oblivious decisions]).
    """
    dims = [d for d, n in enumerate(shape) if not is_one(n)]
    sizes = [shape[d] for d in dims]
    red = [reduced[d] for d in dims]
    strd = [[s[d] for d in dims] for s in strides]
    i = len(sizes) - 2
    while i >= 0:
        if red[i] == red[i + 1] and all(same(s[i], s[i + 1] * sizes[i + 1]) for s in strd):
            sizes[i] = sizes[i] * sizes.pop(i + 1)
            red.pop(i + 1)
            for s in strd:
                s.pop(i)
        i -= 1
    if not sizes:
        sizes, red, strd = [1], [False], [[0] for _ in strides]
    return Layout(tuple(sizes), tuple(red), tuple(tuple(s) for s in strd))


# Note [kernels in place]
# A kernel's output may be written over one of its inputs that dies at that kernel (the
# buffer planner's choice, Note [buffer planning] in runtime/buffer_plan.py): a GELU of a
# GEMM's result, its backward over the incoming gradient, then hold two values of the size
# where they held three. Every pointer argument is ``noalias`` (what lets LLVM vectorize
# without run-time overlap checks), and two arguments at one address would break that promise:
# LLVM may then move a store above a load of the other pointer (a multi-pass or reordered
# kernel's wrong results). The kernel compiled in place is another function instead: the
# output's stores go through the input's own argument (the output's argument is passed, and
# not read), so LLVM sees the one pointer both loaded and stored and orders them as written.
# That is exact only where every point of the iteration space reads the input's element and
# writes the output's element at the same offset, each point once: a plain Kernel (its body
# loads every input of the point, computes, then stores the point's outputs; a RowKernel's
# passes read a row again after writing it, so none is), the output a full-shape result (not
# a reduction's slab, which is written before later points are read), and both with the
# kernel's shape and dtype (no broadcast input, whose element many points read; C-contiguous
# both, the same strides). ``inplace_pairs`` (runtime/inplace_kernels.py) offers such pairs;
# ``_check_shared`` refuses anything else.


def _check_shared(k: Kernel, shared: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """``shared`` if every pair may be written in place (Note [kernels in place]), else a
    CodegenError."""
    reduced = {e.out for e in k.reductions}
    outs = [o for o, _ in shared]
    ins = [i for _, i in shared]
    if len(set(outs)) != len(outs) or len(set(ins)) != len(ins):
        raise CodegenError(f"kernel {k.name}: one buffer written in place twice: {shared}")
    for o, i in shared:
        out, x = k.outputs[o], k.inputs[i]
        if not (
            out not in reduced
            and tuple(out.aval.shape) == tuple(x.aval.shape) == tuple(k.shape)
            and out.aval.dtype == x.aval.dtype
            and not _scalar(out)
        ):
            raise CodegenError(f"kernel {k.name}: output {o} cannot be written over input {i}")
    return shared


def _scalar(v: Atom) -> bool:
    """One element at every size."""
    return is_scalar_shape(v.aval.shape)


class KernelEmitter:
    """Emits one kernel: scalars hoisted into the entry block, the rest in the loop nest.

    Loop order is the buffers' memory order (innermost contiguous). Reductions: the output slab
    of an outer iteration is set to the identity just before the first reduced loop; values
    then accumulate either in a register (the innermost loop reduces) or straight into the
    output row (an outer loop reduces, the innermost runs along the row). Float sums do both
    in two levels (Note [reduction accuracy]): register sums over blocks of the innermost loop,
    added with compensation into the output slab.
    """

    shared: tuple[tuple[int, int], ...] = ()  # Note [kernels in place] (a RowEmitter: none)

    def __init__(
        self, k: Kernel, use_vecmath: bool, shared: tuple[tuple[int, int], ...] = ()
    ) -> None:
        self.k, self.use_vecmath = k, use_vecmath
        self.shared = _check_shared(k, shared)
        self.symbol = f"adjit_{k.name}"
        self.symbolic = has_symbolic_sizes(k)
        shape, nd = norm_shape(k.shape), len(k.shape)
        self.reds = k.reductions
        axes: frozenset[int] = frozenset()
        if self.reds:
            a = self.reds[0].attrs["axes"]
            axes = frozenset(range(nd)) if a is None or nd == 0 else frozenset(x % nd for x in a)
        red_outs = {e.out for e in self.reds}
        self.scalar_eqns = {e for e in k.eqns if e not in self.reds and _scalar(e.out)}
        self.scalar_outs = [v for v in k.outputs if v not in red_outs and _scalar(v)]
        self.full_outs = [v for v in k.outputs if v not in red_outs and not _scalar(v)]
        self.point_ins = [v for v in k.inputs if not _scalar(v)]
        operands = [*self.full_outs, *(e.out for e in self.reds), *self.point_ins]
        strides = []
        for v in operands:
            s = (
                reduced_strides(shape, axes)
                if v in red_outs
                else broadcast_strides(v.aval.shape, shape)
            )
            if s is None:
                raise CodegenError(f"kernel {k.name}: {v.aval} does not broadcast to {shape}")
            strides.append(s)
        self.slot = {v: i for i, v in enumerate(operands)}
        self.layout = collapse(shape, [d in axes for d in range(nd)], strides)
        # whether a reduced axis is empty: False, True, or an expression's run-time test
        self.empty_reduce: Any = any(is_zero(shape[d]) for d in axes)
        if not self.empty_reduce and not all(at_least(shape[d], 1) for d in axes):
            self.empty_reduce = [shape[d] for d in axes if symbolic(shape[d])]
        self._plan_accuracy()

    def _plan_accuracy(self) -> None:
        """Which float sums keep careful totals, and whether the last reduced loop runs in
        blocks (Note [reduction accuracy])."""
        lay, f = self.layout, self.layout.first_reduced
        sums = [e for e in self.reds if compensates(e.op, e.out.aval.dtype)]
        # the last reduced loop: its blocks of terms are summed in a register (it is the
        # innermost loop) or in the output slab (inner loops run along the output)
        self.last = max((d for d, r in enumerate(lay.reduced) if r), default=None)
        # (a symbolic length: blocked, and summed carefully, Note [symbolic kernels])
        last = None if self.last is None else lay.sizes[self.last]
        self.blocked = bool(sums) and last is not None and not at_most(last, BLOCK)
        many = False  # more than one block sum added into each total
        if f is not None and last is not None:
            sizes, red = lay.sizes[f : self.last], lay.reduced[f : self.last]
            outer = prod(n for n, r in zip(sizes, red, strict=True) if r)
            if self.blocked and symbolic(last):
                many = True
            else:
                adds = outer * (-(-last // BLOCK) if self.blocked else 1)
                many = not at_most(adds, 1)
        self.compensated = tuple(sums if many else ())
        self.totals: dict[Eqn, Total] = {}
        self.base: dict[Eqn, ir.Value] = {}

    # ---- memory -------------------------------------------------------------------------
    def _ptr(self, v: Var, off: ir.Value) -> ir.Value:
        ty = STORAGE[v.aval.dtype.name]
        return self.b.gep(self.arg[v], [off], inbounds=True, source_etype=ty)

    def load(self, v: Var, off: ir.Value) -> ir.Value:
        dt = v.aval.dtype
        x = self.b.load(self._ptr(v, off), typ=STORAGE[dt.name], align=dt.itemsize)
        if dt.reduced:
            return load_reduced(self.b, x, dt)
        return self.b.icmp_unsigned("!=", x, ir.Constant(x.type, 0)) if dt.name == "bool" else x

    def store(self, v: Var, off: ir.Value, x: ir.Value) -> None:
        dt = v.aval.dtype
        if dt.name == "bool":
            x = self.b.zext(x, STORAGE["bool"])
        elif dt.reduced:
            x = store_reduced(self.b, x, dt)
        self.b.store(x, self._ptr(v, off), align=dt.itemsize)

    # ---- equations ------------------------------------------------------------------------
    def operand(self, a: Atom, env: dict[Var, ir.Value], dt: DType) -> ir.Value:
        if isinstance(a, Lit):
            if isinstance(a.value, SymbolicSize):  # a number made of sizes: its run-time value
                return self.symbolic_number(a, dt)
            return constant(lit_array(a), dt)  # full precision, converted once to ``dt``
        return convert(self.b, env[a], a.aval.dtype, dt)

    def symbolic_number(self, a: Lit, dt: DType) -> ir.Value:
        """A literal that is a size (SymInt) or a float of sizes (SymFloat), converted as
        ``lit_array`` and ``constant`` convert a number (through float64 for a weak float)."""
        tree = getattr(a.value, "tree", None)
        if tree is None:
            v, src = self.ext(norm(a.value)), I64_DTYPE
        else:
            v, src = self.ext.real(float_tree(a.value)), F64_DTYPE
        weak_float = a.aval.weak and a.aval.dtype.is_floating_point
        via = F64_DTYPE if weak_float else a.aval.dtype
        return convert(self.b, convert(self.b, v, src, via), via, dt)

    def apply(self, e: Eqn, env: dict[Var, ir.Value]) -> ir.Value:
        avals = [a.aval for a in e.inputs]
        conv = operand_dtypes(e.op, avals, e.out.aval)
        dts = [d or a.dtype for d, a in zip(conv, avals, strict=True)]
        if e.out.aval.dtype.reduced and e.op in SCALAR_IN_FLOAT32 and _scalar(e.inputs[1]):
            dts[1] = F32  # Note [reduced-float scalars] in ir/interpreter.py: not rounded
        xs = [self.operand(a, env, d) for a, d in zip(e.inputs, dts, strict=True)]
        rule = lookup(e.op, dts[-1], self.k.name)
        try:
            out = rule(Cx(self.b, e, dts[-1], self.use_vecmath), *xs)
        except Exception as err:
            raise CodegenError(f"kernel {self.k.name}: op {e.op.name.lower()}: {err!r}") from err
        if e.out.aval.dtype.reduced:  # Note [reduced floats in kernels]
            out = round_reduced(self.b, out, e.out.aval.dtype)
        if out.type != REGISTER[e.out.aval.dtype.name]:
            raise CodegenError(
                f"kernel {self.k.name}: op {e.op.name.lower()} made {out.type}, "
                f"expected {e.out.aval.dtype}"
            )
        return out

    def combine(self, e: Eqn, acc: ir.Value, x: ir.Value) -> ir.Value:
        dt = e.out.aval.dtype
        rule = REDUCE_RULES[e.op].get(KIND[dt.name])
        if rule is None:
            raise CodegenError(f"kernel {self.k.name}: cannot reduce {e.op.name.lower()} {dt}")
        return rule[1](Cx(self.b, e, dt, self.use_vecmath), acc, x)

    # ---- the function -----------------------------------------------------------------
    def open_function(self) -> ir.Module:
        """``void symbol(ptr out..., ptr in..., i64 start, i64 stop)``, builder at its entry; a
        kernel with symbolic sizes takes ``ptr sizes`` before the range (Note [symbolic
        kernels] in extents.py)."""
        k, n_args = self.k, len(self.k.outputs) + len(self.k.inputs)
        n_ptrs = n_args + (1 if self.symbolic else 0)
        mod = ir.Module(name=self.symbol)
        fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType()] * n_ptrs + [I64, I64])
        fn = ir.Function(mod, fnty, self.symbol)
        fn.attributes.add("nounwind")
        for a in fn.args[:n_ptrs]:
            a.add_attribute("noalias")
        self.arg = dict(zip((*k.outputs, *k.inputs), fn.args, strict=False))
        for o, i in self.shared:  # Note [kernels in place]: the output's own pointer unused
            self.arg[k.outputs[o]] = self.arg[k.inputs[i]]
        self.start, self.stop = fn.args[n_ptrs:]
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.ext = Extents(self.b, fn.args[n_args] if self.symbolic else None)
        return mod

    def identity(self, e: Eqn) -> ir.Value:
        """Reduction ``e``'s starting value (an empty float sum's is +0.0, else -0.0)."""
        dt, empty = e.out.aval.dtype, self.empty_reduce
        if not isinstance(empty, list):
            return reduce_identity(e.op, dt, empty)
        got = self.identities.get(e)
        if got is None:  # decided at run time, once, in the entry block (emit)
            b = self.b
            zero = [b.icmp_signed("==", self.ext(n), ir.Constant(I64, 0)) for n in empty]
            test = zero[0]
            for z in zero[1:]:
                test = b.or_(test, z)
            got = b.select(test, reduce_identity(e.op, dt, True), reduce_identity(e.op, dt, False))
            self.identities[e] = got
        return got

    def prepare_sizes(self) -> None:
        """Every size the loops use, computed in the entry block (Note [symbolic kernels])."""
        lay = self.layout
        for d in range(len(lay.sizes) + 1):
            self.ext(lay.slab(d))
        for n in (*lay.sizes, *(x for s in lay.strides for x in s)):
            self.ext(n)
        self.identities: dict[Eqn, ir.Value] = {}
        for e in self.reds:
            self.identity(e)

    def emit(self) -> str:
        k = self.k
        mod = self.open_function()
        b, zero = self.b, ir.Constant(I64, 0)
        self.acc = {e: b.alloca(REGISTER[e.out.aval.dtype.name]) for e in self.reds}
        self.prepare_sizes()
        scratch = Scratch(b)
        slab = self.layout.slab(self.layout.first_reduced or 0)
        n = slab if isinstance(slab, int) else self.ext(slab)
        totals = {e: Total(scratch, REGISTER[e.out.aval.dtype.name], n) for e in self.compensated}
        env: dict[Var, ir.Value] = {v: self.load(v, zero) for v in k.inputs if _scalar(v)}
        for e in k.eqns:
            if e in self.scalar_eqns:
                env[e.out] = self.apply(e, env)
        if self.scalar_outs:
            with b.if_then(b.icmp_signed("==", self.start, zero)):
                for v in self.scalar_outs:
                    self.store(v, zero, env[v])
        offs = [zero] * len(self.slot)
        ok = scratch.heap_ok()
        if ok is None:
            self.totals = totals
            self.nest(0, offs, env)
        else:  # the heap refused the totals' slots: sum into the outputs directly
            with b.if_else(ok) as (then, otherwise):
                with then:
                    self.totals = totals
                    self.nest(0, offs, dict(env))
                with otherwise:
                    self.totals = {}
                    self.nest(0, offs, dict(env))
        scratch.release()
        b.ret_void()
        return str(mod)

    def nest(self, d: int, offs: list[ir.Value], env: dict[Var, ir.Value]) -> None:
        b, lay = self.b, self.layout
        if d == len(lay.sizes):
            self.body(offs, env)
            return
        if self.reds and d == lay.first_reduced:
            self.init_slab(d, offs)
        acc_here = bool(self.reds) and d == len(lay.sizes) - 1 and lay.reduced[d]
        lo = self.start if d == 0 else ir.Constant(I64, 0)
        hi_v = self.stop if d == 0 else self.ext(lay.sizes[d])
        if d == self.last and self.blocked:  # full blocks (a constant trip count), the rest
            step = ir.Constant(I64, BLOCK)
            full = b.sdiv(b.sub(hi_v, lo), step)
            with for_range(b, ir.Constant(I64, 0), full, f"d{d}.blk") as k:
                start = b.add(lo, b.mul(k, step))
                self.reduce_loop(d, offs, env, ir.Constant(I64, 0), step, acc_here, start)
            self.reduce_loop(d, offs, env, b.add(lo, b.mul(full, step)), hi_v, acc_here)
        else:
            self.reduce_loop(d, offs, env, lo, hi_v, acc_here)
        if self.reds and d == lay.first_reduced:
            self.fold_slab(d)

    def reduce_loop(
        self,
        d: int,
        offs: list[ir.Value],
        env: dict[Var, ir.Value],
        lo: ir.Value,
        hi: ir.Value,
        acc_here: bool = True,
        shift: ir.Value | None = None,
    ) -> None:
        """The loop over dim ``d`` in ``[lo, hi)`` (plus ``shift``); with ``acc_here``, its
        values are summed in registers and added into the outputs after it."""
        b, lay = self.b, self.layout
        for e in self.reds if acc_here else ():
            b.store(self.identity(e), self.acc[e])
        with for_range(b, lo, hi, f"d{d}") as i:
            if shift is not None:
                i = b.add(shift, i, flags=("nsw",))
            inner = [
                off if is_zero(s[d]) else b.add(off, b.mul(i, self.ext(s[d])))
                for off, s in zip(offs, lay.strides, strict=True)
            ]
            self.nest(d + 1, inner, dict(env))
        for e in self.reds if acc_here else ():
            self.accumulate(e, offs[self.slot[e.out]], b.load(self.acc[e]))
        if d == self.last and not acc_here:
            self.flush(d, offs)

    def accumulate(self, e: Eqn, off: ir.Value, x: ir.Value) -> None:
        """Add ``x`` into output element ``off``, or into its careful total if it has one."""
        total = self.totals.get(e)
        if total is None:
            self.store(e.out, off, self.combine(e, self.load(e.out, off), x))
        else:
            total.add(self.b, self.b.sub(off, self.base[e]), x)

    def flush(self, d: int, offs: list[ir.Value]) -> None:
        """After a block of the last reduced loop (not the innermost one): the block sums that
        accumulated in the output slab go into the totals, and the slab starts over."""
        b, n = self.b, self.ext(self.layout.slab(d + 1))
        for e, total in self.totals.items():
            base = offs[self.slot[e.out]]
            ident = self.identity(e)
            with for_range(b, ir.Constant(I64, 0), n, "flush") as j:
                off = b.add(base, j)
                total.add(b, b.sub(off, self.base[e]), self.load(e.out, off))
                self.store(e.out, off, ident)

    def init_slab(self, d: int, offs: list[ir.Value]) -> None:
        for e in self.reds:
            base, ident = offs[self.slot[e.out]], self.identity(e)
            self.base[e] = base
            total = self.totals.get(e)
            with for_range(self.b, ir.Constant(I64, 0), self.ext(self.layout.slab(d)), "init") as j:
                self.store(e.out, self.b.add(base, j), ident)
                if total is not None:
                    total.reset(self.b, j, ident)

    def fold_slab(self, d: int) -> None:
        """Write each careful total into its finished slab."""
        b, n = self.b, self.ext(self.layout.slab(d))
        for e, total in self.totals.items():
            with for_range(b, ir.Constant(I64, 0), n, "fold") as j:
                self.store(e.out, b.add(self.base[e], j), total.result(b, j))

    def body(self, offs: list[ir.Value], env: dict[Var, ir.Value]) -> None:
        b, lay = self.b, self.layout
        for v in self.point_ins:
            env[v] = self.load(v, offs[self.slot[v]])
        for e in self.k.eqns:
            if e in self.scalar_eqns:
                continue
            if e not in self.reds:
                env[e.out] = self.apply(e, env)
                continue
            x = self.operand(e.inputs[0], env, e.out.aval.dtype)
            off = offs[self.slot[e.out]]
            if not any(lay.reduced):
                self.store(e.out, off, x)  # reducing only size-1 dims: a copy
            elif lay.reduced[-1]:
                b.store(self.combine(e, b.load(self.acc[e]), x), self.acc[e])
            else:  # into the output slab (flushed into the totals after each block)
                self.store(e.out, off, self.combine(e, self.load(e.out, off), x))
        for v in self.full_outs:
            self.store(v, offs[self.slot[v]], env[v])
