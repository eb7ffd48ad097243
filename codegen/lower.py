"""Lowering: one fused Kernel to an LLVM IR function (a loop nest over its static shape)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias

import numpy as np
from llvmlite import ir

from ..ir import dtypes as D
from ..ir.dtypes import DType
from ..ir.graph import Eqn
from ..ir.ops import Op
from ..passes.fusion import Kernel
from ..passes.size_facts import numel
from .kernel_cache import KernelInfo


class CodegenError(RuntimeError):
    """A kernel that cannot be lowered or compiled; names the kernel and the op."""


# ---- dtypes: storage type in memory, register type, and the kind rules dispatch on ----------
_F32, _F64, _I1, _I8 = ir.FloatType(), ir.DoubleType(), ir.IntType(1), ir.IntType(8)
I64, _I32, _I16 = ir.IntType(64), ir.IntType(32), ir.IntType(16)
STORAGE: dict[str, ir.Type] = {
    "float32": _F32,
    "float64": _F64,
    "int64": I64,
    "int32": ir.IntType(32),
    "uint8": _I8,
    "int8": _I8,
    "int16": _I16,
    "bool": _I8,  # NumPy stores a bool in a byte
    "float16": ir.HalfType(),
    "bfloat16": _I16,  # its bits (Note [reduced floats in kernels])
}
# Note [reduced floats in kernels]: a float16/bfloat16 value lives in a float register holding
# its exact value; each op computes in float32 and its result is rounded to the narrow type
# at once (``round_reduced``), as PyTorch's CPU kernels and adjit's eager mode do. Loads widen
# exactly; stores narrow exactly (the value is rounded already).
REGISTER: dict[str, ir.Type] = {**STORAGE, "bool": _I1, "float16": _F32, "bfloat16": _F32}
KIND: dict[str, str] = {
    "float32": "f",
    "float64": "f",
    "int64": "i",
    "int32": "i",
    "uint8": "u",
    "int8": "i",
    "int16": "i",
    "bool": "b",
    "float16": "f",
    "bfloat16": "f",
}

Builder: TypeAlias = ir.IRBuilder  # llvmlite is untyped: Any to mypy
Convert = Callable[[Builder, ir.Value, DType, DType], ir.Value]


def _resize(ext: str, trunc: str) -> Convert:
    def conv(b: Builder, v: ir.Value, src: DType, dst: DType) -> ir.Value:
        if src.itemsize == dst.itemsize:
            return v
        return getattr(b, ext if src.itemsize < dst.itemsize else trunc)(v, REGISTER[dst.name])

    return conv


def _float_to_int(b: Builder, v: ir.Value, src: DType, dst: DType) -> ir.Value:
    # x86's conversion (cvttss2si) is to 32 bits at least; int8/int16 keep its low bits, as
    # NumPy's and PyTorch's casts do (300.0 -> 44 in int8)
    if dst.itemsize >= 4:
        return b.fptosi(v, REGISTER[dst.name])
    return b.trunc(b.fptosi(v, ir.IntType(32)), REGISTER[dst.name])


def _nonzero(b: Builder, v: ir.Value, src: DType, dst: DType) -> ir.Value:
    if KIND[src.name] == "f":  # NaN converts to True, as in NumPy
        return b.fcmp_unordered("!=", v, ir.Constant(v.type, 0.0))
    return b.icmp_unsigned("!=", v, ir.Constant(v.type, 0))


# (source kind, destination kind) -> conversion, exactly as ndarray.astype on x86
CONVERT: dict[str, Convert] = {
    "ff": _resize("fpext", "fptrunc"),
    "if": lambda b, v, s, d: b.sitofp(v, REGISTER[d.name]),
    "uf": lambda b, v, s, d: b.uitofp(v, REGISTER[d.name]),
    "bf": lambda b, v, s, d: b.uitofp(v, REGISTER[d.name]),
    "fi": _float_to_int,
    "fu": lambda b, v, s, d: b.trunc(b.fptosi(v, ir.IntType(32)), _I8),
    "ii": _resize("sext", "trunc"),
    "iu": _resize("sext", "trunc"),
    "ui": _resize("zext", "trunc"),
    "bi": lambda b, v, s, d: b.zext(v, REGISTER[d.name]),
    "bu": lambda b, v, s, d: b.zext(v, _I8),
    "fb": _nonzero,
    "ib": _nonzero,
    "ub": _nonzero,
}


def convert(b: Builder, v: ir.Value, src: DType, dst: DType) -> ir.Value:
    if src is dst:
        return v
    if src.reduced:  # its register holds the exact value as a float32
        src = D.float32
    if dst.reduced:  # through float32, as c10::Half(float) and eager's to_storage
        return round_reduced(b, convert(b, v, src, D.float32), dst)
    if src is dst:
        return v
    return CONVERT[KIND[src.name] + KIND[dst.name]](b, v, src, dst)


def round_reduced(b: Builder, v: ir.Value, dt: DType) -> ir.Value:
    """Float32 ``v`` rounded to float16/bfloat16 (to nearest, ties to even), as a float32."""
    if dt.name == "float16":
        return b.fpext(b.fptrunc(v, STORAGE["float16"]), _F32)
    # bfloat16: c10's round_to_nearest_even on the float32 bits; NaN becomes 0x7FC0
    bits = b.bitcast(v, _I32)
    odd = b.and_(b.lshr(bits, ir.Constant(_I32, 16)), ir.Constant(_I32, 1))
    up = b.add(bits, b.add(odd, ir.Constant(_I32, 0x7FFF)))
    kept = b.and_(up, ir.Constant(_I32, 0xFFFF0000))
    nan = b.fcmp_unordered("uno", v, v)
    return b.bitcast(b.select(nan, ir.Constant(_I32, 0x7FC00000), kept), _F32)


def load_reduced(b: Builder, x: ir.Value, dt: DType) -> ir.Value:
    """A loaded float16/bfloat16 (storage type) as its exact float32 value."""
    if dt.name == "float16":
        return b.fpext(x, _F32)
    return b.bitcast(b.shl(b.zext(x, _I32), ir.Constant(_I32, 16)), _F32)


def store_reduced(b: Builder, x: ir.Value, dt: DType) -> ir.Value:
    """A float32 register holding a float16/bfloat16 value, in its storage type (exact)."""
    if dt.name == "float16":
        return b.fptrunc(x, STORAGE["float16"])
    return b.trunc(b.lshr(b.bitcast(x, _I32), ir.Constant(_I32, 16)), _I16)


def constant(value: Any, dtype: DType) -> ir.Constant:
    """An LLVM constant holding ``value`` converted to ``dtype`` as NumPy converts it."""
    v: Any = D.to_storage(np.asarray(value), dtype)[()]
    ty = REGISTER[dtype.name]
    return ir.Constant(ty, float(v) if KIND[dtype.name] == "f" else int(v))


# ---- transcendental functions: codegen.vecmath when importable, else LLVM intrinsics --------
MATH_NAMES = ("exp", "log", "log1p", "sin", "cos", "tanh", "sigmoid", "erf", "sqrt", "pow")
# llvm.sqrt is one correctly rounded, vectorizing instruction: always the best choice
PREFER_INTRINSIC = frozenset({"sqrt"})


@cache
def vecmath_table() -> dict[str, Callable[..., ir.Value]] | None:
    """``codegen.vecmath``'s emitters by name (``fn(builder, *xs) -> value``), if it exists.

    Reads its ``MATH`` (unary) and ``BINARY_MATH`` (pow) tables; None when it cannot be imported.
    """
    try:
        from . import vecmath  # type: ignore[attr-defined]
    except ImportError:
        return None
    table: dict[str, Callable[..., ir.Value]] = {}
    for attr in ("MATH", "BINARY_MATH"):
        table.update(getattr(vecmath, attr, {}))
    return table or None


def _declare(b: Builder, name: str, ty: ir.Type, nargs: int, libm: bool = False) -> ir.Function:
    fnty = ir.FunctionType(ty, [ty] * nargs)
    mod = b.module
    if libm:
        fname = name if ty == _F64 else name + "f"
        return mod.globals.get(fname) or ir.Function(mod, fnty, fname)
    return mod.declare_intrinsic(name, [ty], fnty=fnty)


def _intrinsic(name: str, libm: bool = False, via_double: bool = False) -> Callable[..., Any]:
    """A scalar call; ``via_double`` computes float32 in float64 and rounds (as the reference
    does for pow and erf)."""

    def call(b: Builder, *xs: ir.Value) -> ir.Value:
        ty = xs[0].type
        if via_double and ty == _F32:
            wide = [b.fpext(x, _F64) for x in xs]
            return b.fptrunc(b.call(_declare(b, name, _F64, len(xs), libm), wide), _F32)
        return b.call(_declare(b, name, ty, len(xs), libm), list(xs))

    return call


def _sigmoid(b: Builder, x: ir.Value, *, use_vecmath: bool) -> ir.Value:
    # the reference's (PyTorch's) formula: 1 / (1 + inf) is 0 where e**-x overflows
    one = ir.Constant(x.type, 1.0)
    e = math(b, "exp", b.fneg(x), use_vecmath=use_vecmath)
    return b.fdiv(one, b.fadd(one, e))


FALLBACK_MATH: dict[str, Callable[..., ir.Value]] = {
    "exp": _intrinsic("llvm.exp"),
    "log": _intrinsic("llvm.log"),
    "log1p": _intrinsic("log1p", libm=True),
    "sin": _intrinsic("llvm.sin"),
    "cos": _intrinsic("llvm.cos"),
    "tanh": _intrinsic("llvm.tanh"),
    "erf": _intrinsic("erf", libm=True, via_double=True),
    "sqrt": _intrinsic("llvm.sqrt"),
    "pow": _intrinsic("llvm.pow", via_double=True),
}


def math(b: Builder, name: str, *xs: ir.Value, use_vecmath: bool = True) -> ir.Value:
    """THE lookup for transcendentals: vecmath's branch-free version if available, else LLVM's."""
    table = vecmath_table() if use_vecmath else None
    if table and name in table and name not in PREFER_INTRINSIC:
        try:
            return table[name](b, *xs)
        except Exception as e:  # a vecmath bug must not take the kernel down with it
            warnings.warn(f"codegen.vecmath.{name} failed ({e!r}); using llvm", stacklevel=2)
    if name == "sigmoid":
        return _sigmoid(b, *xs, use_vecmath=use_vecmath)
    return FALLBACK_MATH[name](b, *xs)


# ---- the lowering table: op -> {kinds: rule(cx, *operands)} ----------------------------------
@dataclass
class Cx:
    """What a rule sees: the builder, the equation, the operands' (converted) dtype."""

    b: Builder
    eqn: Eqn
    dtype: DType  # dtype of the last operand after conversion: what the op computes in
    use_vecmath: bool

    def math(self, name: str, *xs: ir.Value) -> ir.Value:
        return math(self.b, name, *xs, use_vecmath=self.use_vecmath)

    def const(self, value: Any) -> ir.Constant:
        # (float16/bfloat16 compute in float32: an attribute such as a clamp bound is taken
        # as a float32, as eager's float32 arrays take it)
        return constant(value, D.float32 if self.dtype.reduced else self.dtype)


