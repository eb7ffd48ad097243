"""Test-only JIT: wrap a vecmath emitter in an elementwise loop, optimize at O3, call on arrays."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass

import llvmlite.binding as llvm
import numpy as np
from adjit.codegen.vecmath_rare import inline_after_vectorizer
from llvmlite import ir

IR_TYPES: dict[type, Callable[[], ir.Type]] = {np.float32: ir.FloatType, np.float64: ir.DoubleType}


def _target_machine() -> llvm.TargetMachine:
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=3,
        jit=True,
    )


def build_loop(emit: Callable[..., ir.Value], dtype: type, n_in: int) -> ir.Module:
    """`void kernel(T* out, T* in0, ..., int64 n)`: out[i] = emit(builder, in0[i], ...)."""
    ty = IR_TYPES[dtype]()
    i64 = ir.IntType(64)
    mod = ir.Module(name="vecmath_test")
    mod.triple = llvm.get_process_triple()
    fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType()] * (1 + n_in) + [i64])
    fn = ir.Function(mod, fnty, name="kernel")
    *ptrs, n = fn.args
    for p in ptrs:
        p.add_attribute("noalias")
    entry, body, done = (fn.append_basic_block(s) for s in ("entry", "body", "done"))
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_signed(">", n, i64(0)), body, done)
    b.position_at_end(body)
    i = b.phi(i64)
    i.add_incoming(i64(0), entry)
    xs = [b.load(b.gep(p, [i], source_etype=ty), typ=ty) for p in ptrs[1:]]
    b.store(emit(b, *xs), b.gep(ptrs[0], [i], source_etype=ty))
    nxt = b.add(i, i64(1))
    i.add_incoming(nxt, body)
    b.cbranch(b.icmp_signed("<", nxt, n), body, done)
    b.position_at_end(done)
    b.ret_void()
    return mod


@dataclass
class Kernel:
    """A compiled loop; keeps its engine alive while the ctypes function can be called."""

    engine: llvm.ExecutionEngine
    cfunc: Callable[..., None]
    optimized_ir: str
    dtype: type

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        arrs = [np.ascontiguousarray(a, dtype=self.dtype) for a in inputs]
        out = np.empty_like(arrs[0])
        self.cfunc(out.ctypes.data, *(a.ctypes.data for a in arrs), out.size)
        return out


def compile_loop(emit: Callable[..., ir.Value], dtype: type, n_in: int = 1) -> Kernel:
    """Build, verify, optimize (O3, loop + SLP vectorization, host CPU) and JIT with MCJIT."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    mod = llvm.parse_assembly(str(build_loop(emit, dtype, n_in)))
    mod.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pto.loop_unrolling = True
    pto.loop_interleaving = True
    pb = llvm.create_pass_builder(_target_machine(), pto)
    pb.getModulePassManager().run(mod, pb)
    inline_after_vectorizer(llvm, mod, _target_machine())  # as codegen/jit.py does
    engine = llvm.create_mcjit_compiler(mod, _target_machine())
    engine.finalize_object()
    addr = engine.get_function_address("kernel")
    assert addr, "kernel not found in the JIT"
    proto = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * (1 + n_in), ctypes.c_int64)
    return Kernel(engine, proto(addr), str(mod), dtype)


def ordered(a: np.ndarray) -> np.ndarray:
    """Map floats to integers whose order matches the floats' (so -0 == +0)."""
    a = np.asarray(a)
    ity = {4: np.int32, 8: np.int64}[a.dtype.itemsize]
    bits = a.view(ity).astype(np.int64)
    return np.where(bits < 0, np.iinfo(ity).min - bits, bits)


def ulp_distance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Ulps between two arrays of one float type; 0 where both are NaN, huge if one is."""
    d = np.abs(ordered(got) - ordered(want))
    both_nan = np.isnan(got) & np.isnan(want)
    one_nan = np.isnan(got) ^ np.isnan(want)
    return np.where(both_nan, 0, np.where(one_nan, np.iinfo(np.int64).max, d))
