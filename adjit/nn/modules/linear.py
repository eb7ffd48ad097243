"""``torch.nn.modules.linear``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.layers import (
    Bilinear,
    Identity,
    Linear,
)
from adjit.nn.lazy import (
    LazyLinear,
)

__all__ = ["Bilinear", "Identity", "LazyLinear", "Linear"]
