"""A compiled fused multiply-add over arrays for eager mode: ``out = x * y + z`` rounded once."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

import numpy as np
from llvmlite import ir

from .addresses import address
from .counted import for_range
from .jit import CompiledKernel, codegen_error, compile_ir

# Note [eager fma]
# Eager FMA (Note [fused multiply-add] in ir/reference.py) emulated with NumPy (ir/fp_exact.py)
# costs a dozen passes: float32 add with alpha on 1M elements took 10 ms (40 ms with alpha 0.5,
# whose sums often land on float32 midpoints), float64 70 ms, against 1.6 ms for a multiply and
# an add. This loop calls llvm.fma per element (a vfmadd instruction where the CPU has one,
# libm's correctly rounded fma elsewhere): the same bits, in one pass. Each operand is either a
# whole C-contiguous array of the output's shape or a single value (stride 0); anything else
# (other broadcasts, strided views) keeps the emulation.

I64 = ir.IntType(64)
_FLOATS = {
    np.dtype(np.float32): (ir.FloatType(), ctypes.c_float, "float32"),
    np.dtype(np.float64): (ir.DoubleType(), ctypes.c_double, "float64"),
}


def _emit(dtype: np.dtype) -> tuple[str, str]:
    """LLVM IR of ``void f(ptr x, ptr y, ptr z, ptr out, i64 n, i64 sx, i64 sy, i64 sz)``,
    the strides 1 (an array) or 0 (one value)."""
    ft, _, name = _FLOATS[dtype]
    symbol = f"adjit_fma_{name}"
    mod = ir.Module(name=symbol)
    fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType()] * 4 + [I64] * 4)
    fn = ir.Function(mod, fnty, symbol)
    fn.attributes.add("nounwind")
    x, y, z, out, n, *strides = fn.args
    out.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    fma = mod.declare_intrinsic("llvm.fma", [ft], ir.FunctionType(ft, [ft] * 3))
    with for_range(b, ir.Constant(I64, 0), n, "i") as i:
        values = [
            b.load(b.gep(ptr, [b.mul(i, s)], source_etype=ft), typ=ft)
            for ptr, s in zip((x, y, z), strides, strict=True)
        ]
        b.store(b.call(fma, values), b.gep(out, [i], source_etype=ft))
    b.ret_void()
    return str(mod), symbol


@cache
def _kernel(dtype: np.dtype) -> tuple[CompiledKernel, Callable[..., None]] | None:
    """The compiled loop for ``dtype``, or None without LLVM for this host."""
    text, symbol = _emit(dtype)
    try:
        code = compile_ir(text, symbol, symbol)
    except codegen_error():
        return None
    proto = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 4, *[ctypes.c_int64] * 4)
    return code, proto(code.address)  # the code object keeps the function alive


def fma(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray | None:
    """``x * y + z`` rounded once, in the operands' common float32/float64 dtype (each a whole
    C-contiguous array of the broadcast shape, or a single value); None when it cannot take
    them (the caller emulates)."""
    arrays = [np.asarray(a) for a in (x, y, z)]
    dtype = arrays[0].dtype
    if dtype not in _FLOATS or any(a.dtype != dtype for a in arrays):
        return None
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    strides = []
    for a in arrays:
        if a.size == 1:
            strides.append(0)
        elif a.shape == shape and a.flags.c_contiguous:
            strides.append(1)
        else:
            return None
    kernel = _kernel(dtype)
    if kernel is None:
        return None
    out = np.empty(shape, dtype)
    if out.size:
        # a single value is read at offset 0: a size-1 array of any shape is contiguous
        arrays = [np.ascontiguousarray(a) for a in arrays]
        kernel[1](*(address(a) for a in arrays), address(out), out.size, *strides)
    return out
