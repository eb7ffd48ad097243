"""``torch.nn.grad``: the gradients of a convolution with respect to its input or weight,
given the output's gradient (PyTorch's convolution_backward, here the adjoint of the linear
map ``conv(input, weight)`` in the argument asked for)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adjit.runtime.backward import grad as _grad
from adjit.runtime.creation import zeros
from adjit.runtime.grad_mode import enable_grad
from adjit.runtime.tensor import Tensor

__all__ = [
    "conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input",
    "conv3d_weight",
]  # fmt: skip


def _conv(name: str) -> Callable[..., Tensor]:
    from adjit.nn import functional  # (which binds this module as its ``grad``)

    return getattr(functional, name)


def _input_grad(name: str) -> Callable[..., Tensor]:
    def grad_input(
        input_size: Any, weight: Tensor, grad_output: Tensor, stride: Any = 1,
        padding: Any = 0, dilation: Any = 1, groups: int = 1,
    ) -> Tensor:  # fmt: skip
        with enable_grad():
            x = zeros(tuple(input_size), dtype=grad_output.dtype, requires_grad=True)
            out = _conv(name)(x, weight.detach(), None, stride, padding, dilation, groups)
            return _grad(out, x, grad_output)[0]

    return grad_input


def _weight_grad(name: str) -> Callable[..., Tensor]:
    def grad_weight(
        input: Tensor, weight_size: Any, grad_output: Tensor, stride: Any = 1,
        padding: Any = 0, dilation: Any = 1, groups: int = 1,
    ) -> Tensor:  # fmt: skip
        with enable_grad():
            w = zeros(tuple(weight_size), dtype=grad_output.dtype, requires_grad=True)
            out = _conv(name)(input.detach(), w, None, stride, padding, dilation, groups)
            return _grad(out, w, grad_output)[0]

    return grad_weight


conv1d_input = _input_grad("conv1d")
conv1d_weight = _weight_grad("conv1d")
conv2d_input = _input_grad("conv2d")
conv2d_weight = _weight_grad("conv2d")
conv3d_input = _input_grad("conv3d")
conv3d_weight = _weight_grad("conv3d")