Rule = Callable[..., ir.Value]


def _m(method: str, *args: Any) -> Rule:
    """A builder method applied to the operands."""
    return lambda cx, *xs: getattr(cx.b, method)(*args, *xs)


def _fn(name: str) -> Rule:
    return lambda cx, *xs: cx.math(name, *xs)


def _call(intrinsic: str) -> Rule:
    return lambda cx, *xs: _intrinsic(intrinsic)(cx.b, *xs)


def _fmax(cx: Cx, x: ir.Value, y: ir.Value, cmp: str = ">") -> ir.Value:
    # numpy.maximum: x if x > y or x is NaN else y (ties and a NaN y give y)
    b = cx.b
    take = b.or_(b.fcmp_ordered(cmp, x, y), b.fcmp_unordered("uno", x, x))
    return b.select(take, x, y)


def _fmin(cx: Cx, x: ir.Value, y: ir.Value) -> ir.Value:
    return _fmax(cx, x, y, "<")


def _sign(cx: Cx, x: ir.Value) -> ir.Value:
    b, zero, cmp = cx.b, cx.const(0), _CMP[KIND[cx.dtype.name]]
    neg = b.select(cmp(b, "<", x, zero), cx.const(-1), zero)  # NaN -> 0, as PyTorch
    return b.select(cmp(b, ">", x, zero), cx.const(1), b.select(cmp(b, "==", x, zero), zero, neg))


