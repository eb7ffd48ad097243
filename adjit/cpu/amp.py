"""``torch.cpu.amp``: the deprecated CPU spellings of autocast and GradScaler."""

from __future__ import annotations

from typing import Any

from adjit.amp import autocast_mode
from adjit.amp.grad_scaler import GradScaler as _GradScaler
from adjit.ir import dtypes as D

__all__ = ["GradScaler", "autocast"]


def _deprecated(old: str, new: str) -> None:
    autocast_mode.deprecated(f"`torch.cpu.amp.{old}(args...)`", f"`{new}`", FutureWarning, depth=2)


class autocast(autocast_mode.autocast):  # noqa: N801 - PyTorch's name
    """``torch.autocast('cpu', ...)`` under its deprecated name (Note [autocast])."""

    def __init__(
        self, enabled: bool = True, dtype: Any = D.bfloat16, cache_enabled: bool = True
    ) -> None:
        _deprecated("autocast", "torch.amp.autocast('cpu', args...)")
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        _deprecated("GradScaler", "torch.amp.GradScaler('cpu', args...)")
        super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
