"""JIT: LLVM IR text -> optimized machine code for the host CPU, cached in memory and on disk."""

from __future__ import annotations

import ctypes.util
import hashlib
import os
import re
import struct
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .lower import CodegenError

# optimization settings: part of every cache key
OPT = {"speed_level": 3, "loop_vectorization": True, "slp_vectorization": True,
       "loop_unrolling": True, "loop_interleaving": True}  # fmt: skip
_MAGIC = b"ADJITOBJ1\n"
_HEADER = struct.Struct("<10sQQ32s")  # magic, object length, IR length, sha256(object + IR)
# libm functions that LLVM intrinsics become calls to: MCJIT does not report a missing one
_LIBM = ("sin", "cos", "exp", "log", "tanh", "pow", "log1p", "erf")

STATS = {"compiles": 0, "disk_loads": 0, "memory_hits": 0, "corrupt": 0}
_LOCK = threading.RLock()
_MEMORY: dict[str, CompiledKernel] = {}


def cache_dir() -> Path:
    """``$ADJIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/adjit``, else ``~/.cache/adjit``."""
    if d := os.environ.get("ADJIT_CACHE_DIR"):
        return Path(d)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "adjit"


@cache
def _llvm() -> Any:
    """``llvmlite.binding``, initialized once (imported lazily: the import costs ~80 ms)."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    for name in _LIBM:
        if not (llvm.address_of_symbol(name) and llvm.address_of_symbol(name + "f")):
            llvm.load_library_permanently(ctypes.util.find_library("m") or "libm.so.6")
            break
    return llvm


def _target_machine() -> Any:
    """A fresh host target machine (an MCJIT engine takes ownership of the one it gets)."""
    llvm = _llvm()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=_features(),
        opt=3,
        jit=True,
    )


# LLVM tunes AVX-512 CPUs to prefer 256-bit vectors (clock-down worries); these kernels are
# long vectorized loops where the full width pays: allow 512-bit vectors where the CPU has them
TUNING = "-prefer-256-bit"


def _features() -> str:
    llvm = _llvm()
    flat = llvm.get_host_cpu_features().flatten()
    return f"{flat},{TUNING}" if "+avx512f" in flat else flat


@cache
def _shared_tm() -> Any:
    """The target machine used to optimize, emit objects and print assembly (never an engine's)."""
    return _target_machine()


@cache
def host_key() -> str:
    """Everything besides the IR that the machine code depends on."""
    import llvmlite

    llvm = _llvm()
    return "|".join(
        [
            llvmlite.__version__,
            llvm.get_process_triple(),
            llvm.get_host_cpu_name(),
            _features(),
            repr(sorted(OPT.items())),
        ]
    )


@dataclass(eq=False)
class CompiledKernel:
    """Machine code for one kernel; ``engine`` owns the code and must outlive every call."""

    name: str
    address: int
    ir: str  # as lowered
    optimized_ir: str
    engine: Any = field(repr=False)
    source: str = "compiled"  # or "disk" / "memory"

    @property
    def asm(self) -> str:
        """The host assembly (generated on request)."""
        with _LOCK:
            return _shared_tm().emit_assembly(_llvm().parse_assembly(self.optimized_ir))


def _optimize(ir_text: str, name: str) -> Any:
    llvm = _llvm()
    try:
        mod = llvm.parse_assembly(ir_text)
        mod.verify()
    except RuntimeError as e:
        raise CodegenError(f"kernel {name}: invalid LLVM IR: {e}") from e
    tm = _shared_tm()
    mod.triple, mod.data_layout = tm.triple, str(tm.target_data)
    pto = llvm.create_pipeline_tuning_options(speed_level=OPT["speed_level"])
    for opt in ("loop_vectorization", "slp_vectorization", "loop_unrolling", "loop_interleaving"):
        setattr(pto, opt, OPT[opt])
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod


def _check_symbols(optimized_ir: str, name: str) -> None:
    """An unresolved external makes MCJIT code segfault on call: refuse it up front."""
    llvm = _llvm()
    for sym in re.findall(r'^declare [^@]*@"?([\w.$]+)"?\(', optimized_ir, re.M):
        if not sym.startswith("llvm.") and not llvm.address_of_symbol(sym):
            raise CodegenError(f"kernel {name}: unresolved external symbol {sym!r}")


def _load(obj: bytes, name: str, symbol: str) -> tuple[Any, int]:
    llvm = _llvm()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _target_machine())
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    address = engine.get_function_address(symbol)
    if not address:
        raise CodegenError(f"kernel {name}: symbol {symbol} not found in its machine code")
    return engine, address


def _entry_path(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.kernel"


def _read_entry(path: Path) -> tuple[bytes, str] | None:
    """(object, optimized IR) if the file is complete and its checksum matches, else None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < _HEADER.size:
        return _corrupt(path)
    magic, n_obj, n_ir, digest = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if magic != _MAGIC or len(body) != n_obj + n_ir or hashlib.sha256(body).digest() != digest:
        return _corrupt(path)
    return body[:n_obj], body[n_obj:].decode()


def _corrupt(path: Path) -> None:
    STATS["corrupt"] += 1
    return None


def _write_entry(path: Path, obj: bytes, optimized_ir: str) -> None:
    body = obj + optimized_ir.encode()
    header = _HEADER.pack(_MAGIC, len(obj), len(body) - len(obj), hashlib.sha256(body).digest())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(header + body)
        os.replace(tmp, path)  # atomic: readers see the old entry or the whole new one
    except OSError:
        pass  # a read-only cache dir only costs recompiles


def compile_ir(ir_text: str, name: str, symbol: str, disk: bool = True) -> CompiledKernel:
    """Machine code for ``symbol`` in ``ir_text``: from memory, from disk, or compiled."""
    key = hashlib.sha256(f"{host_key()}\n{ir_text}".encode()).hexdigest()
    with _LOCK:
        if (hit := _MEMORY.get(key)) is not None:
            STATS["memory_hits"] += 1
            return hit
        path = _entry_path(key)
        entry = _read_entry(path) if disk else None
        if entry is not None:
            obj, optimized = entry
            source = "disk"
            STATS["disk_loads"] += 1
        else:
            mod = _optimize(ir_text, name)
            optimized = str(mod)
            obj = _shared_tm().emit_object(mod)
            source = "compiled"
            STATS["compiles"] += 1
            if disk:
                _write_entry(path, obj, optimized)
        _check_symbols(optimized, name)
        engine, address = _load(obj, name, symbol)
        kernel = CompiledKernel(name, address, ir_text, optimized, engine, source)
        _MEMORY[key] = kernel
        return kernel


def clear_memory_cache() -> None:
    """Forget in-memory kernels (their engines live on while a caller still holds them)."""
    with _LOCK:
        _MEMORY.clear()
