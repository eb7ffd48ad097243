"""Sizes in generated code: constants, or expressions of run-time symbol values (i64 array).

Note [symbolic kernels]
~~~~~~~~~~~~~~~~~~~~~~~
A kernel of a symbolic graph (Note [symbolic shapes] in ir/symbolic_shapes.py) is compiled once
for every size: ``void f(ptr out..., ptr in..., ptr sizes, i64 start, i64 stop)`` where
``sizes`` points at the symbols' values as int64 (``sizes[k]`` is ``s<k>``, the trace's
``ShapeEnv.symbols`` order). Each extent, stride and slab size the kernel needs is computed once
in the entry block from that array (``Extents``: integer arithmetic from the sympy expression:
Add, Mul, Pow, floor division and Mod with Python's rounding, Max, Min), so the loops see
loop-invariant values, which LLVM hoists, strength-reduces and vectorizes over (the vector body
plus a remainder loop) as it does for a constant trip count. Decisions that depend on a size are
made for every size at once (Note [size-oblivious decisions] in passes/size_facts.py): loops
collapse where the strides' expressions allow it, a size that may be 1 keeps its loop, and a
float sum whose length is symbolic is always summed in blocks into a careful total (Note
[reduction accuracy]: one block adds into the total exactly, so short sums equal the plain ones).
Threads split the outermost loop by its run-time extent (``runtime/symbolic.py`` evaluates it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llvmlite import ir

from .counted import I64


class UnsupportedSize(Exception):
    """An expression the emitter does not lower (the kernel is then compiled per size)."""


def symbol_index(s: Any) -> int:
    """The position of symbol ``s<k>`` in the sizes array."""
    name = str(s)
    if not (name.startswith("s") and name[1:].isdigit()):
        raise UnsupportedSize(f"unknown size symbol {name}")
    return int(name[1:])


class Extents:
    """Sizes as i64 values: ints as constants, expressions emitted once into the entry block
    (values asked for while the builder is elsewhere are emitted there, not kept)."""

    def __init__(self, b: ir.IRBuilder, sizes: ir.Value | None) -> None:
        self.b, self.sizes = b, sizes
        self.entry = b.block
        self.memo: dict[Any, ir.Value] = {}

    def __call__(self, n: Any) -> ir.Value:
        if isinstance(n, int):
            return ir.Constant(I64, n)
        got = self.memo.get(n)
        if got is not None:
            return got
        if self.b.block is not self.entry:
            return self._emit(n, {})
        return self._emit(n, self.memo)

    def _emit(self, e: Any, memo: dict[Any, ir.Value]) -> ir.Value:
        got = memo.get(e)
        if got is not None:
            return got
        if e.is_Integer:
            return ir.Constant(I64, int(e))
        if e.is_Symbol:
            if self.sizes is None:
                raise UnsupportedSize(f"size {e} in a kernel without a sizes argument")
            b = self.b
            at = b.gep(self.sizes, [ir.Constant(I64, symbol_index(e))], source_etype=I64)
            value = b.load(at, typ=I64, align=8)
        else:
            rule = _RULES.get(type(e).__name__)
            if rule is None:
                raise UnsupportedSize(f"size expression {e}")
            value = rule(self, e, memo)
        memo[e] = value
        return value

    def sub(self, e: Any, memo: dict[Any, ir.Value]) -> ir.Value:
        return self._emit(e, memo)

    def real(self, tree: tuple) -> ir.Value:
        """A ``SymFloat``'s value as a double: its operations replayed in IEEE double (no
        fast-math), as Python computes them at each call (``passes.size_facts.float_tree``)."""
        b, kind = self.b, tree[0]
        if kind == "const":
            return ir.Constant(F64, float(tree[1]))
        if kind == "size":
            return b.sitofp(self(tree[1]), F64)
        if kind == "neg":
            return b.fneg(self.real(tree[1]))
        op = _REAL.get(kind)
        if op is None:
            raise UnsupportedSize(f"float operation {kind!r} on sizes")
        return getattr(b, op)(self.real(tree[1]), self.real(tree[2]))


F64 = ir.DoubleType()
_REAL = {"+": "fadd", "-": "fsub", "*": "fmul", "/": "fdiv"}


def _fold(method: str) -> Callable[[Extents, Any, dict[Any, ir.Value]], ir.Value]:
    def rule(x: Extents, e: Any, memo: dict[Any, ir.Value]) -> ir.Value:
        args = [a for a in e.args]
        if any(a.is_Rational and not a.is_Integer for a in args):
            raise UnsupportedSize(f"size expression {e} has a fraction")
        out = x.sub(args[0], memo)
        for a in args[1:]:
            out = getattr(x.b, method)(out, x.sub(a, memo))
        return out

    return rule


def _pow(x: Extents, e: Any, memo: dict[Any, ir.Value]) -> ir.Value:
    base, exp = e.args
    if not (exp.is_Integer and int(exp) >= 1):
        raise UnsupportedSize(f"size expression {e}")
    v = x.sub(base, memo)
    out = v
    for _ in range(int(exp) - 1):
        out = x.b.mul(out, v)
    return out


def floor_div(b: ir.IRBuilder, n: ir.Value, d: ir.Value) -> ir.Value:
    """Python's ``n // d`` (rounding toward -inf) on i64."""
    q, r = b.sdiv(n, d), b.srem(n, d)
    zero = ir.Constant(I64, 0)
    adjust = b.and_(
        b.icmp_signed("!=", r, zero),
        b.icmp_signed("!=", b.icmp_signed("<", r, zero), b.icmp_signed("<", d, zero)),
    )
    return b.sub(q, b.zext(adjust, I64))


