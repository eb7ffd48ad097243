"""Stability rewrites: a table of rules replacing formulas that overflow or cancel by stable ones.

Each row is (name, pattern, conditions, builder). The builders write the stable forms as
compositions of existing primitives (there is no EXPM1 or SOFTPLUS primitive):

- softplus(x) = max(x, 0) + log1p(exp(-|x|)): no overflow, and its adjoint is the stable
  sigmoid (max's tie rule gives 1/2 at 0, |x|'s gives 0);
- expm1(x) = e^r * expm1(c) + (e^r - 1), c = clamp(x, -1/2, 1/2), r = x - c: for |x| <= 1/2
  (r = 0) it is expm1(c) = tanh(c/2) * (e^c + 1), which keeps the relative accuracy where
  e^x - 1 cancels (tanh(c/2) = (e^c - 1)/(e^c + 1)); beyond, the two terms have one sign and
  |result| > 0.39, so nothing cancels. Its adjoint is e^r * e^c: accurate at every x (a bare
  tanh form's adjoint, 1 - tanh^2 + ..., cancels to 0 or the wrong sign for x < -20);
- logsumexp and log_softmax with the (detached) row maximum subtracted, the equations
  ``F.log_softmax`` traces (so row fusion makes one row kernel of them).

No sympy runs here, so the pass costs one sweep of the pattern engine and is on by default: each
rule was proven once, in tests/passes/test_stability_proofs.py (both sides equal as real
functions by sympy; the replacement at least as accurate as the original, up to 4 ulp of its
own rounding, on IEEE samples -- NaN, +-inf, +-0, subnormals, huge and tiny magnitudes -- in
float32 and float64 against an mpmath reference, and finite wherever the reference is), and
the fuzz strategy ``stability`` (tests/fuzz/stability.py) checks the compiled values and
gradients over the whole exponent range. See Note [stability rewrites].

Common conditions, checked for every row: the result and the root equation's operands are
float32 or float64 (``log(1 + i)`` with an integer add stays: its add wraps), and the
replacement has exactly the original's shape and dtype (so it reads operands of the result's
shape: nothing broadcasts differently). Rules whose replacement computes a reduction also
require the values they replace to be read nowhere else (``private``), or the program would
compute the reductions twice; the elementwise rules fire even when an intermediate is shared:
the other readers keep the value they read, and the replacement costs a few fused operations.

Left out on purpose: ``a*a - b*b -> (a - b)(a + b)`` (and back): the two differ in rounding
and in the sign of a zero result (``(-0 - 0)(-0 + 0)`` is -0, ``0 - 0`` is +0) for floats, so
there is no float case where it keeps IEEE results, and for integers both are exact and cost
the same three operations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir.aval import Aval
from ..ir.dtypes import scalar_dtype
from ..ir.errors import ShapeError
from ..ir.graph import Atom, Eqn, Graph, Lit, Var, use_counts
from ..ir.ops import GroupOp, Op
from ..ir.shapes import infer
from .rewrite import Match, P, Pat, Rule, Term, const, rewrite
from .rule_identities import is_decomposed

# Note [stability rewrites]
# Compiled programs compute log(1 + exp(x)), log(sigmoid(x)), a hand-written log(softmax(x))
# and the like in a stable form, before the adjoint is built (frontend/plans.py train_plan),
# so the gradient is the stable form's too; the pipeline runs the same rules again on the
# joint graph (and on inference graphs), where the backward may contain such patterns. Eager
# mode computes what PyTorch computes. The difference is deliberate: where eager overflows to
# inf or NaN (log(1 + exp(100)) in float32 is inf and its gradient NaN; log(sigmoid(-200))
# is -inf and its gradient NaN), the compiled program returns the finite, accurate value (100,
# -200, gradients 1 and 1); where eager is finite, compiled agrees to rounding, usually more
# accurately (exp(1e-10) - 1 is 0 in float32 eagerly and 1e-10 compiled). The same holds for
# `where` gradients (Note [where gradients], passes/symbolic.py). adjit.testing.
# assert_grads_match accepts such a gradient only where float64 finite differences agree with
# it, and adjit.explain(fn, ...).rewrites lists which rules fired, at which source line.

EXPM1_SPLIT = 0.5  # |x| where expm1 switches from the tanh form to e^r * expm1(c) + (e^r - 1)
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_MOVES = frozenset({Op.INDEX, Op.GATHER, Op.RESHAPE, Op.PERMUTE, Op.EXPAND})  # data: operand 0
_SHIFT_PATH = frozenset({Op.DETACH, Op.CLAMP, Op.WHERE, Op.RESHAPE, Op.EXPAND, Op.CAST})

_USES: ContextVar[Counter[Var]] = ContextVar("stability_uses")
Fired = list[tuple[str, str | None]]  # (rule name, source line) per firing
_FIRED: ContextVar[Fired | None] = ContextVar("stability_fired", default=None)


def _lit(v: float) -> Lit:
    return Lit(v, Aval((), scalar_dtype(v), weak=True))


def _t(op: Op, *args: Atom | Term, **attrs: Any) -> Term:
    return Term(op, args, attrs)


def _def(m: Match, a: Atom) -> Eqn | None:
    """The equation defining ``a`` in the graph as rewritten so far (None: input, const, Lit)."""
    return m._ctx.defs.get(a) if isinstance(a, Var) else None


def _const(m: Match, a: Atom) -> np.ndarray | None:
    """A constant operand's value (Lits and graph consts; a symbolic size is no constant)."""
    if isinstance(a, Lit) and not isinstance(a.value, bool | int | float):
        return None
    return m._ctx.value(a)


