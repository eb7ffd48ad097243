"""``torch.nn.modules.adaptive``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.adaptive import (
    AdaptiveLogSoftmaxWithLoss,
)
from adjit.nn.adaptive import (
    _ASMoutput as _ASMoutput,
)

__all__ = ["AdaptiveLogSoftmaxWithLoss"]
