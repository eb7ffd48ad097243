"""``torch.nn.modules.lazy``: the classes of ``adjit.nn`` by this import path."""

from adjit.nn.lazy import (
    LazyModuleMixin,
)

__all__ = ["LazyModuleMixin"]
