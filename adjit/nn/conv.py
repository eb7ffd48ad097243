"""``Conv2d``: a learnable 2-D convolution with PyTorch's defaults, init, repr, padding modes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adjit.nn import functional as F
from adjit.nn import functional_conv as FC
from adjit.nn import init
from adjit.nn.module import Module
from adjit.nn.parameter import Parameter
from adjit.runtime import functional as R
from adjit.runtime.creation import empty
from adjit.runtime.dispatch import composite
from adjit.runtime.tensor import Tensor

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _pad_indices(n: int, before: int, after: int, mode: str) -> np.ndarray:
    pos = np.arange(-before, n + after)
    if mode == "reflect":
        if before >= n or after >= n:
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({before}, {after}) at dimension of input {n}"
            )
        period = 2 * (n - 1)
        pos = np.abs(pos) % period if period else np.zeros_like(pos)
        return np.where(pos >= n, period - pos, pos)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    if mode == "circular":
        return pos % n
    raise NotImplementedError(f"adjit: padding mode '{mode}' is not implemented")


_PAD_NAMES = {"reflect": "ReflectionPad{}DBackward0", "replicate": "ReplicationPad{}DBackward0"}


def pad_nd(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """``F.pad`` with the 'reflect', 'replicate' and 'circular' modes too (integer INDEX)."""
    if mode == "constant":
        return F.pad(input, pad, value=value)  # (its name: ConstantPadNdBackward0)
    dims = len(pad) // 2
    if len(pad) not in (2, 4, 6) or input.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
        )

    def decomposition(a: Tensor) -> Tensor:
        for k in range(dims):
            axis = a.ndim - 1 - k
            idx = _pad_indices(a.shape[axis], int(pad[2 * k]), int(pad[2 * k + 1]), mode)
            a = R.getitem(a, (slice(None),) * axis + (Tensor._make(idx),))
        return a

    name = _PAD_NAMES.get(mode, "CopySlices").format(dims)
    return composite(name, decomposition, input)


class Conv2d(Module):
    """``F.conv2d`` with weight (out, in / groups, kh, kw) and an optional bias."""

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
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                f"padding_mode='{padding_mode}'"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = FC._pair(kernel_size)
        self.stride, self.dilation = FC._pair(stride), FC._pair(dilation)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"Invalid padding string '{padding}', should be one of {{'valid', 'same'}}"
                )
            if padding == "same" and self.stride != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding: Any = padding
        else:
            self.padding = FC._pair(padding)
        self.output_padding = (0, 0)
        self.transposed = False
        self.groups, self.padding_mode = groups, padding_mode
        self._reversed_padding_repeated_twice = self._reversed_padding()
        kh, kw = self.kernel_size
        self.weight = Parameter(empty(out_channels, in_channels // groups, kh, kw, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _reversed_padding(self) -> tuple[int, int, int, int]:
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            return FC._same_padding(self.kernel_size, self.dilation)
        ph, pw = self.padding
        return (pw, pw, ph, ph)

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if self.padding_mode != "zeros":
            padded = pad_nd(input, self._reversed_padding_repeated_twice, self.padding_mode)
            return FC.conv2d(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return FC.conv2d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
