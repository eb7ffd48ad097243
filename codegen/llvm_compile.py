"""LLVM's part of compiling a kernel (``llvmlite.binding``): IR text -> optimized IR, machine code.

The same functions run in the compile worker (Note [compile worker] in ``worker.py``) and in
the user's process when the worker is off, so both produce the same bytes.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from . import shlib
from .llvm_host import OPT, llvm, target_machine


class BuildError(RuntimeError):
    """LLVM refused a kernel (invalid IR, a missing symbol): the message names the kernel;
    ``jit`` raises it as a ``CodegenError``."""


@cache
def shared_tm() -> Any:
    """The target machine used to optimize and print assembly (never an engine's)."""
    return target_machine()


@cache
def pic_tm() -> Any:
    """The target machine emitting position-independent objects for shared libraries."""
    return target_machine(pic=True)


def optimize(ir_text: str, name: str) -> Any:
    """The module parsed from ``ir_text``, verified and optimized for the host."""
    binding = llvm()
    try:
        # a context of its own, freed with the module: LLVM's global context keeps every type
        # and constant ever parsed (Note [unloading kernels] in jit.py)
        mod = binding.parse_assembly(ir_text, context=binding.create_context())
        mod.verify()
    except RuntimeError as e:
        raise BuildError(f"kernel {name}: invalid LLVM IR: {e}") from e
    tm = shared_tm()
    mod.triple, mod.data_layout = tm.triple, str(tm.target_data)
    pto = binding.create_pipeline_tuning_options(speed_level=OPT["speed_level"])
    for opt in ("loop_vectorization", "slp_vectorization", "loop_unrolling", "loop_interleaving"):
        setattr(pto, opt, OPT[opt])
    pb = binding.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    from .vecmath_rare import inline_after_vectorizer  # Note [rare slow paths]

    inline_after_vectorizer(binding, mod, tm)
    return mod


def check_symbols(optimized_ir: str, name: str, symbol: str) -> None:
    """The kernel's function must be defined, and every external resolvable (an unresolved
    one makes MCJIT code segfault on call): refuse either up front."""
    if not re.search(rf'^define [^@]*@"?{re.escape(symbol)}"?\(', optimized_ir, re.M):
        raise BuildError(f"kernel {name}: symbol {symbol} not found in its machine code")
    binding = llvm()
    for sym in re.findall(r'^declare [^@]*@"?([\w.$]+)"?\(', optimized_ir, re.M):
        if not sym.startswith("llvm.") and not binding.address_of_symbol(sym):
            raise BuildError(f"kernel {name}: unresolved external symbol {sym!r}")


def build(ir_text: str, name: str, symbol: str, shared: bool = True) -> tuple[str, str, bytes]:
    """(kind, optimized IR, code): a shared library (``"shared"``) when ``shared`` and the host
    can link one (Note [shared-library kernels]), else an object for MCJIT (``"object"``)."""
    mod = optimize(ir_text, name)
    optimized = str(mod)
    check_symbols(optimized, name, symbol)
    if shared and shlib.linker() is not None:
        try:
            return "shared", optimized, shlib.link(pic_tm().emit_object(mod), name)
        except shlib.LinkError:
            pass  # an object for MCJIT still works
    return "object", optimized, shared_tm().emit_object(mod)


def assembly(optimized_ir: str) -> str:
    """The host assembly of an optimized module's text."""
    binding = llvm()  # parsed in a context of its own, freed with the module
    mod = binding.parse_assembly(optimized_ir, context=binding.create_context())
    return str(shared_tm().emit_assembly(mod))
