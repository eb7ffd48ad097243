"""The host as LLVM sees it (lazily imported ``llvmlite.binding``), and its cache keys.

Note [host keys]: machine code depends on the llvmlite version, the target triple, LLVM's CPU
name and feature string and the optimization settings: ``host_key()`` names all of them, but
computing it needs ``llvmlite.binding`` (60-95 ms to import). ``cheap_host_key()`` names the
same host from what the OS reports (llvmlite's version, ``/proc/cpuinfo``'s model and flags,
the settings) in well under a millisecond. The cache directory remembers which full key each
cheap key stood for (``hosts/<cheap>.host``, a checksummed entry written whenever the full key
is computed, naming the cheap key it is for: a record under another name is ignored), so a
process with a warm cache names its kernels' entries by the full key without importing
``llvmlite.binding``.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

from .cache_store import cache_dir, read_entry, write_entry

# optimization settings: part of every cache key
OPT = {"speed_level": 3, "loop_vectorization": True, "slp_vectorization": True,
       "loop_unrolling": True, "loop_interleaving": True}  # fmt: skip
# LLVM tunes AVX-512 CPUs to prefer 256-bit vectors (clock-down worries); these kernels are
# long vectorized loops where the full width pays: allow 512-bit vectors where the CPU has them
TUNING = "-prefer-256-bit"
# libm functions that LLVM intrinsics become calls to: MCJIT does not report a missing one
_LIBM = ("sin", "cos", "exp", "log", "tanh", "pow", "log1p", "erf", "atan2")
_CPUINFO_FIELDS = ("vendor_id", "cpu family", "model", "model name", "stepping", "flags")


@cache
def llvm() -> Any:
    """``llvmlite.binding``, initialized once (imported lazily: the import costs ~80 ms)."""
    import ctypes.util

    import llvmlite.binding as binding

    binding.initialize_native_target()
    binding.initialize_native_asmprinter()
    for name in _LIBM:
        if not (binding.address_of_symbol(name) and binding.address_of_symbol(name + "f")):
            binding.load_library_permanently(ctypes.util.find_library("m") or "libm.so.6")
            break
    return binding


def _remote(what: str) -> str | None:
    """``what`` ("host" or "features") from the compile worker's LLVM, so this process need
    not import ``llvmlite.binding`` (Note [compile worker] in worker.py); None when it is off."""
    from . import worker

    info = worker.host_info() if worker.enabled() else None
    return None if info is None else info[what]


@cache
def features() -> str:
    """LLVM's feature string of the host CPU (with ``TUNING`` on AVX-512 CPUs)."""
    if (remote := _remote("features")) is not None:
        return remote
    flat = llvm().get_host_cpu_features().flatten()
    return f"{flat},{TUNING}" if "+avx512f" in flat else flat


def target_machine(pic: bool = False) -> Any:
    """A fresh host target machine (an MCJIT engine takes ownership of the one it gets);
    ``pic``: position-independent code for a shared library, else code for MCJIT."""
    binding = llvm()
    target = binding.Target.from_triple(binding.get_process_triple())
    kind = {"reloc": "pic", "codemodel": "default"} if pic else {"jit": True}
    return target.create_target_machine(
        cpu=binding.get_host_cpu_name(), features=features(), opt=3, **kind
    )


@cache
def _llvm_host_key() -> str:
    if (remote := _remote("host")) is not None:
        return remote
    import llvmlite

    binding = llvm()
    parts = [llvmlite.__version__, binding.get_process_triple(), binding.get_host_cpu_name()]
    return "|".join([*parts, features(), repr(sorted(OPT.items()))])


def host_key() -> str:
    """Everything besides the kernel that its machine code depends on (see Note [host keys]);
    records it for the cheap key in the cache directory."""
    key = _llvm_host_key()
    cheap = cheap_host_key()
    if cheap is not None and _recorded(cheap) != key:
        write_entry(_host_path(cheap), {"host": key, "cheap": cheap}, {})
        _RECORDS[cache_dir()] = key
    return key


def _cpu_identity() -> str | None:
    """The first processor's model and flags from ``/proc/cpuinfo`` (None elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            fields: dict[str, str] = {}
            for line in f:
                if not line.strip():
                    break
                name, _, value = line.partition(":")
                fields[name.strip()] = value.strip()
    except OSError:
        return None
    if "flags" not in fields:
        return None
    return "|".join(fields.get(n, "") for n in _CPUINFO_FIELDS)


@cache
def cheap_host_key() -> str | None:
    """The host named without ``llvmlite.binding`` (see Note [host keys]); None if the OS
    does not describe its CPU."""
    import llvmlite

    cpu = _cpu_identity()
    if cpu is None:
        return None
    bits = str(ctypes.sizeof(ctypes.c_void_p) * 8)
    parts = [llvmlite.__version__, sys.platform, os.uname().machine, bits, cpu, repr(OPT), TUNING]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _host_path(cheap: str) -> Path:
    return cache_dir() / "hosts" / f"{cheap}.host"


_RECORDS: dict[Path, str | None] = {}  # cache dir -> its host record as this process read it


def _recorded(cheap: str) -> str | None:
    """The full key the cache directory's record gives for ``cheap`` (None: missing, corrupt
    or a record of another cheap key stored under this one's name)."""
    where = cache_dir()
    if where not in _RECORDS:
        entry = read_entry(_host_path(cheap))
        mine = entry is not None and entry.meta.get("cheap") == cheap
        host = entry.meta.get("host") if mine else None  # type: ignore[union-attr]
        _RECORDS[where] = host if isinstance(host, str) else None
    return _RECORDS[where]


def resolved_host_key() -> str:
    """``host_key()``, read from the cache directory's record while the full key has not been
    computed in this process and the record exists (see Note [host keys])."""
    if not _llvm_host_key.cache_info().currsize:
        cheap = cheap_host_key()
        if cheap is not None and (host := _recorded(cheap)) is not None:
            return host
    return host_key()