def py_mod(b: ir.IRBuilder, n: ir.Value, d: ir.Value) -> ir.Value:
    """Python's ``n % d`` (the sign of ``d``) on i64."""
    r = b.srem(n, d)
    zero = ir.Constant(I64, 0)
    adjust = b.and_(
        b.icmp_signed("!=", r, zero),
        b.icmp_signed("!=", b.icmp_signed("<", r, zero), b.icmp_signed("<", d, zero)),
    )
    return b.select(adjust, b.add(r, d), r)


def _floor(x: Extents, e: Any, memo: dict[Any, ir.Value]) -> ir.Value:
    n, d = e.args[0].as_numer_denom()
    return floor_div(x.b, x.sub(n, memo), x.sub(d, memo))


def _ceiling(x: Extents, e: Any, memo: dict[Any, ir.Value]) -> ir.Value:
    n, d = e.args[0].as_numer_denom()
    b = x.b
    return b.neg(floor_div(b, b.neg(x.sub(n, memo)), x.sub(d, memo)))


def _mod(x: Extents, e: Any, memo: dict[Any, ir.Value]) -> ir.Value:
    return py_mod(x.b, x.sub(e.args[0], memo), x.sub(e.args[1], memo))


def _extreme(cmp: str) -> Callable[[Extents, Any, dict[Any, ir.Value]], ir.Value]:
    def rule(x: Extents, e: Any, memo: dict[Any, ir.Value]) -> ir.Value:
        b = x.b
        out = x.sub(e.args[0], memo)
        for a in e.args[1:]:
            v = x.sub(a, memo)
            out = b.select(b.icmp_signed(cmp, out, v), out, v)
        return out

    return rule


_RULES: dict[str, Callable[[Extents, Any, dict[Any, ir.Value]], ir.Value]] = {
    "Add": _fold("add"),
    "Mul": _fold("mul"),
    "Pow": _pow,
    "floor": _floor,
    "ceiling": _ceiling,
    "Mod": _mod,
    "Max": _extreme(">"),
    "Min": _extreme("<"),
}


def has_symbolic_sizes(k: Any) -> bool:
    """Whether kernel ``k`` (a Kernel or RowKernel) has a symbolic size anywhere: its shape, a
    value's shape, a literal or an attribute (it then takes the sizes argument)."""
    from ..ir.graph import Lit
    from ..ir.sizes import SymbolicSize, has_symbols

    if has_symbols(k.shape):
        return True
    for v in (*k.inputs, *k.outputs):
        if has_symbols(v.aval.shape):
            return True
    for e in k.eqns:
        if has_symbols(e.out.aval.shape):
            return True
        if any(isinstance(a, Lit) and isinstance(a.value, SymbolicSize) for a in e.inputs):
            return True
        if any(_holds_symbol(x) for x in e.attrs.values()):
            return True
    return False


def _holds_symbol(x: Any) -> bool:
    from ..ir.sizes import SymbolicSize

    if isinstance(x, SymbolicSize):
        return True
    return isinstance(x, tuple | list) and any(_holds_symbol(v) for v in x)
