"""Accurate float sums: blocks summed in registers, then added into a careful total.

Note [reduction accuracy]: a float sum that LLVM vectorizes (``reassoc`` adds) keeps P partial
sums (P = vector lanes x interleave: 8 x 4 for float32 with AVX2) and adds every P-th term into
each one, so its rounding error grows like n/P: the compiled sum of 1e7 float32 copies of 1/3
was off by 1e-3 relative, and a sum over an outer axis (a column total, a bias gradient) added
every row into the output one by one (NumPy's axis-0 sums do the same). Every float SUM that
adds more than once into an output element is computed in two levels:

1. the last reduced loop runs in blocks of ``BLOCK`` iterations. Where it is the innermost
   loop, each block is summed from the identity in a register (``reassoc``: vectorized as
   before); where loops along the output run inside it (a column sum), each block accumulates
   in the output slab as before, which then starts over;
2. each block sum is added into a careful ``Total`` per output element, kept in a scratch
   array for the slab being reduced (on the stack up to ``STACK_SLOTS`` elements, else on the
   heap; if the heap refuses, the kernel falls back to adding into the output): float32 sums
   add into float64, float64 sums keep Neumaier's pair (sum, compensation). The output gets
   the total rounded once. Row kernels (``rows.py``) do the same along a row longer than a
   block, and add every row's share of a loss or of a per-column total into a Total.

Error bound, with unit roundoff u (2^-24 float32, 2^-53 float64), A = sum |x_i| for one output,
T thread chunks whose results the runtime adds (T <= cpu_count()), m <= n additions into a total:
a block summed in any order (whatever P the vectorizer picks) errs by at most (BLOCK - 1) u
times its own sum of |x|; the float64 total adds m u_64 A (float32) or Neumaier's 2 u A +
(m u)^2 A (float64); rounding the total costs u |s| and combining the chunks (T - 1) u A:

    |computed - exact| <= (BLOCK + T + 2) u A + m u_64 A   (+ (m u)^2 A for float64)

so to first order independent of n: ~1030 u A = 6.1e-5 A for float32 (BLOCK = 1024, T = 2). A
block vectorized with P partial sums errs by at most (BLOCK / P + log2 P) u (37 u with P = 32);
measured errors at 1e7 and 1e8 terms are about 1 u A (the blocks' errors partly cancel). A
smaller BLOCK tightens the worst case but slows rows of a few hundred terms (more blocks).
Integer sums (exact, wrapping as in NumPy) and max/min (exact) are untouched.
``tests/codegen/test_reduction_accuracy.py`` checks the bound against float64 at 1e7 elements
(1e8 among the slow tests), with random, all-ones and all-1/3 inputs.
"""

from __future__ import annotations

from llvmlite import ir

from ..ir.dtypes import DType
from ..ir.ops import Op
from .counted import I64

BLOCK = 1024  # terms summed in registers before they join the total (Note [reduction accuracy])
STACK_SLOTS = 4096  # totals of up to this many outputs live on the stack, more on the heap
_F64 = ir.DoubleType()


def compensates(op: Op, dtype: DType) -> bool:
    """Whether the reduction ``op`` accumulating in ``dtype`` keeps a careful total."""
    return op is Op.SUM and dtype.is_floating_point


