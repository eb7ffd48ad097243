"""``SyncBatchNorm``: batch norm whose statistics PyTorch reduces over a process group (on
GPUs); on CPU it is BatchNorm*d's forward, and refuses inside an initialized group, as torch."""

from __future__ import annotations

from typing import Any

from adjit.nn.module import Module
from adjit.nn.normalization import _BatchNorm
from adjit.runtime.grad_mode import no_grad
from adjit.runtime.tensor import Tensor

_PRIVATEUSE1 = "privateuseone"  # PyTorch's default name of the out-of-tree backend


def _distributed_initialized() -> bool:
    from adjit import distributed  # (imported at the call: distributed imports nn)

    return distributed.is_available() and distributed.is_initialized()


class SyncBatchNorm(_BatchNorm):
    """Batch norm over (N, C, +) inputs. PyTorch synchronizes the batch statistics across the
    process group only for GPU (or XPU, HPU, privateuse1) inputs: outside an initialized
    group it is BatchNorm's forward (which adjit runs), inside one in training mode it refuses
    a CPU input (every adjit tensor) with PyTorch's ValueError."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any | None = None,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _check_non_zero_input_channels(self, input: Tensor) -> None:
        if input.size(1) == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        if self.training and _distributed_initialized():
            if self.track_running_stats and self.num_batches_tracked is not None:
                with no_grad():  # PyTorch counts the batch before it looks at the device
                    self.num_batches_tracked.add_(1)
            raise ValueError(
                f"SyncBatchNorm expected input tensor to be on GPU or XPU or {_PRIVATEUSE1}"
            )
        return super().forward(input)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every BatchNorm*d layer replaced by a SyncBatchNorm sharing its
        parameters and buffers (a new layer when ``module`` is itself one)."""
        module_output = module
        if isinstance(module, _BatchNorm):
            module_output = SyncBatchNorm(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                process_group,
                bias=module.bias is not None,
            )
            if module.affine:
                with no_grad():
                    module_output.weight = module.weight
                    module_output.bias = module.bias
            module_output.running_mean = module.running_mean
            module_output.running_var = module.running_var
            module_output.num_batches_tracked = module.num_batches_tracked
            module_output.training = module.training
            if hasattr(module, "qconfig"):
                module_output.qconfig = module.qconfig
        for name, child in module.named_children():
            module_output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return module_output
