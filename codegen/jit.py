"""JIT: LLVM IR text -> optimized machine code for the host CPU, cached in memory and on disk."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import shlib, worker
from .cache_store import STATS, cache_dir, disabled, read_entry, write_entry
from .llvm_host import OPT, TUNING, host_key, llvm, resolved_host_key, target_machine

__all__ = [
    "OPT",
    "STATS",
    "TUNING",
    "CompiledKernel",
    "cache_dir",
    "compile_ir",
    "host_key",
    "loaded_count",
]

_LOCK = threading.RLock()
# Note [unloading kernels]: the kernels loaded in this process by key, held weakly. What holds
# a kernel is whatever can call it (a KernelRunner, hence an Executable, hence a compiled
# function's entry, a trampoline or a grad_fn of a live tensor): Python's reference count is the
# kernel's. When the last holder goes, the kernel's finalizer unloads its code (``dlclose`` of
# its shared library, or the MCJIT engine closed), so its memory and mappings are returned; a
# later miss loads it from the disk cache again. A kernel some live object can still call is
# never unloaded, and two functions needing the same kernel share one loaded copy. What a cold
# compile leaves behind in LLVM is not ours to free: llvmlite's pass pipeline keeps ~65 KiB per
# kernel optimized (building one ~30 KiB, running it ~35 KiB, measured with llvmlite 0.50 even
# when closed explicitly), so LLVM's part runs in a compile worker process that is recycled
# (Note [compile worker] in worker.py); this process loads the shared library it returns as it
# loads one from the disk cache.
_MEMORY: weakref.WeakValueDictionary[str, CompiledKernel] = weakref.WeakValueDictionary()
_LOADED = [0]  # kernels loaded and not yet unloaded
# called (outside the lock) after a load with the number of loaded kernels: the frontend's
# process-wide cap (frontend/cache.py) evicts compiled entries when it is over
ON_LOAD: list[Callable[[int], None]] = []
# what ``build`` gives ``cached``: (LLVM IR text, the function's symbol, metadata to store,
# whether the result may be stored on disk)
Built = tuple[str, str, dict[str, Any], bool]


def codegen_error() -> type[Exception]:
    """``lower.CodegenError``, imported only when needed (``lower`` imports ``llvmlite.ir``):
    ``except codegen_error():`` evaluates it only when an exception is being matched."""
    from .lower import CodegenError

    return CodegenError


def _build_error(e: Exception) -> Exception:
    return codegen_error()(str(e))


class CompiledKernel:
    """Machine code for one kernel; ``engine`` (an MCJIT engine or a loaded shared library)
    owns the code, which is unloaded when this object is collected (Note [unloading kernels]):
    whatever calls ``address`` must hold this object."""

    __slots__ = (
        "name", "address", "ir", "optimized_ir", "engine", "source", "meta", "__weakref__"
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        address: int,
        ir: str,
        optimized_ir: str,
        engine: Any,
        source: str,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.name, self.address, self.engine = name, address, engine
        self.ir, self.optimized_ir = ir, optimized_ir  # as lowered; as optimized
        self.source = source  # "compiled" or "disk"
        self.meta = meta if meta is not None else {}  # what the disk entry stores with it
        with _LOCK:
            _LOADED[0] += 1
        weakref.finalize(self, _unload, engine).atexit = False  # exit: the OS unmaps it

    def __repr__(self) -> str:
        return f"CompiledKernel({self.name!r}, source={self.source!r})"

    @property
    def asm(self) -> str:
        """The host assembly (generated on request: by the compile worker when it is on)."""
        if worker.enabled():
            with contextlib.suppress(worker.Unavailable):
                return worker.assembly(self.optimized_ir, self.name)
        from .llvm_compile import assembly

        with _LOCK:
            return assembly(self.optimized_ir)


def _unload(engine: Any) -> None:
    """Release a collected kernel's code: its shared library closed, its MCJIT engine freed."""
    with _LOCK:
        _LOADED[0] -= 1
    if isinstance(engine, shlib.ctypes.CDLL):
        shlib.unload(engine)
    elif hasattr(engine, "close"):
        engine.close()  # llvmlite's ExecutionEngine: its code and memory manager freed
    STATS["unloads"] += 1


def loaded_count() -> int:
    """The number of kernels whose code is loaded in this process now."""
    return _LOADED[0]


def _check_symbols(optimized_ir: str, name: str, symbol: str) -> None:
    from .llvm_compile import BuildError, check_symbols

    try:
        check_symbols(optimized_ir, name, symbol)
    except BuildError as e:
        raise _build_error(e) from e


