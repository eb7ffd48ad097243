"""``torch.nn.modules.pixelshuffle``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.pixelshuffle import (
    PixelShuffle,
    PixelUnshuffle,
)

__all__ = ["PixelShuffle", "PixelUnshuffle"]