def _clamp(cx: Cx, x: ir.Value) -> ir.Value:
    b, cmp, a = cx.b, _CMP[KIND[cx.dtype.name]], cx.eqn.attrs
    for bound, op in ((a.get("lo"), "<"), (a.get("hi"), ">")):
        if bound is not None:
            x = b.select(cmp(b, op, x, cx.const(bound)), cx.const(bound), x)
    return x


def _ipow(cx: Cx, x: ir.Value, y: ir.Value) -> ir.Value:
    """x**y by squaring over every exponent bit, branch-free (folds for a constant y)."""
    b, result = cx.b, cx.const(1)
    for _ in range(x.type.width):
        odd = b.trunc(y, _I1)
        result = b.select(odd, b.mul(result, x), result)
        x, y = b.mul(x, x), b.lshr(y, ir.Constant(y.type, 1))
    return result


_CMP: dict[str, Callable[[Builder, str, ir.Value, ir.Value], ir.Value]] = {
    "f": lambda b, op, x, y: (b.fcmp_unordered if op == "!=" else b.fcmp_ordered)(op, x, y),
    "i": lambda b, op, x, y: b.icmp_signed(op, x, y),
    "u": lambda b, op, x, y: b.icmp_unsigned(op, x, y),
    "b": lambda b, op, x, y: b.icmp_unsigned(op, x, y),
}


