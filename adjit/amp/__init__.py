"""torch.amp: autocast (CPU mixed precision refused by name until adjit runs it), GradScaler."""

from adjit.amp.autocast_mode import (
    autocast,
    custom_bwd,
    custom_fwd,
    is_autocast_available,
)
from adjit.amp.grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd", "is_autocast_available"]
