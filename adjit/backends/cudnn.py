"""torch.backends.cudnn without CUDA: the flags are kept (and read back), cuDNN is absent."""

from __future__ import annotations

deterministic = False
benchmark = False
enabled = True
allow_tf32 = True


def is_available() -> bool:
    return False


def version() -> None:
    return None