def _cmp(op: str) -> dict[str, Rule]:
    return {"fiub": lambda cx, x, y: _CMP[KIND[cx.dtype.name]](cx.b, op, x, y)}


def _relu_int(cx: Cx, x: ir.Value) -> ir.Value:
    return _intrinsic("llvm.smax")(cx.b, x, cx.const(0))


def _shift_out(method: str) -> Rule:
    """shl/lshr: a count >= the width (or negative) shifts every bit out. Note [bitwise ops]:
    LLVM's shift by such a count is poison, so the count is clamped before the shift."""

    def rule(cx: Cx, x: ir.Value, n: ir.Value) -> ir.Value:
        b = cx.b
        ok = b.icmp_unsigned("<", n, ir.Constant(n.type, x.type.width))  # negative: huge
        return b.select(ok, getattr(b, method)(x, b.select(ok, n, cx.const(0))), cx.const(0))

    return rule


def _ashr(cx: Cx, x: ir.Value, n: ir.Value) -> ir.Value:
    top = ir.Constant(n.type, x.type.width - 1)  # counts beyond it leave only the sign
    return cx.b.ashr(x, cx.b.select(cx.b.icmp_unsigned(">", n, top), top, n))


def _divisor(cx: Cx, y: ir.Value, signed: bool) -> tuple[ir.Value, ir.Value | None]:
    """A divisor LLVM may divide by (0 and, signed, -1 become 1: x / 0 and INT_MIN / -1 are
    undefined), and whether it was -1. A zero divisor was refused by a run-time check."""
    b, one = cx.b, cx.const(1)
    safe = b.select(b.icmp_unsigned("==", y, cx.const(0)), one, y)
    if not signed:
        return safe, None
    minus_one = b.icmp_signed("==", y, cx.const(-1))
    return b.select(minus_one, one, safe), minus_one


def _fmod_int(cx: Cx, x: ir.Value, y: ir.Value) -> ir.Value:
    signed = KIND[cx.dtype.name] == "i"
    d, minus_one = _divisor(cx, y, signed)
    if not signed:
        return cx.b.urem(x, d)
    return cx.b.select(minus_one, cx.const(0), cx.b.srem(x, d))


def _trunc_div(cx: Cx, x: ir.Value, y: ir.Value) -> ir.Value:
    signed = KIND[cx.dtype.name] == "i"
    d, minus_one = _divisor(cx, y, signed)
    if not signed:
        return cx.b.udiv(x, d)
    return cx.b.select(minus_one, cx.b.neg(x), cx.b.sdiv(x, d))  # -INT_MIN wraps to INT_MIN


_ID: Rule = lambda cx, x: x
_ALL = "fiub"

