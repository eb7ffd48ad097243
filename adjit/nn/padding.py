"""Padding modules (ZeroPad, ConstantPad, ReflectionPad, ReplicationPad, CircularPad 1d-3d)."""

from __future__ import annotations

from typing import Any

from adjit.nn import functional as F
from adjit.nn.module import Module
from adjit.runtime.tensor import Tensor

__all__ = [
    f"{kind}Pad{d}d"
    for kind in ("Circular", "Constant", "Reflection", "Replication", "Zero")
    for d in (1, 2, 3)
]


def _ntuple(padding: Any, n: int) -> tuple[int, ...]:
    """PyTorch's ``_ntuple``: an iterable as a tuple, anything else repeated ``n`` times."""
    if hasattr(padding, "__iter__"):
        return tuple(padding)
    return (padding,) * n


class _PadNd(Module):
    """``F.pad(input, self.padding, mode)``; subclasses fix the mode and the dimensions."""

    mode = "constant"
    dims = 1

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self.dims)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _CircularPadNd(_PadNd):
    mode = "circular"

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (self.dims + 1, self.dims + 2):
            raise ValueError(
                f"expected {self.dims + 1}D or {self.dims + 2}D input (got {input.ndim}D input)"
            )
        return F.pad(input, self.padding, "circular")


class _ReflectionPadNd(_PadNd):
    mode = "reflect"


class _ReplicationPadNd(_PadNd):
    mode = "replicate"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class CircularPad1d(_CircularPadNd):
    """Circular padding of the last dimension."""

    dims = 1


class CircularPad2d(_CircularPadNd):
    """Circular padding of the last two dimensions."""

    dims = 2


class CircularPad3d(_CircularPadNd):
    """Circular padding of the last three dimensions."""

    dims = 3


class ConstantPad1d(_ConstantPadNd):
    """Padding of the last dimension with ``value``."""

    dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Padding of the last two dimensions with ``value``."""

    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Padding of the last three dimensions with ``value``."""

    dims = 3


class ReflectionPad1d(_ReflectionPadNd):
    """Reflection padding of the last dimension."""

    dims = 1


class ReflectionPad2d(_ReflectionPadNd):
    """Reflection padding of the last two dimensions."""

    dims = 2


class ReflectionPad3d(_ReflectionPadNd):
    """Reflection padding of the last three dimensions."""

    dims = 3


class ReplicationPad1d(_ReplicationPadNd):
    """Replication padding of the last dimension."""

    dims = 1


class ReplicationPad2d(_ReplicationPadNd):
    """Replication padding of the last two dimensions."""

    dims = 2


class ReplicationPad3d(_ReplicationPadNd):
    """Replication padding of the last three dimensions."""

    dims = 3


class ZeroPad1d(_ZeroPadNd):
    """Zero padding of the last dimension."""

    dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Zero padding of the last two dimensions."""

    dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Zero padding of the last three dimensions."""

    dims = 3
