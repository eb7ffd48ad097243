"""``torch.nn.modules.upsampling``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.upsampling import (
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]
