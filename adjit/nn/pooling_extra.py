"""Max unpooling, power-average (LP) and fractional max pooling modules, as ``torch.nn``."""

from __future__ import annotations

from typing import Any

from adjit.nn import functional_pool_extra as FE
from adjit.nn.module import Module
from adjit.nn.pooling import _ntuple
from adjit.runtime.tensor import Tensor


class _MaxUnpoolNd(Module):
    """Inverse of max pooling: values back at their indices (sizes stored as n-tuples)."""

    _nd = 0
    _unpool: Any = None

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        n = self._nd
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride if stride is not None else kernel_size, n)
        self.padding = _ntuple(padding, n)

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return type(self)._unpool(
            input, indices, self.kernel_size, self.stride, self.padding, output_size
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    _nd = 1
    _unpool = staticmethod(FE.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    _nd = 2
    _unpool = staticmethod(FE.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    _nd = 3
    _unpool = staticmethod(FE.max_unpool3d)


class _LPPoolNd(Module):
    """``(sum x^p)^(1/p)`` over windows (PyTorch's composition of average pooling)."""

    _pool: Any = None

    def __init__(
        self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
    ) -> None:
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._pool(
            input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode
        )

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"ceil_mode={self.ceil_mode}"
        )


class LPPool1d(_LPPoolNd):
    _pool = staticmethod(FE.lp_pool1d)


class LPPool2d(_LPPoolNd):
    _pool = staticmethod(FE.lp_pool2d)


class LPPool3d(_LPPoolNd):
    _pool = staticmethod(FE.lp_pool3d)


class _FractionalMaxPoolNd(Module):
    """Max pooling over pseudo-random windows; ``_random_samples`` is a buffer, as PyTorch's."""

    _nd = 0
    _pool: Any = None

    def __init__(
        self,
        kernel_size: Any,
        output_size: Any = None,
        output_ratio: Any = None,
        return_indices: bool = False,
        _random_samples: Tensor | None = None,
    ) -> None:
        super().__init__()
        n, name = self._nd, type(self).__name__
        if n == 3 and (
            (isinstance(kernel_size, int) and kernel_size <= 0)
            or (isinstance(kernel_size, tuple | list) and not all(k > 0 for k in kernel_size))
        ):
            raise ValueError(f"kernel_size must be greater than 0, but got {kernel_size}")
        self.kernel_size = _ntuple(kernel_size, n)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = _ntuple(output_size, n) if output_size is not None else None
        self.output_ratio = _ntuple(output_ratio, n) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(
                f"{name} requires specifying either an output size, or a pooling ratio"
            )
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input: Tensor) -> Any:
        return type(self)._pool(
            input,
            self.kernel_size,
            self.output_size,
            self.output_ratio,
            self.return_indices,
            _random_samples=self._random_samples,
        )


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    _nd = 2
    _pool = staticmethod(FE.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    _nd = 3
    _pool = staticmethod(FE.fractional_max_pool3d)
