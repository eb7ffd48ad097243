"""A rare slow path beside a vectorized fast one: a call the loop vectorizer widens to our own
vector function, which tests all lanes at once and only then fixes the ones that need it.

Note [rare slow paths]
The loop vectorizer if-converts every branch of the loop body: a slow path behind a branch is
executed for every element (vectorized), or blocks vectorization (a call without a vector
form). glibc's libmvec gets a cheap rare path by testing the whole vector inside its vector
functions; we do the same with our own. `rare_fixup(b, spec, x, fast)` emits
`call @fix(x, fast)`: a scalar function (noinline, so it survives until the vectorizer) that
returns `fast` unless |x| >= spec.threshold, with the call-site attribute
"vector-function-abi-variant" naming vector versions of it for each vector width the host has
(4/8 floats and 2/4 doubles with AVX2, also 16/8 with AVX-512). The vectorizer widens the call
to `call @fix_vN(<N x x>, <N x fast>)`. fix_vN (alwaysinline) compares all lanes (|x| as
integer bits against the threshold's, so NaN counts as rare too) and returns `fast` when none
is rare, else calls fix_vN_rare, which runs the scalar `fix` on the rare lanes (a loop over
the mask's set bits). After the optimization pipeline, `inline_after_vectorizer` (called by
codegen/jit.py and the tests' jit_util) inlines fix_vN into the loop: the loop then holds a
test and a branch, and calls nothing unless a lane is rare. fix_vN_rare is cold and
preserve_allcc, so even the call in that branch clobbers no register of the loop (with the C
convention the loop reloaded a dozen vector constants after every call: +50% on a float32
sin().sum()). The vector functions are internal, kept alive by @llvm.compiler.used until the
vectorizer refers to them. A loop that is not vectorized calls the scalar `fix` per element
(correct, slower).
Measured on AVX2 (znver3), serial, n=1e7, CPU time, `adjit.compile(lambda x: x.sin().sum())`
at |x| <= 100: +10% float32, +5% float64 over the fast path alone (computing the slow path
branch-free on every lane instead: +170%/+220%); a plain elementwise loop: no difference
measured. Elements on the rare path cost ~19 ns each (scalar code). Compiling a kernel with
sin takes ~40 ms of CPU more (the slow path and the vector functions).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from llvmlite import ir
from llvmlite.ir.instructions import CallInstrAttributes
from llvmlite.ir.values import FunctionAttributes

from .vecmath_core import FORMATS, Fmt, Value, cmp, fabs

ELEMENT_BITS = {"float": 32, "double": 64}
RARE_CONV = "preserve_allcc"
MARK = "adjit_vecmath_"  # every function this module defines starts so
_USED = "llvm.compiler.used"


class _Attrs(CallInstrAttributes):
    """Call-site attributes that may be LLVM string attributes (llvmlite knows only keywords)."""

    def add(self, name: str) -> None:
        set.add(self, name)


class FnAttrs(FunctionAttributes):
    """Function attributes including ones llvmlite does not list (willreturn)."""

    def add(self, name: str) -> None:
        set.add(self, name)


@dataclass(frozen=True)
class RareSpec:
    """A fixup: `name` (unique per emitter), the |x| from which `slow(b, x)` replaces the fast
    result (compared ordered in the scalar function: NaN keeps the fast result)."""

    name: str
    threshold: float
    slow: Callable[[ir.IRBuilder, Value], Value]


def _scalar(mod: ir.Module, spec: RareSpec, ty: ir.Type) -> ir.Function:
    name = f"adjit_vecmath_{spec.name}_{ty}"
    fn = ir.Function(mod, ir.FunctionType(ty, [ty, ty]), name)
    fn.linkage = "internal"
    fn.attributes = FnAttrs(["noinline", "nounwind", "readnone", "willreturn"])
    x, fast = fn.args
    entry, slow, done = (fn.append_basic_block(s) for s in ("entry", "slow", "done"))
    b = ir.IRBuilder(entry)
    b.cbranch(cmp(b, ">=", fabs(b, x), spec.threshold), slow, done)
    b.position_at_end(slow)
    res = spec.slow(b, x)
    slow_end = b.block
    b.branch(done)
    b.position_at_end(done)
    phi = b.phi(ty)
    phi.add_incoming(fast, entry)
    phi.add_incoming(res, slow_end)
    b.ret(phi)
    return fn


def _vector(mod: ir.Module, scalar: ir.Function, spec: RareSpec, width: int) -> ir.Function:
    """`fix_vN(x, fast)`: all lanes tested at once, the rare ones handed to `fix_vN_rare`.
    alwaysinline: once the vectorizer has called it, `inline_after_vectorizer` puts the test
    into the loop (Note [rare slow paths])."""
    ty = scalar.function_type.return_type
    vty = ir.VectorType(ty, width)
    fn = ir.Function(mod, ir.FunctionType(vty, [vty, vty]), f"{scalar.name}_v{width}")
    fn.linkage = "internal"
    fn.attributes = FnAttrs(["alwaysinline", "nounwind", "readnone", "willreturn"])
    x, fast = fn.args
    entry, rare, common = (fn.append_basic_block(s) for s in ("entry", "rare", "common"))
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_unsigned("!=", _rare_mask(b, spec, x), ir.IntType(width)(0)), rare, common)
    b.position_at_end(common)
    b.ret(fast)
    b.position_at_end(rare)
    helper = _rare_lanes(mod, scalar, spec, width)
    b.ret(b.call(helper, [x, fast], cconv=RARE_CONV))
    return fn


def _rare_mask(b: ir.IRBuilder, spec: RareSpec, x: Value) -> Value:
    """Bit i set where |x[i]| >= spec.threshold or x[i] is NaN (integer compare of |x|)."""
    width = x.type.count
    fmt = FORMATS[str(x.type.element)]
    vity = ir.VectorType(fmt.ity, width)
    magnitude = b.and_(b.bitcast(x, vity), ir.Constant(vity, [(1 << (fmt.width - 1)) - 1] * width))
    hit = b.icmp_unsigned(">=", magnitude, ir.Constant(vity, [_bits(fmt, spec.threshold)] * width))
    return b.bitcast(hit, ir.IntType(width))


def _rare_lanes(mod: ir.Module, scalar: ir.Function, spec: RareSpec, width: int) -> ir.Function:
    """`fix_vN_rare(x, fast)`: the scalar `fix` on the rare lanes, lowest first (a loop over
    the mask's set bits). Cold, and preserve_allcc: a call of it clobbers no register of the
    loop around it, so the loop keeps its constants in registers (the saving is paid here)."""
    ty = scalar.function_type.return_type
    vty, mty = ir.VectorType(ty, width), ir.IntType(width)
    fn = ir.Function(mod, ir.FunctionType(vty, [vty, vty]), f"{scalar.name}_v{width}_rare")
    fn.linkage = "internal"
    fn.calling_convention = RARE_CONV
    fn.attributes = FnAttrs(["noinline", "cold", "nounwind", "readnone", "willreturn"])
    x, fast = fn.args
    entry, head, done = (fn.append_basic_block(s) for s in ("entry", "lane", "done"))
    b = ir.IRBuilder(entry)
    mask = _rare_mask(b, spec, x)
    b.cbranch(b.icmp_unsigned("!=", mask, mty(0)), head, done)
    b.position_at_end(head)
    left, out = b.phi(mty), b.phi(vty)
    left.add_incoming(mask, entry)
    out.add_incoming(fast, entry)
    cttz = mod.declare_intrinsic("llvm.cttz", [mty], ir.FunctionType(mty, [mty, ir.IntType(1)]))
    lane = b.call(cttz, [left, ir.IntType(1)(1)])
    y = b.call(scalar, [b.extract_element(x, lane), b.extract_element(fast, lane)])
    new = b.insert_element(out, y, lane)
    rest = b.and_(left, b.sub(left, mty(1)))  # clear the lowest set bit
    left.add_incoming(rest, head)
    out.add_incoming(new, head)
    b.cbranch(b.icmp_unsigned("!=", rest, mty(0)), head, done)
    b.position_at_end(done)
    res = b.phi(vty)
    res.add_incoming(fast, entry)
    res.add_incoming(new, head)
    b.ret(res)
    return fn


def _bits(fmt: Fmt, value: float) -> int:
    """The IEEE bit pattern of `value` in the format."""
    return int.from_bytes(struct.pack("<f" if fmt.width == 32 else "<d", value), "little")


def _keep(mod: ir.Module, fns: list[ir.Function]) -> None:
    """Add functions to @llvm.compiler.used (created once per module, extended after)."""
    old = mod.globals.get(_USED)
    members = list(old.initializer.constant) if old is not None else []
    members += fns
    ty = ir.ArrayType(ir.PointerType(), len(members))
    if old is None:
        old = ir.GlobalVariable(mod, ty, _USED)
        old.linkage = "appending"
        old.section = "llvm.metadata"
    old.value_type = ty
    old.initializer = ir.Constant(ty, members)


@cache
def vector_bits() -> int:
    """The widest vector register of the host (what the loop vectorizer fills)."""
    try:
        from .llvm_host import features as host_features  # the compile worker's when it is on

        features = host_features()
    except (ImportError, RuntimeError):
        return 128
    return 512 if "+avx512f" in features else 256 if "+avx" in features else 128


def widths(ty: ir.Type) -> tuple[int, ...]:
    """The vector widths to provide: from 128-bit vectors up to the host's widest (a wider
    one would never be used; each costs compile time)."""
    bits = ELEMENT_BITS[str(ty)]
    return tuple(w for w in (2, 4, 8, 16) if 128 <= w * bits <= max(vector_bits(), 128))


def _define(mod: ir.Module, spec: RareSpec, ty: ir.Type) -> ir.Function:
    name = f"adjit_vecmath_{spec.name}_{ty}"
    if name in mod.globals:
        return mod.globals[name]
    scalar = _scalar(mod, spec, ty)
    _keep(mod, [_vector(mod, scalar, spec, w) for w in widths(ty)])
    return scalar


def rare_fixup(b: ir.IRBuilder, spec: RareSpec, x: Value, fast: Value) -> Value:
    """`fast`, or `spec.slow(x)` where |x| >= spec.threshold; vectorizes with a per-vector test."""
    fn = _define(b.module, spec, x.type)
    call = b.call(fn, [x, fast])
    variants = ",".join(f"_ZGV_LLVM_N{w}vv_{fn.name}({fn.name}_v{w})" for w in widths(x.type))
    call.attributes = _Attrs([f'"vector-function-abi-variant"="{variants}"'])
    return call


def inline_after_vectorizer(binding: Any, mod: Any, tm: Any) -> None:
    """Inline the vector functions the loop vectorizer called (alwaysinline, Note [rare slow
    paths]) into an optimized `binding.ModuleRef`: the per-vector test then sits in the loop
    and the loop calls nothing unless a lane is rare. A no-op for modules without them."""
    if not any(f.name.startswith(MARK) for f in mod.functions):
        return
    pb = binding.create_pass_builder(tm, binding.create_pipeline_tuning_options(speed_level=2))
    mpm = binding.create_new_module_pass_manager()
    mpm.add_always_inliner_pass()
    mpm.run(mod, pb)
