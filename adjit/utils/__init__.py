"""``adjit.utils``: PyTorch's ``torch.utils`` helpers (data loading)."""

from __future__ import annotations

from adjit.utils import data

__all__ = ["data"]