def _fabs(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return b.call(b.module.declare_intrinsic("llvm.fabs", [x.type]), [x])


def two_sum(b: ir.IRBuilder, s: ir.Value, c: ir.Value, x: ir.Value) -> tuple[ir.Value, ir.Value]:
    """Neumaier's step: ``(s + x, c + the rounding error of s + x)``, branch-free."""
    t = b.fadd(s, x)
    big_s = b.fcmp_ordered(">=", _fabs(b, s), _fabs(b, x))
    err = b.select(big_s, b.fadd(b.fsub(s, t), x), b.fadd(b.fsub(x, t), s))
    return t, b.fadd(c, err)


def fold(b: ir.IRBuilder, s: ir.Value, c: ir.Value) -> ir.Value:
    """``s + c`` for a finite ``s`` and a nonzero ``c``, else ``s`` (an infinite or NaN ``s``
    makes ``c`` NaN; a zero ``c`` keeps the sign of a zero ``s``)."""
    finite = b.fcmp_ordered("<", _fabs(b, s), ir.Constant(s.type, float("inf")))
    nonzero = b.fcmp_ordered("!=", c, ir.Constant(c.type, 0.0))
    return b.select(b.and_(finite, nonzero), b.fadd(s, c), s)


class Scratch:
    """A function's arrays of totals: on the stack, or on the heap and freed at its end."""

    def __init__(self, b: ir.IRBuilder) -> None:
        self.b = b
        self.heap: list[ir.Value] = []

    def array(self, n: int | ir.Value) -> ir.Value:
        """``n`` doubles; call with the builder in the entry block. A run-time ``n`` (Note
        [symbolic kernels] in extents.py) is always on the heap (at least one slot)."""
        b = self.b
        if isinstance(n, int) and n <= STACK_SLOTS:
            return b.alloca(_F64, ir.Constant(I64, n))
        malloc = b.module.globals.get("malloc") or ir.Function(
            b.module, ir.FunctionType(ir.PointerType(), [I64]), "malloc"
        )
        if isinstance(n, int):
            size = ir.Constant(I64, 8 * n)
        else:
            one = ir.Constant(I64, 1)
            size = b.mul(b.select(b.icmp_signed("<", n, one), one, n), ir.Constant(I64, 8))
        p = b.call(malloc, [size])
        self.heap.append(p)
        return p

    def heap_ok(self) -> ir.Value | None:
        """An i1, true when every heap array was allocated (None: no heap array)."""
        b, ok = self.b, None
        for p in self.heap:
            here = b.icmp_unsigned("!=", p, ir.Constant(ir.PointerType(), None))
            ok = here if ok is None else b.and_(ok, here)
        return ok

    def release(self) -> None:
        """Free the heap arrays (emit just before returning)."""
        b = self.b
        if self.heap:
            free = b.module.globals.get("free") or ir.Function(
                b.module, ir.FunctionType(ir.VoidType(), [ir.PointerType()]), "free"
            )
            for p in self.heap:
                b.call(free, [p])  # free(NULL) does nothing


class Total:
    """The careful totals of ``n`` outputs of one float sum (Note [reduction accuracy]):
    float32 adds into float64 slots; float64 keeps a Neumaier pair (sum, compensation)."""

    def __init__(self, scratch: Scratch, ty: ir.Type, n: int | ir.Value) -> None:
        self.ty = ty  # (a run-time ``n``: Note [symbolic kernels] in extents.py)
        self.n = ir.Constant(I64, n) if isinstance(n, int) else n
        self.pair = isinstance(ty, ir.DoubleType)
        if not self.pair:
            self.slots = scratch.array(n)
        elif isinstance(n, int):
            self.slots = scratch.array(2 * n)
        else:
            self.slots = scratch.array(scratch.b.mul(n, ir.Constant(I64, 2)))

    def _slot(self, b: ir.IRBuilder, j: ir.Value, second: bool = False) -> ir.Value:
        if second:
            j = b.add(j, self.n)
        return b.gep(self.slots, [j], source_etype=_F64)

    def reset(self, b: ir.IRBuilder, j: ir.Value, identity: ir.Constant) -> None:
        """Start total ``j`` at the sum's identity."""
        b.store(b.fpext(identity, _F64) if not self.pair else identity, self._slot(b, j))
        if self.pair:
            b.store(ir.Constant(_F64, 0.0), self._slot(b, j, True))

    def add(self, b: ir.IRBuilder, j: ir.Value, x: ir.Value) -> None:
        """Add ``x`` (a value of the sum's dtype) into total ``j``."""
        s = b.load(self._slot(b, j), typ=_F64)
        if not self.pair:
            b.store(b.fadd(s, b.fpext(x, _F64)), self._slot(b, j))
            return
        c = b.load(self._slot(b, j, True), typ=_F64)
        s, c = two_sum(b, s, c, x)
        b.store(s, self._slot(b, j))
        b.store(c, self._slot(b, j, True))

    def result(self, b: ir.IRBuilder, j: ir.Value) -> ir.Value:
        """Total ``j`` rounded once to the sum's dtype."""
        s = b.load(self._slot(b, j), typ=_F64)
        if not self.pair:
            return b.fptrunc(s, self.ty)
        return fold(b, s, b.load(self._slot(b, j, True), typ=_F64))
