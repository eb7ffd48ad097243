"""``torch.nn.modules.pooling``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from adjit.nn.pooling import (
    _AdaptiveAvgPoolNd as _AdaptiveAvgPoolNd,
)
from adjit.nn.pooling import (
    _AdaptiveMaxPoolNd as _AdaptiveMaxPoolNd,
)
from adjit.nn.pooling import (
    _AvgPoolNd as _AvgPoolNd,
)
from adjit.nn.pooling import (
    _MaxPoolNd as _MaxPoolNd,
)
from adjit.nn.pooling_extra import (
    FractionalMaxPool2d,
    FractionalMaxPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from adjit.nn.pooling_extra import (
    _LPPoolNd as _LPPoolNd,
)
from adjit.nn.pooling_extra import (
    _MaxUnpoolNd as _MaxUnpoolNd,
)

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "FractionalMaxPool2d",
    "FractionalMaxPool3d",
    "LPPool1d",
    "LPPool2d",
    "LPPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
]
