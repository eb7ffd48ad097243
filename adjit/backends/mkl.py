"""torch.backends.mkl: reported as PyTorch's CPU build reports it (adjit does not use it)."""

from __future__ import annotations


def is_available() -> bool:
    return True