def _load_mcjit(obj: bytes, name: str, symbol: str) -> tuple[Any, int]:
    binding = llvm()
    engine = binding.create_mcjit_compiler(binding.parse_assembly(""), target_machine())
    engine.add_object_file(binding.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    address = engine.get_function_address(symbol)
    if not address:
        raise codegen_error()(f"kernel {name}: symbol {symbol} not found in its machine code")
    return engine, address


def _load(meta: dict[str, Any], code: bytes, name: str, optimized: str) -> tuple[Any, int]:
    """(owner, address) of the entry's code: a shared library by ctypes, an object by MCJIT."""
    if meta["kind"] == "shared":
        return shlib.load(code, name, meta["symbol"], _scratch())
    _check_symbols(optimized, name, meta["symbol"])
    return _load_mcjit(code, name, meta["symbol"])


def _build_here(ir_text: str, name: str, symbol: str, shared: bool) -> tuple[str, str, bytes]:
    """``llvm_compile.build`` in this process (the compile worker off or unavailable)."""
    from .llvm_compile import BuildError, build

    try:
        return build(ir_text, name, symbol, shared)
    except BuildError as e:
        raise _build_error(e) from e


def _build_code(ir_text: str, name: str, symbol: str, shared: bool) -> tuple[str, str, bytes]:
    """(kind, optimized IR, code): LLVM's part, in the compile worker when it is on (Note
    [compile worker] in worker.py), else here."""
    if worker.enabled():
        with contextlib.suppress(worker.Unavailable):
            return worker.compile_kernel(ir_text, name, symbol, shared)
    return _build_here(ir_text, name, symbol, shared)


def _compile(ir_text: str, name: str, symbol: str) -> tuple[str, str, bytes, Any, int]:
    """Optimize and emit: (kind, optimized IR, code, owner, address). A shared library when
    the host can link one (Note [shared-library kernels]), else an object for MCJIT."""
    kind, optimized, code = _build_code(ir_text, name, symbol, True)
    if kind == "shared":
        try:
            return (kind, optimized, code, *shlib.load(code, name, symbol, _scratch()))
        except shlib.LinkError:  # e.g. no writable directory to load it from: MCJIT below
            kind, optimized, code = _build_code(ir_text, name, symbol, False)
    return ("object", optimized, code, *_load_mcjit(code, name, symbol))


def _scratch() -> list[Path]:
    """Where shared libraries are written to be loaded, best first: the cache dir when it is
    writable, then the temporary directory (Note [best-effort cache])."""
    import tempfile

    tmp = Path(tempfile.gettempdir())
    if disabled():
        return [tmp]
    d = cache_dir()
    with contextlib.suppress(OSError):
        d.mkdir(parents=True, exist_ok=True)
    return [d, tmp] if d.is_dir() and os.access(d, os.W_OK) else [tmp]


def _key(host: str, key_text: str) -> str:
    return hashlib.sha256(f"{host}\n{key_text}".encode()).hexdigest()


def entry_path(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.kernel"


def _from_disk(
    path: Path, key: str, host: str, name: str
) -> tuple[dict[str, Any], CompiledKernel] | None:
    """The entry at ``path``, loaded, if it is intact, complete, made for ``key`` (Note
    [kernel keys]) and ``host``, and loadable."""
    entry = read_entry(path)
    if entry is None:
        return None
    meta, blobs = entry.meta, entry.blobs
    if meta.get("key") != key:  # an intact entry of another kernel: never run it
        STATS["mismatched"] += 1
        return None
    if meta.get("host") != host or meta.get("kind") not in ("shared", "object"):
        return None
    if not all(isinstance(blobs.get(b), bytes) for b in ("code", "ir", "optimized_ir")):
        return None
    optimized = blobs["optimized_ir"].decode()
    try:
        owner, address = _load(meta, blobs["code"], name, optimized)
    except shlib.LinkError:
        return None  # e.g. a library needing a symbol this process lacks: rebuild it
    STATS["disk_loads"] += 1
    kernel = CompiledKernel(name, address, blobs["ir"].decode(), optimized, owner, "disk", meta)
    return meta, kernel


def _build(
    key_text: str, name: str, build: Callable[[], Built], disk: bool
) -> tuple[dict[str, Any], CompiledKernel]:
    ir_text, symbol, extra, storable = build()
    kind, optimized, code, owner, address = _compile(ir_text, name, symbol)
    STATS["compiles"] += 1
    # the host that compiled it (differs from the one looked up only if the record was stale)
    # and the key the entry is stored under, which a load checks (Note [kernel keys])
    host = host_key()
    key = _key(host, key_text)
    meta = {**extra, "host": host, "key": key, "kind": kind, "symbol": symbol}
    if disk and storable:
        blobs = {"code": code, "ir": ir_text.encode(), "optimized_ir": optimized.encode()}
        write_entry(entry_path(key), meta, blobs)
    return meta, CompiledKernel(name, address, ir_text, optimized, owner, "compiled", meta)


def cached(
    key_text: str, name: str, build: Callable[[], Built], disk: bool = True
) -> tuple[dict[str, Any], CompiledKernel]:
    """(metadata, machine code) of the kernel that ``key_text`` determines together with the
    host: from memory, else from disk, else ``build()`` (lowering) and compile it."""
    host = resolved_host_key()
    key = _key(host, key_text)
    with _LOCK:
        kernel = _MEMORY.get(key)
        if kernel is not None:
            STATS["memory_hits"] += 1
            return kernel.meta, kernel
        hit = _from_disk(entry_path(key), key, host, name) if disk else None
        hit = hit or _build(key_text, name, build, disk)
        _MEMORY[key] = hit[1]
    for hook in ON_LOAD:  # outside the lock: it may evict (and so unload) other kernels
        hook(_LOADED[0])
    return hit


def compile_ir(ir_text: str, name: str, symbol: str, disk: bool = True) -> CompiledKernel:
    """Machine code for ``symbol`` in ``ir_text``: from memory, from disk, or compiled."""
    return cached(f"ir\n{symbol}\n{ir_text}", name, lambda: (ir_text, symbol, {}, True), disk)[1]


def clear_memory_cache() -> None:
    """Forget in-memory kernels (their code lives on while a caller still holds them, and is
    unloaded when the last holder goes)."""
    with _LOCK:
        _MEMORY.clear()
