"""Pooling modules (max, average, adaptive average and max) and channel dropout, as ``torch.nn``."""

from __future__ import annotations

from typing import Any

from adjit.nn import functional_conv as FC
from adjit.nn import functional_pool as FP
from adjit.nn import functional_pool_adaptive as FA
from adjit.nn.layers import _DropoutNd
from adjit.nn.module import Module
from adjit.runtime.tensor import Tensor


def _ntuple(v: Any, n: int) -> tuple[Any, ...]:
    """PyTorch's _single/_pair/_triple: a sequence as a tuple, anything else repeated."""
    if isinstance(v, list | tuple):
        return tuple(v)
    return (v,) * n


class _MaxPoolNd(Module):
    """Max pooling over (kernel_size, stride = kernel_size, padding, dilation)."""

    _pool: Any = None

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:
        return type(self)._pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """``F.max_pool1d`` over (N, C, L) or (C, L)."""

    _pool = staticmethod(FP.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """``F.max_pool2d`` over (N, C, H, W) or (C, H, W)."""

    _pool = staticmethod(FP.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """``F.max_pool3d`` over (N, C, D, H, W) or (C, D, H, W)."""

    _pool = staticmethod(FP.max_pool3d)


class _AvgPoolNd(Module):
    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """``F.avg_pool1d``; its sizes are stored as 1-tuples, as PyTorch's."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, 1)
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = _ntuple(padding, 1)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return FP.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


class _AvgPool23d(_AvgPoolNd):
    _pool: Any = None

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AvgPool2d(_AvgPool23d):
    """``F.avg_pool2d``; ``count_include_pad`` and ``divisor_override`` as in PyTorch."""

    _pool = staticmethod(FP.avg_pool2d)


class AvgPool3d(_AvgPool23d):
    """``F.avg_pool3d``; ``count_include_pad`` and ``divisor_override`` as in PyTorch."""

    _pool = staticmethod(FP.avg_pool3d)


class _AdaptiveAvgPoolNd(Module):
    """Average pooling to a fixed ``output_size`` whatever the input size."""

    _pool: Any = None

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._pool(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    _pool = staticmethod(FA.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    _pool = staticmethod(FA.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    _pool = staticmethod(FA.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(Module):
    """Max pooling to a fixed ``output_size``; ``return_indices`` adds the flat indices."""

    _pool: Any = None

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Any:
        return type(self)._pool(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    _pool = staticmethod(FA.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    _pool = staticmethod(FA.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    _pool = staticmethod(FA.adaptive_max_pool3d)


class Dropout2d(_DropoutNd):
    """Zero whole channels with probability ``p`` while training (see ``F.dropout2d``)."""

    def forward(self, input: Tensor) -> Tensor:
        return FC.dropout2d(input, self.p, self.training, self.inplace)
