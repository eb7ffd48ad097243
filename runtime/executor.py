"""Running a fused Program on NumPy arrays: JIT kernels, BLAS/NumPy externs, reused buffers."""

from __future__ import annotations

import functools
import sys
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..codegen.addresses import address
from ..codegen.jit import CompiledKernel, codegen_error
from ..codegen.kernel_cache import kernel_code
from ..ir import windows
from ..ir.checks import CHECK_ERRORS
from ..ir.graph import Atom, Eqn, Graph, Lit, Var
from ..ir.instantiate import is_symbolic_graph
from ..ir.interpreter import eval_eqn_arrays, lit_array, unshared
from ..ir.ops import Op
from ..ir.reference import REFERENCE
from ..passes.fusion import Extern, Kernel, Program, fuse
from ..passes.narrow_sums import widen_narrow_sums
from ..passes.record import Record
from . import blas_choice, mkl_gemm, own_gemm, split_gemm, split_windows
from .blas import single_threaded
from .buffer_plan import BufferPlan, StepIO, plan_buffers
from .callplan import COPIED, CallPlan
from .index_steps import gather_into, index_add_into, scatter_add_into
from .kernels import KernelRunner
from .loop_steps import LOOPS, LoopStep, loop_step
from .reshape_copies import PermuteCopy, ReshapeCopy, copying_reshapes, with_permute_copies
from .split_gemm import matmul_into
from .streaming import Ready, ReadyTable, streamed
from .window_steps import UnfoldColumns, with_unfold_columns
from .workers import num_threads

Env = dict[Var, np.ndarray]
CHECK_FAILURES = tuple(CHECK_ERRORS.values())
_SPARE = 3  # buffers kept per value: the caller may still hold the last results
_IDLE = 4  # calls in a row a value's first buffer served before its extra ones are dropped


_ptr = address  # Note [data addresses]


class Buffers:
    """Output buffers reused across calls: planned values in one arena by live range (Note
    [buffer planning]), the rest one pool per Var, handed out again once nobody holds them.

    Note [buffer reuse]: a per-Var buffer is handed out again only when its reference count
    shows that only this pool holds it: results (or views of them) the caller still holds are
    never overwritten, and steady-state calls write into warm memory (fresh large allocations
    cost page faults). A planned value never escapes a call (the plan keeps every value that
    may alias an output out of the arena), so its arena view is handed out without a check.
    """

    def __init__(self, plan: BufferPlan | None = None) -> None:
        self.free: dict[Var, list[tuple[np.ndarray, int]]] = {}
        self.plan = plan
        self.arena: np.ndarray | None = None  # the planned values' memory, made on first use
        self.shared = False  # whether ``arena`` is SHARED's (Note [one arena for all programs])
        self.views: dict[Var, tuple[np.ndarray, int]] = {}  # planned values' arena views
        self.idle: dict[Var, int] = {}  # calls in a row a Var's first buffer was free
        self.allocations = 0
        self.last = (0, 0)  # (id, address) of the buffer handed out last (an extern's result)
        # Note [one arena for a training step]: planned values whose views are not kept (a
        # forward's residuals: the pair tells a free arena by them), and the pair whose
        # arenas this pool counts as its own
        self.uncached: frozenset[Var] = frozenset()
        self.joint: Any = None
        # Note [gradients in the step's arena]: the arena's owner while a donating call runs
        # (views of it hold it: the pair tells an arena whose gradients are kept by it)
        self.owner: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        """Bytes this pool holds: its own arena (not the shared one) and per-Var buffers."""
        held = 0 if self.arena is None or self.shared else self.arena.nbytes
        if self.joint is not None:
            held = self.joint.nbytes
        return held + sum(a.nbytes for spare in self.free.values() for a, _ in spare)

    def get(self, v: Var) -> tuple[np.ndarray, int]:
        entry = self.views.get(v)
        if entry is not None:
            self.last = (id(entry[0]), entry[1])
            return entry
        if self.plan is not None and v in self.plan.offset_of:
            return self._view(v, self.plan.offset_of[v])
        spare = self.free.setdefault(v, [])
        for k, entry in enumerate(spare):
            # references: the tuple in ``spare``, the getrefcount argument
            if sys.getrefcount(entry[0]) == 2:
                if len(spare) > 1:
                    self._trim(v, spare, k)
                self.last = (id(entry[0]), entry[1])
                return entry
        a = np.empty(v.aval.shape, v.aval.dtype.np)
        self.allocations += 1
        entry = (a, _ptr(a))
        if len(spare) < _SPARE:
            spare.append(entry)
        self.last = (id(a), entry[1])
        return entry

    def _trim(self, v: Var, spare: list[tuple[np.ndarray, int]], k: int) -> None:
        """Drop ``v``'s extra buffers once the first has served ``_IDLE`` calls in a row (one
        call's results held across the next, once, must not pin a second buffer forever)."""
        idle = self.idle[v] = self.idle.get(v, 0) + 1 if k == 0 else 0
        if idle >= _IDLE:
            spare[1:] = [e for e in spare[1:] if sys.getrefcount(e[0]) > 2]
            self.idle[v] = 0

    def use(self, arena: np.ndarray | None) -> None:
        """Put the planned values in ``arena`` (SHARED's) or, for None, in an arena of this
        pool's own (made on first use)."""
        if arena is not self.arena and (arena is not None or self.shared):
            self.arena, self.shared = arena, arena is not None
            self.views.clear()

    def _view(self, v: Var, offset: int) -> tuple[np.ndarray, int]:
        """Planned value ``v``'s view of the arena (Note [buffer planning])."""
        arena = self.arena
        if arena is None:
            assert self.plan is not None
            arena = self.arena = np.empty(self.plan.arena_bytes, np.uint8)
            self.allocations += 1
        # (one ndarray over the arena's bytes, not a slice's view reshaped: a forward's
        # residuals are made afresh each call; its address is the arena's plus the offset)
        held = v in self.plan.held  # type: ignore[union-attr]
        memory = self.owner if held else arena  # Note [gradients in the step's arena]
        assert memory is not None  # (a held value only in a donating call)
        a = np.ndarray(v.aval.shape, v.aval.dtype.np, memory, offset)
        entry = (a, _ptr(arena) + offset)
        if not held and v not in self.uncached:
            self.views[v] = entry
        self.last = (id(a), entry[1])
        return entry


