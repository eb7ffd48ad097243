"""torch.backends.openmp: reported as PyTorch's CPU build reports it (adjit uses its own
threads, sized by adjit.set_num_threads)."""

from __future__ import annotations


def is_available() -> bool:
    return True
