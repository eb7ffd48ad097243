"""torch.storage: the storage classes (a tensor's memory as bytes, or typed)."""

from __future__ import annotations

from adjit.runtime.storage import TypedStorage, UntypedStorage

__all__ = ["TypedStorage", "UntypedStorage"]
