"""torch.backends.mkldnn: reported as PyTorch's CPU build reports it (adjit does not use it)."""

from __future__ import annotations

enabled = True


def is_available() -> bool:
    return True