def same(m: Match, a: Atom, b: Atom, depth: int = 6) -> bool:
    """``a`` and ``b`` are the same value: one atom, or equal equations over the same values
    (the traced graph has not been through CSE: ``x.exp() / x.exp().sum()`` has two exps)."""
    if a is b:
        return True
    if isinstance(a, Lit) or isinstance(b, Lit):
        return isinstance(a, Lit) and isinstance(b, Lit) and a == b
    ea, eb = _def(m, a), _def(m, b)
    if ea is None or eb is None or depth == 0 or ea.op is not eb.op or ea.op in GroupOp.EFFECTS:
        return False
    try:
        if ea.attrs != eb.attrs or len(ea.inputs) != len(eb.inputs):
            return False
    except (ValueError, TypeError):  # attrs holding arrays
        return False
    return all(same(m, x, y, depth - 1) for x, y in zip(ea.inputs, eb.inputs, strict=True))


def private(m: Match, eqns: list[Eqn]) -> bool:
    """Every value ``eqns`` define is read only by ``eqns`` and the rule's root: replacing the
    root then leaves them all dead, and no reduction is computed twice."""
    uses = _USES.get()
    inside = Counter(a for e in [*eqns, m.eqn] for a in e.inputs if isinstance(a, Var))
    return all(uses.get(e.out, 0) == inside[e.out] for e in eqns)


def _positive_const(m: Match, a: Atom) -> bool:
    v = _const(m, a)
    return v is not None and v.size > 0 and bool(np.all(np.isfinite(v) & (v > 0)))


def _square(m: Match, a: Atom) -> bool:
    e = _def(m, a)
    if e is None:
        return False
    if e.op is Op.MUL:
        return same(m, e.inputs[0], e.inputs[1])
    v = _const(m, e.inputs[1]) if e.op is Op.POW else None
    return v is not None and v.size == 1 and float(v.reshape(-1)[0]) == 2.0


def positive(m: Match, a: Atom, depth: int = 4) -> bool:
    """``a`` > 0 as a real function: a positive finite constant, exp(..), sigmoid(..), or a sum
    or product of such (with squares and |.| allowed beside a positive term)."""
    if _positive_const(m, a):
        return True
    e = _def(m, a)
    if e is None or depth == 0:
        return False
    if e.op in (Op.EXP, Op.SIGMOID):
        return True
    if e.op in (Op.ADD, Op.MUL):
        p = [positive(m, x, depth - 1) for x in e.inputs]
        if e.op is Op.MUL:
            return all(p)
        pairs = zip(p, e.inputs, strict=True)
        return any(p) and all(q or _square(m, x) or _def_op(m, x) is Op.ABS for q, x in pairs)
    return False


def _def_op(m: Match, a: Atom) -> Op | None:
    e = _def(m, a)
    return None if e is None else e.op


