"""``torch.cuda.amp``: the deprecated CUDA spellings of autocast and GradScaler (disabled on a
machine without CUDA, as PyTorch's CPU build does: Note [autocast])."""

from __future__ import annotations

from typing import Any

from adjit.amp import autocast_mode
from adjit.amp.grad_scaler import GradScaler as _GradScaler
from adjit.ir import dtypes as D

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd"]


def _deprecated(old: str, new: str) -> None:
    old = f"`torch.cuda.amp.{old}(args...)`"
    autocast_mode.deprecated(old, f"`{new}`", FutureWarning, depth=2)


class autocast(autocast_mode.autocast):  # noqa: N801 - PyTorch's name
    def __init__(
        self, enabled: bool = True, dtype: Any = D.float16, cache_enabled: bool = True
    ) -> None:
        _deprecated("autocast", "torch.amp.autocast('cuda', args...)")
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        _deprecated("GradScaler", "torch.amp.GradScaler('cuda', args...)")
        super().__init__(
            "cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled
        )


def custom_fwd(fwd: Any = None, *, cast_inputs: Any = None) -> Any:
    _deprecated("custom_fwd", "torch.amp.custom_fwd(args..., device_type='cuda')")
    return autocast_mode.custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd: Any = None) -> Any:
    _deprecated("custom_bwd", "torch.amp.custom_bwd(args..., device_type='cuda')")
    return autocast_mode.custom_bwd(bwd, device_type="cuda")
