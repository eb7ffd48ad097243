"""``torch.nn.modules.dropout``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.dropout import (
    AlphaDropout,
    Dropout1d,
    Dropout3d,
    FeatureAlphaDropout,
)
from adjit.nn.layers import (
    Dropout,
)
from adjit.nn.layers import (
    _DropoutNd as _DropoutNd,
)
from adjit.nn.pooling import (
    Dropout2d,
)

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]
