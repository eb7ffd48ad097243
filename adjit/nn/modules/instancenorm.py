"""``torch.nn.modules.instancenorm``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.lazy import LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d
from adjit.nn.normalization import (
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
)
from adjit.nn.normalization import (
    _InstanceNorm as _InstanceNorm,
)

__all__ = [
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LazyInstanceNorm1d",
    "LazyInstanceNorm2d",
    "LazyInstanceNorm3d",
]
