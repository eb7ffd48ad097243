"""The on-disk cache: checksummed entry files (metadata + named blobs), written atomically.

An entry is ``magic | body length | sha256(body) | body`` where the body is ``marshal`` of
(metadata dict, blobs dict) (``marshal`` is built in: no import on the warm path). A file that
is short, long, fails its checksum or does not parse is counted in ``STATS["corrupt"]`` and
treated as missing, so the caller rebuilds and overwrites it; it is never loaded.

Note [best-effort cache]: the cache only saves time, so no error of its directory reaches a
user's call: a directory that vanishes, turns read-only, becomes a file or fills up mid-run
costs recompiles. A write goes to a temporary file renamed into place; a failed write removes
its temporary file, and the first write of a process into a directory removes temporary files
(and loaded-library copies, ``shlib``) older than ``STALE_SECONDS`` that crashed or killed
writers left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import struct
import threading
import time
from pathlib import Path
from typing import Any

from ..passes.cache_folder import cache_dir, disabled  # (below codegen: passes use it too)
from ..passes.record import ValueRecord

# corrupt: entries failing their checksum; mismatched: intact entries made for another key
STATS = {
    "compiles": 0,
    "disk_loads": 0,
    "memory_hits": 0,
    "corrupt": 0,
    "mismatched": 0,
    "lowerings": 0,
    "unloads": 0,  # kernels whose code was released (Note [unloading kernels] in jit.py)
}
_MAGIC = b"ADJITCACHE2\n"
_HEADER = struct.Struct("<12sQ32s")  # magic, body length, sha256(body)
_MARSHAL_VERSION = 4
STALE_SECONDS = 600  # a temporary file this old belongs to no running writer


class Entry(ValueRecord):
    """An entry's metadata and named blobs."""

    __slots__ = FIELDS = ("meta", "blobs")
    meta: dict[str, Any]
    blobs: dict[str, bytes]


def read_entry(path: Path) -> Entry | None:
    """The entry at ``path`` if it is complete and intact; None if missing or corrupt (or
    the cache is off)."""
    if disabled():
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    entry = _parse(data)
    if entry is None:
        STATS["corrupt"] += 1
    return entry


def _parse(data: bytes) -> Entry | None:
    if len(data) < _HEADER.size:
        return None
    magic, n_body, digest = _HEADER.unpack_from(data)
    body = memoryview(data)[_HEADER.size :]
    if magic != _MAGIC or len(body) != n_body or hashlib.sha256(body).digest() != digest:
        return None
    try:
        meta, blobs = marshal.loads(body)
    except (ValueError, TypeError, EOFError):
        return None
    return Entry(meta, blobs) if isinstance(meta, dict) and isinstance(blobs, dict) else None


def write_entry(path: Path, meta: dict[str, Any], blobs: dict[str, bytes]) -> None:
    """Write atomically: concurrent readers see the old entry or the whole new one. Never
    raises (Note [best-effort cache]); does nothing when the cache is off."""
    if disabled():
        return
    body = marshal.dumps((meta, blobs), _MARSHAL_VERSION)
    header = _HEADER.pack(_MAGIC, len(body), hashlib.sha256(body).digest())
    sweep_stale(cache_dir())
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(header + body)
        os.replace(tmp, path)
    except OSError:  # unwritable, vanished or full: only costs recompiles
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


_SWEPT: set[Path] = set()
# what a killed or crashed process can leave behind (only names adjit makes): temporary
# entries and the copies of shared libraries written to be loaded (``shlib.load``)
_LEFTOVERS = ("*/*.kernel.*.tmp", "hosts/*.host.*.tmp", "adjit-load-*.so")


def sweep_stale(directory: Path, now: float | None = None) -> None:
    """Remove leftovers older than ``STALE_SECONDS`` under ``directory``, once per process and
    directory (Note [best-effort cache])."""
    if directory in _SWEPT:
        return
    _SWEPT.add(directory)
    limit = (time.time() if now is None else now) - STALE_SECONDS
    with contextlib.suppress(OSError):
        for pattern in _LEFTOVERS:
            for f in directory.glob(pattern):
                with contextlib.suppress(OSError):
                    if f.stat().st_mtime < limit:
                        f.unlink()
