"""``adjit.utils``: PyTorch's ``torch.utils`` helpers (data loading, activation checkpointing)."""

from __future__ import annotations

from adjit.utils import _pytree as _pytree
from adjit.utils import checkpoint, data, hooks

__all__ = ["checkpoint", "data", "hooks"]
