"""Fused in-place optimizer updates: an SGD step as one pass over a parameter's memory."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
from llvmlite import ir

from .addresses import address
from .counted import for_range
from .jit import CompiledKernel, codegen_error, compile_ir

# Note [fused updates]
# SGD with momentum as NumPy ufuncs is four passes over each parameter (buf *= m; buf += c*g;
# t = a*buf; p += t): ten array streams, and resnet18's 11.7M parameters took 26 ms a step
# (PyTorch's foreach SGD: 20 ms). This loop does per element exactly the roundings of PyTorch's
# ``buf.mul_(m).add_(g, alpha=c)`` and ``p.add_(buf, alpha=a)``, whose add with alpha is one
# fma (Note [add with alpha] in runtime/ops_elementwise.py): b = fma(g, c, fl(b*m));
# p = fma(b, a, p), every scalar rounded to the dtype first, in one pass that reads g, b and p
# and writes b and p: five streams. Multiplying by c = 1 (no dampening) is exact, so one loop
# serves both. Without momentum it is p = fma(g, a, p): three streams instead of five. The fma
# is llvm.fma (correctly rounded: the eager FMA primitive's bits); the IR carries no fast-math
# flags, so LLVM contracts nothing else.

I64 = ir.IntType(64)
_FLOATS = {
    "float32": (ir.FloatType(), ctypes.c_float),
    "float64": (ir.DoubleType(), ctypes.c_double),
}


def _emit(momentum: bool, dtype: str) -> tuple[str, str]:
    """LLVM IR of ``void f(ptr p, ptr b, ptr g, i64 n, T m, T c, T a)``; its symbol."""
    ft = _FLOATS[dtype][0]
    symbol = f"adjit_sgd_{'momentum' if momentum else 'plain'}_{dtype}"
    mod = ir.Module(name=symbol)
    fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType()] * 3 + [I64, ft, ft, ft])
    fn = ir.Function(mod, fnty, symbol)
    fn.attributes.add("nounwind")
    p, buf, g, n, m, c, a = fn.args
    for ptr in (p, buf, g):
        ptr.add_attribute("noalias")  # the caller checks that the three do not overlap
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    fma = mod.declare_intrinsic("llvm.fma", [ft], ir.FunctionType(ft, [ft] * 3))
    with for_range(b, ir.Constant(I64, 0), n, "i") as i:
        at = {
            name: b.gep(ptr, [i], source_etype=ft) for name, ptr in (("p", p), ("b", buf), ("g", g))
        }
        step = b.load(at["g"], typ=ft)
        if momentum:
            new = b.call(fma, [step, c, b.fmul(b.load(at["b"], typ=ft), m)])
            b.store(new, at["b"])
            step = new
        b.store(b.call(fma, [step, a, b.load(at["p"], typ=ft)]), at["p"])
    b.ret_void()
    return str(mod), symbol


@cache
def _kernel(momentum: bool, dtype: str) -> tuple[CompiledKernel, Callable[..., None]]:
    text, symbol = _emit(momentum, dtype)
    code = compile_ir(text, symbol, symbol)
    scalar = _FLOATS[dtype][1]
    proto = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3, ctypes.c_int64, scalar, scalar, scalar)
    return code, proto(code.address)  # the code object keeps the function alive


@cache
def _available(momentum: bool, dtype: str) -> bool:
    try:
        _kernel(momentum, dtype)
    except codegen_error():  # no LLVM for this host: the caller keeps NumPy's passes
        return False
    return True


def sgd_(p: np.ndarray, buf: np.ndarray | None, g: np.ndarray, momentum: float, dampening: float,
         lr: float) -> bool:  # fmt: skip
    """``buf = buf * momentum + (1 - dampening) * g; p += -lr * buf`` (or ``p += -lr * g``
    without ``buf``) in place, in one pass (Note [fused updates]). False, having done nothing,
    when the arrays are not distinct, C-contiguous arrays of one float dtype and shape.
    (Written for speed: an MLP's step calls it per parameter; ``dtype.name`` and
    ``np.may_share_memory`` cost microseconds each.)"""
    fn = _FNS.get((buf is not None, p.dtype), _UNSET)
    if fn is _UNSET:
        fn = _function(buf is not None, p.dtype)
    if fn is None:
        return False
    arrays = (p, g) if buf is None else (p, buf, g)
    dtype, shape = p.dtype, p.shape
    for x in arrays:
        if x.dtype != dtype or x.shape != shape or not x.flags.c_contiguous:
            return False
    if not p.flags.writeable or (buf is not None and not buf.flags.writeable):
        return False
    # C-contiguous arrays of one size: each is the byte range [address, address + n)
    n = p.nbytes
    ptrs = [address(x) for x in arrays]  # Note [data addresses]
    for i, a in enumerate(ptrs):
        for b in ptrs[i + 1 :]:
            if a < b + n and b < a + n:
                return False
    fn(ptrs[0], None if buf is None else ptrs[1], ptrs[-1], p.size, momentum, 1 - dampening, -lr)
    return True


_UNSET = object()
_FNS: dict[tuple[bool, np.dtype], Any] = {}  # (momentum, dtype) -> the kernel, or None


def _function(momentum: bool, dtype: np.dtype) -> Any:
    """The compiled update for ``dtype`` (native byte order only), or None (cached)."""
    name = next((k for k in _FLOATS if np.dtype(k) == dtype), None)
    fn = None
    if name is not None and _available(momentum, name):
        fn = _kernel(momentum, name)[1]
    _FNS[(momentum, dtype)] = fn
    return fn
