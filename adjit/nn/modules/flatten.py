"""``torch.nn.modules.flatten``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.layers import (
    Flatten,
    Unflatten,
)

__all__ = ["Flatten", "Unflatten"]