LOWERING: dict[Op, dict[str, Rule]] = {
    Op.NEG: {"f": _m("fneg"), "iu": _m("neg")},
    Op.ABS: {
        "f": _call("llvm.fabs"),
        "i": lambda cx, x: cx.b.select(cx.b.icmp_signed("<", x, cx.const(0)), cx.b.neg(x), x),
        "u": _ID,
    },
    Op.SIGN: {
        "fi": _sign,
        "u": lambda cx, x: cx.b.zext(cx.b.icmp_unsigned("!=", x, cx.const(0)), x.type),
        "b": _ID,
    },
    Op.EXP: {"f": _fn("exp")},
    Op.LOG: {"f": _fn("log")},
    Op.LOG1P: {"f": _fn("log1p")},
    Op.SQRT: {"f": _fn("sqrt")},
    Op.SIN: {"f": _fn("sin")},
    Op.COS: {"f": _fn("cos")},
    Op.TANH: {"f": _fn("tanh")},
    Op.SIGMOID: {"f": _fn("sigmoid")},
    Op.ERF: {"f": _fn("erf")},
    Op.RELU: {"f": lambda cx, x: _fmax(cx, x, cx.const(0)), "i": _relu_int, "u": _ID},
    Op.FLOOR: {"f": _call("llvm.floor"), "iu": _ID},
    Op.TRUNC: {"f": _call("llvm.trunc"), "iu": _ID},
    Op.NOT: {"iub": _m("not_")},
    Op.CAST: {_ALL: lambda cx, x: convert(cx.b, x, cx.dtype, cx.eqn.attrs["dtype"])},
    Op.CLAMP: {"fiu": _clamp},
    Op.ADD: {"f": _m("fadd"), "iu": _m("add"), "b": _m("or_")},
    Op.SUB: {"f": _m("fsub"), "iu": _m("sub")},
    Op.MUL: {"f": _m("fmul"), "iu": _m("mul"), "b": _m("and_")},
    Op.DIV: {"f": _m("fdiv")},
    Op.POW: {"f": _fn("pow"), "iu": _ipow},
    Op.MAXIMUM: {"f": _fmax, "i": _call("llvm.smax"), "u": _call("llvm.umax"), "b": _m("or_")},
    Op.MINIMUM: {"f": _fmin, "i": _call("llvm.smin"), "u": _call("llvm.umin"), "b": _m("and_")},
    Op.EQ: _cmp("=="),
    Op.NE: _cmp("!="),
    Op.LT: _cmp("<"),
    Op.LE: _cmp("<="),
    Op.GT: _cmp(">"),
    Op.GE: _cmp(">="),
    Op.AND: {"iub": _m("and_")},
    Op.OR: {"iub": _m("or_")},
    Op.XOR: {"iub": _m("xor")},
    Op.SHL: {"iu": _shift_out("shl")},
    Op.SHR: {"i": _ashr, "u": _shift_out("lshr")},
    Op.FMOD: {"f": _m("frem"), "iu": _fmod_int},
    Op.TRUNC_DIV: {"iu": _trunc_div},
    Op.ATAN2: {"f": lambda cx, y, x: _intrinsic("atan2", libm=True)(cx.b, y, x)},  # libm's
    Op.COPYSIGN: {"f": _call("llvm.copysign")},
    Op.WHERE: {_ALL: _m("select")},
    Op.FMA: {"f": _call("llvm.fma")},  # correctly rounded on every host (Note [fused multiply-add])
    Op.EXPAND: {_ALL: _ID},
    Op.DETACH: {_ALL: _ID},
}
RULES: dict[Op, dict[str, Rule]] = {
    op: {k: f for kinds, f in rules.items() for k in kinds} for op, rules in LOWERING.items()
}

# reductions: op -> {kind: (identity, combine)}; float sums reassociate so they vectorize
_FAST = ("reassoc", "nsz")
REDUCERS: dict[Op, dict[str, tuple[Any, Rule]]] = {
    Op.SUM: {
        "f": (-0.0, lambda cx, a, v: cx.b.fadd(a, v, flags=_FAST)),
        "iu": (0, _m("add")),
    },
    Op.AMAX: {
        "f": (-np.inf, _call("llvm.maximum")),
        "i": ("min", _call("llvm.smax")),
        "ub": (0, _call("llvm.umax")),
    },
    Op.AMIN: {
        "f": (np.inf, _call("llvm.minimum")),
        "i": ("max", _call("llvm.smin")),
        "ub": ("max", _call("llvm.umin")),
    },
}
REDUCE_RULES = {op: {k: r for ks, r in t.items() for k in ks} for op, t in REDUCERS.items()}


