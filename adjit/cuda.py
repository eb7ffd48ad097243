"""torch.cuda as on a PyTorch built without CUDA: nothing available, seeds ignored."""

from __future__ import annotations

from typing import Any

_NO_CUDA = "Torch not compiled with CUDA enabled"


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Silently ignored without CUDA, as PyTorch's."""


def manual_seed_all(seed: int) -> None:
    """Silently ignored without CUDA, as PyTorch's."""


def seed() -> None:
    """Silently ignored without CUDA."""


def seed_all() -> None:
    """Silently ignored without CUDA."""


def empty_cache() -> None:
    """Nothing cached: a no-op, as PyTorch's without CUDA."""


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def memory_allocated(device: Any = None) -> int:
    return 0


def max_memory_allocated(device: Any = None) -> int:
    return 0


def memory_reserved(device: Any = None) -> int:
    return 0


def max_memory_reserved(device: Any = None) -> int:
    return 0


def _unavailable(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(_NO_CUDA)


init = current_device = synchronize = get_device_name = get_device_capability = _unavailable
get_rng_state = set_rng_state = current_stream = get_device_properties = _unavailable
set_device = _unavailable


def _amp() -> Any:
    """``torch.cuda.amp``, importable as ``adjit.cuda.amp`` too (this module is no package)."""
    import sys

    from adjit.amp import cuda_amp

    sys.modules[f"{__name__}.amp"] = cuda_amp
    return cuda_amp


amp = _amp()
