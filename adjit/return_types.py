"""torch.return_types: the named-tuple classes ops return (``isinstance(x.max(0), max)`` holds)."""

from __future__ import annotations

import adjit.runtime.functional  # noqa: F401 - every op module, so every class is made
from adjit.runtime import complex_linalg, ops_geqrf, ops_ldl, ops_lu, ops_triangular  # noqa: F401
from adjit.runtime.return_types import ALL as _ALL

globals().update(_ALL)
_PUBLIC = sorted(name for name in _ALL if not name.startswith("_"))
all_return_types = [_ALL[name] for name in _PUBLIC]

__all__ = ["all_return_types", *_PUBLIC]
