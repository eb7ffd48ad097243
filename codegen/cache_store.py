"""The on-disk cache: checksummed entry files (metadata + named blobs), written atomically.

An entry is ``magic | body length | sha256(body) | body`` where the body is ``marshal`` of
(metadata dict, blobs dict) (``marshal`` is built in: no import on the warm path). A file that
is short, long, fails its checksum or does not parse is counted in ``STATS["corrupt"]`` and
treated as missing, so the caller rebuilds and overwrites it; it is never loaded.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import struct
import threading
from pathlib import Path
from typing import Any

from ..passes.record import ValueRecord

STATS = {"compiles": 0, "disk_loads": 0, "memory_hits": 0, "corrupt": 0, "lowerings": 0}
_MAGIC = b"ADJITCACHE2\n"
_HEADER = struct.Struct("<12sQ32s")  # magic, body length, sha256(body)
_MARSHAL_VERSION = 4


def cache_dir() -> Path:
    """``$ADJIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/adjit``, else ``~/.cache/adjit``."""
    if d := os.environ.get("ADJIT_CACHE_DIR"):
        return Path(d)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "adjit"


class Entry(ValueRecord):
    """An entry's metadata and named blobs."""

    __slots__ = FIELDS = ("meta", "blobs")
    meta: dict[str, Any]
    blobs: dict[str, bytes]


def read_entry(path: Path) -> Entry | None:
    """The entry at ``path`` if it is complete and intact; None if missing or corrupt."""
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
    """Write atomically: concurrent readers see the old entry or the whole new one."""
    body = marshal.dumps((meta, blobs), _MARSHAL_VERSION)
    header = _HEADER.pack(_MAGIC, len(body), hashlib.sha256(body).digest())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(header + body)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache dir only costs recompiles
