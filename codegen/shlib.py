"""Machine code as a shared library: link an object with the system linker, load it by ctypes.

Note [shared-library kernels]: a kernel's object file, emitted as position-independent code,
is linked by ``ld -shared`` into a small shared library that the disk cache stores (inside a
checksummed entry). Loading it back needs only ``ctypes`` (no ``llvmlite.binding``, no JIT
engine): the verified bytes are written to a private file under a name this process never
used, ``dlopen``-ed, and unlinked, so what runs is exactly the bytes whose checksum matched.
``dlopen`` resolves every symbol at load time (ctypes passes ``RTLD_NOW``): an unresolved
external is an error, never a crash at call time. Without a linker (or off Linux) kernels are
objects loaded by MCJIT instead. Any file-system error (a full disk, a vanished directory)
becomes a ``LinkError``, which the JIT answers with MCJIT (Note [best-effort cache]).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path


@cache
def linker() -> str | None:
    """The system linker when shared-library kernels are supported here, else None."""
    import shutil

    if not sys.platform.startswith("linux"):
        return None
    return shutil.which("ld")


_LOADS = itertools.count()


class LinkError(RuntimeError):
    """The linker or the dynamic loader refused a kernel's code."""


def link(obj: bytes, name: str) -> bytes:
    """The shared library made of one object file (``ld -shared``)."""
    import subprocess
    import tempfile

    ld = linker()
    if ld is None:
        raise LinkError("no system linker")
    try:
        with tempfile.TemporaryDirectory(prefix="adjit-link-", ignore_cleanup_errors=True) as tmp:
            src, dst = Path(tmp) / f"{name}.o", Path(tmp) / f"{name}.so"
            src.write_bytes(obj)
            cmd = [ld, "-shared", "-z", "noexecstack", "--hash-style=both", "-o", str(dst)]
            cmd.append(str(src))
            done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
            if done.returncode != 0 or not dst.is_file():
                raise LinkError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
            so = dst.read_bytes()
    except (OSError, subprocess.SubprocessError) as e:  # no disk space, no temporary dir, ...
        raise LinkError(f"{ld} could not link kernel {name}: {e}") from e
    if not so.startswith(b"\x7fELF"):
        raise LinkError(f"{ld} did not produce an ELF shared library")
    return so


def load(so: bytes, name: str, symbol: str, directories: Sequence[Path]) -> tuple[ctypes.CDLL, int]:
    """``dlopen`` the library's bytes, written to the first of ``directories`` that takes
    them; (the library, ``symbol``'s address). The code stays mapped until ``unload``."""
    errors = []
    for directory in directories:
        # a path this process never loaded before: dlopen returns the library already loaded
        # under a name instead of reading the file again (so no reuse of /proc/self/fd/N)
        path = directory / f"adjit-load-{name}.{os.getpid()}.{next(_LOADS)}.so"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
            with os.fdopen(fd, "wb") as f:
                f.write(so)
        except OSError as e:  # full, read-only or gone: the next directory
            errors.append(f"{directory}: {e}")
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            continue
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as e:
            raise LinkError(f"cannot load the shared library of kernel {name}: {e}") from e
        finally:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)  # the mapping outlives the name
        break
    else:
        raise LinkError(f"cannot write the shared library of kernel {name}: {'; '.join(errors)}")
    try:
        address = ctypes.cast(getattr(lib, symbol), ctypes.c_void_p).value
    except AttributeError:
        address = None
    if not address:
        raise LinkError(f"symbol {symbol} not found in the shared library of kernel {name}")
    return lib, address


def unload(lib: ctypes.CDLL) -> None:
    """``dlclose`` a library ``load`` opened: its code and mappings go (ctypes never closes one
    itself). Only once nothing can call into it any more (Note [unloading kernels] in jit.py)."""
    import _ctypes

    handle, lib._handle = lib._handle, 0
    if handle:
        _ctypes.dlclose(handle)
