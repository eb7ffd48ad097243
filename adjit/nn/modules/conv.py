"""``torch.nn.modules.conv``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    _ConvTranspose,
)
from adjit.nn.conv import (
    _ConvNd as _ConvNd,
)
from adjit.nn.lazy import (
    LazyConv1d,
    LazyConv2d,
    LazyConv3d,
    LazyConvTranspose1d,
    LazyConvTranspose2d,
    LazyConvTranspose3d,
)
from adjit.nn.lazy import (
    _LazyConvXdMixin as _LazyConvXdMixin,
)

_ConvTransposeNd = _ConvTranspose  # torch's name for the transposed convolutions' base

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "LazyConv1d",
    "LazyConv2d",
    "LazyConv3d",
    "LazyConvTranspose1d",
    "LazyConvTranspose2d",
    "LazyConvTranspose3d",
]
