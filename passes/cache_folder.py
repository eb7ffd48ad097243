"""Where adjit's disk caches live (kernels, symbolic results): ADJIT_CACHE_DIR, or 'off'."""

from __future__ import annotations

import os
from pathlib import Path

OFF = "off"  # ADJIT_CACHE_DIR=off: no disk cache (kernels and sympy results made in every process)


def disabled() -> bool:
    """Whether ``ADJIT_CACHE_DIR=off`` turned the disk caches off."""
    return os.environ.get("ADJIT_CACHE_DIR", "").strip() == OFF


def cache_dir() -> Path:
    """``$ADJIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/adjit``, else ``~/.cache/adjit``."""
    if (d := os.environ.get("ADJIT_CACHE_DIR")) and d.strip() != OFF:
        return Path(d)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "adjit"
