"""``torch.nn.modules.padding``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from adjit.nn.padding import (
    _CircularPadNd as _CircularPadNd,
)
from adjit.nn.padding import (
    _ConstantPadNd as _ConstantPadNd,
)
from adjit.nn.padding import (
    _ReflectionPadNd as _ReflectionPadNd,
)
from adjit.nn.padding import (
    _ReplicationPadNd as _ReplicationPadNd,
)

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]
