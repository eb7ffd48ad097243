"""``torch.nn.modules.channelshuffle``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.pixelshuffle import (
    ChannelShuffle,
)

__all__ = ["ChannelShuffle"]