def shifted(m: Match, z: Atom) -> bool:
    """``z`` is already ``y - max(y)`` (log_softmax's or logsumexp's own shift): the
    logsumexp rule must not shift it again (it would fire on every F.log_softmax)."""
    e = _def(m, z)
    if e is None or e.op is not Op.SUB:
        return False
    stack, seen = [(e.inputs[1], 0)], 0
    while stack and seen < 16:
        a, depth = stack.pop()
        seen += 1
        d = _def(m, a)
        if d is None or depth > 4:
            continue
        if d.op is Op.AMAX and same(m, d.inputs[0], e.inputs[0]):
            return True
        if d.op in _SHIFT_PATH:
            stack.extend((x, depth + 1) for x in d.inputs if isinstance(x, Var))
    return False


# --- the stable forms (primitive compositions) -------------------------------------------


def softplus(x: Atom | Term) -> Term:
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|)."""
    return _t(Op.ADD, _t(Op.MAXIMUM, x, _lit(0.0)), _tail(x))


def _tail(x: Atom | Term) -> Term:
    return _t(Op.LOG1P, _t(Op.EXP, _t(Op.NEG, _t(Op.ABS, x))))


def log_sigmoid(x: Atom) -> Term:
    """log(sigmoid(x)) = -softplus(-x) (-0 where the tail underflows: the value is below 0)."""
    return _t(Op.NEG, softplus(_t(Op.NEG, x)))


def expm1(x: Atom) -> Term:
    """e^x - 1 = e^r * expm1(c) - (1 - e^r), c = clamp(x, +-1/2), r = x - c, expm1(c) =
    tanh(c/2) * (e^c + 1). (``- (1 - e^r)`` rounds as ``+ (e^r - 1)`` does, but keeps the sign
    of a zero x: expm1(-0) is -0. ``_own_remainder`` keeps the rules off 1 - e^r.)"""
    c = _t(Op.CLAMP, x, lo=-EXPM1_SPLIT, hi=EXPM1_SPLIT)
    er = _t(Op.EXP, _t(Op.SUB, x, c))
    small = _t(Op.MUL, _t(Op.TANH, _t(Op.MUL, c, _lit(0.5))), _t(Op.ADD, _t(Op.EXP, c), _lit(1.0)))
    return _t(Op.SUB, _t(Op.MUL, er, small), _t(Op.SUB, _lit(1.0), er))


def _own_remainder(m: Match, r: Atom) -> bool:
    """``r`` is expm1's x - clamp(x, +-1/2): 1 - e^r there is expm1's own term."""
    e = _def(m, r)
    c = _def(m, e.inputs[1]) if e is not None and e.op is Op.SUB else None
    return (
        c is not None
        and c.op is Op.CLAMP
        and c.attrs == {"lo": -EXPM1_SPLIT, "hi": EXPM1_SPLIT}
        and same(m, c.inputs[0], e.inputs[0])  # type: ignore[union-attr]
    )


def _row_max(z: Atom, axes: Any) -> Term:
    """The detached maximum clamped to the finite range: a row holding +-inf then gives what
    the unshifted form gives (logsumexp of [inf, 0] is inf, not inf - inf = NaN)."""
    big = float(np.finfo(z.aval.dtype.np).max)
    m = _t(Op.DETACH, _t(Op.AMAX, z, axes=axes, keepdim=True))
    return _t(Op.CLAMP, m, lo=-big, hi=big)


def logsumexp(z: Atom, axes: Any, keepdim: bool, out: Var) -> Term:
    """log(sum(e^z)) = log(sum(e^(z - m))) + m, m the row maximum (``_row_max``)."""
    m = _row_max(z, axes)
    s = _t(Op.LOG, _t(Op.SUM, _t(Op.EXP, _t(Op.SUB, z, m)), axes=axes, keepdim=keepdim))
    return _t(Op.ADD, s, m if keepdim else _t(Op.RESHAPE, m, shape=out.aval.shape))


def log_softmax(z: Atom, axes: Any, shift: bool = True) -> Term:
    """F.log_softmax's equations (s = z - max(z); s - log(sum(e^s))), the maximum clamped;
    ``shift=False``: z is shifted already (log of F.softmax, whose exps are of z - max)."""
    s: Atom | Term = _t(Op.SUB, z, _row_max(z, axes)) if shift else z
    return _t(Op.SUB, s, _t(Op.LOG, _t(Op.SUM, _t(Op.EXP, s), axes=axes, keepdim=True)))


# --- the rules' replacements (None: a condition fails) ------------------------------------

X, Y, Z = Pat(name="x"), Pat(name="y"), Pat(name="z")
_ONE = const(lambda a: a.size > 0 and bool(np.all(a == 1)))
_TWO = const(lambda a: a.size == 1 and bool(np.all(a == 2)))


SAFE_EXP = 20.0  # log1p(e^y) for y <= 20 neither overflows nor loses accuracy (nor its adjoint)


def _literal(m: Match, a: Atom) -> float | None:
    v = _const(m, a)
    return float(v) if v is not None and v.size == 1 else None


def bounded(m: Match, y: Atom, bound: float = SAFE_EXP) -> bool:
    """``y <= bound`` wherever it is not NaN, by construction: -|z|, -relu(z), -clamp(z, lo>=0),
    min(z, c), clamp(z, hi=c), where(z > t, c, z) (F.softplus's and the BCE losses' guards)
    with constants c, t <= bound."""
    e = _def(m, y)
    if e is None:
        c = _literal(m, y)
        return c is not None and c <= bound
    if e.op is Op.NEG:
        d = _def(m, e.inputs[0])
        lo = d.attrs.get("lo") if d is not None and d.op is Op.CLAMP else None
        return d is not None and (d.op in (Op.ABS, Op.RELU) or (lo is not None and lo >= 0))
    if e.op is Op.MINIMUM:
        return any(bounded(m, a, bound) for a in e.inputs if _def(m, a) is None)
    if e.op is Op.CLAMP:
        return e.attrs.get("hi") is not None and e.attrs["hi"] <= bound
    if e.op is Op.WHERE:
        cond, taken, other = e.inputs
        test = _def(m, cond)
        if test is None or test.op not in (Op.GT, Op.GE) or not same(m, test.inputs[0], other):
            return False
        t = _literal(m, test.inputs[1])
        return t is not None and t <= bound and bounded(m, taken, bound)
    return False


def _softplus_unless_bounded(m: Match) -> Term | None:
    # log1p(e^y) with y bounded is accurate already: softplus's own tail log1p(e^-|y|) (which
    # must not be rewritten again), and the library's guarded forms (F.softplus, the BCE loss)
    return None if bounded(m, m.x) else softplus(m.x)


def _x_times_y_over_y(m: Match) -> Atom | None:
    a, b = m.mul_eqn.inputs
    for keep, y in ((a, b), (b, a)):
        if (same(m, y, m.y) and positive(m, m.y)) or _nonzero_const(m, y, m.y):
            return keep
    return None


def _nonzero_const(m: Match, y: Atom, y2: Atom) -> bool:
    v = _const(m, y)
    return (
        v is not None
        and (same(m, y, y2) or _equal_consts(m, y, y2))
        and v.size > 0
        and bool(np.all(np.isfinite(v) & (v != 0)))
    )


def _equal_consts(m: Match, a: Atom, b: Atom) -> bool:
    u, v = _const(m, a), _const(m, b)
    return u is not None and v is not None and u.shape == v.shape and bool(np.all(u == v))


def _logsumexp(m: Match) -> Term | None:
    s = m.sum_eqn
    if shifted(m, m.z) or not private(m, [s, _def(m, s.inputs[0])]):  # type: ignore[list-item]
        return None
    return logsumexp(m.z, s.attrs["axes"], s.attrs["keepdim"], m.out)


def _keepdim_shape(shape: tuple, axes: Any) -> tuple:
    picked = range(len(shape)) if axes is None else [a % len(shape) for a in axes]
    return tuple(1 if i in picked else n for i, n in enumerate(shape))


def _log_of_softmax(m: Match) -> Term | None:
    """log(move(e^z / sum(e^z))) -> move(log_softmax(z)), ``move`` any chain of index, gather,
    reshape, permute, expand (a hand-written cross-entropy picks the targets' entries)."""
    chain: list[Eqn] = []
    p = m.x
    while (e := _def(m, p)) is not None and e.op in _MOVES:
        chain.append(e)
        p = e.inputs[0]
    rule = _def(m, p)  # F.softmax's value passes through its rule (Note [softmax's gradient])
    if rule is not None and rule.op is Op.CUSTOM_VJP and is_decomposed(rule.attrs["rule"]):
        chain.append(rule)
        p = rule.inputs[0]
    else:
        rule = None
    div = _def(m, p)
    if div is None or div.op is not Op.DIV:
        return None
    num, den = div.inputs
    exp1 = _def(m, num)
    if exp1 is None or exp1.op is not Op.EXP:
        return None
    used = [*chain, div, exp1]
    d = _def(m, den)
    while d is not None and d.op in (Op.RESHAPE, Op.EXPAND):
        used.append(d)
        d = _def(m, d.inputs[0])
    if d is None or d.op is not Op.SUM:
        return None
    exp2 = _def(m, d.inputs[0])
    if exp2 is None or exp2.op is not Op.EXP or not same(m, exp1.inputs[0], exp2.inputs[0]):
        return None
    # (F.softmax's exps are of no-grad equations: the log_softmax is of the rule's operand)
    z = exp1.inputs[0] if rule is None else rule.inputs[1]
    axes = d.attrs["axes"]
    if den.aval.shape != _keepdim_shape(z.aval.shape, axes) or z.aval != div.out.aval:
        return None
    used += [d] + ([exp2] if exp2 is not exp1 else [])
    if not private(m, used):
        return None
    out: Atom | Term = log_softmax(z, axes, shift=not shifted(m, z))
    for e in reversed(chain):
        if e is not rule:
            out = Term(e.op, (out, *e.inputs[1:]), dict(e.attrs))
    assert isinstance(out, Term)
    return out


@dataclass(frozen=True)
class StabilityRule:
    """One row: the rule's name, its pattern, its conditions (beyond the common ones in the
    module docstring) in words, and the replacement (None when a condition fails)."""

    name: str
    pattern: Pat
    conditions: str
    build: Callable[[Match], Atom | Term | None]


def _sub_one(exp_first: bool) -> Pat:
    e = P(Op.EXP, X, name="e")
    return P(Op.SUB, e, _ONE) if exp_first else P(Op.SUB, _ONE, e)


RULES: list[StabilityRule] = [
    StabilityRule("log(exp(x)) -> x", P(Op.LOG, P(Op.EXP, X)), "", lambda m: m.x),
    StabilityRule(
        "log(1 + exp(x)) -> softplus(x)",
        P(Op.LOG, P(Op.ADD, P(Op.EXP, X), _ONE)),
        "the 1 is a literal or constant of ones; x is not bounded above by 20 (``bounded``)",
        _softplus_unless_bounded,
    ),
    StabilityRule(
        "log1p(exp(x)) -> softplus(x)",
        P(Op.LOG1P, P(Op.EXP, X)),
        "x is not bounded above by 20 (``bounded``: e.g. softplus's own tail, -|y|)",
        _softplus_unless_bounded,
    ),
    StabilityRule(
        "log(sigmoid(x)) -> -softplus(-x)",
        P(Op.LOG, P(Op.SIGMOID, X)),
        "",
        lambda m: log_sigmoid(m.x),
    ),
    StabilityRule(
        "log(1 - sigmoid(x)) -> -softplus(x)",
        P(Op.LOG, P(Op.SUB, _ONE, P(Op.SIGMOID, X))),
        "the 1 is a literal or constant of ones",
        lambda m: _t(Op.NEG, softplus(m.x)),
    ),
    StabilityRule(
        "log(sum(exp(x))) -> logsumexp(x)",
        P(Op.LOG, P(Op.SUM, P(Op.EXP, Z), name="sum_out")),
        "x is not already shifted by its maximum; exp and sum read only here",
        lambda m: _logsumexp(_bind_eqn(m, "sum_eqn", m.sum_out)),
    ),
    StabilityRule(
        "log(softmax(x)) -> log_softmax(x)",
        P(Op.LOG, X),
        "x is [index/gather/reshape/permute/expand of] exp(z) / sum(exp(z)) over keepdim "
        "axes; every intermediate read only here",
        _log_of_softmax,
    ),
    StabilityRule(
        "log(1 + x) -> log1p(x)",
        P(Op.LOG, P(Op.ADD, X, _ONE)),
        "the 1 is a literal or constant of ones",
        lambda m: _t(Op.LOG1P, m.x),
    ),
    StabilityRule(
        "exp(x) - 1 -> expm1(x)",
        _sub_one(True),
        "the 1 is a literal or constant of ones; x is not expm1's own x - clamp(x, +-1/2)",
        lambda m: None if _own_remainder(m, m.x) else expm1(m.x),
    ),
    StabilityRule(
        "1 - exp(x) -> -expm1(x)",
        _sub_one(False),
        "the 1 is a literal or constant of ones; x is not expm1's own x - clamp(x, +-1/2)",
        lambda m: None if _own_remainder(m, m.x) else _t(Op.NEG, expm1(m.x)),
    ),
    StabilityRule(
        "sqrt(x*x) -> |x|",
        P(Op.SQRT, P(Op.MUL, X, Y)),
        "both factors are the same value",
        lambda m: _t(Op.ABS, m.x) if same(m, m.x, m.y) else None,
    ),
    StabilityRule(
        "sqrt(x**2) -> |x|",
        P(Op.SQRT, P(Op.POW, X, _TWO)),
        "the exponent is a literal or constant 2",
        lambda m: _t(Op.ABS, m.x),
    ),
    StabilityRule(
        "x*y/y -> x",
        P(Op.DIV, P(Op.MUL, X, Z, name="mul"), Y),
        "y is provably nonzero as a real function: exp(..), sigmoid(..), a positive constant "
        "plus a square or |..|, products of such, or a nonzero finite constant equal to y",
        lambda m: _x_times_y_over_y(_bind_eqn(m, "mul_eqn", m.mul)),
    ),
]


# rules whose replacement no longer reads some operand: an input only they read still gets a
# gradient (zeros) in compiled code, as eagerly (frontend/plans.py train_plan)
DROPS_OPERANDS = frozenset({"x*y/y -> x"})


def _bind_eqn(m: Match, name: str, v: Atom) -> Match:
    m.__dict__[name] = _def(m, v)
    return m


def _aval_of(t: Term) -> Aval | None:
    try:
        args = [_aval_of(a) if isinstance(a, Term) else a.aval for a in t.args]
        if any(a is None for a in args):
            return None
        return infer(t.op, args, t.attrs)  # type: ignore[arg-type]
    except (ShapeError, RuntimeError, IndexError, TypeError):
        return None


def _recorded(rule: StabilityRule) -> Rule:
    """The engine's rule for a row: the common conditions, and a record of each firing."""

    def replacement(m: Match) -> Atom | Term | None:
        operands = [a for a in m.eqn.inputs if isinstance(a, Var)]
        if any(np.dtype(a.aval.dtype.np) not in _FLOATS for a in (m.out, *operands)):
            return None
        r = rule.build(m)
        if r is None:
            return None
        if isinstance(r, Term):
            a = _aval_of(r)
            if a is None or (a.shape, a.dtype) != (m.out.aval.shape, m.out.aval.dtype):
                return None
        elif r.aval != m.out.aval:
            return None
        fired = _FIRED.get()
        if fired is not None:
            fired.append((rule.name, m.eqn.loc))
        return r

    return rule.pattern, replacement


_ENGINE_RULES = [_recorded(r) for r in RULES]
_ROOTS = frozenset(r.pattern.op for r in RULES)


def stabilize_report(graph: Graph) -> tuple[Graph, list[tuple[str, str | None]]]:
    """``graph`` with the stability rules applied, and (rule name, source line) per firing."""
    fired: list[tuple[str, str | None]] = []
    from .pipeline import flag  # (the pipeline imports this module)

    if flag("ADJIT_STABILITY") == "0" or not any(e.op in _ROOTS for e in graph.eqns):
        return graph, fired
    t1, t2 = _USES.set(use_counts(graph)), _FIRED.set(fired)
    try:
        return rewrite(graph, _ENGINE_RULES), fired
    finally:
        _USES.reset(t1)
        _FIRED.reset(t2)


def stabilize(graph: Graph) -> Graph:
    """``graph`` with the stability rules applied (Note [stability rewrites])."""
    return stabilize_report(graph)[0]
