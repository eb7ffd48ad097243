"""``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d``: PyTorch's defaults, init, repr, padding modes."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from adjit.nn import functional_convnd as FC
from adjit.nn import init
from adjit.nn.functional_pad import pad_nd
from adjit.nn.module import Module
from adjit.nn.parameter import Parameter
from adjit.runtime.creation import empty
from adjit.runtime.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(v: Any, n: int) -> tuple[Any, ...]:
    """PyTorch's _single/_pair/_triple: an iterable as a tuple, anything else repeated."""
    return tuple(v) if isinstance(v, Iterable) else (v,) * n


class _ConvNd(Module):
    """What every convolution module shares: arguments, parameters, init and repr."""

    dims = 2
    transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        output_padding: Any,
        groups: int,
        bias: bool,
        padding_mode: str,
        dtype: Any,
    ) -> None:
        super().__init__()
        n = self.dims
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride, self.dilation = _ntuple(stride, n), _ntuple(dilation, n)
        if isinstance(padding, str) and not self.transposed:
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding: Any = padding
        else:
            self.padding = _ntuple(padding, n)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                f"padding_mode='{padding_mode}'"
            )
        self.output_padding = _ntuple(output_padding, n)
        self.groups, self.padding_mode = groups, padding_mode
        self._reversed_padding_repeated_twice = self._reversed_padding()
        shape = (
            (in_channels, out_channels // groups)
            if self.transposed
            else (out_channels, in_channels // groups)
        )
        self.weight = Parameter(empty(*shape, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _reversed_padding(self) -> list[int]:
        """F.pad's (last dim first) padding for the non-'zeros' padding modes."""
        if self.padding == "valid":
            return [0, 0] * self.dims
        if self.padding == "same":
            pairs = FC._same(self.kernel_size, self.dilation)
        else:
            pairs = tuple((p, p) for p in self.padding)
        return [v for pair in reversed(pairs) for v in pair]

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    conv: Callable[..., Tensor]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        args = (stride, padding, dilation, 0, groups, bias, padding_mode, dtype)
        super().__init__(in_channels, out_channels, kernel_size, *args)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        conv = type(self).conv
        if self.padding_mode != "zeros":
            padded = pad_nd(input, self._reversed_padding_repeated_twice, self.padding_mode)
            return conv(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """``F.conv1d`` with weight (out, in / groups, k) and an optional bias."""

    dims = 1
    conv = staticmethod(FC.conv1d)


class Conv2d(_Conv):
    """``F.conv2d`` with weight (out, in / groups, kh, kw) and an optional bias."""

    dims = 2
    conv = staticmethod(FC.conv2d)


class Conv3d(_Conv):
    """``F.conv3d`` with weight (out, in / groups, kd, kh, kw) and an optional bias."""

    dims = 3
    conv = staticmethod(FC.conv3d)


class _ConvTranspose(_ConvNd):
    transposed = True
    conv: Callable[..., Tensor]

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {self.__class__.__name__}'
            )
        args = (stride, padding, dilation, output_padding, groups, bias, padding_mode, dtype)
        super().__init__(in_channels, out_channels, kernel_size, *args)

    def _output_padding(
        self,
        input: Tensor,
        output_size: Any,
        stride: Any,
        padding: Any,
        kernel_size: Any,
        num_spatial_dims: int,
        dilation: Any = None,
    ) -> tuple[int, ...]:
        """The output_padding that gives ``output_size`` (PyTorch's signature, checks and
        messages)."""
        if output_size is None:
            return tuple(self.output_padding)
        n = num_spatial_dims
        batch = 2 if input.ndim == n + 2 else 1
        size = list(output_size)
        if len(size) == batch + n:
            size = size[batch:]
            output_size = output_size[batch:]
        if len(size) != n:
            raise ValueError(
                f"ConvTranspose{n}D: for {input.ndim}D input, output_size must have {n} or "
                f"{batch + n} elements (got {len(size)})"
            )
        low = [
            (input.shape[i + batch] - 1) * stride[i]
            - 2 * padding[i]
            + (dilation[i] if dilation is not None else 1) * (kernel_size[i] - 1)
            + 1
            for i in range(n)
        ]
        high = [lo + s - 1 for lo, s in zip(low, stride, strict=True)]
        if any(not lo <= int(v) <= hi for v, lo, hi in zip(size, low, high, strict=True)):
            raise ValueError(
                f"requested an output size of {output_size}, but valid sizes range from {low} to "
                f"{high} (for an input of torch.Size({list(input.shape[2:])}))"
            )
        return tuple(int(v) - lo for v, lo in zip(size, low, strict=True))

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        if self.padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {self.__class__.__name__}'
            )
        op = self._output_padding(
            input,
            output_size,
            self.stride,
            self.padding,
            self.kernel_size,
            self.dims,
            self.dilation,
        )
        conv = type(self).conv
        args = (self.stride, self.padding, op, self.groups, self.dilation)
        return conv(input, self.weight, self.bias, *args)


class ConvTranspose1d(_ConvTranspose):
    """``F.conv_transpose1d`` with weight (in, out / groups, k) and an optional bias."""

    dims = 1
    conv = staticmethod(FC.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """``F.conv_transpose2d`` with weight (in, out / groups, kh, kw) and an optional bias."""

    dims = 2
    conv = staticmethod(FC.conv_transpose2d)


class ConvTranspose3d(_ConvTranspose):
    """``F.conv_transpose3d`` with weight (in, out / groups, kd, kh, kw) and an optional bias."""

    dims = 3
    conv = staticmethod(FC.conv_transpose3d)
