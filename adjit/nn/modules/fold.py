"""``torch.nn.modules.fold``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.fold import (
    Fold,
    Unfold,
)

__all__ = ["Fold", "Unfold"]
