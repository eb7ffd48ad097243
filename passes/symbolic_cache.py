"""Sympy results on disk beside the kernel cache: checksummed plain-text data, keyed, never code.

Note [symbolic cache]: what sympy computes for a region (a where-region's derivative, the
simplest form of an elementwise region) is stored as a host program (Note [host programs]) in
``<cache dir>/symbolic/<h[:2]>/<h>.sym``, so that a warm process neither imports sympy nor
recomputes. ``h`` is the sha256 of the entry's full key: its kind, the region's structure (ops,
attributes, wiring, literals, input dtypes; for simplify also the input avals and whether the
call's rewrite budget allowed the costly rewrites), and ``rules_fingerprint()``: the format
version, adjit's and sympy's versions and the source of every module whose code decides the
result (the region finder, the sympy forms and translation tables, the lowering, the stability
rules), so an edit to any of them never loads a stale answer. A where-region's derivative is
keyed without shapes, as in memory: sympy sees only symbols, and whether its lowering works
depends on dtypes (in the key), not on shapes (a broadcast of some of a region's inputs always
expands to the region's output shape). "No better form" is stored too
(``null``): a warm process must not ask sympy again only to hear nothing.

An entry is ``MAGIC | sha256(body) | body``, the body text ``key <h>`` then ``none`` or the
stored form (Note [host program text]: plain lines, parsed by splitting). A file
that is short, fails its checksum or does not parse is counted in ``STATS["corrupt"]``; an
intact one made for another key (copied or renamed) in ``STATS["mismatched"]``; an intact one
whose value is not a valid host program in ``STATS["invalid"]``. All three are recomputed and
overwritten, never used. Like the kernel cache, the disk only saves time (Note [best-effort
cache] in codegen/cache_store.py): errors of the folder cost recomputing, never a user's call;
``ADJIT_CACHE_DIR=off`` turns it off. A hit gives exactly the program a miss gives: both replay
the same recorded program (tests/passes/test_symbolic_cache.py compares them).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, TypeVar

from .cache_folder import cache_dir, disabled

T = TypeVar("T")

FORMAT_VERSION = 1  # bump when what an entry means changes in a way the sources do not show
MAGIC = b"ADJITSYMBOL1\n"
_DIGEST = 32
STALE_SECONDS = 600  # a temporary file this old belongs to no running writer
NONE = "none"  # the stored text of "sympy has no better form"
STATS = {"hits": 0, "misses": 0, "stores": 0, "corrupt": 0, "mismatched": 0, "invalid": 0}

# the modules whose source decides what sympy returns for a region and how it is lowered
_RULE_MODULES = (
    "passes/symbolic.py",
    "passes/symbolic_regions.py",
    "passes/sympy_bridge.py",
    "passes/host_program.py",
    "passes/symbolic_cache.py",
    "passes/stability.py",
    "ir/symbolic.py",
    "ir/ops.py",
)


def _sympy_version() -> str:
    """sympy's version without importing it (its ``release.py``); '' when not installed."""
    try:
        spec = find_spec("sympy")
    except (ImportError, ValueError):
        return ""
    if spec is None or spec.origin is None:
        return ""
    try:
        return Path(spec.origin).with_name("release.py").read_text().strip()
    except OSError:
        return "unknown"


@cache
def rules_fingerprint() -> str:
    """sha256 of everything besides the key that decides a stored result (Note [symbolic
    cache]); taken once per process, on first use."""
    root = Path(__file__).resolve().parent.parent
    adjit = sys.modules.get("adjit")
    h = hashlib.sha256(f"{FORMAT_VERSION}\n{getattr(adjit, '__version__', '')}\n".encode())
    h.update(_sympy_version().encode() + b"\0")
    for name in _RULE_MODULES:
        try:
            source = (root / name).read_bytes()
        except OSError:  # (an optional module, e.g. before the stability rules existed)
            source = b"(missing)"
        h.update(name.encode() + b"\0" + source + b"\0")
    return h.hexdigest()


def entry_hash(kind: str, key: Any) -> str:
    """The sha256 naming the entry of ``key``: a tuple of strings, numbers and Ops, whose repr
    is stable across processes (an Op prints as ``Op.ADD``; ir/ops.py is in the fingerprint)."""
    text = f"{kind}\n{rules_fingerprint()}\n{key!r}"
    return hashlib.sha256(text.encode()).hexdigest()


def entry_path(h: str) -> Path:
    return cache_dir() / "symbolic" / h[:2] / f"{h}.sym"


def cached(
    kind: str,
    key: Any,
    compute: Callable[[], T | None],
    encode: Callable[[T], str],
    decode: Callable[[str], T],
) -> T | None:
    """``compute()``'s result for ``key``, from disk when an intact entry holds it (``decode``
    of its stored text; ``decode`` raises ValueError on anything it does not accept), else
    computed and stored (``encode``: its text). None results are stored too."""
    if disabled():
        return compute()
    h = entry_hash(kind, key)
    path = entry_path(h)
    stored = _read(path, h)
    if stored is not None:
        try:
            result = None if stored == NONE else decode(stored)
        except ValueError:
            STATS["invalid"] += 1
        else:
            STATS["hits"] += 1
            return result
    STATS["misses"] += 1
    result = compute()
    _write(path, f"key {h}\n{NONE if result is None else encode(result)}")
    return result


def _read(path: Path, h: str) -> str | None:
    """The stored text of an intact entry for ``h``; None if missing, corrupt or another's."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    body = data[len(MAGIC) + _DIGEST :]
    digest = data[len(MAGIC) : len(MAGIC) + _DIGEST]
    if not data.startswith(MAGIC) or hashlib.sha256(body).digest() != digest:
        STATS["corrupt"] += 1
        return None
    try:
        head, _, text = body.decode().partition("\n")
    except UnicodeDecodeError:  # (intact but not text: only a buggy writer makes one)
        STATS["corrupt"] += 1
        return None
    if head != f"key {h}":
        STATS["mismatched"] += 1
        return None
    return text


def _write(path: Path, text: str) -> None:
    """Atomically (a temporary file renamed into place); never raises (Note [best-effort
    cache])."""
    body = text.encode()
    data = MAGIC + hashlib.sha256(body).digest() + body
    _sweep_stale(path.parent.parent)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
        STATS["stores"] += 1
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


_SWEPT: set[Path] = set()


def _sweep_stale(folder: Path) -> None:
    """Remove temporary entries older than STALE_SECONDS (killed writers'), once per folder."""
    if folder in _SWEPT:
        return
    _SWEPT.add(folder)
    limit = time.time() - STALE_SECONDS
    with contextlib.suppress(OSError):
        for f in folder.glob("*/*.sym.*.tmp"):
            with contextlib.suppress(OSError):
                if f.stat().st_mtime < limit:
                    f.unlink()


def entries() -> Sequence[Path]:
    """The symbolic entries in the cache folder now (tests and the benchmark look at them)."""
    return sorted((cache_dir() / "symbolic").glob("*/*.sym"))
