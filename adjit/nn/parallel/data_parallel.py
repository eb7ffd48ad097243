"""``DataParallel`` on a machine without accelerators: PyTorch's CPU behaviour, the wrapped
module called as is (``device_ids`` empty)."""

from __future__ import annotations

from typing import Any

from adjit.nn.module import Module


class DataParallel(Module):
    """Splits a batch over accelerators in PyTorch; with none (CPU only, as adjit always is)
    it runs ``module`` unchanged, as PyTorch does."""

    def __init__(
        self, module: Module, device_ids: Any = None, output_device: Any = None, dim: int = 0
    ) -> None:
        super().__init__()
        self.module = module
        self.device_ids: list[int] = []

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)
