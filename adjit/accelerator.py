"""``torch.accelerator``: the current accelerator (none here: adjit runs on the CPU), and
``torch.get_device_module``."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from adjit.runtime.device import device as _device
from adjit.runtime.streams import Stream

__all__ = ["current_accelerator", "current_device_idx", "current_device_index", "device_count"]
__all__ += ["device_index", "empty_cache", "get_memory_info", "is_available"]
__all__ += ["max_memory_allocated", "max_memory_reserved", "memory_allocated"]
__all__ += ["memory_reserved", "memory_stats", "reset_accumulated_memory_stats"]
__all__ += ["reset_peak_memory_stats", "set_device_idx", "set_device_index", "set_stream"]
__all__ += ["synchronize", "current_stream", "get_device_capability", "empty_host_cache"]

_NONE = "Cannot access accelerator device when none is available."


def device_count() -> int:
    """The number of accelerator devices: 0 (PyTorch's answer on a CPU-only machine)."""
    return 0


def is_available() -> bool:
    """Whether an accelerator is there to use: False."""
    return False


def current_accelerator(check_available: bool = False) -> Any:
    """The accelerator's device type, as a ``torch.device``: None without one."""
    return None


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(_NONE)


# every device-reading call refuses as PyTorch's does without an accelerator
current_device_index = current_device_idx = set_device_index = set_device_idx = _refuse
current_stream = synchronize = empty_cache = empty_host_cache = get_memory_info = _refuse
memory_allocated = max_memory_allocated = memory_reserved = max_memory_reserved = _refuse
memory_stats = reset_accumulated_memory_stats = reset_peak_memory_stats = _refuse
get_device_capability = _refuse


def set_stream(stream: Stream) -> None:
    """Make ``stream`` the current accelerator stream: refused without an accelerator."""
    raise RuntimeError(_NONE)


@contextlib.contextmanager
def device_index(device: int | None) -> Iterator[None]:
    """Switch the current accelerator device inside the block (None: no switch)."""
    if device is not None:
        raise RuntimeError(_NONE)
    yield


_DEVICE_TYPES = (
    "cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, xla, lazy, "
    "vulkan, mps, meta, hpu, mtia, privateuseone"
)


def get_device_module(device: Any = None) -> ModuleType:
    """The ``torch.<type>`` module of a device (``adjit.cpu``, ``adjit.cuda``); with no device,
    the current accelerator's, else ``adjit.cpu``."""
    if device is None:
        kind = "cpu"
    elif isinstance(device, _device):
        kind = device.type
    elif isinstance(device, str):
        kind = device.split(":")[0]
        if kind not in _DEVICE_TYPES.split(", "):
            raise RuntimeError(
                f"Expected one of {_DEVICE_TYPES} device type at start of device string: {device}"
            )
    else:
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or None")
    try:
        return importlib.import_module(f"adjit.{kind}")
    except ModuleNotFoundError:
        raise RuntimeError(
            f"Device '{kind}' does not have a corresponding module registered as 'torch.{kind}'."
        ) from None
