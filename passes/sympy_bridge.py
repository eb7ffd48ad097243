"""The sympy boundary: elementwise IR regions to sympy expressions and sympy back to IR.

IR -> sympy goes through ``ir.symbolic.SYMPY_FORMS`` (plus the small boolean table below, for
comparisons, logic and ``where``), one symbol per external input of a region. sympy -> IR is a
table from sympy node types to emitters that call the Tensor API on the builder's tracer
tensors, so every emitted equation goes through the same shape and dtype rules as user code.
Numbers become weak Python literals (they never widen float32). sympy is imported lazily.
Compiling goes through ``record``: the emitter calls written down as a host program (Note [host
programs]), which ``program_graph`` and the VJPs replay without sympy, and the disk cache stores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from functools import cache, reduce
from typing import Any, Protocol

from ..ir.aval import Aval
from ..ir.graph import Eqn, Graph, Lit, Var
from ..ir.ops import GroupOp, Op
from ..ir.symbolic import SYMPY_FORMS, sp
from .host_program import Program, Recorder, replay

Expr = Any  # a sympy expression (sympy is imported lazily, so no static type)


class LoweringError(ValueError):
    """A sympy expression the emitter table cannot express as IR (the region falls back)."""


# comparisons, logic and select: not in SYMPY_FORMS (they are not differentiable ops)
BOOL_FORMS: dict[Op, Callable[..., Expr]] = {
    Op.EQ: lambda x, y: sp.Eq(x, y),
    Op.NE: lambda x, y: sp.Ne(x, y),
    Op.LT: lambda x, y: sp.Lt(x, y),
    Op.LE: lambda x, y: sp.Le(x, y),
    Op.GT: lambda x, y: sp.Gt(x, y),
    Op.GE: lambda x, y: sp.Ge(x, y),
    Op.AND: lambda x, y: sp.And(x, y),
    Op.OR: lambda x, y: sp.Or(x, y),
    Op.NOT: lambda x: sp.Not(x),
    Op.WHERE: lambda c, x, y: sp.Piecewise((x, c), (y, True)),
}


def has_form(op: Op) -> bool:
    """Whether regions may contain ``op`` (it has a sympy form here or in ir.symbolic)."""
    return op in SYMPY_FORMS or op in BOOL_FORMS


@cache
def sigmoid_function() -> Any:
    """``Sigmoid(u)``: a sympy function whose derivative is ``s * (1 - s)`` (lowers to sigmoid)."""

    class Sigmoid(sp.Function):  # type: ignore[misc]
        def fdiff(self, argindex: int = 1) -> Expr:
            return self * (1 - self)

        def _eval_evalf(self, prec: int) -> Expr:
            return (1 / (1 + sp.exp(-self.args[0])))._eval_evalf(prec)

    return Sigmoid


def fold_sigmoid(expr: Expr) -> Expr:
    """``1 / (1 + exp(-u))`` (the SIGMOID form, or written out by the user) -> ``Sigmoid(u)``."""
    w = sp.Wild("w")
    return expr.replace(1 / (1 + sp.exp(-w)), lambda w: sigmoid_function()(w))


def literal(value: bool | int | float) -> Expr:
    """A literal operand as an exact sympy number (floats exactly, small binary fractions as
    rationals so that sympy can cancel them)."""
    if isinstance(value, bool):
        return sp.true if value else sp.false
    if isinstance(value, int):
        return sp.Integer(value)
    if math.isnan(value):
        return sp.nan
    if math.isinf(value):
        return sp.oo if value > 0 else -sp.oo
    r = sp.Rational(value)
    return r if r.q <= 1 << 12 else sp.Float(value, precision=53)


def symbols_for(inputs: Sequence[Var]) -> tuple[Expr, ...]:
    """One sympy symbol per region input: real for numbers, plain (boolean) for bool."""
    return tuple(
        sp.Symbol(f"c{i}") if v.aval.dtype.name == "bool" else sp.Symbol(f"x{i}", real=True)
        for i, v in enumerate(inputs)
    )


# ops whose sympy forms compare their operands
COMPARING = GroupOp.COMPARE | {Op.CLAMP, Op.RELU, Op.MAXIMUM, Op.MINIMUM, Op.SIGN, Op.ABS}


def to_sympy(eqns: Sequence[Eqn], inputs: Sequence[Var], syms: Sequence[Expr]) -> dict[Var, Expr]:
    """The sympy expression of every value the equations define, over the input symbols."""
    env: dict[Var, Expr] = dict(zip(inputs, syms, strict=True))
    for e in eqns:
        args = [literal(a.value) if isinstance(a, Lit) else env[a] for a in e.inputs]
        if e.op in COMPARING and any(hasattr(a, "has") and a.has(sp.Piecewise) for a in args):
            # sympy folds a Piecewise inside a comparison wrongly when a condition is a bool
            # input: clamp(where(m, c, x), -1, 1) became the constant -1 (gradient 0)
            raise ValueError(f"a Piecewise compared by {e.op.name}: left to the per-op rules")
        form = SYMPY_FORMS.get(e.op) or BOOL_FORMS[e.op]
        env[e.out] = fold_sigmoid(form(*args, **e.attrs))
    return env


def clean_derivative(expr: Expr) -> Expr:
    """Derivatives of steps are 0 away from the jumps (as in PyTorch); Heaviside as Piecewise,
    so the cotangent can be pushed inside every select."""
    expr = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    expr = expr.replace(
        lambda e: isinstance(e, sp.Derivative) and isinstance(e.expr, sp.floor | sp.ceiling),
        lambda e: sp.S.Zero,
    )
    return sp.piecewise_fold(expr.rewrite(sp.Heaviside, sp.Piecewise))


# ---------------------------------------------------------------- sympy -> IR


def _number(e: Expr) -> int | float:
    if e.is_Integer:  # (an integral float beyond int64, e.g. float64's max, stays a float)
        v = int(e)
        return v if -(2**63) <= v < 2**63 else float(v)
    if e is sp.nan or e.is_real is False or e is sp.zoo:
        if e is sp.nan:
            return math.nan
        raise LoweringError(f"non-real constant {e}")
    return float(e.evalf(17))


class Lowering:
    """Emits sympy expressions as IR through Tensor-API values and ``ops`` (Host.ops); memoized,
    so DAGs stay DAGs."""

    def __init__(self, env: dict[Expr, Any], ops: Any) -> None:
        self.memo: dict[Expr, Any] = dict(env)
        self.ops = ops

    def __call__(self, e: Expr) -> Any:
        if e in self.memo:
            return self.memo[e]
        if e.is_number:
            value: Any = _number(e)
        else:
            value = _emitter(type(e))(self, e)
        self.memo[e] = value
        return value


def _emitter(cls: type) -> Callable[[Lowering, Expr], Any]:
    table = emitters()
    for base in cls.__mro__:
        if base in table:
            return table[base]
    raise LoweringError(f"no IR emitter for sympy {cls.__name__}")


def _is_tensor(v: Any) -> bool:
    return not isinstance(v, int | float | bool)


def _add(L: Lowering, e: Expr) -> Any:
    const, rest = e.as_coeff_Add()
    pos = [L(t) for t in sp.Add.make_args(rest) if not t.could_extract_minus_sign()]
    neg = [L(-t) for t in sp.Add.make_args(rest) if t.could_extract_minus_sign()]
    c = _number(const)
    if not pos and c != 0:  # c - t, not (-t) + c
        pos, c = [c - neg.pop(0)], 0
    out = reduce(lambda a, b: a + b, pos) if pos else -neg.pop(0)
    for t in neg:
        out = out - t
    return out if c == 0 else (out - (-c) if c < 0 else out + c)


def _mul(L: Lowering, e: Expr) -> Any:
    coeff, rest = e.as_coeff_Mul()
    num, den = [], []
    for f in sp.Mul.make_args(rest):
        base, ex = f.as_base_exp()
        if ex.is_number and ex.is_negative:
            den.append(L(base**-ex))
        else:
            num.append(L(f))
    c = _number(coeff)
    top = reduce(lambda a, b: a * b, num) if num else None
    bottom = reduce(lambda a, b: a * b, den) if den else None
    if top is None:
        assert bottom is not None
        return L.ops.div(c, bottom)
    out = top if bottom is None else top / bottom
    return -out if c == -1 else (out if c == 1 else out * c)


def _pow(L: Lowering, e: Expr) -> Any:
    base, ex = e.args
    if ex == sp.Rational(1, 2):
        return L(base).sqrt()
    if ex == 2:
        b = L(base)
        return b * b
    if ex.is_number and ex.is_negative:
        return L.ops.div(1.0, L(base**-ex))
    exponent = int(ex) if ex.is_Integer else (_number(ex) if ex.is_number else L(ex))
    return L(base) ** exponent


def _log(L: Lowering, e: Expr) -> Any:
    arg = e.args[0]
    const, rest = arg.as_coeff_Add()
    return L(rest).log1p() if const == 1 and rest != 0 else L(arg).log()


def _piecewise(L: Lowering, e: Expr) -> Any:
    pairs = list(e.args)
    out = L(pairs[-1].expr) if pairs[-1].cond == sp.true else math.nan
    if pairs[-1].cond == sp.true:
        pairs = pairs[:-1]
    for branch in reversed(pairs):
        out = L.ops.where(L(branch.cond), L(branch.expr), out)
    return out


def _extremum(fn_name: str) -> Callable[[Lowering, Expr], Any]:
    def emit(L: Lowering, e: Expr) -> Any:
        fn = getattr(L.ops, fn_name)
        return reduce(fn, [L(a) for a in e.args])

    return emit


def _method(name: str) -> Callable[[Lowering, Expr], Any]:
    return lambda L, e: getattr(L(e.args[0]), name)()


def _binary(fn: Callable[[Any, Any], Any]) -> Callable[[Lowering, Expr], Any]:
    return lambda L, e: fn(L(e.args[0]), L(e.args[1]))


def _comparison(name: str) -> Callable[[Lowering, Expr], Any]:
    def emit(L: Lowering, e: Expr) -> Any:  # symmetric: the tensor goes first
        a, b = L(e.args[0]), L(e.args[1])
        return getattr(L.ops, name)(*((a, b) if _is_tensor(a) else (b, a)))

    return emit


def _symbol(L: Lowering, e: Expr) -> Any:
    raise LoweringError(f"free symbol {e} has no value")


@cache
def emitters() -> dict[type, Callable[[Lowering, Expr], Any]]:
    """The sympy -> IR table: one emitter per sympy node type (built on first use)."""
    return {
        sp.Symbol: _symbol,
        sp.Add: _add,
        sp.Mul: _mul,
        sp.Pow: _pow,
        sp.exp: _method("exp"),
        sp.log: _log,
        sp.sin: _method("sin"),
        sp.cos: _method("cos"),
        sp.tanh: _method("tanh"),
        sp.erf: _method("erf"),
        sp.Abs: _method("abs"),
        sp.sign: _method("sign"),
        sp.floor: _method("floor"),
        sp.ceiling: lambda L, e: -((-L(e.args[0])).floor()),
        sigmoid_function(): _method("sigmoid"),
        sp.Max: _extremum("maximum"),
        sp.Min: _extremum("minimum"),
        sp.Piecewise: _piecewise,
        sp.StrictGreaterThan: _binary(lambda a, b: a > b),
        sp.GreaterThan: _binary(lambda a, b: a >= b),
        sp.StrictLessThan: _binary(lambda a, b: a < b),
        sp.LessThan: _binary(lambda a, b: a <= b),
        sp.Equality: _comparison("eq"),
        sp.Unequality: _comparison("ne"),
        sp.And: lambda L, e: reduce(lambda a, b: a & b, [L(a) for a in e.args]),
        sp.Or: lambda L, e: reduce(lambda a, b: a | b, [L(a) for a in e.args]),
        sp.Not: lambda L, e: ~L(e.args[0]),
        sp.ITE: lambda L, e: L.ops.where(*[L(a) for a in e.args]),
        sp.logic.boolalg.BooleanTrue: lambda L, e: True,
        sp.logic.boolalg.BooleanFalse: lambda L, e: False,
    }


def lower_cse(
    replacements: Sequence[tuple[Expr, Expr]],
    exprs: Sequence[Expr],
    env: dict[Expr, Any],
    ops: Any,
) -> list[Any]:
    """Emit a ``sympy.cse`` result: the shared subexpressions once, then each expression."""
    L = Lowering(env, ops)
    for sym, sub in replacements:
        L.memo[sym] = L(sub)
    return [L(e) for e in exprs]


# ---------------------------------------------------------------- dry runs (the cost model)


class Host(Protocol):
    """What the symbolic passes need from the layer that runs them, passed in (the frontend's
    ``frontend.builder.SYMBOLIC_HOST``) so that no pass imports the runtime or the frontend."""

    @property
    def ops(self) -> Any:
        """Functions that accept Python numbers too: where, div, maximum, minimum, eq, ne."""
        ...

    def scratch(self) -> AbstractContextManager[Any]:
        """A throwaway trace to lower into (it measures a candidate's exact equation count)."""
        ...


def record(
    cse_form: tuple[Sequence[tuple[Expr, Expr]], Sequence[Expr]], syms: Sequence[Expr]
) -> Program:
    """The host program of a cse'd expression list over ``syms`` (Note [host programs] in
    host_program.py): what ``lower_cse`` calls, written down; LoweringError (or TypeError)
    when it cannot be lowered."""
    r = Recorder(len(syms))
    outs = lower_cse(*cse_form, dict(zip(syms, r.inputs, strict=True)), r.ops)
    return r.program(outs)


def template(
    cse_form: tuple[Sequence[tuple[Expr, Expr]], Sequence[Expr]],
    syms: Sequence[Expr],
    avals: Sequence[Aval],
    out_avals: Sequence[Aval],
    host: Host,
    numbers: bool = False,
) -> Graph | None:
    """``program_graph`` of the cse'd expression list's recording, None if it has none."""
    try:
        program = record(cse_form, syms)
    except (LoweringError, TypeError):
        return None
    return program_graph(program, avals, out_avals, host, numbers)


def program_graph(
    program: Program,
    avals: Sequence[Aval],
    out_avals: Sequence[Aval],
    host: Host,
    numbers: bool = False,
) -> Graph | None:
    """The IR of a host program as a small graph over fresh inputs, or None when it cannot
    be emitted or does not give exactly ``out_avals`` (shapes are expanded back); ``numbers``
    lets an output be a plain number (a zero derivative), which is then left out. No sympy."""
    with host.scratch() as b:
        values = [b.input(a, False) for a in avals]
        try:
            outs = replay(program, values, host.ops)
        except (TypeError, ValueError, RuntimeError):
            return None
        fixed = []
        for v, want in zip(outs, out_avals, strict=True):
            if not _is_tensor(v):
                if numbers:
                    continue
                return None
            if tuple(v.shape) != want.shape:
                v = v.expand(want.shape)
            if v.dtype is not want.dtype:
                return None
            fixed.append(v)
        g = b.finish(fixed)
    ok = not g.consts and all(isinstance(o, Var) for o in g.outputs)
    return g if ok else None