def lookup(op: Op, dtype: DType, kernel: str) -> Rule:
    """The rule lowering ``op`` computing in ``dtype``; CodegenError when there is none."""
    rule = RULES.get(op, {}).get(KIND.get(dtype.name, "?"))
    if rule is None:
        raise CodegenError(f"kernel {kernel}: cannot lower op {op.name.lower()} on {dtype}")
    return rule


def reduce_identity(op: Op, dtype: DType, empty: bool) -> ir.Constant:
    value = REDUCE_RULES[op][KIND[dtype.name]][0]
    if isinstance(value, str):
        value = getattr(np.iinfo(dtype.np), value)
    if empty and value == 0:
        value = 0  # an empty float sum is +0.0 (-0.0 is the identity otherwise)
    return constant(value, dtype)


# a lowered kernel is the record the runtime calls it by (kept where a warm process, which
# never imports this module, can read it from the disk cache)
Lowered = KernelInfo


def emit_checked(name: str, emitter: Any) -> str:
    """``emitter.emit()``; any failure becomes a CodegenError naming the kernel."""
    try:
        return emitter.emit()
    except CodegenError:
        raise
    except Exception as e:
        raise CodegenError(f"kernel {name}: lowering failed: {e!r}") from e


class NoLoweringForDType(CodegenError):
    """A kernel computing in a dtype codegen does not lower (float16, bfloat16): the executor
    runs that kernel on the NumPy reference, whose results are eager's exactly (only slower),
    and lists it among the program's fallbacks (``explain``)."""

    reference_ok = True


@cache
def _no_f16c() -> bool:
    from .llvm_host import features

    return "+f16c" not in features().split(",")


def _refuse_reduced_floats(k: Any) -> None:
    """A float16/bfloat16 sum would keep rounded partial totals (Note [narrow sums]: the
    executor widens them first); max and min are exact, everything else rounds per op."""
    for e in k.eqns:
        if _no_f16c() and any(a.aval.dtype.name == "float16" for a in (*e.inputs, e.out)):
            raise NoLoweringForDType(  # (LLVM would call libgcc's helpers, absent in MCJIT)
                f"kernel {k.name}: op {e.op.name.lower()}: codegen lowers float16 only with "
                "the CPU's F16C conversions; the kernel runs on the NumPy reference"
            )
        if e.op is Op.SUM and any(a.aval.dtype.reduced for a in (*e.inputs, e.out)):
            raise NoLoweringForDType(
                f"kernel {k.name}: op sum: codegen does not lower sums in {e.out.aval.dtype} "
                "(widen them to float32 first); the kernel runs on the NumPy reference"
            )


def lower_kernel(
    k: Kernel, use_vecmath: bool = True, shared: tuple[tuple[int, int], ...] = ()
) -> Lowered:
    """Lower ``k`` to an LLVM IR module; CodegenError names the kernel and the op on failure.
    ``shared``: (output, input) positions of a plain Kernel whose output is written over its
    input (Note [kernels in place] in loops.py)."""
    from .loops import KernelEmitter

    _refuse_reduced_floats(k)
    if not isinstance(k, Kernel):  # a RowKernel (passes.rows)
        from .rows import lower_rows

        if shared:  # (its passes read a row again after writing it: Note [kernels in place])
            raise CodegenError(f"kernel {k.name}: a row kernel is never written in place")

        return lower_rows(k, use_vecmath)

    em = KernelEmitter(k, use_vecmath, shared)
    text = emit_checked(k.name, em)
    red = tuple((k.outputs.index(e.out), e.op) for e in k.reductions)
    n = numel(k.shape)  # extent and work: expressions of symbolic sizes (Note [symbolic kernels])
    return Lowered(
        em.symbol,
        text,
        len(k.outputs),
        len(k.inputs),
        em.layout.sizes[0],
        em.layout.reduced[0],
        red,
        (max(1, n) if isinstance(n, int) else n) * max(1, len(k.eqns)),
    )
