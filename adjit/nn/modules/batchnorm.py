"""``torch.nn.modules.batchnorm``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.lazy import (
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyBatchNorm3d,
)
from adjit.nn.lazy import (
    _LazyNormBase as _LazyNormBase,
)
from adjit.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
)
from adjit.nn.normalization import (
    _BatchNorm as _BatchNorm,
)
from adjit.nn.normalization import (
    _NormBase as _NormBase,
)
from adjit.nn.sync_batchnorm import SyncBatchNorm

__all__ = [
    "BatchNorm1d",
    "LazyBatchNorm1d",
    "BatchNorm2d",
    "LazyBatchNorm2d",
    "BatchNorm3d",
    "LazyBatchNorm3d",
    "SyncBatchNorm",
]