class SharedArena:
    """Note [one arena for all programs]: a program's arena is busy only during its call, so
    the programs of a process take turns in one arena as large as the largest plan (a
    training step's forward and backward, every compiled function) instead of holding one
    each. A call uses it when it can take its lock at once; a call made while another holds
    it (a loop body inside a program, another thread's call, a program run from a NumPy
    reference's callback) uses its pool's own arena. Programs with a prepared call (Note
    [prepared calls]) keep their own: its addresses are fixed once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buffer: np.ndarray | None = None

    def at_least(self, n: int) -> np.ndarray:
        """The arena, grown to ``n`` bytes if smaller (callers hold the lock)."""
        if self.buffer is None or self.buffer.nbytes < n:
            self.buffer = None  # free the old one first (views of it may still pin it)
            self.buffer = np.empty(n, np.uint8)
        return self.buffer

    @property
    def nbytes(self) -> int:
        return 0 if self.buffer is None else self.buffer.nbytes


SHARED = SharedArena()


def _read(a: Atom, env: Env) -> np.ndarray:
    return lit_array(a) if isinstance(a, Lit) else env[a]


def _contiguous(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _interpret_eqn(e: Eqn, env: Env) -> np.ndarray:
    args = [_read(a, env) for a in e.inputs]
    return eval_eqn_arrays(e.op, e.attrs, args, [a.aval for a in e.inputs], e.out.aval)


def _stacked_rows(x: np.ndarray) -> np.ndarray | None:
    """A (..., m, k) stack as the (... m, k) matrix of its rows, when that is a view."""
    shape, strides = x.shape, x.strides
    for i in range(x.ndim - 2):
        if shape[i] != 1 and strides[i] != strides[i + 1] * shape[i + 1]:
            return None
    return x.reshape(-1, shape[-1])


# Note [one product, one call]
# A 2-D float product runs by the library its geometry's timed choice picked (Note [BLAS by
# measurement]): at one thread as one GEMM call on the caller (no row blocks to split it into:
# Note [split products]), through MKL with the parameters its prepared call keeps by geometry
# (Note [prepared products] in mkl_gemm.py). Reached through matmul_into, the choice's tests
# (ADJIT_BLAS read twice, whether adjit's GEMM takes the operands: their overlaps) and the
# layers under it cost ~15 µs a product on the AVX2 EPYC, as much as W2's three 0.6 MFLOP
# products themselves (13-19 µs by NumPy's BLAS, 29-35 through matmul_into); so the step
# keeps each geometry's choice at each thread count (blas_choice.calls) and makes the call
# directly: MKL's prepared call at one thread, else what matmul_into makes once it has the
# choice (split_gemm.matmul_by: NumPy's BLAS on one thread, adjit's GEMM, the splits).
# Anything a prepared call declines (a geometry BLAS cannot take, unaligned or overlapping
# arrays, a parameter MKL refused) goes the whole way as before: the same GEMM calls, the
# same bits.


def _kept_call(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> bool:
    """The 2-D product by its geometry's kept choice (Note [one product, one call]); False,
    having done nothing, where the general path must run it."""
    threads = num_threads()
    key = (blas_choice.geometry(x, y, out), mkl_gemm.blas_mode(), threads)
    calls = blas_choice.calls()
    choice = calls.get(key, _NONE)
    if choice is _NONE:
        choice = calls[key] = split_gemm.chosen(x, y, out)
    if choice is blas_choice.OWN and not own_gemm.takes(x, y, out):
        return False  # (timed only where it took the operands: checked for these)
    if threads == 1 and choice is not None and choice is not blas_choice.OWN:  # MKL
        errors = len(choice.errors)
        return mkl_gemm._prepared(choice, x, y, out) and len(choice.errors) == errors
    split_gemm.matmul_by(choice, x, y, out)
    return True


_NONE: Any = object()


def _matmul_into(e: Eqn, env: Env, bufs: Buffers) -> np.ndarray:
    """BLAS into a pooled buffer; transposed operands are read through their strides (NumPy
    passes BLAS the transpose flag), and a stack times a matrix is one GEMM over the stack's
    rows (Note [one GEMM over the batch])."""
    a, b = e.inputs
    x = lit_array(a) if type(a) is Lit else env[a]  # type: ignore[index]
    y = lit_array(b) if type(b) is Lit else env[b]  # type: ignore[index]
    if x.dtype != y.dtype or x.dtype != e.out.aval.dtype.np:
        return _interpret_eqn(e, env)
    out, _ = bufs.get(e.out)
    product_into(x, y, out)
    return out


def product_into(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    """``np.matmul(x, y, out=out)`` (one dtype, ``out`` C-contiguous) as a compiled MATMUL step
    runs it (the benchmarks' GEMM floor runs its products so too)."""
    plain = x.ndim == 2 == y.ndim and x.dtype in mkl_gemm.FLOATS
    if plain and _kept_call(x, y, out):  # Note [one product, one call]
        return
    n = y.shape[-1] if y.ndim > 1 else 1
    rows = _stacked_rows(x) if x.ndim > 2 and y.ndim == 2 else None
    if rows is not None and rows.size:
        matmul_into(rows, y, out.reshape(-1, n))
    else:
        matmul_into(x, y, out)  # Note [BLAS threads], Note [split products]


def _windows_into(e: Eqn, env: Env, bufs: Buffers) -> np.ndarray:
    """UNFOLD / FOLD into a pooled buffer: the compiled loop nest (Note [compiled windows]),
    or the NumPy rule (small maps' UNFOLD: one GEMM, Note [small maps as one GEMM])."""
    from ..codegen import windows as compiled_windows  # imports llvmlite.ir (~10 ms): lazily

    x = _read(e.inputs[0], env)
    fold = e.op is Op.FOLD
    if not (fold and compiled_windows.strided_columns(x)):  # Note [strided columns]
        x = _contiguous(x)
    name = "fold" if fold else "unfold"
    if x.dtype != e.out.aval.dtype.np or not compiled_windows.supported(name, x.dtype):
        return _interpret_eqn(e, env)
    out, _ = bufs.get(e.out)
    if fold:  # split by images across adjit's threads when it pays (Note [split windows])
        return split_windows.fold_into(x, out, **e.attrs)
    if not windows.dense_unfold(x, **e.attrs):
        return split_windows.unfold_into(x, out, **e.attrs)
    h, w = x.shape[2:]
    restore = single_threaded(out.size, h * w, 1)  # Note [BLAS threads]
    try:
        return windows.unfold_into(x, out, **e.attrs)
    finally:
        if restore is not None:
            restore[0](restore[1])


def _check(e: Eqn, env: Env) -> np.ndarray:
    """A run-time check: its input, or PyTorch's error noting the traced source line
    (Note [run-time checks])."""
    ok = _read(e.inputs[1], env)  # the common case, without the reference's conversions
    small = ok.dtype == np.bool_ and ok.size <= 4096  # (its bytes hold no 0: 0.7 vs 2.1 µs)
    if (b"\x00" not in ok.tobytes()) if small else ok.all():
        return _read(e.inputs[0], env)
    try:
        return _interpret_eqn(e, env)
    except CHECK_FAILURES as err:
        if e.loc:
            err.add_note(f"(raised by a check of the compiled program, traced at {e.loc})")
        raise


def _random(e: Eqn, env: Env) -> np.ndarray:
    """A draw, now, from the equation's generator (Note [random numbers in compiled code]); a
    sampler's error (a probability out of range) notes the traced source line."""
    try:
        return _interpret_eqn(e, env)
    except RuntimeError as err:
        if e.loc:
            err.add_note(f"(raised by a random draw of the compiled program, traced at {e.loc})")
        raise


def _index_add_into(e: Eqn, env: Env, bufs: Buffers) -> np.ndarray:
    """INDEX_ADD / SCATTER_ADD into a pooled buffer: a zero-padded write or the compiled
    accumulate loop (Note [compiled scatter]), else the NumPy rule."""
    into = index_add_into if e.op is Op.INDEX_ADD else scatter_add_into
    return into(e, env, bufs, _read, _interpret_eqn)


def _cat_into(e: Eqn, env: Env, bufs: Buffers) -> np.ndarray:
    """CAT into a pooled C-contiguous buffer; NumPy's own result follows its operands' axis
    order, so a concatenation of permuted stacks came out permuted and its merge copied it
    again (Note [concatenated heads] in passes/layout.py)."""
    xs = [env[a] for a in e.inputs if isinstance(a, Var)]
    dt = e.out.aval.dtype.np
    if len(xs) != len(e.inputs) or any(x.dtype != dt for x in xs):
        return _interpret_eqn(e, env)  # literals, or operands the rule converts
    out, _ = bufs.get(e.out)
    return np.concatenate(xs, axis=e.attrs["axis"], out=out)


# externs that write into a reused buffer instead of allocating (the rest: the NumPy reference)
EXTERN_INTO: dict[Op, Callable[[Eqn, Env, Buffers], np.ndarray]] = {
    Op.CAT: _cat_into,
    Op.MATMUL: _matmul_into,
    Op.UNFOLD: _windows_into,
    Op.FOLD: _windows_into,
    Op.INDEX_ADD: _index_add_into,
    Op.SCATTER_ADD: _index_add_into,
}
# externs run by their own function (the rest: the NumPy reference); their results are not
# pooled buffers (a check's is its input)
EXTERN_RUN: dict[Op, Callable[[Eqn, Env], np.ndarray]] = {Op.CHECK: _check, Op.RANDOM: _random}


class KernelStep(Record):
    """A compiled kernel: its outputs come from the pool, its inputs are read in place."""

    __slots__ = FIELDS = ("kernel", "runner")
    kernel: Kernel
    runner: KernelRunner

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        k = self.kernel
        outs, addresses = [], []
        for v in k.outputs:
            a, p = bufs.get(v)
            outs.append(a)
            addresses.append(p)
            env[v], ptrs[v] = a, p
        for v in k.inputs:
            p = ptrs.get(v)
            if p is None:
                a = env[v] = _contiguous(env[v])
                p = ptrs[v] = _ptr(a)
            addresses.append(p)
        self.runner_for(addresses).run(addresses, outs)

    def runner_for(self, addresses: list[int]) -> KernelRunner:
        """The runner for a call on these addresses (InPlaceKernelStep's choice)."""
        return self.runner


class InterpretedKernel(Record):
    """A kernel the code generator refused: its equations run on the NumPy reference."""

    __slots__ = FIELDS = ("kernel", "reason")
    kernel: Kernel
    reason: str

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        local = dict(env)
        for e in self.kernel.eqns:
            local[e.out] = _interpret_eqn(e, local)
        for v in self.kernel.outputs:
            env[v] = local[v]


class ExternStep(Record):
    """One equation run by BLAS or the NumPy reference."""

    __slots__ = FIELDS = ("eqn",)
    eqn: Eqn

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        e = self.eqn
        into = EXTERN_INTO.get(e.op)
        if into is None:
            out = env[e.out] = EXTERN_RUN.get(e.op, _interpret_eqn)(e, env)
            if e.op in _SAME_ADDRESS:  # a kernel reading the result needs its address
                x = e.inputs[0]
                p = ptrs.get(x)  # type: ignore[arg-type]
                # (an address is known only for a C-contiguous array, whose reshaped view
                # starts where it does; a check returns its input itself)
                if p is not None and (out is env[x] or out.base is _owner(env[x])):  # type: ignore[index]
                    ptrs[e.out] = p
            return
        out = env[e.out] = into(e, env, bufs)
        if id(out) == bufs.last[0]:  # the pooled buffer (not a fallback's): address known
            ptrs[e.out] = bufs.last[1]


class ReshapeView(ExternStep):
    """A RESHAPE that is a view (Note [reshape views]): its operand, the target shape and
    dtype found once."""

    __slots__ = ("operand", "shape", "dtype")
    FIELDS = ("eqn", "operand", "shape", "dtype")
    operand: Var
    shape: tuple[int, ...]
    dtype: np.dtype

    def run(self, env: Env, ptrs: dict[Var, int], bufs: Buffers) -> None:
        x = env[self.operand]
        if x.dtype != self.dtype:  # (a converted operand: the general rule)
            ExternStep.run(self, env, ptrs, bufs)
            return
        out = env[self.eqn.out] = x.reshape(self.shape)
        p = ptrs.get(self.operand)
        # (an address is known only for a C-contiguous array, whose reshaped view starts where
        # it does; NumPy copies a strided one)
        if p is not None and out.base is _owner(x):  # (ExternStep.run's test)
            ptrs[self.eqn.out] = p


# Note [reshape views]
# A RESHAPE that does not copy (the rest become ReshapeCopy steps, Note [reshape copies]) is
# NumPy's view of its operand. As an ExternStep it took ~3 µs a call (the extern tables, the
# operand-dtype test through the IR's dtype, the reference rule's keyword call, the address
# test), ~13 µs right after a large product had evicted the interpreter's data; resnet18's
# fine-tune step runs 127 of them. A ReshapeView finds the operand, shape and dtype once.


def _with_reshape_views(steps: list[Step]) -> list[Step]:
    out: list[Step] = []
    for s in steps:
        e = getattr(s, "eqn", None)
        if (
            type(s) is ExternStep
            and e is not None
            and e.op is Op.RESHAPE
            and isinstance(e.inputs[0], Var)
            and all(type(n) is int for n in e.out.aval.shape)
        ):
            s = ReshapeView(e, e.inputs[0], tuple(e.out.aval.shape), np.dtype(e.out.aval.dtype.np))
        out.append(s)
    return out


_SAME_ADDRESS = frozenset({Op.CHECK, Op.RESHAPE})  # results at their first input's address
# results that are their first input, a view of it, or (a reshape's) a copy: never memory of
# another operand (a cross entropy's loss, checked, is the kernel's result: Executable._may_share)
_SAME_MEMORY = frozenset({Op.CHECK, Op.RESHAPE, Op.PERMUTE, Op.EXPAND})


def _owner(a: np.ndarray) -> np.ndarray:
    """What NumPy makes the ``base`` of a view of ``a``."""
    return a if a.base is None else a.base


def _get(e: Eqn, env: Env) -> np.ndarray:
    return env[e.inputs[0]][e.attrs["index"]]  # type: ignore[index, call-overload]


EXTERN_RUN[Op.GET] = _get


def _moved(e: Eqn, env: Env) -> np.ndarray:
    """A RESHAPE, PERMUTE or EXPAND: NumPy's view (or, for a reshape, copy), by the reference
    rule without the interpreter's operand conversions when the dtype already matches (the
    conversions cost ~5 µs a step; resnet18's step runs ~70 of these)."""
    a = e.inputs[0]
    if isinstance(a, Var):
        x = env[a]
        if x.dtype == e.out.aval.dtype.np:
            return REFERENCE[e.op](x, **e.attrs)
    return _interpret_eqn(e, env)


for _op in (Op.RESHAPE, Op.PERMUTE, Op.EXPAND):
    EXTERN_RUN[_op] = _moved


def _gather(e: Eqn, env: Env) -> np.ndarray:
    """A GATHER (cross entropy's pick of the target's log-probability): the reference rule
    without the interpreter's operand conversions when none is needed (~15 µs a call)."""
    x, index = e.inputs
    if isinstance(x, Var) and isinstance(index, Var):
        a, i, dt = env[x], env[index], e.out.aval.dtype
        if a.dtype == dt.np and i.dtype in (np.int64, np.int32) and not dt.reduced:
            axis = e.attrs["axis"]
            if a.ndim != i.ndim or not 0 <= axis < a.ndim:  # (the IR's axes are >= 0)
                return REFERENCE[Op.GATHER](a, i, axis=axis)
            fast = _take_flat(a, i, axis)  # Note [a gather by flat offsets]
            if fast is not None:
                return fast
            # np.take_along_axis's own indexing (the same values and IndexError), its other
            # axes' index grids made once per shape
            grids = _along_axis_grids(i.shape, axis)
            if a.shape != i.shape:  # the reference rule's crop of the other axes
                a = a[tuple(slice(0, k) if d != axis else ALL for d, k in enumerate(i.shape))]
            return a[grids[0] + (i,) + grids[1]]
    return _interpret_eqn(e, env)


ALL = slice(None)

# Note [a gather by flat offsets]
# NumPy's take_along_axis (and the index grids it pairs) runs as fancy indexing with one
# broadcast index array per axis: for a max pool's pick of (8, 64, 256) elements from an
# (8, 64, 1024) plane, 0.63 ms, where adding the index (times the axis' stride) to each
# element's flat offset with that index 0 and one np.take of the flat array takes 0.2-0.3. So
# a C-contiguous source whose index is within its axis goes that way; an index out of range
# or negative takes the general path, with its wrap-around and its IndexError. The offsets of
# small shapes are kept (FLAT_KEPT elements at most).
FLAT_KEPT = 1 << 17


def _take_flat(a: np.ndarray, i: np.ndarray, axis: int) -> np.ndarray | None:
    """``np.take_along_axis(a, i, axis)`` by flat offsets, or None: not C-contiguous, empty,
    or an index outside ``[0, a.shape[axis])`` (Note [a gather by flat offsets])."""
    if not a.flags.c_contiguous or not i.size or i.min() < 0 or i.max() >= a.shape[axis]:
        return None
    steps = tuple(s // a.itemsize for s in a.strides)
    if any(k > n for d, (k, n) in enumerate(zip(i.shape, a.shape, strict=True)) if d != axis):
        return None  # (the general path crops, then raises its error)
    base = (_flat_base if i.size <= FLAT_KEPT else _flat_base.__wrapped__)(steps, i.shape, axis)
    flat = np.multiply(i, steps[axis], dtype=np.int64)
    flat += base
    return np.take(a.reshape(-1), flat)


@functools.lru_cache(maxsize=64)
def _flat_base(steps: tuple[int, ...], shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Each index position's flat offset in an array of element strides ``steps``, with its
    index along ``axis`` taken as 0."""
    base = np.zeros(shape, np.int64)
    for d, (k, st) in enumerate(zip(shape, steps, strict=True)):
        if d != axis and k > 1:
            base += (np.arange(k, dtype=np.int64) * st).reshape((k,) + (1,) * (len(shape) - d - 1))
    return base


@functools.lru_cache(maxsize=256)
def _along_axis_grids(shape: tuple[int, ...], axis: int) -> tuple[tuple, tuple]:
    """The open index grids of ``shape``'s axes before and after ``axis`` (what
    np.take_along_axis pairs with the index along it)."""
    n = len(shape)
    grids = [
        np.arange(k).reshape((1,) * d + (k,) + (1,) * (n - d - 1)) for d, k in enumerate(shape)
    ]
    return tuple(grids[:axis]), tuple(grids[axis + 1 :])


EXTERN_RUN[Op.GATHER] = _gather


def _gather_into(e: Eqn, env: Env, bufs: Buffers) -> np.ndarray:
    """A GATHER's values in its pooled buffer: a max pool's picked elements and their index
    are a training step's residuals, planned in its arena (Note [max pool by its index] in
    nn/functional_pool.py), not fresh arrays beside it. The compiled loop writes them there
    (Note [gather along an axis] in codegen/scatter.py); where it declines, NumPy's picks land
    in a fresh array, so they are made GATHER_BYTES at a time (runs of rows) and copied in."""
    x, index = e.inputs
    out, _ = bufs.get(e.out)  # (one buffer whichever way fills it)
    variables = isinstance(x, Var) and isinstance(index, Var)
    if variables and gather_into(env[x], env[index], e.attrs["axis"], out):  # type: ignore[index]
        return out  # Note [gather along an axis]
    rows = e.out.aval.shape[0] if e.out.aval.shape else 0
    if e.attrs["axis"] != 0 and rows > 1 and variables:
        a, i = env[x], env[index]  # type: ignore[index]
        if a.shape[0] == rows == i.shape[0] and a.dtype == e.out.aval.dtype.np:
            per = max(1, GATHER_BYTES // max(1, out[0].nbytes))
            for r in range(0, rows, per):
                out[r : r + per] = _gather(e, {x: a[r : r + per], index: i[r : r + per]})
            return out
    got = _gather(e, env)
    if got.dtype != e.out.aval.dtype.np or got.shape != e.out.aval.shape:
        return got
    np.copyto(out, got)
    return out


GATHER_BYTES = 1 << 16


EXTERN_INTO[Op.GATHER] = _gather_into


Step = (
    KernelStep
    | InterpretedKernel
    | ExternStep
    | LoopStep
    | ReshapeCopy
    | PermuteCopy
    | UnfoldColumns
)

# externs whose pooled result never aliases an input (their fallback, the NumPy reference,
# makes a new array too: col2im accumulates into a fresh one); UNFOLD's fallback may return
# a view. (A FOLD taken as aliasing kept a conv's 18 MB column gradient alive until the
# image gradient's last reader: VGG-11 b8's backward arena 28 -> 26 MB)
FRESH_INTO = frozenset({Op.MATMUL, Op.INDEX_ADD, Op.SCATTER_ADD, Op.FOLD, Op.CAT, Op.GATHER})


def _extern_io(s: ExternStep) -> StepIO:
    e = s.eqn
    if e.op in FRESH_INTO:
        return StepIO(e.inputs, (e.out,), ())
    return StepIO(e.inputs, (e.out,) if e.op in EXTERN_INTO else (), (e.out,))


# step type -> what it does to buffers (Note [buffer planning])
STEP_IO: dict[type, Callable[[Any], StepIO]] = {
    KernelStep: lambda s: StepIO(s.kernel.inputs, s.kernel.outputs, ()),
    InterpretedKernel: lambda s: StepIO(s.kernel.inputs, (), s.kernel.outputs),
    ExternStep: _extern_io,
    ReshapeView: _extern_io,
    LoopStep: lambda s: StepIO(s.eqn.inputs, s.stacked, (s.eqn.out,)),
    ReshapeCopy: lambda s: StepIO(s.eqn.inputs, (s.eqn.out,), ()),  # Note [reshape copies]
    PermuteCopy: lambda s: StepIO(s.eqn.inputs, (s.eqn.out,), (s.eqn.out,)),
    UnfoldColumns: UnfoldColumns.io,
}


def _with_reshape_copies(graph: Graph, steps: list[Step]) -> list[Step]:
    """``steps`` with the reshapes that must copy as ReshapeCopy steps (Note [reshape
    copies]): a copy into a pooled buffer, not a fresh array per call."""
    values: list[Eqn | Var] = []
    for s in steps:
        if isinstance(s, KernelStep):
            values.extend(s.kernel.outputs)
        elif isinstance(s, ExternStep):
            values.append(s.eqn.out if s.eqn.op in EXTERN_INTO else s.eqn)
    copies = copying_reshapes(graph, values)
    if not copies:
        return steps
    return [
        ReshapeCopy(s.eqn) if isinstance(s, ExternStep) and id(s.eqn) in copies else s
        for s in steps
    ]


def buffer_plan(graph: Graph, steps: Sequence[Step]) -> BufferPlan:
    """Where the program's values live (Note [buffer planning])."""
    return plan_buffers([STEP_IO[type(s)](s) for s in steps], graph.outputs)


class Executable:
    """A graph compiled to steps; ``ex(arrays)`` returns what ``interpret(graph, arrays)`` does.
    (A plain class: a dataclass costs a warm process's first call ~1 ms to define, Note
    [records].)"""

    def __init__(
        self,
        graph: Graph,
        program: Program,
        steps: list[Step],
        consts: Env,
        public: int | None = None,
    ) -> None:
        self.graph, self.program, self.steps, self.consts = graph, program, steps, consts
        # Note [internal outputs]: outputs from index ``public`` on (a split forward's
        # residuals) only ever reach the backward program, which reads them: they may share
        # an input's or a constant's memory (a reshaped weight), where a result the user gets
        # is copied (writing into it must not change an argument or the next call's constant)
        self.public = len(graph.outputs) if public is None else public
        self.buffer_plan = buffer_plan(graph, steps)
        self.buffers = Buffers(self.buffer_plan)
        self._const_ptrs = {v: _ptr(a) for v, a in consts.items()}  # found once
        # the last call's inputs (weakly: holding them would pin a backward's residuals, and
        # the forward buffers they are views of, across the next forward) and their addresses
        self._last: list[tuple[weakref.ref[np.ndarray], int] | None] = []
        self._plan: CallPlan | None = None
        self._lock = threading.Lock()
        self.joint: Any = None  # Note [one arena for a training step]: the pair's arenas
        self.donor: Buffers | None = None  # a backward's buffers in them
        kernels = [s for s in steps if isinstance(s, KernelStep)]
        if len(kernels) == len(steps):  # Note [prepared calls]
            self._plan = CallPlan(self, kernels)
        self.fresh = self._fresh(kernels)
        self._const_ptrs = {v: _ptr(a) for v, a in consts.items()}

    def __repr__(self) -> str:
        return f"Executable(graph={self.graph!r}, steps={self.steps!r})"

    @property
    def kernels(self) -> dict[str, CompiledKernel]:
        """Compiled kernels by name (LLVM IR before/after optimization, assembly)."""
        return {s.kernel.name: s.runner.compiled for s in self.steps if isinstance(s, KernelStep)}

    @property
    def fallbacks(self) -> dict[str, str]:
        """Kernels run by the NumPy reference, with the reason codegen gave."""
        return {s.kernel.name: s.reason for s in self.steps if isinstance(s, InterpretedKernel)}

    # Note [strided inputs]: a strided input (a training step's backward reads residuals that
    # are views of forward values: attention's q, k, v are strided views of the qkv product)
    # stays as it is, without an address: BLAS and the NumPy steps read strides, and a kernel
    # step copies it contiguous when it reads it (KernelStep.run). Copying every one up front
    # cost the transformer block's backward four 2 MB copies a call that only GEMMs read.
    def _inputs(self, arrays: Sequence[np.ndarray]) -> tuple[Env, dict[Var, int]]:
        g = self.graph
        if len(arrays) != len(g.inputs):
            raise TypeError(f"graph takes {len(g.inputs)} inputs, got {len(arrays)}")
        env, ptrs = dict(self.consts), dict(self._const_ptrs)
        # per input position: (weak reference, address) of the array it had last call, kept
        # while the same array comes again (None: strided or converted)
        last, known = self._last, []
        n = len(last)
        for i, (v, a) in enumerate(zip(g.inputs, arrays, strict=True)):
            seen = last[i] if i < n else None
            if seen is not None and seen[0]() is a:  # the same array as last call: its address
                env[v], ptrs[v] = a, seen[1]
                known.append(seen)
                continue
            arr = np.asarray(a, v.aval.dtype.np)
            if not arr.flags.c_contiguous:  # Note [strided inputs]
                env[v] = arr
                known.append(None)
                continue
            p = _ptr(arr)
            # (a converted copy must not be reused: ``a`` may change)
            known.append((weakref.ref(a), p) if arr is a else None)
            env[v], ptrs[v] = arr, p
        self._last = known
        return env, ptrs

    def _fresh(self, kernels: list[KernelStep]) -> list[bool]:
        """Which outputs are handed out as arrays nothing else holds: copied out by the
        prepared call, or a kernel's or BLAS's pooled buffer (Note [buffer reuse]), or a
        reshaped view of one that nothing else reads, named once among the outputs. A fresh
        gradient can become a leaf's ``.grad`` uncopied."""
        outs = self.graph.outputs
        uses = Counter(a for e in self.graph.eqns for a in e.inputs if isinstance(a, Var))
        uses.update(o for o in outs if isinstance(o, Var))
        made = {v for s in kernels for v in s.kernel.outputs}
        for s in self.steps:
            if isinstance(s, ExternStep):
                e = s.eqn
                if e.op in EXTERN_INTO or (
                    e.op is Op.RESHAPE and e.inputs[0] in made and uses[e.inputs[0]] == 1
                ):
                    made.add(e.out)
        once = [isinstance(o, Var) and o in made and outs.count(o) == 1 for o in outs]
        if self._plan is None:
            return once
        kinds = [how for how, _ in self._plan.results]
        return [k in COPIED or k == "pooled" and o for k, o in zip(kinds, once, strict=True)]

    def __call__(
        self, arrays: Sequence[np.ndarray], ready: Ready | None = None
    ) -> list[np.ndarray]:
        """The outputs; with ``ready``, each is also handed to ``ready(k, array)`` as soon as
        it is final (Note [gradients as they are made])."""
        if not self._lock.acquire(blocking=False):  # a call in another thread owns the buffers
            return self._generic(arrays, Buffers(self.buffer_plan), ready)
        try:
            if self._plan is not None:
                if ready is None:
                    return self._plan(arrays, self.buffers)
                return self._generic(arrays, self.buffers, ready)  # (the plan's own arena)
            joint = self.joint
            if joint is not None and self.donor is None:  # Note [one arena for a training step]
                arena = joint.take()
                self.buffers.use(arena)
                outs = self._generic(arrays, self.buffers, ready)
                joint.hand_out(arena, outs)
                return outs
            n = self.buffer_plan.arena_bytes
            if n and SHARED.lock.acquire(blocking=False):  # Note [one arena for all programs]
                try:
                    self.buffers.use(SHARED.at_least(n))
                    return self._generic(arrays, self.buffers, ready)
                finally:
                    SHARED.lock.release()
            self.buffers.use(None)
            return self._generic(arrays, self.buffers, ready)
        finally:
            self._lock.release()

    def donating(
        self, arrays: Sequence[np.ndarray], ready: Ready | None = None
    ) -> list[np.ndarray]:
        """A training step's backward whose residuals (``arrays``' first) are never read
        again: its values may be written over them (Note [one arena for a training step])."""
        arena = self.joint.arena_of(arrays) if self.donor is not None else None
        if arena is None or not self._lock.acquire(blocking=False):
            return self(arrays, ready)
        donor = self.donor
        try:
            donor.use(arena)  # type: ignore[union-attr]
            donor.owner = self.joint.owner(arena)  # type: ignore[union-attr]
            return self._generic(arrays, donor, ready)  # type: ignore[arg-type]
        finally:
            donor.owner = None  # type: ignore[union-attr]
            self._lock.release()

    def run_body(
        self, arrays: Sequence[np.ndarray], known: dict[Var, int]
    ) -> tuple[list[np.ndarray], dict[Var, int]]:
        """A loop body's iteration (LoopStep): ``arrays`` already have the inputs' dtypes (the
        loop converts its operands once), ``known`` the addresses of the contiguous ones, and
        the results go back to the loop, which never writes into them: no conversion, no
        copies of shared results. Returns the outputs and the addresses found."""
        owned = self._lock.acquire(blocking=False)  # else another thread's call owns them
        bufs = self.buffers if owned else Buffers(self.buffer_plan)
        try:
            bufs.use(None)  # a body runs inside a program's call, which holds SHARED
            env: Env = dict(self.consts)
            env.update(zip(self.graph.inputs, arrays, strict=True))
            ptrs = self._const_ptrs | known
            for step in self.steps:
                step.run(env, ptrs, bufs)
            return [_read(o, env) for o in self.graph.outputs], ptrs
        finally:
            if owned:
                self._lock.release()

    _ready_table: ReadyTable | None = None  # ``streaming.ready_table``'s, on first use

    def _generic(
        self, arrays: Sequence[np.ndarray], bufs: Buffers, ready: Ready | None = None
    ) -> list[np.ndarray]:
        if ready is not None:  # Note [gradients as they are made]
            return streamed(self, arrays, bufs, ready)
        env, ptrs = self._inputs(arrays)
        for step in self.steps:
            step.run(env, ptrs, bufs)
        outs = [_read(o, env) for o in self.graph.outputs]
        check = self._unshare
        if check is None:
            check = self._unshare = self._may_share()
        if check:
            owners = [*self.consts.values(), *(env[v] for v in self.graph.inputs)]
            for k, a in zip(check, unshared([outs[k] for k in check], owners), strict=True):
                outs[k] = a
        return outs

    _unshare: list[int] | None = None  # ``_may_share``'s, found on the first call

    def _may_share(self) -> list[int]:
        """The public outputs that may be (views of) an input or a constant: the rest are
        made by a kernel or a pooled extern (whose fallback, the NumPy rule, makes a new
        array too), which never write into an input's memory."""
        made = set()
        for s in self.steps:
            if isinstance(s, KernelStep):
                made.update(s.kernel.outputs)
            elif isinstance(s, ExternStep) and s.eqn.op in FRESH_INTO:
                made.add(s.eqn.out)
            elif isinstance(s, ExternStep) and s.eqn.op in _SAME_MEMORY and s.eqn.inputs[0] in made:
                made.add(s.eqn.out)  # (a check's or a view's result is its operand's memory)
        outs = self.graph.outputs[: self.public]
        return [k for k, o in enumerate(outs) if not (isinstance(o, Var) and o in made)]


def compile_kernel(
    k: Kernel, threshold: int | None = None, use_vecmath: bool = True, strict: bool = False
) -> Step:
    """A kernel's step: JIT-compiled; when codegen refuses it, an error naming the op and the
    user's line (``strict``), or the NumPy reference for that kernel."""
    try:
        info, compiled = kernel_code(k, use_vecmath)  # lowers and compiles on a cache miss
    except codegen_error() as e:  # evaluated only when something was raised
        # (a dtype codegen does not lower runs on the reference even then: eager's results)
        if strict and not getattr(e, "reference_ok", False):
            lines = sorted({x.loc for x in k.eqns if x.loc})
            where = f" (from {', '.join(lines)})" if lines else ""
            raise codegen_error()(f"{e}{where}") from e
        return InterpretedKernel(k, str(e))
    return KernelStep(k, KernelRunner(info, compiled, threshold))


def compile_program(
    graph: Graph,
    *,
    threshold: int | None = None,
    use_vecmath: bool = True,
    strict: bool = False,
    public: int | None = None,
) -> Executable:
    """Fuse ``graph`` and compile every kernel; the result runs on NumPy arrays. Outputs from
    index ``public`` on are internal (Note [internal outputs]). A graph with symbolic sizes
    gives a ``runtime.symbolic.SymbolicExecutable`` instead: compiled once, run through
    ``.at(instantiator)`` (Note [one compile, many sizes])."""
    if is_symbolic_graph(graph):
        from .symbolic import compile_symbolic

        return compile_symbolic(  # type: ignore[return-value]
            graph, threshold=threshold, use_vecmath=use_vecmath, strict=strict, public=public
        )
    program = fuse(widen_narrow_sums(graph))  # Note [narrow sums]
    steps: list[Step] = []
    for s in program.steps:
        if not isinstance(s, Extern):
            steps.append(compile_kernel(s, threshold, use_vecmath, strict))
        elif s.eqn.op in LOOPS:
            compile_body = functools.partial(
                compile_program, threshold=threshold, use_vecmath=use_vecmath, strict=strict
            )
            steps.append(loop_step(s.eqn, compile_body))
        else:
            steps.append(ExternStep(s.eqn))
    steps = _with_reshape_copies(graph, with_unfold_columns(graph, steps))
    steps = with_permute_copies(steps, ExternStep, KernelStep)
    from .column_grads import with_column_products  # (it imports this module)
    from .winograd import with_winograd  # (it imports this module)

    steps = with_winograd(graph, steps)  # Note [Winograd convolutions]
    steps = with_column_products(graph, steps)  # Note [weight gradient by chunks]
    from .windows_product import with_windows_products  # (it imports this module)

    steps = with_windows_products(graph, steps)  # Note [convolutions by windows]
    from .collective_steps import with_collective_steps  # (it imports this module)

    steps = with_collective_steps(steps)  # Note [collective steps]
    from .inplace_kernels import with_in_place_kernels  # (it imports this module)

    steps = with_in_place_kernels(steps, threshold, use_vecmath)  # Note [kernels in place]
    steps = _with_reshape_views(steps)  # Note [reshape views]
    # (np.ascontiguousarray would make a 0-d constant 1-d: a compiled 0-d output came back (1,))
    consts = {v: np.asarray(a, v.aval.dtype.np, order="C") for v, a in graph.consts}
    return Executable(graph, program, steps, consts, public)
