"""Compiled Adam/AdamW step: one pass over (param, grad, exp_avg, exp_avg_sq), in place."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

import numpy as np
from llvmlite import ir

from .counted import for_range
from .jit import CompiledKernel, codegen_error, compile_ir

# Note [one-pass Adam]
# The eager Adam/AdamW step on arrays (adjit/optim/adam.py ``_update_arrays``) is about
# fourteen NumPy passes per parameter (the decay, lerp's three, the second moment's four, the
# denominator's three, addcdiv's three), each reading and writing whole arrays: 3.3 ms of CPU
# for the transformer block's 0.8 M parameters. This loop makes one pass and computes, per
# element, the same float operations in the same order with the same scalars (each rounded to
# the array's dtype first, as NumPy rounds a Python float meeting a float32 array): IEEE
# multiplies, adds, divides, a correctly rounded sqrt and, where PyTorch's kernels fuse (lerp,
# addcmul: Note [fused multiply-add] in ir/reference.py), llvm.fma; nothing else contracted
# (no fast-math flags), so every bit agrees with the eager passes, which are PyTorch's:
#
#     p = p * decay                                  (decoupled weight decay, when on)
#     d = g - m;  m = fma(w, d, m)  (|w| < 0.5)  else  m = fma(w - 1, d, g)   (lerp_)
#     v = fma(g * c2, g, v * beta2)                  (mul_, then addcmul_)
#     p = p + (m * step) / (sqrt(v) / bc2 + eps)     (addcdiv_)

I64 = ir.IntType(64)
_TYPES: dict[str, ir.Type] = {"float32": ir.FloatType(), "float64": ir.DoubleType()}
_CTYPES = {"float32": ctypes.c_float, "float64": ctypes.c_double}
_NAMES = {np.dtype(name): name for name in _TYPES}
SCALARS = ("decay", "w", "beta2", "c2", "bc2", "eps", "step")


def _emit(dtype: str, decay: bool, small: bool) -> tuple[str, str]:
    """LLVM IR of ``void f(ptr p, ptr g, ptr m, ptr v, i64 n, T decay, T w, T beta2, T c2,
    T bc2, T eps, T step)`` (Note [one-pass Adam])."""
    t = _TYPES[dtype]
    symbol = f"adjit_adam_{dtype}_{int(decay)}{int(small)}"
    mod = ir.Module(name=symbol)
    fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType()] * 4 + [I64] + [t] * len(SCALARS))
    fn = ir.Function(mod, fnty, symbol)
    fn.attributes.add("nounwind")
    p, g, m, v, n, *scalars = fn.args
    s = dict(zip(SCALARS, scalars, strict=True))
    for a in (p, g, m, v):
        a.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    sqrt = mod.declare_intrinsic("llvm.sqrt", [t])
    fma = mod.declare_intrinsic("llvm.fma", [t], ir.FunctionType(t, [t] * 3))
    with for_range(b, ir.Constant(I64, 0), n, "i") as i:
        ptrs = zip("pgmv", (p, g, m, v), strict=True)
        at = {name: b.gep(ptr, [i], source_etype=t) for name, ptr in ptrs}
        pv, gv, mv, vv = (b.load(at[name], typ=t) for name in "pgmv")
        if decay:
            pv = b.fmul(pv, s["decay"])
        d = b.fsub(gv, mv)
        mv = b.call(fma, [s["w"], d, mv if small else gv])
        vv = b.call(fma, [b.fmul(gv, s["c2"]), gv, b.fmul(vv, s["beta2"])])
        denom = b.fadd(b.fdiv(b.call(sqrt, [vv]), s["bc2"]), s["eps"])
        pv = b.fadd(pv, b.fdiv(b.fmul(mv, s["step"]), denom))
        for name, value in zip("pmv", (pv, mv, vv), strict=True):
            b.store(value, at[name])
    b.ret_void()
    return str(mod), symbol


@cache
def _kernel(dtype: str, decay: bool, small: bool) -> tuple[CompiledKernel, Callable[..., None]]:
    text, symbol = _emit(dtype, decay, small)
    code = compile_ir(text, symbol, symbol)
    c = _CTYPES[dtype]
    signature = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 4, ctypes.c_int64, *[c] * 7)
    return code, signature(code.address)  # the code object keeps the function alive


@cache
def _available(dtype: str) -> bool:
    try:
        _kernel(dtype, True, True)
    except codegen_error():  # no LLVM for this host: the caller takes the NumPy passes
        return False
    return True


def supported(*arrays: np.ndarray) -> bool:
    """Whether the arrays (param, grad, exp_avg, exp_avg_sq) can take the compiled step: one
    float dtype, one shape, C-contiguous, the updated ones writeable, no two overlapping."""
    p = arrays[0]
    dt, shape = p.dtype, p.shape
    if dt not in _NAMES or any(
        a.dtype != dt or a.shape != shape or not a.flags.c_contiguous for a in arrays
    ):
        return False
    if not (p.flags.writeable and arrays[2].flags.writeable and arrays[3].flags.writeable):
        return False
    for i, a in enumerate(arrays):
        if any(np.may_share_memory(a, o) for o in arrays[i + 1 :]):
            return False
    return _available(_NAMES[dt])


def adam_(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, *, decay: float | None,
          w: float, beta2: float, c2: float, bc2: float, eps: float,
          step: float) -> None:  # fmt: skip
    """The step of Note [one-pass Adam] on ``supported`` arrays, in place; ``decay`` None: no
    decoupled decay; ``w`` lerp's weight (1 - beta1). Scalars are Python floats, rounded here
    to the arrays' dtype; lerp's branch is taken on the rounded weight, and its w - 1 computed
    in the dtype, as PyTorch's kernel does."""
    dt = p.dtype.type
    weight = dt(w)
    small = bool(abs(weight) < 0.5)
    coefficient = weight if small else dt(weight - dt(1))
    fn = _kernel(_NAMES[p.dtype], decay is not None, small)[1]
    values = (1.0 if decay is None else decay, coefficient, beta2, c2, bc2, eps, step)
    fn(p.ctypes.data, g.ctypes.data, m.ctypes.data, v.ctypes.data, p.size,
       *(float(dt(x)) for x in values))  # fmt: skip
