"""``torch.nn.modules.normalization``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.layers import (
    LayerNorm,
)
from adjit.nn.normalization import (
    GroupNorm,
    LocalResponseNorm,
    RMSNorm,
)

__all__ = ["LocalResponseNorm", "LayerNorm", "GroupNorm", "RMSNorm"]
